// Command cluster measures swarmdns gossip in one process on loopback: it
// starts a cluster of gossip nodes (memberlist's LAN defaults, encrypted),
// then prints, as a table, the convergence time from a record set written
// on one node to its name resolving on every node (p50, p99, max, and the
// trials that did not converge within -trial-timeout), the gossip traffic
// per node at rest and under churn (every byte memberlist sends and
// receives, probes and push/pull included), and the push/pull state size
// against the container count.
//
// Each node's registry holds its -containers record sets before its gossip
// starts (a node that comes up on a host with running containers), so the
// cluster forms with them. Under churn a container is started (a new set
// on a random node) or stopped (a random set removed), alternately, every
// -churn-every in the whole cluster. The header gives the host's load
// average and the table the process's CPU use in each window: on a busy
// machine memberlist's failure detector sees missed probes, and the
// refutations counted at the end are its sign.
//
// Run it from the repository root:
//
//	GOGC=400 go run ./bench/cluster -nodes 100
//	GOGC=400 go run ./bench/cluster -nodes 200
//
// GOGC=400 because about half of the process's CPU at 100 nodes was garbage
// collection (memberlist's NetTransport allocates a 64 KB buffer per UDP
// packet read, and an LZW writer per compressed packet); one process pays
// that for every node at once.
//
// Measured on a 2-core machine with a low load (10 containers per node,
// 100 trials, 60 s windows): 100 nodes converge in 616 ms (p50) and 960 ms
// (p99) after a start, 623 and 976 ms after a stop, with no probe missed;
// each node sends 546 B/s at rest and 15.8 KB/s under churn (one change
// every 100 ms), about 1.5 KB per change. 200 nodes need more than this
// process gets from two cores: 760 ms (p50) but 4.8 s (p99, 21 s at most)
// after a start and 3.2 s after a stop, with goroutines waking up to 7 s
// late, thousands of missed probes and nodes marked failed, and the
// full-state exchanges that follow refutations and rejoins adding to the
// load (522 state messages a second in the cluster, against 8 at 100
// nodes, and the send queues overflowing); 904 B/s per node at rest,
// 16 KB/s under churn.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/registry"
)

type config struct {
	nodes, perNode, trials int
	trialTimeout           time.Duration
	settle, rest, churn    time.Duration
	churnEvery             time.Duration
	sizes                  bool
	cpuProfile             string
	// capacity mode (capacity.go)
	capacity     bool
	perContainer bool
	rates        string
	step         time.Duration
	burstTasks   int
	pacedTasks   int
	pace         time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.nodes, "nodes", 100, "cluster size")
	flag.IntVar(&c.perNode, "containers", 10, "containers per node before measuring")
	flag.IntVar(&c.trials, "trials", 100, "convergence trials (a start, then a stop, on a random node)")
	flag.DurationVar(&c.trialTimeout, "trial-timeout", 30*time.Second, "how long a trial may take to converge before it is counted as not converged")
	flag.DurationVar(&c.settle, "settle", 5*time.Second, "wait after the trials before measuring traffic at rest (their retransmissions end)")
	flag.DurationVar(&c.rest, "rest", 60*time.Second, "measurement window at rest (push/pull runs every 30-40 s per node at 100-200 nodes)")
	flag.DurationVar(&c.churn, "churn", 60*time.Second, "measurement window under churn")
	flag.DurationVar(&c.churnEvery, "churn-every", 100*time.Millisecond, "under churn, one container started or stopped in the cluster this often")
	flag.BoolVar(&c.sizes, "sizes", true, "print the push/pull size table (synthetic zones of 100 and 300 nodes)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file`")
	flag.BoolVar(&c.capacity, "capacity", false, "measure the change capacity instead (capacity.go): convergence at rising change rates, and after a rolling update")
	flag.BoolVar(&c.perContainer, "per-container-deltas", false, "send one delta per container change (swarmdns before batches), to compare")
	flag.StringVar(&c.rates, "rates", "2,5,10,20,40,80", "with -capacity: cluster-wide change rates to try, per second, in order (it stops after the first whose p99 passes 2 s)")
	flag.DurationVar(&c.step, "step", 15*time.Second, "with -capacity: how long each rate runs")
	flag.IntVar(&c.burstTasks, "burst-tasks", 0, "with -capacity: tasks of the rolling update written at once (default: every initial container)")
	flag.IntVar(&c.pacedTasks, "paced-tasks", 200, "with -capacity: tasks of the paced rolling update")
	flag.DurationVar(&c.pace, "pace", 100*time.Millisecond, "with -capacity: one task replaced (its stop and its successor's start) this often in the paced rolling update")
	flag.Parse()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cluster: cpu profile:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	runner := run
	if c.capacity {
		runner = runCapacity
	}
	if err := runner(c); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type node struct {
	name string
	reg  *registry.Registry
	g    *gossip.Node
	tr   *countingTransport
}

