package gossip

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/swarmdns/swarmdns/registry"
)

// An owner's changes travel together. Rather than one broadcast per
// container change (each relayed by every node RetransmitMult*log10(N+1)
// times, so that a burst of changes fills the queue with thousands of
// entries, which are then dropped), the owner keeps one entry on its
// broadcast queue: a batch carrying the newest state of every container it
// changed since its last entry was sent out in full, replaced (memberlist's
// Invalidates) whenever another change comes. A batch also says which run
// and versions it covers: a receiver that held the owner at the batch's
// "from" version or later is complete afterwards; one that held less (it
// missed an earlier batch, or the batch had no room for every change) is
// behind, and pulls the owner's whole state over TCP, at most once per
// pullEvery. Relays keep one entry per owner too: a batch that covers
// another one replaces it. Once the owner's last entry has gone out in
// full, the owner announces its version (a batch without changes, which
// every node that holds that version relays once), so that a node that
// missed the last entry of a burst is behind and pulls at once rather
// than at a push/pull tens of seconds later.
//
// Nodes of an earlier release do not read batches (memberlist's delegate
// protocol: swarmdns with batches announces 2 as its maximum), so while any
// alive member does not, changes go out as one delta each.
const (
	// batchProtocol is the delegate protocol version that reads batches.
	batchProtocol = 2
	// pullEvery bounds the pulls of one owner's state by a node behind.
	pullEvery = time.Second
	// batchShare: a batch takes at most this share of a gossip packet, so
	// that batches pack as small deltas did (memberlist puts its own
	// messages first and skips an entry larger than the room left); more
	// changes than fit make the receivers pull.
	batchShare = 3
)

// batch is a decoded msgBatch.
type batch struct {
	Node       string
	Generation uint64
	// From and To: after the batch, a receiver that held the owner's run
	// at From or later holds every change up to To.
	From, To uint64
	// Changes are deltas of Node (Set nil: removed).
	Changes []registry.Delta
}

// encodeBatch returns the wire form of b.
func encodeBatch(b *batch) []byte {
	e := encoder{b: make([]byte, 0, 512)}
	e.byte(msgBatch)
	e.byte(formatVersion)
	e.str(b.Node)
	e.uvarint(b.Generation)
	e.uvarint(b.From)
	e.uvarint(b.To)
	e.uvarint(uint64(len(b.Changes)))
	for _, d := range b.Changes {
		e.block(func() { e.deltaBody(d) })
	}
	return e.b
}

// deltaBody writes a change of a delta or a batch: a kind byte, then the
// removed container's ID and version, or the set.
func (e *encoder) deltaBody(d registry.Delta) {
	if d.Set == nil {
		e.byte(0)
		e.id(d.ContainerID)
		e.uvarint(d.Version)
		return
	}
	e.byte(1)
	s := d.Set
	if s.ContainerID != d.ContainerID || s.Version != d.Version {
		c := *s
		c.ContainerID, c.Version = d.ContainerID, d.Version
		s = &c
	}
	e.set(s)
}

// decodeBatch decodes a msgBatch body.
func decodeBatch(d *decoder) (*batch, error) {
	b := &batch{Node: d.str(), Generation: d.uvarint(), From: d.uvarint(), To: d.uvarint()}
	count := d.count(maxSets)
	for range count {
		blk := d.block()
		c := registry.Delta{Node: b.Node, Generation: b.Generation}
		switch blk.byte() {
		case 0:
			c.ContainerID = blk.id()
			c.Version = blk.uvarint()
		case 1:
			s, _ := blk.set()
			c.ContainerID, c.Version = s.ContainerID, s.Version
			c.Set = &s
		default:
			blk.fail(errors.New("bad change kind"))
		}
		if blk.err != nil {
			d.fail(blk.err)
		}
		if d.err != nil {
			return nil, d.err
		}
		b.Changes = append(b.Changes, c)
	}
	if d.err != nil {
		return nil, d.err
	}
	if b.Node == "" || b.From > b.To {
		return nil, errors.New("batch without node, or with its versions reversed")
	}
	for _, c := range b.Changes {
		if c.ContainerID == "" || c.Version <= b.From || c.Version > b.To {
			return nil, errors.New("batch change without container, or outside the batch's versions")
		}
	}
	return b, nil
}

