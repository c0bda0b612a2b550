package dns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// Forwarding loops (an upstream that is this server, directly or through
// other resolvers, such as Docker's 127.0.0.11 when dockerd's --dns points
// back at us) are found with probes: a question for a crypto-random name
// under .invalid (RFC 6761) is sent to each upstream; if that question then
// reaches this server, the upstream leads back here and is left out until a
// later probe comes back clean. A loop never stops the server (the CoreDNS
// loop plugin exits the process: CVE-2026-26018); and between probes,
// coalescing keeps a loop to one extra query per question.

// probeSuffix is the parent of every probe name.
const probeSuffix = ".swarmdns-loop-probe.invalid."

// probeInterval is how often the upstreams are probed again.
const probeInterval = 5 * time.Minute

// newProbeName returns a name no one can guess.
func newProbeName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:]) + probeSuffix
}

// loopProbe is one outstanding probe.
type loopProbe struct {
	upstream int
	hit      atomic.Bool // the probe reached this server
}

// probeHit reports whether the canonical name is one of our outstanding
// probes, and if so marks its upstream as looping.
func (f *forwarder) probeHit(name string) bool {
	if !isProbeName(name) {
		return false
	}
	f.mu.Lock()
	p, ok := f.probes[name]
	f.mu.Unlock()
	if !ok {
		return false
	}
	p.hit.Store(true)
	if !f.looping[p.upstream].Swap(true) {
		f.loopLog.Error().Str("upstream", f.upstreams[p.upstream]).
			Msg("forwarding loop: this upstream sends our questions back to us; it is left out until it stops")
	}
	return true
}

// probeLoops probes every upstream now and then every probeInterval until
// ctx ends.
func (f *forwarder) probeLoops(ctx context.Context) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		for i := range f.upstreams {
			f.probe(ctx, i)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe sends one probe to upstream i and clears its loop mark when the
// upstream answers without the probe having come back to us.
func (f *forwarder) probe(ctx context.Context, i int) {
	name := newProbeName()
	p := &loopProbe{upstream: i}
	f.mu.Lock()
	f.probes[name] = p
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.probes, name)
		f.mu.Unlock()
	}()
	qctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	_, err := f.query(qctx, f.upstreams[i], cacheKey{name: name, qtype: mdns.TypeTXT, qclass: mdns.ClassINET})
	if p.hit.Load() || err != nil {
		return // a loop (marked by probeHit), or no verdict
	}
	if f.looping[i].Swap(false) {
		f.loopLog.Info().Str("upstream", f.upstreams[i]).Msg("forwarding loop gone: upstream used again")
	}
}
