package gossip

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/registry"
)

// nextIP hands each test node its own loopback address, so that the fault
// transport can cut nodes apart by address.
var nextIP atomic.Uint32

func newLoopbackIP() netip.Addr {
	n := nextIP.Add(1)
	return netip.AddrFrom4([4]byte{127, 0, byte(1 + n/250), byte(1 + n%250)})
}

// fastMemberlist shortens memberlist's timers for loopback tests (they
// still leave room for a slow -race build on a busy machine).
func fastMemberlist(tr memberlist.Transport) func(*memberlist.Config) {
	return func(c *memberlist.Config) {
		c.Transport = tr
		c.ProbeInterval = 200 * time.Millisecond
		c.ProbeTimeout = 150 * time.Millisecond
		c.IndirectChecks = 1
		c.SuspicionMult = 2
		c.SuspicionMaxTimeoutMult = 2
		c.GossipInterval = 25 * time.Millisecond
		c.PushPullInterval = time.Second
		c.GossipToTheDeadTime = time.Second
		c.TCPTimeout = time.Second
		c.DeadNodeReclaimTime = 200 * time.Millisecond
	}
}

type nodeOpts struct {
	keys    [][]byte
	lease   time.Duration
	join    []string
	seeds   func(context.Context) []string
	gen     uint64
	ip      netip.Addr
	port    int // 0: any
	logOut  io.Writer
	metrics prometheus.Registerer
	// tune, when set, adjusts memberlist's config after fastMemberlist.
	tune func(*memberlist.Config)
	// rejoin is the RejoinInterval; default 300ms.
	rejoin time.Duration
	// mute drops the packets (not the streams) from these addresses from
	// the start (faultTransport.mutePackets).
	mute []netip.Addr
}

// tnode is one test node: a registry, a gossip node on its own address,
// and its Run goroutine.
type tnode struct {
	t    testing.TB
	name string
	ip   netip.Addr
	reg  *registry.Registry
	node *Node
	tr   *faultTransport

	cancel context.CancelFunc
	done   chan error
	stop   sync.Once
}

var genSeq atomic.Uint64

// startNode starts a node; it stops (leaving cleanly) at the end of the test.
func startNode(t testing.TB, name string, o nodeOpts) *tnode {
	t.Helper()
	if !o.ip.IsValid() {
		o.ip = newLoopbackIP()
	}
	if o.gen == 0 {
		o.gen = uint64(time.Now().UnixNano()) + genSeq.Add(1)
	}
	if o.rejoin == 0 {
		o.rejoin = 300 * time.Millisecond
	}
	if o.lease == 0 {
		o.lease = time.Minute
	}
	reg, err := registry.New(registry.Config{Node: name, Generation: o.gen})
	if err != nil {
		t.Fatal(err)
	}
	tr := newFaultTransport(t, o.ip, o.port)
	if len(o.mute) > 0 {
		tr.mutePackets(true, o.mute...)
	}
	var w io.Writer = zerolog.NewTestWriter(t)
	if o.logOut != nil {
		w = io.MultiWriter(w, o.logOut)
	}
	node, err := New(Config{
		Node:           name,
		Generation:     o.gen,
		BindAddr:       netip.AddrPortFrom(o.ip, 0).String(),
		Join:           o.join,
		Seeds:          o.seeds,
		Keys:           o.keys,
		Lease:          o.lease,
		RejoinInterval: o.rejoin,
		LeaveTimeout:   2 * time.Second,
		Store:          reg,
		Metrics:        o.metrics,
		Logger:         zerolog.New(w).Level(zerolog.InfoLevel).With().Str("node", name).Logger(),
		MemberlistConfig: func(c *memberlist.Config) {
			fastMemberlist(tr)(c)
			if o.tune != nil {
				o.tune(c)
			}
		},
	})
	if err != nil {
		_ = tr.Shutdown()
		t.Fatalf("New(%s): %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &tnode{t: t, name: name, ip: o.ip, reg: reg, node: node, tr: tr, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- node.Run(ctx) }()
	t.Cleanup(tn.leave)
	return tn
}

// addr is the node's gossip address, for others to join.
func (tn *tnode) addr() string { return tn.node.LocalAddr().String() }

// leave stops the node cleanly (Run's leave) and waits for Run to return.
func (tn *tnode) leave() {
	tn.stop.Do(func() {
		tn.cancel()
		select {
		case err := <-tn.done:
			if err != nil {
				tn.t.Logf("%s: Run: %v", tn.name, err)
			}
		case <-time.After(10 * time.Second):
			tn.t.Errorf("%s: Run did not return 10s after its context ended", tn.name)
		}
	})
}

// crash stops the node without a leave: peers see it fail.
func (tn *tnode) crash() {
	if err := tn.node.Close(); err != nil {
		tn.t.Errorf("%s: Close: %v", tn.name, err)
	}
	tn.leave()
}

// startCluster starts n nodes joined to the first one and waits until every
// node sees every other alive.
func startCluster(t testing.TB, n int, o nodeOpts) []*tnode {
	t.Helper()
	nodes := []*tnode{startNode(t, "n0", o)}
	for i := 1; i < n; i++ {
		oi := o
		oi.join = []string{nodes[0].addr()}
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), oi))
	}
	awaitMembers(t, nodes...)
	return nodes
}

