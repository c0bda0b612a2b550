package gossip

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/logtest"
	"github.com/swarmdns/swarmdns/registry"
)

// TestReplicate: a set written on one node shows up on every other, merged
// by name with the other nodes' sets; a removal disappears everywhere.
func TestReplicate(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{})
	a, b, c := nodes[0], nodes[1], nodes[2]

	mustSet(t, a, testSet("ca", "web", "10.0.0.1"))
	mustSet(t, b, testSet("cb", "web", "10.0.0.2"))
	want := []string{"n0/ca", "n1/cb"}
	eventually(t, 5*time.Second, func() error {
		for _, n := range nodes {
			if got := lookup(n, "web.swarm.internal"); !slices.Equal(got, want) {
				return fmt.Errorf("%s: web = %v; want %v", n.name, got, want)
			}
		}
		return nil
	})

	a.reg.RemoveLocal("ca")
	eventually(t, 5*time.Second, func() error {
		for _, n := range nodes {
			if got := lookup(n, "web.swarm.internal"); !slices.Equal(got, []string{"n1/cb"}) {
				return fmt.Errorf("%s: web = %v; want [n1/cb]", n.name, got)
			}
		}
		return nil
	})
	awaitEqualViews(t, 5*time.Second, a, b, c)
}

// TestRestartSupersedes: a node that crashed and restarts (a new
// generation, here also a new port, like a rescheduled task) replaces
// everything its earlier run published: no stale set, no duplicate.
func TestRestartSupersedes(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, a, testSet("c1", "one", "10.0.0.1"))
	mustSet(t, a, testSet("c2", "two", "10.0.0.2"))
	awaitEqualViews(t, 5*time.Second, a, b, c)

	a.crash()
	eventually(t, 10*time.Second, func() error {
		if s := memberState(b, "n0"); s != StateDead {
			return fmt.Errorf("b sees n0 %s; want dead", s)
		}
		return nil
	})

	// While it was down, c1 went away and c2 moved; c3 is new.
	a2 := startNode(t, "n0", nodeOpts{ip: a.ip, join: []string{b.addr()}})
	mustSet(t, a2, testSet("c2", "two", "10.0.0.22"))
	mustSet(t, a2, testSet("c3", "three", "10.0.0.3"))
	awaitMembers(t, a2, b, c)
	awaitEqualViews(t, 10*time.Second, a2, b, c)
	for _, n := range []*tnode{b, c} {
		if got := ownerSets(n, "n0"); !slices.Equal(got, []string{"c2", "c3"}) {
			t.Errorf("%s holds n0's %v; want [c2 c3]", n.name, got)
		}
		if got := lookup(n, "two.swarm.internal"); len(got) != 1 {
			t.Errorf("%s: two = %v; want one set", n.name, got)
		}
		for _, s := range n.reg.Snapshot().Lookup("two.swarm.internal.") {
			if ip := s.Addrs[0].IP.String(); ip != "10.0.0.22" {
				t.Errorf("%s: two has %s; want 10.0.0.22", n.name, ip)
			}
		}
		if gen, _ := n.reg.Generation("n0"); gen != a2.node.Generation() {
			t.Errorf("%s holds n0 at generation %d; want %d", n.name, gen, a2.node.Generation())
		}
	}
}

// TestCleanLeave: a node that stops cleanly takes its records with it at
// once, well before any lease.
func TestCleanLeave(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{lease: time.Hour})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, c, testSet("cc", "leaver", "10.0.0.3"))
	awaitEqualViews(t, 5*time.Second, a, b, c)

	start := time.Now()
	c.leave()
	eventually(t, 3*time.Second, func() error {
		for _, n := range []*tnode{a, b} {
			if got := lookup(n, "leaver.swarm.internal"); len(got) != 0 {
				return fmt.Errorf("%s still answers leaver: %v", n.name, got)
			}
			if s := memberState(n, "n2"); s != StateLeft {
				return fmt.Errorf("%s sees n2 %s; want left", n.name, s)
			}
		}
		return nil
	})
	t.Logf("records gone %v after the leave started", time.Since(start))
}

