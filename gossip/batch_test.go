package gossip

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/registry"
)

func TestBatchRoundTrip(t *testing.T) {
	s1 := testSet("c1", "one", "10.0.0.1")
	b := &batch{Node: "n", Generation: 7, From: 3, To: 6, Changes: []registry.Delta{
		{Node: "n", Generation: 7, Version: 6, ContainerID: "c1", Set: &s1},
		{Node: "n", Generation: 7, Version: 4, ContainerID: strings.Repeat("ab", 32)},
	}}
	m, err := decode(encodeBatch(b))
	if err != nil || m.kind != msgBatch {
		t.Fatalf("decode = %v, %v", m.kind, err)
	}
	got := m.batch
	if got.Node != "n" || got.Generation != 7 || got.From != 3 || got.To != 6 || len(got.Changes) != 2 {
		t.Fatalf("decoded %+v", got)
	}
	if c := got.Changes[0]; c.Set == nil || c.Set.Name != s1.Name || c.Version != 6 || c.Node != "n" {
		t.Errorf("first change %+v", c)
	}
	if c := got.Changes[1]; c.Set != nil || c.ContainerID != strings.Repeat("ab", 32) || c.Version != 4 {
		t.Errorf("second change %+v", c)
	}
	for name, bad := range map[string]*batch{
		"version outside": {Node: "n", Generation: 1, From: 3, To: 6, Changes: []registry.Delta{{Version: 3, ContainerID: "c"}}},
		"reversed":        {Node: "n", Generation: 1, From: 6, To: 3},
		"no node":         {Generation: 1, To: 1},
	} {
		if _, err := decode(encodeBatch(bad)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	buf := encodeBatch(b)
	for i := range len(buf) {
		if _, err := decode(buf[:i]); err == nil {
			t.Errorf("truncated to %d bytes: decoded", i)
		}
	}
}

// TestBatchCarriesBurst: a burst of changes on one owner travels as one
// queued entry (not one per change) and reaches the others whole.
func TestBatchCarriesBurst(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{tune: noPushPull})
	a := nodes[0]
	var sets []registry.RecordSet
	for i := range 40 {
		sets = append(sets, testSet(fmt.Sprintf("b%d", i), fmt.Sprintf("burst%d", i), fmt.Sprintf("10.0.1.%d", i+1)))
	}
	for _, s := range sets {
		if _, err := a.reg.SetLocal(s); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 2*time.Second, func() error {
		if q := a.node.Stats().Queued; q > 1 {
			return fmt.Errorf("a's queue holds %d entries; want at most one (its batch)", q)
		}
		return nil
	})
	awaitEqualViews(t, 10*time.Second, nodes...)
}

// TestBatchBehindPulls: a node that missed a batch that was sent out in
// full learns from the next one that it is behind, and fetches the owner's
// state (push/pull is off, so nothing else brings the missed change).
func TestBatchBehindPulls(t *testing.T) {
	a := startNode(t, "a", nodeOpts{tune: noPushPull})
	bo := nodeOpts{tune: noPushPull, join: []string{a.addr()}}
	b := startNode(t, "b", bo)
	awaitMembers(t, a, b)
	// sentUpTo: the version up to which a's changes went out in full, the
	// changes pending, and the version a announced. memberlist calls
	// Finished when it takes an entry for its last transmission, before
	// that packet is sent: the announcement, queued on a later tick, is
	// what shows the batch's last copy gone (a copy of the announcement
	// that reaches b after the mute shows it behind as well).
	sentUpTo := func() (uint64, int, uint64) {
		o := &a.node.own
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.from, len(o.pending), o.announced
	}
	// b must miss a batch: with its packets from a muted, a's batch is
	// queued (by the gossip loop, after mustSet returns) and sent out in
	// full, which a's own record of what went out in full shows (an empty
	// queue is no sign: it is empty before the loop queues the batch too).
	// b may still learn the change by a stream (memberlist's TCP paths are
	// not muted); then the precondition failed, and the test tries again.
	// A probe that fails while b is muted and then gets through over TCP
	// makes a or b exchange own states with the other (probed, then
	// syncWithin), which brings b the change without a pull.
	lastSync := func(nd *Node, peer string) time.Time {
		nd.mu.Lock()
		defer nd.mu.Unlock()
		return nd.lastSync[peer]
	}
	lastSyncs := func() [2]time.Time { return [2]time.Time{lastSync(a.node, "b"), lastSync(b.node, "a")} }
	missed := false
	for try := 0; try < 5 && !missed; try++ {
		synced := lastSyncs()
		b.tr.mutePackets(true, a.ip)
		before, _, _ := sentUpTo()
		name := fmt.Sprintf("missed%d", try)
		mustSet(t, a, testSet(fmt.Sprint("c", try), name, "10.0.0.1"))
		eventually(t, 10*time.Second, func() error {
			if from, pending, announced := sentUpTo(); from <= before || pending != 0 || announced < from {
				return fmt.Errorf("a's batch not sent out in full yet (up to %d, was %d; %d pending; announced %d)", from, before, pending, announced)
			}
			return nil
		})
		if got := lookup(b, name+".swarm.internal"); len(got) != 0 {
			t.Logf("try %d: b learned %s while its packets were muted (%v); trying again", try, name, got)
			b.tr.mutePackets(false, a.ip)
			continue
		}
		if lastSyncs() != synced {
			t.Logf("try %d: a and b exchanged own states while b was muted; trying again", try)
			b.tr.mutePackets(false, a.ip)
			continue
		}
		missed = true
	}
	if !missed {
		t.Fatal("b never missed a batch: the test did not set up its case")
	}
	b.tr.mutePackets(false, a.ip)
	mustSet(t, a, testSet("next", "next", "10.0.0.2"))
	// Push/pull is off: b holds the missed change only if the next batch
	// told it that it was behind and it fetched the owner's state.
	awaitEqualViews(t, 5*time.Second, a, b)
	if p := b.node.Stats().Pulls; p == 0 {
		t.Error("b caught up without pulling a's state")
	}
}

// TestBatchFallback: while a member does not read batches (an earlier
// release: delegate protocol 1 at most), changes go out as deltas.
func TestBatchFallback(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startNode(t, "a", nodeOpts{metrics: reg})
	old := startNode(t, "old", nodeOpts{join: []string{a.addr()}, tune: func(c *memberlist.Config) { c.DelegateProtocolMax = 1 }})
	awaitMembers(t, a, old)
	mustSet(t, a, testSet("c1", "fallback", "10.0.0.1"))
	eventually(t, 5*time.Second, func() error {
		if len(lookup(old, "fallback.swarm.internal")) == 0 {
			return fmt.Errorf("not replicated yet")
		}
		return nil
	})
	v := gathered(t, reg)
	if v["swarmdns_gossip_messages_total{direction=out,kind=delta}"] == 0 || v["swarmdns_gossip_messages_total{direction=out,kind=batch}"] != 0 {
		t.Errorf("a sent deltas %v and batches %v; want deltas only", v["swarmdns_gossip_messages_total{direction=out,kind=delta}"], v["swarmdns_gossip_messages_total{direction=out,kind=batch}"])
	}
}

// TestDigestBehindPulls: a node that missed an owner's last batch (a
// removal), and hears of no later one, learns from a third node's
// push/pull digest that it is behind, and pulls the owner's state: the
// removal, which the third node's additive copy could not carry, reaches
// it.
func TestDigestBehindPulls(t *testing.T) {
	nodes := startCluster(t, 3, nodeOpts{tune: noPushPull})
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustSet(t, a, testSet("g", "gone", "10.0.0.1"))
	awaitEqualViews(t, 5*time.Second, nodes...)
	b.tr.mutePackets(true, a.ip, c.ip)
	a.reg.RemoveLocal("g")
	eventually(t, 10*time.Second, func() error {
		if got := lookup(c, "gone.swarm.internal"); len(got) != 0 {
			return fmt.Errorf("c still holds gone")
		}
		if qa, qc := a.node.Stats().Queued, c.node.Stats().Queued; qa+qc != 0 {
			return fmt.Errorf("queues: a %d, c %d", qa, qc)
		}
		return nil
	})
	b.tr.mutePackets(false, a.ip, c.ip)
	if got := lookup(b, "gone.swarm.internal"); len(got) != 1 {
		t.Fatalf("b got the removal while muted: %v", got)
	}
	// A push/pull between b and c (a join is one).
	if _, err := b.node.ml.Join([]string{c.addr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if got := lookup(b, "gone.swarm.internal"); len(got) != 0 {
			return fmt.Errorf("b still holds gone")
		}
		return nil
	})
	if b.node.Stats().Pulls == 0 {
		t.Error("b dropped the set without pulling a's state")
	}
}
