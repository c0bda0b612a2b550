package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmdns/swarmdns/registry"
)

// The capacity mode (-capacity) measures how many changes a second the
// cluster carries: at each rate of -rates, for -step, containers are
// started and stopped (alternately, on random nodes, the stops taking the
// oldest started) and every change is followed until every node holds it
// (a start) or none does (a stop). A rate is carried when its p99 stays
// under 2 s; the steps stop after the first that is not. A stop takes a
// container the step started at least 5 s before (so that its start is
// measured whole); until there is one, the step starts another. Then two rolling
// updates: -paced-tasks tasks replaced one every -pace (Swarm's updater,
// which moves on as each new task runs), and -burst-tasks written at once
// (every initial container stopped and a successor started on the same
// node); for each, the time from the last change until every node holds
// the result. Both report the largest broadcast queue seen on any node and
// the updates dropped.

// capacityTarget is the p99 convergence a rate must stay under.
const capacityTarget = 2 * time.Second

// stopAfter is the age from which a container started by a rate step may
// be stopped by it.
const stopAfter = 5 * time.Second

// pollEvery is the tracker's resolution.
const pollEvery = 10 * time.Millisecond

// change is one write followed until every node holds its result.
type change struct {
	owner   *node
	id      string
	present bool
	at      time.Time
}

// tracker follows changes until they converge.
type tracker struct {
	cluster []*node
	timeout time.Duration

	mu       sync.Mutex
	pending  []*change
	took     []time.Duration
	late     int
	lastDone time.Time // when the last change converged
	maxQueue int
}

func (t *tracker) add(c *change) {
	t.mu.Lock()
	t.pending = append(t.pending, c)
	t.mu.Unlock()
}

// run polls until ctx ends.
func (t *tracker) run(ctx context.Context) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.poll()
	}
}

func (t *tracker) poll() {
	snaps := make([]*registry.Snapshot, len(t.cluster))
	queue := 0
	for i, nd := range t.cluster {
		snaps[i] = nd.reg.Snapshot()
		queue = max(queue, nd.g.Stats().Queued)
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxQueue = max(t.maxQueue, queue)
	kept := t.pending[:0]
	for _, c := range t.pending {
		done := true
		for _, s := range snaps {
			if _, ok := s.NodeSet(c.owner.name, c.id); ok != c.present {
				done = false
				break
			}
		}
		switch {
		case done:
			t.took = append(t.took, now.Sub(c.at))
			t.lastDone = now
		case now.Sub(c.at) > t.timeout:
			t.late++
			if os.Getenv("CLUSTER_DEBUG") != "" {
				var on []string
				for i, s := range snaps {
					if set, ok := s.NodeSet(c.owner.name, c.id); ok != c.present {
						v := uint64(0)
						if ok {
							v = set.Version
						}
						info, _ := s.Node(c.owner.name)
						on = append(on, fmt.Sprintf("%s(set v%d, node v%d, pulls %d)", t.cluster[i].name, v, info.Version, t.cluster[i].g.Stats().Pulls))
					}
				}
				oi, _ := c.owner.reg.Snapshot().Node(c.owner.name)
				fmt.Fprintf(os.Stderr, "late: %s/%s present=%v (owner at v%d); wrong on %v\n", c.owner.name, c.id, c.present, oi.Version, on)
			}
		default:
			kept = append(kept, c)
		}
	}
	clear(t.pending[len(kept):])
	t.pending = kept
}

// drain waits until nothing is pending (or timed out).
func (t *tracker) drain() {
	for {
		t.mu.Lock()
		n := len(t.pending)
		t.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(pollEvery) // the tracker's own cadence
	}
}

// result is what one measured window gives.
type result struct {
	changes        int
	took           []time.Duration
	late, maxQueue int
	lastDone       time.Time
	drops          string
	cpu            string
}

// window runs load (which writes changes and returns when done), waits for
// every change to converge and returns the measurements.
func window(cluster []*node, prom *prometheus.Registry, logs *memberlistLog, timeout time.Duration, load func(t *tracker) int) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := &tracker{cluster: cluster, timeout: timeout}
	go t.run(ctx)
	before := counts(prom)
	cpu := startCPU(logs)
	n := load(t)
	t.drain()
	r := result{changes: n, cpu: cpu()}
	t.mu.Lock()
	r.took, r.late, r.maxQueue, r.lastDone = t.took, t.late, t.maxQueue, t.lastDone
	t.mu.Unlock()
	var drops []string
	for k, v := range counts(prom) {
		if d := v - before[k]; d > 0 && strings.HasPrefix(k, "dropped ") {
			drops = append(drops, fmt.Sprintf("%s %.0f", strings.TrimPrefix(k, "dropped "), d))
		}
	}
	slices.Sort(drops)
	r.drops = strings.Join(drops, ", ")
	if r.drops == "" {
		r.drops = "none"
	}
	return r
}

// paced calls write(i) for i in [0, count), one every every (a late one
// at once, so the rate holds on average), and returns when the last is
// written.
func paced(count int, every time.Duration, write func(i int)) {
	begin := time.Now()
	for i := range count {
		if d := time.Until(begin.Add(time.Duration(i) * every)); d > 0 {
			time.Sleep(d) // the pace itself
		}
		write(i)
	}
}