func run(c config) error {
	if c.nodes < 2 || c.perNode < 1 || c.churnEvery <= 0 {
		return errors.New("want -nodes 2 or more, -containers 1 or more and a positive -churn-every")
	}
	s, err := startSession(c)
	if err != nil {
		return err
	}
	defer s.stop()
	cluster, prom, logs, formed, synced, load := s.cluster, s.prom, s.logs, s.formed, s.synced, s.load
	n := c.nodes
	want := n * c.perNode
	// Convergence: a new container on a random node, until every node
	// resolves its name; then its removal, until none does.
	fmt.Fprintf(os.Stderr, "measuring convergence over %d trials...\n", c.trials)
	trialMsgs := startMessages(prom)
	trialCPU := startCPU(logs)
	var add, del []time.Duration
	var addLate, delLate int
	for t := range c.trials {
		nd := cluster[rand.IntN(n)]
		id := fmt.Sprintf("probe-%d", t)
		name := registry.CanonicalName(fmt.Sprintf("probe%d.swarm.internal", t))
		s := set(id, fmt.Sprintf("probe%d", t), 250, t)
		start := time.Now()
		if _, err := nd.reg.SetLocal(s); err != nil {
			return fmt.Errorf("trial %d: %w", t, err)
		}
		if err := await(c.trialTimeout, func() bool { return everywhere(cluster, name, true) }); err != nil {
			addLate++
			fmt.Fprintf(os.Stderr, "trial %d: start on %s not resolvable everywhere within %v; missing on %v\n", t, nd.name, c.trialTimeout, where(cluster, name, false))
		} else {
			add = append(add, time.Since(start))
		}
		start = time.Now()
		nd.reg.RemoveLocal(id)
		if err := await(c.trialTimeout, func() bool { return everywhere(cluster, name, false) }); err != nil {
			delLate++
			fmt.Fprintf(os.Stderr, "trial %d: stop on %s not gone everywhere within %v; still on %v\n", t, nd.name, c.trialTimeout, where(cluster, name, true))
		} else {
			del = append(del, time.Since(start))
		}
	}
	trialUse := trialCPU()
	trialMsg := trialMsgs()

	time.Sleep(c.settle) // a measured wait, not a wait for a condition
	fmt.Fprintf(os.Stderr, "measuring traffic at rest for %v...\n", c.rest)
	restMsgs := startMessages(prom)
	restCPU := startCPU(logs)
	restBps := traffic(cluster, c.rest, nil)
	restUse := restCPU()
	restMsg := restMsgs()
	fmt.Fprintf(os.Stderr, "measuring traffic under churn (one change every %v) for %v...\n", c.churnEvery, c.churn)
	var started, stopped atomic.Int64
	churnMsgs := startMessages(prom)
	churnCPU := startCPU(logs)
	churnBps := traffic(cluster, c.churn, func(stop <-chan struct{}) {
		// running holds the sets the churn may stop: the initial ones
		// and those it started.
		type owned struct {
			nd *node
			id string
		}
		var running []owned
		for i, nd := range cluster {
			for j := range c.perNode {
				running = append(running, owned{nd, fmt.Sprintf("init-%d-%d", i, j)})
			}
		}
		// Change i is due at start+i*every; a late one is made at once
		// (a ticker would drop it), so the rate holds on average.
		begin := time.Now()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-timer.C:
			}
			timer.Reset(time.Until(begin.Add(time.Duration(i+1) * c.churnEvery)))
			if i%2 == 0 {
				nd := cluster[rand.IntN(n)]
				id := fmt.Sprintf("churn-%d", i)
				_, _ = nd.reg.SetLocal(set(id, fmt.Sprintf("churn%d", i), 251, i))
				running = append(running, owned{nd, id})
				started.Add(1)
				continue
			}
			k := rand.IntN(len(running))
			o := running[k]
			running[k] = running[len(running)-1]
			running = running[:len(running)-1]
			o.nd.reg.RemoveLocal(o.id)
			stopped.Add(1)
		}
	})
	churnUse := churnCPU()
	churnMsg := churnMsgs()
	changes := float64(started.Load() + stopped.Load())

	fmt.Printf("in-process cluster on loopback: %d nodes, %d containers per node, memberlist LAN defaults, encrypted\n", n, c.perNode)
	fmt.Printf("GOMAXPROCS %d, load average at start %s; formed in %v, all %d sets on every node after %v\n\n",
		runtime.GOMAXPROCS(0), load, formed.Round(time.Millisecond), want, synced.Round(time.Millisecond))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "convergence (all %d nodes), %d trials\tp50\tp99\tmax\tnot within %v\tprocess (memberlist)\t\n", n, c.trials, c.trialTimeout)
	fmt.Fprintf(w, "container start -> name resolves\t%v\t%v\t%v\t%d\t%s\t\n", pct(add, 50), pct(add, 99), pct(add, 100), addLate, trialUse)
	fmt.Fprintf(w, "container stop -> name gone\t%v\t%v\t%v\t%d\t\t\n", pct(del, 50), pct(del, 99), pct(del, 100), delLate)
	_ = w.Flush()
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "gossip traffic per node (every memberlist byte)\tsent B/s\treceived B/s\tprocess (memberlist)\t")
	fmt.Fprintf(w, "at rest (%v)\t%.0f\t%.0f\t%s\t\n", c.rest, restBps[0], restBps[1], restUse)
	fmt.Fprintf(w, "churn (%v): %.1f changes/s in the cluster (%d starts, %d stops)\t%.0f\t%.0f\t%s\t\n",
		c.churn, changes/c.churn.Seconds(), started.Load(), stopped.Load(), churnBps[0], churnBps[1], churnUse)
	if changes > 0 {
		fmt.Fprintf(w, "per change, per node (churn minus rest)\t%.0f B\t%.0f B\t\t\n",
			(churnBps[0]-restBps[0])*c.churn.Seconds()/changes, (churnBps[1]-restBps[1])*c.churn.Seconds()/changes)
	}
	_ = w.Flush()
	pp, zone := gossip.StateSize(cluster[0].reg.Snapshot())
	fmt.Printf("\npush/pull state of this cluster: %d B (full zone %d B)\n", pp, zone)
	fmt.Println("\nswarmdns gossip messages in the whole cluster, by kind and direction (and updates dropped, by reason):")
	for _, l := range []struct{ name, counts string }{{"trials", trialMsg}, {"rest", restMsg}, {"churn", churnMsg}} {
		fmt.Printf("  %-7s %s\n", l.name, l.counts)
	}
	fmt.Printf("memberlist over the whole run, formation included: %d probes failed over UDP, %d suspicions or death notices refuted, %d nodes marked failed\n",
		logs.failedProbes.Load(), logs.refuted.Load(), logs.markedFailed.Load())

	if c.sizes {
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

// session is a formed cluster and what measures it.
type session struct {
	cluster []*node
	// prom holds every node's gossip metrics, told apart by a node label.
	prom           *prometheus.Registry
	logs           *memberlistLog
	formed, synced time.Duration
	load           string // the load average before the cluster started
	stop           func()
}

// startSession forms the cluster (formCluster); stop ends it.
func startSession(c config) (*session, error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s := &session{prom: prometheus.NewRegistry(), logs: &memberlistLog{}, load: loadAvg()}
	s.stop = func() {
		cancel()
		wg.Wait()
	}
	var err error
	if s.cluster, s.formed, s.synced, err = formCluster(ctx, &wg, c, s.prom, s.logs); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// formCluster starts c.nodes gossip nodes, each with c.perNode record
// sets, joined at random to the ones started before, and waits until every
// node sees every other alive and holds every set. The nodes run until ctx
// ends (wg counts them).
func formCluster(ctx context.Context, wg *sync.WaitGroup, c config, prom *prometheus.Registry, logs *memberlistLog) ([]*node, time.Duration, time.Duration, error) {
	logger := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	if os.Getenv("CLUSTER_DEBUG") != "" {
		logger = logger.Level(zerolog.InfoLevel)
	}
	n := c.nodes

	fmt.Fprintf(os.Stderr, "starting %d nodes with %d containers each...\n", n, c.perNode)
	formStart := time.Now()
	var cluster []*node
	for i := range n {
		name := fmt.Sprintf("node-%03d", i)
		gen := uint64(time.Now().UnixNano())
		reg, err := registry.New(registry.Config{Node: name, Generation: gen})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("registry of %s: %w", name, err)
		}
		for j := range c.perNode {
			if _, err := reg.SetLocal(set(fmt.Sprintf("init-%d-%d", i, j), fmt.Sprintf("svc%d", j), i, j)); err != nil {
				return nil, 0, 0, fmt.Errorf("records of %s: %w", name, err)
			}
		}
		tr, err := newCountingTransport()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("transport of %s: %w", name, err)
		}
		var join []string
		if i > 0 {
			join = []string{cluster[rand.IntN(i)].g.LocalAddr().String()}
		}
		g, err := gossip.New(gossip.Config{
			Node: name, Generation: gen, BindAddr: "127.0.0.1:0", Join: join,
			Keys: [][]byte{[]byte("0123456789abcdef")}, Store: reg, Logger: logger,
			Metrics:            prometheus.WrapRegistererWith(prometheus.Labels{"node": name}, prom),
			PerContainerDeltas: c.perContainer,
			MemberlistConfig: func(c *memberlist.Config) {
				c.Transport = tr
				c.Logger = log.New(logs.counting(c.Logger.Writer()), "", 0)
			},
		})
		if err != nil {
			_ = tr.Shutdown()
			return nil, 0, 0, fmt.Errorf("gossip of %s: %w", name, err)
		}
		nd := &node{name: name, reg: reg, g: g, tr: tr}
		cluster = append(cluster, nd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = g.Run(ctx)
		}()

	}
	// Formation and the first sync are polled every 50 ms: Members sorts
	// the whole membership, and a poll of every node every millisecond
	// took 8% of the process's CPU at 100 nodes.
	if err := awaitEvery(180*time.Second, 50*time.Millisecond, func() bool {
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
		return nil, 0, 0, fmt.Errorf("cluster did not form: %w", err)
	}
	formed := time.Since(formStart)
	want := n * c.perNode
	if err := awaitEvery(180*time.Second, 50*time.Millisecond, func() bool {
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
					if info.Records != c.perNode || info.Stale {
						short = append(short, fmt.Sprintf("%s:%d/gen%d/v%d/stale=%v", info.Name, info.Records, info.Generation%1000000, info.Version, info.Stale))
					}
				}
				fmt.Fprintf(os.Stderr, "%s holds %d sets of %d nodes; short: %v\n", nd.name, got, len(snap.Nodes()), short)
			}
		}
		return nil, 0, 0, fmt.Errorf("initial records did not converge: %w", err)
	}
	synced := time.Since(formStart)
	fmt.Fprintf(os.Stderr, "cluster formed in %v, every node holds all %d sets after %v\n", formed.Round(time.Millisecond), want, synced.Round(time.Millisecond))

	return cluster, formed, synced, nil
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

