package registry

import (
	"net/netip"
	"slices"
	"testing"
)

func TestNewRequiresNode(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New with an empty node: got nil error; want one")
	}
}

func TestSetLocal(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	s0 := r.Snapshot().Serial()

	web := rs("c1", "Web", "10.0.0.2")
	web.Names = []string{"alias.swarm.internal", "WEB.swarm.internal."}
	if !mustSetLocal(t, r, web) {
		t.Fatal("first SetLocal: got changed=false; want true")
	}
	snap := r.Snapshot()
	got := snap.Lookup("web.swarm.internal.")
	if len(got) != 1 {
		t.Fatalf("Lookup(web): got %d sets; want 1", len(got))
	}
	set := got[0]
	if v := localVersion(clk, 1); set.Node != "a" || set.ContainerID != "c1" || set.Version != v {
		t.Errorf("set bookkeeping: got node %q id %q version %d; want a c1 %d", set.Node, set.ContainerID, set.Version, v)
	}
	if want := []string{"alias.swarm.internal.", "web.swarm.internal."}; !slices.Equal(set.Names, want) {
		t.Errorf("Names: got %q; want %q", set.Names, want)
	}
	if set.Name != "web.swarm.internal." {
		t.Errorf("Name: got %q; want web.swarm.internal.", set.Name)
	}
	if got := snap.Lookup("alias.swarm.internal."); len(got) != 1 {
		t.Errorf("Lookup(alias): got %d sets; want 1", len(got))
	}

	// The same content again is a no-op: no version bump, no new serial.
	if mustSetLocal(t, r, web) {
		t.Error("SetLocal with the same content: got changed=true; want false")
	}
	if got := r.Snapshot(); got != snap {
		t.Error("snapshot after a no-op write: got a new one; want the same")
	}
	// Bookkeeping fields the caller sets are not content.
	again := web
	again.Version, again.Node = 99, "someone-else"
	if mustSetLocal(t, r, again) {
		t.Error("SetLocal with only Node/Version differing: got changed=true; want false")
	}

	// A content change bumps the version.
	web.Addrs = append(web.Addrs, Addr{IP: netip.MustParseAddr("fd00::2"), Network: "net"})
	if !mustSetLocal(t, r, web) {
		t.Fatal("SetLocal with a new address: got changed=false; want true")
	}
	set = r.Snapshot().Lookup("web.swarm.internal.")[0]
	if v := localVersion(clk, 2); set.Version != v || len(set.Addrs) != 2 {
		t.Errorf("after change: got version %d, %d addrs; want %d, 2", set.Version, len(set.Addrs), v)
	}
	serialGrows(t, r, clk, s0, "after two writes")
	if _, err := r.SetLocal(RecordSet{Name: "x"}); err == nil {
		t.Error("SetLocal without container ID: got nil error; want one")
	}
}

func TestRemoveLocal(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.2"))
	if r.RemoveLocal("nope") {
		t.Error("RemoveLocal(unknown): got true; want false")
	}
	s := r.Snapshot().Serial()
	if !r.RemoveLocal("c1") {
		t.Fatal("RemoveLocal(c1): got false; want true")
	}
	snap := r.Snapshot()
	if got := snap.Lookup("web.swarm.internal."); len(got) != 0 {
		t.Errorf("Lookup after removal: got %v; want nothing", ids(got))
	}
	if snap.Exists("web.swarm.internal.") {
		t.Error("Exists after removal: got true; want false")
	}
	st := r.LocalState()
	if v := localVersion(clk, 2); st.Version != v || len(st.Sets) != 0 {
		t.Errorf("LocalState: got version %d with %d sets; want %d with 0", st.Version, len(st.Sets), v)
	}
	serialGrows(t, r, clk, s, "after a removal")
	if r.RemoveLocal("c1") {
		t.Error("second RemoveLocal(c1): got true; want false")
	}
}

