package gossip

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/swarmdns/swarmdns/registry"
)

// Tuning that is not worth a flag.
const (
	// deadNodeReclaimTime lets a node that restarted at a new address (a
	// rescheduled Swarm task) take its name back this soon after the old
	// address was declared dead; memberlist's default (0) refuses it until
	// the dead node is reaped.
	deadNodeReclaimTime = 2 * time.Second
	// pushPullInterval is the anti-entropy period (memberlist's LAN
	// default is 30 s).
	pushPullInterval = 10 * time.Second
	// maxFutureGeneration: a generation further than this ahead of the
	// local clock is refused, so that a bad peer cannot poison a name with
	// a generation its owner can never get above.
	maxFutureGeneration = 24 * time.Hour
	// reconnectTimeout is how long a failed peer's address is joined again.
	reconnectTimeout = 24 * time.Hour
	// syncEvery limits the state exchanges with one peer.
	syncEvery = 5 * time.Second
	// fastRejoinEvery and fastRejoinFor: after seeing peers hold the local
	// node's name at another address (a previous run's), the node joins
	// its alive peers again this often, for this long after the last such
	// conflict, so that each takes the new address as soon as it finds the
	// old one dead (plus deadNodeReclaimTime).
	fastRejoinEvery = 2 * time.Second
	fastRejoinFor   = 30 * time.Second
	// maxFastJoins bounds the peers joined per fast round.
	maxFastJoins = 8
	// syncAllEvery limits the exchanges with every peer after a refuted
	// suspicion.
	syncAllEvery = 2 * time.Second
	// maxQueued bounds the broadcast queue; push/pull repairs what it drops.
	maxQueued = 4096
	// inboxSize is how many received messages wait for the loop.
	inboxSize = 4096
	// maxPushBack bounds the states sent back after one push/pull, and
	// maxChunk the size of one reliable message.
	maxPushBack = 32 << 20
	maxChunk    = 512 << 10
)

// Node is one member of the swarmdns gossip cluster. Create it with New,
// serve it with Run.
type Node struct {
	cfg      Config
	log      zerolog.Logger
	store    Store
	ml       *memberlist.Memberlist
	queue    *memberlist.TransmitLimitedQueue
	metrics  *metrics
	maxDelta int
	start    time.Time
	addr     netip.AddrPort

	gen     atomic.Uint64
	leaving atomic.Bool
	// keyring holds the gossip keys (nil without encryption); keysMu
	// serialises SetKeys, and primaryKey is the fingerprint of the key
	// that encrypts, announced in the meta.
	keyring    *memberlist.Keyring
	keysMu     sync.Mutex
	primaryKey atomic.Pointer[string]
	// handedOff makes Run end without leaving (HandOff).
	handedOff atomic.Bool
	// alone is set when the first round of joins found no peer to join.
	alone atomic.Bool
	// fastUntil (unix nanoseconds) ends the fast rejoin mode.
	fastUntil atomic.Int64

	inbox   chan []byte
	refuted chan struct{}
	// reached gets peers that answer a probe after failing one.
	reached chan string
	outbox  chan outMsg
	events  eventQueue
	stats   counters
	warn    sometimes
	logw    *logWriter
	release *releaser // hands memory back after loading a large state

	mu       sync.Mutex
	members  map[string]*member
	down     map[string]lease
	lastSync map[string]time.Time
	// unreach holds the peers a probe of this node failed to reach since
	// they last answered one.
	unreach map[string]bool
	// revived holds newer runs of peers held dead or left (revive.go).
	revived map[string]*revival
	// lastPull limits the pulls of each owner's state, and pullWanted
	// holds the pulls waiting for that limit (batch.go).
	lastPull   map[string]time.Time
	pullWanted map[string]bool
	// announced is the version of each owner's announcement last relayed
	// (batch.go; the loop's only).
	announced map[string]uint64
	// own is the local node's batch of changes (batch.go).
	own ownBatch
	// lastSyncAll is only used by the loop.
	lastSyncAll time.Time

	joined     chan struct{}
	joinedOnce sync.Once
	running    atomic.Bool
	closed     atomic.Bool
	closeOnce  sync.Once
}

