package dns

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// packWriter is an mdns.ResponseWriter that packs every reply it is given,
// as the real one does, and keeps the bytes.
type packWriter struct {
	remote  net.Addr
	replies [][]byte
	errs    []error
}

func (w *packWriter) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *packWriter) RemoteAddr() net.Addr { return w.remote }
func (w *packWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		w.errs = append(w.errs, err)
		return err
	}
	w.replies = append(w.replies, b)
	return nil
}
func (w *packWriter) Write(b []byte) (int, error) {
	w.replies = append(w.replies, append([]byte(nil), b...))
	return len(b), nil
}
func (w *packWriter) Close() error        { return nil }
func (w *packWriter) TsigStatus() error   { return nil }
func (w *packWriter) TsigTimersOnly(bool) {}
func (w *packWriter) Hijack()             {}

// serveRaw takes a packet the way miekg's server does (header, accept
// function, unpack) and hands it to the handler. It returns the replies and
// whether the handler ran; a packet miekg rejects before the handler (with
// FORMERR or NOTIMP, or silence) returns handled false.
func serveRaw(s *Server, pkt []byte, tcp bool) (w *packWriter, handled bool) {
	var remote net.Addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	if tcp {
		remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	}
	return serveRawFrom(s, pkt, remote)
}

// serveRawFrom is serveRaw for a client at remote.
func serveRawFrom(s *Server, pkt []byte, remote net.Addr) (w *packWriter, handled bool) {
	w = &packWriter{remote: remote}
	if len(pkt) < 12 {
		return w, false
	}
	dh := mdns.Header{
		Id: binary.BigEndian.Uint16(pkt), Bits: binary.BigEndian.Uint16(pkt[2:]),
		Qdcount: binary.BigEndian.Uint16(pkt[4:]), Ancount: binary.BigEndian.Uint16(pkt[6:]),
		Nscount: binary.BigEndian.Uint16(pkt[8:]), Arcount: binary.BigEndian.Uint16(pkt[10:]),
	}
	if acceptMsg(dh) != mdns.MsgAccept {
		return w, false
	}
	req := new(mdns.Msg)
	if err := req.Unpack(pkt); err != nil {
		return w, false
	}
	s.serveRequest(w, req, pkt)
	return w, true
}

