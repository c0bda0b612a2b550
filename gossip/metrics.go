package gossip

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/internal/metric"
)

// metrics are gossip's Prometheus metrics (internal/metric defines them).
// A nil *metrics records nothing.
type metrics struct {
	messages     *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	pushPull     prometheus.Gauge
	probesFailed prometheus.Counter
	decryptFails prometheus.Counter

	reg        prometheus.Registerer
	registered []prometheus.Collector
}

// messageKinds and rejectReasons are the label values present from the
// start.
var (
	messageKinds  = []string{"delta", "batch", "state", "notice", "unknown"}
	rejectReasons = []string{"backlog", "send_backlog", "malformed", "invalid", "own_node", "future_generation",
		"stale_generation", "misaddressed", "oversize"}
)

// memberStates lists the states swarmdns_gossip_members always reports.
var memberStates = []MemberState{StateAlive, StateDead, StateLeft}

func newMetrics(reg prometheus.Registerer, members func() []Member) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		messages:     metric.GossipMessages.CounterVec(),
		bytes:        metric.GossipBytes.CounterVec(),
		rejected:     metric.GossipRejected.CounterVec(),
		pushPull:     metric.GossipPushPullBytes.Gauge(),
		probesFailed: metric.GossipProbesFailed.Counter(),
		decryptFails: metric.GossipDecryptFailures.Counter(),
	}
	for _, k := range messageKinds {
		for _, dir := range []string{"in", "out"} {
			m.messages.WithLabelValues(k, dir)
			m.bytes.WithLabelValues(k, dir)
		}
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	m.reg = reg
	for _, c := range []prometheus.Collector{m.messages, m.bytes, m.rejected, m.pushPull, m.probesFailed, m.decryptFails, membersCollector{members}} {
		if err := reg.Register(c); err != nil {
			m.unregister()
			return nil, err
		}
		m.registered = append(m.registered, c)
	}
	return m, nil
}

// membersCollector reports the members by state at scrape time.
type membersCollector struct{ members func() []Member }

var membersDesc = metric.GossipMembers.Desc()

func (c membersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- membersDesc }

func (c membersCollector) Collect(ch chan<- prometheus.Metric) {
	counts := make(map[MemberState]int, len(memberStates))
	for _, m := range c.members() {
		counts[m.State]++
	}
	for _, s := range memberStates {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

// unregister takes the collectors back out of the registerer, for a New
// that failed after registering them (so that a retry can register anew).
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	for _, c := range m.registered {
		m.reg.Unregister(c)
	}
	m.registered = nil
}

func (m *metrics) message(kind, direction string, size int) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(kind, direction).Inc()
	m.bytes.WithLabelValues(kind, direction).Add(float64(size))
}

func (m *metrics) reject(reason string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(reason).Inc()
}

func (m *metrics) pushPullSize(n int) {
	if m == nil {
		return
	}
	m.pushPull.Set(float64(n))
}

func (m *metrics) probeFailed() {
	if m != nil {
		m.probesFailed.Inc()
	}
}

func (m *metrics) decryptFailed() {
	if m != nil {
		m.decryptFails.Inc()
	}
}