// member is what the node knows about a peer.
type member struct {
	name     string
	addr     netip.AddrPort
	state    MemberState
	since    time.Time
	lastSeen time.Time
	meta     meta
	hasMeta  bool
	// batches: the peer reads batches (its delegate protocol maximum).
	batches bool
}

// lease is the running lease of a peer that is not seen alive.
type lease struct {
	gen     uint64
	expires time.Time
}

// outMsg is a reliable (TCP) message for one peer, or another slow job.
type outMsg struct {
	to   memberlist.Node
	kind string
	buf  []byte
	job  func()
}

// New creates the node: it binds the gossip port (UDP and TCP) and starts
// memberlist, without joining anyone yet (Run does).
func New(c Config) (*Node, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	snap := cfg.Store.Snapshot()
	if snap.LocalNode() != cfg.Node {
		return nil, fmt.Errorf("gossip: node %q is not the store's local node %q", cfg.Node, snap.LocalNode())
	}
	info, _ := snap.Node(cfg.Node)
	if cfg.Generation == 0 {
		cfg.Generation = info.Generation
	} else if cfg.Generation != info.Generation {
		return nil, fmt.Errorf("gossip: generation %d differs from the store's %d", cfg.Generation, info.Generation)
	}
	n := &Node{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      cfg.Store,
		start:      time.Now(),
		inbox:      make(chan []byte, inboxSize),
		refuted:    make(chan struct{}, 1),
		reached:    make(chan string, 256),
		unreach:    make(map[string]bool),
		revived:    make(map[string]*revival),
		lastPull:   make(map[string]time.Time),
		pullWanted: make(map[string]bool),
		announced:  make(map[string]uint64),
		outbox:     make(chan outMsg, 256),
		warn:       sometimes{period: 10 * time.Second},
		members:    make(map[string]*member),
		down:       make(map[string]lease),
		lastSync:   make(map[string]time.Time),
		joined:     make(chan struct{}),
		release:    newReleaser(),
	}
	n.gen.Store(cfg.Generation)
	n.events.notify = make(chan struct{}, 1)
	if len(cfg.Join) == 0 && cfg.Seeds == nil {
		n.alone.Store(true)
		n.markJoined()
	}

	host, port, err := splitHostPort(cfg.BindAddr, DefaultPort)
	if err != nil {
		return nil, fmt.Errorf("gossip: listen address %q: %w", cfg.BindAddr, err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return nil, fmt.Errorf("gossip: listen address %q: the host must be an IP address", cfg.BindAddr)
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Node
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	if cfg.AdvertiseAddr != "" {
		ahost, aport, err := splitHostPort(cfg.AdvertiseAddr, port)
		if err != nil {
			return nil, fmt.Errorf("gossip: advertise address %q: %w", cfg.AdvertiseAddr, err)
		}
		ip, err := resolveOne(ahost)
		if err != nil {
			return nil, fmt.Errorf("gossip: advertise address %q: %w", cfg.AdvertiseAddr, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ip.String(), aport
	}
	mc.Label = cfg.Label
	if len(cfg.Keys) > 0 {
		if n.keyring, err = newKeyring(cfg.Keys); err != nil {
			return nil, fmt.Errorf("gossip: keys: %w", err)
		}
		primary := KeyFingerprint(cfg.Keys[0])
		n.primaryKey.Store(&primary)
		mc.Keyring = n.keyring
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	} else {
		n.log.Warn().Msg("gossip is not encrypted: anyone who can reach the gossip port can join the cluster and publish records; set --gossip-key or --gossip-key-file")
	}
	mc.DeadNodeReclaimTime = deadNodeReclaimTime
	// Anti-entropy every 10 s rather than memberlist's 30: our push/pull is
	// small (the own state and a digest: 7 KB for 100 nodes of 10
	// containers), and it is what repairs changes lost in a partition too
	// short for any probe to fail. memberlist stretches it for clusters over
	// 32 nodes.
	mc.PushPullInterval = pushPullInterval
	mc.Delegate = &delegate{n}
	mc.DelegateProtocolVersion, mc.DelegateProtocolMin, mc.DelegateProtocolMax = protocolVersion, protocolVersion, protocolMax
	mc.Events = &eventDelegate{n}
	mc.Conflict = &conflictDelegate{n}
	mc.Alive = &aliveDelegate{n}
	n.logw = newLogWriter(n.log)
	n.logw.onRefute = func() {
		select {
		case n.refuted <- struct{}{}:
		default:
		}
	}
	n.logw.onProbe = n.probed
	n.logw.onDecryptFail = func() { n.metrics.decryptFailed() }
	mc.Ping = &pingDelegate{n}
	mc.Logger = log.New(n.logw, "", 0)
	if cfg.MemberlistConfig != nil {
		cfg.MemberlistConfig(mc)
	}
	// The largest delta that fits one gossip packet next to memberlist's
	// framing, label and encryption; larger sets travel by push/pull.
	n.maxDelta = mc.UDPBufferSize - 64 - len(mc.Label)
	// Deltas are sent a little more often than memberlist's own messages:
	// with every node relaying RetransmitMult*log10(N+1) times, about one
	// delta in 40 still missed some node of a 50-node cluster at the
	// default multiplier (then only push/pull repaired it, tens of seconds
	// later); half as much again makes that rare for half as much traffic
	// again.
	n.queue = &memberlist.TransmitLimitedQueue{RetransmitMult: mc.RetransmitMult + mc.RetransmitMult/2}

	n.metrics, err = newMetrics(cfg.Metrics, n.Members)
	if err != nil {
		return nil, fmt.Errorf("gossip: register metrics: %w", err)
	}

	ml, err := memberlist.Create(mc)
	if err != nil {
		n.metrics.unregister()
		if strings.Contains(err.Error(), "address already in use") {
			// memberlist formats the socket error with %v: mark it.
			return nil, fmt.Errorf("gossip: listen on %s: %w: %v (another process holds the port; Docker Swarm uses 7946: pick another --gossip-listen)", cfg.BindAddr, ErrAddrInUse, err)
		}
		return nil, fmt.Errorf("gossip: start memberlist on %s: %w", cfg.BindAddr, err)
	}
	n.ml = ml
	// Read once: memberlist's LocalNode hands out its live node state,
	// which UpdateNode later rewrites without a lock we could take.
	ln := ml.LocalNode()
	n.addr = addrPort(ln.Addr, ln.Port)
	n.queue.NumNodes = ml.NumMembers
	return n, nil
}

func resolveOne(host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("%s has no address", host)
	}
	return ips[0].Unmap(), nil
}

// LocalAddr returns the address peers reach this node at.
func (n *Node) LocalAddr() netip.AddrPort { return n.addr }

// ErrAddrInUse is returned by New when the gossip port is held by another
// process (the previous run of this node during a start-first update, or
// Swarm's own memberlist on 7946).
var ErrAddrInUse = errors.New("gossip port in use")

// Joined returns a channel that is closed once the node has joined at least
// one peer, or found no other node to join: nothing to join at all, or a
// first round in which every join address and seed failed (a one-node
// cluster, or the first node of one; it keeps trying them).
func (n *Node) Joined() <-chan struct{} { return n.joined }

// Alone reports whether Joined was closed because no other node was found,
// not by a join.
func (n *Node) Alone() bool { return n.alone.Load() }

// HandOff makes Run end without leaving the cluster when its context
// ends: the peers keep the local records (they see a failure) until the
// next run of this node, at the same address and with a newer generation,
// takes its name over. It is for a start-first update, where that next run
// is waiting for the gossip port.
func (n *Node) HandOff() { n.handedOff.Store(true) }

func (n *Node) markJoined() { n.joinedOnce.Do(func() { close(n.joined) }) }

// Generation returns the local node's current generation: the configured
// one, or a newer one if the node had to move above a generation the
// cluster held for its name.
func (n *Node) Generation() uint64 { return n.gen.Load() }

// Run joins the cluster and serves it until ctx ends; it then leaves the
// cluster (peers drop the local records at once) and shuts memberlist down.
// It returns nil after a clean leave. Run must be called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("gossip: Run called twice")
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.loop(gctx) })
	g.Go(func() error { return n.sender(gctx) })
	g.Go(func() error { return n.rejoinLoop(gctx) })
	err := g.Wait()
	if lerr := n.leave(); err == nil {
		err = lerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// leave announces a clean departure, then shuts memberlist down.
func (n *Node) leave() error {
	if n.closed.Load() {
		return nil // crashed on purpose (Close): nothing to announce
	}
	if n.handedOff.Load() {
		n.log.Info().Msg("handed off: stopped gossip without leaving the cluster")
		return n.Close()
	}
	defer n.Close()
	half := n.cfg.LeaveTimeout / 2
	n.leaving.Store(true)
	var errs []error
	if err := n.ml.UpdateNode(half); err != nil {
		errs = append(errs, fmt.Errorf("announce leave: %w", err))
	}
	if err := n.ml.Leave(half); err != nil {
		errs = append(errs, fmt.Errorf("leave: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("gossip: %w", errors.Join(errs...))
	}
	n.log.Info().Msg("left the gossip cluster")
	return nil
}

// Close shuts memberlist down without leaving: peers see a failure and
// keep the local records until their lease ends. Run calls it; call it
// only when Run was never started. It is idempotent.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		n.release.close()
		n.logw.off.Store(true)
		err = n.ml.Shutdown()
	})
	return err
}

// loop serves received messages, membership events, local changes and
// leases. It is the only goroutine that writes remote records.
func (n *Node) loop(ctx context.Context) error {
	_, sub := n.store.SubscribeLocal(ctx)
	defer sub.Close()
	tick := time.NewTicker(min(time.Second, n.cfg.Lease/4))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case buf := <-n.inbox:
			n.handle(buf)
		case <-n.events.notify:
			for _, ev := range n.events.take() {
				n.handleEvent(ev)
			}
		case <-sub.Ready():
			n.broadcastLocal(sub.Next())
		case <-n.refuted:
			n.syncAll()
		case peer := <-n.reached:
			n.syncWithin(peer, syncAllEvery)
		case now := <-tick.C:
			n.joinRevived(now)
			n.queueOwnBatch(nil)
			n.pullDue(now)
			for _, node := range n.store.ExpireLeases() {
				n.log.Info().Str("peer", node).Dur("lease_ms", n.cfg.Lease).Msg("peer's lease ended; its records are dropped")
			}
		}
	}
}

