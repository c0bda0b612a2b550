package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOwnNode is returned when a remote update claims the local node as its
// owner: only the local node writes its own records.
var ErrOwnNode = errors.New("update claims the local node as owner")

// Config configures a Registry.
type Config struct {
	// Node is the local node's name (required).
	Node string
	// Generation identifies this run of the local node; it must grow across
	// restarts (swarmdns uses the start time in nanoseconds), so that peers
	// drop everything an earlier run published.
	Generation uint64
	// Now returns the current time; nil means time.Now. Leases use it.
	Now func() time.Time
}

// Registry holds the record sets of every node. It is safe for concurrent use.
type Registry struct {
	local string
	now   func() time.Time

	mu    sync.Mutex // serialises writers; readers use snap
	nodes map[string]*nodeState
	subs  map[*Subscription]struct{}
	// changed is the zone's change time in milliseconds since the Unix
	// epoch (serial.go).
	changed int64
	strs    interner // shares the strings that repeat across sets

	snap atomic.Pointer[Snapshot]
}

// nodeState is one node's record sets as this registry knows them.
type nodeState struct {
	name       string
	generation uint64
	version    uint64            // highest version applied
	floor      uint64            // version of the last full state merged: deltas at or below it are stale
	sets       nodeSets          // by container ID; the pointees are immutable
	tombs      map[string]uint64 // removed container ID -> version of the removal
	expires    time.Time         // lease end; zero while the node is alive
	stale      bool              // the owner cannot reach its engine
	gone       bool              // left or expired: only a newer generation brings it back
}

// maxTombs bounds the removals remembered per node; the oldest go first.
const maxTombs = 4096

