package dns

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/internal/metric"
	"github.com/swarmdns/swarmdns/registry"
)

// bigRegistry adds a name with n IPv4 addresses, one container each.
func bigRegistry(t testing.TB, n int) *registry.Registry {
	t.Helper()
	r := testRegistry(t)
	sets := r.LocalState().Sets
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, 9, byte(i / 250), byte(i%250 + 1)})
		sets = append(sets, registry.RecordSet{ContainerID: "big" + ip.String(), Name: "big." + testZone, Addrs: []registry.Addr{{IP: ip, Network: "big"}}})
	}
	if _, err := r.ReplaceLocal(sets); err != nil {
		t.Fatal(err)
	}
	return r
}

// canon returns m's sections as sorted strings, for comparing answers
// whose record order is shuffled.
func canon(m *mdns.Msg) string {
	var b strings.Builder
	b.WriteString(mdns.RcodeToString[m.Rcode])
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		b.WriteString("|")
		b.WriteString(strings.Join(rrStrings(sec), ";"))
	}
	return b.String()
}

func TestServerUDPAndTCPAnswersEqual(t *testing.T) {
	s := newTestServer(t, Config{NSAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	questions := []mdns.Question{
		{Name: "web-1.swarm.internal.", Qtype: mdns.TypeA},
		{Name: "web.swarm.internal.", Qtype: mdns.TypeA},
		{Name: "web-1.swarm.internal.", Qtype: mdns.TypeAAAA},
		{Name: "v6.swarm.internal.", Qtype: mdns.TypeA},
		{Name: "nope.swarm.internal.", Qtype: mdns.TypeA},
		{Name: "swarm.internal.", Qtype: mdns.TypeSOA},
		{Name: "swarm.internal.", Qtype: mdns.TypeNS},
		{Name: "2.1.0.10.in-addr.arpa.", Qtype: mdns.TypePTR},
		{Name: "_http._tcp.web-1.swarm.internal.", Qtype: mdns.TypeSRV},
		{Name: "web-1.swarm.internal.", Qtype: mdns.TypeTXT},
	}
	for _, q := range questions {
		for _, edns := range []bool{false, true} {
			m := new(mdns.Msg)
			m.SetQuestion(q.Name, q.Qtype)
			if edns {
				m.SetEdns0(1232, false)
			}
			u := exchange(t, "udp", s.UDPAddr(), m)
			c := exchange(t, "tcp", s.TCPAddr(), m)
			if canon(u) != canon(c) {
				t.Errorf("%s edns=%v:\n udp %s\n tcp %s", q.String(), edns, canon(u), canon(c))
			}
			if !u.Authoritative || u.Truncated {
				t.Errorf("%s: got aa=%v tc=%v; want aa, no tc", q.String(), u.Authoritative, u.Truncated)
			}
			if (u.IsEdns0() != nil) != edns || (c.IsEdns0() != nil) != edns {
				t.Errorf("%s: OPT in reply: udp %v tcp %v; want %v", q.String(), u.IsEdns0() != nil, c.IsEdns0() != nil, edns)
			}
		}
	}
}

func TestServerTruncation(t *testing.T) {
	s := newTestServer(t, Config{Store: bigRegistry(t, 150)})
	q := func(bufsize uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion("big.swarm.internal.", mdns.TypeA)
		if bufsize > 0 {
			m.SetEdns0(bufsize, false)
		}
		return m
	}
	tests := []struct {
		name    string
		bufsize uint16
		limit   int
	}{
		{"no EDNS: 512", 0, 512},
		{"EDNS 1232", 1232, 1232},
		{"EDNS 4096 capped at 1232", 4096, 1232},
		{"EDNS 100 counts as 512", 100, 512},
		{"EDNS 800", 800, 800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := rawExchange(t, "udp", s.UDPAddr(), pack(t, q(tt.bufsize)))
			if len(wire) > tt.limit {
				t.Errorf("udp reply: got %d bytes; want at most %d", len(wire), tt.limit)
			}
			var u mdns.Msg
			if err := u.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if !u.Truncated {
				t.Errorf("udp reply: TC not set")
			}
			if len(u.Answer) >= 150 {
				t.Errorf("udp reply: got %d answers; want fewer than 150", len(u.Answer))
			}
			if (u.IsEdns0() != nil) != (tt.bufsize > 0) {
				t.Errorf("udp reply: OPT present %v; want %v", u.IsEdns0() != nil, tt.bufsize > 0)
			}
			c := exchange(t, "tcp", s.TCPAddr(), q(tt.bufsize))
			if c.Truncated || len(c.Answer) != 150 {
				t.Errorf("tcp reply: got tc=%v and %d answers; want no tc and 150", c.Truncated, len(c.Answer))
			}
		})
	}
	// A small answer is not truncated.
	m := new(mdns.Msg)
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	if r := exchange(t, "udp", s.UDPAddr(), m); r.Truncated || len(r.Answer) != 2 {
		t.Errorf("small answer: got tc=%v and %d answers; want no tc and 2", r.Truncated, len(r.Answer))
	}
}

func TestServerLargerUDPSize(t *testing.T) {
	s := newTestServer(t, Config{Store: bigRegistry(t, 150), MaxUDPSize: 4096})
	m := new(mdns.Msg)
	m.SetQuestion("big.swarm.internal.", mdns.TypeA)
	m.SetEdns0(4096, false)
	r := exchange(t, "udp", s.UDPAddr(), m)
	if r.Truncated || len(r.Answer) != 150 {
		t.Errorf("got tc=%v and %d answers; want no tc and 150", r.Truncated, len(r.Answer))
	}
	if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != 4096 {
		t.Errorf("OPT: got %v; want payload size 4096", opt)
	}
}

func TestServerEchoesIDAndQuestion(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, network := range []string{"udp", "tcp"} {
		for _, name := range []string{"WeB-1.SwArM.iNtErNaL.", "nOpE.sWaRm.InTeRnAl."} {
			m := new(mdns.Msg)
			m.SetQuestion(name, mdns.TypeA)
			m.Id = 0xBEEF
			addr := s.UDPAddr()
			if network == "tcp" {
				addr = s.TCPAddr()
			}
			wire := rawExchange(t, network, addr, pack(t, m))
			if id := binary.BigEndian.Uint16(wire); id != 0xBEEF {
				t.Errorf("%s %s: id got %#x; want 0xbeef", network, name, id)
			}
			var r mdns.Msg
			if err := r.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if len(r.Question) != 1 || r.Question[0] != m.Question[0] {
				t.Errorf("%s: question got %v; want %v", network, r.Question, m.Question)
			}
			for _, rr := range r.Answer {
				if rr.Header().Name != name {
					t.Errorf("%s: answer owner got %q; want %q", network, rr.Header().Name, name)
				}
			}
		}
	}
}

func pack(t testing.TB, m *mdns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawExchange sends wire and returns the raw reply.
func rawExchange(t testing.TB, network string, addr netip.AddrPort, wire []byte) []byte {
	t.Helper()
	b, err := tryRawExchange(network, addr, wire, 5*time.Second)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return b
}

func tryRawExchange(network string, addr netip.AddrPort, wire []byte, timeout time.Duration) ([]byte, error) {
	conn, err := net.Dial(network, addr.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if network == "tcp" {
		wire = append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, err
	}
	if network == "tcp" {
		var l [2]byte
		if _, err := readFull(conn, l[:]); err != nil {
			return nil, err
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		_, err := readFull(conn, b)
		return b, err
	}
	b := make([]byte, 65535)
	n, err := conn.Read(b)
	return b[:n], err
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// header builds a 12-byte DNS header.
func header(id, flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	for i, v := range []uint16{id, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// question is the wire form of "web-1.swarm.internal. IN A".
var question = []byte("\x05web-1\x05swarm\x08internal\x00\x00\x01\x00\x01")

func TestServerProtocol(t *testing.T) {
	s := newTestServer(t, Config{})
	withOPT := func(m *mdns.Msg, f func(o *mdns.OPT)) *mdns.Msg {
		o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		o.SetUDPSize(1232)
		f(o)
		m.Extra = append(m.Extra, o)
		return m
	}
	query := func(name string, qtype uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		return m
	}
	tests := []struct {
		name  string
		wire  func() []byte
		rcode int
		// checks on the reply
		opt     bool // an OPT must be present (version 0, no options)
		do      bool
		answers int
	}{
		{name: "EDNS version 1: BADVERS", wire: func() []byte {
			return pack(t, withOPT(query("web-1.swarm.internal.", mdns.TypeA), func(o *mdns.OPT) { o.SetVersion(1) }))
		}, rcode: mdns.RcodeBadVers, opt: true},
		{name: "unknown EDNS option not echoed", wire: func() []byte {
			return pack(t, withOPT(query("web-1.swarm.internal.", mdns.TypeA), func(o *mdns.OPT) {
				o.Option = append(o.Option, &mdns.EDNS0_LOCAL{Code: 65001, Data: []byte("x")}, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID})
			}))
		}, rcode: mdns.RcodeSuccess, opt: true, answers: 2},
		{name: "DO bit echoed", wire: func() []byte {
			return pack(t, withOPT(query("web-1.swarm.internal.", mdns.TypeA), func(o *mdns.OPT) { o.SetDo() }))
		}, rcode: mdns.RcodeSuccess, opt: true, do: true, answers: 2},
		{name: "two OPT records: FORMERR", wire: func() []byte {
			m := withOPT(query("web-1.swarm.internal.", mdns.TypeA), func(*mdns.OPT) {})
			return pack(t, withOPT(m, func(*mdns.OPT) {}))
		}, rcode: mdns.RcodeFormatError},
		{name: "OPT in the authority section: FORMERR", wire: func() []byte {
			m := query("web-1.swarm.internal.", mdns.TypeA)
			o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
			m.Ns = []mdns.RR{o}
			return pack(t, m)
		}, rcode: mdns.RcodeFormatError},
		{name: "OPT not at the root: FORMERR", wire: func() []byte {
			m := query("web-1.swarm.internal.", mdns.TypeA)
			m.Extra = []mdns.RR{&mdns.OPT{Hdr: mdns.RR_Header{Name: "x.", Rrtype: mdns.TypeOPT}}}
			return pack(t, m)
		}, rcode: mdns.RcodeFormatError},
		{name: "QDCOUNT 0: FORMERR", wire: func() []byte { return header(7, 0x0100, 0, 0, 0, 0) }, rcode: mdns.RcodeFormatError},
		{name: "QDCOUNT 2: FORMERR", wire: func() []byte {
			return append(append(header(7, 0x0100, 2, 0, 0, 0), question...), question...)
		}, rcode: mdns.RcodeFormatError},
		{name: "NOTIFY: NOTIMP", wire: func() []byte {
			m := query("swarm.internal.", mdns.TypeSOA)
			m.Opcode = mdns.OpcodeNotify
			return pack(t, m)
		}, rcode: mdns.RcodeNotImplemented},
		{name: "QDCOUNT 0 with OPT: FORMERR with OPT", wire: func() []byte {
			m := withOPT(query("web-1.swarm.internal.", mdns.TypeA), func(*mdns.OPT) {})
			m.Question = nil
			return pack(t, m)
		}, rcode: mdns.RcodeFormatError, opt: true},
		{name: "STATUS with OPT: NOTIMP with OPT", wire: func() []byte {
			m := withOPT(query("swarm.internal.", mdns.TypeSOA), func(*mdns.OPT) {})
			m.Opcode = mdns.OpcodeStatus
			return pack(t, m)
		}, rcode: mdns.RcodeNotImplemented, opt: true},
		{name: "NOTIFY with an SOA and OPT: NOTIMP with OPT", wire: func() []byte {
			m := withOPT(query("swarm.internal.", mdns.TypeSOA), func(*mdns.OPT) {})
			m.Opcode = mdns.OpcodeNotify
			soa, _ := mdns.NewRR("swarm.internal. 60 IN SOA ns.swarm.internal. h.swarm.internal. 2 30 10 600 5")
			m.Answer = []mdns.RR{soa}
			return pack(t, m)
		}, rcode: mdns.RcodeNotImplemented, opt: true},
		{name: "opcode 15: NOTIMP", wire: func() []byte { return append(header(7, 15<<11, 1, 0, 0, 0), question...) }, rcode: mdns.RcodeNotImplemented},
		{name: "UPDATE: REFUSED", wire: func() []byte {
			m := new(mdns.Msg)
			m.SetUpdate("swarm.internal.")
			rr, _ := mdns.NewRR("evil.swarm.internal. 60 IN A 192.0.2.66")
			m.Insert([]mdns.RR{rr})
			return pack(t, m)
		}, rcode: mdns.RcodeRefused},
		{name: "CHAOS class: REFUSED", wire: func() []byte {
			m := query("version.bind.", mdns.TypeTXT)
			m.Question[0].Qclass = mdns.ClassCHAOS
			return pack(t, m)
		}, rcode: mdns.RcodeRefused},
		{name: "class 42: REFUSED", wire: func() []byte {
			m := query("web-1.swarm.internal.", mdns.TypeA)
			m.Question[0].Qclass = 42
			return pack(t, m)
		}, rcode: mdns.RcodeRefused},
		{name: "AXFR: REFUSED", wire: func() []byte { return pack(t, query("swarm.internal.", mdns.TypeAXFR)) }, rcode: mdns.RcodeRefused},
		{name: "MAILB: NOTIMP", wire: func() []byte { return pack(t, query("swarm.internal.", mdns.TypeMAILB)) }, rcode: mdns.RcodeNotImplemented},
		{name: "label over 63 octets: FORMERR", wire: func() []byte {
			b := header(7, 0x0100, 1, 0, 0, 0)
			b = append(b, 64)
			b = append(b, strings.Repeat("a", 64)...)
			return append(b, 0, 0, 1, 0, 1)
		}, rcode: mdns.RcodeFormatError},
		{name: "name over 255 octets: FORMERR", wire: func() []byte {
			b := header(7, 0x0100, 1, 0, 0, 0)
			for range 64 {
				b = append(b, 3, 'a', 'b', 'c')
			}
			return append(b, 0, 0, 1, 0, 1)
		}, rcode: mdns.RcodeFormatError},
		{name: "compression pointer loop: FORMERR", wire: func() []byte {
			return append(header(7, 0x0100, 1, 0, 0, 0), 0xC0, 12, 0, 1, 0, 1)
		}, rcode: mdns.RcodeFormatError},
		// miekg reads what is there when a count overstates the records
		// that follow; the query is answered as the records present say.
		{name: "additional count that lies: answered", wire: func() []byte {
			return append(header(7, 0x0100, 1, 0, 0, 1), question...)
		}, rcode: mdns.RcodeSuccess, answers: 2},
		{name: "trailing garbage: answered", wire: func() []byte {
			return append(append(header(7, 0x0100, 1, 0, 0, 0), question...), 0xde, 0xad)
		}, rcode: mdns.RcodeSuccess, answers: 2},
		{name: "answer in a query: FORMERR", wire: func() []byte {
			return append(header(7, 0x0100, 1, 1, 0, 0), question...)
		}, rcode: mdns.RcodeFormatError},
		{name: "1200-byte query with padding", wire: func() []byte {
			return pack(t, withOPT(query("web-1.swarm.internal.", mdns.TypeA), func(o *mdns.OPT) {
				o.Option = append(o.Option, &mdns.EDNS0_PADDING{Padding: make([]byte, 1100)})
			}))
		}, rcode: mdns.RcodeSuccess, opt: true, answers: 2},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				addr := s.UDPAddr()
				if network == "tcp" {
					addr = s.TCPAddr()
				}
				wire := tt.wire()
				b := rawExchange(t, network, addr, wire)
				var r mdns.Msg
				if err := r.Unpack(b); err != nil {
					t.Fatalf("unpack reply: %v", err)
				}
				if r.Id != binary.BigEndian.Uint16(wire) || !r.Response {
					t.Errorf("got id %d qr %v; want id %d and qr", r.Id, r.Response, binary.BigEndian.Uint16(wire))
				}
				if r.Rcode != tt.rcode {
					t.Errorf("rcode: got %s; want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tt.rcode])
				}
				if len(r.Answer) != tt.answers {
					t.Errorf("answers: got %d; want %d", len(r.Answer), tt.answers)
				}
				opt := r.IsEdns0()
				if tt.opt {
					if opt == nil {
						t.Fatalf("no OPT in reply")
					}
					if opt.Version() != 0 || len(opt.Option) != 0 || opt.Do() != tt.do {
						t.Errorf("OPT: got version %d, options %v, do %v; want version 0, none, do %v", opt.Version(), opt.Option, opt.Do(), tt.do)
					}
				}
			})
		}
	}
	// Still serving after all of that.
	m := new(mdns.Msg)
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	if r := exchange(t, "udp", s.UDPAddr(), m); len(r.Answer) != 2 {
		t.Errorf("after bad input: got %d answers; want 2", len(r.Answer))
	}
}

func TestServerIgnoresResponsesAndRunts(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, wire := range [][]byte{
		append(header(7, 0x8100, 1, 0, 0, 0), question...), // QR=1: never answered
		{0, 7, 1}, // shorter than a header
		header(7, 0, 0, 0, 0, 0)[:11],
	} {
		if b, err := tryRawExchange("udp", s.UDPAddr(), wire, 300*time.Millisecond); err == nil {
			t.Errorf("%x: got a %d-byte reply; want none", wire, len(b))
		}
	}
	m := new(mdns.Msg)
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	if r := exchange(t, "udp", s.UDPAddr(), m); len(r.Answer) != 2 {
		t.Errorf("after bad input: got %d answers; want 2", len(r.Answer))
	}
}

func TestServerTCPSeveralQueriesPerConnection(t *testing.T) {
	s := newTestServer(t, Config{})
	conn, err := mdns.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	for i := range 50 {
		m := new(mdns.Msg)
		m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
		m.Id = uint16(i)
		if err := conn.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	// Answered as they are ready (RFC 7766 §6.2.1.1): in any order.
	seen := make(map[uint16]bool)
	for i := range 50 {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if r.Id >= 50 || seen[r.Id] || len(r.Answer) != 2 {
			t.Fatalf("reply %d: got id %d (seen before: %v) with %d answers; want a new id below 50 with 2", i, r.Id, seen[r.Id], len(r.Answer))
		}
		seen[r.Id] = true
	}
}

func TestServerTCPConnectionBound(t *testing.T) {
	s := newTestServer(t, Config{MaxTCPConns: 2, TCPIdleTimeout: 30 * time.Second})
	var conns []*mdns.Conn
	for range 2 {
		c, err := mdns.Dial("tcp", s.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// One query each, so the server has accepted them.
		m := new(mdns.Msg)
		m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadMsg(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// A third connection is closed at once.
	c, err := mdns.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	m := new(mdns.Msg)
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_ = c.WriteMsg(m)
	if _, err := c.ReadMsg(); err == nil {
		t.Errorf("third connection: got a reply; want it closed")
	}
	c.Close()
	// UDP is unaffected, and a slot frees when a connection closes.
	if r := exchange(t, "udp", s.UDPAddr(), m); len(r.Answer) != 2 {
		t.Errorf("udp: got %d answers; want 2", len(r.Answer))
	}
	conns[0].Close()
	waitFor(t, 5*time.Second, func() bool {
		c := &mdns.Client{Net: "tcp", Timeout: time.Second}
		r, _, err := c.Exchange(m, s.TCPAddr().String())
		return err == nil && len(r.Answer) == 2
	})
}

func TestServerTCPIdleTimeout(t *testing.T) {
	s := newTestServer(t, Config{TCPIdleTimeout: 200 * time.Millisecond})
	c, err := mdns.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := new(mdns.Msg)
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	// The server closes the idle connection: the next read sees EOF long
	// before our own 10s deadline.
	start := time.Now()
	if _, err := c.ReadMsg(); err == nil {
		t.Fatalf("got a message on an idle connection")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("idle connection closed after %v; want about 200ms", d)
	}
}

func TestServerRecursionGuard(t *testing.T) {
	up := startUpstream(t, answerA)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}, AllowRecursion: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	m := new(mdns.Msg)
	m.SetQuestion("example.com.", mdns.TypeA)
	r := exchange(t, "udp", s.UDPAddr(), m)
	if r.Rcode != mdns.RcodeRefused || r.RecursionAvailable {
		t.Errorf("outside name from a client not allowed: got %s ra=%v; want REFUSED without ra", mdns.RcodeToString[r.Rcode], r.RecursionAvailable)
	}
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	if r := exchange(t, "udp", s.UDPAddr(), m); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 2 {
		t.Errorf("zone name from a client not allowed recursion: got %s with %d answers; want NOERROR with 2", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if n := up.queries.Load(); n != 0 {
		t.Errorf("upstream queries: got %d; want 0", n)
	}
}

func TestNewErrors(t *testing.T) {
	r := testRegistry(t)
	s, err := New(Config{Listen: "127.0.0.1:0", Store: r, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{Listen: "127.0.0.1:0"}, "no store"},
		{"address in use", Config{Listen: s.UDPAddr().String(), Store: r}, "address already in use"},
		{"bad listen", Config{Listen: "nonsense", Store: r}, "listen address"},
		{"bad zone", Config{Listen: "127.0.0.1:0", Store: r, Zone: "a..b"}, "invalid zone"},
		{"root zone", Config{Listen: "127.0.0.1:0", Store: r, Zone: "."}, "invalid zone"},
		{"bad upstream", Config{Listen: "127.0.0.1:0", Store: r, Upstreams: []string{"1.2.3.4:x"}}, "bad port"},
		{"negative ttl", Config{Listen: "127.0.0.1:0", Store: r, TTL: -time.Second}, "negative ttl"},
		{"sub-second ttl", Config{Listen: "127.0.0.1:0", Store: r, TTL: time.Millisecond}, "at least 1s"},
	}
	for _, tt := range tests {
		s, err := New(tt.cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: got no error; want one containing %q", tt.name, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %q; want it to contain %q", tt.name, err, tt.want)
		}
	}
	// The metrics register once per Registerer.
	reg := prometheus.NewRegistry()
	s1, err := New(Config{Listen: "127.0.0.1:0", Store: r, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	if s2, err := New(Config{Listen: "127.0.0.1:0", Store: r, Metrics: reg}); err == nil {
		s2.Close()
		t.Errorf("second server on one Registerer: got no error")
	}
}

func TestNormalizeUpstream(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":        "192.0.2.1:53",
		"192.0.2.1:5353":   "192.0.2.1:5353",
		"2001:db8::1":      "[2001:db8::1]:53",
		"[2001:db8::1]:53": "[2001:db8::1]:53",
		"dns.example:53":   "dns.example:53",
	} {
		if got, err := normalizeUpstream(in); err != nil || got != want {
			t.Errorf("normalizeUpstream(%q): got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":53", "1.2.3.4:0", "1.2.3.4:99999", "dns.example"} {
		if got, err := normalizeUpstream(in); err == nil {
			t.Errorf("normalizeUpstream(%q): got %q; want an error", in, got)
		}
	}
}

func TestServerMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newTestServer(t, Config{Metrics: reg})
	m := new(mdns.Msg)
	m.SetQuestion("web-1.swarm.internal.", mdns.TypeA)
	exchange(t, "udp", s.UDPAddr(), m)
	m.SetQuestion("nope.swarm.internal.", 999)
	exchange(t, "udp", s.UDPAddr(), m)
	// The counters move just after the reply leaves: wait for them, and
	// for the histogram, which moves last (three: runTestServer's SOA
	// query, then these two).
	waitFor(t, 5*time.Second, func() bool {
		return metricValue(t, reg, metric.DNSRequests.Name, "zone", "swarm.internal.", "proto", "udp", "family", "1", "type", "A") == 1 &&
			metricValue(t, reg, metric.DNSRequests.Name, "type", "other") == 1 &&
			metricValue(t, reg, metric.DNSResponses.Name, "rcode", "NXDOMAIN", "source", "zone") == 1 &&
			metricValue(t, reg, metric.DNSResponses.Name, "rcode", "NOERROR", "source", "zone") == 2 &&
			metricValue(t, reg, metric.DNSRequestDuration.Name) == 3
	})
}

// metricValue returns the sum of the counters (or histograms' counts) in
// reg whose labels include the given name/value pairs; -1 if none.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	sum := -1.0
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			if sum < 0 {
				sum = 0
			}
			if m.GetCounter() != nil {
				sum += m.GetCounter().GetValue()
			}
			if m.GetHistogram() != nil {
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func TestServerGoroutinesEnd(t *testing.T) {
	up := startUpstream(t, answerA)
	check := checkGoroutines(t)
	for range 3 {
		s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Upstreams: []string{up.addr}, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		for _, name := range []string{"web-1.swarm.internal.", "example.com.", "nx.example."} {
			m := new(mdns.Msg)
			m.SetQuestion(name, mdns.TypeA)
			c := &mdns.Client{Timeout: 5 * time.Second}
			waitFor(t, 5*time.Second, func() bool { _, _, err := c.Exchange(m, s.UDPAddr().String()); return err == nil })
			exchange(t, "tcp", s.TCPAddr(), m)
		}
		// An idle TCP connection must not hold the shutdown up.
		conn, err := net.Dial("tcp", s.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		conn.Close()
		// A server never run releases its sockets with Close.
		s2, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s2.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := s2.Run(context.Background()); err == nil {
			t.Errorf("Run after Close: got no error")
		}
	}
	check()
}

// TestServerUDPSlotsNotLeaked: every way a UDP packet can end (answered,
// FORMERR, NOTIMP, ignored, unparsable) gives its slot back. With two
// slots, a single leak per kind would stop the server.
func TestServerUDPSlotsNotLeaked(t *testing.T) {
	s := newTestServer(t, Config{MaxConcurrent: 2})
	packets := append(malformedPackets(),
		append(header(7, 0x8100, 1, 0, 0, 0), question...), // QR=1: ignored
		append(header(7, 15<<11, 1, 0, 0, 0), question...), // NOTIMP
		append(header(7, 0x0100, 1, 0, 0, 0), question...), // answered
	)
	for round := range 5 {
		for _, p := range packets {
			conn, err := net.Dial("udp", s.UDPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(p); err != nil {
				t.Fatal(err)
			}
			conn.Close()
		}
		// Still answering on the full path (an SOA query is not a fast
		// one): slots came back.
		c := &mdns.Client{Timeout: 2 * time.Second}
		if _, _, err := c.Exchange(query("swarm.internal.", mdns.TypeSOA), s.UDPAddr().String()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	// Once idle, no slot is taken.
	waitFor(t, 5*time.Second, func() bool { return len(s.udpSlots) == 0 })
}