// sender sends reliable messages and runs slow jobs, off memberlist's
// goroutines and off the loop.
func (n *Node) sender(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-n.outbox:
			if m.job != nil {
				m.job()
				continue
			}
			if err := n.ml.SendReliable(&m.to, m.buf); err != nil {
				if n.warn.allow("send/" + m.to.Name) {
					n.log.Debug().Err(err).Str("peer", m.to.Name).Str("kind", m.kind).Msg("send to peer failed")
				}
				continue
			}
			n.count(m.kind, "out", len(m.buf))
		}
	}
}

// enqueue hands a message to the sender without blocking; when the sender
// is behind the message is dropped (push/pull repairs what it carried).
func (n *Node) enqueue(m outMsg) {
	select {
	case n.outbox <- m:
	default:
		n.reject("send_backlog")
	}
}

func (n *Node) sendTo(peer string, kind string, buf []byte) {
	var addr netip.AddrPort
	n.mu.Lock()
	if mb := n.members[peer]; mb != nil {
		addr = mb.addr
	}
	n.mu.Unlock()
	if !addr.IsValid() {
		return
	}
	to := memberlist.Node{Name: peer, Addr: net.IP(addr.Addr().AsSlice()), Port: addr.Port()}
	n.enqueue(outMsg{to: to, kind: kind, buf: buf})
}

