package registry

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"
)

// pending reports whether sub has signalled, without waiting.
func pending(sub *Subscription) bool {
	select {
	case <-sub.Ready():
		return true
	default:
		return false
	}
}

// subCount returns how many subscriptions r holds.
func subCount(r *Registry) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

func TestSubscribeInitialSnapshot(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.1"))
	snap, sub := r.Subscribe(t.Context())
	defer sub.Close()
	if snap != r.Snapshot() {
		t.Error("Subscribe's snapshot: got an old one; want the current")
	}
	if len(snap.Lookup("web.swarm.internal.")) != 1 {
		t.Error("Subscribe's snapshot lacks the existing set")
	}
	if pending(sub) {
		t.Error("a fresh subscription signalled before any change")
	}
	if got := sub.Next(); len(got) != 0 {
		t.Errorf("Next before any change: got %d changes; want 0", len(got))
	}
}

func TestSubscribeCoalesces(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	_, sub := r.Subscribe(t.Context())
	defer sub.Close()

	mustSetLocal(t, r, rs("c1", "web", "10.0.0.1"))
	mustSetLocal(t, r, rs("c2", "db", "10.0.0.2"))
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.3")) // coalesced with the first
	r.RemoveLocal("c2")                             // coalesced with the second
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.3")) // no-op: no change
	mustApply(t, r, setDelta(1, 1, "x"))
	r.SetLease("b", clk.Now().Add(time.Minute))

	if !pending(sub) {
		t.Fatal("no signal after changes")
	}
	if pending(sub) {
		t.Error("Ready signalled twice for one batch; want one buffered signal")
	}
	got := sub.Next()
	var keys []string
	for _, c := range got {
		keys = append(keys, c.Node+"/"+c.ContainerID)
	}
	if want := []string{"a/c1", "a/c2", "b/", "b/x"}; !slices.Equal(keys, want) {
		t.Fatalf("changes: got %q; want %q (oldest first, one per container)", keys, want)
	}
	if c, v := got[0], localVersion(clk, 3); c.Set == nil || c.Set.Addrs[0].IP.String() != "10.0.0.3" || c.Version != v {
		t.Errorf("c1's change: got %+v; want its latest set, version %d", c, v)
	}
	if c, v := got[1], localVersion(clk, 4); c.Set != nil || c.Version != v {
		t.Errorf("c2's change: got %+v; want its removal at version %d", c, v)
	}
	if c := got[2]; !c.NodeChanged || c.Node != "b" {
		t.Errorf("lease change: got %+v; want NodeChanged for b", c)
	}
	if got := sub.Next(); len(got) != 0 {
		t.Errorf("second Next: got %d changes; want 0", len(got))
	}
}

// TestSubscribeNeverBlocksWriters writes far more than anyone reads while a
// subscriber never drains: every write returns, and the subscriber then sees
// each container's latest state once.
func TestSubscribeNeverBlocksWriters(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	_, slow := r.Subscribe(t.Context())
	defer slow.Close()
	const containers, rounds = 50, 40
	for round := range rounds {
		for c := range containers {
			s := rs(string(rune('A'+c%26))+string(rune('a'+c/26)), "n", "10.0.0.1")
			s.Image = string(rune('a' + round%26))
			s.Ports = []Port{{Proto: "tcp", Port: uint16(round)}}
			mustSetLocal(t, r, s)
		}
	}
	got := slow.Next()
	if len(got) != containers {
		t.Fatalf("slow subscriber: got %d changes; want %d (one per container)", len(got), containers)
	}
	for _, c := range got {
		if c.Set == nil || c.Set.Ports[0].Port != rounds-1 {
			t.Errorf("change for %s: got %+v; want the last round's set", c.ContainerID, c.Set)
		}
	}
}

