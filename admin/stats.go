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

	"github.com/swarmdns/swarmdns/internal/metric"
)

// MetricGossipPrefix starts the name of every gossip metric, which
// /v1/stats lists as it finds them.
const MetricGossipPrefix = "swarmdns_gossip_"

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
		case name == metric.DNSRequests.Name:
			for _, m := range mf.GetMetric() {
				v := uint64(sampleValue(mf.GetType(), m))
				st.DNS.Queries += v
				addCount(&st.DNS.ByType, label(m, "type"), v)
			}
		case name == metric.DNSResponses.Name:
			for _, m := range mf.GetMetric() {
				addCount(&st.DNS.ByRcode, label(m, "rcode"), uint64(sampleValue(mf.GetType(), m)))
			}
		case name == metric.DNSCacheHits.Name:
			st.DNS.CacheHits = uint64(sum(mf))
		case name == metric.DNSCacheMisses.Name:
			st.DNS.CacheMisses = uint64(sum(mf))
		case name == metric.DNSForwardErrors.Name:
			st.DNS.ForwardErrors = uint64(sum(mf))
		case name == metric.DNSOverload.Name:
			for _, m := range mf.GetMetric() {
				addCount(&st.DNS.Overload, cmp.Or(label(m, "reason"), "other"), uint64(sampleValue(mf.GetType(), m)))
			}
		case name == metric.DNSRequestDuration.Name:
			st.DNS.Requests = latency(mf)
		case name == metric.DNSForwardDuration.Name:
			st.DNS.Forward = latency(mf)
		case name == metric.WatcherReconnects.Name:
			st.Watcher.Reconnects = uint64(sum(mf))
		case name == metric.WatcherLastSync.Name:
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

// addCount adds v to (*counts)[key], making the map on first use; an
// empty key or a zero v adds nothing (the series present from the start
// are not news).
func addCount(counts *map[string]uint64, key string, v uint64) {
	if key == "" || v == 0 {
		return
	}
	if *counts == nil {
		*counts = map[string]uint64{}
	}
	(*counts)[key] += v
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
// readiness checks at scrape time. (The members by state are gossip's: swarmdns_gossip_members.)
type collector struct{ s *Server }

var (
	recordsDesc = metric.Records.Desc()
	readyDesc   = metric.Ready.Desc()
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- recordsDesc
	ch <- readyDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.s.cfg.Zone.Snapshot()
	for _, n := range snap.Nodes() {
		ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.GaugeValue, float64(n.Records), n.Name)
	}
	for _, r := range c.s.readiness().Checks {
		v := 0.0
		if r.Ready {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, r.Name)
	}
}
