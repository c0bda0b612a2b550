// Command cluster measures swarmdns gossip in one process on loopback: it
// starts a cluster of gossip nodes (memberlist's LAN defaults), then
// prints, as a table, the convergence time from a record set written on one
// node to its name resolving on every node (p50, p99), the gossip traffic
// per node at rest and under churn (every byte memberlist sends, probes
// included), and the push/pull state size against the container count.
//
//	go run ./bench/cluster -nodes 50
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/registry"
)

func main() {
	nodes := flag.Int("nodes", 50, "cluster size")
	perNode := flag.Int("containers", 10, "containers per node before measuring")
	trials := flag.Int("trials", 40, "convergence trials")
	rest := flag.Duration("rest", 10*time.Second, "measurement window at rest")
	churn := flag.Duration("churn", 10*time.Second, "measurement window under churn")
	churnRate := flag.Float64("churn-rate", 0.2, "changes per node per second under churn")
	sizes := flag.Bool("sizes", true, "print the push/pull size table (synthetic zones of 100 and 300 nodes)")
	flag.Parse()
	if err := run(*nodes, *perNode, *trials, *rest, *churn, *churnRate, *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

type node struct {
	name string
	reg  *registry.Registry
	g    *gossip.Node
	tr   *countingTransport
}

func run(n, perNode, trials int, rest, churn time.Duration, churnRate float64, sizes bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	logger := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	if os.Getenv("CLUSTER_DEBUG") != "" {
		logger = logger.Level(zerolog.InfoLevel)
	}

	fmt.Fprintf(os.Stderr, "starting %d nodes...\n", n)
	var cluster []*node
	for i := range n {
		name := fmt.Sprintf("node-%03d", i)
		gen := uint64(time.Now().UnixNano())
		reg, err := registry.New(registry.Config{Node: name, Generation: gen})
		if err != nil {
			return err
		}
		tr, err := newCountingTransport()
		if err != nil {
			return err
		}
		var join []string
		if i > 0 {
			join = []string{cluster[rand.IntN(i)].g.LocalAddr().String()}
		}
		g, err := gossip.New(gossip.Config{
			Node: name, Generation: gen, BindAddr: "127.0.0.1:0", Join: join,
			Key: []byte("0123456789abcdef"), Store: reg, Logger: logger,
			MemberlistConfig: func(c *memberlist.Config) { c.Transport = tr },
		})
		if err != nil {
			return err
		}
		nd := &node{name: name, reg: reg, g: g, tr: tr}
		cluster = append(cluster, nd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = g.Run(ctx)
		}()
	}
	if err := await(180*time.Second, func() bool {
		for _, nd := range cluster {
			if len(alive(nd.g)) != n {
				return false
			}
		}
		return true
	}); err != nil {
		for _, nd := range cluster {
			if got := len(alive(nd.g)); got != n {
				var other []string
				for _, m := range nd.g.Members() {
					if m.State != gossip.StateAlive {
						other = append(other, m.Name+"="+string(m.State))
					}
				}
				fmt.Fprintf(os.Stderr, "%s sees %d alive; others: %v; memberlist says %d\n", nd.name, got, other, nd.g.NumMembers())
			}
		}
		return fmt.Errorf("cluster did not form: %w", err)
	}
	fmt.Fprintf(os.Stderr, "cluster formed; writing %d containers per node...\n", perNode)
	for i, nd := range cluster {
		for j := range perNode {
			if _, err := nd.reg.SetLocal(set(fmt.Sprintf("init-%d-%d", i, j), fmt.Sprintf("svc%d", j), i, j)); err != nil {
				return err
			}
		}
	}
	want := n * perNode
	if err := await(120*time.Second, func() bool {
		for _, nd := range cluster {
			if len(nd.reg.Snapshot().Sets()) != want {
				return false
			}
		}
		return true
	}); err != nil {
		for _, nd := range cluster {
			snap := nd.reg.Snapshot()
			if got := len(snap.Sets()); got != want {
				var short []string
				for _, info := range snap.Nodes() {
					if info.Records != perNode || info.Stale {
						short = append(short, fmt.Sprintf("%s:%d/gen%d/v%d/stale=%v", info.Name, info.Records, info.Generation%1000000, info.Version, info.Stale))
					}
				}
				fmt.Fprintf(os.Stderr, "%s holds %d sets of %d nodes; short: %v\n", nd.name, got, len(snap.Nodes()), short)
			}
		}
		return fmt.Errorf("initial records did not converge: %w", err)
	}

	// Convergence: a new container on a random node, until every node
	// resolves its name; then its removal, until none does.
	fmt.Fprintf(os.Stderr, "measuring convergence over %d trials...\n", trials)
	var add, del []time.Duration
	for t := range trials {
		nd := cluster[rand.IntN(n)]
		id := fmt.Sprintf("probe-%d", t)
		name := registry.CanonicalName(fmt.Sprintf("probe%d.swarm.internal", t))
		s := set(id, fmt.Sprintf("probe%d", t), 250, t)
		start := time.Now()
		if _, err := nd.reg.SetLocal(s); err != nil {
			return err
		}
		if err := await(30*time.Second, func() bool { return everywhere(cluster, name, true) }); err != nil {
			return fmt.Errorf("trial %d: %w", t, err)
		}
		add = append(add, time.Since(start))
		start = time.Now()
		nd.reg.RemoveLocal(id)
		if err := await(30*time.Second, func() bool { return everywhere(cluster, name, false) }); err != nil {
			return fmt.Errorf("trial %d removal: %w", t, err)
		}
		del = append(del, time.Since(start))
	}

	fmt.Fprintf(os.Stderr, "measuring traffic at rest for %v...\n", rest)
	restBps := traffic(cluster, rest, nil)
	fmt.Fprintf(os.Stderr, "measuring traffic under churn for %v...\n", churn)
	var churnN atomic.Int64
	churnBps := traffic(cluster, churn, func(stop <-chan struct{}) {
		tick := time.NewTicker(time.Duration(float64(time.Second) / (churnRate * float64(n))))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				nd := cluster[rand.IntN(n)]
				j := rand.IntN(perNode)
				_, _ = nd.reg.SetLocal(set(fmt.Sprintf("init-%s-%d", nd.name[5:], j), fmt.Sprintf("svc%d", j), rand.IntN(250), i))
				churnN.Add(1)
			}
		}
	})

	fmt.Printf("in-process cluster on loopback: %d nodes, %d containers per node, memberlist LAN defaults, encrypted\n\n", n, perNode)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "convergence (all nodes)\tp50\tp99\tmax\t")
	fmt.Fprintf(w, "container start -> name resolves\t%v\t%v\t%v\t\n", pct(add, 50), pct(add, 99), pct(add, 100))
	fmt.Fprintf(w, "container stop -> name gone\t%v\t%v\t%v\t\n", pct(del, 50), pct(del, 99), pct(del, 100))
	_ = w.Flush()
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "gossip traffic per node (every memberlist byte)\tsent B/s\treceived B/s\t")
	fmt.Fprintf(w, "at rest\t%.0f\t%.0f\t\n", restBps[0], restBps[1])
	fmt.Fprintf(w, "churn: %.1f changes/s in the cluster\t%.0f\t%.0f\t\n", float64(churnN.Load())/churn.Seconds(), churnBps[0], churnBps[1])
	_ = w.Flush()
	pp, zone := gossip.StateSize(cluster[0].reg.Snapshot())
	fmt.Printf("\npush/pull state of this cluster: %d B (full zone %d B)\n", pp, zone)

	if sizes {
		fmt.Println()
		w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "nodes\tcontainers/node\tpush/pull state (B)\tfull zone (B, a node joining empty)\t")
		for _, nodes := range []int{100, 300} {
			for _, per := range []int{10, 50, 100} {
				snap := syntheticZone(nodes, per)
				pp, zone := gossip.StateSize(snap)
				fmt.Fprintf(w, "%d\t%d\t%d\t%d\t\n", nodes, per, pp, zone)
			}
		}
		_ = w.Flush()
	}
	return nil
}

