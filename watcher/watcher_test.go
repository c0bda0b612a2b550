package watcher

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/logtest"
	"github.com/swarmdns/swarmdns/internal/testrun"
	"github.com/swarmdns/swarmdns/registry"
)

// Generous deadlines: what is asserted is that things happen, not how fast.
const (
	soon = 10 * time.Second
	zone = "swarm.internal."
	// scopeLabel limits each test's watcher to the containers the test
	// made, so tests (and other packages' tests) can share the engine.
	scopeLabel = "swarmdns.test.scope"
)

// env is a registry fed by a watcher on the real engine, scoped to the
// containers of one test.
type env struct {
	t     *testing.T
	cli   *client.Client
	reg   *registry.Registry
	w     *Watcher
	scope string
}

// newEnv starts a watcher for the test (after mod adjusts its config and
// the watcher itself) and waits for its first sync.
func newEnv(t *testing.T, mod func(*Config), modW func(*Watcher)) *env {
	t.Helper()
	e := &env{t: t, cli: dockertest.Engine(t), scope: dockertest.Name(t, "")}
	dockertest.TestboxImage(t)
	reg, err := registry.New(registry.Config{Node: "node-a", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	cfg := Config{
		Zone:       zone,
		Node:       "node-a",
		WatchLabel: scopeLabel + "=" + e.scope,
		Store:      reg,
		Logger:     zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel),
	}
	if mod != nil {
		mod(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if modW != nil {
		modW(w)
	}
	e.w = w
	run := testrun.Start(t, w.Run)
	select {
	case <-w.Synced():
	case <-run.Done():
		t.Fatalf("Run returned before the first sync: %v", run.Err())
	case <-time.After(30 * time.Second):
		t.Fatal("no first sync within 30s")
	}
	return e
}

// run starts a container in the test's scope.
func (e *env) run(opts dockertest.RunOptions) dockertest.Container {
	e.t.Helper()
	if opts.Labels == nil {
		opts.Labels = map[string]string{}
	}
	opts.Labels[scopeLabel] = e.scope
	return dockertest.Run(e.t, opts)
}

// lookup returns the addresses the registry has for name (relative to the
// zone), sorted.
func (e *env) lookup(name string) []netip.Addr {
	var out []netip.Addr
	for _, set := range e.reg.Snapshot().Lookup(registry.CanonicalName(name + "." + zone)) {
		for _, a := range set.Addrs {
			out = append(out, a.IP)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// awaitAddrs waits until name has exactly want.
func (e *env) awaitAddrs(name string, want ...netip.Addr) {
	e.t.Helper()
	slices.SortFunc(want, netip.Addr.Compare)
	await.Until(e.t, soon, func() error {
		if got := e.lookup(name); !slices.Equal(got, want) {
			return fmt.Errorf("%s: got %v; want %v", name, got, want)
		}
		return nil
	})
}

// awaitGone waits until name has no records.
func (e *env) awaitGone(name string) {
	e.t.Helper()
	e.awaitAddrs(name)
}

// ips returns a container's addresses as the engine reports them.
func (e *env) ips(id string) []netip.Addr {
	e.t.Helper()
	c, err := e.cli.ContainerInspect(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []netip.Addr
	for _, ep := range c.NetworkSettings.Networks {
		for _, s := range []string{ep.IPAddress, ep.GlobalIPv6Address} {
			if ip, err := netip.ParseAddr(s); err == nil {
				out = append(out, ip)
			}
		}
	}
	return out
}

// barrier starts a marker container and waits until it is registered.
// Events are handled in order, so every event before the marker's start has
// been handled by then.
func (e *env) barrier() {
	e.t.Helper()
	m := e.run(dockertest.RunOptions{Name: dockertest.Name(e.t, fmt.Sprintf("mark%d", time.Now().UnixNano()%1e6))})
	e.awaitAddrs(m.Name, e.ips(m.ID)...)
}

func (e *env) running(id string) bool {
	e.t.Helper()
	c, err := e.cli.ContainerInspect(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.State.Running
}

func TestStartRenameStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	c := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "web-1")})
	ips := e.ips(c.ID)
	e.awaitAddrs(c.Name, ips...)

	set := e.reg.Snapshot().Lookup(registry.CanonicalName(c.Name + "." + zone))[0]
	if set.ContainerID != c.ID || set.Node != "node-a" || set.Image != dockertest.TestboxTag {
		t.Fatalf("got set %+v; want container %s on node-a with image %s", set, c.ID, dockertest.TestboxTag)
	}
	if got := e.reg.Snapshot().LookupAddr(ips[0]); len(got) != 1 || got[0].ContainerID != c.ID {
		t.Fatalf("reverse lookup of %v: got %v; want the container", ips[0], got)
	}

	renamed := dockertest.Name(t, "web-2")
	dockertest.Docker(t, "rename", c.Name, renamed)
	e.awaitAddrs(renamed, ips...)
	e.awaitGone(c.Name)

	dockertest.Docker(t, "stop", "-t", "5", renamed)
	e.awaitGone(renamed)
	if n := len(e.reg.Snapshot().Sets()); n != 0 {
		t.Fatalf("got %d record sets after stop; want 0", n)
	}
}

// TestRemovedAtKillBeforeDeath stops a container whose stop signal it
// ignores: it keeps running until the stop timeout, but its records go at
// the kill event.
func TestRemovedAtKillBeforeDeath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Resync = 100 * time.Millisecond }, nil)
	c := e.run(dockertest.RunOptions{StopSignal: "SIGUSR1"})
	e.awaitAddrs(c.Name, e.ips(c.ID)...)

	stop := exec.Command("docker", "stop", "-t", "60", c.ID)
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stop.Process.Kill()
		_ = stop.Wait()
	})
	e.awaitGone(c.Name)
	// Resyncs must not bring the draining container back.
	resyncs := e.w.Status().Resyncs
	await.Until(t, soon, func() error {
		if n := e.w.Status().Resyncs; n < resyncs+3 {
			return fmt.Errorf("%d resyncs since the kill; want 3", n-resyncs)
		}
		return nil
	})
	if got := e.lookup(c.Name); len(got) != 0 {
		t.Fatalf("draining container after resyncs: got %v; want no records", got)
	}
	if !e.running(c.ID) {
		t.Fatal("container stopped already; want it still running (it ignores SIGUSR1)")
	}
}

