package dns

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/registry"
)

// fullReply answers pkt from client on the full (miekg) path, as the UDP
// server does for every packet the fast path declines.
func fullReply(t testing.TB, s *Server, pkt []byte, client netip.Addr) []byte {
	t.Helper()
	w, handled := serveRawFrom(s, pkt, net.UDPAddrFromAddrPort(netip.AddrPortFrom(client, 40000)))
	if !handled {
		t.Fatalf("full path: the query does not reach the handler")
	}
	if len(w.replies) != 1 {
		t.Fatalf("full path: got %d replies; want 1", len(w.replies))
	}
	return w.replies[0]
}

// sameReply fails t unless the two wire replies decode to the same message,
// records compared as sets (the order of addresses is shuffled).
func sameReply(t testing.TB, fast, full []byte) {
	t.Helper()
	var a, b mdns.Msg
	if err := a.Unpack(fast); err != nil {
		t.Fatalf("fast reply does not unpack: %v (%x)", err, fast)
	}
	if err := b.Unpack(full); err != nil {
		t.Fatalf("full reply does not unpack: %v", err)
	}
	if a.MsgHdr != b.MsgHdr {
		t.Errorf("header: fast %+v; full %+v", a.MsgHdr, b.MsgHdr)
	}
	if !slices.Equal(a.Question, b.Question) {
		t.Errorf("question: fast %v; full %v", a.Question, b.Question)
	}
	for _, sec := range []struct {
		name       string
		fast, full []mdns.RR
	}{{"answer", a.Answer, b.Answer}, {"authority", a.Ns, b.Ns}, {"additional", a.Extra, b.Extra}} {
		if f, g := rrStrings(sec.fast), rrStrings(sec.full); !slices.Equal(f, g) {
			t.Errorf("%s: fast %q; full %q", sec.name, f, g)
		}
	}
}