// set is a realistic Swarm task's record set.
func set(id, svc string, node, j int) registry.RecordSet {
	task := fmt.Sprintf("%s.%d.qz8x1k2j3h4g5f6d7s8a9p0o.swarm.internal", svc, j)
	return registry.RecordSet{
		ContainerID: id,
		Name:        task,
		Names:       []string{task, svc + ".swarm.internal", "tasks." + svc + ".swarm.internal"},
		Addrs: []registry.Addr{
			{IP: netip.AddrFrom4([4]byte{10, 1, byte(node), byte(j)}), Network: "app_net", Subnet: netip.MustParsePrefix("10.1.0.0/16")},
			{IP: netip.AddrFrom4([4]byte{10, 0, byte(node), byte(j)}), Network: "ingress", Subnet: netip.MustParsePrefix("10.0.0.0/16")},
		},
		Health: registry.HealthHealthy,
		Ports:  []registry.Port{{Service: "http", Proto: "tcp", Port: 8080}},
		Image:  "registry.example.com/acme/" + svc + ":1.27.3@sha256:0d1f7c8c6e8b1e4e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f",
	}
}

// syntheticZone is node 0's view of a zone of nodes nodes with per
// containers each.
func syntheticZone(nodes, per int) *registry.Snapshot {
	name := func(i int) string { return fmt.Sprintf("worker-%03d.example.internal", i) }
	r, err := registry.New(registry.Config{Node: name(0), Generation: uint64(time.Now().UnixNano())})
	if err != nil {
		panic(err)
	}
	for i := range nodes {
		st := registry.NodeState{Node: name(i), Generation: uint64(time.Now().UnixNano()), Version: uint64(per)}
		for j := range per {
			s := set(fmt.Sprintf("%064x", i*per+j), fmt.Sprintf("svc%d", j%20), i, j)
			s.Version = uint64(j + 1)
			st.Sets = append(st.Sets, s)
		}
		if i == 0 {
			for _, s := range st.Sets {
				_, _ = r.SetLocal(s)
			}
			continue
		}
		if _, err := r.MergeNode(st); err != nil {
			panic(err)
		}
	}
	return r.Snapshot()
}