// ownBatch is the owner side: the changes not yet sent out in full, and
// the entry on the queue that carries them.
type ownBatch struct {
	mu sync.Mutex
	// pending holds the newest change of each container not yet carried
	// by an entry that finished its retransmissions.
	pending map[string]registry.Change
	// from is the version up to which every change has been carried by an
	// entry that finished.
	from    uint64
	gen     uint64
	current *batchBroadcast
	// announced is the version last announced, announceDue the one to
	// announce next (the To of the last entry that went out in full).
	announced, announceDue uint64
}

// batchBroadcast is a batch on the broadcast queue: the owner's own (one
// at a time) or one relayed.
type batchBroadcast struct {
	owner    string
	from, to uint64
	msg      []byte
	// own is set on the owner's entry: Finished then tells it.
	own      *ownBatch
	included map[string]uint64 // container -> version, the owner's entry
}

func (b *batchBroadcast) Message() []byte { return b.msg }

// Invalidates: the owner's newer entry replaces its older one; a relayed
// batch replaces one of the same owner that it covers.
func (b *batchBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*batchBroadcast)
	if !ok || o.owner != b.owner {
		return false
	}
	if b.own != nil || o.own != nil {
		return b.own != nil && o.own != nil
	}
	return b.from <= o.from && o.to <= b.to
}

func (b *batchBroadcast) Finished() {
	if b.own != nil {
		b.own.finished(b)
	}
}

// finished: entry e left the queue. If it is the current entry, it was sent
// out in full: what it carried is delivered. A replaced entry's changes
// are in its successor.
func (o *ownBatch) finished(e *batchBroadcast) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.current != e {
		return
	}
	o.current = nil
	for id, v := range e.included {
		if c, ok := o.pending[id]; ok && c.Version == v {
			delete(o.pending, id)
		}
	}
	if len(o.pending) == 0 {
		o.from = max(o.from, e.to)
		o.announceDue = max(o.announceDue, e.to)
	}
}

// announcement returns the entry announcing the owner's version once its
// last entry went out in full (the loop's tick, through queueOwnBatch),
// or nil. o.mu is held; the caller queues the entry after releasing it
// (the queue calls Finished, which takes it).
func (n *Node) announcement(o *ownBatch) *batchBroadcast {
	v := o.announceDue
	if o.current != nil || len(o.pending) > 0 || v <= o.announced {
		return nil
	}
	o.announced = v
	e := &batchBroadcast{owner: n.cfg.Node, own: o, from: v, to: v,
		msg: encodeBatch(&batch{Node: n.cfg.Node, Generation: o.gen, From: v, To: v})}
	o.current = e
	return e
}