// TestFailedNodeLease: a node that dies without leaving keeps its records
// on the others until the lease ends, then they go.
func TestFailedNodeLease(t *testing.T) {
	const lease = 2 * time.Second
	nodes := startCluster(t, 3, nodeOpts{lease: lease})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, c, testSet("cc", "crasher", "10.0.0.3"))
	awaitEqualViews(t, 5*time.Second, a, b, c)

	c.crash()
	var deadAt time.Time
	eventually(t, 10*time.Second, func() error {
		for _, n := range []*tnode{a, b} {
			if s := memberState(n, "n2"); s != StateDead {
				return fmt.Errorf("%s sees n2 %s; want dead", n.name, s)
			}
		}
		for _, m := range a.node.Members() {
			if m.Name == "n2" {
				deadAt = m.Since
			}
		}
		return nil
	})
	for _, n := range []*tnode{a, b} {
		if got := lookup(n, "crasher.swarm.internal"); len(got) != 1 {
			t.Errorf("%s: crasher = %v right after n2 failed; want its set (lease)", n.name, got)
		}
		if info, ok := n.reg.Snapshot().Node("n2"); !ok || info.Expires.IsZero() {
			t.Errorf("%s: n2 = %+v; want a running lease", n.name, info)
		}
	}
	eventually(t, lease+5*time.Second, func() error {
		if got := lookup(a, "crasher.swarm.internal"); len(got) != 0 {
			return fmt.Errorf("a still answers crasher")
		}
		return nil
	})
	if held := time.Since(deadAt); held < lease-100*time.Millisecond {
		t.Errorf("records dropped %v after the failure; want at least the lease %v", held, lease)
	}
	eventually(t, 5*time.Second, func() error {
		if got := lookup(b, "crasher.swarm.internal"); len(got) != 0 {
			return fmt.Errorf("b still answers crasher")
		}
		return nil
	})
}

// send delivers a raw message from one node's memberlist to another's, as
// a peer (or an attacker with the key) could.
func send(t testing.TB, from, to *tnode, buf []byte, reliable bool) {
	t.Helper()
	ap := to.node.LocalAddr()
	dst := &memberlist.Node{Name: to.name, Addr: net.IP(ap.Addr().AsSlice()), Port: ap.Port()}
	var err error
	if reliable {
		err = from.node.ml.SendReliable(dst, buf)
	} else {
		err = from.node.ml.SendBestEffort(dst, buf)
	}
	if err != nil {
		t.Fatalf("send %s -> %s: %v", from.name, to.name, err)
	}
}

// TestStaleAndReplayedDeltas: an old delta replayed after a newer one, or
// after a full state that removed its container, changes nothing.
func TestStaleAndReplayedDeltas(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{})
	a, b, c := nodes[0], nodes[1], nodes[2]

	// Versions are change times (registry/serial.go): note each one.
	var versions []uint64
	noted := func() { versions = append(versions, a.reg.LocalState().Version) }
	v1 := testSet("c1", "web", "10.0.0.1")
	mustSet(t, a, v1)
	noted()
	mustSet(t, a, testSet("c1", "web", "10.0.0.11"))
	noted()
	mustSet(t, a, testSet("c9", "gone", "10.0.0.9"))
	noted()
	a.reg.RemoveLocal("c9")
	awaitEqualViews(t, 5*time.Second, a, b, c)
	// Make sure b merged a's full state (push/pull) since.
	eventually(t, 10*time.Second, func() error {
		if info, _ := b.reg.Snapshot().Node("n0"); info.Version != a.reg.LocalState().Version {
			return fmt.Errorf("b holds n0 at version %d; want %d", info.Version, a.reg.LocalState().Version)
		}
		return nil
	})
	before := view(b)

	gen := a.node.Generation()
	nine := testSet("c9", "gone", "10.0.0.9")
	replays := [][]byte{
		encodeDelta(registry.Delta{Node: "n0", Generation: gen, Version: versions[0], ContainerID: "c1", Set: &v1}),
		encodeDelta(registry.Delta{Node: "n0", Generation: gen, Version: versions[2], ContainerID: "c9", Set: &nine}),
		encodeDelta(registry.Delta{Node: "n0", Generation: gen - 1, Version: versions[2] + 99, ContainerID: "c1", Set: &v1}), // an earlier run
		encodeDelta(registry.Delta{Node: "n0", Generation: gen, Version: versions[1], ContainerID: "c1"}),                    // removal at an old version
	}
	for _, r := range replays {
		send(t, c, b, r, true)
	}
	// A marker sent after the replays on the same path: once it is in,
	// the replays have been handled.
	marker := testSet("marker", "marker", "10.9.9.9")
	send(t, c, b, encodeDelta(registry.Delta{Node: "ghost", Generation: 1, Version: 1, ContainerID: "marker", Set: &marker}), true)
	eventually(t, 5*time.Second, func() error {
		if len(lookup(b, "marker.swarm.internal")) == 0 {
			return fmt.Errorf("marker not in yet")
		}
		return nil
	})
	after := strings.ReplaceAll(view(b), "ghost/marker v1 [marker.swarm.internal.] 10.9.9.9\n", "")
	if after != before {
		t.Errorf("replays changed b's view:\n%s\nwant\n%s", after, before)
	}
}

