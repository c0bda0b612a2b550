// Command events measures, on one node, how fast the real `swarmdns serve`
// binary follows the real Docker engine:
//
//   - event-to-answer: containers are started one at a time; for each, the
//     time from the engine's start event (its timeNano) to the first DNS
//     answer from swarmdns that holds the container's name, and from the
//     `docker stop` (the call, its kill event and its die event) to the
//     first NXDOMAIN;
//   - startup sync: with -sync containers running, swarmdns is started
//     -sync-runs times; each time, the time from the process start to
//     /readyz answering 200, and to every container's name resolving.
//
// Every container it makes carries a label and a name prefix unique to the
// run, swarmdns publishes only containers with that label (--watch-label),
// and every container is removed at the end, on failure and on SIGINT too.
// The image is the tiny testbox program (internal/dockertest/testbox),
// built FROM scratch here (no registry is needed). DNS queries go to
// 127.0.0.1 only.
//
// Run it from the repository root:
//
//	go run ./bench/events -n 50 -sync 200
package main

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"
)

const (
	zone      = "swarm.internal."
	labelKey  = "swarmdns.bench.events"
	imageTag  = "swarmdns-bench-testbox:latest"
	labelHash = "swarmdns.bench.testbox.sha256"
	pollEvery = time.Millisecond
)

type config struct {
	swarmdns string
	n        int
	sync     int
	syncRuns int
	out      string
	timeout  time.Duration

	cluster       int
	clusterTrials int
}

