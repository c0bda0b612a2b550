// Package metric declares every Prometheus metric swarmdns exports, each
// once: its name, help, labels and, for a histogram, buckets. The packages
// that export a metric build its collector from the Def, and those that
// read one (admin's /v1/stats, the dashboard and alert tests) name it by
// the Def, so that a name lives in one place and not in string literals
// that drift apart.
//
// The shape follows CoreDNS's (coredns_dns_requests_total{zone, proto,
// family, type}, coredns_dns_responses_total{..., rcode},
// coredns_forward_*{to}, coredns_cache_entries, coredns_build_info) and the
// Prometheus naming conventions (base units, _total for counters). Every
// label is bounded: the query type is one of the common types or "other",
// an upstream is one of the configured ones.
package metric

import "github.com/prometheus/client_golang/prometheus"

// Def is one metric's definition.
type Def struct {
	Name    string
	Help    string
	Labels  []string
	Buckets []float64 // histograms only; nil: LatencyBuckets
}

// LatencyBuckets are the buckets of every duration histogram, in seconds:
// 50 µs (an in-zone answer) to 2.5 s (an upstream's timeout).
var LatencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// CounterVec builds the counter the Def describes.
func (d Def) CounterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
}

// Counter builds the Def's counter, which has no labels.
func (d Def) Counter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: d.Name, Help: d.Help})
}

// Gauge builds the Def's gauge, which has no labels.
func (d Def) Gauge() prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: d.Name, Help: d.Help})
}

// GaugeVec builds the Def's gauge with labels.
func (d Def) GaugeVec() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.Labels)
}

// GaugeFunc builds the Def's gauge, which has no labels, read from f at
// scrape time.
func (d Def) GaugeFunc(f func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, f)
}

// HistogramVec builds the Def's histogram.
func (d Def) HistogramVec() *prometheus.HistogramVec {
	b := d.Buckets
	if b == nil {
		b = LatencyBuckets
	}
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: b}, d.Labels)
}

// Desc is the Def's descriptor, for a collector that computes its values
// at scrape time.
func (d Def) Desc() *prometheus.Desc {
	return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
}

// The label values that more than one package (or a reader) must agree on.
const (
	// ZoneOutside is the zone label of a name outside the zone: the root,
	// as CoreDNS's forward block.
	ZoneOutside = "."
	// The answer's source (label "source").
	SourceZone     = "zone"     // the registry's records
	SourceHosts    = "hosts"    // the hosts file
	SourceCache    = "cache"    // the forwarding cache
	SourceUpstream = "upstream" // an upstream, just now
	SourceServer   = "server"   // the server itself: a refusal, an error
)

// Sources lists the values of the source label.
var Sources = []string{SourceZone, SourceHosts, SourceCache, SourceUpstream, SourceServer}

// DNS server.
var (
	DNSRequests = Def{Name: "swarmdns_dns_requests_total", Labels: []string{"zone", "proto", "family", "type"},
		Help: "DNS requests, by zone (the zone, or \".\" outside it), transport (udp, tcp), address family (1: IPv4, 2: IPv6) and query type (the common ones, else other)."}
	DNSResponses = Def{Name: "swarmdns_dns_responses_total", Labels: []string{"zone", "proto", "family", "rcode", "source"},
		Help: "DNS responses, by zone, transport, address family, response code and source (zone, hosts, cache, upstream, server)."}
	DNSRequestDuration = Def{Name: "swarmdns_dns_request_duration_seconds", Labels: []string{"zone", "source"},
		Help: "Time to answer a DNS request, by zone and source."}
	DNSCacheHits       = Def{Name: "swarmdns_dns_cache_hits_total", Help: "Forwarded questions answered from the cache."}
	DNSCacheMisses     = Def{Name: "swarmdns_dns_cache_misses_total", Help: "Forwarded questions not found in the cache."}
	DNSCacheEntries    = Def{Name: "swarmdns_dns_cache_entries", Help: "Answers the forwarding cache holds."}
	DNSForwardRequests = Def{Name: "swarmdns_dns_forward_requests_total", Labels: []string{"to"},
		Help: "Queries sent to each upstream."}
	DNSForwardResponses = Def{Name: "swarmdns_dns_forward_responses_total", Labels: []string{"to", "rcode"},
		Help: "Replies from each upstream, by response code."}
	DNSForwardErrors = Def{Name: "swarmdns_dns_forward_errors_total", Labels: []string{"to"},
		Help: "Queries to each upstream that failed, timed out or were answered with an error (SERVFAIL, REFUSED)."}
	DNSForwardDuration = Def{Name: "swarmdns_dns_forward_duration_seconds", Labels: []string{"to"},
		Help: "Time of one query to one upstream."}
	DNSOverload = Def{Name: "swarmdns_dns_overload_total", Labels: []string{"reason"},
		Help: "Requests refused or connections closed because a bound was reached (tcp_conns, ratelimit, forward_inflight)."}
)

