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

// TestSwarmMultiEngine is issue 6's check 3: two Docker engines on this
// machine, each a dockerd with its own data root, exec root, socket, mount
// namespace (so that /var/run/docker.sock inside it is its own) and network
// namespace (a netlab host), joined in one Swarm; swarmdns deployed on it
// from deploy/stack.yml as a global service across both; deploy/example.yml
// with its two web tasks on the two engines. From the client on one engine,
// web.<stack>.swarm.internal gives both tasks, the one on the other engine
// known only through gossip over the stack's overlay network; and
// `docker stop` of the other engine's sidecar drops its records at once.
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
	lab := netlab.New(t, 2)
	engines := []*nestedEngine{startNestedEngine(t, lab.Host(1)), startNestedEngine(t, lab.Host(2))}
	for _, e := range engines {
		e.load(t, image, busybox)
		if out, err := e.netnsCmd("sh", deployFile(t, "node-dns.sh"), "up", nodeDNSAddr); err != nil {
			t.Fatalf("deploy/node-dns.sh up in %s: %v\n%s", e.name, err, out)
		}
	}
	a, b := engines[0], engines[1]
	a.docker(t, "swarm", "init", "--advertise-addr", a.addr)
	token := a.docker(t, "swarm", "join-token", "-q", "worker")
	b.docker(t, "swarm", "join", "--token", token, a.addr+":2377")
	await.Until(t, 60*time.Second, func() error {
		out, err := a.dockerCmd("node", "ls", "--format", "{{.Status}}")
		if err != nil {
			return err
		}
		if got := strings.Fields(out); len(got) != 2 || got[0] != "Ready" || got[1] != "Ready" {
			return fmt.Errorf("swarm nodes: %v; want two Ready", got)
		}
		return nil
	})

	if _, err := a.dockerStdin(newKey(t), "secret", "create", "swarmdns_gossip_key", "-"); err != nil {
		t.Fatal(err)
	}
	a.deploy(t, "swarmdns", "stack.yml", "SWARMDNS_IMAGE="+image, "DOCKER_GID="+dockerGID(t), "SWARMDNS_UPSTREAM=127.0.0.1:9")
	a.deploy(t, "demo", "example.yml", "EXAMPLE_IMAGE="+busybox, "SWARMDNS_ADDR="+nodeDNSAddr, "WEB_REPLICAS=2")

	sidecars := make([]string, 2)
	for i, e := range engines {
		sidecars[i] = e.awaitTask(t, "swarmdns_swarmdns", true)
	}
	start := time.Now()
	for i, e := range engines {
		await.Until(t, 90*time.Second, func() error {
			out, err := e.dockerCmd("exec", sidecars[i], "swarmdns", "members")
			if err != nil {
				return err
			}
			if n := strings.Count(out, " alive "); n != 2 {
				return fmt.Errorf("members on %s: %d alive; want 2\n%s", e.name, n, out)
			}
			return nil
		})
	}
	t.Logf("both sidecars see each other alive %v after both were healthy", time.Since(start).Round(time.Millisecond))

	// The example's two web replicas land one on each engine (Swarm spreads
	// them); the client runs on either.
	webOn := make([][]string, 2)
	var clientEngine *nestedEngine
	var client string
	await.Until(t, 90*time.Second, func() error {
		for i, e := range engines {
			ips, err := e.taskIPs("demo_web", "demo_app")
			if err != nil {
				return err
			}
			webOn[i] = ips
			if c, _ := e.dockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name=demo_client"); c != "" {
				clientEngine, client = e, strings.Fields(c)[0]
			}
		}
		if len(webOn[0]) != 1 || len(webOn[1]) != 1 || client == "" {
			return fmt.Errorf("web tasks per engine %v, client %q; want one web task on each engine and a client", webOn, client)
		}
		return nil
	})
	all := append(slices.Clone(webOn[0]), webOn[1]...)
	slices.Sort(all)
	web := "web.demo.swarm.internal"
	expect := func(want []string) func() error {
		return func() error {
			got, err := clientEngine.nslookup(client, web)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s from the client on %s: got %v; want %v", web, clientEngine.name, got, want)
			}
			return nil
		}
	}
	start = time.Now()
	await.Until(t, 60*time.Second, expect(all))
	t.Logf("the client on %s resolves both web tasks %v (one on each engine) %v after the check began", clientEngine.name, all, time.Since(start).Round(time.Millisecond))

	// docker stop of the other engine's sidecar: a clean leave, so the
	// client's node drops that engine's web task at once (not after the
	// lease), and gets it back when Swarm has started a new sidecar there.
	other, otherIdx := b, 1
	if clientEngine == b {
		other, otherIdx = a, 0
	}
	left := slices.DeleteFunc(slices.Clone(all), func(ip string) bool { return ip == webOn[otherIdx][0] })
	other.docker(t, "stop", sidecars[otherIdx])
	stopped := time.Now()
	if err := await.Check(5*time.Second, expect(left)); err != nil {
		t.Errorf("after docker stop of the sidecar on %s: its records are still served: %v", other.name, err)
	} else {
		t.Logf("records of %s gone from %s %v after docker stop returned", other.name, clientEngine.name, time.Since(stopped).Round(time.Millisecond))
	}
	if logs, _ := runEnv(nil, "docker", "-H", "unix://"+other.sock, "logs", sidecars[otherIdx]); !strings.Contains(logs, "left the gossip cluster") {
		t.Errorf("sidecar log on %s after docker stop: no clean leave in\n%s", other.name, tail(logs, 3000))
	}
	await.Until(t, 90*time.Second, expect(all))
	t.Logf("back to both tasks %v after the stop (Swarm's restart delay is 5s)", time.Since(stopped).Round(time.Millisecond))

	// A rolling update (what an upgrade does, with the same image):
	// stack.yml's update_config replaces one node's sidecar at a time; at
	// the end both are new, see each other, and serve both tasks.
	var old []string
	for _, e := range engines {
		old = append(old, e.awaitTask(t, "swarmdns_swarmdns", true))
	}
	updated := time.Now()
	a.docker(t, "service", "update", "--detach", "--force", "swarmdns_swarmdns")
	await.Until(t, 180*time.Second, func() error {
		for i, e := range engines {
			out, err := e.dockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name=swarmdns_swarmdns", "--filter", "health=healthy")
			if err != nil {
				return err
			}
			ids := strings.Fields(out)
			if len(ids) != 1 || ids[0] == old[i] {
				return fmt.Errorf("engine %s: healthy sidecars %v; want one new one (old %s)", e.name, ids, old[i])
			}
			members, err := e.dockerCmd("exec", ids[0], "swarmdns", "members")
			if err != nil {
				return err
			}
			if n := strings.Count(members, " alive "); n != 2 {
				return fmt.Errorf("members on %s after the update: %d alive; want 2\n%s", e.name, n, members)
			}
		}
		return expect(all)()
	})
	t.Logf("rolling update of both sidecars done, cluster whole again, in %v", time.Since(updated).Round(time.Millisecond))
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

// netnsCmd runs a command in the engine's network namespace.
func (e *nestedEngine) netnsCmd(name string, args ...string) (string, error) {
	return runEnv(nil, "nsenter", append([]string{"--net=/run/netns/" + e.name, name}, args...)...)
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

// nslookup is the package's nslookup for a container of this engine.
func (e *nestedEngine) nslookup(container, name string) ([]string, error) {
	out, err := e.dockerCmd("exec", container, "nslookup", "-type=a", name)
	addrs := parseNslookup(out)
	if err != nil && len(addrs) == 0 {
		return nil, fmt.Errorf("nslookup %s in %s on %s: %w\n%s", name, container, e.name, err, out)
	}
	return addrs, nil
}