func TestSubscriptionClose(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	_, sub := r.Subscribe(t.Context())
	mustSetLocal(t, r, rs("c1", "web"))
	sub.Close()
	sub.Close() // idempotent
	if n := subCount(r); n != 0 {
		t.Errorf("subscriptions after Close: got %d; want 0", n)
	}
	<-sub.Ready() // the signal from before Close may remain
	mustSetLocal(t, r, rs("c2", "db"))
	if pending(sub) {
		t.Error("a closed subscription signalled")
	}
	if got := sub.Next(); len(got) != 0 {
		t.Errorf("Next after Close: got %d changes; want 0", len(got))
	}
}

func TestSubscriptionEndsWithContext(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	ctx, cancel := context.WithCancel(t.Context())
	_, sub := r.Subscribe(ctx)
	_, other := r.Subscribe(t.Context())
	defer other.Close()
	cancel()
	waitFor(t, "the cancelled subscription to go", func() bool { return subCount(r) == 1 })
	mustSetLocal(t, r, rs("c1", "web"))
	if pending(sub) || len(sub.Next()) != 0 {
		t.Error("a subscription whose ctx ended still receives changes")
	}
	if !pending(other) {
		t.Error("the other subscription got nothing")
	}
	sub.Close() // still fine after ctx ended

	// Subscribing with a context that has already ended ends at once.
	_, dead := r.Subscribe(ctx)
	waitFor(t, "the stillborn subscription to go", func() bool { return subCount(r) == 1 })
	dead.Close()
}

// TestSubscribeAtomic subscribes while a writer runs: the initial snapshot
// plus the changes after it always give the writer's final state.
func TestSubscribeAtomic(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	const n = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			s := rs("k", "k")
			s.Ports = []Port{{Proto: "tcp", Port: uint16(i + 1)}}
			if _, err := r.SetLocal(s); err != nil {
				t.Errorf("SetLocal: %v", err)
				return
			}
			if i%7 == 0 {
				r.RemoveLocal("k")
			}
		}
	}()
	var subs []*Subscription
	var snaps []*Snapshot
	for range 20 {
		snap, sub := r.Subscribe(t.Context())
		defer sub.Close()
		subs, snaps = append(subs, sub), append(snaps, snap)
	}
	<-done
	final := r.Snapshot()
	for i, sub := range subs {
		state := view(snaps[i], "a")
		for _, c := range sub.Next() {
			if c.Set == nil {
				delete(state, c.ContainerID)
			} else {
				state[c.ContainerID] = c.Set
			}
		}
		want := view(final, "a")
		for id, s := range want {
			if state[id] != s {
				t.Errorf("subscriber %d: %s ends at version %v; want %d", i, id, state[id], s.Version)
			}
		}
	}
}

// opaqueCtx hides its parent's internals from package context, as some
// foreign Context implementations do; context.AfterFunc then watches it
// with a goroutine of its own.
type opaqueCtx struct{ context.Context }

func (opaqueCtx) Value(any) any { return nil }

// TestSubscriptionCloseReleasesContext: Close lets go of the context, so
// subscriptions opened and closed under one long-lived context do not pile
// up (here, one goroutine each).
func TestSubscriptionCloseReleasesContext(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	ctx := opaqueCtx{t.Context()}
	before := runtime.NumGoroutine()
	for range 50 {
		_, sub := r.Subscribe(ctx)
		sub.Close()
	}
	waitFor(t, "the closed subscriptions' goroutines to end", func() bool { return runtime.NumGoroutine() < before+10 })
}

// SubscribeLocal follows the local node's changes only: a batch of remote
// ones neither queues nor signals anything.
func TestSubscribeLocal(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	_, sub := r.SubscribeLocal(t.Context())
	defer sub.Close()
	mustApply(t, r, setDelta(1, 1, "x"))
	if pending(sub) {
		t.Error("signalled for a remote change")
	}
	mustSetLocal(t, r, rs("c1", "web", "10.0.0.1"))
	mustApply(t, r, setDelta(1, 2, "y"))
	if !pending(sub) {
		t.Fatal("no signal for a local change")
	}
	got := sub.Next()
	if len(got) != 1 || got[0].Node != "a" || got[0].ContainerID != "c1" {
		t.Errorf("changes: got %+v; want only a's c1", got)
	}
}
