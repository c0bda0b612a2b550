package dns

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

const (
	soaRR = "swarm.internal.\t5\tIN\tSOA\tns.swarm.internal. hostmaster.swarm.internal. SERIAL 30 10 600 5"
)

func TestAnswerTable(t *testing.T) {
	snap := testRegistry(t).Snapshot()
	z := testZoneConfig()
	outside := netip.MustParseAddr("192.0.2.99")
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		client netip.Addr
		ours   bool
		rcode  int
		answer []string
		ns     []string
		extra  []string
	}{
		{
			name: "container, client outside its networks: every address", qname: "web-1.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, answer: []string{"web-1.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2"},
		},
		{
			name: "container, client on network back: that network's address", qname: "web-1.swarm.internal.", qtype: mdns.TypeA, client: netip.MustParseAddr("10.0.2.50"),
			ours: true, answer: []string{"web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2"},
		},
		{
			name: "AAAA", qname: "web-1.swarm.internal.", qtype: mdns.TypeAAAA, client: outside,
			ours: true, answer: []string{"web-1.swarm.internal.\t5\tIN\tAAAA\tfd00::2"},
		},
		{
			name: "IPv6-only asked for A: NODATA", qname: "v6.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "unknown name: NXDOMAIN", qname: "nope.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, rcode: mdns.RcodeNameError, ns: []string{soaRR},
		},
		{
			name: "below an existing name: NXDOMAIN", qname: "x.web-1.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, rcode: mdns.RcodeNameError, ns: []string{soaRR},
		},
		{
			name: "unknown type for a known name: NODATA", qname: "web-1.swarm.internal.", qtype: mdns.TypeMX, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "type 666 for a known name: NODATA", qname: "web-1.swarm.internal.", qtype: 666, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "shared name: unhealthy container left out", qname: "web.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, answer: []string{"web.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web.swarm.internal.\t5\tIN\tA\t10.0.1.4", "web.swarm.internal.\t5\tIN\tA\t10.0.2.2"},
		},
		{
			name: "every container unhealthy: all given", qname: "db.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, answer: []string{"db.swarm.internal.\t5\tIN\tA\t10.0.3.1", "db.swarm.internal.\t5\tIN\tA\t10.0.3.2"},
		},
		{
			name: "compose name", qname: "app.proj.swarm.internal.", qtype: mdns.TypeAAAA, client: outside,
			ours: true, answer: []string{"app.proj.swarm.internal.\t5\tIN\tAAAA\tfd00::2"},
		},
		{
			name: "empty non-terminal: NODATA", qname: "b.deep.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "empty non-terminal two up: NODATA", qname: "deep.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "apex SOA", qname: "swarm.internal.", qtype: mdns.TypeSOA, client: outside,
			ours: true, answer: []string{soaRR},
		},
		{
			name: "apex NS with glue", qname: "swarm.internal.", qtype: mdns.TypeNS, client: outside,
			ours: true, answer: []string{"swarm.internal.\t5\tIN\tNS\tns.swarm.internal."}, extra: []string{"ns.swarm.internal.\t5\tIN\tA\t192.0.2.53"},
		},
		{
			name: "apex A: NODATA", qname: "swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "name server address", qname: "ns.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, answer: []string{"ns.swarm.internal.\t5\tIN\tA\t192.0.2.53"},
		},
		{
			name: "case kept (0x20)", qname: "WeB-1.SwArM.InTeRnAl.", qtype: mdns.TypeAAAA, client: outside,
			ours: true, answer: []string{"WeB-1.SwArM.InTeRnAl.\t5\tIN\tAAAA\tfd00::2"},
		},
		{
			name: "case kept in the SOA owner", qname: "NoPe.SwArM.InTeRnAl.", qtype: mdns.TypeA, client: outside,
			ours: true, rcode: mdns.RcodeNameError, ns: []string{"SwArM.InTeRnAl.\t5\tIN\tSOA\tns.swarm.internal. hostmaster.swarm.internal. SERIAL 30 10 600 5"},
		},
		{
			name: "PTR of a registered address", qname: "2.1.0.10.in-addr.arpa.", qtype: mdns.TypePTR, client: outside,
			ours: true, answer: []string{"2.1.0.10.in-addr.arpa.\t5\tIN\tPTR\tweb-1.swarm.internal."},
		},
		{
			name: "PTR of a registered IPv6 address", qname: "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", qtype: mdns.TypePTR, client: outside,
			ours: true, answer: []string{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.\t5\tIN\tPTR\tweb-1.swarm.internal."},
		},
		{
			name: "PTR of an unknown address: not ours", qname: "9.9.0.10.in-addr.arpa.", qtype: mdns.TypePTR, client: outside,
		},
		{
			name: "partial reverse name: not ours", qname: "0.10.in-addr.arpa.", qtype: mdns.TypePTR, client: outside,
		},
		{
			name: "A under the reverse tree: not ours", qname: "2.1.0.10.in-addr.arpa.", qtype: mdns.TypeA, client: outside,
		},
		{
			name: "outside name: not ours", qname: "example.com.", qtype: mdns.TypeA, client: outside,
		},
		{
			name: "escaped dot is not a label boundary", qname: `a\.swarm.internal.`, qtype: mdns.TypeA, client: outside,
		},
		{
			name: "single-label name that exists in the zone", qname: "web-1.", qtype: mdns.TypeA, client: netip.MustParseAddr("10.0.2.9"),
			ours: true, answer: []string{"web-1.\t5\tIN\tA\t10.0.2.2"},
		},
		{
			name: "single-label name that does not: not ours", qname: "nope.", qtype: mdns.TypeA, client: outside,
		},
		{
			name: "CNAME chased inside the zone", qname: "www.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, answer: []string{
				"web.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web.swarm.internal.\t5\tIN\tA\t10.0.1.4", "web.swarm.internal.\t5\tIN\tA\t10.0.2.2",
				"www.swarm.internal.\t5\tIN\tCNAME\tweb.swarm.internal.",
			},
		},
		{
			name: "CNAME out of the zone", qname: "ext.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, answer: []string{"ext.swarm.internal.\t5\tIN\tCNAME\texample.com."},
		},
		{
			name: "CNAME asked for itself", qname: "www.swarm.internal.", qtype: mdns.TypeCNAME, client: outside,
			ours: true, answer: []string{"www.swarm.internal.\t5\tIN\tCNAME\tweb.swarm.internal."},
		},
		{
			name: "CNAME to a name without the type: NODATA after the CNAME", qname: "www.swarm.internal.", qtype: mdns.TypeMX, client: outside,
			ours: true, answer: []string{"www.swarm.internal.\t5\tIN\tCNAME\tweb.swarm.internal."}, ns: []string{soaRR},
		},
		{
			name: "named SRV, the target's addresses in the additional section", qname: "_http._tcp.web-1.swarm.internal.", qtype: mdns.TypeSRV, client: outside,
			ours: true, answer: []string{"_http._tcp.web-1.swarm.internal.\t5\tIN\tSRV\t0 1 8080 web-1.swarm.internal."},
			extra: []string{"web-1.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2", "web-1.swarm.internal.\t5\tIN\tAAAA\tfd00::2"},
		},
		{
			name: "SRV for a client on network back: the target's address there", qname: "_http._tcp.web-1.swarm.internal.", qtype: mdns.TypeSRV, client: netip.MustParseAddr("10.0.2.50"),
			ours: true, answer: []string{"_http._tcp.web-1.swarm.internal.\t5\tIN\tSRV\t0 1 8080 web-1.swarm.internal."},
			extra: []string{"web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2"},
		},
		{
			name: "SRV by port number", qname: "_9000._tcp.web-1.swarm.internal.", qtype: mdns.TypeSRV, client: outside,
			ours: true, answer: []string{"_9000._tcp.web-1.swarm.internal.\t5\tIN\tSRV\t0 1 9000 web-1.swarm.internal."},
			extra: []string{"web-1.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2", "web-1.swarm.internal.\t5\tIN\tAAAA\tfd00::2"},
		},
		{
			name: "SRV name asked for A: NODATA", qname: "_http._tcp.web-1.swarm.internal.", qtype: mdns.TypeA, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "SRV protocol node: NODATA", qname: "_tcp.web-1.swarm.internal.", qtype: mdns.TypeSRV, client: outside,
			ours: true, ns: []string{soaRR},
		},
		{
			name: "unknown SRV service: NXDOMAIN", qname: "_nope._tcp.web-1.swarm.internal.", qtype: mdns.TypeSRV, client: outside,
			ours: true, rcode: mdns.RcodeNameError, ns: []string{soaRR},
		},
		{
			name: "SRV on the wrong protocol: NXDOMAIN", qname: "_http._udp.web-1.swarm.internal.", qtype: mdns.TypeSRV, client: outside,
			ours: true, rcode: mdns.RcodeNameError, ns: []string{soaRR},
		},
		{
			name: "TXT", qname: "web-1.swarm.internal.", qtype: mdns.TypeTXT, client: outside,
			ours: true, answer: []string{"web-1.swarm.internal.\t5\tIN\tTXT\t\"container=c1\" \"node=n1\" \"image=nginx:1\""},
		},
		{
			name: "ANY: the addresses only (RFC 8482)", qname: "web-1.swarm.internal.", qtype: mdns.TypeANY, client: outside,
			ours: true, answer: []string{"web-1.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2", "web-1.swarm.internal.\t5\tIN\tAAAA\tfd00::2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := new(mdns.Msg)
			req.SetQuestion(tt.qname, tt.qtype)
			m, ours := z.answer(snap, req, tt.client, nil)
			if ours != tt.ours {
				t.Fatalf("ours: got %v; want %v", ours, tt.ours)
			}
			if !ours {
				return
			}
			if m.Rcode != tt.rcode {
				t.Errorf("rcode: got %s; want %s", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if !m.Authoritative || !m.Response || m.Id != req.Id {
				t.Errorf("header: got aa=%v qr=%v id=%d; want aa, qr, id %d", m.Authoritative, m.Response, m.Id, req.Id)
			}
			if len(m.Question) != 1 || m.Question[0] != req.Question[0] {
				t.Errorf("question: got %v; want %v", m.Question, req.Question)
			}
			checkSections(t, m, tt.answer, tt.ns, tt.extra)
			if _, err := m.Pack(); err != nil {
				t.Errorf("pack: %v", err)
			}
		})
	}
}

// TestAnswerLocalFirst checks the order: the local node's records first,
// then the others, and that both groups are shuffled.
func TestAnswerLocalFirst(t *testing.T) {
	r, err := registry.New(registry.Config{Node: "n1", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	var local []registry.RecordSet
	for i := range 4 {
		local = append(local, registry.RecordSet{ContainerID: "l" + string(rune('0'+i)), Name: "svc." + testZone, Addrs: []registry.Addr{addr(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String(), "n", "")}})
	}
	if _, err := r.ReplaceLocal(local); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		s := registry.RecordSet{ContainerID: "r" + string(rune('0'+i)), Name: "svc." + testZone, Addrs: []registry.Addr{addr(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}).String(), "n", "")}}
		if _, err := r.ApplyDelta(registry.Delta{Node: "n2", Generation: 1, Version: uint64(i + 1), ContainerID: s.ContainerID, Set: &s}); err != nil {
			t.Fatal(err)
		}
	}
	snap := r.Snapshot()
	before := slices.Clone(snap.Lookup("svc." + testZone))
	z := testZoneConfig()
	firsts := map[string]bool{}
	lasts := map[string]bool{}
	for range 200 {
		req := new(mdns.Msg)
		req.SetQuestion("svc."+testZone, mdns.TypeA)
		m, _ := z.answer(snap, req, netip.Addr{}, nil)
		if len(m.Answer) != 8 {
			t.Fatalf("answers: got %d; want 8", len(m.Answer))
		}
		for i, rr := range m.Answer {
			ip := rr.(*mdns.A).A.String()
			isLocal := ip[:7] == "10.0.0."
			if isLocal != (i < 4) {
				t.Fatalf("record %d is %s: local records must come first: %v", i, ip, m.Answer)
			}
		}
		firsts[m.Answer[0].(*mdns.A).A.String()] = true
		lasts[m.Answer[7].(*mdns.A).A.String()] = true
	}
	if len(firsts) < 2 || len(lasts) < 2 {
		t.Errorf("order never changes: first records %v, last records %v", firsts, lasts)
	}
	// The snapshot's sets are untouched by the shuffles.
	if got := snap.Lookup("svc." + testZone); !slices.Equal(got, before) {
		t.Errorf("snapshot order changed by the answers")
	}
}

