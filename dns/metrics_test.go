package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestMetricsRequestCounters: the cached counters count what the labels
// say, and odd query types and rcodes share the "other" ones, so a client
// cannot grow the cache.
func TestMetricsRequestCounters(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m.request(mdns.TypeA, mdns.RcodeSuccess, 0)
	}
	for qtype := uint16(1000); qtype < 3000; qtype++ {
		m.request(qtype, 4000+int(qtype), 0)
	}
	if got := counterValue(t, m.requests.WithLabelValues("A", "NOERROR")); got != 3 {
		t.Errorf("A NOERROR: got %v; want 3", got)
	}
	if got := counterValue(t, m.requests.WithLabelValues("other", "other")); got != 2000 {
		t.Errorf("other other: got %v; want 2000", got)
	}
	n := 0
	m.counters.Range(func(any, any) bool { n++; return true })
	if n != 2 {
		t.Errorf("cached counters: got %d; want 2", n)
	}
}

// TestMetricsBadVers: a BADVERS reply (rcode 16, which miekg's table names
// BADSIG) is counted as BADVERS.
func TestMetricsBadVers(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m.request(mdns.TypeSOA, mdns.RcodeBadVers, 0)
	if got := counterValue(t, m.requests.WithLabelValues("SOA", "BADVERS")); got != 1 {
		t.Errorf("SOA BADVERS: got %v; want 1", got)
	}
	if got := counterValue(t, m.requests.WithLabelValues("SOA", "BADSIG")); got != 0 {
		t.Errorf("SOA BADSIG: got %v; want 0", got)
	}
}