func main() {
	var c config
	flag.StringVar(&c.swarmdns, "swarmdns", "", "the swarmdns `binary` to measure (default: built from ./cmd/swarmdns)")
	flag.IntVar(&c.n, "n", 50, "containers started (then stopped) one at a time for event-to-answer latency")
	flag.IntVar(&c.sync, "sync", 200, "running containers for the startup sync measurement (0 skips it)")
	flag.IntVar(&c.syncRuns, "sync-runs", 3, "swarmdns starts measured with -sync containers running")
	flag.StringVar(&c.out, "out", "", "`dir` for swarmdns's logs and the results (default bench/results/events-<time>)")
	flag.IntVar(&c.cluster, "cluster", 3, "real swarmdns processes for the cluster convergence measurement (0 skips it)")
	flag.IntVar(&c.clusterTrials, "cluster-trials", 30, "containers started and stopped for the cluster convergence measurement")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long one name may take to resolve before the run fails")
	flag.Parse()
	if c.out == "" {
		c.out = filepath.Join("bench", "results", "events-"+time.Now().Format("20060102T150405"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "events: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "swarmdns-bench-events")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.swarmdns == "" {
		c.swarmdns = filepath.Join(tmp, "swarmdns")
		logf("building swarmdns")
		if err := goBuild(c.swarmdns, "./cmd/swarmdns"); err != nil {
			return err
		}
	}

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	ver, err := cli.ServerVersion(ctx)
	if err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	logf("building the testbox image")
	if err := buildImage(ctx, cli, tmp); err != nil {
		return err
	}

	runID := "sdnsbench" + randomHex(4)
	b := &bench{cfg: c, cli: cli, runID: runID}
	// Remove every container of the run whatever happens, with a context
	// of its own (ctx may be cancelled by then).
	defer b.cleanup()
	logf("run %s: containers named %s-*, label %s=%s", runID, runID, labelKey, runID)

	var report strings.Builder
	fmt.Fprintf(&report, "swarmdns event-to-answer and startup sync on one node (Docker engine %s, API %s, %d CPUs)\n", ver.Version, ver.APIVersion, numCPU())
	fmt.Fprintf(&report, "run %s; DNS polled every %v over UDP on 127.0.0.1 (resolution: the poll interval plus one query)\n\n", runID, pollEvery)

	if c.n > 0 {
		if err := b.eventLatency(ctx, &report); err != nil {
			return err
		}
	}
	if c.sync > 0 && c.syncRuns > 0 {
		if err := b.startupSync(ctx, &report); err != nil {
			return err
		}
	}
	if c.cluster > 0 && c.clusterTrials > 0 {
		if err := b.clusterConvergence(ctx, &report); err != nil {
			return err
		}
	}
	fmt.Print(report.String())
	return os.WriteFile(filepath.Join(c.out, "table.txt"), []byte(report.String()), 0o644)
}

type bench struct {
	cfg   config
	cli   *client.Client
	runID string
}

// ---------------------------------------------------------------- swarmdns

// server is one running swarmdns process.
type server struct {
	cmd        *exec.Cmd
	dnsAddr    string
	admin      string
	gossipAddr string // cluster nodes only
	started    time.Time
	done       chan error
}

func (b *bench) startServer(ctx context.Context, logName string) (*server, error) {
	dnsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{dnsAddr: dnsAddr, admin: "http://" + adminAddr}
	err = b.spawn(s, logName,
		"--zone", zone,
		"--dns-listen", dnsAddr,
		"--admin-listen", adminAddr,
		"--gossip-listen", "",
		"--upstream", "127.0.0.1:9", // never used: every name asked is in the zone
		"--watch-label", labelKey+"="+b.runID,
		"--node-name", "bench-events",
		"--log-level", "info",
		"--log-format", "json",
	)
	return s, err
}

// spawn runs `swarmdns serve args...` for s, its output to logName in the
// results folder; s.done gets the process's exit.
func (b *bench) spawn(s *server, logName string, args ...string) error {
	logFile, err := os.Create(filepath.Join(b.cfg.out, logName))
	if err != nil {
		return err
	}
	s.cmd = exec.Command(b.cfg.swarmdns, append([]string{"serve"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.done = make(chan error, 1)
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start swarmdns: %w", err)
	}
	go func() {
		s.done <- s.cmd.Wait()
		logFile.Close()
	}()
	return nil
}

// ready polls /readyz until it answers 200 and returns when that was.
func (s *server) ready(ctx context.Context, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.admin+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case err := <-s.done:
			return time.Time{}, fmt.Errorf("swarmdns exited: %v", err)
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("swarmdns not ready after %v", timeout)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// ---------------------------------------------------------------- DNS

// resolver asks one server over one UDP socket per goroutine.
type resolver struct {
	client *dns.Client
	addr   string
}

func newResolver(addr string) *resolver {
	return &resolver{client: &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}, addr: addr}
}

// ask returns the rcode and whether the answer holds an A record.
func (r *resolver) ask(name string) (int, bool, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	resp, _, err := r.client.Exchange(q, r.addr)
	if err != nil {
		return 0, false, err
	}
	for _, rr := range resp.Answer {
		if _, ok := rr.(*dns.A); ok {
			return resp.Rcode, true, nil
		}
	}
	return resp.Rcode, false, nil
}

// waitFor polls name until cond holds and returns when it first did.
func (r *resolver) waitFor(ctx context.Context, name string, timeout time.Duration, cond func(rcode int, hasA bool) bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		rcode, hasA, err := r.ask(name)
		now := time.Now()
		if err == nil && cond(rcode, hasA) {
			return now, nil
		}
		if now.After(deadline) {
			return time.Time{}, fmt.Errorf("%s: no wanted answer after %v (last rcode %s, err %v)", name, timeout, dns.RcodeToString[rcode], err)
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		time.Sleep(pollEvery)
	}
}

func holdsA(_ int, hasA bool) bool      { return hasA }
func isNXDOMAIN(rcode int, _ bool) bool { return rcode == dns.RcodeNameError }

// ---------------------------------------------------------------- event latency

// eventLog collects the engine's start and die events of the run's
// containers, by container ID.
type eventLog struct {
	mu     sync.Mutex
	start  map[string]time.Time
	kill   map[string]time.Time // the first kill since the last start
	die    map[string]time.Time
	notify chan struct{}
}

func (b *bench) followEvents(ctx context.Context) (*eventLog, error) {
	el := &eventLog{start: map[string]time.Time{}, kill: map[string]time.Time{}, die: map[string]time.Time{}, notify: make(chan struct{}, 1)}
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", labelKey+"="+b.runID),
		filters.Arg("event", "start"),
		filters.Arg("event", "kill"),
		filters.Arg("event", "die"),
	)
	msgs, errs := b.cli.Events(ctx, events.ListOptions{Filters: f})
	go func() {
		for {
			select {
			case m := <-msgs:
				t := time.Unix(0, m.TimeNano)
				el.mu.Lock()
				switch m.Action {
				case events.ActionStart:
					el.start[m.Actor.ID] = t
				case events.ActionKill:
					if _, ok := el.kill[m.Actor.ID]; !ok {
						el.kill[m.Actor.ID] = t
					}
				case events.ActionDie:
					el.die[m.Actor.ID] = t
				}
				el.mu.Unlock()
				select {
				case el.notify <- struct{}{}:
				default:
				}
			case <-errs:
				return
			}
		}
	}()
	return el, nil
}

// when waits for the event of id in m.
func (el *eventLog) when(ctx context.Context, m map[string]time.Time, id string) (time.Time, error) {
	timeout := time.After(5 * time.Second)
	for {
		el.mu.Lock()
		t, ok := m[id]
		el.mu.Unlock()
		if ok {
			return t, nil
		}
		select {
		case <-el.notify:
		case <-timeout:
			return time.Time{}, fmt.Errorf("no event for container %.12s", id)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func (b *bench) eventLatency(ctx context.Context, report *strings.Builder) error {
	s, err := b.startServer(ctx, "swarmdns-events.log")
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := s.ready(ctx, time.Minute); err != nil {
		return err
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	el, err := b.followEvents(ectx)
	if err != nil {
		return err
	}
	res := newResolver(s.dnsAddr)
	logf("event-to-answer: starting %d containers one at a time", b.cfg.n)

	var fromEvent, fromReturn, stopToNX, killToNX, dieToNX []time.Duration
	ids := make([]string, 0, b.cfg.n)
	for i := range b.cfg.n {
		name := fmt.Sprintf("%s-e%d", b.runID, i)
		id, err := b.create(ctx, name)
		if err != nil {
			return err
		}
		ids = append(ids, id)
		fqdn := name + "." + zone
		if _, hasA, _ := res.ask(fqdn); hasA {
			return fmt.Errorf("%s resolves before its container started", fqdn)
		}
		// Poll from before the start call: the answer may come before
		// the call returns.
		type result struct {
			at  time.Time
			err error
		}
		got := make(chan result, 1)
		go func() {
			at, err := res.waitFor(ctx, fqdn, b.cfg.timeout, holdsA)
			got <- result{at, err}
		}()
		if err := b.start(ctx, id); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		returned := time.Now()
		r := <-got
		if r.err != nil {
			return r.err
		}
		ev, err := el.when(ctx, el.start, id)
		if err != nil {
			return err
		}
		fromEvent = append(fromEvent, r.at.Sub(ev))
		fromReturn = append(fromReturn, r.at.Sub(returned))
	}
	logf("event-to-answer: stopping them one at a time")
	for i, id := range ids {
		fqdn := fmt.Sprintf("%s-e%d.%s", b.runID, i, zone)
		got := make(chan time.Time, 1)
		errc := make(chan error, 1)
		go func() {
			at, err := res.waitFor(ctx, fqdn, b.cfg.timeout+15*time.Second, isNXDOMAIN)
			if err != nil {
				errc <- err
				return
			}
			got <- at
		}()
		timeout := 1
		called := time.Now()
		if err := b.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout}); err != nil {
			return fmt.Errorf("stop %.12s: %w", id, err)
		}
		var at time.Time
		select {
		case at = <-got:
		case err := <-errc:
			return err
		}
		kill, err := el.when(ctx, el.kill, id)
		if err != nil {
			return err
		}
		die, err := el.when(ctx, el.die, id)
		if err != nil {
			return err
		}
		stopToNX = append(stopToNX, at.Sub(called))
		killToNX = append(killToNX, at.Sub(kill))
		dieToNX = append(dieToNX, at.Sub(die))
	}
	if err := b.remove(ids); err != nil {
		return err
	}

	fmt.Fprintf(report, "event-to-answer, %d containers started then stopped one at a time\n", b.cfg.n)
	tw := tabwriter.NewWriter(report, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tp50\tp99\tmax\tmin\t")
	row := func(what string, d []time.Duration) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", what, ms(pct(d, 50)), ms(pct(d, 99)), ms(slices.Max(d)), ms(slices.Min(d)))
	}
	row("start event -> first answer with the name", fromEvent)
	row("docker start returned -> first answer", fromReturn)
	row("docker stop called -> first NXDOMAIN", stopToNX)
	row("kill event (SIGTERM) -> first NXDOMAIN", killToNX)
	row("die event -> first NXDOMAIN", dieToNX)
	tw.Flush()
	fmt.Fprintln(report)
	return writeJSON(filepath.Join(b.cfg.out, "event-latency.json"), map[string]any{
		"start_event_to_answer_ns": fromEvent, "start_return_to_answer_ns": fromReturn, "stop_call_to_nxdomain_ns": stopToNX, "kill_event_to_nxdomain_ns": killToNX, "die_event_to_nxdomain_ns": dieToNX,
	})
}

// ---------------------------------------------------------------- startup sync

func (b *bench) startupSync(ctx context.Context, report *strings.Builder) error {
	logf("startup sync: starting %d containers", b.cfg.sync)
	names := make([]string, b.cfg.sync)
	ids := make([]string, b.cfg.sync)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range names {
		names[i] = fmt.Sprintf("%s-s%d", b.runID, i)
		g.Go(func() error {
			id, err := b.create(gctx, names[i])
			if err != nil {
				return err
			}
			ids[i] = id
			if err := b.start(gctx, id); err != nil {
				return fmt.Errorf("start %s: %w", names[i], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	type run struct{ ready, all time.Duration }
	var runs []run
	for k := range b.cfg.syncRuns {
		s, err := b.startServer(ctx, fmt.Sprintf("swarmdns-sync-%d.log", k))
		if err != nil {
			return err
		}
		readyAt, err := s.ready(ctx, time.Minute)
		if err != nil {
			s.stop()
			return err
		}
		allAt, err := resolveAll(ctx, s.dnsAddr, names, b.cfg.timeout+time.Minute)
		s.stop()
		if err != nil {
			return err
		}
		runs = append(runs, run{readyAt.Sub(s.started), allAt.Sub(s.started)})
		logf("startup sync run %d: ready after %v, all %d names after %v", k+1, runs[k].ready, len(names), runs[k].all)
	}
	if err := b.remove(ids); err != nil {
		return err
	}

	fmt.Fprintf(report, "startup sync, %d running containers, swarmdns started %d times\n", b.cfg.sync, b.cfg.syncRuns)
	tw := tabwriter.NewWriter(report, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "\t"
	for k := range runs {
		hdr += fmt.Sprintf("run %d\t", k+1)
	}
	fmt.Fprintln(tw, hdr+"median\t")
	var ready, all []time.Duration
	for _, r := range runs {
		ready, all = append(ready, r.ready), append(all, r.all)
	}
	row := func(what string, d []time.Duration) {
		line := what + "\t"
		for _, v := range d {
			line += ms(v) + "\t"
		}
		fmt.Fprintln(tw, line+ms(pct(d, 50))+"\t")
	}
	row("process start -> /readyz 200", ready)
	row(fmt.Sprintf("process start -> all %d names resolve", len(names)), all)
	tw.Flush()
	return writeJSON(filepath.Join(b.cfg.out, "startup-sync.json"), map[string]any{"ready_ns": ready, "all_resolve_ns": all})
}

// resolveAll queries every name until each has answered with an address
// once, and returns when the last one did.
func resolveAll(ctx context.Context, addr string, names []string, timeout time.Duration) (time.Time, error) {
	res := newResolver(addr)
	left := slices.Clone(names)
	deadline := time.Now().Add(timeout)
	var last time.Time
	for len(left) > 0 {
		var next []string
		for _, n := range left {
			if _, hasA, err := res.ask(n + "." + zone); err == nil && hasA {
				last = time.Now()
			} else {
				next = append(next, n)
			}
		}
		left = next
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("%d of %d names still unresolved after %v", len(left), len(names), timeout)
		}
		time.Sleep(pollEvery)
	}
	return last, nil
}

// ---------------------------------------------------------------- Docker

func (b *bench) create(ctx context.Context, name string) (string, error) {
	return b.createLabelled(ctx, name, nil)
}

// createLabelled creates a container of the run with extra labels.
func (b *bench) createLabelled(ctx context.Context, name string, labels map[string]string) (string, error) {
	all := map[string]string{labelKey: b.runID}
	for k, v := range labels {
		all[k] = v
	}
	cfg := &container.Config{
		Image:  imageTag,
		Cmd:    []string{"sleep"},
		Labels: all,
	}
	created, err := b.cli.ContainerCreate(ctx, cfg, &container.HostConfig{}, nil, nil, name)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	return created.ID, nil
}

// start starts a container, failing after 30s (an engine that cannot start
// containers would otherwise block the run).
func (b *bench) start(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return b.cli.ContainerStart(ctx, id, container.StartOptions{})
}

func (b *bench) remove(ids []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range ids {
		if id == "" {
			continue
		}
		g.Go(func() error {
			if err := b.cli.ContainerRemove(gctx, id, container.RemoveOptions{Force: true}); err != nil && !errdefsNotFound(err) {
				return fmt.Errorf("remove %.12s: %w", id, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// cleanup removes every container that carries the run's label.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelKey+"="+b.runID))})
	if err != nil {
		logf("cleanup: list containers: %v", err)
		return
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if err := b.remove(ids); err != nil {
		logf("cleanup: %v", err)
	}
	if len(ids) > 0 {
		logf("cleanup: removed %d containers", len(ids))
	}
}

func errdefsNotFound(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "no such container")
}

// buildImage builds the testbox image FROM scratch.
func buildImage(ctx context.Context, cli *client.Client, tmp string) error {
	bin := filepath.Join(tmp, "testbox")
	if err := goBuild(bin, "./internal/dockertest/testbox"); err != nil {
		return err
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])
	if img, err := cli.ImageInspect(ctx, imageTag); err == nil && img.Config != nil && img.Config.Labels[labelHash] == hash {
		return nil // built from the same binary before
	}
	// A build that hangs (an engine that cannot start its step containers)
	// fails the run instead of blocking it.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dockerfile := []byte("FROM scratch\nCOPY testbox /testbox\nENTRYPOINT [\"/testbox\"]\nCMD [\"sleep\"]\n")
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"testbox", 0o755, content}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{imageTag}, Labels: map[string]string{labelHash: hash}, Remove: true, ForceRemove: true})
	if err != nil {
		return fmt.Errorf("docker build: %w", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("docker build: %w", err)
		}
		if msg.Error != "" {
			return fmt.Errorf("docker build: %s", msg.Error)
		}
	}
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (run from the repository root): %w\n%s", pkg, err, b)
	}
	return nil
}

// ---------------------------------------------------------------- helpers

// freeAddr returns a loopback address with a port free for UDP and TCP.
func freeAddr() (string, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		if pc, err := net.ListenPacket("udp", addr); err == nil {
			pc.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free loopback port")
}

// pct is the nearest-rank percentile p of d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return cmp.Or(strings.Count(string(b), "processor\t:"), 0)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