func alive(g *gossip.Node) []string {
	var out []string
	for _, m := range g.Members() {
		if m.State == gossip.StateAlive {
			out = append(out, m.Name)
		}
	}
	return out
}

func everywhere(cluster []*node, name string, present bool) bool {
	for _, nd := range cluster {
		if (len(nd.reg.Snapshot().Lookup(name)) > 0) != present {
			return false
		}
	}
	return true
}

// await polls cond every millisecond until it holds or within passes.
func await(within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", within)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// traffic measures the mean bytes per second sent and received per node
// over d while load runs (if any).
func traffic(cluster []*node, d time.Duration, load func(stop <-chan struct{})) [2]float64 {
	var sent0, recv0 uint64
	for _, nd := range cluster {
		sent0 += nd.tr.sent.Load()
		recv0 += nd.tr.recv.Load()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if load != nil {
			load(stop)
		}
	}()
	start := time.Now()
	time.Sleep(d)
	close(stop)
	<-done
	secs := time.Since(start).Seconds()
	var sent, recv uint64
	for _, nd := range cluster {
		sent += nd.tr.sent.Load()
		recv += nd.tr.recv.Load()
	}
	per := float64(len(cluster)) * secs
	return [2]float64{float64(sent-sent0) / per, float64(recv-recv0) / per}
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i].Round(100 * time.Microsecond)
}

// countingTransport is memberlist's NetTransport on 127.0.0.1 with every
// byte sent and received counted, packets and streams.
type countingTransport struct {
	*memberlist.NetTransport
	sent, recv atomic.Uint64
	packets    chan *memberlist.Packet
	streams    chan net.Conn
	done       chan struct{}
	once       sync.Once
}

func newCountingTransport() (*countingTransport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		return nil, err
	}
	t := &countingTransport{NetTransport: nt, packets: make(chan *memberlist.Packet), streams: make(chan net.Conn), done: make(chan struct{})}
	go func() {
		for {
			select {
			case <-t.done:
				return
			case p := <-nt.PacketCh():
				t.recv.Add(uint64(len(p.Buf)))
				select {
				case t.packets <- p:
				case <-t.done:
					return
				}
			}
		}
	}()
	go func() {
		for {
			select {
			case <-t.done:
				return
			case c := <-nt.StreamCh():
				select {
				case t.streams <- &countingConn{Conn: c, t: t}:
				case <-t.done:
					return
				}
			}
		}
	}()
	return t, nil
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *countingTransport) StreamCh() <-chan net.Conn           { return t.streams }

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.sent.Add(uint64(len(b)))
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, t: t}, nil
}

func (t *countingTransport) Shutdown() error {
	// The listeners first: they may be blocked handing us a packet.
	err := t.NetTransport.Shutdown()
	t.once.Do(func() { close(t.done) })
	return err
}

type countingConn struct {
	net.Conn
	t *countingTransport
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.t.recv.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.t.sent.Add(uint64(n))
	return n, err
}