// TestKillRemovesWithoutInspect holds every inspect of the test's
// containers at the proxy between the watcher and the engine: the records
// still go at a terminating kill, judged by the stop signal kept from the
// inspect at start (an inspect at the kill waits while the engine handles
// the exit). A kill with the container's own stop signal (USR1, which
// testbox ignores) and a "docker stop" (TERM) are both judged that way.
func TestKillRemovesWithoutInspect(t *testing.T) {
	t.Parallel()
	gate := newInspectGate(t)
	e := newEnv(t, func(c *Config) {
		c.DockerHost = gate.host
		c.Resync = time.Hour // a resync inspects too: none while held
	}, func(w *Watcher) { w.recheckDelay = time.Hour })
	usr1 := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "usr1"), StopSignal: "SIGUSR1"})
	term := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "term")})
	e.awaitAddrs(usr1.Name, e.ips(usr1.ID)...)
	e.awaitAddrs(term.Name, e.ips(term.ID)...)
	// A name is published at the network connect, before the container's
	// start event; an inspect for that event, held at the gate, would stall
	// the event loop. The barrier's container comes after both starts.
	e.barrier()

	gate.hold(usr1.ID, term.ID)
	dockertest.Docker(t, "kill", "-s", "USR1", usr1.ID)
	e.awaitGone(usr1.Name)
	// The USR1 kill leaves usr1 running, so nothing else follows it; the
	// stop's die event is inspected, and waits at the gate.
	dockertest.Docker(t, "stop", "-t", "30", term.ID)
	e.awaitGone(term.Name)
	if n := gate.answered(usr1.ID, term.ID); n != 0 {
		t.Fatalf("the engine answered %d inspects of the killed containers before their records went; want none", n)
	}
	if !e.running(usr1.ID) {
		t.Fatal("container died of SIGUSR1; want it running")
	}

	// Once inspects are answered again, the die event's inspect confirms
	// the stop and the drained container stays unpublished.
	gate.release()
	await.Until(t, soon, func() error {
		if n := gate.answered(term.ID); n == 0 {
			return fmt.Errorf("no inspect of the stopped container answered since the release")
		}
		return nil
	})
	e.barrier()
	for _, c := range []dockertest.Container{usr1, term} {
		if got := e.lookup(c.Name); len(got) != 0 {
			t.Errorf("%s after the release: got %v; want no records", c.Name, got)
		}
	}
}