// handle decodes and applies one received message.
func (n *Node) handle(buf []byte) {
	m, err := decodeHeld(buf, n.store.Snapshot())
	if err != nil {
		reason := "malformed"
		if errors.Is(err, errUnknownType) {
			reason = "unknown_type"
		}
		n.count(kindName(m.kind), "in", len(buf))
		n.reject(reason)
		if n.warn.allow("decode/" + reason) {
			n.log.Warn().Err(err).Int("bytes", len(buf)).Msg("dropped a gossip message")
		}
		return
	}
	n.count(kindName(m.kind), "in", len(buf))
	switch m.kind {
	case msgDelta:
		n.handleDelta(m.delta, buf)
	case msgState:
		n.handleState(m.state, false)
	case msgNotice:
		n.handleNotice(m.notice)
	case msgBatch:
		n.handleBatch(m.batch, buf)
	}
}

// handleDelta applies a delta and relays it when it was news.
func (n *Node) handleDelta(d registry.Delta, raw []byte) {
	if !n.acceptRemote(d.Node, d.Generation) {
		return
	}
	applied, ok := n.applyRemote(d)
	if !ok {
		return
	}
	n.afterRemoteWrite(d.Node, d.Generation)
	if applied {
		// Epidemic relay: a node passes on what was news to it, once.
		// Duplicates (every node hears a delta from several relays) and
		// replays stop here.
		n.queueBroadcast(d.Node, d.ContainerID, raw)
	}
}

