package admin

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metric names /v1/stats reads. Every other package exports these under the
// same names; a metric that is missing is simply zero (or absent) in Stats.
const (
	MetricDNSRequests      = "swarmdns_dns_requests_total"           // counter {qtype, rcode}
	MetricDNSCacheHits     = "swarmdns_dns_cache_hits_total"         // counter
	MetricDNSCacheMisses   = "swarmdns_dns_cache_misses_total"       // counter
	MetricDNSDuration      = "swarmdns_dns_request_duration_seconds" // histogram
	MetricDNSForward       = "swarmdns_dns_forward_duration_seconds" // histogram
	MetricDNSForwardErrors = "swarmdns_dns_forward_errors_total"     // counter
	MetricDNSOverload      = "swarmdns_dns_overload_total"           // counter {reason}
	MetricWatcherReconnect = "swarmdns_watcher_reconnects_total"     // counter
	MetricWatcherLastSync  = "swarmdns_watcher_last_sync_timestamp_seconds"
	MetricGossipPrefix     = "swarmdns_gossip_"

	// The API's own collectors (registered through Config.Registerer).
	MetricRecords = "swarmdns_records" // gauge {node}
	MetricMembers = "swarmdns_members" // gauge {state}
)

// readStats builds Stats from the Prometheus registry, the zone and the
// member list.
func (s *Server) readStats() (Stats, error) {
	mfs, err := s.cfg.Gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		return Stats{}, fmt.Errorf("gather metrics: %w", err)
	}
	// A partial gather still has the families that worked.
	snap := s.cfg.Zone.Snapshot()
	st := Stats{Node: snap.LocalNode(), Time: time.Now().UTC(), Members: map[string]int{}}
	for _, n := range snap.Nodes() {
		st.Records += n.Records // cheaper than counting Sets(), which copies
	}
	for _, m := range s.memberList(snap) {
		st.Members[m.State]++
	}
	for _, mf := range mfs {
		name := mf.GetName()
		switch {
		case name == MetricDNSRequests:
			for _, m := range mf.GetMetric() {
				v := uint64(sampleValue(mf.GetType(), m))
				st.DNS.Queries += v
				if t := label(m, "qtype", "type"); t != "" {
					if st.DNS.ByType == nil {
						st.DNS.ByType = map[string]uint64{}
					}
					st.DNS.ByType[t] += v
				}
				if rc := label(m, "rcode"); rc != "" {
					if st.DNS.ByRcode == nil {
						st.DNS.ByRcode = map[string]uint64{}
					}
					st.DNS.ByRcode[rc] += v
				}
			}
		case name == MetricDNSCacheHits:
			st.DNS.CacheHits = uint64(sum(mf))
		case name == MetricDNSCacheMisses:
			st.DNS.CacheMisses = uint64(sum(mf))
		case name == MetricDNSForwardErrors:
			st.DNS.ForwardErrors = uint64(sum(mf))
		case name == MetricDNSOverload:
			for _, m := range mf.GetMetric() {
				if st.DNS.Overload == nil {
					st.DNS.Overload = map[string]uint64{}
				}
				st.DNS.Overload[cmp.Or(label(m, "reason"), "other")] += uint64(sampleValue(mf.GetType(), m))
			}
		case name == MetricDNSDuration:
			st.DNS.Requests = latency(mf)
		case name == MetricDNSForward:
			st.DNS.Forward = latency(mf)
		case name == MetricWatcherReconnect:
			st.Watcher.Reconnects = uint64(sum(mf))
		case name == MetricWatcherLastSync:
			var last float64
			for _, m := range mf.GetMetric() {
				last = max(last, sampleValue(mf.GetType(), m))
			}
			if last > 0 {
				sec, frac := math.Modf(last)
				st.Watcher.LastSync = time.Unix(int64(sec), int64(frac*1e9)).UTC()
			}
		case strings.HasPrefix(name, MetricGossipPrefix):
			for _, m := range mf.GetMetric() {
				st.Gossip = append(st.Gossip, Series{Name: name, Labels: labels(m), Value: sampleValue(mf.GetType(), m)})
			}
		}
	}
	slices.SortStableFunc(st.Gossip, func(a, b Series) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(labelString(a.Labels), labelString(b.Labels)))
	})
	return st, nil
}

// sampleValue is a metric's value: the count for histograms and summaries.
func sampleValue(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	case dto.MetricType_SUMMARY:
		return float64(m.GetSummary().GetSampleCount())
	default:
		return m.GetUntyped().GetValue()
	}
}

func sum(mf *dto.MetricFamily) float64 {
	var total float64
	for _, m := range mf.GetMetric() {
		total += sampleValue(mf.GetType(), m)
	}
	return total
}

// label returns the value of the first of names m carries.
func label(m *dto.Metric, names ...string) string {
	for _, n := range names {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == n {
				return lp.GetValue()
			}
		}
	}
	return ""
}

func labels(m *dto.Metric) map[string]string {
	if len(m.GetLabel()) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// labelString renders labels sorted by name, for ordering and display.
func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

// latency merges every series of a histogram family (all label values)
// and summarises it; nil when mf is not a histogram.
func latency(mf *dto.MetricFamily) *Latency {
	if mf.GetType() != dto.MetricType_HISTOGRAM {
		return nil
	}
	var l Latency
	cum := map[float64]uint64{} // upper bound -> cumulative count
	for _, m := range mf.GetMetric() {
		h := m.GetHistogram()
		l.Count += h.GetSampleCount()
		l.SumSeconds += h.GetSampleSum()
		for _, b := range h.GetBucket() {
			cum[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	if l.Count == 0 {
		return &l
	}
	l.MeanSeconds = l.SumSeconds / float64(l.Count)
	bounds := make([]float64, 0, len(cum))
	for ub := range cum {
		if !math.IsInf(ub, +1) {
			bounds = append(bounds, ub)
		}
	}
	slices.Sort(bounds)
	l.P50Seconds = quantile(0.5, bounds, cum, l.Count)
	l.P90Seconds = quantile(0.9, bounds, cum, l.Count)
	l.P99Seconds = quantile(0.99, bounds, cum, l.Count)
	return &l
}

// quantile estimates the q-quantile from cumulative bucket counts, with
// linear interpolation inside the bucket as Prometheus's histogram_quantile
// does; observations above the last bound report that bound.
func quantile(q float64, bounds []float64, cum map[float64]uint64, total uint64) float64 {
	if len(bounds) == 0 {
		return 0
	}
	rank := q * float64(total)
	var lower float64
	var below uint64
	for _, ub := range bounds {
		c := cum[ub]
		if float64(c) >= rank {
			if c == below {
				return ub
			}
			return lower + (ub-lower)*(rank-float64(below))/float64(c-below)
		}
		lower, below = ub, c
	}
	return bounds[len(bounds)-1]
}

// collector exports the API's gauges, computed from the zone and the
// member list at scrape time.
type collector struct{ s *Server }

var (
	recordsDesc = prometheus.NewDesc(MetricRecords, "Record sets (containers) held, by owner node.", []string{"node"}, nil)
	membersDesc = prometheus.NewDesc(MetricMembers, "Known cluster nodes, by membership state.", []string{"state"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- recordsDesc
	ch <- membersDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.s.cfg.Zone.Snapshot()
	for _, n := range snap.Nodes() {
		ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.GaugeValue, float64(n.Records), n.Name)
	}
	states := map[string]int{}
	for _, m := range c.s.memberList(snap) {
		states[m.State]++
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(n), st)
	}
}
