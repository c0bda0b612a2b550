package admin

import "time"

// This file holds the JSON types of the API. They are separate from the
// internal types of the other packages: the wire format changes only here.

// Member is one node of the cluster as the serving node sees it.
type Member struct {
	// Name is the node's name.
	Name string `json:"name"`
	// Addr is the node's gossip address (host:port); empty when unknown.
	Addr string `json:"addr,omitempty"`
	// State is the membership state: "alive", "suspect", "dead", "left", or
	// "unknown" for a node the registry holds records of that gossip does not
	// list (any other word the MemberLister uses is passed through).
	State string `json:"state"`
	// Since is when the node entered State, as seen here; zero when
	// unknown.
	Since time.Time `json:"since,omitzero"`
	// LastSeen is when the node was last seen alive; zero when unknown.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Generation identifies the node's current run (it grows across
	// restarts).
	Generation uint64 `json:"generation"`
	// Key is the fingerprint of the gossip key the node encrypts with, as
	// it announces it (never the key); empty without encryption or when
	// unknown.
	Key string `json:"key,omitempty"`
	// Records is the number of record sets (containers) the node owns, as
	// held by the serving node's registry.
	Records int `json:"records"`
	// Local is true for the node serving the API.
	Local bool `json:"local,omitempty"`
	// Stale is true when the node's records may be out of date (its lease
	// runs, or its Docker engine cannot be reached).
	Stale bool `json:"stale,omitempty"`
	// LeaseExpires is when the node's records will be dropped unless it is
	// heard from again; zero while it is alive.
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
}

// MembersResponse is the body of GET /v1/members.
type MembersResponse struct {
	// Node is the name of the node that answered.
	Node string `json:"node"`
	// Members are every known node, ordered by name.
	Members []Member `json:"members"`
}

// Record is one container's record set on one node.
type Record struct {
	Node        string       `json:"node"`
	ContainerID string       `json:"container_id"`
	Name        string       `json:"name"`
	Names       []string     `json:"names"`
	Addrs       []RecordAddr `json:"addrs"`
	// Health is "none", "starting", "healthy" or "unhealthy".
	Health string `json:"health"`
	// Serving is whether the health state lets the set be given out in
	// answers.
	Serving bool          `json:"serving"`
	Ports   []RecordPort  `json:"ports,omitempty"`
	Aliases []RecordAlias `json:"aliases,omitempty"`
	Image   string        `json:"image,omitempty"`
	Version uint64        `json:"version"`
}

// RecordAddr is one address of a container on one network.
type RecordAddr struct {
	IP      string `json:"ip"`
	Network string `json:"network,omitempty"`
	Subnet  string `json:"subnet,omitempty"`
}

// RecordPort is a service port of a container (an SRV record).
type RecordPort struct {
	Service string `json:"service,omitempty"`
	Proto   string `json:"proto"`
	Port    uint16 `json:"port"`
}

// RecordAlias is a CNAME record a container asks for.
type RecordAlias struct {
	Name   string `json:"name"`
	Target string `json:"target"`
}

// RecordsResponse is the body of GET /v1/records.
type RecordsResponse struct {
	// Node is the name of the node that answered.
	Node string `json:"node"`
	// Serial is the zone serial of the snapshot the records come from.
	Serial uint32 `json:"serial"`
	// Records are the matching record sets, ordered by node and container.
	Records []Record `json:"records"`
}

// Explanation is the answer a node gives to one query, and why: the body
// of GET /v1/lookup. An Explainer fills Rcode, Answer, Authority, Forwarded,
// Note and Candidates; the API fills Name, Type and Client from the request.
type Explanation struct {
	// Name is the queried FQDN.
	Name string `json:"name"`
	// Type is the query type's mnemonic ("A", "AAAA", "SRV", ...).
	Type string `json:"type"`
	// Client is the client address the answer was computed for; empty when
	// none was given.
	Client string `json:"client,omitempty"`
	// ClientContainer is the local container that holds Client, which the
	// answer was computed for (its networks scope it); nil when no
	// container of the node holds the address.
	ClientContainer *ClientContainer `json:"client_container,omitempty"`
	// Rcode is the response code's mnemonic ("NOERROR", "NXDOMAIN", ...).
	Rcode string `json:"rcode"`
	// Answer holds the answer section's records in presentation format.
	Answer []string `json:"answer"`
	// Authority holds the authority section's records (the SOA of a
	// negative answer).
	Authority []string `json:"authority,omitempty"`
	// Forwarded is true when the name is outside the zone and the answer
	// comes from an upstream (or the cache).
	Forwarded bool `json:"forwarded,omitempty"`
	// Note is a free-form remark from the explainer ("answered from cache").
	Note string `json:"note,omitempty"`
	// Outcome is why the answer is what it is (OutcomeNXDOMAIN, ...), and
	// Why says it in a sentence.
	Outcome Outcome `json:"outcome"`
	Why     string  `json:"why"`
	// Refused, set by the explainer, says why the server refused the
	// question by policy; the API turns it into Outcome and Why.
	Refused string `json:"-"`
	// Hidden are the local containers a label hides that would answer to
	// the name.
	Hidden []HiddenContainer `json:"hidden,omitempty"`
	// Candidates are every record the zone holds for the name, whether the
	// answer included it or not.
	Candidates []Candidate `json:"candidates"`
}