// applyRemote writes another node's change to the store; one the store
// refuses is counted and logged, and ok is false.
func (n *Node) applyRemote(d registry.Delta) (applied, ok bool) {
	applied, err := n.store.ApplyDelta(d)
	if err != nil {
		n.reject("invalid")
		if n.warn.allow("invalid/" + d.Node) {
			n.log.Warn().Err(err).Str("peer", d.Node).Str("container", d.ContainerID).Msg("refused a change")
		}
		return false, false
	}
	return applied, true
}

// acceptRemote checks an update's owner and generation before it reaches
// the store.
func (n *Node) acceptRemote(node string, gen uint64) bool {
	if node == n.cfg.Node {
		// Our own updates come back through relays: drop them. One from a
		// newer run means a previous run had a clock ahead of ours.
		if gen > n.gen.Load() {
			n.reject("own_node")
			n.renew(gen, "a peer holds this node's name at a newer generation (the clock went backwards?)")
		}
		return false
	}
	if limit := time.Now().Add(maxFutureGeneration).UnixNano(); limit > 0 && gen > uint64(limit) {
		n.reject("future_generation")
		if n.warn.allow("future/" + node) {
			n.log.Warn().Str("peer", node).Uint64("generation", gen).Msg("refused an update from the far future")
		}
		return false
	}
	n.mu.Lock()
	mb := n.members[node]
	stale := mb != nil && mb.hasMeta && mb.state == StateAlive && gen < mb.meta.Generation
	n.mu.Unlock()
	if stale {
		// The owner announces a newer run: this is left over from an
		// earlier one and must not bring its records back.
		n.reject("stale_generation")
		return false
	}
	return true
}

