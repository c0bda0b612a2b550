package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/registry"
)

// benchRegistry holds n containers, each with its own name, a shared
// service name per 10 containers, an IPv4 and an IPv6 address.
func benchRegistry(b *testing.B, n int) *registry.Registry {
	b.Helper()
	r, err := registry.New(registry.Config{Node: "n1", Generation: 1})
	if err != nil {
		b.Fatal(err)
	}
	sets := make([]registry.RecordSet, 0, n)
	for i := range n {
		sets = append(sets, registry.RecordSet{
			ContainerID: fmt.Sprintf("%064x", i),
			Name:        fmt.Sprintf("c%d.%s", i, testZone),
			Names:       []string{fmt.Sprintf("svc%d.%s", i/10, testZone)},
			Addrs: []registry.Addr{
				{IP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Network: "app", Subnet: netip.MustParsePrefix("10.0.0.0/8")},
				{IP: netip.AddrFrom16([16]byte{0: 0xfd, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}), Network: "app"},
			},
		})
	}
	if _, err := r.ReplaceLocal(sets); err != nil {
		b.Fatal(err)
	}
	return r
}

// benchQueries returns packed-and-parsed queries for distinct names, so the
// benchmark walks the table instead of one hot entry.
func benchQueries(n int, name func(i int) string, qtype uint16) []*mdns.Msg {
	qs := make([]*mdns.Msg, 0, 1024)
	for i := 0; i < 1024; i++ {
		m := new(mdns.Msg)
		m.SetQuestion(name((i*7919)%n), qtype)
		qs = append(qs, m)
	}
	return qs
}

var sizes = []int{1000, 100000}

// benchServer is a server (not running) over a zone of n names, and
// queries for A records of 1,024 of them.
func benchServer(b *testing.B, n int) (*Server, []*mdns.Msg) {
	b.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0", Store: benchRegistry(b, n)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, benchQueries(n, func(i int) string { return fmt.Sprintf("c%d.%s", i, testZone) }, mdns.TypeA)
}

// BenchmarkAnswer is the in-zone answer path through the pure core: one
// container name, A record.
func BenchmarkAnswer(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) {
			snap := benchRegistry(b, n).Snapshot()
			z := testZoneConfig()
			qs := benchQueries(n, func(i int) string { return fmt.Sprintf("c%d.%s", i, testZone) }, mdns.TypeA)
			client := netip.MustParseAddr("10.1.2.3")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m, ok := z.answer(snap, qs[i%len(qs)], client, nil)
				if !ok || len(m.Answer) != 1 {
					b.Fatalf("got %v, %v", ok, m)
				}
			}
		})
	}
}

// BenchmarkAnswerService is a name shared by 10 containers (shuffled).
func BenchmarkAnswerService(b *testing.B) {
	snap := benchRegistry(b, 1000).Snapshot()
	z := testZoneConfig()
	qs := benchQueries(100, func(i int) string { return fmt.Sprintf("svc%d.%s", i, testZone) }, mdns.TypeA)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if m, _ := z.answer(snap, qs[i%len(qs)], netip.Addr{}, nil); len(m.Answer) != 10 {
			b.Fatalf("got %d answers", len(m.Answer))
		}
	}
}

// BenchmarkAnswerNXDOMAIN is an unknown name in the zone.
func BenchmarkAnswerNXDOMAIN(b *testing.B) {
	snap := benchRegistry(b, 1000).Snapshot()
	z := testZoneConfig()
	qs := benchQueries(1000, func(i int) string { return fmt.Sprintf("nx%d.%s", i, testZone) }, mdns.TypeA)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if m, _ := z.answer(snap, qs[i%len(qs)], netip.Addr{}, nil); m.Rcode != mdns.RcodeNameError {
			b.Fatal(m)
		}
	}
}

// discardWriter packs each reply into a reused buffer, as the server's
// writer would before sending it.
type discardWriter struct {
	packWriter
	buf []byte
}

func (w *discardWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.PackBuffer(w.buf)
	if err != nil {
		return err
	}
	w.buf = b[:0]
	return nil
}

// BenchmarkServeDNS is the whole handler: protocol checks, the core, EDNS,
// truncation and Pack, for in-zone names, over UDP.
func BenchmarkServeDNS(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) {
			s, qs := benchServer(b, n)
			for _, q := range qs {
				q.SetEdns0(1232, false)
			}
			w := &discardWriter{packWriter: packWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4000}}, buf: make([]byte, 0, 2048)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s.serveDNS(w, qs[i%len(qs)])
			}
		})
	}
}

