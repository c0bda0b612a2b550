package dns

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/internal/metric"
)

// metrics are the server's Prometheus collectors (internal/metric defines
// them). A nil *metrics (no Registerer configured) records nothing.
type metrics struct {
	requests     *prometheus.CounterVec
	responses    *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	cacheHits    prometheus.Counter
	cacheMisses  prometheus.Counter
	fwdRequests  *prometheus.CounterVec
	fwdResponses *prometheus.CounterVec
	fwdErrors    *prometheus.CounterVec
	fwdDuration  *prometheus.HistogramVec
	dropped      *prometheus.CounterVec

	zone string // the zone label of an in-zone name

	// series caches the collectors of each served key: WithLabelValues
	// hashes every label and takes a lock shared by every core, once per
	// answer.
	series sync.Map // servedKey -> *servedSeries
	// upstreams holds each upstream's collectors; built by newMetrics,
	// read-only after.
	upstreams map[string]*upstreamSeries
}

// served is what one reply is counted by.
type served struct {
	qtype  uint16
	rcode  int
	inZone bool
	tcp    bool
	v6     bool
	source string // metric.Source*
}

// servedKey is served with its labels bounded: the cache of series stays
// small whatever types and rcodes clients send.
type servedKey served

type servedSeries struct {
	request, response prometheus.Counter
	duration          prometheus.Observer
}

type upstreamSeries struct {
	requests prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Observer
	byRcode  sync.Map // int -> prometheus.Counter
	to       string
	vec      *prometheus.CounterVec
}

// newMetrics registers the server's collectors, every series an operator
// alerts on present (at zero) from the start. cacheLen reads the cache's
// size at scrape time.
func newMetrics(reg prometheus.Registerer, zone string, upstreams []string, cacheLen func() int) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests:     metric.DNSRequests.CounterVec(),
		responses:    metric.DNSResponses.CounterVec(),
		duration:     metric.DNSRequestDuration.HistogramVec(),
		cacheHits:    metric.DNSCacheHits.Counter(),
		cacheMisses:  metric.DNSCacheMisses.Counter(),
		fwdRequests:  metric.DNSForwardRequests.CounterVec(),
		fwdResponses: metric.DNSForwardResponses.CounterVec(),
		fwdErrors:    metric.DNSForwardErrors.CounterVec(),
		fwdDuration:  metric.DNSForwardDuration.HistogramVec(),
		dropped:      metric.DNSOverload.CounterVec(),
		zone:         zone,
		upstreams:    make(map[string]*upstreamSeries, len(upstreams)),
	}
	entries := metric.DNSCacheEntries.GaugeFunc(func() float64 { return float64(cacheLen()) })
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.duration, m.cacheHits, m.cacheMisses,
		m.fwdRequests, m.fwdResponses, m.fwdErrors, m.fwdDuration, m.dropped, entries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register dns metrics: %w", err)
		}
	}
	m.precreate(upstreams)
	return m, nil
}

// precreate makes the series dashboards and alerts read exist at zero.
func (m *metrics) precreate(upstreams []string) {
	for _, tcp := range []bool{false, true} {
		for _, v6 := range []bool{false, true} {
			for _, s := range []served{
				{qtype: mdns.TypeA, inZone: true, source: metric.SourceZone},
				{qtype: mdns.TypeAAAA, inZone: true, source: metric.SourceZone},
				{qtype: mdns.TypeA, inZone: true, rcode: mdns.RcodeNameError, source: metric.SourceZone},
				{qtype: mdns.TypeA, inZone: true, source: metric.SourceHosts},
				{qtype: mdns.TypeA, source: metric.SourceCache},
				{qtype: mdns.TypeA, source: metric.SourceUpstream},
				{qtype: mdns.TypeA, rcode: mdns.RcodeNameError, source: metric.SourceUpstream},
				{qtype: mdns.TypeA, rcode: mdns.RcodeServerFailure, source: metric.SourceServer},
				{qtype: mdns.TypeA, rcode: mdns.RcodeRefused, source: metric.SourceServer},
				{qtype: mdns.TypeA, inZone: true, rcode: mdns.RcodeRefused, source: metric.SourceServer},
			} {
				s.tcp, s.v6 = tcp, v6
				m.seriesOf(s)
			}
		}
	}
	for _, r := range metric.OverloadReasons {
		m.dropped.WithLabelValues(r)
	}
	for _, up := range upstreams {
		u := &upstreamSeries{
			to:       up,
			vec:      m.fwdResponses,
			requests: m.fwdRequests.WithLabelValues(up),
			errors:   m.fwdErrors.WithLabelValues(up),
			duration: m.fwdDuration.WithLabelValues(up),
		}
		for _, rc := range []int{mdns.RcodeSuccess, mdns.RcodeNameError, mdns.RcodeServerFailure, mdns.RcodeRefused} {
			u.rcode(rc)
		}
		m.upstreams[up] = u
	}
}