func packQuery(t testing.TB, name string, qtype uint16, edns func(*mdns.OPT)) []byte {
	t.Helper()
	m := query(name, qtype)
	m.Id = 0xBEEF
	if edns != nil {
		o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		o.SetUDPSize(1232)
		edns(o)
		m.Extra = append(m.Extra, o)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFastPathMatchesFullPath: every query the fast path answers gets the
// reply the full path gives, for clients on and off the containers'
// networks; and the queries it should take, it takes.
func TestFastPathMatchesFullPath(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	withDO := func(o *mdns.OPT) { o.SetDo() }
	plain := func(*mdns.OPT) {}
	queries := []struct {
		name  string
		qtype uint16
		edns  func(*mdns.OPT)
	}{
		{"web-1.swarm.internal.", mdns.TypeA, nil},
		{"WeB-1.Swarm.INTERNAL.", mdns.TypeA, nil}, // 0x20
		{"web.swarm.internal.", mdns.TypeA, plain}, // several sets, one unhealthy, local and remote
		{"web.swarm.internal.", mdns.TypeAAAA, withDO},
		{"v6.swarm.internal.", mdns.TypeA, nil},        // NODATA
		{"nope.swarm.internal.", mdns.TypeA, nil},      // NXDOMAIN
		{"NoPe.Swarm.Internal.", mdns.TypeAAAA, plain}, // NXDOMAIN, apex in the client's case
		{"b.deep.swarm.internal.", mdns.TypeA, nil},    // empty non-terminal: NODATA
		{"db.swarm.internal.", mdns.TypeA, nil},        // unhealthy and starting: all given
		{"app.proj.swarm.internal.", mdns.TypeA, nil},
	}
	clients := []netip.Addr{
		mustAddr("127.0.0.1"),  // on no network, recursion allowed
		mustAddr("10.0.1.77"),  // on "front"
		mustAddr("10.0.2.77"),  // on "back"
		mustAddr("fd00::77"),   // on "front", IPv6
		mustAddr("192.0.2.10"), // on no network, recursion refused
	}
	fb := &fastBuffers{}
	for _, q := range queries {
		pkt := packQuery(t, q.name, q.qtype, q.edns)
		for _, client := range clients {
			r, ok := s.answerFast(pkt, client, fb)
			if !ok {
				t.Errorf("%s %s from %s: the fast path declined", q.name, mdns.Type(q.qtype), client)
				continue
			}
			sameReply(t, r.msg, fullReply(t, s, pkt, client))
		}
	}
}

// TestFastPathLocalFirst: the local node's addresses lead, as on the full
// path (TestAnswerLocalFirst).
func TestFastPathLocalFirst(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pkt := packQuery(t, "web.swarm.internal.", mdns.TypeA, nil)
	for range 20 {
		r, ok := s.answerFast(pkt, mustAddr("127.0.0.1"), &fastBuffers{})
		if !ok {
			t.Fatal("declined")
		}
		var m mdns.Msg
		if err := m.Unpack(r.msg); err != nil {
			t.Fatal(err)
		}
		// web: 10.0.1.2 and 10.0.2.2 on n1 (local, healthy), 10.0.1.4 on n2;
		// 10.0.1.3 on n1 is unhealthy and left out.
		if len(m.Answer) != 3 || m.Answer[2].(*mdns.A).A.String() != "10.0.1.4" {
			t.Fatalf("got %v; want the two local addresses, then 10.0.1.4", m.Answer)
		}
	}
}

// TestFastPathDeclines: what the fast path must leave to the full path.
func TestFastPathDeclines(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("192.0.2.9 pinned.swarm.internal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Listen: "127.0.0.1:0", Store: bigRegistry(t, 60), Logger: testLogger(t), HostsFile: hosts})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	withOption := func(o *mdns.OPT) {
		o.Option = append(o.Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"})
	}
	version1 := func(o *mdns.OPT) { o.SetVersion(1) }
	for _, c := range []struct {
		why string
		pkt []byte
	}{
		{"a CNAME", packQuery(t, "www.swarm.internal.", mdns.TypeA, nil)},
		{"the apex", packQuery(t, "swarm.internal.", mdns.TypeA, nil)},
		{"SOA", packQuery(t, "swarm.internal.", mdns.TypeSOA, nil)},
		{"TXT", packQuery(t, "web-1.swarm.internal.", mdns.TypeTXT, nil)},
		{"SRV name", packQuery(t, "_http._tcp.web-1.swarm.internal.", mdns.TypeA, nil)},
		{"out of zone", packQuery(t, "example.com.", mdns.TypeA, nil)},
		{"a single label", packQuery(t, "web-1.", mdns.TypeA, nil)},
		{"a hosts-file name", packQuery(t, "pinned.swarm.internal.", mdns.TypeA, nil)},
		{"an EDNS option", packQuery(t, "web-1.swarm.internal.", mdns.TypeA, withOption)},
		{"EDNS version 1", packQuery(t, "web-1.swarm.internal.", mdns.TypeA, version1)},
		{"a reply over 512 bytes", packQuery(t, "big.swarm.internal.", mdns.TypeA, nil)},
		{"an escaped name", packQuery(t, `we\.b.swarm.internal.`, mdns.TypeA, nil)},
		{"a response", append(header(7, 0x8100, 1, 0, 0, 0), question...)},
		{"NOTIFY", append(header(7, 4<<11, 1, 0, 0, 0), question...)},
		{"trailing bytes", append(append(header(7, 0x0100, 1, 0, 0, 0), question...), 0)},
		{"a compressed name", append(header(7, 0x0100, 1, 0, 0, 0), 0xC0, 12, 0, 1, 0, 1)},
	} {
		if r, ok := s.answerFast(c.pkt, mustAddr("127.0.0.1"), &fastBuffers{}); ok {
			t.Errorf("%s: the fast path answered (%d bytes); want the full path", c.why, len(r.msg))
		}
	}
	// A name the hosts file does not hold is still fast with one loaded.
	if _, ok := s.answerFast(packQuery(t, "web-1.swarm.internal.", mdns.TypeA, nil), mustAddr("127.0.0.1"), &fastBuffers{}); !ok {
		t.Error("web-1 with a hosts file loaded: declined")
	}
	// With EDNS the big answer fits, and is fast.
	big := packQuery(t, "big.swarm.internal.", mdns.TypeA, func(*mdns.OPT) {})
	if r, ok := s.answerFast(big, mustAddr("127.0.0.1"), &fastBuffers{}); !ok {
		t.Error("big with EDNS 1232: declined")
	} else {
		sameReply(t, r.msg, fullReply(t, s, big, mustAddr("127.0.0.1")))
	}

	rl, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: testLogger(t), RateLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	if _, ok := rl.answerFast(packQuery(t, "web-1.swarm.internal.", mdns.TypeA, nil), mustAddr("127.0.0.1"), &fastBuffers{}); ok {
		t.Error("with rate limiting on: the fast path answered; want the full path, which limits")
	}
}

// TestFastPathAllocs: a cache hit, an answer, a NODATA and an NXDOMAIN
// cost no allocation.
func TestFastPathAllocs(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.fwd.cache.put(cacheKey{name: "www.example.com.", qtype: mdns.TypeA, qclass: mdns.ClassINET}, cachedReply("www.example.com.", mdns.TypeA, false, false))
	fb := &fastBuffers{out: make([]byte, 0, maxQuerySize)}
	for _, pkt := range [][]byte{
		packQuery(t, "WWW.example.com.", mdns.TypeA, nil),
		packQuery(t, "web.swarm.internal.", mdns.TypeA, nil),
		packQuery(t, "web.swarm.internal.", mdns.TypeAAAA, func(*mdns.OPT) {}),
		packQuery(t, "v6.swarm.internal.", mdns.TypeA, nil),
		packQuery(t, "nope.swarm.internal.", mdns.TypeA, nil),
	} {
		allocs := testing.AllocsPerRun(200, func() {
			if _, ok := s.answerFast(pkt, mustAddr("10.0.1.77"), fb); !ok {
				t.Fatal("declined")
			}
		})
		if allocs != 0 {
			t.Errorf("%x: %.1f allocations per answer; want 0", pkt[12:], allocs)
		}
	}
}

// FuzzFastPath: whatever the packet, the fast path does not panic, and when
// it answers, from the zone or from the cache, its reply is the full
// path's.
func FuzzFastPath(f *testing.F) {
	for _, name := range []string{"web-1.swarm.internal.", "WEB.swarm.internal.", "nope.swarm.internal.", "big.swarm.internal.", "b.deep.swarm.internal."} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
			f.Add(packQuery(f, name, qtype, nil), uint8(0))
			f.Add(packQuery(f, name, qtype, func(o *mdns.OPT) { o.SetDo() }), uint8(1))
		}
	}
	for _, pkt := range malformedPackets() {
		f.Add(pkt, uint8(2))
	}
	f.Add(packQuery(f, "www.example.com.", mdns.TypeA, nil), uint8(0))
	f.Add(packQuery(f, "WWW.example.com.", mdns.TypeA, func(o *mdns.OPT) { o.SetDo() }), uint8(0))
	f.Add(packQuery(f, "nx.example.com.", mdns.TypeAAAA, func(*mdns.OPT) {}), uint8(0))
	// Names the policy keeps from the forwarder (policy.go), each with an
	// entry in the cache: the fast path must leave them to the full path,
	// or its reply differs from the zone's or the refusal.
	for _, q := range policyQuestions {
		for c := range uint8(4) {
			f.Add(packQuery(f, q.name, q.qtype, nil), c)
		}
	}
	store := bigRegistry(f, 60)
	third := registry.RecordSet{ContainerID: "c9", Name: "web." + testZone, Addrs: []registry.Addr{{IP: netip.MustParseAddr("10.0.1.99"), Network: "front"}}}
	if _, err := store.ApplyDelta(registry.Delta{Node: "n3", Generation: 1, Version: 1, ContainerID: "c9", Set: &third}); err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Listen: "127.0.0.1:0", Store: store, Logger: zerolog.Nop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	for _, do := range []bool{false, true} {
		s.fwd.cache.put(cacheKey{name: "www.example.com.", qtype: mdns.TypeA, qclass: mdns.ClassINET, do: do}, cachedReply("www.example.com.", mdns.TypeA, false, true))
		s.fwd.cache.put(cacheKey{name: "nx.example.com.", qtype: mdns.TypeAAAA, qclass: mdns.ClassINET, do: do}, cachedReply("nx.example.com.", mdns.TypeAAAA, true, false))
	}
	for _, q := range policyQuestions {
		s.fwd.cache.put(cacheKey{name: q.name, qtype: q.qtype, qclass: mdns.ClassINET}, cachedReply(q.name, q.qtype, false, false))
	}
	clients := []netip.Addr{mustAddr("127.0.0.1"), mustAddr("10.0.1.77"), mustAddr("fd00::77"), mustAddr("192.0.2.10")}
	f.Fuzz(func(t *testing.T, pkt []byte, c uint8) {
		client := clients[int(c)%len(clients)]
		r, ok := s.answerFast(pkt, client, &fastBuffers{})
		if !ok {
			return
		}
		sameReply(t, r.msg, fullReply(t, s, pkt, client))
	})
}

// policyQuestions are questions outside the zone's origin that the policy
// (policy.go) treats apart: the single-label shortcut (web. is a name of
// the zone), localhost, a container's PTR, a loop probe's name, and a
// single-label type the shortcut does not take (forwarded).
var policyQuestions = []struct {
	name  string
	qtype uint16
}{
	{"web.", mdns.TypeA},
	{"web.", mdns.TypeMX},
	{"localhost.", mdns.TypeA},
	{"a.localhost.", mdns.TypeAAAA},
	{"99.1.0.10.in-addr.arpa.", mdns.TypePTR},
	{"1.0.10.in-addr.arpa.", mdns.TypeNS},
	{"0123456789abcdef" + probeSuffix, mdns.TypeA},
	{"com.", mdns.TypeTXT},
}

// cachedReply is an upstream's reply to name as the forwarder stores it:
// a CNAME in the upstream's own case, the A record it leads to, and an
// additional record; or NXDOMAIN with the upstream's SOA.
func cachedReply(name string, qtype uint16, nx, ad bool) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Response, m.RecursionAvailable, m.AuthenticatedData = true, true, ad
	if nx {
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{&mdns.SOA{Hdr: mdns.RR_Header{Name: "example.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: 300},
			Ns: "ns.example.", Mbox: "h.example.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1, Minttl: 30}}
		return m
	}
	m.Answer = []mdns.RR{
		&mdns.CNAME{Hdr: mdns.RR_Header{Name: strings.ToUpper(name), Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: 120}, Target: "cdn.example.net."},
		&mdns.A{Hdr: mdns.RR_Header{Name: "cdn.example.net.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1).To4()},
	}
	m.Extra = []mdns.RR{&mdns.TXT{Hdr: mdns.RR_Header{Name: "cdn.example.net.", Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 60}, Txt: []string{"x"}}}
	return m
}

// TestFastPathCachedMatchesFullPath: a forwarded question the cache holds
// gets, on the fast path, the reply the full path builds from the same
// entry: rcode, AD only for clients that ask, RA, the client's case in the
// owner names, TTLs aged, the OPT echoed.
func TestFastPathCachedMatchesFullPath(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: testLogger(t), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, do := range []bool{false, true} {
		for _, cd := range []bool{false, true} {
			s.fwd.cache.put(cacheKey{name: "www.example.com.", qtype: mdns.TypeA, qclass: mdns.ClassINET, do: do, cd: cd}, cachedReply("www.example.com.", mdns.TypeA, false, true))
			s.fwd.cache.put(cacheKey{name: "nx.example.com.", qtype: mdns.TypeAAAA, qclass: mdns.ClassINET, do: do, cd: cd}, cachedReply("nx.example.com.", mdns.TypeAAAA, true, false))
		}
	}
	clock.Advance(7 * time.Second)
	type variant struct {
		name  string
		qtype uint16
		edns  func(*mdns.OPT)
		flags func(*mdns.Msg)
	}
	var variants []variant
	for _, name := range []string{"www.example.com.", "WwW.ExAmple.COM.", "nx.example.com.", "NX.example.com."} {
		qtype := mdns.TypeA
		if strings.HasPrefix(strings.ToLower(name), "nx") {
			qtype = mdns.TypeAAAA
		}
		for _, edns := range []func(*mdns.OPT){nil, func(*mdns.OPT) {}, func(o *mdns.OPT) { o.SetDo() }} {
			for _, flags := range []func(*mdns.Msg){
				func(*mdns.Msg) {},
				func(m *mdns.Msg) { m.AuthenticatedData = true },
				func(m *mdns.Msg) { m.CheckingDisabled = true },
				func(m *mdns.Msg) { m.RecursionDesired = false },
			} {
				variants = append(variants, variant{name, qtype, edns, flags})
			}
		}
	}
	fb := &fastBuffers{}
	for i, v := range variants {
		var req mdns.Msg
		if err := req.Unpack(packQuery(t, v.name, v.qtype, v.edns)); err != nil {
			t.Fatal(err)
		}
		v.flags(&req)
		pkt, err := req.Pack()
		if err != nil {
			t.Fatal(err)
		}
		r, ok := s.answerFast(pkt, mustAddr("127.0.0.1"), fb)
		if !ok {
			t.Errorf("variant %d (%s): the fast path declined a cached question", i, v.name)
			continue
		}
		full := fullReply(t, s, pkt, mustAddr("127.0.0.1"))
		sameReply(t, r.msg, full)
		var m mdns.Msg
		_ = m.Unpack(r.msg)
		if len(m.Answer) > 0 && (m.Answer[0].Header().Name != v.name || m.Answer[0].Header().Ttl != 120-7) {
			t.Errorf("variant %d: first answer %v; want owner %s (the client's case), TTL 113", i, m.Answer[0], v.name)
		}
	}
	// Not cached, or not the fast path's to answer: declined.
	for _, pkt := range [][]byte{
		packQuery(t, "other.example.com.", mdns.TypeA, nil),
		packQuery(t, "www.example.com.", mdns.TypeAAAA, nil),
	} {
		if _, ok := s.answerFast(pkt, mustAddr("127.0.0.1"), fb); ok {
			t.Errorf("%x: answered without a cache entry", pkt[12:])
		}
	}
	if _, ok := s.answerFast(packQuery(t, "www.example.com.", mdns.TypeA, nil), mustAddr("192.0.2.10"), fb); ok {
		t.Error("a client outside the recursion ACL: answered from the cache; want the full path's REFUSED")
	}
	clock.Advance(10 * time.Minute)
	if _, ok := s.answerFast(packQuery(t, "www.example.com.", mdns.TypeA, nil), mustAddr("127.0.0.1"), fb); ok {
		t.Error("an expired entry: answered")
	}
}
