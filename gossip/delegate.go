package gossip

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/swarmdns/swarmdns/registry"
)

// The memberlist delegates are small unexported adapters over Node (serf's
// delegate.go pattern), so that Node's exported API stays its own.

// delegate implements memberlist.Delegate. memberlist calls it from its
// packet and stream goroutines: nothing here blocks.
type delegate struct{ n *Node }

func (d *delegate) NodeMeta(limit int) []byte {
	m := meta{Generation: d.n.gen.Load(), Key: d.n.keyFingerprint()}
	if d.n.leaving.Load() {
		m.Flags |= metaLeaving
	}
	return m.encode()
}

// NotifyMsg copies the message (memberlist reuses the buffer) and hands it
// to the loop; when the loop is behind, the message is dropped and counted.
func (d *delegate) NotifyMsg(buf []byte) {
	if len(buf) == 0 {
		return
	}
	select {
	case d.n.inbox <- slices.Clone(buf):
	default:
		d.n.reject("backlog")
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	msgs := d.n.queue.GetBroadcasts(overhead, limit)
	for _, m := range msgs {
		d.n.count(kindName(m[0]), "out", len(m))
	}
	return msgs
}

// LocalState is this node's half of a push/pull: its own full state and a
// digest of everything it holds, so the peer can send back what it is
// missing. The states of other nodes are not sent wholesale: at hundreds of
// nodes that would be megabytes every push/pull.
func (d *delegate) LocalState(join bool) []byte {
	n := d.n
	snap := n.store.Snapshot()
	m := &stateMsg{
		Sender:     n.cfg.Node,
		Generation: n.gen.Load(),
		States:     []registry.NodeState{n.ownState(snap)},
		Digest:     digest(snap),
	}
	if join {
		m.Flags |= stateJoin
	}
	buf := n.encodeState(m)
	n.metrics.pushPullSize(len(buf))
	n.count("state", "out", len(buf))
	return buf
}

// MergeRemoteState merges the peer's half of a push/pull. It runs on a
// memberlist stream goroutine, which may wait for the store's lock but
// never for the network.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	n := d.n
	n.count("state", "in", len(buf))
	if len(buf) == 0 {
		return
	}
	m, err := decodeHeld(buf, n.store.Snapshot())
	if err != nil || m.kind != msgState {
		n.reject("malformed")
		if n.warn.allow("pushpull") {
			n.log.Warn().Err(err).Int("bytes", len(buf)).Msg("dropped a malformed push/pull state")
		}
		return
	}
	n.handleState(m.state, true)
	if join {
		n.markJoined()
	}
}

// broadcast is a queued delta, named by owner and container so that a newer
// delta for the same container replaces an older one still in the queue.
type broadcast struct {
	name string
	msg  []byte
}

func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}
func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(memberlist.NamedBroadcast)
	return ok && o.Name() == b.name
}

// MemberState is a peer's state as this node sees it.
type MemberState string

// Member states. memberlist v0.7.0 does not tell suspect nodes apart from
// alive ones (nor left from dead in its events; swarmdns learns a clean
// leave from the node's meta), so there is no suspect state here.
const (
	StateAlive MemberState = "alive"
	StateDead  MemberState = "dead"
	StateLeft  MemberState = "left"
)

// Member describes one node of the cluster.
type Member struct {
	// Name is the node's name.
	Name string
	// Addr is its gossip address.
	Addr netip.AddrPort
	// State is alive, dead (failed or cut off) or left (clean leave).
	State MemberState
	// Since is when it entered that state (as seen here).
	Since time.Time
	// LastSeen is when it was last seen alive: now for alive members.
	LastSeen time.Time
	// Generation is the run it announces; zero if unknown.
	Generation uint64
	// Key is the fingerprint (KeyFingerprint) of the key the node
	// encrypts with, as it announces it; empty without encryption or when
	// unknown.
	Key string
	// Local is true for this node.
	Local bool
}

// Members returns every node this node knows, itself included, sorted by
// name. Failed nodes stay listed while their address is joined again.
func (n *Node) Members() []Member {
	now := time.Now()
	n.mu.Lock()
	out := make([]Member, 0, len(n.members)+1)
	for _, mb := range n.members {
		if mb.state == "" {
			continue // its first event is still queued
		}
		m := Member{Name: mb.name, Addr: mb.addr, State: mb.state, Since: mb.since, LastSeen: mb.lastSeen, Generation: mb.meta.Generation, Key: mb.meta.Key}
		if m.State == StateAlive {
			m.LastSeen = now
		}
		out = append(out, m)
	}
	n.mu.Unlock()
	out = append(out, Member{Name: n.cfg.Node, Addr: n.LocalAddr(), State: StateAlive, Since: n.start, LastSeen: now, Generation: n.gen.Load(), Key: n.keyFingerprint(), Local: true})
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// event is a membership change, copied out of memberlist's callback.
type event struct {
	kind  memberlist.NodeEventType
	name  string
	addr  netip.AddrPort
	meta  []byte
	at    time.Time
	local bool
}

// eventQueue buffers events without bound and without blocking memberlist,
// which calls the event delegate with its node lock held.
type eventQueue struct {
	mu     sync.Mutex
	queue  []event
	notify chan struct{}
}

func (q *eventQueue) push(e event) {
	q.mu.Lock()
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *eventQueue) take() []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.queue
	q.queue = nil
	return out
}

