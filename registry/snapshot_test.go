package registry

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSnapshotLookupAcrossNodes(t *testing.T) {
	r, _ := newTestRegistry(t, "b", 1)
	web := rs("c2", "web", "10.0.0.2")
	mustSetLocal(t, r, web)
	for _, node := range []string{"c", "a"} {
		s := rs("c1", "web", "10.0.0.1")
		mustApply(t, r, Delta{Node: node, Generation: 1, Version: 1, ContainerID: "c1", Set: &s})
	}
	snap := r.Snapshot()
	if got, want := ids(snap.Lookup("web.swarm.internal.")), []string{"a/c1", "b/c2", "c/c1"}; !slices.Equal(got, want) {
		t.Errorf("Lookup(web): got %q; want %q (by node, container)", got, want)
	}
	if got := ids(snap.LookupAddr(netip.MustParseAddr("10.0.0.1"))); !slices.Equal(got, []string{"a/c1", "c/c1"}) {
		t.Errorf("LookupAddr(10.0.0.1): got %q; want [a/c1 c/c1]", got)
	}
	var nodes []string
	for _, n := range snap.Nodes() {
		nodes = append(nodes, n.Name)
	}
	if !slices.Equal(nodes, []string{"a", "b", "c"}) {
		t.Errorf("Nodes: got %q; want [a b c]", nodes)
	}
	if got := snap.Lookup("nope.swarm.internal."); got != nil {
		t.Errorf("Lookup(miss): got %v; want nil", ids(got))
	}
	if got, want := ids(snap.LookupShared("web.swarm.internal.")), ids(snap.Lookup("web.swarm.internal.")); !slices.Equal(got, want) {
		t.Errorf("LookupShared(web): got %q; want %q, as Lookup", got, want)
	}
	if shared := snap.LookupShared("web.swarm.internal."); cap(shared) != len(shared) {
		t.Errorf("LookupShared: cap %d > len %d: an append would write into the snapshot", cap(shared), len(shared))
	}
	if got := snap.LookupShared("nope.swarm.internal."); got != nil {
		t.Errorf("LookupShared(miss): got %v; want nil", ids(got))
	}
	if _, ok := snap.Node("zzz"); ok {
		t.Error("Node(unknown): got found")
	}
}

func TestSnapshotExists(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	s := rs("c1", "1.web.app", "10.0.0.1")
	s.Aliases = []Alias{{Name: "www.site.swarm.internal", Target: "1.web.app.swarm.internal"}}
	mustSetLocal(t, r, s)
	snap := r.Snapshot()
	tests := []struct {
		name string
		want bool
	}{
		{"1.web.app.swarm.internal.", true}, // owns records
		{"web.app.swarm.internal.", true},   // empty non-terminal
		{"app.swarm.internal.", true},       // empty non-terminal
		{"swarm.internal.", true},           // the apex, above everything
		{"www.site.swarm.internal.", true},  // an alias
		{"site.swarm.internal.", true},      // above an alias
		{"2.web.app.swarm.internal.", false},
		{"x.1.web.app.swarm.internal.", false}, // below a name
		{"eb.app.swarm.internal.", false},      // a suffix that is not a label boundary
		{"", false},
	}
	for _, tt := range tests {
		if got := snap.Exists(tt.name); got != tt.want {
			t.Errorf("Exists(%q): got %v; want %v", tt.name, got, tt.want)
		}
	}
	if a, ok := snap.Alias("www.site.swarm.internal."); !ok || a.Target != "1.web.app.swarm.internal." {
		t.Errorf("Alias(www.site): got %+v, %v; want target 1.web.app.swarm.internal.", a, ok)
	}
	if _, ok := snap.Alias("1.web.app.swarm.internal."); ok {
		t.Error("Alias(a name with records): got one; want none")
	}

	// Removing the only name removes its empty non-terminals too.
	r.RemoveLocal("c1")
	snap = r.Snapshot()
	for _, n := range []string{"1.web.app.swarm.internal.", "web.app.swarm.internal.", "swarm.internal.", "www.site.swarm.internal."} {
		if snap.Exists(n) {
			t.Errorf("Exists(%q) after the removal: got true; want false", n)
		}
	}
}

