package dns

import (
	"fmt"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

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
