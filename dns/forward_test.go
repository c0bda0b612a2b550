package dns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func TestForwardAndCache(t *testing.T) {
	up := startUpstream(t, answerA)
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	s := newTestServer(t, Config{Upstreams: []string{up.addr}, Now: clock.Now})

	r := exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeA))
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].String() != "example.com.\t60\tIN\tA\t192.0.2.1" {
		t.Fatalf("first answer: got %s %v; want NOERROR example.com. 60 A 192.0.2.1", mdns.RcodeToString[r.Rcode], r.Answer)
	}
	if r.Authoritative || !r.RecursionAvailable {
		t.Errorf("flags: got aa=%v ra=%v; want no aa, ra", r.Authoritative, r.RecursionAvailable)
	}
	if n := up.queries.Load(); n != 1 {
		t.Fatalf("upstream queries after the first: got %d; want 1", n)
	}

	// Repeated, over TCP and with other letter case: from the cache, with the
	// TTL lowered by the time spent there, and the client's case echoed.
	clock.Advance(10 * time.Second)
	m := query("ExAmPlE.CoM.", mdns.TypeA)
	m.Id = 4242
	r = exchange(t, "tcp", s.TCPAddr(), m)
	if r.Id != 4242 || r.Question[0].Name != "ExAmPlE.CoM." {
		t.Errorf("echo: got id %d question %q; want 4242 ExAmPlE.CoM.", r.Id, r.Question[0].Name)
	}
	if len(r.Answer) != 1 || r.Answer[0].String() != "ExAmPlE.CoM.\t50\tIN\tA\t192.0.2.1" {
		t.Errorf("cached answer: got %v; want ExAmPlE.CoM. 50 A 192.0.2.1", r.Answer)
	}
	if n := up.queries.Load(); n != 1 {
		t.Errorf("upstream queries after the repeat: got %d; want 1", n)
	}

	// Expired: asked again.
	clock.Advance(51 * time.Second)
	exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeA))
	if n := up.queries.Load(); n != 2 {
		t.Errorf("upstream queries after expiry: got %d; want 2", n)
	}
}

func TestForwardNegativeCache(t *testing.T) {
	up := startUpstream(t, answerA)
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	s := newTestServer(t, Config{Upstreams: []string{up.addr}, Now: clock.Now})
	for i := range 3 {
		r := exchange(t, "udp", s.UDPAddr(), query("nx.example.", mdns.TypeA))
		if r.Rcode != mdns.RcodeNameError || len(r.Ns) != 1 {
			t.Fatalf("query %d: got %s with %d authority records; want NXDOMAIN with the SOA", i, mdns.RcodeToString[r.Rcode], len(r.Ns))
		}
	}
	if n := up.queries.Load(); n != 1 {
		t.Errorf("upstream queries: got %d; want 1 (NXDOMAIN cached)", n)
	}
	// NODATA (an AAAA query the fake answers empty, with no SOA) is not
	// cached: without an SOA there is no negative TTL (RFC 2308 §5).
	exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeAAAA))
	exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeAAAA))
	if n := up.queries.Load(); n != 3 {
		t.Errorf("upstream queries: got %d; want 3", n)
	}
	// The negative TTL is min(SOA TTL 300, minimum 30): gone after 30s.
	clock.Advance(29 * time.Second)
	exchange(t, "udp", s.UDPAddr(), query("nx.example.", mdns.TypeA))
	if n := up.queries.Load(); n != 3 {
		t.Errorf("upstream queries at 29s: got %d; want 3", n)
	}
	clock.Advance(2 * time.Second)
	exchange(t, "udp", s.UDPAddr(), query("nx.example.", mdns.TypeA))
	if n := up.queries.Load(); n != 4 {
		t.Errorf("upstream queries at 31s: got %d; want 4", n)
	}
}