// inspectGate is an HTTP proxy between a client and the engine's socket
// that can hold the inspects of chosen containers (GET
// /containers/<id>/json) until released, and counts the held ones it let
// through.
type inspectGate struct {
	host string // the proxy's address in DOCKER_HOST form

	mu   sync.Mutex
	held map[string]bool // container IDs whose inspects wait
	open chan struct{}   // closed by release
	done map[string]int  // inspects of held containers answered
}

// newInspectGate starts a gate in front of the engine that
// dockertest.Engine connects to, closed at cleanup.
func newInspectGate(t *testing.T) *inspectGate {
	t.Helper()
	u, err := url.Parse(dockertest.Engine(t).DaemonHost())
	if err != nil || u.Scheme != "unix" {
		t.Skipf("engine at %s is not on a unix socket", dockertest.Engine(t).DaemonHost())
	}
	// Unix socket paths are short (108 bytes); t.TempDir can be too long.
	dir, err := os.MkdirTemp("", "sdtgate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	g := &inspectGate{host: "unix://" + path, held: map[string]bool{}, open: make(chan struct{}), done: map[string]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", u.Path)
		}},
		FlushInterval: -1, // the event stream
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := g.wait(r); ok {
			defer g.count(id)
		} else if r.Context().Err() != nil {
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		g.release()
		_ = srv.Close()
	})
	return g
}

// hold makes the inspects of the containers ids wait until release.
func (g *inspectGate) hold(ids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		g.held[id] = true
	}
}

// release lets every held inspect through, and the later ones; the gate
// keeps counting them.
func (g *inspectGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// answered is the number of inspects of ids (held ones) the engine has
// answered.
func (g *inspectGate) answered(ids ...string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, id := range ids {
		n += g.done[id]
	}
	return n
}

// wait holds r while it inspects a held container and the gate is not
// released; it returns the container and true when r is such an inspect
// and may now go through.
func (g *inspectGate) wait(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-1] != "json" || parts[len(parts)-3] != "containers" {
		return "", false
	}
	id := parts[len(parts)-2]
	g.mu.Lock()
	held, open := g.held[id], g.open
	g.mu.Unlock()
	if !held {
		return "", false
	}
	select {
	case <-open:
		return id, true
	case <-r.Context().Done():
		return "", false
	}
}

func (g *inspectGate) count(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done[id]++
}

func TestReloadSignalKeepsRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	c := e.run(dockertest.RunOptions{})
	ips := e.ips(c.ID)
	e.awaitAddrs(c.Name, ips...)
	for _, sig := range []string{"HUP", "USR1", "USR2", "WINCH"} {
		dockertest.Docker(t, "kill", "-s", sig, c.ID)
	}
	e.barrier()
	if got := e.lookup(c.Name); !slices.Equal(got, ips) {
		t.Fatalf("after SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH: got %v; want %v", got, ips)
	}
	if !e.running(c.ID) {
		t.Fatal("testbox died of a reload signal")
	}
}

func TestTwoNetworksAndAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	n1 := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "n1")})
	n2 := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "n2")})
	c := e.run(dockertest.RunOptions{
		Networks: []string{n1, n2},
		Aliases:  map[string][]string{n1: {"Alias_One"}, n2: {"alias-two", "shared"}},
		Hostname: "explicit-host",
	})
	ips := e.ips(c.ID)
	if len(ips) != 2 {
		t.Fatalf("got addresses %v; want two", ips)
	}
	e.awaitAddrs(c.Name, ips...)
	for _, name := range []string{"alias-one", "alias-two", "shared", "explicit-host"} {
		e.awaitAddrs(name, ips...)
	}
	set := e.reg.Snapshot().Lookup(registry.CanonicalName(c.Name + "." + zone))[0]
	nets := []string{}
	for _, a := range set.Addrs {
		nets = append(nets, a.Network)
		if !a.Subnet.IsValid() || !a.Subnet.Contains(a.IP) {
			t.Errorf("address %v: got subnet %v; want one holding it", a.IP, a.Subnet)
		}
	}
	slices.Sort(nets)
	if want := []string{n1, n2}; !slices.Equal(nets, want) {
		t.Fatalf("got networks %v; want %v", nets, want)
	}

	// Disconnecting at runtime drops that network's address and aliases.
	dockertest.Docker(t, "network", "disconnect", n2, c.ID)
	remaining := e.ips(c.ID)
	e.awaitAddrs(c.Name, remaining...)
	e.awaitGone("alias-two")
	e.awaitAddrs("alias-one", remaining...)
	// And connecting brings a new one.
	dockertest.Docker(t, "network", "connect", "--alias", "again", n2, c.ID)
	e.awaitAddrs("again", e.ips(c.ID)...)
}

func TestComposeProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	img := dockertest.TestboxImage(t)
	project := dockertest.ComposeUp(t, "", fmt.Sprintf(`version: "2.4"
services:
  api:
    image: %s
    scale: 2
    stop_grace_period: 2s
    labels:
      %s: %q
      %s: %q
`, img, scopeLabel, e.scope, dockertest.LabelRun, dockertest.RunID()))
	ids := strings.Fields(project.Run(t, "ps", "-q", "api"))
	if len(ids) != 2 {
		t.Fatalf("got %d api containers; want 2", len(ids))
	}
	var want []netip.Addr
	for _, id := range ids {
		want = append(want, e.ips(id)...)
	}
	e.awaitAddrs("api."+project.Name, want...)
	e.awaitAddrs("api", want...) // compose's network alias
}

func TestLabels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	hidden := e.run(dockertest.RunOptions{Labels: map[string]string{LabelEnable: "false", LabelName: "hidden-extra"}})
	c := e.run(dockertest.RunOptions{Labels: map[string]string{
		LabelName:  "extra-one, Extra_Two,deep.name," + "abs." + strings.TrimSuffix(zone, "."),
		LabelCNAME: "www",
		LabelSRV:   "http=8080",
	}})
	ips := e.ips(c.ID)
	for _, name := range []string{c.Name, "extra-one", "extra-two", "deep.name", "abs"} {
		e.awaitAddrs(name, ips...)
	}
	snap := e.reg.Snapshot()
	if a, ok := snap.Alias("www." + zone); !ok || a.Target != c.Name+"."+zone {
		t.Fatalf("www: got CNAME %+v (found %v); want one to %s.%s", a, ok, c.Name, zone)
	}
	set := snap.Lookup(c.Name + "." + zone)[0]
	if want := []registry.Port{{Service: "http", Proto: "tcp", Port: 8080}}; !slices.Equal(set.Ports, want) {
		t.Fatalf("got ports %+v; want %+v", set.Ports, want)
	}
	e.barrier()
	if got := e.lookup(hidden.Name); len(got) != 0 {
		t.Fatalf("swarmdns.enable=false container: got %v; want no records", got)
	}
	if got := e.lookup("hidden-extra"); len(got) != 0 {
		t.Fatalf("swarmdns.enable=false container's extra name: got %v; want no records", got)
	}
}

func TestFindsContainersRunningBeforeStart(t *testing.T) {
	t.Parallel()
	scope := dockertest.Name(t, "")
	var cs []dockertest.Container
	for i := range 3 {
		cs = append(cs, dockertest.Run(t, dockertest.RunOptions{
			Name:   dockertest.Name(t, fmt.Sprint("pre", i)),
			Labels: map[string]string{scopeLabel: scope},
		}))
	}
	// Not in scope: the watch label keeps it out.
	other := dockertest.Run(t, dockertest.RunOptions{Name: dockertest.Name(t, "other")})
	e := newEnv(t, func(c *Config) { c.WatchLabel = scopeLabel + "=" + scope }, nil)
	// Synced means the first full sync is done: no waiting needed.
	for _, c := range cs {
		if got, want := e.lookup(c.Name), e.ips(c.ID); !slices.Equal(got, want) {
			t.Errorf("%s: got %v; want %v", c.Name, got, want)
		}
	}
	if got := e.lookup(other.Name); len(got) != 0 {
		t.Errorf("container without the watch label: got %v; want no records", got)
	}
}

func TestHealthStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	check := func(code string) *container.HealthConfig {
		return &container.HealthConfig{
			Test:     []string{"CMD", "/testbox", "exit-after", "0s", code},
			Interval: 100 * time.Millisecond, Timeout: 5 * time.Second, Retries: 1,
		}
	}
	good := e.run(dockertest.RunOptions{Healthcheck: check("0")})
	bad := e.run(dockertest.RunOptions{Healthcheck: check("1")})
	awaitHealth := func(name string, want registry.Health) {
		t.Helper()
		await.Until(t, soon, func() error {
			sets := e.reg.Snapshot().Lookup(name + "." + zone)
			if len(sets) != 1 || sets[0].Health != want {
				return fmt.Errorf("%s: got %v; want one set, %v", name, sets, want)
			}
			return nil
		})
	}
	awaitHealth(good.Name, registry.HealthHealthy)
	awaitHealth(bad.Name, registry.HealthUnhealthy)
}

func TestShortLivedContainerLeavesNoRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	var cs []dockertest.Container
	for i, d := range []string{"0s", "50ms", "300ms"} {
		cs = append(cs, e.run(dockertest.RunOptions{Name: dockertest.Name(t, fmt.Sprint("short", i)), Cmd: []string{"exit-after", d}}))
	}
	await.Until(t, soon, func() error {
		for _, c := range cs {
			if e.running(c.ID) {
				return fmt.Errorf("%s still running", c.Name)
			}
		}
		return nil
	})
	e.barrier()
	for _, c := range cs {
		if got := e.lookup(c.Name); len(got) != 0 {
			t.Errorf("%s exited: got %v; want no records", c.Name, got)
		}
	}
}

// TestConnectionCut runs the watcher through a proxy that the test cuts
// while containers start and stop; once it is back, the records match
// what runs.
func TestConnectionCut(t *testing.T) {
	t.Parallel()
	proxy := dockertest.NewSocketProxy(t, "")
	var logs logtest.Buffer
	e := newEnv(t, func(c *Config) {
		c.DockerHost = proxy.Host()
		c.Logger = teeLogger(t, &logs)
	}, nil)
	keep := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "keep")})
	gone := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "gone")})
	e.awaitAddrs(keep.Name, e.ips(keep.ID)...)
	e.awaitAddrs(gone.Name, e.ips(gone.ID)...)
	before := e.w.Status()

	proxy.Cut()
	await.Until(t, soon, func() error {
		if e.w.Status().Connected {
			return fmt.Errorf("still connected")
		}
		if n, _ := e.reg.Snapshot().Node("node-a"); !n.Stale {
			return fmt.Errorf("local node not stale")
		}
		return nil
	})
	dockertest.Docker(t, "rm", "-f", gone.ID)
	born := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "born")})
	brief := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "brief")})
	dockertest.Docker(t, "stop", "-t", "1", brief.ID)
	// While cut, the records stay as they were (stale), not dropped.
	if got := e.lookup(gone.Name); len(got) == 0 {
		t.Fatal("records dropped while the engine was unreachable; want them kept")
	}

	proxy.Restore()
	await.Until(t, 60*time.Second, func() error {
		want := dockertest.Docker(t, "ps", "-q", "--no-trunc", "--filter", "label="+scopeLabel+"="+e.scope)
		wantIDs := strings.Fields(want)
		var got []string
		for _, s := range e.reg.Snapshot().Sets() {
			got = append(got, s.ContainerID)
		}
		slices.Sort(wantIDs)
		slices.Sort(got)
		if !slices.Equal(got, wantIDs) {
			return fmt.Errorf("registry has %v; docker ps has %v", got, wantIDs)
		}
		if n, _ := e.reg.Snapshot().Node("node-a"); n.Stale {
			return fmt.Errorf("local node still stale")
		}
		return nil
	})
	e.awaitAddrs(born.Name, e.ips(born.ID)...)
	e.awaitAddrs(keep.Name, e.ips(keep.ID)...)
	after := e.w.Status()
	if !after.Connected || after.Reconnects <= before.Reconnects || !after.LastSync.After(before.LastSync) {
		t.Fatalf("status after the cut: got %+v; want connected, more reconnects than %d, a later sync than %v", after, before.Reconnects, before.LastSync)
	}
	// One line says the engine is back, with how long it was away.
	var back []logtest.Line
	for _, l := range logs.AtLevel("info") {
		if strings.Contains(l.Message(), "docker engine is back") {
			back = append(back, l)
		}
	}
	if len(back) != 1 || back[0]["away"] == nil {
		t.Errorf("got %d \"engine is back\" lines %v; want one with the time away", len(back), back)
	}
	for _, l := range logs.Lines() {
		if _, ok := l["retry_in"]; ok {
			t.Errorf("a duration key without its unit: %v", l)
		}
	}
}