// TestAnswerStaleTTL checks the lowered TTL of a stale node's records.
func TestAnswerStaleTTL(t *testing.T) {
	r := testRegistry(t)
	z := testZoneConfig()
	ask := func(name string) []string {
		req := new(mdns.Msg)
		req.SetQuestion(name, mdns.TypeA)
		m, _ := z.answer(r.Snapshot(), req, netip.MustParseAddr("192.0.2.99"), nil)
		return rrStrings(m.Answer)
	}
	if got, want := ask("web-2.swarm.internal."), []string{"web-2.swarm.internal.\t5\tIN\tA\t10.0.1.4"}; !slices.Equal(got, want) {
		t.Fatalf("fresh: got %q; want %q", got, want)
	}
	r.SetLease("n2", time.Now().Add(time.Minute))
	if got, want := ask("web-2.swarm.internal."), []string{"web-2.swarm.internal.\t1\tIN\tA\t10.0.1.4"}; !slices.Equal(got, want) {
		t.Errorf("node on lease: got %q; want %q", got, want)
	}
	// One stale owner lowers the TTL of the whole RRset.
	want := []string{"web.swarm.internal.\t1\tIN\tA\t10.0.1.2", "web.swarm.internal.\t1\tIN\tA\t10.0.1.4", "web.swarm.internal.\t1\tIN\tA\t10.0.2.2"}
	if got := ask("web.swarm.internal."); !slices.Equal(got, want) {
		t.Errorf("mixed: got %q; want %q", got, want)
	}
	r.SetLease("n2", time.Time{})
	r.SetLocalStale(true)
	if got, want := ask("web-1.swarm.internal."), []string{"web-1.swarm.internal.\t1\tIN\tA\t10.0.1.2", "web-1.swarm.internal.\t1\tIN\tA\t10.0.2.2"}; !slices.Equal(got, want) {
		t.Errorf("local engine unreachable: got %q; want %q", got, want)
	}
}