func TestForwardZoneNeverForwarded(t *testing.T) {
	up := startUpstream(t, answerA)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	for _, q := range []mdns.Question{
		{Name: "web-1.swarm.internal.", Qtype: mdns.TypeA},
		{Name: "nope.swarm.internal.", Qtype: mdns.TypeA},
		{Name: "a.b.c.nope.swarm.internal.", Qtype: mdns.TypeAAAA},
		{Name: "web-1.swarm.internal.", Qtype: mdns.TypeMX},
		{Name: "NOPE.SWARM.INTERNAL.", Qtype: mdns.TypeA},
		{Name: "swarm.internal.", Qtype: mdns.TypeDS},
		{Name: "2.1.0.10.in-addr.arpa.", Qtype: mdns.TypePTR},
		{Name: "web-1.", Qtype: mdns.TypeA},
	} {
		for _, network := range []string{"udp", "tcp"} {
			addr := s.UDPAddr()
			if network == "tcp" {
				addr = s.TCPAddr()
			}
			m := new(mdns.Msg)
			m.Question = []mdns.Question{{Name: q.Name, Qtype: q.Qtype, Qclass: mdns.ClassINET}}
			m.RecursionDesired = true
			if r := exchange(t, network, addr, m); !r.Authoritative {
				t.Errorf("%s: not authoritative", q.String())
			}
		}
	}
	if n := up.queries.Load(); n != 0 {
		t.Errorf("upstream queries: got %d (%s); want 0", n, <-up.names)
	}
	// What is outside goes out.
	exchange(t, "udp", s.UDPAddr(), query("9.9.0.10.in-addr.arpa.", mdns.TypePTR))
	exchange(t, "udp", s.UDPAddr(), query("nosuch.", mdns.TypeA))
	if n := up.queries.Load(); n != 2 {
		t.Errorf("upstream queries: got %d; want 2", n)
	}
}

// closedPort returns a loopback address where nothing listens on UDP.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().String()
	pc.Close()
	return a
}

// blackhole returns a loopback UDP address that reads and never answers;
// received counts the queries other than loop probes.
func blackhole(t *testing.T) (addr string, received *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	received = new(atomic.Int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 65535)
		for {
			n, _, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			var m mdns.Msg
			if m.Unpack(b[:n]) == nil && !isProbe(&m) {
				received.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String(), received
}

func TestForwardUpstreamDown(t *testing.T) {
	const timeout = 500 * time.Millisecond
	hole, received := blackhole(t)
	tests := []struct {
		name      string
		upstreams []string
	}{
		{"closed port", []string{closedPort(t)}},
		{"no answer", []string{hole}},
		{"both", []string{closedPort(t), hole}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Config{Upstreams: tt.upstreams, ForwardTimeout: timeout})
			for _, network := range []string{"udp", "tcp"} {
				addr := s.UDPAddr()
				if network == "tcp" {
					addr = s.TCPAddr()
				}
				m := query("example.com.", mdns.TypeA)
				m.Id = 777
				// The client gives up a second after the forward timeout:
				// SERVFAIL must come before.
				c := &mdns.Client{Net: network, Timeout: timeout + time.Second}
				r, _, err := c.Exchange(m, addr.String())
				if err != nil {
					t.Fatalf("%s: no reply within %v: %v", network, c.Timeout, err)
				}
				if r.Rcode != mdns.RcodeServerFailure || r.Id != 777 || r.Question[0] != m.Question[0] {
					t.Errorf("%s: got %s id %d %v; want SERVFAIL id 777 with the question", network, mdns.RcodeToString[r.Rcode], r.Id, r.Question)
				}
			}
			// The zone is still answered.
			if r := exchange(t, "udp", s.UDPAddr(), query("web-1.swarm.internal.", mdns.TypeA)); len(r.Answer) != 2 {
				t.Errorf("zone: got %d answers; want 2", len(r.Answer))
			}
		})
	}
	if received.Load() == 0 {
		t.Errorf("the silent upstream got no query")
	}
}