func TestReplaceLocal(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("keep", "keep", "10.0.0.1"))
	mustSetLocal(t, r, rs("change", "change", "10.0.0.2"))
	mustSetLocal(t, r, rs("gone", "gone", "10.0.0.3"))
	keepVersion := r.Snapshot().Lookup("keep.swarm.internal.")[0].Version

	changes, err := r.ReplaceLocal([]RecordSet{
		rs("keep", "keep", "10.0.0.1"),
		rs("change", "change", "10.0.0.22"),
		rs("new", "new", "10.0.0.4"),
	})
	if err != nil {
		t.Fatalf("ReplaceLocal: %v", err)
	}
	var got []string
	for _, c := range changes {
		what := "set"
		if c.Set == nil {
			what = "removed"
		}
		got = append(got, c.ContainerID+" "+what)
	}
	slices.Sort(got)
	if want := []string{"change set", "gone removed", "new set"}; !slices.Equal(got, want) {
		t.Errorf("changes: got %q; want %q", got, want)
	}
	snap := r.Snapshot()
	if got := ids(snap.Sets()); !slices.Equal(got, []string{"a/change", "a/keep", "a/new"}) {
		t.Errorf("sets: got %q; want a/change a/keep a/new", got)
	}
	if v := snap.Lookup("keep.swarm.internal.")[0].Version; v != keepVersion {
		t.Errorf("unchanged set's version: got %d; want %d", v, keepVersion)
	}
	if got := snap.LookupAddr(netip.MustParseAddr("10.0.0.22")); len(got) != 1 {
		t.Errorf("LookupAddr(new address): got %d sets; want 1", len(got))
	}
	if got := snap.LookupAddr(netip.MustParseAddr("10.0.0.2")); len(got) != 0 {
		t.Errorf("LookupAddr(old address): got %v; want nothing", ids(got))
	}

	// The same list again changes nothing.
	s := snap.Serial()
	changes, err = r.ReplaceLocal([]RecordSet{rs("keep", "keep", "10.0.0.1"), rs("change", "change", "10.0.0.22"), rs("new", "new", "10.0.0.4")})
	if err != nil || len(changes) != 0 || r.Snapshot().Serial() != s {
		t.Errorf("repeated ReplaceLocal: got %d changes, err %v, serial %d; want none, nil, %d", len(changes), err, r.Snapshot().Serial(), s)
	}

	// Bad input is refused before anything is written.
	for name, bad := range map[string][]RecordSet{
		"duplicate": {rs("x", "x"), rs("x", "y")},
		"no id":     {rs("", "x")},
	} {
		if _, err := r.ReplaceLocal(bad); err == nil {
			t.Errorf("ReplaceLocal(%s): got nil error; want one", name)
		}
	}
	if r.Snapshot().Serial() != s {
		t.Error("a refused ReplaceLocal changed the registry")
	}

	// An empty list removes everything.
	changes, err = r.ReplaceLocal(nil)
	if err != nil || len(changes) != 3 || len(r.Snapshot().Sets()) != 0 {
		t.Errorf("ReplaceLocal(nil): got %d changes, err %v, %d sets left; want 3, nil, 0", len(changes), err, len(r.Snapshot().Sets()))
	}
}

func TestSetLocalStale(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.2"))
	info, ok := r.Snapshot().Node("a")
	if !ok || info.Stale || !info.Local || info.Records != 1 {
		t.Fatalf("local node info: got %+v, %v; want fresh, local, 1 record", info, ok)
	}
	s := r.Snapshot().Serial()
	r.SetLocalStale(true)
	info, _ = r.Snapshot().Node("a")
	if !info.Stale {
		t.Error("after SetLocalStale(true): got Stale=false; want true")
	}
	serialGrows(t, r, clk, s, "the stale flag changed")
	snap := r.Snapshot()
	r.SetLocalStale(true)
	if r.Snapshot() != snap {
		t.Error("SetLocalStale(true) twice: the second call made a new snapshot")
	}
	// Stale records are still served.
	if got := r.Snapshot().Lookup("web.swarm.internal."); len(got) != 1 {
		t.Errorf("Lookup while stale: got %d sets; want 1", len(got))
	}
	r.SetLocalStale(false)
	if info, _ := r.Snapshot().Node("a"); info.Stale {
		t.Error("after SetLocalStale(false): got Stale=true; want false")
	}
}