// BenchmarkServeDNSForwardCacheHit is a forwarded name answered from the
// cache, through the whole handler.
func BenchmarkServeDNSForwardCacheHit(b *testing.B) {
	up := startUpstream(b, answerA)
	s, err := New(Config{Listen: "127.0.0.1:0", Store: benchRegistry(b, 1000), Upstreams: []string{up.addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	qs := make([]*mdns.Msg, 100)
	for i := range qs {
		qs[i] = query(fmt.Sprintf("host%d.example.", i), mdns.TypeA)
		if ex, err := s.Lookup(context.Background(), qs[i].Question[0].Name, mdns.TypeA, netip.MustParseAddr("127.0.0.1")); err != nil || len(ex.Reply.Answer) != 1 {
			b.Fatalf("warming the cache: %v %v", err, ex.Reply)
		}
	}
	w := &discardWriter{packWriter: packWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}}, buf: make([]byte, 0, 2048)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.serveDNS(w, qs[i%len(qs)])
	}
	b.StopTimer()
	if n := up.queries.Load(); n != int64(len(qs)) {
		b.Fatalf("upstream queries: got %d; want %d (all hits)", n, len(qs))
	}
}

// BenchmarkSnapshotLookup is the registry side of an answer as the DNS
// server uses it: take the snapshot, look a name up, check existence.
func BenchmarkSnapshotLookup(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) {
			r := benchRegistry(b, n)
			names := make([]string, 1024)
			for i := range names {
				names[i] = fmt.Sprintf("c%d.%s", (i*7919)%n, testZone)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				snap := r.Snapshot()
				if len(snap.Lookup(names[i%len(names)])) != 1 || !snap.Exists(names[i%len(names)]) {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkAnswerFast is the UDP fast path for in-zone A queries, from the
// packet to the reply bytes; names=100000 adds the cache misses of a big
// table. Compare BenchmarkServeDNS, the full path for the same queries.
func BenchmarkAnswerFast(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("names=%d", n), func(b *testing.B) {
			s, qs := benchServer(b, n)
			pkts := make([][]byte, len(qs))
			for i, q := range qs {
				var err error
				if pkts[i], err = q.Pack(); err != nil {
					b.Fatal(err)
				}
			}
			fb := &fastBuffers{out: make([]byte, 0, maxQuerySize)}
			client := netip.MustParseAddr("10.1.2.3")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if r, ok := s.answerFast(pkts[i%len(pkts)], client, fb); !ok || len(r.msg) == 0 {
					b.Fatal("declined")
				}
			}
		})
	}
}

// BenchmarkAnswerFastCacheHit is the UDP fast path for a forwarded name the
// cache holds. Compare BenchmarkServeDNSForwardCacheHit.
func BenchmarkAnswerFastCacheHit(b *testing.B) {
	s, err := New(Config{Listen: "127.0.0.1:0", Store: benchRegistry(b, 1000)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pkts := make([][]byte, 100)
	for i := range pkts {
		name := fmt.Sprintf("host%d.example.", i)
		s.fwd.cache.put(cacheKey{name: name, qtype: mdns.TypeA, qclass: mdns.ClassINET}, cachedReply(name, mdns.TypeA, false, false))
		if pkts[i], err = query(name, mdns.TypeA).Pack(); err != nil {
			b.Fatal(err)
		}
	}
	fb := &fastBuffers{out: make([]byte, 0, maxQuerySize)}
	client := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := s.answerFast(pkts[i%len(pkts)], client, fb); !ok {
			b.Fatal("declined")
		}
	}
}

// BenchmarkAnswerFastNXDOMAIN is the UDP fast path for unknown names in
// the zone, whose reply carries the SOA. The serial reads the clock only in
// the second after a change (registry/serial.go): "settled" is the zone
// after that second, "changing" within it (a clock read per answer).
func BenchmarkAnswerFastNXDOMAIN(b *testing.B) {
	for _, settled := range []bool{true, false} {
		name := "changing"
		if settled {
			name = "settled"
		}
		b.Run(name, func(b *testing.B) {
			r := benchRegistry(b, 1000)
			s, err := New(Config{Listen: "127.0.0.1:0", Store: r})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			qs := benchQueries(1000, func(i int) string { return fmt.Sprintf("nx%d.%s", i, testZone) }, mdns.TypeA)
			pkts := make([][]byte, len(qs))
			for i, q := range qs {
				if pkts[i], err = q.Pack(); err != nil {
					b.Fatal(err)
				}
			}
			fb := &fastBuffers{out: make([]byte, 0, maxQuerySize)}
			client := netip.MustParseAddr("10.1.2.3")
			if settled {
				err = await.Check(3*time.Second, func() error {
					if _, next := r.Snapshot().SerialAt(time.Now()); !next.IsZero() {
						return errors.New("the serial is not final yet")
					}
					return nil
				})
			} else {
				// A change stamped 50 s ahead (a skewed clock, within the
				// minute taken): the serial stays due for the whole run.
				ahead := registry.RecordSet{ContainerID: "ahead", Name: "ahead." + testZone}
				_, err = r.ApplyDelta(registry.Delta{Node: "n2", Generation: 1, Version: uint64(time.Now().Add(50 * time.Second).UnixMilli()), ContainerID: "ahead", Set: &ahead})
			}
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if r, ok := s.answerFast(pkts[i%len(pkts)], client, fb); !ok || r.rcode != mdns.RcodeNameError {
					b.Fatal("declined")
				}
			}
		})
	}
}
