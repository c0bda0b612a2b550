package watcher

import (
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/internal/metric"
)

// metrics are the watcher's Prometheus metrics (internal/metric defines
// them); a nil *metrics records nothing.
type metrics struct {
	reconnects prometheus.Counter
	resyncs    prometheus.Counter
	connected  prometheus.Gauge
	lastSync   prometheus.Gauge
	events     *prometheus.CounterVec
}

// eventTypes are the values of the events' type label.
var eventTypes = []events.Type{events.ContainerEventType, events.NetworkEventType}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reconnects: metric.WatcherReconnects.Counter(),
		resyncs:    metric.WatcherResyncs.Counter(),
		connected:  metric.WatcherConnected.Gauge(),
		lastSync:   metric.WatcherLastSync.Gauge(),
		events:     metric.WatcherEvents.CounterVec(),
	}
	for _, t := range eventTypes {
		for _, a := range watchedActions {
			m.events.WithLabelValues(string(t), string(a))
		}
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

// event counts an event of type typ (container, network, else other) and
// action (a watched one, else other), so the labels stay bounded.
func (m *metrics) event(typ events.Type, action string) {
	if m == nil {
		return
	}
	t := "other"
	if slices.Contains(eventTypes, typ) {
		t = string(typ)
	}
	if !slices.Contains(watchedActions, events.Action(action)) {
		action = "other"
	}
	m.events.WithLabelValues(t, action).Inc()
}
