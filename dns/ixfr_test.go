package dns

import (
	"net/netip"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

// ixfrQuery is an IXFR request from a client at serial.
func ixfrQuery(zone string, serial uint32) *mdns.Msg {
	m := query(zone, mdns.TypeIXFR)
	m.Ns = []mdns.RR{&mdns.SOA{Hdr: mdns.RR_Header{Name: zone, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET}, Ns: "ns.", Mbox: "h.", Serial: serial}}
	return m
}

// TestIXFR: RFC 1995. A client at the current serial or newer gets one
// SOA, over TCP and UDP; an older one the whole zone (AXFR form) over TCP
// and one SOA over UDP; a request without the client's SOA is FORMERR;
// clients outside --allow-transfer REFUSED.
func TestIXFR(t *testing.T) {
	s := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	serial := s.store.Snapshot().Serial()
	for _, tc := range []struct {
		name    string
		network string
		have    uint32
		full    bool
	}{
		{"current, TCP", "tcp", serial, false},
		{"current, UDP", "udp", serial, false},
		{"newer, TCP", "tcp", serial + 5, false},
		{"older, TCP", "tcp", serial - 1, true},
		{"older, UDP", "udp", serial - 1, false},
		{"older across the wrap (RFC 1982), TCP", "tcp", serial - 1<<30, true},
	} {
		addr := s.TCPAddr()
		if tc.network == "udp" {
			addr = s.UDPAddr()
		}
		if tc.full {
			rrs, _, err := transferIn(t, addr, ixfrQuery("swarm.internal.", tc.have), new(mdns.Transfer))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(rrs) < 4 || !slices.ContainsFunc(rrStrings(rrs), func(s string) bool { return s == "web-1.swarm.internal.\t5\tIN\tA\t10.0.1.2" }) {
				t.Errorf("%s: got %d records; want the whole zone", tc.name, len(rrs))
			}
			continue
		}
		r := exchange(t, tc.network, addr, ixfrQuery("swarm.internal.", tc.have))
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 || !r.Authoritative {
			t.Fatalf("%s: got %s, aa=%v, %d answers; want NOERROR, aa, one SOA", tc.name, mdns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
		}
		if soa, ok := r.Answer[0].(*mdns.SOA); !ok || soa.Serial != s.store.Snapshot().Serial() {
			t.Errorf("%s: got %v; want the SOA at serial %d", tc.name, r.Answer[0], serial)
		}
	}

	if r := exchange(t, "tcp", s.TCPAddr(), query("swarm.internal.", mdns.TypeIXFR)); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("IXFR without the client's SOA: got %s; want FORMERR", mdns.RcodeToString[r.Rcode])
	}
	denied := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, network := range []string{"tcp", "udp"} {
		addr := denied.TCPAddr()
		if network == "udp" {
			addr = denied.UDPAddr()
		}
		if r := exchange(t, network, addr, ixfrQuery("swarm.internal.", serial)); r.Rcode != mdns.RcodeRefused || len(r.Answer) != 0 {
			t.Errorf("IXFR over %s outside --allow-transfer: got %s with %d answers; want REFUSED", network, mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
}

// TestSerialBefore: RFC 1982 serial arithmetic.
func TestSerialBefore(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want bool
	}{
		{1, 2, true}, {2, 1, false}, {5, 5, false},
		{0xFFFFFFFF, 0, true}, {0, 0xFFFFFFFF, false}, // across the wrap
		{0, 1<<31 - 1, true}, {0, 1 << 31, false}, // 2^31 apart: undefined, not before
	} {
		if got := serialBefore(tc.a, tc.b); got != tc.want {
			t.Errorf("serialBefore(%d, %d): got %v; want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestTransferNodeNames: the zone transfer holds <node>.node.<zone> for
// every node the server answers it for, the names a secondary would
// otherwise answer NXDOMAIN.
func TestTransferNodeNames(t *testing.T) {
	nodes := map[string][]netip.Addr{
		"n1": {mustAddr("192.0.2.1"), mustAddr("2001:db8::1")},
		"n2": {mustAddr("192.0.2.2")},
	}
	s := newTestServer(t, Config{
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		NodeAddrs:     func(n string) []netip.Addr { return nodes[n] },
	})
	rrs, _, err := axfr(t, s.TCPAddr(), "swarm.internal.", mdns.TypeAXFR)
	if err != nil {
		t.Fatal(err)
	}
	got := rrStrings(rrs)
	for _, want := range []string{
		"n1.node.swarm.internal.\t5\tIN\tA\t192.0.2.1",
		"n1.node.swarm.internal.\t5\tIN\tAAAA\t2001:db8::1",
		"n2.node.swarm.internal.\t5\tIN\tA\t192.0.2.2",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("transfer lacks %q", want)
		}
	}
	// Each is what the server answers.
	for name, addrs := range nodes {
		r := exchange(t, "udp", s.UDPAddr(), query(name+".node.swarm.internal.", mdns.TypeA))
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != addrs[0].String() {
			t.Errorf("%s.node: answered %v; want %v", name, r.Answer, addrs[0])
		}
	}
}
