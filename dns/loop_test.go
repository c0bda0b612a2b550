package dns

import (
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestForwardLoopDetected: an upstream that sends every question back to
// this server is found by the probe and left out, and the server keeps
// serving; a working upstream after it still answers.
func TestForwardLoopDetected(t *testing.T) {
	var target atomic.Pointer[string] // the server, once it exists
	loopback := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		c := &mdns.Client{Timeout: 2 * time.Second}
		if addr := target.Load(); addr != nil {
			if reply, _, err := c.Exchange(r, *addr); err == nil {
				_ = w.WriteMsg(reply)
				return
			}
		}
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
	good := startUpstream(t, answerA)
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Upstreams: []string{loopback.addr, good.addr}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.UDPAddr().String()
	target.Store(&addr)
	runTestServer(t, s)
	waitFor(t, 10*time.Second, func() bool { return s.fwd.looping[0].Load() })
	if s.fwd.looping[1].Load() {
		t.Errorf("the working upstream is marked as looping")
	}
	for _, name := range []string{"a.example.", "b.example."} {
		r := exchange(t, "udp", s.UDPAddr(), query(name, mdns.TypeA))
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
			t.Errorf("%s: got %s with %d answers; want NOERROR with 1", name, mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	if n := loopback.queries.Load(); n != 0 {
		t.Errorf("looping upstream: got %d queries; want 0", n)
	}
	if n := good.queries.Load(); n != 2 {
		t.Errorf("working upstream: got %d queries; want 2", n)
	}
}

// TestForwardLoopOnlyUpstream: when the only upstream loops, names outside
// the zone get SERVFAIL at once and the zone is still answered.
func TestForwardLoopOnlyUpstream(t *testing.T) {
	var target atomic.Pointer[string]
	loopback := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		c := &mdns.Client{Timeout: 2 * time.Second}
		if addr := target.Load(); addr != nil {
			if reply, _, err := c.Exchange(r, *addr); err == nil {
				_ = w.WriteMsg(reply)
				return
			}
		}
	})
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Upstreams: []string{loopback.addr}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.UDPAddr().String()
	target.Store(&addr)
	runTestServer(t, s)
	waitFor(t, 10*time.Second, func() bool { return s.fwd.looping[0].Load() })
	if r := exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeA)); r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("outside: got %s; want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	if r := exchange(t, "udp", s.UDPAddr(), query("web-1.swarm.internal.", mdns.TypeA)); len(r.Answer) != 2 {
		t.Errorf("zone: got %d answers; want 2", len(r.Answer))
	}
	if n := loopback.queries.Load(); n != 0 {
		t.Errorf("looping upstream: got %d queries; want 0", n)
	}
}

func TestProbeNames(t *testing.T) {
	a, b := newProbeName(), newProbeName()
	if a == b || len(a) != 32+len(probeSuffix) {
		t.Errorf("probe names: got %q and %q; want two distinct 32-hex-digit labels", a, b)
	}
	if _, ok := mdns.IsDomainName(a); !ok {
		t.Errorf("probe name %q is not a domain name", a)
	}
}