// eventDelegate implements memberlist.EventDelegate.
type eventDelegate struct{ n *Node }

func (e *eventDelegate) push(kind memberlist.NodeEventType, node *memberlist.Node) {
	ev := event{
		kind: kind, name: node.Name, addr: addrPort(node.Addr, node.Port),
		meta: slices.Clone(node.Meta), at: time.Now(), local: node.Name == e.n.cfg.Node,
	}
	if !ev.local {
		// The address is needed at once (to answer a push/pull from a
		// node that just joined); the state waits for the loop.
		n := e.n
		n.mu.Lock()
		mb := n.members[ev.name]
		if mb == nil {
			mb = &member{name: ev.name}
			n.members[ev.name] = mb
		}
		mb.addr = ev.addr
		mb.batches = node.DMax >= batchProtocol
		n.mu.Unlock()
	}
	e.n.events.push(ev)
}

func (e *eventDelegate) NotifyJoin(node *memberlist.Node)   { e.push(memberlist.NodeJoin, node) }
func (e *eventDelegate) NotifyLeave(node *memberlist.Node)  { e.push(memberlist.NodeLeave, node) }
func (e *eventDelegate) NotifyUpdate(node *memberlist.Node) { e.push(memberlist.NodeUpdate, node) }

// handleEvent runs on the loop.
func (n *Node) handleEvent(ev event) {
	if ev.local {
		return
	}
	md, err := decodeMeta(ev.meta)
	n.mu.Lock()
	mb := n.members[ev.name]
	if mb == nil {
		mb = &member{name: ev.name}
		n.members[ev.name] = mb
	}
	wasAlive := mb.state == StateAlive
	prevGen, hadMeta := mb.meta.Generation, mb.hasMeta
	if err == nil {
		mb.meta, mb.hasMeta = md, true
	}
	n.mu.Unlock()

	switch ev.kind {
	case memberlist.NodeJoin, memberlist.NodeUpdate:
		if mb.hasMeta && mb.meta.Flags&metaLeaving != 0 {
			n.setState(mb, StateLeft, ev.at)
			if n.store.RemoveNode(ev.name) {
				n.log.Info().Str("peer", ev.name).Msg("peer is leaving; its records are dropped")
			}
			return
		}
		n.setState(mb, StateAlive, ev.at)
		// Lease changes happen under n.mu, so that a concurrent
		// afterRemoteWrite cannot restart the lease just cancelled.
		n.mu.Lock()
		delete(n.down, ev.name)
		n.store.SetLease(ev.name, time.Time{})
		n.mu.Unlock()
		n.markJoined()
		if !wasAlive {
			n.log.Info().Str("peer", ev.name).Stringer("addr", ev.addr).Uint64("generation", mb.meta.Generation).Msg("peer joined")
		}
		if !wasAlive || !hadMeta || prevGen != mb.meta.Generation {
			n.checkGeneration(ev.name, mb.meta.Generation)
			n.sync(ev.name)
		}
	case memberlist.NodeLeave:
		if mb.hasMeta && mb.meta.Flags&metaLeaving != 0 {
			n.setState(mb, StateLeft, ev.at)
			n.store.RemoveNode(ev.name)
			n.log.Info().Str("peer", ev.name).Msg("peer left")
			return
		}
		gen, _ := n.store.Generation(ev.name)
		l := lease{gen: gen, expires: ev.at.Add(n.cfg.Lease)}
		n.mu.Lock()
		n.down[ev.name] = l
		n.store.SetLease(ev.name, l.expires)
		n.mu.Unlock()
		n.setState(mb, StateDead, ev.at)
		n.log.Info().Str("peer", ev.name).Time("until", l.expires).Msg("peer failed or is unreachable; keeping its records until its lease ends")
	}
}

func (n *Node) setState(mb *member, s MemberState, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if mb.state == StateAlive && s != StateAlive {
		mb.lastSeen = at
	}
	if mb.state != s {
		mb.state, mb.since = s, at
	}
}

// checkGeneration tells a peer that announces generation gen when this
// node holds its name at a newer generation, or at the same one but as
// gone (it left, or its lease ran out while it was cut off): the store
// ignores that run, so the peer must move above it.
func (n *Node) checkGeneration(peer string, gen uint64) {
	held, known := n.store.Generation(peer)
	if !known {
		return
	}
	_, present := n.store.Snapshot().Node(peer)
	if held > gen || held == gen && !present {
		n.sendTo(peer, "notice", encodeNotice(notice{Node: peer, Generation: held}))
	}
}

// sync exchanges own states with a peer that joined or came back: each
// side sends the other its own full state, so both are current at once
// even when deltas were lost while they could not talk.
func (n *Node) sync(peer string) { n.syncWithin(peer, syncEvery) }