// afterRemoteWrite gives a lease to the records of a node that memberlist
// does not show alive (news relayed about a failed node, or a new run not
// announced yet): they live for Lease unless the node shows up. A running
// lease is left as it is (the store keeps it across updates), except that
// a new run after an expired one gets its own.
func (n *Node) afterRemoteWrite(node string, gen uint64) {
	now := time.Now()
	n.mu.Lock()
	if mb := n.members[node]; mb != nil && mb.state == StateAlive {
		n.mu.Unlock()
		return
	}
	l, ok := n.down[node]
	if !ok || gen > l.gen && !now.Before(l.expires) {
		l = lease{gen: gen, expires: now.Add(n.cfg.Lease)}
		n.down[node] = l
	}
	// Under n.mu: the loop cancels leases under it too (the store never
	// calls back into gossip, so the lock order n.mu -> store is safe).
	n.store.SetLease(node, l.expires)
	n.mu.Unlock()
}

// handleState merges full node states. The sender's own state is
// authoritative (MergeNode drops what it lacks); states it relays for other
// nodes only add what is newer, since a relay's copy may miss a removal.
func (n *Node) handleState(m *stateMsg, pushPull bool) {
	if m.Sender == n.cfg.Node {
		n.reject("own_node")
		return
	}
	for i := range m.States {
		st := &m.States[i]
		if !n.acceptRemote(st.Node, st.Generation) {
			continue
		}
		held, known := n.store.Generation(st.Node)
		if st.Node == m.Sender || !known || held < st.Generation {
			// The owner's own state; or a relayed one for a run this node
			// holds nothing of, where merging whole cannot remove anything
			// (one snapshot instead of one per set, for a node that joins
			// a large zone). A hole in a relay's copy is found by the
			// digest hash later and filled by the owner.
			if _, err := n.store.MergeNode(*st); err != nil {
				n.reject("invalid")
				if n.warn.allow("invalid/" + st.Node) {
					n.log.Warn().Err(err).Str("peer", st.Node).Msg("refused a node state")
				}
				continue
			}
		} else {
			for j := range st.Sets {
				s := &st.Sets[j]
				if _, err := n.store.ApplyDelta(registry.Delta{Node: st.Node, Generation: st.Generation, Version: s.Version, ContainerID: s.ContainerID, Set: s}); err != nil {
					n.reject("invalid")
				}
			}
		}
		n.afterRemoteWrite(st.Node, st.Generation)
	}
	n.release.decoded(m.decoded)
	if m.Digest != nil {
		n.pushBack(m)
	}
	if m.Flags&stateWantReply != 0 && !pushPull {
		reply := &stateMsg{Sender: n.cfg.Node, Generation: n.gen.Load(), States: []registry.NodeState{n.ownState(n.store.Snapshot())}}
		n.sendTo(m.Sender, "state", n.encodeState(reply))
	}
}

// pushBack sends the sender of a digest the states this node holds newer
// than it does (other than the sender's own and this node's, which the
// push/pull itself exchanged).
func (n *Node) pushBack(m *stateMsg) {
	theirs := make(map[string]digestEntry, len(m.Digest))
	for _, e := range m.Digest {
		theirs[e.Node] = e
		if e.Node == n.cfg.Node && e.Generation > n.gen.Load() {
			n.renew(e.Generation, "a peer holds this node's name at a newer generation")
		}
	}
	snap := n.store.Snapshot()
	ours := make(map[string]digestEntry)
	for _, e := range digest(snap) {
		ours[e.Node] = e
	}
	for _, e := range m.Digest {
		o, ok := ours[e.Node]
		if !ok || e.Node == n.cfg.Node || e.Node == m.Sender || o.Generation != e.Generation {
			continue
		}
		switch {
		case o.Version == e.Version && o.Hash != e.Hash:
			// Same run, same version, other sets: one of the two copies
			// has a hole (a lost delta) or a set a lost removal should
			// have taken. Only the owner knows which: ask it for its state.
			n.sync(e.Node)
		case o.Version < e.Version && !n.cfg.PerContainerDeltas:
			// The peer holds a newer version: this node missed a change
			// (the last batch of a burst, say), which the additive copy
			// the peer sends back cannot carry if it was a removal. Pull
			// the owner's state.
			n.pull(e.Node)
		}
	}
	var states []registry.NodeState
	size, total := 0, 0
	flush := func() {
		if len(states) == 0 {
			return
		}
		buf := n.encodeState(&stateMsg{Sender: n.cfg.Node, Generation: n.gen.Load(), States: states})
		n.sendTo(m.Sender, "state", buf)
		states, size = nil, 0
	}
	for _, info := range snap.Nodes() {
		if info.Local || info.Name == m.Sender {
			continue
		}
		e, ok := theirs[info.Name]
		if ok && (e.Generation > info.Generation || e.Generation == info.Generation && e.Version >= info.Version) {
			continue
		}
		st := nodeState(snap, info)
		est := 64 + 256*len(st.Sets)
		states = append(states, st)
		size += est
		total += est
		if size >= maxChunk {
			flush()
		}
		if total >= maxPushBack {
			break
		}
	}
	flush()
}