// TestAnswerHealthChange follows a container through unhealthy and back.
func TestAnswerHealthChange(t *testing.T) {
	r := testRegistry(t)
	z := testZoneConfig()
	ask := func() []string {
		req := new(mdns.Msg)
		req.SetQuestion("web.swarm.internal.", mdns.TypeA)
		m, _ := z.answer(r.Snapshot(), req, netip.MustParseAddr("10.0.1.77"), nil)
		return rrStrings(m.Answer)
	}
	healthy := []string{"web.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web.swarm.internal.\t5\tIN\tA\t10.0.1.4"}
	if got := ask(); !slices.Equal(got, healthy) {
		t.Fatalf("start: got %q; want %q", got, healthy)
	}
	set := *r.Snapshot().Lookup("sick.swarm.internal.")[0]
	set = set.Clone()
	set.Health = registry.HealthHealthy
	if _, err := r.SetLocal(set); err != nil {
		t.Fatal(err)
	}
	withSick := []string{"web.swarm.internal.\t5\tIN\tA\t10.0.1.2", "web.swarm.internal.\t5\tIN\tA\t10.0.1.3", "web.swarm.internal.\t5\tIN\tA\t10.0.1.4"}
	if got := ask(); !slices.Equal(got, withSick) {
		t.Errorf("healthy again: got %q; want %q", got, withSick)
	}
}