func TestUnreachableEngineAtStart(t *testing.T) {
	t.Parallel()
	reg, _ := registry.New(registry.Config{Node: "n"})
	host := "unix://" + t.TempDir() + "/no.sock"
	w, err := New(Config{DockerHost: host, Zone: zone, Store: reg, StartTimeout: 300 * time.Millisecond,
		Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	w.backoffMin = 50 * time.Millisecond
	err = w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "docker engine at "+host+" is unreachable") {
		t.Fatalf("got %v; want an error saying the docker engine at %s is unreachable", err, host)
	}
	select {
	case <-w.Synced():
		t.Fatal("Synced closed without a sync")
	default:
	}
	if st := w.Status(); st.Connected || st.Reconnects == 0 {
		t.Fatalf("got status %+v; want not connected after some retries", st)
	}
}

func TestRunReturnsOnCancelWhileUnreachable(t *testing.T) {
	t.Parallel()
	reg, _ := registry.New(registry.Config{Node: "n"})
	w, err := New(Config{DockerHost: "unix://" + t.TempDir() + "/no.sock", Zone: zone, Store: reg, StartTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	await.Until(t, soon, func() error {
		if w.Status().Reconnects == 0 {
			return fmt.Errorf("no retry yet")
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("got %v; want nil", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	reg, _ := registry.New(registry.Config{Node: "n"})
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{Zone: zone}},
		{"no zone", Config{Store: reg}},
		{"root zone", Config{Store: reg, Zone: "."}},
		{"bad zone", Config{Store: reg, Zone: "swarm_internal."}},
		{"bad watch label", Config{Store: reg, Zone: zone, WatchLabel: "=x"}},
		{"negative resync", Config{Store: reg, Zone: zone, Resync: -time.Second}},
		{"bad host", Config{Store: reg, Zone: zone, DockerHost: "not a url"}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil {
			t.Errorf("%s: got nil error; want one", tt.name)
		}
	}
	m := prometheus.NewRegistry()
	if _, err := New(Config{Store: reg, Zone: zone, Metrics: m}); err != nil {
		t.Fatalf("first watcher on a metrics registry: %v", err)
	}
	if _, err := New(Config{Store: reg, Zone: zone, Metrics: m}); err == nil {
		t.Fatal("second watcher on the same metrics registry: got nil error; want a duplicate registration error")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	m := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Metrics = m }, nil)
	c := e.run(dockertest.RunOptions{})
	e.awaitAddrs(c.Name, e.ips(c.ID)...)
	var got map[string]float64
	await.Until(t, soon, func() error {
		families, err := m.Gather()
		if err != nil {
			return err
		}
		got = map[string]float64{}
		for _, f := range families {
			for _, metric := range f.GetMetric() {
				got[f.GetName()+labelsOf(metric)] += value(metric)
			}
		}
		if got[`swarmdns_watcher_events_total{action="start",type="container"}`] < 1 {
			return fmt.Errorf("no start event counted in %v", got)
		}
		return nil
	})
	if got["swarmdns_watcher_connected"] != 1 {
		t.Errorf("connected: got %v; want 1", got["swarmdns_watcher_connected"])
	}
	if got["swarmdns_watcher_resyncs_total"] < 1 {
		t.Errorf("resyncs: got %v; want at least 1", got["swarmdns_watcher_resyncs_total"])
	}
	if ts := got["swarmdns_watcher_last_sync_timestamp_seconds"]; ts < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("last sync: got %v; want a recent Unix time", ts)
	}
	if got[`swarmdns_watcher_events_total{action="start",type="container"}`] < 1 {
		t.Errorf("start events: got %v in %v; want at least 1", got[`swarmdns_watcher_events_total{action="start",type="container"}`], got)
	}
}

func labelsOf(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func TestTerminatingSignals(t *testing.T) {
	tests := []struct {
		sig, stop string
		want      bool
	}{
		{"15", "", true}, {"9", "", true}, {"2", "", true}, {"3", "", true}, {"", "", true},
		{"SIGTERM", "", true}, {"kill", "", true},
		{"1", "", false}, {"10", "", false}, {"12", "", false}, {"28", "", false}, {"HUP", "", false},
		{"28", "SIGWINCH", true}, {"10", "USR1", true}, {"10", "12", false}, {"bogus", "bogus", false},
	}
	for _, tt := range tests {
		if got := terminating(tt.sig, tt.stop); got != tt.want {
			t.Errorf("terminating(%q, stop signal %q) = %v; want %v", tt.sig, tt.stop, got, tt.want)
		}
	}
}

// TestStalledEventStreamIsReopened stalls the event stream (open, silent)
// while containers change: the periodic resync keeps the records right, and
// the watchdog reopens the stream.
func TestStalledEventStreamIsReopened(t *testing.T) {
	t.Parallel()
	proxy := dockertest.NewSocketProxy(t, "")
	e := newEnv(t, func(c *Config) {
		c.DockerHost = proxy.Host()
		c.Resync = 300 * time.Millisecond
	}, nil)
	a := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "a")})
	e.awaitAddrs(a.Name, e.ips(a.ID)...)
	before := e.w.Status().Reconnects

	proxy.StallEvents()
	b := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "b")})
	e.awaitAddrs(b.Name, e.ips(b.ID)...) // by a resync: no event gets through
	dockertest.Docker(t, "rm", "-f", b.ID)
	e.awaitGone(b.Name)
	await.Until(t, soon, func() error {
		if st := e.w.Status(); st.Reconnects <= before || !st.Connected {
			return fmt.Errorf("got status %+v; want reconnected after %d reconnects", st, before)
		}
		return nil
	})
	// The new stream delivers events again: a kill that only the event
	// path acts on (the container keeps running) removes the records.
	c := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "c"), StopSignal: "SIGUSR1"})
	e.awaitAddrs(c.Name, e.ips(c.ID)...)
	dockertest.Docker(t, "kill", "-s", "USR1", c.ID)
	e.awaitGone(c.Name)
	if !e.running(c.ID) {
		t.Fatal("container died of SIGUSR1; want it running")
	}
}