func TestForwardFailover(t *testing.T) {
	good := startUpstream(t, answerA)
	bad := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
	s := newTestServer(t, Config{Upstreams: []string{closedPort(t), bad.addr, good.addr}})
	r := exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeA))
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("got %s with %d answers; want NOERROR with 1", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if b, g := bad.queries.Load(), good.queries.Load(); b != 1 || g != 1 {
		t.Errorf("queries: got bad %d good %d; want 1 and 1", b, g)
	}
}

// TestForwardRejectsMismatchedReplies sends replies that do not match the
// query (RFC 5452): they must never reach the client or the cache.
func TestForwardRejectsMismatchedReplies(t *testing.T) {
	evil := func(mutate func(m *mdns.Msg)) func(w mdns.ResponseWriter, r *mdns.Msg) {
		return func(w mdns.ResponseWriter, r *mdns.Msg) {
			m := new(mdns.Msg)
			m.SetReply(r)
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(203, 0, 113, 66).To4()}}
			mutate(m)
			_ = w.WriteMsg(m)
		}
	}
	tests := []struct {
		name   string
		mutate func(m *mdns.Msg)
	}{
		{"wrong ID", func(m *mdns.Msg) { m.Id++ }},
		{"wrong name", func(m *mdns.Msg) { m.Question[0].Name = "evil.example." }},
		{"wrong type", func(m *mdns.Msg) { m.Question[0].Qtype = mdns.TypeAAAA }},
		{"wrong class", func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS }},
		{"no question", func(m *mdns.Msg) { m.Question = nil }},
		{"not a response", func(m *mdns.Msg) { m.Response = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startUpstream(t, evil(tt.mutate))
			s := newTestServer(t, Config{Upstreams: []string{up.addr}, ForwardTimeout: 300 * time.Millisecond})
			for range 2 {
				r := exchange(t, "udp", s.UDPAddr(), query("victim.example.", mdns.TypeA))
				if r.Rcode != mdns.RcodeServerFailure || len(r.Answer) != 0 {
					t.Fatalf("got %s %v; want SERVFAIL and no answer", mdns.RcodeToString[r.Rcode], r.Answer)
				}
			}
			if n := up.queries.Load(); n != 2 {
				t.Errorf("upstream queries: got %d; want 2 (nothing cached)", n)
			}
		})
	}
}

// TestForwardWaitsPastSpoofedReply: a reply with a wrong ID does not end the
// wait; the genuine reply that follows is accepted.
func TestForwardWaitsPastSpoofedReply(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		spoof := new(mdns.Msg)
		spoof.SetReply(r)
		spoof.Id = r.Id + 1
		spoof.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(203, 0, 113, 66).To4()}}
		_ = w.WriteMsg(spoof)
		answerA(w, r)
	})
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	r := exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeA))
	if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.1" {
		t.Errorf("got %v; want the genuine 192.0.2.1", r.Answer)
	}
}

func TestForwardTruncatedRetriedOverTCP(t *testing.T) {
	var tcpQueries atomic.Int64
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if _, ok := w.RemoteAddr().(*net.TCPAddr); !ok {
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		if !isProbe(r) {
			tcpQueries.Add(1)
		}
		for i := range 100 {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(198, 51, 100, byte(i)).To4()})
		}
		_ = w.WriteMsg(m)
	})
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	r := exchange(t, "tcp", s.TCPAddr(), query("big.example.", mdns.TypeA))
	if len(r.Answer) != 100 || r.Truncated {
		t.Errorf("over TCP: got %d answers tc=%v; want 100, no tc", len(r.Answer), r.Truncated)
	}
	if n := tcpQueries.Load(); n != 1 {
		t.Errorf("upstream TCP queries: got %d; want 1", n)
	}
	// Over UDP the client gets it truncated to its size, from the cache.
	r = exchange(t, "udp", s.UDPAddr(), query("big.example.", mdns.TypeA))
	if !r.Truncated || len(r.Answer) >= 100 {
		t.Errorf("over UDP: got %d answers tc=%v; want fewer than 100, tc", len(r.Answer), r.Truncated)
	}
	if n := up.queries.Load(); n != 2 {
		t.Errorf("upstream queries: got %d; want 2 (one UDP, one TCP)", n)
	}
}