func runCapacity(c config) error {
	rates, err := parseRates(c.rates)
	if err != nil {
		return err
	}
	s, err := startSession(c)
	if err != nil {
		return err
	}
	defer s.stop()
	cluster, prom, logs, formed, synced, load := s.cluster, s.prom, s.logs, s.formed, s.synced, s.load
	mode := "one batch per owner"
	if c.perContainer {
		mode = "one delta per container change"
	}
	fmt.Printf("capacity, in-process cluster on loopback: %d nodes, %d containers per node, %s; GOMAXPROCS %d, load average at start %s; formed in %v, synced after %v\n\n",
		c.nodes, c.perNode, mode, runtime.GOMAXPROCS(0), load, formed.Round(time.Millisecond), synced.Round(time.Millisecond))

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "changes/s (asked)\tchanges\tp50\tp99\tmax\tnot within 30s\tmax queue\tdropped\tprocess (memberlist)\t\n")
	best := 0.0
	seq := 0
	for _, rate := range rates {
		every := time.Duration(float64(time.Second) / rate)
		count := int(c.step.Seconds() * rate)
		r := window(cluster, prom, logs, 30*time.Second, func(t *tracker) int {
			var started []*change
			paced(count, every, func(i int) {
				seq++
				// A stop takes a container started long enough ago to
				// have converged (its start is measured whole).
				if i%2 == 1 && len(started) > 0 && time.Since(started[0].at) > stopAfter {
					o := started[0]
					started = started[1:]
					o.owner.reg.RemoveLocal(o.id)
					t.add(&change{owner: o.owner, id: o.id, present: false, at: time.Now()})
					return
				}
				nd := cluster[rand.IntN(len(cluster))]
				id := fmt.Sprintf("cap-%d", seq)
				_, _ = nd.reg.SetLocal(set(id, fmt.Sprintf("cap%d", seq), 252, seq%250))
				ch := &change{owner: nd, id: id, present: true, at: time.Now()}
				started = append(started, ch)
				t.add(ch)
			})
			// Leave the cluster as it was: the starts of this step go,
			// once measured.
			t.drain()
			for _, o := range started {
				o.owner.reg.RemoveLocal(o.id)
				t.add(&change{owner: o.owner, id: o.id, present: false, at: time.Now()})
			}
			return count + len(started)
		})
		fmt.Fprintf(w, "%g\t%d\t%v\t%v\t%v\t%d\t%d\t%s\t%s\t\n", rate, r.changes, pct(r.took, 50), pct(r.took, 99), pct(r.took, 100), r.late, r.maxQueue, r.drops, r.cpu)
		fmt.Fprintf(os.Stderr, "%g changes/s: p99 %v\n", rate, pct(r.took, 99))
		if r.late > 0 || pct(r.took, 99) >= capacityTarget {
			break
		}
		best = rate
	}
	_ = w.Flush()
	fmt.Printf("\ncapacity: %g changes/s in the whole cluster with p99 convergence under %v\n\n", best, capacityTarget)

	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "rolling update\tchanges\tlast change -> everywhere\tp50\tp99\tnot within 60s\tmax queue\tdropped\tprocess (memberlist)\t\n")
	gen := 0
	update := func(label string, tasks int, every time.Duration) {
		// The tasks replaced are initial containers, round-robin over
		// the nodes; each successor starts on its predecessor's node.
		type task struct {
			nd *node
			id string
		}
		var olds []task
		for j := 0; len(olds) < tasks && j < c.perNode; j++ {
			for i, nd := range cluster {
				if len(olds) < tasks {
					olds = append(olds, task{nd, fmt.Sprintf("init-%d-%d", i, j)})
				}
			}
		}
		gen++
		var last time.Time
		r := window(cluster, prom, logs, 60*time.Second, func(t *tracker) int {
			paced(len(olds), every, func(k int) {
				o := olds[k]
				o.nd.reg.RemoveLocal(o.id)
				t.add(&change{owner: o.nd, id: o.id, present: false, at: time.Now()})
				id := fmt.Sprintf("%s-g%d", o.id, gen)
				_, _ = o.nd.reg.SetLocal(set(id, fmt.Sprintf("ru%d", k), 253, k%250))
				t.add(&change{owner: o.nd, id: id, present: true, at: time.Now()})
				last = time.Now()
			})
			return 2 * len(olds)
		})
		// Put the initial containers back for the next update, and let
		// that converge (not measured).
		window(cluster, prom, logs, 60*time.Second, func(t *tracker) int {
			for k, o := range olds {
				id := fmt.Sprintf("%s-g%d", o.id, gen)
				o.nd.reg.RemoveLocal(id)
				t.add(&change{owner: o.nd, id: id, present: false, at: time.Now()})
				_, _ = o.nd.reg.SetLocal(set(o.id, fmt.Sprintf("svc%d", k%c.perNode), 0, k%250))
				t.add(&change{owner: o.nd, id: o.id, present: true, at: time.Now()})
			}
			return 0
		})
		time.Sleep(c.settle) // a measured wait: the retransmissions end
		everywhere := "not all within 60s"
		if r.late == 0 {
			everywhere = r.lastDone.Sub(last).Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%v\t%v\t%d\t%d\t%s\t%s\t\n", label, r.changes, everywhere, pct(r.took, 50), pct(r.took, 99), r.late, r.maxQueue, r.drops, r.cpu)
		fmt.Fprintf(os.Stderr, "rolling update %s: done\n", label)
	}
	update(fmt.Sprintf("%d tasks, one every %v", c.pacedTasks, c.pace), c.pacedTasks, c.pace)
	burst := c.burstTasks
	if burst <= 0 {
		burst = c.nodes * c.perNode
	}
	update(fmt.Sprintf("%d tasks at once", burst), burst, 0)
	_ = w.Flush()
	fmt.Printf("\nmemberlist over the whole run: %d probes failed over UDP, %d suspicions or death notices refuted, %d nodes marked failed; load average at the end %s\n",
		logs.failedProbes.Load(), logs.refuted.Load(), logs.markedFailed.Load(), loadAvg())
	return nil
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("-rates: %q is not a positive rate", f)
		}
		out = append(out, r)
	}
	return out, nil
}