// TestGarbageAndOwnNode: malformed messages, unknown types and a delta
// claiming the receiver as owner are dropped; the node carries on.
func TestGarbageAndOwnNode(t *testing.T) {
	nodes := startCluster(t, 2, nodeOpts{})
	a, b := nodes[0], nodes[1]
	mustSet(t, b, testSet("mine", "mine", "10.0.0.2"))
	awaitEqualViews(t, 5*time.Second, a, b)
	rejected := b.node.Stats().Rejected

	forged := testSet("mine", "mine", "6.6.6.6")
	forgedNew := testSet("evil", "evil", "6.6.6.6")
	good := testSet("s", "good", "10.0.0.1")
	garbage := [][]byte{
		{0xff},
		{99, 1, 2, 3},
		{msgDelta},
		{msgDelta, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		{msgState, 1, 1, 'x', 1, 0, 0xff, 0xff, 0xff, 0x7f},
		encodeDelta(registry.Delta{Node: "n1", Generation: b.node.Generation(), Version: 1000, ContainerID: "mine", Set: &forged}),
		encodeDelta(registry.Delta{Node: "n1", Generation: b.node.Generation(), Version: 1001, ContainerID: "evil", Set: &forgedNew}),
		mustEncodeState(t, &stateMsg{Sender: "n1", Generation: b.node.Generation(), States: []registry.NodeState{{Node: "n1", Generation: b.node.Generation(), Version: 5000}}}),
		encodeDelta(registry.Delta{Node: "far", Generation: uint64(time.Now().Add(48 * time.Hour).UnixNano()), Version: 1, ContainerID: "x", Set: &forgedNew}),
		encodeNotice(notice{Node: "someone-else", Generation: 1}),
	}
	for _, g := range garbage {
		send(t, a, b, g, false)
		send(t, a, b, g, true)
	}
	next := a.reg.LocalState().Version + 100 // newer than any of n0's (versions are change times)
	send(t, a, b, encodeDelta(registry.Delta{Node: "n0", Generation: a.node.Generation(), Version: next, ContainerID: "s", Set: &good}), true)
	eventually(t, 5*time.Second, func() error {
		if len(lookup(b, "good.swarm.internal")) == 0 {
			return fmt.Errorf("the good delta after the garbage is not in")
		}
		return nil
	})
	for _, name := range []string{"evil.swarm.internal", "x.swarm.internal"} {
		if got := lookup(b, name); len(got) != 0 {
			t.Errorf("b: %s = %v; want nothing", name, got)
		}
	}
	for _, s := range b.reg.Snapshot().Lookup("mine.swarm.internal.") {
		if s.Node != "n1" || s.Addrs[0].IP.String() != "10.0.0.2" {
			t.Errorf("b's own set was overwritten: %+v", s)
		}
	}
	if got := b.node.Stats().Rejected; got <= rejected {
		t.Errorf("rejected count %d; want more than %d", got, rejected)
	}
}

// partition cuts the traffic between every node of side1 and every node of
// side2; heal restores it.
func partition(side1, side2 []*tnode) {
	for _, x := range side1 {
		for _, y := range side2 {
			x.tr.block(y.ip)
			y.tr.block(x.ip)
		}
	}
}

func heal(side1, side2 []*tnode) {
	for _, x := range side1 {
		for _, y := range side2 {
			x.tr.unblock(y.ip)
			y.tr.unblock(x.ip)
		}
	}
}

// TestPartitionHeal: a node is cut off while both sides change their
// records. With a long lease the others keep its records; with a short one
// they drop them (and memberlist forgets the node). Either way, after the
// heal the rejoin loop brings it back and every view converges, with what
// changed on both sides during the partition.
func TestPartitionHeal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lease  time.Duration
		expire bool
	}{
		{"lease holds", time.Hour, false},
		{"lease runs out", 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, 4, nodeOpts{lease: tc.lease})
			a, b, c, d := nodes[0], nodes[1], nodes[2], nodes[3]
			mustSet(t, c, testSet("c-old", "cold", "10.0.3.1"))
			mustSet(t, c, testSet("c-keep", "ckeep", "10.0.3.2"))
			mustSet(t, a, testSet("a-old", "aold", "10.0.1.1"))
			awaitEqualViews(t, 5*time.Second, a, b, c, d)

			major, minor := []*tnode{a, b, d}, []*tnode{c}
			partition(major, minor)
			eventually(t, 10*time.Second, func() error {
				for _, n := range major {
					if s := memberState(n, "n2"); s != StateDead {
						return fmt.Errorf("%s sees n2 %s; want dead", n.name, s)
					}
				}
				return nil
			})
			// Changes on both sides while they cannot talk.
			mustSet(t, c, testSet("c-new", "cnew", "10.0.3.3"))
			c.reg.RemoveLocal("c-old")
			mustSet(t, a, testSet("a-new", "anew", "10.0.1.2"))
			b.reg.RemoveLocal("none") // no-op
			mustSet(t, d, testSet("d-new", "dnew", "10.0.4.1"))

			if tc.expire {
				eventually(t, tc.lease+5*time.Second, func() error {
					for _, n := range major {
						if got := ownerSets(n, "n2"); len(got) != 0 {
							return fmt.Errorf("%s still holds n2's %v", n.name, got)
						}
					}
					return nil
				})
				// Let memberlist forget the dead node (GossipToTheDeadTime):
				// only the rejoin loop can heal after that.
				deadline := time.Now().Add(3 * time.Second)
				eventually(t, 5*time.Second, func() error {
					if time.Now().Before(deadline) {
						return fmt.Errorf("waiting for memberlist to reap n2")
					}
					return nil
				})
			} else {
				for _, n := range major {
					if got := ownerSets(n, "n2"); !slices.Equal(got, []string{"c-keep", "c-old"}) {
						t.Errorf("%s holds n2's %v during the partition; want [c-keep c-old] (lease)", n.name, got)
					}
				}
			}

			healed := time.Now()
			heal(major, minor)
			awaitMembers(t, nodes...)
			awaitEqualViews(t, 10*time.Second, nodes...)
			t.Logf("converged %v after the heal", time.Since(healed))
			for _, n := range nodes {
				if got := ownerSets(n, "n2"); !slices.Equal(got, []string{"c-keep", "c-new"}) {
					t.Errorf("%s holds n2's %v; want [c-keep c-new]", n.name, got)
				}
				if got := ownerSets(n, "n0"); !slices.Equal(got, []string{"a-new", "a-old"}) {
					t.Errorf("%s holds n0's %v; want [a-new a-old]", n.name, got)
				}
				if info, _ := n.reg.Snapshot().Node("n2"); n != c && !info.Expires.IsZero() {
					t.Errorf("%s: n2's lease still runs after the heal: %+v", n.name, info)
				}
			}
		})
	}
}

