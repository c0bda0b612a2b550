package registry

import (
	"fmt"
	"slices"
	"time"
)

// NodeState is one node's complete set of records at a version: what
// anti-entropy (gossip push/pull) exchanges.
type NodeState struct {
	Node       string
	Generation uint64
	Version    uint64
	Sets       []RecordSet
	// Held lists containers that are in the state too, but whose sets were
	// left out because the receiver already holds them at the state's
	// generation and at the version the state has (gossip does this for
	// an unchanged push/pull): MergeNode keeps what it holds for them.
	Held []string
	// Owned gives the sets' slices to MergeNode, which then keeps them
	// rather than copies them (gossip's freshly decoded states): the
	// caller must not use Sets afterwards.
	Owned bool
}

// Delta is one change to one container's record set, as gossip carries it.
// A nil Set removes the container's records.
type Delta struct {
	Node        string
	Generation  uint64
	Version     uint64
	ContainerID string
	Set         *RecordSet
}

// ApplyDelta applies a change published by another node. It reports whether
// the change was applied; a stale or replayed delta (an older generation, or
// a version not newer than what the registry holds for that container) is
// ignored. A newer generation means the owner restarted: everything its
// earlier run published is dropped first.
func (r *Registry) ApplyDelta(d Delta) (bool, error) {
	if err := r.checkRemote(d.Node); err != nil {
		return false, err
	}
	if d.ContainerID == "" {
		return false, fmt.Errorf("registry: delta from %s without container ID", d.Node)
	}
	if d.Set != nil && d.Set.ContainerID != d.ContainerID {
		return false, fmt.Errorf("registry: delta from %s for container %s carries container %s", d.Node, d.ContainerID, d.Set.ContainerID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, changes, ok := r.remoteNodeLocked(d.Node, d.Generation)
	if !ok {
		return false, nil
	}
	prev := max(n.tombs[d.ContainerID], n.floor)
	if old, ok := n.sets.get(d.ContainerID); ok {
		prev = max(old.Version, n.floor)
	}
	if d.Version <= prev {
		r.commitLocked(changes)
		return false, nil
	}
	changes = append(changes, n.applyLocked(&r.strs, d.ContainerID, d.Set, d.Version, false))
	r.commitLocked(changes)
	return true, nil
}

// MergeNode merges a node's full state (anti-entropy). Containers in the
// state that are newer than what the registry holds are written; containers
// the registry holds at a version not newer than the state's, but that the
// state lacks, were removed and are dropped. The state must be complete at
// its version, as its owner publishes it (its Sets and Held together):
// afterwards a delta at or below that version is stale and ignored (it can
// only be a replay). It reports whether anything changed.
func (r *Registry) MergeNode(st NodeState) (bool, error) {
	if err := r.checkRemote(st.Node); err != nil {
		return false, err
	}
	in := make(map[string]*RecordSet, len(st.Sets))
	for i := range st.Sets {
		s := &st.Sets[i]
		if s.ContainerID == "" {
			return false, fmt.Errorf("registry: state of %s holds a set without container ID", st.Node)
		}
		if s.Version > st.Version {
			return false, fmt.Errorf("registry: state of %s at version %d holds container %s at version %d", st.Node, st.Version, s.ContainerID, s.Version)
		}
		if _, dup := in[s.ContainerID]; dup {
			return false, fmt.Errorf("registry: state of %s holds container %s twice", st.Node, s.ContainerID)
		}
		in[s.ContainerID] = s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, changes, ok := r.remoteNodeLocked(st.Node, st.Generation)
	if !ok {
		return false, nil
	}
	for id, s := range in {
		prev := max(n.tombs[id], n.floor)
		if old, ok := n.sets.get(id); ok {
			prev = max(old.Version, n.floor)
		}
		if s.Version > prev {
			changes = append(changes, n.applyLocked(&r.strs, id, s, s.Version, st.Owned))
		}
	}
	// Held is sorted as gossip decodes it (a swarmdns sender lists sets by
	// container): searched as it is, it costs no map of 50,000 IDs.
	held := st.Held
	if !slices.IsSorted(held) {
		held = slices.Sorted(slices.Values(held))
	}
	var gone []string
	for id, old := range n.sets.all() {
		if _, ok := in[id]; ok || old.Version > st.Version {
			continue
		}
		if _, ok := slices.BinarySearch(held, id); !ok {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		changes = append(changes, n.applyLocked(&r.strs, id, nil, st.Version, false))
	}
	for id, v := range n.tombs {
		if v <= st.Version {
			delete(n.tombs, id)
		}
	}
	content := len(changes) > 0
	if st.Version > n.version {
		n.version = st.Version
		if len(changes) == 0 {
			// No record changed, but the node's version did.
			changes = append(changes, Change{Node: n.name, Generation: n.generation, Version: n.version, NodeChanged: true})
		}
	}
	n.floor = max(n.floor, st.Version)
	r.publishLocked(changes, content)
	return len(changes) > 0, nil
}

// RemoveNode drops every record of a node at once (a clean leave). The node
// comes back only with a newer generation.
func (r *Registry) RemoveNode(node string) bool {
	if node == r.local {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[node]
	if !ok || n.gone {
		return false
	}
	r.commitLocked(r.dropLocked(n))
	return true
}

// SetLease starts (or, with a zero time, cancels) a node's lease: when it
// ends, ExpireLeases drops the node's records. Gossip starts the lease when a
// node stops being seen alive and cancels it when the node is back. Only
// SetLease starts or cancels a lease: updates about the node, which peers
// may relay long after it died, leave a running lease as it is, even when
// they bring a new generation.
func (r *Registry) SetLease(node string, expires time.Time) {
	if node == r.local {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[node]
	if !ok || n.gone || n.expires.Equal(expires) {
		return
	}
	n.expires = expires
	r.commitLocked([]Change{{Node: node, Generation: n.generation, Version: n.version, NodeChanged: true}})
}

// ExpireLeases drops the records of every node whose lease has ended and
// returns those nodes' names, sorted.
func (r *Registry) ExpireLeases() []string {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var expired []string
	var changes []Change
	for _, n := range r.nodes {
		if n.gone || n.expires.IsZero() || now.Before(n.expires) {
			continue
		}
		expired = append(expired, n.name)
		changes = append(changes, r.dropLocked(n)...)
	}
	r.commitLocked(changes)
	slices.Sort(expired)
	return expired
}

func (r *Registry) checkRemote(node string) error {
	if node == "" {
		return fmt.Errorf("registry: update without owner node")
	}
	if node == r.local {
		return fmt.Errorf("registry: %w (%s)", ErrOwnNode, node)
	}
	return nil
}

// remoteNodeLocked returns the state of node for an update of generation
// gen, creating or resetting it as the generation requires; ok is false when
// the update belongs to an earlier run (or a gone run) and must be ignored.
func (r *Registry) remoteNodeLocked(node string, gen uint64) (n *nodeState, changes []Change, ok bool) {
	n, known := r.nodes[node]
	switch {
	case !known:
		n = newNodeState(node, gen)
		r.nodes[node] = n
		changes = append(changes, Change{Node: node, Generation: gen, NodeChanged: true})
	case gen < n.generation, gen == n.generation && n.gone:
		return nil, nil, false
	case gen > n.generation:
		// A new run: everything the old one published goes. A running
		// lease stays (see SetLease).
		expires := n.expires
		changes = r.dropLocked(n)
		n.generation, n.version, n.floor, n.gone, n.expires = gen, 0, 0, false, expires
		n.tombs = make(map[string]uint64)
	}
	return n, changes, true
}

// applyLocked writes (set != nil) or removes one container's set of a remote
// node at version v; strs shares the written set's repeating strings. With
// owned, set's slices are the registry's to keep.
func (n *nodeState) applyLocked(strs *interner, id string, set *RecordSet, v uint64, owned bool) Change {
	n.version = max(n.version, v)
	if set == nil {
		n.sets.del(id)
		n.tombs[id] = v
		n.pruneTombs()
		return Change{Node: n.name, Generation: n.generation, Version: v, ContainerID: id}
	}
	s := *set
	if !owned {
		s = s.Clone()
	}
	s.normalize()
	strs.set(&s)
	s.Node, s.Version = n.name, v
	n.sets.put(id, &s)
	delete(n.tombs, id)
	return Change{Node: n.name, Generation: n.generation, Version: v, ContainerID: id, Set: &s}
}

func (n *nodeState) pruneTombs() {
	for len(n.tombs) > maxTombs {
		oldest, ov := "", ^uint64(0)
		for id, v := range n.tombs {
			if v < ov {
				oldest, ov = id, v
			}
		}
		delete(n.tombs, oldest)
	}
}

// dropLocked removes every set of n and marks it gone.
func (r *Registry) dropLocked(n *nodeState) []Change {
	changes := make([]Change, 0, n.sets.len()+1)
	for id := range n.sets.all() {
		changes = append(changes, Change{Node: n.name, Generation: n.generation, Version: n.version, ContainerID: id})
	}
	n.sets.reset()
	n.tombs = make(map[string]uint64)
	n.expires = time.Time{}
	n.stale = false
	n.gone = true
	changes = append(changes, Change{Node: n.name, Generation: n.generation, Version: n.version, NodeChanged: true})
	return changes
}
