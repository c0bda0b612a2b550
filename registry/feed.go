package registry

import (
	"context"
	"sync"
)

// Change is one entry of the change feed: a container's set written
// (Set != nil) or removed (Set == nil), or, with NodeChanged, a change to a
// node as a whole (lease, staleness, departure).
type Change struct {
	Node        string
	Generation  uint64
	Version     uint64
	ContainerID string
	Set         *RecordSet // shared; do not modify
	NodeChanged bool
}

// changeKey names what a change is about: a container of a node, or the
// node itself (no container). A struct, not a joined string, so that
// feeding 100,000 changes does not allocate a key for each.
type changeKey struct{ node, container string }

func (c Change) key() changeKey { return changeKey{c.Node, c.ContainerID} }

// Subscription follows the change feed. Changes are coalesced per container
// (only the latest change of each is kept until Next takes them), so a slow
// subscriber never blocks a writer and never loses the latest state.
type Subscription struct {
	r      *Registry
	notify chan struct{}
	local  bool // only the local node's changes

	mu      sync.Mutex
	pending []Change
	index   map[changeKey]int // key -> position in pending
	closed  bool
	stop    func() bool // unregisters the ctx watch
}

// Subscribe returns the current snapshot and a subscription to every change
// after it, taken atomically. The subscription ends when ctx ends (or on
// Close).
func (r *Registry) Subscribe(ctx context.Context) (*Snapshot, *Subscription) {
	return r.subscribe(ctx, false)
}

// SubscribeLocal is Subscribe to the local node's changes only (what gossip
// publishes): merging 100,000 remote sets then queues nothing for it.
func (r *Registry) SubscribeLocal(ctx context.Context) (*Snapshot, *Subscription) {
	return r.subscribe(ctx, true)
}

func (r *Registry) subscribe(ctx context.Context, local bool) (*Snapshot, *Subscription) {
	s := &Subscription{r: r, notify: make(chan struct{}, 1), local: local, index: make(map[changeKey]int)}
	r.mu.Lock()
	r.subs[s] = struct{}{}
	snap := r.snap.Load()
	r.mu.Unlock()
	stop := context.AfterFunc(ctx, s.Close)
	s.mu.Lock()
	if s.closed { // ctx had ended already
		s.mu.Unlock()
		stop()
		return snap, s
	}
	s.stop = stop
	s.mu.Unlock()
	return snap, s
}

// Ready returns a channel that receives a value when changes are pending.
// A value may come with nothing pending (Next then returns nil); after the
// subscription ends none comes, so a consumer also watches its context.
func (s *Subscription) Ready() <-chan struct{} { return s.notify }

// Next takes the pending changes, oldest first.
func (s *Subscription) Next() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	if len(out) > 1024 {
		// clear would keep the map's memory, sized for the largest batch
		// ever (100,000 sets merged at a join): start small again.
		s.index = make(map[changeKey]int)
	} else {
		clear(s.index)
	}
	return out
}

// Close ends the subscription and lets go of its context. It is idempotent.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	delete(s.r.subs, s)
	s.r.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.pending = nil
	stop := s.stop
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (s *Subscription) push(changes []Change) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	queued := false
	for _, c := range changes {
		if s.local && c.Node != s.r.local {
			continue
		}
		queued = true
		k := c.key()
		if i, ok := s.index[k]; ok {
			s.pending[i] = c
			continue
		}
		s.index[k] = len(s.pending)
		s.pending = append(s.pending, c)
	}
	s.mu.Unlock()
	if !queued {
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// commitLocked publishes a new snapshot and feeds the changes to the
// subscribers. It does nothing when there are no changes.
func (r *Registry) commitLocked(changes []Change) {
	r.publishLocked(changes, true)
}

// publishLocked is commitLocked; content tells whether the changes may
// change what the zone answers (not only a node's version), which then
// moves the serial (serial.go).
func (r *Registry) publishLocked(changes []Change, content bool) {
	if len(changes) == 0 {
		return
	}
	r.stampLocked(changes, content)
	r.snap.Store(r.nextSnapshot(r.snap.Load(), changes))
	for s := range r.subs {
		s.push(changes)
	}
}