// ClientContainer is the local container a client address belongs to.
type ClientContainer struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Addrs    []string `json:"addrs"`
	Networks []string `json:"networks"`
}

// Candidate is one record the zone holds for a queried name.
type Candidate struct {
	// Name is the record's owner name.
	Name string `json:"name"`
	// Address is the record's address (or target, for CNAME and SRV).
	Address string `json:"address"`
	// Port is the port of an SRV record.
	Port uint16 `json:"port,omitempty"`
	// Network is the Docker network the address is on, when known.
	Network string `json:"network,omitempty"`
	// Node is the node that publishes the record.
	Node string `json:"node"`
	// ContainerID is the container that publishes the record.
	ContainerID string `json:"container_id"`
	// Health is the container's health state.
	Health string `json:"health"`
	// Included is whether the answer holds the record.
	Included bool `json:"included"`
	// Reason says why the record was left out (or, optionally, why it was
	// chosen).
	Reason string `json:"reason,omitempty"`
}

// Stats is the body of GET /v1/stats: the node's counters, read from its
// Prometheus registry. Metrics the node does not export are zero or absent.
type Stats struct {
	// Node is the name of the node that answered.
	Node string `json:"node"`
	// Time is when the stats were read.
	Time time.Time `json:"time"`
	// Records is the number of record sets the node holds (all nodes).
	Records int `json:"records"`
	// Members is the number of known nodes, by membership state.
	Members map[string]int `json:"members,omitempty"`
	// DNS holds the query counters.
	DNS DNSStats `json:"dns"`
	// Gossip holds every swarmdns_gossip_* series.
	Gossip []Series `json:"gossip,omitempty"`
	// Watcher holds the Docker watcher's counters.
	Watcher WatcherStats `json:"watcher"`
}

// DNSStats are a node's DNS counters.
type DNSStats struct {
	// Queries is the number of requests answered.
	Queries uint64 `json:"queries"`
	// ByType counts requests by query type.
	ByType map[string]uint64 `json:"by_type,omitempty"`
	// ByRcode counts requests by response code.
	ByRcode map[string]uint64 `json:"by_rcode,omitempty"`
	// CacheHits and CacheMisses count forwarded questions answered from
	// the cache or not.
	CacheHits   uint64 `json:"cache_hits"`
	CacheMisses uint64 `json:"cache_misses"`
	// ForwardErrors counts upstream queries that failed, timed out or were
	// answered with an error.
	ForwardErrors uint64 `json:"forward_errors"`
	// Overload counts requests refused because a bound was reached, by
	// reason.
	Overload map[string]uint64 `json:"overload,omitempty"`
	// Requests is the latency of every request; nil when not exported.
	Requests *Latency `json:"requests,omitempty"`
	// Forward is the latency of questions forwarded upstream; nil when not
	// exported.
	Forward *Latency `json:"forward,omitempty"`
}

// Latency summarises a duration histogram. Quantiles are estimated from the
// buckets the way Prometheus's histogram_quantile does.
type Latency struct {
	Count uint64 `json:"count"`
	// SumSeconds is the total of all observations.
	SumSeconds float64 `json:"sum_seconds"`
	// MeanSeconds is SumSeconds/Count (0 without observations).
	MeanSeconds float64 `json:"mean_seconds"`
	P50Seconds  float64 `json:"p50_seconds"`
	P90Seconds  float64 `json:"p90_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
}

// WatcherStats are the Docker watcher's counters.
type WatcherStats struct {
	// Reconnects counts reconnections to the Docker engine.
	Reconnects uint64 `json:"reconnects"`
	// LastSync is when the watcher last listed every container; zero when
	// it has not yet.
	LastSync time.Time `json:"last_sync,omitzero"`
}

// Series is one time series: a metric name, its labels and its value
// (the count, for a histogram or summary).
type Series struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready bool `json:"ready"`
	// Rule says when the node is ready (Config.ReadyRule).
	Rule   string        `json:"rule,omitempty"`
	Checks []CheckResult `json:"checks"`
}

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	// Error says why the check is not ready.
	Error string `json:"error,omitempty"`
}

// LogLevel is the body of GET and PUT /v1/log-level.
type LogLevel struct {
	// Level is a zerolog level name: trace, debug, info, warn, error,
	// fatal, panic or disabled.
	Level string `json:"level"`
}

// VersionInfo is the body of GET /v1/version.
type VersionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	Node    string `json:"node"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}