// gate is an upstream handler that holds every query until released.
type gate struct {
	release chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) handler(w mdns.ResponseWriter, r *mdns.Msg) {
	<-g.release
	answerA(w, r)
}

func TestForwardCoalescesIdenticalQuestions(t *testing.T) {
	g := newGate(t)
	up := startUpstream(t, g.handler)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}, ForwardTimeout: 10 * time.Second})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			name := "example.com."
			if i%2 == 1 {
				name = "EXAMPLE.com." // same question, other case
			}
			c := &mdns.Client{Timeout: 15 * time.Second}
			r, _, err := c.Exchange(query(name, mdns.TypeA), s.UDPAddr().String())
			switch {
			case err != nil:
				errs <- err.Error()
			case len(r.Answer) != 1 || r.Answer[0].Header().Name != name:
				errs <- "bad answer " + r.String()
			}
		})
	}
	// Wait until every client query has joined the one upstream query.
	waitFor(t, 10*time.Second, func() bool { return s.fwd.inflight.Load() == n })
	g.open()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := up.queries.Load(); got != 1 {
		t.Errorf("upstream queries: got %d; want 1", got)
	}
}

func TestForwardInflightBound(t *testing.T) {
	g := newGate(t)
	up := startUpstream(t, g.handler)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}, MaxInflight: 2, ForwardTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	results := make(chan int, 2)
	for _, name := range []string{"a.example.", "b.example."} {
		wg.Go(func() {
			c := &mdns.Client{Timeout: 15 * time.Second}
			r, _, err := c.Exchange(query(name, mdns.TypeA), s.UDPAddr().String())
			if err != nil {
				t.Error(err)
				return
			}
			results <- r.Rcode
		})
	}
	waitFor(t, 10*time.Second, func() bool { return s.fwd.inflight.Load() == 2 })
	// A third question finds the bound reached: REFUSED at once, while
	// the zone is still answered.
	if r := exchange(t, "udp", s.UDPAddr(), query("c.example.", mdns.TypeA)); r.Rcode != mdns.RcodeRefused {
		t.Errorf("beyond the bound: got %s; want REFUSED", mdns.RcodeToString[r.Rcode])
	}
	if r := exchange(t, "udp", s.UDPAddr(), query("web-1.swarm.internal.", mdns.TypeA)); len(r.Answer) != 2 {
		t.Errorf("zone during the flood: got %d answers; want 2", len(r.Answer))
	}
	g.open()
	wg.Wait()
	close(results)
	for rc := range results {
		if rc != mdns.RcodeSuccess {
			t.Errorf("queries within the bound: got %s; want NOERROR", mdns.RcodeToString[rc])
		}
	}
}

func TestForwardNoRecursionDesired(t *testing.T) {
	up := startUpstream(t, answerA)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	m := query("example.com.", mdns.TypeA)
	m.RecursionDesired = false
	if r := exchange(t, "udp", s.UDPAddr(), m); r.Rcode != mdns.RcodeRefused {
		t.Errorf("RD=0, not cached: got %s; want REFUSED", mdns.RcodeToString[r.Rcode])
	}
	exchange(t, "udp", s.UDPAddr(), query("example.com.", mdns.TypeA))
	if r := exchange(t, "udp", s.UDPAddr(), m); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("RD=0, cached: got %s with %d answers; want NOERROR with 1", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if n := up.queries.Load(); n != 1 {
		t.Errorf("upstream queries: got %d; want 1", n)
	}
}

func TestForwardEDNSToUpstream(t *testing.T) {
	type seen struct {
		opt  bool
		do   bool
		size uint16
		rd   bool
		name string
	}
	got := make(chan seen, 4)
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		o := r.IsEdns0()
		s := seen{opt: o != nil, rd: r.RecursionDesired, name: r.Question[0].Name}
		if o != nil {
			s.do, s.size = o.Do(), o.UDPSize()
		}
		if !isProbe(r) {
			got <- s
		}
		answerA(w, r)
	})
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	m := query("Mixed.Example.", mdns.TypeA)
	m.SetEdns0(4096, true)
	r := exchange(t, "udp", s.UDPAddr(), m)
	if opt := r.IsEdns0(); opt == nil || !opt.Do() {
		t.Errorf("reply OPT: got %v; want one with DO", opt)
	}
	u := <-got
	if !u.opt || !u.do || u.size != DefaultMaxUDPSize || !u.rd || u.name != "mixed.example." {
		t.Errorf("upstream query: got %+v; want OPT with DO, size %d, RD, lower-case name", u, DefaultMaxUDPSize)
	}
	// DO is part of the cache key: without it, the upstream is asked again.
	exchange(t, "udp", s.UDPAddr(), query("mixed.example.", mdns.TypeA))
	if u := <-got; u.do {
		t.Errorf("second upstream query: got DO; want none")
	}
}

