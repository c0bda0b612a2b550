package registry

import (
	"fmt"
	"github.com/swarmdns/swarmdns/internal/await"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// serialGrows checks that the change just made to r moves its serial past
// before by the end of the change's second (the serial moves at most once
// a second and never ahead of the clock): it advances clk by a second.
func serialGrows(t testing.TB, r *Registry, clk *fakeClock, before uint32, what string) {
	t.Helper()
	clk.Advance(time.Second)
	if got := r.Snapshot().Serial(); int32(got-before) <= 0 {
		t.Errorf("%s: serial %d a second later; want above %d", what, got, before)
	}
}

// localVersion is the version of the k-th local change made while clk
// stands still at the time of the registry's start: versions are the
// change time in milliseconds, one more for each change in the same one.
func localVersion(clk *fakeClock, k uint64) uint64 {
	return uint64(clk.Now().UnixMilli()) + k
}

// newTestRegistry returns a registry for node with a fake clock.
func newTestRegistry(t testing.TB, node string, gen uint64) (*Registry, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	r, err := New(Config{Node: node, Generation: gen, Now: clk.Now})
	if err != nil {
		t.Fatalf("New(%q): %v", node, err)
	}
	return r, clk
}

// rs builds a record set for container id with primary name name (in the
// test zone) and the given addresses.
func rs(id, name string, ips ...string) RecordSet {
	s := RecordSet{ContainerID: id, Name: name + ".swarm.internal."}
	for _, ip := range ips {
		s.Addrs = append(s.Addrs, Addr{IP: netip.MustParseAddr(ip), Network: "net"})
	}
	return s
}

// view returns node's record sets in snap by container ID.
func view(snap *Snapshot, node string) map[string]*RecordSet {
	out := make(map[string]*RecordSet)
	for _, s := range snap.Sets() {
		if s.Node == node {
			out[s.ContainerID] = s
		}
	}
	return out
}

// ids returns the container IDs of sets, in order.
func ids(sets []*RecordSet) []string {
	out := make([]string, 0, len(sets))
	for _, s := range sets {
		out = append(out, s.Node+"/"+s.ContainerID)
	}
	return out
}

// mustSetLocal writes a local set and fails the test on error.
func mustSetLocal(t testing.TB, r *Registry, s RecordSet) bool {
	t.Helper()
	changed, err := r.SetLocal(s)
	if err != nil {
		t.Fatalf("SetLocal(%s): %v", s.ContainerID, err)
	}
	return changed
}

// mustApply applies a delta and fails the test on error.
func mustApply(t testing.TB, r *Registry, d Delta) bool {
	t.Helper()
	ok, err := r.ApplyDelta(d)
	if err != nil {
		t.Fatalf("ApplyDelta(%+v): %v", d, err)
	}
	return ok
}

// mustMerge merges a state and fails the test on error.
func mustMerge(t testing.TB, r *Registry, st NodeState) bool {
	t.Helper()
	ok, err := r.MergeNode(st)
	if err != nil {
		t.Fatalf("MergeNode(%s@%d): %v", st.Node, st.Version, err)
	}
	return ok
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	await.Until(t, 5*time.Second, func() error {
		if !cond() {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		return nil
	})
}

// deltaOf turns a feed change into the delta gossip would send.
func deltaOf(c Change) Delta {
	d := Delta{Node: c.Node, Generation: c.Generation, Version: c.Version, ContainerID: c.ContainerID}
	if c.Set != nil {
		s := c.Set.Clone()
		d.Set = &s
	}
	return d
}