// handleNotice: a peer holds this node's name at a generation at least as
// new as its own and will ignore it until it moves above.
func (n *Node) handleNotice(nt notice) {
	if nt.Node != n.cfg.Node {
		n.reject("misaddressed")
		return
	}
	if nt.Generation >= n.gen.Load() {
		n.renew(nt.Generation, "a peer holds this node's name at a generation at least as new (it dropped this run)")
	}
}

// renew moves the local node above gen and announces it.
func (n *Node) renew(gen uint64, why string) {
	if gen < n.gen.Load() {
		return
	}
	newGen, changed := n.store.RenewGeneration(gen)
	for {
		// Renewals can race (the loop and a push/pull): keep the highest.
		old := n.gen.Load()
		if newGen <= old || n.gen.CompareAndSwap(old, newGen) {
			break
		}
	}
	if !changed {
		return
	}
	n.log.Warn().Uint64("seen", gen).Uint64("generation", newGen).Str("reason", why).Msg("moved to a newer generation; publishing the local records again")
	n.enqueue(outMsg{job: func() {
		if err := n.ml.UpdateNode(n.cfg.LeaveTimeout); err != nil {
			n.log.Debug().Err(err).Msg("announce new generation")
		}
	}})
}

// broadcastLocal turns local changes into the owner's batch, or into
// deltas on the broadcast queue while a member does not read batches.
func (n *Node) broadcastLocal(changes []registry.Change) {
	batches := n.batchesAllowed()
	var own []registry.Change
	for _, c := range changes {
		if c.Node != n.cfg.Node || c.NodeChanged || c.ContainerID == "" {
			continue
		}
		if batches {
			own = append(own, c)
			continue
		}
		buf := encodeDelta(registry.Delta{Node: c.Node, Generation: c.Generation, Version: c.Version, ContainerID: c.ContainerID, Set: c.Set})
		if len(buf) > n.maxDelta {
			// Too big for one packet: push/pull carries it.
			n.reject("oversize")
			if n.warn.allow("oversize") {
				n.log.Warn().Str("container", c.ContainerID).Int("bytes", len(buf)).Int("limit", n.maxDelta).Msg("record set too large for a gossip packet; it spreads by push/pull only")
			}
			continue
		}
		n.queueBroadcast(c.Node, c.ContainerID, buf)
	}
	if len(own) > 0 {
		n.queueOwnBatch(own)
	}
}

func (n *Node) queueBroadcast(node, container string, buf []byte) {
	n.enqueueBroadcast(&broadcast{name: node + "/" + container, msg: buf})
}

// enqueueBroadcast puts b on the broadcast queue and prunes the queue to
// maxQueued.
func (n *Node) enqueueBroadcast(b memberlist.Broadcast) {
	n.queue.QueueBroadcast(b)
	if n.queue.NumQueued() > maxQueued {
		n.queue.Prune(maxQueued)
	}
}

