package dns

import (
	"net/netip"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// askZone asks z for qname and qtype from a client outside the containers'
// networks. It fails t unless the zone answers exactly when ours, then
// authoritatively with rcode, and returns that reply (nil when not ours).
func askZone(t *testing.T, z *zoneConfig, snap *registry.Snapshot, qname string, qtype uint16, ours bool, rcode int) *mdns.Msg {
	t.Helper()
	req := new(mdns.Msg)
	req.SetQuestion(qname, qtype)
	m, got := z.answer(snap, req, netip.MustParseAddr("192.0.2.99"), nil)
	if got != ours {
		t.Fatalf("%s %s ours: got %v; want %v (reply %v)", qname, mdns.Type(qtype), got, ours, m)
	}
	if !ours {
		return nil
	}
	if m.Rcode != rcode || !m.Authoritative {
		t.Errorf("rcode %s aa %v; want %s, authoritative", mdns.RcodeToString[m.Rcode], m.Authoritative, mdns.RcodeToString[rcode])
	}
	return m
}

// specialRegistry holds containers that ask for names the server keeps:
// localhost, ns, internal and test (as a node that does not rename them
// would publish them), and web.
func specialRegistry(t *testing.T) *registry.Snapshot {
	t.Helper()
	r, err := registry.New(registry.Config{Node: "n1", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	var sets []registry.RecordSet
	for i, name := range []string{"localhost", "ns", "internal", "swarm", "test", "web"} {
		sets = append(sets, registry.RecordSet{
			ContainerID: "c-" + name, Name: name + "." + testZone,
			Addrs: []registry.Addr{addr(netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}).String(), "net", "10.9.0.0/24")},
		})
	}
	if _, err := r.ReplaceLocal(sets); err != nil {
		t.Fatal(err)
	}
	return r.Snapshot()
}

func TestAnswerSpecialUseNames(t *testing.T) {
	snap := specialRegistry(t)
	noNS := testZoneConfig()
	noNS.nsAddrs = nil
	tests := []struct {
		name   string
		z      *zoneConfig
		qname  string
		qtype  uint16
		ours   bool
		answer []string
		ns     int // records in the authority section
	}{
		{name: "localhost A is loopback", qname: "localhost.", qtype: mdns.TypeA, ours: true, answer: []string{"localhost.\t5\tIN\tA\t127.0.0.1"}},
		{name: "localhost AAAA is loopback", qname: "LocalHost.", qtype: mdns.TypeAAAA, ours: true, answer: []string{"LocalHost.\t5\tIN\tAAAA\t::1"}},
		{name: "below localhost is loopback", qname: "web.localhost.", qtype: mdns.TypeA, ours: true, answer: []string{"web.localhost.\t5\tIN\tA\t127.0.0.1"}},
		{name: "localhost MX: empty", qname: "localhost.", qtype: mdns.TypeMX, ours: true},
		{name: "localhost ANY: both", qname: "localhost.", qtype: mdns.TypeANY, ours: true, answer: []string{"localhost.\t5\tIN\tA\t127.0.0.1", "localhost.\t5\tIN\tAAAA\t::1"}},
		{name: "the zone's TLD is not the container internal", qname: "internal.", qtype: mdns.TypeSOA},
		{name: "the zone's TLD, A, is not the container either", qname: "internal.", qtype: mdns.TypeA},
		{name: "the zone's first label is not the container swarm", qname: "swarm.", qtype: mdns.TypeA},
		{name: "a special-use TLD is not the container test", qname: "test.", qtype: mdns.TypeA},
		{name: "a single label asked for its SOA is not the container", qname: "web.", qtype: mdns.TypeSOA},
		{name: "a single label asked for its NS is not the container", qname: "web.", qtype: mdns.TypeNS},
		{name: "a single label asked for its TXT is not the container (a TLD may have one)", qname: "web.", qtype: mdns.TypeTXT},
		{name: "the shortcut still answers web. A", qname: "web.", qtype: mdns.TypeA, ours: true, answer: []string{"web.\t5\tIN\tA\t10.9.0.6"}},
		{name: "the NS target is the server's, not the container ns", qname: "ns.swarm.internal.", qtype: mdns.TypeA, ours: true, answer: []string{"ns.swarm.internal.\t5\tIN\tA\t192.0.2.53"}},
		{name: "the NS target without an address: NODATA, not the container", z: noNS, qname: "ns.swarm.internal.", qtype: mdns.TypeA, ours: true, ns: 1},
		{name: "the NS target's single label is no shortcut either", z: noNS, qname: "ns.", qtype: mdns.TypeSOA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := tt.z
			if z == nil {
				z = testZoneConfig()
			}
			m := askZone(t, z, snap, tt.qname, tt.qtype, tt.ours, mdns.RcodeSuccess)
			if m == nil {
				return
			}
			want := slices.Clone(tt.answer)
			slices.Sort(want)
			if got := rrStrings(m.Answer); !slices.Equal(got, want) {
				t.Errorf("answer:\n got %q\nwant %q", got, want)
			}
			if len(m.Ns) != tt.ns {
				t.Errorf("authority: got %v; want %d records", m.Ns, tt.ns)
			}
		})
	}
	// A transfer holds the server's ns, not the container's.
	for _, rr := range testZoneConfig().zoneRecords(snap) {
		if a, ok := rr.(*mdns.A); ok && a.Hdr.Name == "ns.swarm.internal." && !a.A.Equal(netip.MustParseAddr("192.0.2.53").AsSlice()) {
			t.Errorf("zone transfer: %v", rr)
		}
	}
}