// TestWrongKey: nodes with another key, or none, can neither join an
// encrypted cluster nor inject records into it, and the cluster's log says
// why.
func TestWrongKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	var logs logtest.Buffer
	reg := prometheus.NewRegistry()
	a := startNode(t, "a", nodeOpts{keys: [][]byte{key}, logOut: &logs, metrics: reg})
	b := startNode(t, "b", nodeOpts{keys: [][]byte{key}, join: []string{a.addr()}})
	awaitMembers(t, a, b)

	for _, tc := range []struct {
		name string
		keys [][]byte
		want string
	}{
		{"other key", [][]byte{[]byte("fedcba9876543210")}, "decrypt"},
		{"no key", nil, "encrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := startNode(t, "x-"+strings.ReplaceAll(tc.name, " ", "-"), nodeOpts{keys: tc.keys, join: []string{a.addr()}})
			mustSet(t, x, testSet("evil", "evil", "6.6.6.6"))
			// x keeps trying to join (the rejoin loop) and a keeps
			// refusing it; the refusal shows in a's log.
			eventually(t, 10*time.Second, func() error {
				if !strings.Contains(strings.ToLower(logs.String()), tc.want) {
					return fmt.Errorf("a's log does not mention %q yet", tc.want)
				}
				return nil
			})
			// The refusals are counted, for an alert.
			eventually(t, 10*time.Second, func() error {
				if v := gathered(t, reg)["swarmdns_gossip_decrypt_failures_total"]; v < 1 {
					return fmt.Errorf("decrypt failures counted: %v", v)
				}
				return nil
			})
			// Direct injection, by packet and by stream.
			ev := testSet("evil2", "evil2", "6.6.6.7")
			msg := encodeDelta(registry.Delta{Node: "intruder", Generation: 1, Version: 1, ContainerID: "evil2", Set: &ev})
			ap := a.node.LocalAddr()
			dst := &memberlist.Node{Name: "a", Addr: net.IP(ap.Addr().AsSlice()), Port: ap.Port()}
			_ = x.node.ml.SendBestEffort(dst, msg)
			_ = x.node.ml.SendReliable(dst, msg)
			select {
			case <-x.node.Joined():
				t.Errorf("%s reports it joined", x.name)
			default:
			}
			for _, n := range []*tnode{a, b} {
				if got := n.node.ml.NumMembers(); got != 2 {
					t.Errorf("%s has %d members; want 2", n.name, got)
				}
				for _, name := range []string{"evil.swarm.internal", "evil2.swarm.internal"} {
					if got := lookup(n, name); len(got) != 0 {
						t.Errorf("%s: %s = %v; want nothing", n.name, name, got)
					}
				}
			}
			x.leave()
		})
	}
}

