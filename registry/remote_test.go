package registry

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

// setDelta returns a delta from node b writing container id at version v of
// generation gen, with one address so that content differs per version.
func setDelta(gen, v uint64, id string) Delta {
	s := rs(id, id, "10.1.0.1")
	s.Image = "img:" + string(rune('a'+v%26))
	return Delta{Node: "b", Generation: gen, Version: v, ContainerID: id, Set: &s}
}

// delDelta returns a delta from node b removing container id.
func delDelta(gen, v uint64, id string) Delta {
	return Delta{Node: "b", Generation: gen, Version: v, ContainerID: id}
}

// versions returns node b's sets in r as container ID -> version.
func versions(r *Registry) map[string]uint64 {
	out := make(map[string]uint64)
	for id, s := range view(r.Snapshot(), "b") {
		out[id] = s.Version
	}
	return out
}

func TestApplyDelta(t *testing.T) {
	type step struct {
		d       Delta
		applied bool
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string]uint64 // b's sets: container -> version
	}{
		{"add", []step{{setDelta(1, 1, "x"), true}}, map[string]uint64{"x": 1}},
		{"replayed", []step{{setDelta(1, 1, "x"), true}, {setDelta(1, 1, "x"), false}}, map[string]uint64{"x": 1}},
		{"stale after newer", []step{{setDelta(1, 2, "x"), true}, {setDelta(1, 1, "x"), false}}, map[string]uint64{"x": 2}},
		{"other containers in any order", []step{{setDelta(1, 3, "x"), true}, {setDelta(1, 1, "y"), true}, {setDelta(1, 2, "z"), true}}, map[string]uint64{"x": 3, "y": 1, "z": 2}},
		{"remove", []step{{setDelta(1, 1, "x"), true}, {delDelta(1, 2, "x"), true}}, map[string]uint64{}},
		{"add replayed after remove", []step{{setDelta(1, 1, "x"), true}, {delDelta(1, 2, "x"), true}, {setDelta(1, 1, "x"), false}}, map[string]uint64{}},
		{"remove arrives first", []step{{delDelta(1, 2, "x"), true}, {setDelta(1, 1, "x"), false}}, map[string]uint64{}},
		{"re-add after remove", []step{{setDelta(1, 1, "x"), true}, {delDelta(1, 2, "x"), true}, {setDelta(1, 3, "x"), true}}, map[string]uint64{"x": 3}},
		{"version zero", []step{{setDelta(1, 0, "x"), false}}, map[string]uint64{}},
		{"older generation ignored", []step{{setDelta(2, 1, "x"), true}, {setDelta(1, 5, "y"), false}}, map[string]uint64{"x": 1}},
		{"newer generation drops the earlier run", []step{{setDelta(1, 1, "x"), true}, {setDelta(1, 2, "y"), true}, {setDelta(2, 1, "z"), true}}, map[string]uint64{"z": 1}},
		{"newer generation removal drops the earlier run", []step{{setDelta(1, 5, "x"), true}, {delDelta(2, 1, "q"), true}}, map[string]uint64{}},
		{"newer generation resets versions", []step{{setDelta(1, 9, "x"), true}, {setDelta(2, 1, "x"), true}}, map[string]uint64{"x": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, "a", 1)
			for i, st := range tt.steps {
				if got := mustApply(t, r, st.d); got != st.applied {
					t.Errorf("step %d (gen %d v%d %s set=%v): got applied=%v; want %v", i, st.d.Generation, st.d.Version, st.d.ContainerID, st.d.Set != nil, got, st.applied)
				}
			}
			if got := versions(r); !maps.Equal(got, tt.want) {
				t.Errorf("b's sets: got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestApplyDeltaSetsBookkeeping(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	d := setDelta(1, 4, "x")
	d.Set.Node, d.Set.Version = "liar", 99
	d.Set.Name = "X.Swarm.Internal"
	mustApply(t, r, d)
	got := r.Snapshot().Lookup("x.swarm.internal.")
	if len(got) != 1 {
		t.Fatalf("Lookup(x): got %d sets; want 1", len(got))
	}
	if got[0].Node != "b" || got[0].Version != 4 {
		t.Errorf("stored set: got node %q version %d; want b 4", got[0].Node, got[0].Version)
	}
	info, ok := r.Snapshot().Node("b")
	if !ok || info.Generation != 1 || info.Version != 4 || info.Records != 1 || info.Local || info.Stale {
		t.Errorf("Node(b): got %+v, %v; want gen 1, v4, 1 record, remote, fresh", info, ok)
	}
}

func TestApplyDeltaErrors(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	own := setDelta(1, 1, "x")
	own.Node = "a"
	if _, err := r.ApplyDelta(own); !errors.Is(err, ErrOwnNode) {
		t.Errorf("delta claiming the local node: got %v; want ErrOwnNode", err)
	}
	noNode := setDelta(1, 1, "x")
	noNode.Node = ""
	noID := setDelta(1, 1, "x")
	noID.ContainerID = ""
	mismatch := setDelta(1, 1, "x")
	mismatch.Set.ContainerID = "y"
	for name, d := range map[string]Delta{"no node": noNode, "no container": noID, "mismatched set": mismatch} {
		if ok, err := r.ApplyDelta(d); err == nil || ok {
			t.Errorf("ApplyDelta(%s): got %v, %v; want false and an error", name, ok, err)
		}
	}
	if n := len(r.Snapshot().Sets()); n != 0 {
		t.Errorf("refused deltas left %d sets; want 0", n)
	}
}

// stateOf builds b's state at version v of generation gen from sets given
// as container -> version.
func stateOf(gen, v uint64, sets map[string]uint64) NodeState {
	st := NodeState{Node: "b", Generation: gen, Version: v}
	for _, id := range slices.Sorted(maps.Keys(sets)) {
		s := *setDelta(gen, sets[id], id).Set
		s.Version = sets[id]
		st.Sets = append(st.Sets, s)
	}
	return st
}

func TestMergeNode(t *testing.T) {
	tests := []struct {
		name    string
		before  []Delta
		state   NodeState
		changed bool
		want    map[string]uint64
	}{
		{"adds to nothing", nil, stateOf(1, 3, map[string]uint64{"x": 1, "y": 3}), true, map[string]uint64{"x": 1, "y": 3}},
		{"same state is a no-op", []Delta{setDelta(1, 1, "x")}, stateOf(1, 1, map[string]uint64{"x": 1}), false, map[string]uint64{"x": 1}},
		{"updates older sets", []Delta{setDelta(1, 1, "x")}, stateOf(1, 4, map[string]uint64{"x": 4}), true, map[string]uint64{"x": 4}},
		{"removes what the state lacks", []Delta{setDelta(1, 1, "x"), setDelta(1, 2, "y")}, stateOf(1, 3, map[string]uint64{"y": 2}), true, map[string]uint64{"y": 2}},
		{"removes at the state's own version", []Delta{setDelta(1, 3, "x")}, stateOf(1, 3, map[string]uint64{}), true, map[string]uint64{}},
		{"keeps sets newer than the state", []Delta{setDelta(1, 5, "x")}, stateOf(1, 3, map[string]uint64{"y": 2}), true, map[string]uint64{"x": 5, "y": 2}},
		{"keeps a newer version of a set", []Delta{setDelta(1, 5, "x")}, stateOf(1, 4, map[string]uint64{"x": 4}), false, map[string]uint64{"x": 5}},
		{"a newer removal wins", []Delta{delDelta(1, 5, "x")}, stateOf(1, 4, map[string]uint64{"x": 3}), false, map[string]uint64{}},
		{"older generation ignored", []Delta{setDelta(2, 1, "x")}, stateOf(1, 9, map[string]uint64{"y": 9}), false, map[string]uint64{"x": 1}},
		{"newer generation replaces", []Delta{setDelta(1, 7, "x")}, stateOf(2, 2, map[string]uint64{"y": 1}), true, map[string]uint64{"y": 1}},
		{"newer empty generation drops", []Delta{setDelta(1, 7, "x")}, stateOf(2, 0, map[string]uint64{}), true, map[string]uint64{}},
		{"keeps held sets", []Delta{setDelta(1, 1, "x"), setDelta(1, 2, "y"), setDelta(1, 3, "z")}, withHeld(stateOf(1, 4, map[string]uint64{"y": 4}), "x", "nope"), true, map[string]uint64{"x": 1, "y": 4}},
		{"held sets of an older run are not kept", []Delta{setDelta(1, 1, "x")}, withHeld(stateOf(2, 1, nil), "x"), true, map[string]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, "a", 1)
			for _, d := range tt.before {
				mustApply(t, r, d)
			}
			if got := mustMerge(t, r, tt.state); got != tt.changed {
				t.Errorf("MergeNode: got changed=%v; want %v", got, tt.changed)
			}
			if got := versions(r); !maps.Equal(got, tt.want) {
				t.Errorf("b's sets: got %v; want %v", got, tt.want)
			}
		})
	}
}

// withHeld lists ids as held in st (sets the receiver holds already).
func withHeld(st NodeState, ids ...string) NodeState {
	st.Held = ids
	return st
}

func TestMergeNodePrunesTombs(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustApply(t, r, setDelta(1, 1, "x"))
	mustApply(t, r, delDelta(1, 2, "x"))
	mustApply(t, r, delDelta(1, 6, "y"))
	if got := len(r.nodes["b"].tombs); got != 2 {
		t.Fatalf("tombstones before the merge: got %d; want 2", got)
	}
	mustMerge(t, r, stateOf(1, 4, nil))
	tombs := r.nodes["b"].tombs
	if _, ok := tombs["x"]; ok || len(tombs) != 1 {
		t.Errorf("tombstones after merging v4: got %v; want only y's", tombs)
	}
}

func TestMergeNodeErrors(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	own := stateOf(1, 1, nil)
	own.Node = "a"
	if _, err := r.MergeNode(own); !errors.Is(err, ErrOwnNode) {
		t.Errorf("state claiming the local node: got %v; want ErrOwnNode", err)
	}
	tooNew := stateOf(1, 2, map[string]uint64{"x": 3})
	noID := stateOf(1, 2, map[string]uint64{"x": 1})
	noID.Sets[0].ContainerID = ""
	noNode := stateOf(1, 2, nil)
	noNode.Node = ""
	twice := stateOf(1, 2, map[string]uint64{"x": 1, "y": 2})
	twice.Sets[1].ContainerID = "x"
	for name, st := range map[string]NodeState{"set newer than state": tooNew, "no container": noID, "no node": noNode, "container twice": twice} {
		if ok, err := r.MergeNode(st); err == nil || ok {
			t.Errorf("MergeNode(%s): got %v, %v; want false and an error", name, ok, err)
		}
	}
	if n := len(r.Snapshot().Sets()); n != 0 {
		t.Errorf("refused states left %d sets; want 0", n)
	}
}

func TestRemoveNode(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("mine", "web", "10.0.0.1"))
	mustApply(t, r, setDelta(3, 1, "x"))
	mustApply(t, r, setDelta(3, 2, "y"))
	if r.RemoveNode("a") {
		t.Error("RemoveNode(local): got true; want false")
	}
	if r.RemoveNode("nobody") {
		t.Error("RemoveNode(unknown): got true; want false")
	}
	if !r.RemoveNode("b") {
		t.Fatal("RemoveNode(b): got false; want true")
	}
	snap := r.Snapshot()
	if got := ids(snap.Sets()); !slices.Equal(got, []string{"a/mine"}) {
		t.Errorf("sets after RemoveNode(b): got %q; want [a/mine]", got)
	}
	if _, ok := snap.Node("b"); ok {
		t.Error("Node(b) after RemoveNode: still listed")
	}
	if r.RemoveNode("b") {
		t.Error("second RemoveNode(b): got true; want false")
	}
	for _, st := range r.NodeStates() {
		if st.Node == "b" {
			t.Error("NodeStates lists the removed node b")
		}
	}
	// In-flight updates of the run that left are ignored.
	if mustApply(t, r, setDelta(3, 3, "z")) {
		t.Error("delta of the departed run: got applied; want ignored")
	}
	if mustMerge(t, r, stateOf(3, 9, map[string]uint64{"z": 9})) {
		t.Error("state of the departed run: got merged; want ignored")
	}
	if len(view(r.Snapshot(), "b")) != 0 {
		t.Error("the departed run's records came back")
	}
	// A new run is welcome.
	if !mustApply(t, r, setDelta(4, 1, "z")) {
		t.Error("delta of a new generation: got ignored; want applied")
	}
	if got := versions(r); !maps.Equal(got, map[string]uint64{"z": 1}) {
		t.Errorf("b's sets after its restart: got %v; want z@1", got)
	}
}