// New returns an empty registry for the local node cfg.Node.
func New(cfg Config) (*Registry, error) {
	if cfg.Node == "" {
		return nil, errors.New("registry: node name is empty")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	r := &Registry{
		local: cfg.Node,
		now:   now,
		nodes: make(map[string]*nodeState),
		subs:  make(map[*Subscription]struct{}),
	}
	// The zone starts as new as this run: its generation when that is
	// its start time (as swarmdns sets it), else the clock.
	r.changed = now().UnixMilli()
	if g := int64(cfg.Generation / uint64(time.Millisecond)); g > 0 && g <= now().Add(maxAhead).UnixMilli() {
		r.changed = g
	}
	r.nodes[cfg.Node] = newNodeState(cfg.Node, cfg.Generation)
	r.snap.Store(r.nextSnapshot(nil, nil))
	return r, nil
}

func newNodeState(name string, generation uint64) *nodeState {
	return &nodeState{name: name, generation: generation, tombs: make(map[string]uint64)}
}

// LocalNode returns the local node's name.
func (r *Registry) LocalNode() string { return r.local }

// Snapshot returns the current immutable view. It never blocks.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// SetLocal adds or replaces the local node's record set for one container
// (set.ContainerID). It reports whether anything changed: writing the same
// content again is a no-op and does not bump the version.
func (r *Registry) SetLocal(set RecordSet) (bool, error) {
	if set.ContainerID == "" {
		return false, errors.New("registry: record set without container ID")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var changes []Change
	if c, ok := r.setLocalLocked(set); ok {
		changes = append(changes, c)
	}
	r.commitLocked(changes)
	return len(changes) > 0, nil
}

// RemoveLocal removes the local node's record set for a container. It
// reports whether there was one.
func (r *Registry) RemoveLocal(containerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var changes []Change
	if c, ok := r.removeLocalLocked(containerID); ok {
		changes = append(changes, c)
	}
	r.commitLocked(changes)
	return len(changes) > 0
}

// ReplaceLocal makes sets the whole of the local node's records: sets that
// differ are written, containers that are not in sets are removed, unchanged
// ones are left alone. It returns the changes made.
func (r *Registry) ReplaceLocal(sets []RecordSet) ([]Change, error) {
	seen := make(map[string]bool, len(sets))
	for _, s := range sets {
		if s.ContainerID == "" {
			return nil, errors.New("registry: record set without container ID")
		}
		if seen[s.ContainerID] {
			return nil, fmt.Errorf("registry: container %s given twice", s.ContainerID)
		}
		seen[s.ContainerID] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var changes []Change
	for _, s := range sets {
		if c, ok := r.setLocalLocked(s); ok {
			changes = append(changes, c)
		}
	}
	var gone []string
	for id := range r.nodes[r.local].sets.all() {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		if c, ok := r.removeLocalLocked(id); ok {
			changes = append(changes, c)
		}
	}
	r.commitLocked(changes)
	return changes, nil
}

// SetLocalStale marks the local records as stale (the engine cannot be
// reached) or fresh again. DNS serves stale records with a lower TTL.
func (r *Registry) SetLocalStale(stale bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[r.local]
	if n.stale == stale {
		return
	}
	n.stale = stale
	r.commitLocked([]Change{{Node: r.local, Generation: n.generation, Version: n.version, NodeChanged: true}})
}

func (r *Registry) setLocalLocked(set RecordSet) (Change, bool) {
	n := r.nodes[r.local]
	set = set.Clone()
	set.normalize()
	r.strs.set(&set)
	set.Node = r.local
	if old, ok := n.sets.get(set.ContainerID); ok {
		set.Version = old.Version
		if sameContent(*old, set) {
			return Change{}, false
		}
	}
	n.version = r.nextVersionLocked(n.version)
	set.Version = n.version
	n.sets.put(set.ContainerID, &set)
	delete(n.tombs, set.ContainerID)
	return Change{Node: r.local, Generation: n.generation, Version: set.Version, ContainerID: set.ContainerID, Set: &set}, true
}

func (r *Registry) removeLocalLocked(containerID string) (Change, bool) {
	n := r.nodes[r.local]
	if _, ok := n.sets.get(containerID); !ok {
		return Change{}, false
	}
	n.version = r.nextVersionLocked(n.version)
	n.sets.del(containerID)
	return Change{Node: r.local, Generation: n.generation, Version: n.version, ContainerID: containerID}, true
}

// LocalState returns the local node's full state, for anti-entropy. It is a
// deep copy: the caller owns it.
func (r *Registry) LocalState() NodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nodes[r.local].export()
}

// NodeStates returns the full state of every node that is not gone, the
// local one included, ordered by node. It is a deep copy: the caller owns
// it. Only the local node's state is complete at its version: another
// node's is this registry's view of it, which may lack a set whose delta
// never arrived, so a peer must apply its sets as deltas (ApplyDelta), not
// merge it as the owner's own (MergeNode would drop what it lacks).
func (r *Registry) NodeStates() []NodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]NodeState, 0, len(r.nodes))
	for _, n := range r.nodes {
		if !n.gone {
			out = append(out, n.export())
		}
	}
	slices.SortFunc(out, func(a, b NodeState) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// RenewGeneration moves the local node to a generation above above (and
// not below the current time in nanoseconds) unless its generation is
// already above it. Gossip calls it when the cluster holds the local node's
// name at a generation at least as new as its own (a restart whose clock
// went backwards, or a run the peers dropped as gone while it was cut off):
// peers then drop what they held and take the local records again. Every
// local set is fed to subscribers again with the new generation. It returns
// the local generation and whether it changed.
func (r *Registry) RenewGeneration(above uint64) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[r.local]
	if n.generation > above {
		return n.generation, false
	}
	n.generation = max(above+1, uint64(max(r.now().UnixNano(), 0)))
	changes := make([]Change, 0, n.sets.len()+1)
	for id, s := range n.sets.all() {
		changes = append(changes, Change{Node: r.local, Generation: n.generation, Version: s.Version, ContainerID: id, Set: s})
	}
	changes = append(changes, Change{Node: r.local, Generation: n.generation, Version: n.version, NodeChanged: true})
	r.commitLocked(changes)
	return n.generation, true
}

// Generation returns the generation the registry knows for node, and
// whether it knows the node at all (gone nodes included).
func (r *Registry) Generation(node string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[node]
	if !ok {
		return 0, false
	}
	return n.generation, true
}

func (n *nodeState) export() NodeState {
	st := NodeState{Node: n.name, Generation: n.generation, Version: n.version, Sets: make([]RecordSet, 0, n.sets.len())}
	for _, s := range n.sets.all() {
		st.Sets = append(st.Sets, s.Clone())
	}
	sortSets(st.Sets)
	return st
}