// TestClockWentBackwards: a node restarts with a generation below its
// previous run's (its clock went back). The peers still hold the old run;
// they tell the node, which moves above it, and its records are taken.
func TestClockWentBackwards(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{lease: time.Hour})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, a, testSet("c1", "old", "10.0.0.1"))
	awaitEqualViews(t, 5*time.Second, a, b, c)
	oldGen := a.node.Generation()
	a.crash()

	a2 := startNode(t, "n0", nodeOpts{ip: a.ip, gen: oldGen - uint64(time.Hour), join: []string{b.addr()}})
	mustSet(t, a2, testSet("c2", "new", "10.0.0.2"))
	awaitMembers(t, a2, b, c)
	awaitEqualViews(t, 10*time.Second, a2, b, c)
	if g := a2.node.Generation(); g <= oldGen {
		t.Errorf("restarted node's generation %d; want above the old run's %d", g, oldGen)
	}
	for _, n := range []*tnode{b, c} {
		if got := ownerSets(n, "n0"); !slices.Equal(got, []string{"c2"}) {
			t.Errorf("%s holds n0's %v; want [c2]", n.name, got)
		}
	}
}

// TestRandomOpsConverge: writes on every node in random order, with no
// pause between them, end with every node holding the same records.
func TestRandomOpsConverge(t *testing.T) {
	nodes := startCluster(t, 4, nodeOpts{})
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for i := range 300 {
		n := nodes[rng.IntN(len(nodes))]
		id := fmt.Sprintf("c%d", rng.IntN(12))
		switch op := rng.IntN(10); {
		case op < 6:
			mustSet(t, n, testSet(id, fmt.Sprintf("svc%d", rng.IntN(4)), fmt.Sprintf("10.%d.0.%d", rng.IntN(4), i%250)))
		case op < 9:
			n.reg.RemoveLocal(id)
		default:
			var sets []registry.RecordSet
			for j := range rng.IntN(5) {
				sets = append(sets, testSet(fmt.Sprintf("c%d", j*2), "bulk", fmt.Sprintf("10.9.%d.%d", j, i%250)))
			}
			if _, err := n.reg.ReplaceLocal(sets); err != nil {
				t.Fatal(err)
			}
		}
	}
	awaitEqualViews(t, 15*time.Second, nodes...)
	// Each node's own records are what the others hold for it.
	for _, n := range nodes {
		var own []string
		for _, s := range n.reg.Snapshot().Sets() {
			if s.Node == n.name {
				own = append(own, s.ContainerID)
			}
		}
		for _, o := range nodes {
			if got := ownerSets(o, n.name); !slices.Equal(got, own) {
				t.Errorf("%s holds %s's %v; want %v", o.name, n.name, got, own)
			}
		}
	}
}