func TestCacheBound(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	c := newCache(64, time.Hour, clock.Now)
	for i := range 1000 {
		m := new(mdns.Msg)
		m.SetQuestion("x.example.", mdns.TypeA)
		m.Response = true
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "x.example.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1).To4()}}
		c.put(cacheKey{name: strings.Repeat("a", i%50+1) + ".example." + string(rune('a'+i%26)), qtype: mdns.TypeA, qclass: 1}, m)
	}
	if n := c.len(); n > 64+cacheShards {
		t.Errorf("entries: got %d; want at most about 64", n)
	}
}

func TestCacheTTL(t *testing.T) {
	rr := func(s string) mdns.RR {
		r, err := mdns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	soa := rr("example. 300 IN SOA ns.example. h.example. 1 1 1 1 30")
	tests := []struct {
		name string
		m    mdns.Msg
		ttl  uint32
		ok   bool
	}{
		{"positive: smallest TTL", mdns.Msg{Answer: []mdns.RR{rr("a.example. 60 IN A 192.0.2.1"), rr("a.example. 20 IN A 192.0.2.2")}}, 20, true},
		{"NXDOMAIN: SOA minimum", mdns.Msg{MsgHdr: mdns.MsgHdr{Rcode: mdns.RcodeNameError}, Ns: []mdns.RR{soa}}, 30, true},
		{"NODATA: SOA minimum", mdns.Msg{Ns: []mdns.RR{soa}}, 30, true},
		{"NODATA without SOA", mdns.Msg{}, 0, false},
		{"SERVFAIL", mdns.Msg{MsgHdr: mdns.MsgHdr{Rcode: mdns.RcodeServerFailure}}, 0, false},
		{"truncated", mdns.Msg{MsgHdr: mdns.MsgHdr{Truncated: true}, Answer: []mdns.RR{rr("a.example. 60 IN A 192.0.2.1")}}, 0, false},
	}
	for _, tt := range tests {
		ttl, ok := cacheTTL(&tt.m)
		if ttl != tt.ttl || ok != tt.ok {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, ttl, ok, tt.ttl, tt.ok)
		}
	}
}