func TestLeases(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("mine", "web", "10.0.0.1"))
	mustApply(t, r, setDelta(1, 1, "x"))
	c := setDelta(1, 1, "x")
	c.Node = "c"
	mustApply(t, r, c)

	r.SetLease("a", clk.Now()) // the local node has no lease
	r.SetLease("nobody", clk.Now())
	if got := r.ExpireLeases(); len(got) != 0 {
		t.Fatalf("ExpireLeases with no lease running: got %q; want none", got)
	}

	end := clk.Now().Add(time.Minute)
	s := r.Snapshot().Serial()
	r.SetLease("b", end)
	info, _ := r.Snapshot().Node("b")
	if !info.Stale || !info.Expires.Equal(end) {
		t.Errorf("Node(b) with a lease: got stale=%v expires=%v; want true, %v", info.Stale, info.Expires, end)
	}
	same := r.Snapshot()
	r.SetLease("b", end)
	if r.Snapshot() != same {
		t.Error("the same lease again made a new snapshot")
	}
	serialGrows(t, r, clk, s, "after SetLease")

	clk.Advance(time.Minute - time.Second - time.Nanosecond)
	if got := r.ExpireLeases(); len(got) != 0 {
		t.Errorf("ExpireLeases before the end: got %q; want none", got)
	}
	if len(view(r.Snapshot(), "b")) != 1 {
		t.Error("b's records went before its lease ended")
	}
	clk.Advance(time.Nanosecond)
	if got := r.ExpireLeases(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("ExpireLeases at the end: got %q; want [b]", got)
	}
	snap := r.Snapshot()
	if len(view(snap, "b")) != 0 {
		t.Error("b's records outlived its lease")
	}
	if _, ok := snap.Node("b"); ok {
		t.Error("Node(b) still listed after its lease ended")
	}
	if len(view(snap, "c")) != 1 || len(view(snap, "a")) != 1 {
		t.Error("ExpireLeases dropped records of nodes without a lease")
	}
	if got := r.ExpireLeases(); len(got) != 0 {
		t.Errorf("second ExpireLeases: got %q; want none", got)
	}

	// A cancelled lease never expires.
	r.SetLease("c", clk.Now().Add(time.Second))
	r.SetLease("c", time.Time{})
	if info, _ := r.Snapshot().Node("c"); info.Stale || !info.Expires.IsZero() {
		t.Errorf("Node(c) after cancelling its lease: got %+v; want fresh", info)
	}
	clk.Advance(time.Hour)
	if got := r.ExpireLeases(); len(got) != 0 {
		t.Errorf("ExpireLeases after a cancel: got %q; want none", got)
	}
}

