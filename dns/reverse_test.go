package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

func TestReverseZoneNames(t *testing.T) {
	v6zone := "0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."
	tests := []struct {
		prefix string
		want   []string
	}{
		{"10.0.0.0/8", []string{"10.in-addr.arpa."}},
		{"10.0.1.0/24", []string{"1.0.10.in-addr.arpa."}},
		{"10.0.1.128/25", []string{"1.0.10.in-addr.arpa."}},
		{"10.0.1.7/32", []string{"1.0.10.in-addr.arpa."}},
		{"10.0.1.7/16", []string{"0.10.in-addr.arpa."}},
		{"192.168.16.0/22", []string{"16.168.192.in-addr.arpa.", "17.168.192.in-addr.arpa.", "18.168.192.in-addr.arpa.", "19.168.192.in-addr.arpa."}},
		{"0.0.0.0/0", []string{"in-addr.arpa."}},
		{"fd00::/64", []string{v6zone}},
		{"fd00::/63", []string{v6zone, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."}},
		{"fd00::1/128", []string{"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."}},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		got := reverseZoneNames(p)
		if !slices.Equal(got, tt.want) {
			t.Errorf("reverseZoneNames(%s):\n got %q\nwant %q", tt.prefix, got, tt.want)
		}
		// An aligned prefix's zone parses back to it.
		if back, ok := parseReversePrefix(got[0]); len(got) == 1 && p.Bits()%8 == 0 && p.Bits() <= 24 && (!ok || back != p.Masked()) {
			t.Errorf("parseReversePrefix(%q) = %v, %v; want %v", got[0], back, ok, p.Masked())
		}
	}
	if got := reverseZoneNames(netip.MustParsePrefix("172.16.0.0/12")); len(got) != 16 || got[0] != "16.172.in-addr.arpa." || got[15] != "31.172.in-addr.arpa." {
		t.Errorf("reverseZoneNames(172.16.0.0/12) = %q", got)
	}
	// Every zone name parses back to a prefix inside the one it covers, or
	// holding it.
	for _, p := range []string{"172.16.0.0/12", "10.0.1.128/25", "fd00::/61", "2001:db8::/32"} {
		pp := netip.MustParsePrefix(p)
		for _, z := range reverseZoneNames(pp) {
			zp, ok := parseReversePrefix(z)
			if !ok || !(pp.Contains(zp.Addr()) || zp.Contains(pp.Addr())) {
				t.Errorf("zone %s of %s parses to %v %v", z, p, zp, ok)
			}
		}
	}
}

func TestAnswerReverseZones(t *testing.T) {
	snap := testRegistry(t).Snapshot()
	z := testZoneConfig()
	// 10.0.1.0/24, 10.0.2.0/24 and fd00::/64 are the containers' subnets;
	// 10.0.3.0/24 (the db containers, whose subnet is unknown) is given.
	z.reverse = newReverseZones([]netip.Prefix{netip.MustParsePrefix("10.0.3.0/24")}, true)
	soa := func(apex string) string {
		return fmt.Sprintf("%s\t5\tIN\tSOA\tns.swarm.internal. hostmaster.swarm.internal. SERIAL 30 10 600 5", apex)
	}
	v6addr, _ := mdns.ReverseAddr("fd00::2")
	v6ent := v6addr[len("2.0.0.0."):] // fd00::/112, which holds fd00::2 and fd00::3
	v6zone := "0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		ours   bool
		rcode  int
		answer []string
		ns     []string
		extra  []string
	}{
		{name: "a container's address", qname: "2.1.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true,
			answer: []string{"2.1.0.10.in-addr.arpa.\t5\tIN\tPTR\tweb-1.swarm.internal."}},
		{name: "an address no container holds: NXDOMAIN with the zone's SOA", qname: "99.1.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true,
			rcode: mdns.RcodeNameError, ns: []string{soa("1.0.10.in-addr.arpa.")}},
		{name: "a given zone", qname: "99.3.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true,
			rcode: mdns.RcodeNameError, ns: []string{soa("3.0.10.in-addr.arpa.")}},
		{name: "a given zone, a container's address", qname: "1.3.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true,
			answer: []string{"1.3.0.10.in-addr.arpa.\t5\tIN\tPTR\tdb.swarm.internal."}},
		{name: "the apex SOA", qname: "1.0.10.in-addr.arpa.", qtype: mdns.TypeSOA, ours: true, answer: []string{soa("1.0.10.in-addr.arpa.")}},
		{name: "the apex NS, with glue", qname: "2.0.10.in-addr.arpa.", qtype: mdns.TypeNS, ours: true,
			answer: []string{"2.0.10.in-addr.arpa.\t5\tIN\tNS\tns.swarm.internal."}, extra: []string{"ns.swarm.internal.\t5\tIN\tA\t192.0.2.53"}},
		{name: "the apex PTR: NODATA", qname: "2.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true, ns: []string{soa("2.0.10.in-addr.arpa.")}},
		{name: "a container's address asked for A: NODATA", qname: "2.1.0.10.in-addr.arpa.", qtype: mdns.TypeA, ours: true, ns: []string{soa("1.0.10.in-addr.arpa.")}},
		{name: "not a reverse name inside the zone: NXDOMAIN", qname: "x.1.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true,
			rcode: mdns.RcodeNameError, ns: []string{soa("1.0.10.in-addr.arpa.")}},
		{name: "IPv6 address", qname: v6addr, qtype: mdns.TypePTR, ours: true,
			answer: []string{v6addr + "\t5\tIN\tPTR\tweb-1.swarm.internal."}},
		{name: "IPv6 empty non-terminal above addresses: NODATA", qname: v6ent, qtype: mdns.TypePTR, ours: true, ns: []string{soa(v6zone)}},
		{name: "IPv6 name above no address: NXDOMAIN", qname: "1." + v6ent, qtype: mdns.TypePTR, ours: true,
			rcode: mdns.RcodeNameError, ns: []string{soa(v6zone)}},
		{name: "above the zones: forwarded", qname: "0.10.in-addr.arpa.", qtype: mdns.TypeSOA},
		{name: "another subnet: forwarded", qname: "9.9.9.9.in-addr.arpa.", qtype: mdns.TypePTR},
		{name: "a container address outside the zones is still answered", qname: "1.4.0.10.in-addr.arpa.", qtype: mdns.TypePTR, ours: true,
			answer: []string{"1.4.0.10.in-addr.arpa.\t5\tIN\tPTR\ta.b.deep.swarm.internal."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m := askZone(t, z, snap, tt.qname, tt.qtype, tt.ours, tt.rcode); m != nil {
				checkSections(t, m, tt.answer, tt.ns, tt.extra)
			}
		})
	}
}
