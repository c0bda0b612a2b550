package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/swarmdns/swarmdns/internal/metric"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func testMetrics(t *testing.T, upstreams ...string) (*metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, "swarm.internal.", upstreams, func() int { return 7 })
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// TestMetricsRequestCounters: the cached series count what the labels say,
// and odd query types and rcodes share the "other" ones, so a client cannot
// grow the cache.
func TestMetricsRequestCounters(t *testing.T) {
	m, _ := testMetrics(t)
	before := 0
	m.series.Range(func(any, any) bool { before++; return true })
	for range 3 {
		m.request(served{qtype: mdns.TypeA, inZone: true, source: metric.SourceZone}, 0)
	}
	for qtype := uint16(1000); qtype < 3000; qtype++ {
		m.request(served{qtype: qtype, rcode: 4000 + int(qtype), tcp: true, v6: true, source: metric.SourceUpstream}, 0)
	}
	if got := counterValue(t, m.requests.WithLabelValues("swarm.internal.", "udp", "1", "A")); got != 3 {
		t.Errorf("requests A in the zone: got %v; want 3", got)
	}
	if got := counterValue(t, m.responses.WithLabelValues("swarm.internal.", "udp", "1", "NOERROR", "zone")); got != 3 {
		t.Errorf("responses NOERROR from the zone: got %v; want 3", got)
	}
	if got := counterValue(t, m.requests.WithLabelValues(".", "tcp", "2", "other")); got != 2000 {
		t.Errorf("requests other: got %v; want 2000", got)
	}
	if got := counterValue(t, m.responses.WithLabelValues(".", "tcp", "2", "other", "upstream")); got != 2000 {
		t.Errorf("responses other: got %v; want 2000", got)
	}
	after := 0
	m.series.Range(func(any, any) bool { after++; return true })
	if after != before+1 {
		t.Errorf("cached series: got %d new; want 1 (every odd type and rcode shares one)", after-before)
	}
}

// TestMetricsBadVers: a BADVERS reply (rcode 16, which miekg's table names
// BADSIG) is counted as BADVERS.
func TestMetricsBadVers(t *testing.T) {
	m, _ := testMetrics(t)
	m.request(served{qtype: mdns.TypeSOA, rcode: mdns.RcodeBadVers, inZone: true, source: metric.SourceServer}, 0)
	if got := counterValue(t, m.responses.WithLabelValues("swarm.internal.", "udp", "1", "BADVERS", "server")); got != 1 {
		t.Errorf("BADVERS: got %v; want 1", got)
	}
	if got := counterValue(t, m.responses.WithLabelValues("swarm.internal.", "udp", "1", "BADSIG", "server")); got != 0 {
		t.Errorf("BADSIG: got %v; want 0", got)
	}
}

// TestMetricsPresentFromTheStart: before any query, every family exists
// with the series alerts and dashboards read, at zero: the requests and
// responses of each source, each upstream's, each overload reason, the
// cache's size.
func TestMetricsPresentFromTheStart(t *testing.T) {
	_, reg := testMetrics(t, "10.0.0.2:53")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()
	}
	for _, d := range []metric.Def{metric.DNSRequests, metric.DNSResponses, metric.DNSRequestDuration, metric.DNSCacheHits,
		metric.DNSCacheMisses, metric.DNSCacheEntries, metric.DNSForwardRequests, metric.DNSForwardResponses,
		metric.DNSForwardErrors, metric.DNSForwardDuration, metric.DNSOverload} {
		if len(got[d.Name]) == 0 {
			t.Errorf("%s: absent before the first query; want it at zero", d.Name)
		}
	}
	sources := map[string]bool{}
	for _, m := range got[metric.DNSResponses.Name] {
		for _, l := range m.GetLabel() {
			if l.GetName() == "source" {
				sources[l.GetValue()] = true
			}
		}
	}
	for _, s := range metric.Sources {
		if !sources[s] {
			t.Errorf("responses: no series of source %q at the start", s)
		}
	}
	if n := len(got[metric.DNSOverload.Name]); n != len(metric.OverloadReasons) {
		t.Errorf("overload: %d series at the start; want one per reason (%d)", n, len(metric.OverloadReasons))
	}
	if v := got[metric.DNSCacheEntries.Name][0].GetGauge().GetValue(); v != 7 {
		t.Errorf("cache entries: got %v; want the cache's 7", v)
	}
}

// TestMetricsPerUpstream: each upstream counts its queries, replies by
// rcode and failures.
func TestMetricsPerUpstream(t *testing.T) {
	m, _ := testMetrics(t, "10.0.0.2:53", "10.0.0.3:53")
	m.upstream("10.0.0.2:53").forwardDone(0, mdns.RcodeSuccess, false)
	m.upstream("10.0.0.2:53").forwardDone(0, mdns.RcodeServerFailure, true)
	m.upstream("10.0.0.3:53").forwardDone(0, -1, true)
	m.upstream("10.9.9.9:53").forwardDone(0, -1, true) // not configured: nothing, no panic
	for _, tc := range []struct {
		c    prometheus.Counter
		want float64
	}{
		{m.fwdRequests.WithLabelValues("10.0.0.2:53"), 2},
		{m.fwdResponses.WithLabelValues("10.0.0.2:53", "SERVFAIL"), 1},
		{m.fwdErrors.WithLabelValues("10.0.0.2:53"), 1},
		{m.fwdErrors.WithLabelValues("10.0.0.3:53"), 1},
		{m.fwdResponses.WithLabelValues("10.0.0.3:53", "NOERROR"), 0},
	} {
		if got := counterValue(t, tc.c); got != tc.want {
			t.Errorf("got %v; want %v", got, tc.want)
		}
	}
}

// BenchmarkMetricsRequest is the cost of counting one reply (requests,
// responses and the duration histogram), from several cores at once.
func BenchmarkMetricsRequest(b *testing.B) {
	m, err := newMetrics(prometheus.NewRegistry(), "swarm.internal.", nil, func() int { return 0 })
	if err != nil {
		b.Fatal(err)
	}
	s := served{qtype: mdns.TypeA, inZone: true, source: metric.SourceZone}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.request(s, 1000)
		}
	})
}
