package dns

import (
	"fmt"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. A nil *metrics (no
// Registerer configured) records nothing.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       prometheus.Histogram
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	forwardSeconds prometheus.Histogram
	forwardErrors  prometheus.Counter
	dropped        *prometheus.CounterVec

	// counters caches the requests counter of each (qtype, rcode) seen:
	// WithLabelValues hashes both labels and takes a lock shared by every
	// core, once per answer.
	counters sync.Map // requestKey -> prometheus.Counter
}

type requestKey struct {
	qtype uint16
	rcode int
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	buckets := []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmdns_dns_requests_total", Help: "DNS requests answered, by query type and response code.",
		}, []string{"qtype", "rcode"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "swarmdns_dns_request_duration_seconds", Help: "Time to answer a DNS request.", Buckets: buckets,
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmdns_dns_cache_hits_total", Help: "Forwarded questions answered from the cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmdns_dns_cache_misses_total", Help: "Forwarded questions not found in the cache.",
		}),
		forwardSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "swarmdns_dns_forward_duration_seconds", Help: "Time of one query to one upstream.", Buckets: buckets,
		}),
		forwardErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmdns_dns_forward_errors_total", Help: "Upstream queries that failed, timed out or were answered with an error.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmdns_dns_overload_total", Help: "Requests refused or connections closed because a bound was reached.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.cacheHits, m.cacheMisses, m.forwardSeconds, m.forwardErrors, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register dns metrics: %w", err)
		}
	}
	return m, nil
}

// knownTypes bounds the qtype label: other types count as "other".
var knownTypes = map[uint16]string{
	mdns.TypeA: "A", mdns.TypeAAAA: "AAAA", mdns.TypePTR: "PTR", mdns.TypeSRV: "SRV", mdns.TypeTXT: "TXT",
	mdns.TypeCNAME: "CNAME", mdns.TypeSOA: "SOA", mdns.TypeNS: "NS", mdns.TypeMX: "MX", mdns.TypeANY: "ANY",
	mdns.TypeAXFR: "AXFR", mdns.TypeIXFR: "IXFR", mdns.TypeHTTPS: "HTTPS", mdns.TypeSVCB: "SVCB",
	mdns.TypeDS: "DS", mdns.TypeDNSKEY: "DNSKEY", mdns.TypeCAA: "CAA",
}

func typeLabel(t uint16) string {
	if s, ok := knownTypes[t]; ok {
		return s
	}
	return "other"
}

// rcodeLabel names a reply's rcode. 16 is BADVERS: miekg's RcodeToString
// names it BADSIG, which shares the value, but TSIG errors travel in the
// TSIG record of a NOTAUTH reply (RFC 8945 §5.2), never in the header.
func rcodeLabel(rcode int) string {
	if rcode == mdns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := mdns.RcodeToString[rcode]; ok {
		return s
	}
	return "other"
}

func (m *metrics) request(qtype uint16, rcode int, d time.Duration) {
	if m == nil {
		return
	}
	// Keyed by what the labels can tell apart, so the cache stays small
	// whatever types and rcodes clients send.
	k := requestKey{qtype, rcode}
	if _, known := knownTypes[qtype]; !known {
		k.qtype = 0 // "other"
	}
	if _, known := mdns.RcodeToString[rcode]; !known {
		k.rcode = -1 // "other"
	}
	c, ok := m.counters.Load(k)
	if !ok {
		c, _ = m.counters.LoadOrStore(k, m.requests.WithLabelValues(typeLabel(qtype), rcodeLabel(rcode)))
	}
	c.(prometheus.Counter).Inc()
	m.duration.Observe(d.Seconds())
}

func (m *metrics) cacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

func (m *metrics) cacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

func (m *metrics) forwardDone(d time.Duration) {
	if m != nil {
		m.forwardSeconds.Observe(d.Seconds())
	}
}

func (m *metrics) forwardError() {
	if m != nil {
		m.forwardErrors.Inc()
	}
}

func (m *metrics) drop(reason string) {
	if m != nil {
		m.dropped.WithLabelValues(reason).Inc()
	}
}
