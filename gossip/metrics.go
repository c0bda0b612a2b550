package gossip

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are gossip's Prometheus metrics. A nil *metrics records nothing.
type metrics struct {
	messages *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	rejected *prometheus.CounterVec
	pushPull prometheus.Gauge

	reg        prometheus.Registerer
	registered []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, members func() float64) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmdns_gossip_messages_total",
			Help: "Gossip messages by kind (delta, state, notice, unknown) and direction (in, out).",
		}, []string{"kind", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmdns_gossip_bytes_total",
			Help: "Bytes of swarmdns gossip messages (before memberlist framing and encryption) by direction.",
		}, []string{"direction"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmdns_gossip_rejected_total",
			Help: "Gossip updates dropped, by reason.",
		}, []string{"reason"}),
		pushPull: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swarmdns_gossip_pushpull_bytes",
			Help: "Size of the last full-state (push/pull) message this node sent.",
		}),
	}
	membersGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "swarmdns_gossip_members",
		Help: "Cluster members this node sees alive, itself included.",
	}, members)
	m.reg = reg
	for _, c := range []prometheus.Collector{m.messages, m.bytes, m.rejected, m.pushPull, membersGauge} {
		if err := reg.Register(c); err != nil {
			m.unregister()
			return nil, err
		}
		m.registered = append(m.registered, c)
	}
	return m, nil
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
	m.bytes.WithLabelValues(direction).Add(float64(size))
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
