package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/netlab"
)

// TestSwarmMultiEngine is issue 12's check 4 (and issue 6's check 3):
// three Docker engines on this machine, each a dockerd with its own data
// root, exec root, socket, mount namespace (so that /var/run/docker.sock in
// it is its own) and network namespace (a netlab host), in one Swarm: a
// manager and two workers. deploy/stack.yml runs a sidecar on the host
// network of each engine; they find each other without an overlay, through
// the engine's Swarm (the managers' and nodes' addresses), and gossip on
// the nodes' own addresses. deploy/example.yml's web tasks land on every
// engine; from a container on one engine, web.demo.swarm.internal gives
// all of them, the others' known only through gossip. Then the manager is
// drained (its sidecar leaves, and a worker's seeds from the Swarm are the
// manager only) and a worker's sidecar is killed: its next task rejoins the
// other worker from the peers it last saw, kept in its node's volume.
func TestSwarmMultiEngine(t *testing.T) {
	dockertest.Engine(t)
	for _, bin := range []string{"dockerd", "containerd", "nsenter", "unshare", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: %v", bin, err)
			}
			t.Skipf("%s not found: %v", bin, err)
		}
	}
	image := swarmdnsImage(t)
	busybox := busyboxImage(t)
	lab := netlab.New(t, 3)
	engines := []*nestedEngine{startNestedEngine(t, lab.Host(1)), startNestedEngine(t, lab.Host(2)), startNestedEngine(t, lab.Host(3))}
	for _, e := range engines {
		e.load(t, image, busybox)
	}
	manager, workers := engines[0], engines[1:]
	manager.docker(t, "swarm", "init", "--advertise-addr", manager.addr)
	token := manager.docker(t, "swarm", "join-token", "-q", "worker")
	for _, w := range workers {
		w.docker(t, "swarm", "join", "--token", token, manager.addr+":2377")
	}
	await.Until(t, 60*time.Second, func() error {
		out, err := manager.dockerCmd("node", "ls", "--format", "{{.Status}}")
		if err != nil {
			return err
		}
		if got := strings.Fields(out); len(got) != 3 || slices.ContainsFunc(got, func(s string) bool { return s != "Ready" }) {
			return fmt.Errorf("swarm nodes: %v; want three Ready", got)
		}
		return nil
	})

	if _, err := manager.dockerStdin(newKey(t), "secret", "create", "swarmdns_gossip_key", "-"); err != nil {
		t.Fatal(err)
	}
	manager.deploy(t, "swarmdns", "stack.yml", "SWARMDNS_IMAGE="+image)
	manager.deploy(t, "demo", "example.yml", "EXAMPLE_IMAGE="+busybox, "WEB_REPLICAS=3")

	sidecars := make([]string, len(engines))
	for i, e := range engines {
		sidecars[i] = e.awaitTask(t, "swarmdns_swarmdns", true)
	}
	awaitAlive := func(e *nestedEngine, sidecar string, n int) {
		t.Helper()
		await.Until(t, 90*time.Second, func() error {
			out, err := e.dockerCmd("exec", sidecar, "swarmdns", "members")
			if err != nil {
				return err
			}
			if got := strings.Count(out, " alive "); got != n {
				return fmt.Errorf("members on %s: %d alive; want %d\n%s", e.name, got, n, out)
			}
			return nil
		})
	}
	start := time.Now()
	for i, e := range engines {
		awaitAlive(e, sidecars[i], 3)
	}
	t.Logf("the three sidecars, on the host network of each engine, see each other alive %v after all were healthy", time.Since(start).Round(time.Millisecond))
	if logs, _ := runEnv(nil, "docker", "-H", "unix://"+workers[0].sock, "logs", sidecars[1]); !strings.Contains(logs, `"addr":"`+workers[0].addr+`"`) {
		t.Errorf("the worker's sidecar does not advertise its node's Swarm address %s:\n%s", workers[0].addr, grepLines(logs, "advertis"))
	}

	// Every engine's web task, from a plain container on each engine (its
	// default bridge, dns: the node-local address).
	web := "web.demo.swarm.internal"
	all := func() []string {
		var ips []string
		for _, e := range engines {
			got, _ := e.taskIPs("demo_web", "demo_app")
			ips = append(ips, got...)
		}
		slices.Sort(ips)
		return ips
	}
	resolveOn := func(e *nestedEngine, want []string) func() error {
		return func() error {
			out, err := e.dockerCmd("run", "--rm", "--dns", nodeAddr, busybox, "nslookup", "-type=a", web)
			if got := parseNslookup(out); !slices.Equal(got, want) {
				return fmt.Errorf("%s from a container on %s: got %v (%v); want %v\n%s", web, e.name, got, err, want, out)
			}
			return nil
		}
	}
	await.Until(t, 90*time.Second, func() error {
		for _, e := range engines {
			if ips, _ := e.taskIPs("demo_web", "demo_app"); len(ips) != 1 {
				return fmt.Errorf("engine %s runs %d web tasks; want one on each", e.name, len(ips))
			}
		}
		return nil
	})
	want := all()
	start = time.Now()
	for _, e := range engines {
		await.Until(t, 60*time.Second, resolveOn(e, want))
	}
	t.Logf("a container on each engine resolves the three web tasks %v (two through gossip) %v after the check began", want, time.Since(start).Round(time.Millisecond))

	// The manager drained: its sidecar leaves, its web task moves.
	managerID := manager.docker(t, "info", "-f", "{{.Swarm.NodeID}}")
	manager.docker(t, "node", "update", "--availability", "drain", managerID)
	await.Until(t, 90*time.Second, func() error {
		if out, _ := manager.dockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name=swarmdns_swarmdns"); out != "" {
			return fmt.Errorf("the drained manager still runs its sidecar")
		}
		return nil
	})
	for i, w := range workers {
		awaitAlive(w, sidecars[i+1], 2)
	}
	// A worker's sidecar killed: its seeds from the Swarm are the manager
	// only, which runs no sidecar now; the peers it last saw are in its
	// node's volume.
	w := workers[0]
	w.docker(t, "kill", sidecars[1])
	killed := time.Now()
	next := w.awaitNewTask(t, "swarmdns_swarmdns", sidecars[1])
	awaitAlive(w, next, 2)
	t.Logf("the killed worker's sidecar rejoined the other worker %v after the kill, the manager's sidecar gone", time.Since(killed).Round(time.Millisecond))
	logs, _ := runEnv(nil, "docker", "-H", "unix://"+w.sock, "logs", next)
	remembered := grepLines(logs, "peers last seen")
	if !strings.Contains(remembered, workers[1].addr+":7947") {
		t.Errorf("the restarted sidecar did not start from the peers it last saw (the other worker %s):\n%s", workers[1].addr, tail(logs, 3000))
	}
	t.Logf("it started from the peers it last saw: %s", remembered)
	await.Until(t, 90*time.Second, func() error {
		want := all()
		if len(want) != 3 {
			return fmt.Errorf("web tasks %v; want three on the workers", want)
		}
		for _, e := range workers {
			if err := resolveOn(e, want)(); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("names of each worker resolve from the other again")
}

// nestedEngine is a dockerd of the test's own, in a netlab host's network
// namespace and a mount namespace of its own whose /run is a directory of
// the test (so /var/run/docker.sock there is this engine's socket), with its
// own data root (vfs storage) and exec root.
type nestedEngine struct {
	name string // the netlab host's netns
	addr string // its address
	dir  string
	sock string // the socket as seen from the test
	cmd  *exec.Cmd
	done chan struct{}
}

func startNestedEngine(t *testing.T, h *netlab.Host) *nestedEngine {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdt-engine-")
	if err != nil {
		t.Fatal(err)
	}
	e := &nestedEngine{name: h.Name(), addr: h.Addr().String(), dir: dir, sock: filepath.Join(dir, "run", "docker.sock"), done: make(chan struct{})}
	for _, d := range []string{"data", "exec", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte(`{"storage-driver": "vfs", "log-driver": "json-file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cgroup := "/" + filepath.Base(dir)
	script := fmt.Sprintf("mount --bind %s /run && exec dockerd --config-file %s --data-root %s --exec-root %s --pidfile /run/docker.pid -H unix:///run/docker.sock --cgroup-parent %s",
		filepath.Join(dir, "run"), cfg, filepath.Join(dir, "data"), filepath.Join(dir, "exec"), cgroup)
	// nsenter, not `ip netns exec`: that one remounts /sys, without the
	// cgroup hierarchies dockerd needs.
	e.cmd = exec.Command("nsenter", "--net=/run/netns/"+h.Name(), "unshare", "--mount", "--propagation", "slave", "sh", "-c", script)
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("starting dockerd in %s: %v", h.Name(), err)
	}
	go func() { _ = e.cmd.Wait(); logf.Close(); close(e.done) }()
	t.Cleanup(func() { e.stop(t, cgroup) })
	err = await.Check(60*time.Second, func() error {
		select {
		case <-e.done:
			return fmt.Errorf("dockerd exited: %v", e.cmd.ProcessState)
		default:
		}
		_, err := e.dockerCmd("version")
		return err
	})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
		t.Fatalf("dockerd in %s: %v\n%s", h.Name(), err, tail(string(log), 4000))
	}
	return e
}

// stop ends the engine (SIGTERM, which stops its containers, then SIGKILL
// to its process group), then removes its directory and cgroups.
func (e *nestedEngine) stop(t *testing.T, cgroup string) {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(45 * time.Second):
		t.Errorf("dockerd in %s did not stop within 45s of SIGTERM; killing it", e.name)
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	<-e.done
	if t.Failed() {
		if log, err := os.ReadFile(filepath.Join(e.dir, "dockerd.log")); err == nil {
			t.Logf("dockerd log of %s:\n%s", e.name, tail(string(log), 6000))
		}
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Logf("removing %s: %v", e.dir, err)
	}
	// Empty cgroups the engine made, children first.
	ctrls, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroup)
	for _, c := range ctrls {
		var dirs []string
		_ = filepath.WalkDir(c, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = os.Remove(dirs[i])
		}
	}
}

func (e *nestedEngine) dockerCmd(args ...string) (string, error) {
	return dockertest.DockerCmd(append([]string{"-H", "unix://" + e.sock}, args...)...)
}

func (e *nestedEngine) docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.dockerCmd(args...)
	if err != nil {
		t.Fatalf("engine %s: %v", e.name, err)
	}
	return out
}

func (e *nestedEngine) dockerStdin(stdin string, args ...string) (string, error) {
	return runStdin(stdin, "docker", append([]string{"-H", "unix://" + e.sock}, args...)...)
}

// load copies images from the machine's engine into this one.
func (e *nestedEngine) load(t *testing.T, images ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, images...)...)
	load := exec.CommandContext(ctx, "docker", "-H", "unix://"+e.sock, "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	out, err := load.CombinedOutput()
	if werr := save.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		t.Fatalf("loading %v into %s: %v\n%s", images, e.name, err, out)
	}
}

// deploy runs `docker stack deploy` of deploy/<file> on this engine (a
// manager). Nothing to remove at cleanup: the engine goes entirely.
func (e *nestedEngine) deploy(t *testing.T, stack, file string, env ...string) {
	t.Helper()
	out, err := runEnv(env, "docker", "-H", "unix://"+e.sock, "stack", "deploy", "--resolve-image", "never", "-c", deployFile(t, file), stack)
	if err != nil {
		t.Fatalf("docker stack deploy %s on %s: %v\n%s", file, e.name, err, out)
	}
}

// awaitNewTask waits for a healthy container of a Swarm service on this
// engine other than old.
func (e *nestedEngine) awaitNewTask(t *testing.T, service, old string) string {
	t.Helper()
	var id string
	err := await.Check(180*time.Second, func() error {
		out, err := e.dockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service, "--filter", "health=healthy")
		if err != nil {
			return err
		}
		for _, c := range strings.Fields(out) {
			if !strings.HasPrefix(old, c) {
				id = c
				return nil
			}
		}
		return fmt.Errorf("no new healthy task of %s on %s", service, e.name)
	})
	if err != nil {
		ps, _ := e.dockerCmd("service", "ps", "--no-trunc", service)
		t.Fatalf("%v\n%s", err, ps)
	}
	return id
}

// awaitTask waits for a running (and healthy, if asked) container of a
// Swarm service on this engine and returns its ID.
func (e *nestedEngine) awaitTask(t *testing.T, service string, healthy bool) string {
	t.Helper()
	id, err := findTask(e.dockerCmd, service, healthy)
	if err != nil {
		ps, _ := e.dockerCmd("service", "ps", "--no-trunc", service)
		t.Fatalf("engine %s: %v\n%s", e.name, err, ps)
	}
	return id
}

// taskIPs returns the sorted addresses on network of this engine's running
// containers of a Swarm service.
func (e *nestedEngine) taskIPs(service, network string) ([]string, error) {
	out, err := e.dockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, id := range strings.Fields(out) {
		ip, err := e.dockerCmd("inspect", "-f", "{{with index .NetworkSettings.Networks \""+network+"\"}}{{.IPAddress}}{{end}}", id)
		if err == nil && ip != "" {
			ips = append(ips, ip)
		}
	}
	slices.Sort(ips)
	return ips, nil
}