// knownTypes bounds the type label: other types count as "other".
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

// seriesOf returns the collectors of s, made on first use.
func (m *metrics) seriesOf(s served) *servedSeries {
	k := servedKey(s)
	if _, known := knownTypes[k.qtype]; !known {
		k.qtype = 0 // "other"
	}
	if _, known := mdns.RcodeToString[k.rcode]; !known {
		k.rcode = -1 // "other"
	}
	if v, ok := m.series.Load(k); ok {
		return v.(*servedSeries)
	}
	zone, proto, family := metric.ZoneOutside, "udp", "1"
	if s.inZone {
		zone = m.zone
	}
	if s.tcp {
		proto = "tcp"
	}
	if s.v6 {
		family = "2"
	}
	v, _ := m.series.LoadOrStore(k, &servedSeries{
		request:  m.requests.WithLabelValues(zone, proto, family, typeLabel(s.qtype)),
		response: m.responses.WithLabelValues(zone, proto, family, rcodeLabel(s.rcode), s.source),
		duration: m.duration.WithLabelValues(zone, s.source),
	})
	return v.(*servedSeries)
}

// request counts one reply sent (or dropped) after d.
func (m *metrics) request(s served, d time.Duration) {
	if m == nil {
		return
	}
	ser := m.seriesOf(s)
	ser.request.Inc()
	ser.response.Inc()
	ser.duration.Observe(d.Seconds())
}

// servedOf describes a reply to req for counting: its zone from the
// question's name, source from the respond path's Source* (forward split
// into cache and upstream by the caller).
func (s *Server) servedOf(req *mdns.Msg, rcode int, source string, tcp bool, client netip.Addr) served {
	sv := served{rcode: rcode, tcp: tcp, v6: client.Is6() && !client.Is4In6(), source: metricSource(source)}
	if len(req.Question) > 0 {
		sv.qtype = req.Question[0].Qtype
		sv.inZone = dnsname.InZone(dnsname.CanonicalName(req.Question[0].Name), s.zone.origin)
	}
	return sv
}

// metricSource maps a Source* of the respond path to the source label.
func metricSource(source string) string {
	switch source {
	case SourceZone:
		return metric.SourceZone
	case SourceHosts:
		return metric.SourceHosts
	case SourceCache:
		return metric.SourceCache
	case SourceForward:
		return metric.SourceUpstream
	}
	return metric.SourceServer
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

// upstream returns the collectors of one upstream (nil without metrics or
// for an upstream not configured at start).
func (m *metrics) upstream(to string) *upstreamSeries {
	if m == nil {
		return nil
	}
	return m.upstreams[to]
}

// forwardDone counts one query to an upstream that took d and got rcode
// (-1: no reply), and whether it failed.
func (u *upstreamSeries) forwardDone(d time.Duration, rcode int, failed bool) {
	if u == nil {
		return
	}
	u.requests.Inc()
	u.duration.Observe(d.Seconds())
	if rcode >= 0 {
		u.rcode(rcode).Inc()
	}
	if failed {
		u.errors.Inc()
	}
}

func (u *upstreamSeries) rcode(rc int) prometheus.Counter {
	if _, known := mdns.RcodeToString[rc]; !known {
		rc = -1
	}
	if c, ok := u.byRcode.Load(rc); ok {
		return c.(prometheus.Counter)
	}
	label := "other"
	if rc >= 0 {
		label = rcodeLabel(rc)
	}
	c, _ := u.byRcode.LoadOrStore(rc, u.vec.WithLabelValues(u.to, label))
	return c.(prometheus.Counter)
}

func (m *metrics) drop(reason string) {
	if m != nil {
		m.dropped.WithLabelValues(reason).Inc()
	}
}
