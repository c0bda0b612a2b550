package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/registry"
)

// NOTIFY (RFC 1996): every secondary in Config.Notify is told when the
// zone's serial changes, so that it transfers the zone at once instead of
// at its next refresh (a BIND secondary raises the SOA's 30 s refresh to
// its 300 s minimum). Each target has a loop of its own: it sends at most
// one NOTIFY a second (changes in between are one NOTIFY, for the newest
// serial), over UDP from a fresh socket, and sends it again, 1 s, 2 s,
// 4 s ... up to a minute apart, until the target answers with NOERROR; a
// newer serial replaces the one being retried. With a TransferKey the
// NOTIFY is signed (the first key) and the answer's signature checked.
// One NOTIFY goes out when the server starts.

// Bounds of the NOTIFY loop.
const (
	notifyInterval = time.Second      // at most one NOTIFY a second per target
	notifyTimeout  = 2 * time.Second  // wait for an answer
	notifyMaxRetry = 60 * time.Second // longest wait between two tries
	notifyPort     = "53"
)

// ZoneFeed is what the NOTIFY loop follows when Config.Store has it
// (*registry.Registry does): the change feed, so that a new serial is seen
// at once. Without it the serial is checked every notifyInterval.
type ZoneFeed interface {
	Subscribe(ctx context.Context) (*registry.Snapshot, *registry.Subscription)
}

// ParseNotifyTarget checks a NOTIFY target, host[:port] (IPv6 in
// brackets when with a port), and returns it as host:port, port 53 by
// default.
func ParseNotifyTarget(t string) (string, error) {
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]"), notifyPort
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("notify target %q: bad port", t)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		if _, ok := mdns.IsDomainName(host); !ok || host == "" || strings.ContainsAny(host, " /") {
			return "", fmt.Errorf("notify target %q: not an address or host name", t)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// notifyMetrics counts the NOTIFYs sent, by outcome.
type notifyMetrics struct{ sent *prometheus.CounterVec }

func newNotifyMetrics(reg prometheus.Registerer) (*notifyMetrics, error) {
	m := &notifyMetrics{sent: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swarmdns_dns_notify_total",
		Help: "NOTIFY messages sent to secondaries (--notify), by outcome: acknowledged, refused (an rcode other than NOERROR), failed (no answer, a bad signature).",
	}, []string{"result"})}
	if reg != nil {
		if err := reg.Register(m.sent); err != nil {
			return nil, fmt.Errorf("register notify metrics: %w", err)
		}
	}
	return m, nil
}

// runNotify sends NOTIFYs until ctx ends.
func (s *Server) runNotify(ctx context.Context) {
	if len(s.cfg.Notify) == 0 {
		return
	}
	kicks := make([]chan struct{}, len(s.cfg.Notify))
	done := make(chan struct{}, len(kicks))
	for i, target := range s.cfg.Notify {
		kicks[i] = make(chan struct{}, 1)
		go func() {
			defer func() { done <- struct{}{} }()
			s.notifyLoop(ctx, target, kicks[i])
		}()
	}
	s.watchSerial(ctx, func(uint32) {
		for _, k := range kicks {
			select {
			case k <- struct{}{}:
			default: // one is pending already: it sends the newest serial
			}
		}
	})
	for range kicks {
		<-done
	}
}

// watchSerial calls changed with the zone's serial when the server starts
// and whenever it changes, until ctx ends: when a snapshot is published
// (the change feed, when the store has one), and when the clock moves the
// serial on (a change's second ending, registry.Snapshot.SerialAt).
func (s *Server) watchSerial(ctx context.Context, changed func(serial uint32)) {
	var ready <-chan struct{}
	var tick <-chan time.Time
	var sub *registry.Subscription
	if feed, ok := s.store.(ZoneFeed); ok {
		_, sub = feed.Subscribe(ctx)
		defer sub.Close()
		ready = sub.Ready()
	} else {
		t := time.NewTicker(notifyInterval)
		defer t.Stop()
		tick = t.C
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	serial, due := s.store.Snapshot().SerialAt(time.Now())
	changed(serial)
	for {
		if !due.IsZero() {
			timer.Reset(time.Until(due))
		}
		select {
		case <-ctx.Done():
			return
		case <-ready:
			sub.Next()
		case <-tick:
		case <-timer.C:
		}
		now, after := s.store.Snapshot().SerialAt(time.Now())
		due = after
		if now != serial {
			serial = now
			changed(serial)
		}
	}
}

// notifyLoop sends target a NOTIFY for each kick, coalesced to one a
// second, and retries each until it is acknowledged.
func (s *Server) notifyLoop(ctx context.Context, target string, kick <-chan struct{}) {
	var last time.Time
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		for retry := time.Duration(0); ; {
			if d := notifyInterval - time.Since(last); d > 0 && !wait(d) {
				return
			}
			select {
			case <-kick: // the serial read next covers it
			default:
			}
			serial := s.store.Snapshot().Serial()
			last = time.Now()
			err := s.sendNotify(ctx, target, serial)
			if err == nil {
				s.notifyMetrics.sent.WithLabelValues("acknowledged").Inc()
				s.log.Info().Str("target", target).Uint32("serial", serial).Dur("took_ms", time.Since(last)).Msg("notify acknowledged")
				break
			}
			retry = min(max(2*retry, time.Second), notifyMaxRetry)
			s.log.Warn().Err(err).Str("target", target).Uint32("serial", serial).Dur("retry_in_ms", retry).Msg("notify not acknowledged")
			t := time.NewTimer(retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-kick: // a newer serial: send that one now
				t.Stop()
				retry = 0
			}
		}
	}
}

// notifyError is a NOTIFY answered with an rcode other than NOERROR.
type notifyError struct{ rcode int }

func (e notifyError) Error() string {
	return "answered " + rcodeLabel(e.rcode)
}

// sendNotify sends one NOTIFY for serial to target and waits for the
// answer.
func (s *Server) sendNotify(ctx context.Context, target string, serial uint32) error {
	m := new(mdns.Msg)
	m.SetNotify(s.zone.origin)
	m.Answer = []mdns.RR{s.zone.soa(s.zone.origin, serial, s.zone.ttl)}
	c := &mdns.Client{Net: "udp", Timeout: notifyTimeout}
	if k, ok := s.notifyKey(); ok {
		c.TsigSecret = map[string]string{k.Name: k.Secret}
		m.SetTsig(k.Name, k.Algorithm, tsigFudge, s.cfg.Now().Unix())
	}
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, target)
	if err != nil {
		s.notifyMetrics.sent.WithLabelValues("failed").Inc()
		return fmt.Errorf("notify %s: %w", target, err)
	}
	if r.Opcode != mdns.OpcodeNotify || r.Rcode != mdns.RcodeSuccess {
		s.notifyMetrics.sent.WithLabelValues("refused").Inc()
		return fmt.Errorf("notify %s: %w", target, notifyError{r.Rcode})
	}
	return nil
}

// notifyKey is the key NOTIFYs are signed with: the first TransferKey.
func (s *Server) notifyKey() (TransferKey, bool) {
	if len(s.cfg.TransferKeys) == 0 {
		return TransferKey{}, false
	}
	return s.keys[registry.CanonicalName(s.cfg.TransferKeys[0].Name)], true
}