// where lists the nodes on which name is present (or absent).
func where(cluster []*node, name string, present bool) []string {
	var out []string
	for _, nd := range cluster {
		if (len(nd.reg.Snapshot().Lookup(name)) > 0) == present {
			out = append(out, nd.name)
		}
	}
	return out
}

// await polls cond every millisecond until it holds or within passes (a
// millisecond, not internal/await's 15 ms: the poll is the resolution of
// the convergence times).
func await(within time.Duration, cond func() bool) error {
	return awaitEvery(within, time.Millisecond, cond)
}

// awaitEvery polls cond every interval until it holds or within passes.
func awaitEvery(within, interval time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", within)
		}
		time.Sleep(interval)
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

// newCountingTransport binds a NetTransport to 127.0.0.1 on a free port.
// memberlist takes a free TCP port and then the same UDP port, which some
// other socket may hold: that is tried again, on another port.
func newCountingTransport() (*countingTransport, error) {
	var nt *memberlist.NetTransport
	var err error
	for range 20 {
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
		// memberlist formats the bind error with %v: only its text tells.
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("memberlist transport on 127.0.0.1: %w", err)
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

// memberlistLog counts memberlist's log lines that tell of missed probes
// (before gossip's bridge samples them): on a busy machine the failure
// detector sees a late ack as a lost one.
type memberlistLog struct {
	failedProbes, refuted, markedFailed atomic.Int64
}

// counting returns a writer for one node's memberlist logger that counts
// the lines and hands them on to next.
func (l *memberlistLog) counting(next io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		switch {
		case bytes.Contains(p, []byte("Failed UDP ping: ")):
			l.failedProbes.Add(1)
		case bytes.Contains(p, []byte("Refuting a suspect message")), bytes.Contains(p, []byte("Refuting a dead message")):
			l.refuted.Add(1)
		case bytes.Contains(p, []byte("Marking ")) && bytes.Contains(p, []byte(" as failed")):
			l.markedFailed.Add(1)
		}
		return next.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// loadAvg is the host's load average (1, 5 and 15 minutes), or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// startCPU starts measuring the process's CPU time and how late a
// goroutine that sleeps 10 ms at a time wakes up; the function it returns
// tells how many cores the process used on average since, and the 99th
// percentile and the largest of those delays. Delays of hundreds of
// milliseconds mean the process could not keep up (the machine is busy,
// or the cluster is too large for it): memberlist then misses probe acks
// (its probe timeout is 500 ms), counted here too for the window: probes
// that failed over UDP, and nodes marked failed.
func startCPU(l *memberlistLog) func() string {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	stop := make(chan struct{})
	late := make(chan []time.Duration)
	go func() {
		var delays []time.Duration
		const nap = 10 * time.Millisecond
		for {
			select {
			case <-stop:
				late <- delays
				return
			default:
			}
			t := time.Now()
			time.Sleep(nap) // the measurement itself
			delays = append(delays, time.Since(t)-nap)
		}
	}()
	c0, t0 := cpu(), time.Now()
	probes0, marked0 := l.failedProbes.Load(), l.markedFailed.Load()
	return func() string {
		use := (cpu() - c0).Seconds() / time.Since(t0).Seconds()
		close(stop)
		d := <-late
		return fmt.Sprintf("%.2f cores, wake-up delay p99 %v max %v; %d probes failed, %d marked failed",
			use, pct(d, 99), pct(d, 100), l.failedProbes.Load()-probes0, l.markedFailed.Load()-marked0)
	}
}

// startMessages starts counting the gossip messages of every node (the
// metrics in reg); the function it returns lists, summed over the nodes,
// the messages sent and received since by kind and the updates dropped by
// reason.
func startMessages(reg *prometheus.Registry) func() string {
	before, t0 := counts(reg), time.Now()
	return func() string {
		after, secs := counts(reg), time.Since(t0).Seconds()
		var parts []string
		for k, v := range after {
			if d := v - before[k]; d > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f (%.1f/s)", k, d, d/secs))
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, ", ")
	}
}

// counts reads every node's gossip counters in reg, summed over the nodes:
// the messages by kind and direction, and the updates dropped ("dropped "
// and the reason).
func counts(reg *prometheus.Registry) map[string]float64 {
	out := make(map[string]float64)
	families, err := reg.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var key []string
			for _, l := range m.GetLabel() {
				if l.GetName() != "node" {
					key = append(key, l.GetValue())
				}
			}
			switch f.GetName() {
			case "swarmdns_gossip_messages_total":
				out[strings.Join(key, " ")] += m.GetCounter().GetValue()
			case "swarmdns_gossip_rejected_total":
				out["dropped "+strings.Join(key, " ")] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}