// TestJoinByName: a join address may be a DNS name (resolved at every
// attempt); Joined closes once joined, at once for a node that joins no one.
func TestJoinByName(t *testing.T) {
	a := startNode(t, "a", nodeOpts{ip: netip.MustParseAddr("127.0.0.1")})
	select {
	case <-a.node.Joined():
	default:
		t.Error("a joins no one, yet Joined is not closed")
	}
	b := startNode(t, "b", nodeOpts{join: []string{fmt.Sprintf("localhost:%d", a.node.LocalAddr().Port())}})
	select {
	case <-b.node.Joined():
	case <-time.After(10 * time.Second):
		t.Fatal("b did not join a through localhost within 10s")
	}
	awaitMembers(t, a, b)
	var names []string
	for _, m := range b.node.Members() {
		names = append(names, fmt.Sprintf("%s:%s:%v", m.Name, m.State, m.Local))
	}
	if want := []string{"a:alive:false", "b:alive:true"}; !slices.Equal(names, want) {
		t.Errorf("b's members = %v; want %v", names, want)
	}
}

// TestPortInUse: a gossip port that is taken fails New with a hint.
func TestPortInUse(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reg, err := registry.New(registry.Config{Node: "p", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Node: "p", BindAddr: ln.Addr().String(), Store: reg, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err == nil || !strings.Contains(err.Error(), "--gossip-listen") {
		t.Errorf("New on a taken port: error %v; want one suggesting another --gossip-listen", err)
	}
}

// TestConfigErrors: bad configurations fail New with a clear error.
func TestConfigErrors(t *testing.T) {
	reg, err := registry.New(registry.Config{Node: "p", Generation: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Store: reg}, "node name is empty"},
		{Config{Node: "p"}, "no store"},
		{Config{Node: "q", Store: reg}, "not the store's local node"},
		{Config{Node: "p", Generation: 8, Store: reg}, "differs from the store's"},
		{Config{Node: "p", Store: reg, Keys: [][]byte{[]byte("short")}}, "want 16, 24 or 32"},
		{Config{Node: "p", Store: reg, BindAddr: "example.com:1"}, "must be an IP address"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): error %v; want one with %q", tc.cfg, err, tc.want)
		}
	}
}

// TestMetrics: the metrics are registered and move.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startNode(t, "a", nodeOpts{metrics: reg})
	b := startNode(t, "b", nodeOpts{join: []string{a.addr()}})
	awaitMembers(t, a, b)
	mustSet(t, b, testSet("c", "m", "10.0.0.1"))
	eventually(t, 5*time.Second, func() error {
		if len(lookup(a, "m.swarm.internal")) == 0 {
			return fmt.Errorf("not replicated yet")
		}
		return nil
	})
	eventually(t, 5*time.Second, func() error {
		v := gathered(t, reg)
		for name, min := range map[string]float64{
			"swarmdns_gossip_members{state=alive}":                    2,
			"swarmdns_gossip_messages_total{direction=in,kind=batch}": 1,
			"swarmdns_gossip_bytes_total{direction=out,kind=batch}":   1,
			"swarmdns_gossip_pushpull_bytes":                          1,
		} {
			if v[name] < min {
				return fmt.Errorf("%s = %v; want at least %v (have %v)", name, v[name], min, v)
			}
		}
		return nil
	})
}

