package watcher

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the watcher's Prometheus metrics; a nil *metrics records
// nothing.
type metrics struct {
	reconnects prometheus.Counter
	resyncs    prometheus.Counter
	connected  prometheus.Gauge
	lastSync   prometheus.Gauge
	events     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmdns_watcher_reconnects_total",
			Help: "Connection attempts to the Docker engine after the first.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmdns_watcher_resyncs_total",
			Help: "Completed full resyncs (list and inspect) with the Docker engine.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swarmdns_watcher_connected",
			Help: "1 while the Docker event stream is up and synced, else 0.",
		}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swarmdns_watcher_last_sync_timestamp_seconds",
			Help: "Unix time of the last completed full resync.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmdns_watcher_events_total",
			Help: "Docker events received, by action.",
		}, []string{"action"}),
	}
	for _, c := range []prometheus.Collector{m.reconnects, m.resyncs, m.connected, m.lastSync, m.events} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) reconnect() {
	if m != nil {
		m.reconnects.Inc()
	}
}

func (m *metrics) resynced(at time.Time) {
	if m != nil {
		m.resyncs.Inc()
		m.lastSync.Set(float64(at.UnixNano()) / 1e9)
	}
}

func (m *metrics) setConnected(up bool) {
	if m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.connected.Set(v)
	}
}

func (m *metrics) event(action string) {
	if m != nil {
		m.events.WithLabelValues(action).Inc()
	}
}