// batchesAllowed reports whether every alive member reads batches.
func (n *Node) batchesAllowed() bool {
	if n.cfg.PerContainerDeltas {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, mb := range n.members {
		if mb.state == StateAlive && !mb.batches {
			return false
		}
	}
	return true
}

// queueOwnBatch adds local changes to the owner's pending changes and puts
// a new entry carrying them on the queue, in place of the previous one.
// It also runs on the loop's tick, to send what a finished entry left.
func (n *Node) queueOwnBatch(changes []registry.Change) {
	o := &n.own
	o.mu.Lock()
	for _, c := range changes {
		if c.Generation != o.gen {
			// A new run (RenewGeneration): what was pending belongs to
			// the old one, whose records the new run replaces whole.
			o.pending, o.from, o.gen, o.current = make(map[string]registry.Change), 0, c.Generation, nil
		}
		o.pending[c.ContainerID] = c
	}
	if len(o.pending) == 0 || len(changes) == 0 && o.current != nil {
		var e *batchBroadcast
		if len(changes) == 0 {
			e = n.announcement(o)
		}
		o.mu.Unlock()
		if e != nil {
			n.queue.QueueBroadcast(e)
		}
		return
	}
	all := make([]registry.Change, 0, len(o.pending))
	for _, c := range o.pending {
		all = append(all, c)
	}
	// Newest first: when they do not all fit, the oldest wait.
	slices.SortFunc(all, func(a, b registry.Change) int {
		switch {
		case a.Version > b.Version:
			return -1
		case a.Version < b.Version:
			return 1
		}
		return 0
	})
	b := &batch{Node: n.cfg.Node, Generation: o.gen, From: o.from, To: all[0].Version}
	e := &batchBroadcast{owner: n.cfg.Node, own: o, included: make(map[string]uint64)}
	var msg []byte
	left := uint64(0) // the newest change left out (all older are too)
	for _, c := range all {
		d := registry.Delta{Node: c.Node, Generation: c.Generation, Version: c.Version, ContainerID: c.ContainerID, Set: c.Set}
		b.Changes = append(b.Changes, d)
		try := encodeBatch(b)
		if len(try) > n.maxDelta/batchShare {
			b.Changes = b.Changes[:len(b.Changes)-1]
			if len(b.Changes) == 0 {
				// One set too large for any packet: push/pull carries it.
				delete(o.pending, c.ContainerID)
				n.reject("oversize")
				if n.warn.allow("oversize") {
					n.log.Warn().Str("container", c.ContainerID).Int("bytes", len(try)).Int("limit", n.maxDelta).Msg("record set too large for a gossip packet; it spreads by push/pull only")
				}
				continue
			}
			// The batch holds the newest changes; this one and the
			// older wait.
			left = c.Version
			break
		}
		msg = try
		e.included[c.ContainerID] = c.Version
	}
	if len(b.Changes) == 0 {
		o.mu.Unlock()
		return
	}
	if left > 0 {
		// Receivers that did not hold the owner at left already are
		// behind after this batch: they pull.
		b.From = max(b.From, left)
		msg = encodeBatch(b)
	}
	e.from, e.to, e.msg = b.From, b.To, msg
	o.current = e
	o.mu.Unlock()
	n.enqueueBroadcast(e)
}

// handleBatch applies a batch, relays it when it was news, and pulls the
// owner's state when this node was behind it.
func (n *Node) handleBatch(b *batch, raw []byte) {
	if !n.acceptRemote(b.Node, b.Generation) {
		return
	}
	held := uint64(0)
	if gen, ok := n.store.Generation(b.Node); ok && gen == b.Generation {
		if info, ok := n.store.Snapshot().Node(b.Node); ok {
			held = info.Version
		}
	}
	news := false
	for _, d := range b.Changes {
		applied, _ := n.applyRemote(d)
		news = news || applied
	}
	n.afterRemoteWrite(b.Node, b.Generation)
	if len(b.Changes) == 0 && held >= b.To && b.To > n.announced[b.Node] {
		// An announcement this node can vouch for: relayed once.
		n.announced[b.Node] = b.To
		news = true
	}
	if news {
		n.enqueueBroadcast(&batchBroadcast{owner: b.Node, from: b.From, to: b.To, msg: raw})
	}
	if held < b.From {
		n.pull(b.Node)
	}
}

// pull asks a peer for its own state (an empty state message that wants a
// reply), at most once per pullEvery; a pull asked for sooner is made when
// that time is up (pullDue, on the loop's tick).
func (n *Node) pull(peer string) {
	now := time.Now()
	n.mu.Lock()
	if t, ok := n.lastPull[peer]; ok && now.Sub(t) < pullEvery {
		n.pullWanted[peer] = true
		n.mu.Unlock()
		return
	}
	n.lastPull[peer] = now
	delete(n.pullWanted, peer)
	n.mu.Unlock()
	n.sendPull(peer)
}

// pullDue makes the pulls that waited for their rate limit.
func (n *Node) pullDue(now time.Time) {
	var due []string
	n.mu.Lock()
	for peer := range n.pullWanted {
		if now.Sub(n.lastPull[peer]) >= pullEvery {
			due = append(due, peer)
			n.lastPull[peer] = now
			delete(n.pullWanted, peer)
		}
	}
	n.mu.Unlock()
	for _, peer := range due {
		n.sendPull(peer)
	}
}

func (n *Node) sendPull(peer string) {
	n.stats.pulls.Add(1)
	m := &stateMsg{Sender: n.cfg.Node, Generation: n.gen.Load(), Flags: stateWantReply}
	n.sendTo(peer, "state", n.encodeState(m))
}