// gathered returns every sample in reg by name{label=value,...}.
func gathered(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// TestHoleRepair: a node that lost some deltas but got a later one holds
// the owner's latest version with holes; the digest hash reveals it and
// the owner's state fills them (adds and removals).
func TestHoleRepair(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, a, testSet("a1", "one", "10.0.0.1"))
	mustSet(t, a, testSet("a2", "two", "10.0.0.2"))
	awaitEqualViews(t, 5*time.Second, a, b, c)

	// c hears no gossip (UDP) for a while; TCP keeps everyone alive.
	c.tr.mutePackets(true, a.ip, b.ip)
	mustSet(t, a, testSet("a3", "three", "10.0.0.3"))
	a.reg.RemoveLocal("a1")
	eventually(t, 5*time.Second, func() error {
		if got := ownerSets(b, "n0"); !slices.Equal(got, []string{"a2", "a3"}) {
			return fmt.Errorf("b holds n0's %v; want [a2 a3]", got)
		}
		return nil
	})
	// Let the queued deltas run out before c hears again.
	eventually(t, 10*time.Second, func() error {
		if q := a.node.Stats().Queued + b.node.Stats().Queued; q != 0 {
			return fmt.Errorf("%d deltas still queued", q)
		}
		return nil
	})
	c.tr.mutePackets(false, a.ip, b.ip)
	mustSet(t, a, testSet("a4", "four", "10.0.0.4"))
	awaitEqualViews(t, 10*time.Second, a, b, c)
	if got := ownerSets(c, "n0"); !slices.Equal(got, []string{"a2", "a3", "a4"}) {
		t.Errorf("c holds n0's %v; want [a2 a3 a4]", got)
	}
}

// TestOversizeSet: a set too large for one gossip packet is not
// broadcast; push/pull carries it.
func TestOversizeSet(t *testing.T) {
	nodes := startCluster(t, 2, nodeOpts{})
	a, b := nodes[0], nodes[1]
	big := testSet("big", "big", "10.0.0.1")
	for i := range 80 {
		big.Names = append(big.Names, fmt.Sprintf("%s-alias-%02d.swarm.internal.", strings.Repeat(string(rune('a'+i%26)), 20), i))
	}
	if n := len(encodeDelta(registry.Delta{Node: "n0", Generation: 1, Version: 1, ContainerID: "big", Set: &big})); n <= a.node.maxDelta {
		t.Fatalf("test set encodes to %d bytes; want more than the %d-byte packet budget", n, a.node.maxDelta)
	}
	rejected := a.node.Stats().Rejected
	mustSet(t, a, big)
	eventually(t, 10*time.Second, func() error {
		if got := lookup(b, strings.Repeat("b", 20)+"-alias-79.swarm.internal"); len(got) != 1 {
			return fmt.Errorf("b does not hold the big set yet")
		}
		return nil
	})
	if got := a.node.Stats().Rejected; got <= rejected {
		t.Errorf("a's rejected count %d; want the oversize delta counted (more than %d)", got, rejected)
	}
}

// TestNoGoroutineLeft: once Run has returned, none of the node's own
// goroutines is left.
func TestNoGoroutineLeft(t *testing.T) {
	nodes := startCluster(t, 2, nodeOpts{})
	mustSet(t, nodes[0], testSet("c", "x", "10.0.0.1"))
	awaitEqualViews(t, 5*time.Second, nodes...)
	for _, n := range nodes {
		n.leave()
	}
	eventually(t, 5*time.Second, func() error {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "swarmdns/gossip.(*Node).") {
				return fmt.Errorf("goroutine left:\n%s", g)
			}
		}
		return nil
	})
}

// noPushPull leaves repairs to swarmdns's own state exchanges: no
// push/pull round comes within a test, and a suspicion lasts long enough
// (about 4s) for a short partition to end before anyone is found dead.
func noPushPull(c *memberlist.Config) {
	c.PushPullInterval = time.Hour
	c.SuspicionMult = 20
	c.SuspicionMaxTimeoutMult = 1
}