func TestLookupExplains(t *testing.T) {
	up := startUpstream(t, answerA)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	ex, err := s.Lookup(context.Background(), "web.swarm.internal", mdns.TypeA, mustAddr("10.0.2.7"))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Source != SourceZone || ex.Reply.Rcode != mdns.RcodeSuccess {
		t.Fatalf("got source %s rcode %s; want zone NOERROR", ex.Source, mdns.RcodeToString[ex.Reply.Rcode])
	}
	want := map[string]string{
		"10.0.1.2": "left out: the client is on network back, this address is on front",
		"10.0.2.2": ReasonServed,
		"10.0.1.3": "left out: healthcheck unhealthy",
		"10.0.1.4": ReasonServed,
	}
	if len(ex.Candidates) != len(want) {
		t.Errorf("candidates: got %d; want %d: %+v", len(ex.Candidates), len(want), ex.Candidates)
	}
	for _, c := range ex.Candidates {
		if w, ok := want[c.Addr.String()]; !ok || c.Reason != w || c.Included != (w == ReasonServed) {
			t.Errorf("candidate %s (%s on %s): got included=%v %q; want %q", c.Addr, c.ContainerID, c.Node, c.Included, c.Reason, w)
		}
	}
	if got := rrStrings(ex.Reply.Answer); len(got) != 2 {
		t.Errorf("answer: got %q; want 10.0.2.2 and 10.0.1.4", got)
	}
	// All unhealthy: given anyway, and said so.
	ex, _ = s.Lookup(context.Background(), "db.swarm.internal.", mdns.TypeA, mustAddr("192.0.2.1"))
	for _, c := range ex.Candidates {
		if !c.Included || !strings.Contains(c.Reason, "every container behind the name is unhealthy") {
			t.Errorf("db candidate %s: got included=%v %q", c.Addr, c.Included, c.Reason)
		}
	}
	// Outside the zone: forwarded.
	ex, err = s.Lookup(context.Background(), "example.com", mdns.TypeA, mustAddr("127.0.0.1"))
	if err != nil || ex.Source != SourceForward || len(ex.Reply.Answer) != 1 {
		t.Errorf("outside: got %v source %s answer %v; want forwarded with 1 answer", err, ex.Source, ex.Reply.Answer)
	}
	if _, err := s.Lookup(context.Background(), "bad..name", mdns.TypeA, mustAddr("127.0.0.1")); err == nil {
		t.Errorf("bad name: got no error")
	}
}