func TestSnapshotLookupAddrMapped(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	s := rs("c1", "web")
	s.Addrs = []Addr{
		{IP: netip.MustParseAddr("::ffff:10.0.0.7"), Network: "n1"}, // stored mapped: normalized to 10.0.0.7
		{IP: netip.MustParseAddr("fd00::7"), Network: "n1"},
	}
	mustSetLocal(t, r, s)
	// The index keys addresses by their 16 bytes: the unspecified IPv6
	// address has the zero key, which an invalid address must not find.
	mustSetLocal(t, r, rs("c2", "zero", "::"))
	snap := r.Snapshot()
	if got := snap.LookupAddr(netip.IPv6Unspecified()); len(got) != 1 || got[0].ContainerID != "c2" {
		t.Errorf("LookupAddr(::): got %v; want c2", ids(got))
	}
	set := snap.Lookup("web.swarm.internal.")[0]
	if ip := set.Addrs[0].IP; !ip.Is4() {
		t.Errorf("stored address: got %v; want the unmapped IPv4", ip)
	}
	for _, q := range []string{"10.0.0.7", "::ffff:10.0.0.7", "fd00::7", "fd00::7%eth0"} {
		if got := snap.LookupAddr(netip.MustParseAddr(q)); len(got) != 1 {
			t.Errorf("LookupAddr(%s): got %d sets; want 1", q, len(got))
		}
	}
	for _, q := range []string{"10.0.0.8", "::a00:7", "fd00::8"} {
		if got := snap.LookupAddr(netip.MustParseAddr(q)); len(got) != 0 {
			t.Errorf("LookupAddr(%s): got %v; want nothing", q, ids(got))
		}
	}
	if got := snap.LookupAddr(netip.Addr{}); len(got) != 0 {
		t.Errorf("LookupAddr(invalid): got %v; want nothing", ids(got))
	}
}

func TestSnapshotAliasFirstWins(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	s1 := rs("c1", "one")
	s1.Aliases = []Alias{{Name: "db.swarm.internal.", Target: "one.swarm.internal."}}
	s2 := rs("c2", "two")
	s2.Aliases = []Alias{{Name: "DB.swarm.internal", Target: "two.swarm.internal."}}
	mustSetLocal(t, r, s2)
	mustSetLocal(t, r, s1)
	if a, ok := r.Snapshot().Alias("db.swarm.internal."); !ok || a.Target != "one.swarm.internal." {
		t.Errorf("Alias(db) claimed twice: got %+v, %v; want the first container's (one)", a, ok)
	}
}

func TestSnapshotIsImmutable(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.1"))
	old := r.Snapshot()
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.2"))
	mustSetLocal(t, r, rs("c2", "db", "10.0.0.3"))
	r.RemoveLocal("c1")
	if got := old.Lookup("web.swarm.internal."); len(got) != 1 || got[0].Addrs[0].IP != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("old snapshot's web after later writes: got %v; want 10.0.0.1", got)
	}
	if old.Exists("db.swarm.internal.") || len(old.Sets()) != 1 {
		t.Error("old snapshot sees a later write")
	}
}

func TestNodeSet(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.1"))
	mustSetLocal(t, r, rs("c3", "db", "10.0.0.3"))
	mustApply(t, r, setDelta(1, 1, "c2"))
	snap := r.Snapshot()
	if s, ok := snap.NodeSet("a", "c3"); !ok || s.ContainerID != "c3" || s.Node != "a" {
		t.Errorf("NodeSet(a, c3) = %+v, %v; want a's c3", s, ok)
	}
	if s, ok := snap.NodeSet("b", "c2"); !ok || s.Node != "b" {
		t.Errorf("NodeSet(b, c2) = %+v, %v; want b's c2", s, ok)
	}
	for _, q := range [][2]string{{"a", "c2"}, {"b", "c1"}, {"z", "c1"}, {"a", ""}} {
		if s, ok := snap.NodeSet(q[0], q[1]); ok {
			t.Errorf("NodeSet(%s, %s) = %+v; want none", q[0], q[1], s)
		}
	}
	if a := testing.AllocsPerRun(10, func() { snap.NodeSet("a", "c3") }); a != 0 {
		t.Errorf("NodeSet allocates %v times", a)
	}
}