func TestLocalStateAndVersions(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 7)
	mustSetLocal(t, r, rs("c2", "two"))
	mustSetLocal(t, r, rs("c1", "one"))
	r.RemoveLocal("c2")
	mustSetLocal(t, r, rs("c3", "three"))
	st := r.LocalState()
	if v := localVersion(clk, 4); st.Node != "a" || st.Generation != 7 || st.Version != v {
		t.Errorf("LocalState header: got %s gen %d v%d; want a gen 7 v%d", st.Node, st.Generation, st.Version, v)
	}
	var got []string
	for _, s := range st.Sets {
		got = append(got, s.ContainerID)
		if s.Version > st.Version {
			t.Errorf("set %s at version %d above the state's %d", s.ContainerID, s.Version, st.Version)
		}
	}
	if !slices.Equal(got, []string{"c1", "c3"}) {
		t.Errorf("LocalState sets: got %q; want [c1 c3]", got)
	}
	if gen, ok := r.Generation("a"); !ok || gen != 7 {
		t.Errorf("Generation(a): got %d, %v; want 7, true", gen, ok)
	}
	if _, ok := r.Generation("b"); ok {
		t.Error("Generation(unknown): got known; want unknown")
	}
	if r.LocalNode() != "a" || r.Snapshot().LocalNode() != "a" {
		t.Errorf("LocalNode: got %q / %q; want a", r.LocalNode(), r.Snapshot().LocalNode())
	}
}

func TestSetLocalNormalizes(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	a1 := Addr{IP: netip.MustParseAddr("10.0.1.5"), Network: "front", Subnet: netip.MustParsePrefix("10.0.1.5/24")}
	a2 := Addr{IP: netip.MustParseAddr("fd00::5"), Network: "front"}
	a3 := Addr{IP: netip.MustParseAddr("10.0.2.5"), Network: "back"}
	p1, p2 := Port{Service: "http", Proto: "tcp", Port: 80}, Port{Proto: "udp", Port: 53}
	al1 := Alias{Name: "x.swarm.internal.", Target: "web.swarm.internal."}
	al2 := Alias{Name: "y.swarm.internal.", Target: "web.swarm.internal."}
	s := rs("c1", "web")
	s.Names = []string{"", "B.swarm.internal", "a.swarm.internal.", "b.swarm.internal.."}
	s.Addrs = []Addr{a2, a1, {}, a3, a1}
	s.Ports = []Port{p2, p1, p2}
	s.Aliases = []Alias{al2, {Name: "", Target: "web"}, al1, {Name: "z", Target: ""}, al2}
	mustSetLocal(t, r, s)
	snap := r.Snapshot()
	set := snap.Lookup("web.swarm.internal.")[0]
	if want := []string{"a.swarm.internal.", "b.swarm.internal.", "web.swarm.internal."}; !slices.Equal(set.Names, want) {
		t.Errorf("Names: got %q; want %q", set.Names, want)
	}
	if snap.Exists("") || len(snap.Lookup("")) != 0 {
		t.Error("an empty name got into the index")
	}
	if len(set.Addrs) != 3 {
		t.Errorf("Addrs: got %v; want 3 (no invalid, no duplicate)", set.Addrs)
	}
	if got := snap.LookupAddr(netip.Addr{}); len(got) != 0 {
		t.Errorf("LookupAddr(invalid): got %v; want nothing", ids(got))
	}
	for _, a := range set.Addrs {
		if a.IP == a1.IP && a.Subnet != netip.MustParsePrefix("10.0.1.0/24") {
			t.Errorf("subnet: got %v; want 10.0.1.0/24 (masked)", a.Subnet)
		}
	}
	if len(set.Ports) != 2 || len(set.Aliases) != 2 {
		t.Errorf("Ports %v, Aliases %v: want 2 each (no duplicate, no empty alias)", set.Ports, set.Aliases)
	}
	if _, ok := snap.Alias(""); ok {
		t.Error("an alias with an empty name got into the index")
	}

	// The same content in another order (Docker's networks come from a map)
	// is no change, so a resync does not bump versions and gossip.
	s2 := rs("c1", "web")
	s2.Names = []string{"b.swarm.internal.", "A.swarm.internal"}
	s2.Addrs = []Addr{a3, a2, a1}
	s2.Ports = []Port{p1, p2}
	s2.Aliases = []Alias{al1, al2}
	if mustSetLocal(t, r, s2) {
		t.Error("SetLocal with the same content in another order: got changed=true; want false")
	}
}