// TestRunLeavesNoGoroutines checks that nothing the watcher started
// outlives Run.
func TestRunLeavesNoGoroutines(t *testing.T) {
	dockertest.TestboxImage(t)
	reg, _ := registry.New(registry.Config{Node: "n"})
	w, err := New(Config{Zone: zone, Store: reg, WatchLabel: scopeLabel + "=" + dockertest.Name(t, ""),
		Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case <-w.Synced():
	case err := <-done:
		t.Fatalf("Run returned before the first sync: %v", err)
	}
	dockertest.Run(t, dockertest.RunOptions{Cmd: []string{"exit-after", "10ms"}}) // some events
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	await.Until(t, soon, func() error {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "swarmdns/watcher.(*Watcher)") || strings.Contains(g, "docker/client.(*Client).Events") {
				return fmt.Errorf("goroutine left behind:\n%s", g)
			}
		}
		return nil
	})
}

// TestRecheckCatchesLostDie loses a short-lived container's die event (the
// stream is stalled after its start): the recheck after registration still
// removes its records, long before the next resync.
func TestRecheckCatchesLostDie(t *testing.T) {
	t.Parallel()
	proxy := dockertest.NewSocketProxy(t, "")
	e := newEnv(t, func(c *Config) {
		c.DockerHost = proxy.Host()
		c.Resync = time.Hour
	}, func(w *Watcher) { w.recheckDelay = 3 * time.Second })
	c := e.run(dockertest.RunOptions{Cmd: []string{"exit-after", "1500ms"}})
	e.awaitAddrs(c.Name, e.ips(c.ID)...)
	proxy.StallEvents()
	e.awaitGone(c.Name)
	if e.running(c.ID) {
		t.Fatal("records gone while the container runs; want them gone after it exits")
	}
}

func BenchmarkRecordSetFor(b *testing.B) {
	for _, file := range []string{"plain", "multinet", "labels", "swarm-replicated"} {
		c := inspectFile(b, file)
		opts := NameOptions{Zone: zone, Node: "node-a"}
		b.Run(file, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				RecordSetFor(c, opts)
			}
		})
	}
}
