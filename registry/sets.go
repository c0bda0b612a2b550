package registry

import (
	"iter"
	"slices"
	"strings"
)

// nodeSets is one node's record sets by container ID, as the registry
// writes them. It keeps no index of its own: between writes they are the
// node's sets in the published snapshot (base, sorted by container ID and
// never written), and a write batch adds an overlay of the containers it
// changes, until the next snapshot takes them in (rebase). A map of every
// set here cost about 40 bytes per set at 100,000 sets, for what the
// snapshot already holds.
type nodeSets struct {
	base  []*RecordSet          // shared with the published snapshot
	over  map[string]*RecordSet // changed since base; nil: removed
	count int
}

// get returns the set of container id.
func (n *nodeSets) get(id string) (*RecordSet, bool) {
	if s, ok := n.over[id]; ok {
		return s, s != nil
	}
	return n.baseGet(id)
}

func (n *nodeSets) baseGet(id string) (*RecordSet, bool) {
	i, ok := slices.BinarySearchFunc(n.base, id, func(s *RecordSet, id string) int { return strings.Compare(s.ContainerID, id) })
	if !ok {
		return nil, false
	}
	return n.base[i], true
}

// put writes the set of container id.
func (n *nodeSets) put(id string, s *RecordSet) {
	if _, ok := n.get(id); !ok {
		n.count++
	}
	n.write(id, s)
}

// del removes the set of container id, if any.
func (n *nodeSets) del(id string) {
	if _, ok := n.get(id); !ok {
		return
	}
	n.count--
	if _, inBase := n.baseGet(id); !inBase {
		delete(n.over, id)
		return
	}
	n.write(id, nil)
}

func (n *nodeSets) write(id string, s *RecordSet) {
	if n.over == nil {
		n.over = make(map[string]*RecordSet)
	}
	n.over[id] = s
}

// len returns the number of sets.
func (n *nodeSets) len() int { return n.count }

// all yields every container ID and its set, in no particular order. The
// sets must not be written during the iteration.
func (n *nodeSets) all() iter.Seq2[string, *RecordSet] {
	return func(yield func(string, *RecordSet) bool) {
		for _, s := range n.base {
			if _, changed := n.over[s.ContainerID]; changed {
				continue
			}
			if !yield(s.ContainerID, s) {
				return
			}
		}
		for id, s := range n.over {
			if s != nil && !yield(id, s) {
				return
			}
		}
	}
}

// rebase makes sorted (every set, by container ID, as the new snapshot
// publishes them) the base and drops the overlay.
func (n *nodeSets) rebase(sorted []*RecordSet) {
	n.base, n.over, n.count = sorted, nil, len(sorted)
}

// reset empties n.
func (n *nodeSets) reset() { n.base, n.over, n.count = nil, nil, 0 }