// TestShortPartitionRepair: a partition shorter than failure detection
// (suspicions, no death, so no join event after it) during which both
// sides add and remove sets: the deltas are lost, and without push/pull
// the refutations that follow the heal must trigger the state exchange.
func TestShortPartitionRepair(t *testing.T) {
	nodes := startCluster(t, 4, nodeOpts{tune: noPushPull})
	a, b, c, d := nodes[0], nodes[1], nodes[2], nodes[3]
	mustSet(t, a, testSet("a-old", "aold", "10.0.1.1"))
	mustSet(t, c, testSet("c-old", "cold", "10.0.3.1"))
	awaitEqualViews(t, 5*time.Second, nodes...)

	left, right := []*tnode{a, b}, []*tnode{c, d}
	partition(left, right)
	cut := time.Now()
	a.reg.RemoveLocal("a-old")
	mustSet(t, a, testSet("a-new", "anew", "10.0.1.2"))
	c.reg.RemoveLocal("c-old")
	mustSet(t, c, testSet("c-new", "cnew", "10.0.3.2"))
	// Each side sees its own changes; the queued deltas run out.
	eventually(t, 5*time.Second, func() error {
		if got := ownerSets(b, "n0"); !slices.Equal(got, []string{"a-new"}) {
			return fmt.Errorf("b holds n0's %v; want [a-new]", got)
		}
		if got := ownerSets(d, "n2"); !slices.Equal(got, []string{"c-new"}) {
			return fmt.Errorf("d holds n2's %v; want [c-new]", got)
		}
		if q := a.node.Stats().Queued + b.node.Stats().Queued + c.node.Stats().Queued + d.node.Stats().Queued; q != 0 {
			return fmt.Errorf("%d deltas still queued", q)
		}
		// Long enough for every node to probe the other side and suspect
		// it (a probe every 200ms, round-robin), shorter than a suspicion.
		if d := time.Since(cut); d < 1500*time.Millisecond {
			return fmt.Errorf("partition lasted %v; want 1.5s", d)
		}
		return nil
	})
	for _, n := range nodes {
		if memberState(n, "n0") == StateDead || memberState(n, "n2") == StateDead {
			t.Fatalf("%s found a peer dead: the partition was not short enough for this test", n.name)
		}
	}
	healed := time.Now()
	heal(left, right)
	awaitEqualViews(t, 5*time.Second, nodes...)
	t.Logf("converged %v after the heal", time.Since(healed))
	for _, n := range nodes {
		if got := ownerSets(n, "n0"); !slices.Equal(got, []string{"a-new"}) {
			t.Errorf("%s holds n0's %v; want [a-new]", n.name, got)
		}
		if got := ownerSets(n, "n2"); !slices.Equal(got, []string{"c-new"}) {
			t.Errorf("%s holds n2's %v; want [c-new]", n.name, got)
		}
	}
}

// TestRestartNewAddress: a node crashes and comes back at once at another
// address with the same name (a rescheduled task). Its peers refuse the new
// address while the old one looks alive; the restarted node sees them hold
// its name elsewhere and joins them again until they take the new one.
// Without push/pull nothing else would tell them.
func TestRestartNewAddress(t *testing.T) {
	noPP := func(c *memberlist.Config) { c.PushPullInterval = time.Hour }
	nodes := startCluster(t, 3, nodeOpts{tune: noPP})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, b, testSet("b-old", "bold", "10.0.2.1"))
	awaitEqualViews(t, 5*time.Second, a, b, c)

	b.crash()
	restarted := time.Now()
	b2 := startNode(t, "n1", nodeOpts{tune: noPP, join: []string{a.addr()}})
	mustSet(t, b2, testSet("b-new", "bnew", "10.0.2.2"))
	eventually(t, 8*time.Second, func() error {
		for _, n := range []*tnode{a, c} {
			var got Member
			for _, m := range n.node.Members() {
				if m.Name == "n1" {
					got = m
				}
			}
			if got.State != StateAlive || got.Addr.Addr() != b2.ip {
				return fmt.Errorf("%s sees n1 %s at %v; want alive at %v", n.name, got.State, got.Addr, b2.ip)
			}
			if sets := ownerSets(n, "n1"); !slices.Equal(sets, []string{"b-new"}) {
				return fmt.Errorf("%s holds n1's %v; want [b-new]", n.name, sets)
			}
		}
		return nil
	})
	t.Logf("peers took the new address and its records %v after the restart", time.Since(restarted))
}