// FuzzServeDNS feeds raw packets through the query path. Whatever comes in,
// the server must not panic, and every packet that reaches the handler gets
// exactly one reply that packs, carries the query's ID with QR set, and
// fits the client's UDP size.
func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  uint16
	}{
		{"web-1.swarm.internal.", mdns.TypeA, 0},
		{"web.swarm.internal.", mdns.TypeAAAA, 1232},
		{"nope.swarm.internal.", mdns.TypeA, 0},
		{"swarm.internal.", mdns.TypeSOA, 4096},
		{"2.1.0.10.in-addr.arpa.", mdns.TypePTR, 0},
		{"_http._tcp.web-1.swarm.internal.", mdns.TypeSRV, 0},
		{"www.swarm.internal.", mdns.TypeA, 512},
		{"big.swarm.internal.", mdns.TypeA, 0},
		{"web-1.swarm.internal.", mdns.TypeANY, 0},
		{"web-1.", mdns.TypeTXT, 0},
	} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edns > 0 {
			m.SetEdns0(q.edns, true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	axfr := new(mdns.Msg)
	axfr.SetQuestion("swarm.internal.", mdns.TypeAXFR)
	if b, err := axfr.Pack(); err == nil {
		f.Add(b, true)
	}
	// Signed: with the server's key, and with one it does not hold.
	for _, name := range []string{testKeyName, "other."} {
		m := new(mdns.Msg)
		m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
		m.SetEdns0(1232, false)
		m.SetTsig(name, mdns.HmacSHA256, tsigFudge, 1)
		if b, _, err := mdns.TsigGenerate(m, testKeySecret, "", false); err == nil {
			f.Add(b, false)
		}
	}
	s, err := New(Config{
		// No test writer: f's logger must not be used inside the fuzz target.
		Listen: "127.0.0.1:0", Store: bigRegistry(f, 60), Logger: zerolog.Nop(),
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		TransferKeys:  []TransferKey{testKey()},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool) {
		w, handled := serveRaw(s, pkt, tcp)
		if !handled {
			return
		}
		if len(w.errs) > 0 {
			t.Fatalf("reply does not pack: %v", w.errs)
		}
		if len(w.replies) == 0 || len(w.replies) > 1 && !(tcp && packetIsTransfer(pkt)) {
			t.Fatalf("got %d replies; want 1", len(w.replies))
		}
		b := w.replies[0]
		var req, r mdns.Msg
		_ = req.Unpack(pkt)
		if err := r.Unpack(b); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		if r.Id != req.Id || !r.Response {
			t.Fatalf("reply: got id %d qr %v; want id %d and qr", r.Id, r.Response, req.Id)
		}
		if !tcp {
			if limit := udpSize(&req, s.cfg.MaxUDPSize); len(b) > limit {
				t.Fatalf("udp reply of %d bytes; client takes %d", len(b), limit)
			}
		}
		if (r.IsEdns0() != nil) != (req.IsEdns0() != nil) && r.Rcode != mdns.RcodeFormatError {
			t.Fatalf("OPT in reply %v, in query %v", r.IsEdns0() != nil, req.IsEdns0() != nil)
		}
	})
}

// packetIsTransfer reports whether pkt asks for AXFR or IXFR.
func packetIsTransfer(pkt []byte) bool {
	var m mdns.Msg
	return m.Unpack(pkt) == nil && isTransfer(&m)
}

// TestServeRawMalformed runs the seed corpus's malformed packets through
// the real server as well, and checks it keeps serving.
func TestServeRawMalformed(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, pkt := range malformedPackets() {
		for _, network := range []string{"udp", "tcp"} {
			addr := s.UDPAddr()
			if network == "tcp" {
				addr = s.TCPAddr()
			}
			b, err := tryRawExchange(network, addr, pkt, 300*1e6)
			if err != nil {
				continue // silence is an allowed answer to garbage
			}
			var r mdns.Msg
			if err := r.Unpack(b); err != nil {
				t.Errorf("%x over %s: reply does not unpack: %v", pkt, network, err)
				continue
			}
			if r.Rcode != mdns.RcodeFormatError && r.Rcode != mdns.RcodeNotImplemented {
				t.Errorf("%x over %s: got %s; want FORMERR, NOTIMP or no answer", pkt, network, mdns.RcodeToString[r.Rcode])
			}
		}
	}
	if r := exchange(t, "udp", s.UDPAddr(), query("web-1.swarm.internal.", mdns.TypeA)); len(r.Answer) != 2 {
		t.Errorf("after malformed packets: got %d answers; want 2", len(r.Answer))
	}
}

// malformedPackets are the hostile shapes of RFC 9267 and more; they are
// also the seeds in testdata/fuzz/FuzzServeDNS.
func malformedPackets() [][]byte {
	q := func(rest ...byte) []byte { return append(header(7, 0x0100, 1, 0, 0, 0), rest...) }
	long := func(labels, size int) []byte {
		var b []byte
		for range labels {
			b = append(b, byte(size))
			for range size {
				b = append(b, 'a')
			}
		}
		return append(b, 0, 0, 1, 0, 1)
	}
	chain := q()
	// 200 pointers, each to the one before it.
	chain = append(chain, 0xC0, 12)
	for i := 1; i < 200; i++ {
		chain = append(chain, 0xC0, byte(12+2*(i-1)))
	}
	return [][]byte{
		header(7, 0x0100, 1, 0, 0, 0)[:6],         // truncated header
		header(7, 0x0100, 1, 0, 0, 0),             // header only, question missing
		q(5, 'w', 'e', 'b'),                       // label cut short
		q(0xC0, 12, 0, 1, 0, 1),                   // pointer to itself
		q(0xC0, 14, 0xC0, 12, 0, 1, 0, 1),         // pointers A -> B -> A
		q(0xC0, 0xFF, 0, 1, 0, 1),                 // pointer beyond the end
		q(0xC0, 20, 0, 1, 0, 1, 3, 'a', 'b', 'c'), // forward pointer
		chain,
		q(long(1, 64)...),             // label over 63 octets
		q(long(64, 3)...),             // name over 255 octets
		q(0x40, 'a', 0, 0, 1, 0, 1),   // extended label type
		q(0x80, 'a', 0, 0, 1, 0, 1),   // reserved label type
		header(7, 0x0100, 0, 0, 0, 0), // QDCOUNT 0
		append(append(header(7, 0x0100, 2, 0, 0, 0), question...), question...),                                  // QDCOUNT 2
		append(header(7, 0x0100, 1, 0, 0, 1), append(question, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 5, 0xFF)...), // OPT with rdata cut short
	}
}

// TestWriteFuzzCorpus writes malformedPackets to the seed corpus when
// SWARMDNS_WRITE_CORPUS=1; otherwise it checks the corpus holds them.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzServeDNS")
	for i, pkt := range malformedPackets() {
		path := filepath.Join(dir, fmt.Sprintf("malformed-%02d", i))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(false)\n", pkt)
		if os.Getenv("SWARMDNS_WRITE_CORPUS") == "1" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (err %v); run with SWARMDNS_WRITE_CORPUS=1", path, err)
		}
	}
}
