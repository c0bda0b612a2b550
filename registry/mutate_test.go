package registry

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// dump renders everything a reader can see in r, to compare before and
// after a caller scribbles on what it was given or got back.
func dump(r *Registry) string {
	snap := r.Snapshot()
	out := fmt.Sprintf("serial %d\n", snap.Serial())
	for _, s := range snap.Sets() {
		out += fmt.Sprintf("set %+v\n", *s)
	}
	for _, n := range snap.Nodes() {
		out += fmt.Sprintf("node %+v\n", n)
	}
	for _, name := range []string{"web.swarm.internal.", "db.swarm.internal.", "x.swarm.internal."} {
		out += fmt.Sprintf("lookup %s %q exists=%v\n", name, ids(snap.Lookup(name)), snap.Exists(name))
	}
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.9.9.9"} {
		out += fmt.Sprintf("addr %s %q\n", ip, ids(snap.LookupAddr(netip.MustParseAddr(ip))))
	}
	for _, st := range append([]NodeState{r.LocalState()}, r.NodeStates()...) {
		out += fmt.Sprintf("state %+v\n", st)
	}
	return out
}

func fullSet(id, name, ip string) RecordSet {
	s := rs(id, name, ip)
	s.Names = []string{"x.swarm.internal."}
	s.Ports = []Port{{Service: "http", Proto: "tcp", Port: 80}}
	s.Aliases = []Alias{{Name: "alias-" + id + ".swarm.internal.", Target: name + ".swarm.internal."}}
	return s
}

func scribble(s *RecordSet) {
	if len(s.Names) > 0 {
		s.Names[0] = "evil."
	}
	if len(s.Addrs) > 0 {
		s.Addrs[0].IP = netip.MustParseAddr("10.9.9.9")
	}
	if len(s.Ports) > 0 {
		s.Ports[0].Port = 666
	}
	if len(s.Aliases) > 0 {
		s.Aliases[0].Target = "evil."
	}
}

// TestMutateInputs changes what the caller passed in after each write.
func TestMutateInputs(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	local := fullSet("c1", "web", "10.0.0.1")
	mustSetLocal(t, r, local)
	all := []RecordSet{fullSet("c1", "web", "10.0.0.1"), fullSet("c3", "web", "10.0.0.1")}
	if _, err := r.ReplaceLocal(all); err != nil {
		t.Fatal(err)
	}
	remote := fullSet("c2", "db", "10.0.0.2")
	mustApply(t, r, Delta{Node: "b", Generation: 1, Version: 1, ContainerID: "c2", Set: &remote})
	st := NodeState{Node: "c", Generation: 1, Version: 2, Sets: []RecordSet{fullSet("c4", "db", "10.0.0.2")}}
	st.Sets[0].Version = 2
	mustMerge(t, r, st)
	before := dump(r)

	scribble(&local)
	scribble(&all[0])
	scribble(&all[1])
	scribble(&remote)
	scribble(&st.Sets[0])
	if after := dump(r); after != before {
		t.Errorf("changing the inputs after the writes changed the registry:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestMutateResults changes what the registry returned.
func TestMutateResults(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, fullSet("c1", "web", "10.0.0.1"))
	mustSetLocal(t, r, fullSet("c3", "web", "10.0.0.2"))
	remote := fullSet("c2", "web", "10.0.0.2")
	mustApply(t, r, Delta{Node: "b", Generation: 1, Version: 1, ContainerID: "c2", Set: &remote})
	r.SetLease("b", clk.Now().Add(1e9))
	before := dump(r)
	snap := r.Snapshot()

	ls := r.LocalState()
	scribble(&ls.Sets[0])
	ls.Sets[1] = RecordSet{}
	for _, st := range r.NodeStates() {
		for i := range st.Sets {
			scribble(&st.Sets[i])
		}
	}

	// The result slices are the caller's: shuffling (as a DNS answer does),
	// overwriting or appending to them changes nothing for anyone else.
	web := snap.Lookup("web.swarm.internal.")
	slices.Reverse(web)
	web[0] = nil
	_ = append(web[:1], &RecordSet{ContainerID: "evil"})
	byAddr := snap.LookupAddr(netip.MustParseAddr("10.0.0.2"))
	slices.Reverse(byAddr)
	byAddr[0] = nil
	sets := snap.Sets()
	sets[0] = nil
	_ = append(sets[:0], &RecordSet{ContainerID: "evil"})
	mine := snap.NodeSets("a")
	mine[0] = nil
	nodes := snap.Nodes()
	nodes[0].Name, nodes[0].Records = "evil", 99

	if after := dump(r); after != before {
		t.Errorf("changing returned values changed the registry:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