// awaitMembers waits until each node sees all the others alive.
func awaitMembers(t testing.TB, nodes ...*tnode) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		for _, a := range nodes {
			if got := a.node.ml.NumMembers(); got != len(nodes) {
				return fmt.Errorf("%s sees %d members; want %d", a.name, got, len(nodes))
			}
			for _, b := range nodes {
				if a != b && memberState(a, b.name) != StateAlive {
					return fmt.Errorf("%s sees %s %s; want alive", a.name, b.name, memberState(a, b.name))
				}
			}
		}
		return nil
	})
}

func memberState(tn *tnode, peer string) MemberState {
	for _, m := range tn.node.Members() {
		if m.Name == peer {
			return m.State
		}
	}
	return "unknown"
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	await.Until(t, within, cond)
}

// testSet is a record set for container id named name with one address.
func testSet(id, name, ip string) registry.RecordSet {
	return registry.RecordSet{
		ContainerID: id,
		Name:        name + ".swarm.internal.",
		Addrs:       []registry.Addr{{IP: netip.MustParseAddr(ip), Network: "net"}},
	}
}

func mustSet(t testing.TB, tn *tnode, s registry.RecordSet) {
	t.Helper()
	if _, err := tn.reg.SetLocal(s); err != nil {
		t.Fatal(err)
	}
}

// view renders every record set a node holds, one line each, sorted.
func view(tn *tnode) string {
	var b strings.Builder
	for _, s := range tn.reg.Snapshot().Sets() {
		fmt.Fprintf(&b, "%s/%s v%d %v", s.Node, s.ContainerID, s.Version, s.Names)
		for _, a := range s.Addrs {
			fmt.Fprintf(&b, " %s", a.IP)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// ownerSets returns the container IDs a node holds for owner.
func ownerSets(tn *tnode, owner string) []string {
	var out []string
	for _, s := range tn.reg.Snapshot().Sets() {
		if s.Node == owner {
			out = append(out, s.ContainerID)
		}
	}
	return out
}

// lookup returns the owner/container of every set that answers name on tn.
func lookup(tn *tnode, name string) []string {
	var out []string
	for _, s := range tn.reg.Snapshot().Lookup(registry.CanonicalName(name)) {
		out = append(out, s.Node+"/"+s.ContainerID)
	}
	return out
}

// awaitEqualViews waits until all nodes hold the same records.
func awaitEqualViews(t testing.TB, within time.Duration, nodes ...*tnode) {
	t.Helper()
	eventually(t, within, func() error {
		want := view(nodes[0])
		for _, n := range nodes[1:] {
			if got := view(n); got != want {
				return fmt.Errorf("%s's view differs from %s's:\n%s\n--- vs ---\n%s", n.name, nodes[0].name, got, want)
			}
		}
		return nil
	})
}