func TestExpiredNodeNewGeneration(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustApply(t, r, setDelta(1, 1, "x"))
	r.SetLease("b", clk.Now())
	r.ExpireLeases()
	if mustApply(t, r, setDelta(1, 2, "y")) {
		t.Error("delta of the expired run: got applied; want ignored")
	}
	if !mustApply(t, r, setDelta(2, 1, "y")) {
		t.Error("delta of a new generation after expiry: got ignored; want applied")
	}
	if got := versions(r); !maps.Equal(got, map[string]uint64{"y": 1}) {
		t.Errorf("b's sets: got %v; want y@1", got)
	}
}

// TestLeaseSurvivesUpdates: updates about a node may be relayed by third
// parties (push/pull carries every node's state) long after the node died,
// so none of them, not even a newer one or a new generation, ends its
// lease; only SetLease does.
func TestLeaseSurvivesUpdates(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustApply(t, r, setDelta(1, 1, "x"))
	end := clk.Now().Add(time.Minute)
	r.SetLease("b", end)
	leaseOf := func(what string) {
		t.Helper()
		if info, ok := r.Snapshot().Node("b"); !ok || !info.Stale || !info.Expires.Equal(end) {
			t.Errorf("after %s: b's lease got stale=%v expires=%v; want it running until %v", what, info.Stale, info.Expires, end)
		}
	}
	mustApply(t, r, setDelta(1, 1, "x"))
	leaseOf("a replayed delta")
	mustMerge(t, r, stateOf(1, 1, map[string]uint64{"x": 1}))
	leaseOf("a full state it already had")
	mustApply(t, r, setDelta(1, 2, "y"))
	leaseOf("a newer delta")
	mustMerge(t, r, stateOf(1, 3, map[string]uint64{"y": 2, "z": 3}))
	leaseOf("a newer full state")
	mustApply(t, r, setDelta(2, 1, "w"))
	leaseOf("a new generation")

	clk.Advance(time.Minute)
	if got := r.ExpireLeases(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("ExpireLeases: got %q; want [b]", got)
	}
	if got := versions(r); len(got) != 0 {
		t.Errorf("b's sets after its lease: got %v; want none", got)
	}
}