func TestAnswerNodeNames(t *testing.T) {
	snap := testRegistry(t).Snapshot()
	z := testZoneConfig()
	z.nodeZone = "node." + testZone
	z.nodeAddrs = func(node string) []netip.Addr {
		return map[string][]netip.Addr{
			"n1": {netip.MustParseAddr("192.0.2.1")},
			"n2": {netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")},
		}[node]
	}
	tests := []struct {
		qname  string
		qtype  uint16
		rcode  int
		answer []string
	}{
		{"n1.node.swarm.internal.", mdns.TypeA, mdns.RcodeSuccess, []string{"n1.node.swarm.internal.\t5\tIN\tA\t192.0.2.1"}},
		{"N2.Node.Swarm.Internal.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"N2.Node.Swarm.Internal.\t5\tIN\tAAAA\t2001:db8::2"}},
		{"n2.node.swarm.internal.", mdns.TypeANY, mdns.RcodeSuccess, []string{"n2.node.swarm.internal.\t5\tIN\tA\t192.0.2.2", "n2.node.swarm.internal.\t5\tIN\tAAAA\t2001:db8::2"}},
		{"n1.node.swarm.internal.", mdns.TypeAAAA, mdns.RcodeSuccess, nil},
		{"n3.node.swarm.internal.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"x.n1.node.swarm.internal.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"node.swarm.internal.", mdns.TypeA, mdns.RcodeSuccess, nil},
	}
	for _, tt := range tests {
		req := new(mdns.Msg)
		req.SetQuestion(tt.qname, tt.qtype)
		m, ok := z.answer(snap, req, netip.Addr{}, nil)
		if !ok || m.Rcode != tt.rcode || !slices.Equal(rrStrings(m.Answer), tt.answer) {
			t.Errorf("%s %s: got ok=%v %s %q; want %s %q", tt.qname, mdns.TypeToString[tt.qtype], ok, mdns.RcodeToString[m.Rcode], rrStrings(m.Answer), mdns.RcodeToString[tt.rcode], tt.answer)
		}
		if len(tt.answer) == 0 && len(m.Ns) != 1 {
			t.Errorf("%s: got %d authority records; want the SOA", tt.qname, len(m.Ns))
		}
	}
}