// OverloadReasons are the values of DNSOverload's reason label.
var OverloadReasons = []string{"tcp_conns", "ratelimit", "forward_inflight"}

// Gossip.
var (
	GossipMembers = Def{Name: "swarmdns_gossip_members", Labels: []string{"state"},
		Help: "Cluster members as this node sees them (itself included), by state (alive, suspect, dead, left)."}
	GossipProbesFailed = Def{Name: "swarmdns_gossip_probes_failed_total",
		Help: "Failure-detector probes of a peer that got no ack."}
	GossipMessages = Def{Name: "swarmdns_gossip_messages_total", Labels: []string{"kind", "direction"},
		Help: "Gossip messages by kind (delta, batch, state, notice, unknown) and direction (in, out)."}
	GossipBytes = Def{Name: "swarmdns_gossip_bytes_total", Labels: []string{"kind", "direction"},
		Help: "Bytes of swarmdns gossip messages (before memberlist framing and encryption) by kind and direction."}
	GossipRejected = Def{Name: "swarmdns_gossip_rejected_total", Labels: []string{"reason"},
		Help: "Gossip updates dropped, by reason."}
	GossipDecryptFailures = Def{Name: "swarmdns_gossip_decrypt_failures_total",
		Help: "Gossip packets and streams refused because they were not encrypted with this cluster's key (a node with another key, or none)."}
	GossipPushPullBytes = Def{Name: "swarmdns_gossip_pushpull_bytes",
		Help: "Size of the last full-state (push/pull) message this node sent."}
)

// Watcher.
var (
	WatcherConnected  = Def{Name: "swarmdns_watcher_connected", Help: "1 while the Docker event stream is up and synced, else 0."}
	WatcherLastSync   = Def{Name: "swarmdns_watcher_last_sync_timestamp_seconds", Help: "Unix time of the last completed full resync."}
	WatcherReconnects = Def{Name: "swarmdns_watcher_reconnects_total", Help: "Connection attempts to the Docker engine after the first."}
	WatcherResyncs    = Def{Name: "swarmdns_watcher_resyncs_total", Help: "Completed full resyncs (list and inspect) with the Docker engine."}
	WatcherEvents     = Def{Name: "swarmdns_watcher_events_total", Labels: []string{"type", "action"},
		Help: "Docker events received, by type (container, network) and action (the watched ones, else other)."}
)

// The node.
var (
	BuildInfo = Def{Name: "swarmdns_build_info", Labels: []string{"version", "revision", "goversion"},
		Help: "1, labelled with the build's version, VCS revision and Go version."}
	Records = Def{Name: "swarmdns_records", Labels: []string{"node"}, Help: "Record sets this node holds, by owning node."}
	Ready   = Def{Name: "swarmdns_ready", Labels: []string{"check"},
		Help: "1 when the readiness check (docker-sync, gossip-join, dns) holds, else 0: /readyz is 200 when all are 1."}
)