// encodeState is encodeState (the wire form) for sending: a node state too
// large for any receiver is left out of the message, counted as rejected
// ("oversize") and logged, instead of being sent and refused every time.
func (n *Node) encodeState(m *stateMsg) []byte {
	buf, err := encodeState(m)
	if err != nil {
		n.reject("oversize")
		if n.warn.allow("oversize/state") {
			n.log.Warn().Err(err).Msg("a node state is too large for gossip and was left out of a state message; its records spread by deltas only")
		}
	}
	return buf
}

// ownState is the local node's full state in snap.
func (n *Node) ownState(snap *registry.Snapshot) registry.NodeState {
	info, _ := snap.Node(n.cfg.Node)
	return nodeState(snap, info)
}

// nodeState extracts one node's full state from a snapshot.
func nodeState(snap *registry.Snapshot, info registry.NodeInfo) registry.NodeState {
	st := registry.NodeState{Node: info.Name, Generation: info.Generation, Version: info.Version}
	sets := snap.NodeSets(info.Name)
	st.Sets = make([]registry.RecordSet, 0, len(sets))
	for _, s := range sets {
		st.Sets = append(st.Sets, *s)
	}
	return st
}

// digest lists what this node holds for every node.
func digest(snap *registry.Snapshot) []digestEntry {
	nodes := snap.Nodes()
	out := make([]digestEntry, 0, len(nodes))
	for _, info := range nodes {
		e := digestEntry{Node: info.Name, Generation: info.Generation, Version: info.Version}
		for _, s := range snap.NodeSets(info.Name) {
			e.Hash ^= setHash(s.ContainerID, s.Version)
		}
		out = append(out, e)
	}
	return out
}

// setHash hashes one (container, version) pair; a node's digest hash is
// the XOR of its sets' (so order does not matter).
// It is FNV-1a over the ID's bytes and the version's eight little-endian
// bytes, written out so that a digest of 100,000 sets allocates nothing.
func setHash(id string, version uint64) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	for range 8 {
		h ^= version & 0xff
		h *= prime64
		version >>= 8
	}
	return h
}

func (n *Node) count(kind, direction string, size int) {
	n.metrics.message(kind, direction, size)
	if direction == "in" {
		n.stats.msgsIn.Add(1)
		n.stats.bytesIn.Add(uint64(size))
	} else {
		n.stats.msgsOut.Add(1)
		n.stats.bytesOut.Add(uint64(size))
	}
}

func (n *Node) reject(reason string) {
	n.metrics.reject(reason)
	n.stats.rejected.Add(1)
}

// counters back Stats.
type counters struct {
	msgsIn, msgsOut, bytesIn, bytesOut, rejected, revived, pulls atomic.Uint64
}

// Stats are a node's gossip counters since it started (swarmdns messages
// only, before memberlist's framing).
type Stats struct {
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	// Rejected counts updates dropped: malformed, stale, refused.
	Rejected uint64
	// Queued is the number of deltas waiting in the broadcast queue.
	Queued int
	// Revived counts the pushes/pulls with new runs of peers that
	// memberlist did not take (revive.go).
	Revived uint64
	// Pulls counts the owners' states asked for after a batch showed this
	// node behind (batch.go).
	Pulls uint64
}

// NumMembers returns the number of nodes memberlist sees alive (or
// suspect), this one included.
func (n *Node) NumMembers() int { return n.ml.NumMembers() }

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{
		MessagesIn: n.stats.msgsIn.Load(), MessagesOut: n.stats.msgsOut.Load(),
		BytesIn: n.stats.bytesIn.Load(), BytesOut: n.stats.bytesOut.Load(),
		Rejected: n.stats.rejected.Load(), Queued: n.queue.NumQueued(), Revived: n.stats.revived.Load(), Pulls: n.stats.pulls.Load(),
	}
}

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}