// syncWithin is sync at most once per every with one peer.
func (n *Node) syncWithin(peer string, every time.Duration) {
	now := time.Now()
	n.mu.Lock()
	if t, ok := n.lastSync[peer]; ok && now.Sub(t) < every {
		n.mu.Unlock()
		return
	}
	n.lastSync[peer] = now
	n.mu.Unlock()
	m := &stateMsg{Sender: n.cfg.Node, Generation: n.gen.Load(), Flags: stateWantReply, States: []registry.NodeState{n.ownState(n.store.Snapshot())}}
	n.sendTo(peer, "state", n.encodeState(m))
}

// syncAll exchanges own states with every alive peer, at most once per
// syncAllEvery (a peer's rate limit for joins, syncEvery, does not apply:
// a join a moment before the partition must not stop the repair). The loop runs it when memberlist refuted a suspicion or
// a death notice about the local node: some peers could not reach it a
// moment ago, without declaring it dead, so no join event will follow, and
// the deltas either side sent meanwhile were lost (a removal then stayed
// on the other side until a push/pull round, 30-60s).
func (n *Node) syncAll() {
	now := time.Now()
	if now.Sub(n.lastSyncAll) < syncAllEvery {
		return
	}
	n.lastSyncAll = now
	var peers []string
	n.mu.Lock()
	for name, mb := range n.members {
		if mb.state != StateAlive {
			continue
		}
		n.lastSync[name] = now
		peers = append(peers, name)
	}
	n.mu.Unlock()
	if len(peers) == 0 {
		return
	}
	n.log.Debug().Int("peers", len(peers)).Msg("refuted a suspicion; exchanging own states with the peers")
	buf := n.encodeState(&stateMsg{Sender: n.cfg.Node, Generation: n.gen.Load(), Flags: stateWantReply, States: []registry.NodeState{n.ownState(n.store.Snapshot())}})
	for _, p := range peers {
		n.sendTo(p, "state", buf)
	}
}

// probed records a probe's outcome (from memberlist's log lines and the
// ping delegate; it may run under memberlist's node lock and never
// blocks). A peer that answers after a failed probe was cut off from this
// node for a moment, maybe too briefly for anyone to suspect it or for
// this node to be suspected: the loop exchanges own states with it, since
// the deltas of that moment were lost.
func (n *Node) probed(peer string, ok bool) {
	if peer == n.cfg.Node {
		return
	}
	if !ok {
		n.metrics.probeFailed()
	}
	n.mu.Lock()
	was := n.unreach[peer]
	if ok {
		delete(n.unreach, peer)
	} else if _, known := n.members[peer]; known {
		n.unreach[peer] = true
	}
	n.mu.Unlock()
	if ok && was {
		select {
		case n.reached <- peer:
		default:
		}
	}
}

// pingDelegate implements memberlist.PingDelegate: a direct probe that
// got its ack.
type pingDelegate struct{ n *Node }

func (p *pingDelegate) AckPayload() []byte { return nil }
func (p *pingDelegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	p.n.probed(other.Name, true)
}

// conflictDelegate logs two nodes claiming one name.
type conflictDelegate struct{ n *Node }

func (c *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name == c.n.cfg.Node {
		// A peer holds this node's name at another address: a previous
		// run's, still alive or freshly dead there. Nothing would tell
		// that peer the new address once the old one is found dead (until
		// a push/pull, 30s or more), so join the peers again, fast, for a
		// while (rejoinLoop).
		c.n.fastUntil.Store(time.Now().Add(fastRejoinFor).UnixNano())
		if c.n.warn.allow("conflict/self") {
			c.n.log.Warn().Stringer("addr", addrPort(existing.Addr, existing.Port)).
				Stringer("held", addrPort(other.Addr, other.Port)).
				Dur("every_ms", fastRejoinEvery).
				Msg("peers still hold this node's name at an earlier address (a previous run?); joining them again until they take the new one")
		}
		return
	}
	if c.n.warn.allow("conflict/" + existing.Name) {
		c.n.log.Warn().Str("peer", existing.Name).Stringer("known", addrPort(existing.Addr, existing.Port)).
			Stringer("other", addrPort(other.Addr, other.Port)).
			Msg("two nodes claim the same name; the new address is accepted once the old one is found dead (node names must be unique)")
	}
}

// aliveDelegate refuses members that are not swarmdns nodes (no or bad
// meta): another memberlist cluster that shares our label and key by
// mistake.
type aliveDelegate struct{ n *Node }

func (a *aliveDelegate) NotifyAlive(node *memberlist.Node) error {
	md, err := decodeMeta(node.Meta)
	if err != nil {
		if a.n.warn.allow("alive/" + node.Name) {
			a.n.log.Warn().Str("peer", node.Name).Stringer("addr", addrPort(node.Addr, node.Port)).Err(err).Msg("refused a member that is not a swarmdns node")
		}
		return errors.New("not a swarmdns node")
	}
	a.n.noteAlive(node.Name, addrPort(node.Addr, node.Port), md.Generation)
	return nil
}