// TestFullStateIsAFloor: a full state is complete at its version, so once
// merged, any delta or older state at or below that version is a replay and
// must not bring back a container the state says is gone.
func TestFullStateIsAFloor(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *testing.T, r *Registry)
		want  map[string]uint64
	}{
		{"replayed add after the state pruned its tomb", func(t *testing.T, r *Registry) {
			mustApply(t, r, setDelta(1, 1, "x"))
			mustApply(t, r, delDelta(1, 2, "x"))
			mustMerge(t, r, stateOf(1, 2, nil)) // prunes x's tomb
			if mustApply(t, r, setDelta(1, 1, "x")) {
				t.Error("replayed add of x: got applied; want ignored")
			}
		}, map[string]uint64{}},
		{"late add of a container removed before the state", func(t *testing.T, r *Registry) {
			// x was added at 3 and removed at 4; both deltas were delayed.
			mustMerge(t, r, stateOf(1, 5, map[string]uint64{"y": 5}))
			if mustApply(t, r, setDelta(1, 3, "x")) {
				t.Error("late add of x: got applied; want ignored")
			}
		}, map[string]uint64{"y": 5}},
		{"older state after a newer one", func(t *testing.T, r *Registry) {
			mustMerge(t, r, stateOf(1, 5, map[string]uint64{"y": 5}))
			mustMerge(t, r, stateOf(1, 3, map[string]uint64{"x": 3}))
		}, map[string]uint64{"y": 5}},
		{"deltas above the state still apply", func(t *testing.T, r *Registry) {
			mustMerge(t, r, stateOf(1, 5, map[string]uint64{"y": 5}))
			if !mustApply(t, r, setDelta(1, 6, "x")) {
				t.Error("delta above the state: got ignored; want applied")
			}
			if !mustApply(t, r, delDelta(1, 7, "y")) {
				t.Error("removal above the state: got ignored; want applied")
			}
		}, map[string]uint64{"x": 6}},
		{"a new generation starts from nothing", func(t *testing.T, r *Registry) {
			mustMerge(t, r, stateOf(1, 5, map[string]uint64{"y": 5}))
			if !mustApply(t, r, setDelta(2, 1, "x")) {
				t.Error("first delta of a new generation: got ignored; want applied")
			}
		}, map[string]uint64{"x": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, "a", 1)
			tt.steps(t, r)
			if got := versions(r); !maps.Equal(got, tt.want) {
				t.Errorf("b's sets: got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestExpireLeasesOrdered(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	nodes := []string{"b", "c", "d", "e", "f"}
	for _, node := range nodes {
		d := setDelta(1, 1, "x")
		d.Node = node
		mustApply(t, r, d)
		r.SetLease(node, clk.Now())
	}
	if got := r.ExpireLeases(); !slices.Equal(got, nodes) {
		t.Errorf("ExpireLeases: got %q; want %q (by name)", got, nodes)
	}
}

// TestNodeInfoFollowsEveryUpdate: what a snapshot says of a node (its
// version, above all, which gossip digests carry) is what the registry
// holds, even after an update that changed no record.
func TestNodeInfoFollowsEveryUpdate(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustMerge(t, r, stateOf(1, 0, nil))
	if _, ok := r.Snapshot().Node("b"); !ok {
		t.Error("Node(b) after merging its empty state: not listed; want listed (as NodeStates does)")
	}
	mustApply(t, r, setDelta(1, 1, "x"))
	mustMerge(t, r, stateOf(1, 5, map[string]uint64{"x": 1}))
	if info, _ := r.Snapshot().Node("b"); info.Version != 5 {
		t.Errorf("Node(b).Version after merging v5: got %d; want 5", info.Version)
	}
	checkSnapshot(t, r)
}

// An owned state's slices are kept as they are; another state's are
// copied, so that the caller may reuse them.
func TestMergeNodeOwned(t *testing.T) {
	for _, owned := range []bool{false, true} {
		r, _ := newTestRegistry(t, "a", 1)
		s := rs("x", "x", "10.1.0.1")
		s.Names, s.Version = []string{s.Name}, 1 // normal already
		st := NodeState{Node: "b", Generation: 1, Version: 1, Sets: []RecordSet{s}, Owned: owned}
		mustMerge(t, r, st)
		got, ok := r.Snapshot().NodeSet("b", "x")
		if !ok {
			t.Fatal("x not merged")
		}
		if kept := &got.Addrs[0] == &s.Addrs[0] && &got.Names[0] == &s.Names[0]; kept != owned {
			t.Errorf("owned=%v: slices kept = %v; want %v", owned, kept, owned)
		}
	}
}