func TestLookupStale(t *testing.T) {
	r := testRegistry(t)
	r.SetLocalStale(true)
	s := newTestServer(t, Config{Store: r})
	ex, err := s.Lookup(context.Background(), "web-1.swarm.internal.", mdns.TypeA, mustAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ex.Candidates {
		if !strings.Contains(c.Reason, "TTL lowered: node n1 is stale") {
			t.Errorf("candidate %s: got %q; want the stale note", c.Addr, c.Reason)
		}
	}
	for _, rr := range ex.Reply.Answer {
		if rr.Header().Ttl != 1 {
			t.Errorf("TTL: got %d; want 1", rr.Header().Ttl)
		}
	}
}

// TestForwardSkipsFailedUpstream: once the first upstream has failed, the
// next questions go to the working one first.
func TestForwardSkipsFailedUpstream(t *testing.T) {
	hole, received := blackhole(t)
	good := startUpstream(t, answerA)
	s := newTestServer(t, Config{Upstreams: []string{hole, good.addr}, ForwardTimeout: time.Second})
	if r := exchange(t, "udp", s.UDPAddr(), query("one.example.", mdns.TypeA)); r.Rcode != mdns.RcodeSuccess {
		t.Fatalf("first: got %s; want NOERROR from the second upstream", mdns.RcodeToString[r.Rcode])
	}
	if n := received.Load(); n != 1 {
		t.Fatalf("silent upstream: got %d queries; want 1", n)
	}
	for _, name := range []string{"two.example.", "three.example."} {
		if r := exchange(t, "udp", s.UDPAddr(), query(name, mdns.TypeA)); r.Rcode != mdns.RcodeSuccess {
			t.Errorf("%s: got %s; want NOERROR", name, mdns.RcodeToString[r.Rcode])
		}
	}
	if n := received.Load(); n != 1 {
		t.Errorf("silent upstream: got %d queries; want still 1", n)
	}
	if got, want := s.fwd.order(), []int{1, 0}; !slices.Equal(got, want) {
		t.Errorf("order: got %v; want %v", got, want)
	}
}

// BenchmarkForwardMiss is a cache miss through the forwarder: a new name
// every query, asked of an upstream on loopback (answerA, in this process)
// and cached.
func BenchmarkForwardMiss(b *testing.B) {
	up := startUpstream(b, answerA)
	s, err := New(Config{Listen: "127.0.0.1:0", Store: benchRegistry(b, 10), Upstreams: []string{up.addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := cacheKey{name: fmt.Sprintf("c%d.cold.example.", i), qtype: mdns.TypeA, qclass: mdns.ClassINET}
		if m, _, err := s.fwd.resolve(ctx, k, false); err != nil || len(m.Answer) != 1 {
			b.Fatalf("got %v, %v", m, err)
		}
	}
}

// TestForwardHitEqualsMiss: the reply a client gets from the cache is the
// one it got when the question went to the upstream (the packed cache
// changes nothing the server sends): same flags, rcode, records and OPT,
// TTLs lowered by the time spent in the cache, the client's case echoed.
func TestForwardHitEqualsMiss(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		q := r.Question[0]
		m := new(mdns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		m.AuthenticatedData = true
		rr := func(s string) mdns.RR {
			x, err := mdns.NewRR(s)
			if err != nil {
				panic(err)
			}
			return x
		}
		if strings.HasPrefix(q.Name, "nx") {
			m.Rcode = mdns.RcodeNameError
			m.Ns = []mdns.RR{rr("example. 300 IN SOA ns.example. h.example. 1 1 1 1 30")}
		} else {
			m.Answer = []mdns.RR{rr(q.Name + " 300 IN CNAME web.example."), rr("web.example. 60 IN A 192.0.2.7"), rr("web.example. 60 IN A 192.0.2.8")}
			m.Ns = []mdns.RR{rr("example. 3600 IN NS ns1.example.")}
			m.Extra = []mdns.RR{rr("ns1.example. 3600 IN A 192.0.2.53")}
		}
		if o := r.IsEdns0(); o != nil {
			m.SetEdns0(4096, o.Do())
		}
		_ = w.WriteMsg(m)
	})
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	s := newTestServer(t, Config{Upstreams: []string{up.addr}, Now: clock.Now})
	tests := []struct {
		name     string
		edns, do bool
		ad, cd   bool
	}{
		{name: "WwW.ExAmPlE."},
		{name: "wWw.ExAmPlE.", edns: true},
		{name: "WWW.example.", edns: true, do: true},
		{name: "www.EXAMPLE.", ad: true, cd: true},
		{name: "Nx.ExAmPlE."},
		{name: "nX.example.", edns: true, do: true},
	}
	for _, tt := range tests {
		m := query(tt.name, mdns.TypeA)
		m.AuthenticatedData, m.CheckingDisabled = tt.ad, tt.cd
		if tt.edns {
			m.SetEdns0(1232, tt.do)
		}
		miss := exchange(t, "udp", s.UDPAddr(), m)
		for _, sec := range [][]mdns.RR{miss.Answer, miss.Ns, miss.Extra} {
			for _, rr := range sec {
				if rr.Header().Rrtype != mdns.TypeOPT {
					rr.Header().Ttl -= 7
				}
			}
		}
		clock.Advance(7 * time.Second)
		// Over TCP (the miekg path): the same message.
		hit := exchange(t, "tcp", s.TCPAddr(), m)
		miss.Id = hit.Id
		if miss.String() != hit.String() {
			t.Errorf("%+v over tcp:\nmiss (TTLs less 7):\n%s\nhit:\n%s", tt, miss, hit)
		}
		// Over UDP (the fast path, when it takes it): the same but for the
		// case of names below the question, which compression points at the
		// client's question.
		hit = exchange(t, "udp", s.UDPAddr(), m)
		miss.Id = hit.Id
		if !strings.EqualFold(miss.String(), hit.String()) || hit.Question[0].Name != tt.name ||
			len(hit.Answer) > 0 && hit.Answer[0].Header().Name != tt.name {
			t.Errorf("%+v over udp:\nmiss (TTLs less 7):\n%s\nhit:\n%s", tt, miss, hit)
		}
		clock.Advance(100 * time.Second) // every entry expires: the next case misses
	}
}
