package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// These tests deploy swarmdns the way a user does, from the files in
// deploy/: the image built by deploy/build-image.sh from the Dockerfile,
// deploy/stack.yml on a real Swarm (this machine's engine, swarm-initialised
// by the test when it is not in one), deploy/example.yml as the application
// stack, deploy/node-dns.sh for the node address, deploy/compose.yml on one
// host. They check everything from inside application containers, through
// their own resolver and `dns:` setting.

// Image tags the tests build; they stay in the engine as a cache.
const (
	e2eImage        = "swarmdns:e2e"
	e2eBusyboxImage = "swarmdns-e2e-busybox:test"
)

// nodeDNSAddr is deploy/node-dns.sh's (and deploy/example.yml's) address.
const nodeDNSAddr = "169.254.53.53"

// outsideName is a name outside the zone that only the test's upstream
// answers, with outsideAddr (a documentation address, never contacted).
const (
	outsideName = "outside.swarmdns-e2e.test."
	outsideAddr = "192.0.2.80"
)

// TestSwarmStack is issue 6's checks 1 and 2: the image from the
// Dockerfile, deploy/stack.yml as a global service, deploy/example.yml as an
// application stack whose containers use swarmdns through `dns:`; from the
// client container: web.<stack>.swarm.internal gives every web task, an
// outside name is forwarded to the test's upstream, scaling web up and down
// changes the answer within seconds; `docker exec` runs the debug verbs in
// the sidecar; `docker stop` of the sidecar is a clean leave.
func TestSwarmStack(t *testing.T) {
	dockertest.Engine(t)
	image := swarmdnsImage(t)
	busybox := busyboxImage(t)
	swarmManager(t)
	addr, viaNodeDNS := nodeDNS(t)
	up := startBridgeUpstream(t)

	stack := dockertest.Name(t, "dns")
	secret := stack + "-key"
	createSecret(t, secret, newKey(t))
	gid := dockerGID(t)
	deployStack(t, stack, "stack.yml",
		"SWARMDNS_IMAGE="+image,
		"SWARMDNS_GOSSIP_SECRET="+secret,
		"SWARMDNS_UPSTREAM="+up.addr,
		"SWARMDNS_LOG_LEVEL=debug",
		"DOCKER_GID="+gid,
	)
	sidecar := awaitTask(t, stack+"_swarmdns", true)
	if !viaNodeDNS {
		addr = gwbridgeGateway(t)
		t.Logf("deploy/node-dns.sh could not run (not root?): the application stack uses docker_gwbridge's gateway %s", addr)
	}

	// Not root, with docker.sock's group only; and that is enough to read
	// the engine (the records below come from it).
	if got, want := dockertest.Docker(t, "inspect", "-f", "{{.Config.User}}", sidecar), "65534:"+gid; got != want {
		t.Errorf("sidecar user: got %q; want %q", got, want)
	}

	app := dockertest.Name(t, "app")
	deployStack(t, app, "example.yml",
		"EXAMPLE_IMAGE="+busybox,
		"SWARMDNS_ADDR="+addr,
		"WEB_REPLICAS=2",
	)
	client := awaitTask(t, app+"_client", false)
	web := "web." + app + ".swarm.internal"

	t.Run("ServiceName", func(t *testing.T) {
		start := time.Now()
		await.Until(t, 90*time.Second, expectTasks(client, web, app+"_web", app+"_app", 2))
		t.Logf("%s answered every web task %v after the client started", web, time.Since(start).Round(time.Millisecond))
	})

	t.Run("Forward", func(t *testing.T) {
		await.Until(t, 30*time.Second, func() error {
			got, err := nslookup(client, outsideName)
			if err != nil {
				return err
			}
			if !slices.Equal(got, []string{outsideAddr}) {
				return fmt.Errorf("%s from the client: got %v; want [%s]", outsideName, got, outsideAddr)
			}
			return nil
		})
		if up.count(outsideName) == 0 {
			t.Errorf("the upstream never saw %s: the answer did not come through swarmdns", outsideName)
		}
	})

	t.Run("PlainContainer", func(t *testing.T) {
		// Not a Swarm task: `docker run --dns` on the default bridge, where
		// the address is the container's only resolver.
		if !viaNodeDNS {
			t.Skip("deploy/node-dns.sh could not run")
		}
		await.Until(t, 30*time.Second, func() error {
			want, err := taskIPs(app+"_web", app+"_app")
			if err != nil {
				return err
			}
			out, err := dockertest.DockerCmd("run", "--rm", "--label", dockertest.LabelRun+"="+dockertest.RunID(),
				"--dns", addr, busybox, "nslookup", "-type=a", web)
			if got := parseNslookup(out); !slices.Equal(got, want) {
				return fmt.Errorf("%s from a docker run --dns %s container: got %v (%v); want %v", web, addr, got, err, want)
			}
			return nil
		})
	})

	t.Run("Scale", func(t *testing.T) {
		for _, n := range []int{4, 1} {
			start := time.Now()
			dockertest.Docker(t, "service", "scale", "--detach", fmt.Sprintf("%s_web=%d", app, n))
			await.Until(t, 60*time.Second, expectTasks(client, web, app+"_web", app+"_app", n))
			t.Logf("scaled web to %d: the client's answer followed in %v (task start or stop included)", n, time.Since(start).Round(time.Millisecond))
		}
	})

	t.Run("DebugVerbs", func(t *testing.T) {
		out := dockertest.Docker(t, "exec", sidecar, "swarmdns", "members")
		if !strings.Contains(out, "this node") || !strings.Contains(out, "alive") {
			t.Errorf("swarmdns members in the sidecar: got\n%s\nwant this node, alive", out)
		}
		out = dockertest.Docker(t, "exec", sidecar, "swarmdns", "records")
		if !strings.Contains(out, web+".") || !strings.Contains(out, "client."+app+".swarm.internal.") {
			t.Errorf("swarmdns records in the sidecar: got\n%s\nwant %s. and client.%s.swarm.internal.", out, web, app)
		}
		out = dockertest.Docker(t, "exec", sidecar, "swarmdns", "lookup", web)
		if !strings.Contains(out, "NOERROR") {
			t.Errorf("swarmdns lookup %s in the sidecar: got\n%s\nwant NOERROR", web, out)
		}
		if h := dockertest.Docker(t, "inspect", "-f", "{{.State.Health.Status}}", sidecar); h != "healthy" {
			t.Errorf("sidecar health (the image's HEALTHCHECK, swarmdns health): got %q; want healthy", h)
		}
	})

	t.Run("StopIsCleanLeave", func(t *testing.T) {
		dockertest.Docker(t, "stop", sidecar)
		if code := dockertest.Docker(t, "inspect", "-f", "{{.State.ExitCode}}", sidecar); code != "0" {
			t.Errorf("sidecar exit code after docker stop: got %s; want 0", code)
		}
		logs, err := containerLogs(sidecar)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"left the gossip cluster", "swarmdns stopped"} {
			if !strings.Contains(logs, want) {
				t.Errorf("sidecar log after docker stop: no %q in\n%s", want, tail(logs, 4000))
			}
		}
		// Swarm starts a new task; it serves the zone again.
		next := awaitTask(t, stack+"_swarmdns", true)
		if next == sidecar {
			t.Fatalf("no new sidecar task after the stop")
		}
		await.Until(t, 60*time.Second, expectTasks(client, web, app+"_web", app+"_app", 1))
	})
}

// TestComposeFile runs deploy/compose.yml on this host without Swarm: the
// client resolves web.<project>.swarm.internal to both web containers, and
// the sidecar serves the host through its loopback port.
func TestComposeFile(t *testing.T) {
	dockertest.Engine(t)
	image := swarmdnsImage(t)
	busybox := busyboxImage(t)
	project := dockertest.Name(t, "")
	subnet, addr := freeSubnet(t)
	port := freePort(t)
	env := []string{
		"SWARMDNS_IMAGE=" + image, "EXAMPLE_IMAGE=" + busybox, "DOCKER_GID=" + dockerGID(t),
		"SWARMDNS_SUBNET=" + subnet, "SWARMDNS_ADDR=" + addr, "SWARMDNS_HOST_PORT=" + port,
		"SWARMDNS_UPSTREAM=127.0.0.1:9",
	}
	compose := func(args ...string) (string, error) {
		return runEnv(env, "docker-compose", append([]string{"-f", deployFile(t, "compose.yml"), "-p", project}, args...)...)
	}
	t.Cleanup(func() {
		if out, err := compose("down", "-v", "--remove-orphans", "-t", "2"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := compose("up", "-d", "--no-build"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	ps := func(svc string) []string {
		out, err := compose("ps", "-q", svc)
		if err != nil {
			t.Fatalf("compose ps: %v\n%s", err, out)
		}
		return strings.Fields(out)
	}
	clients := ps("client")
	if len(clients) != 1 {
		t.Fatalf("compose ps client: got %d containers; want 1", len(clients))
	}
	network := project + "_swarmdns"
	wantIPs := func() []string {
		var ips []string
		for _, id := range ps("web") {
			ips = append(ips, containerIP(t, id, network))
		}
		slices.Sort(ips)
		return ips
	}
	web := "web." + project + ".swarm.internal"
	await.Until(t, 60*time.Second, func() error {
		want := wantIPs()
		if len(want) != 2 {
			return fmt.Errorf("compose: %d web containers; want 2", len(want))
		}
		got, err := nslookup(clients[0], web)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s from the client: got %v; want %v", web, got, want)
		}
		return nil
	})
	// The loopback port on the host.
	await.Until(t, 10*time.Second, expectAddrs("127.0.0.1:"+port, web+".", wantIPs()...))
	sidecar := ps("swarmdns")[0]
	if out := dockertest.Docker(t, "exec", sidecar, "swarmdns", "members"); !strings.Contains(out, "this node") {
		t.Errorf("swarmdns members in the compose sidecar: got\n%s", out)
	}
}

// --- images ---

var (
	imageOnce  sync.Once
	imageErr   error
	imageBuilt time.Duration
)

// swarmdnsImage builds the swarmdns image from the Dockerfile with
// deploy/build-image.sh, once per test process, and returns its tag. With
// SWARMDNS_E2E_IMAGE set, it uses that image as it is instead (to iterate
// on the tests without rebuilding; CI leaves it unset).
func swarmdnsImage(t *testing.T) string {
	t.Helper()
	if img := os.Getenv("SWARMDNS_E2E_IMAGE"); img != "" {
		if _, err := dockertest.DockerCmd("image", "inspect", img); err != nil {
			t.Fatalf("SWARMDNS_E2E_IMAGE=%s: %v", img, err)
		}
		return img
	}
	imageOnce.Do(func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", deployFile(t, "build-image.sh"), e2eImage)
		cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+string(os.PathListSeparator)+filepath.Join(os.Getenv("GOROOT"), "bin"))
		out, err := cmd.CombinedOutput()
		imageBuilt = time.Since(start)
		if err != nil {
			imageErr = fmt.Errorf("deploy/build-image.sh %s: %v\n%s", e2eImage, err, tail(string(out), 8000))
			return
		}
		t.Logf("deploy/build-image.sh %s took %v:\n%s", e2eImage, imageBuilt.Round(time.Second), grepLines(string(out), "build-image:"))
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return e2eImage
}

var (
	busyboxOnce sync.Once
	busyboxErr  error
)

// busyboxImage builds an image FROM scratch around Debian's static busybox
// (apt-get install busybox-static), with its applets in /bin, and returns
// its tag: the EXAMPLE_IMAGE of deploy/example.yml and compose.yml.
func busyboxImage(t *testing.T) string {
	t.Helper()
	busyboxOnce.Do(func() { busyboxErr = buildBusybox() })
	if busyboxErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("busybox image: %v", busyboxErr)
		}
		t.Skipf("busybox image: %v", busyboxErr)
	}
	return e2eBusyboxImage
}

func buildBusybox() error {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return errors.New("no busybox on PATH (apt-get install busybox-static)")
	}
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return fmt.Errorf("%s is dynamically linked (apt-get install busybox-static)", bin)
		}
	}
	f.Close()
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "swarmdns-busybox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "busybox"), data, 0o755); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	if have, err := dockertest.DockerCmd("image", "inspect", "-f", "{{index .Config.Labels \"swarmdns.busybox.sha256\"}}", e2eBusyboxImage); err == nil && have == hash {
		return nil // built from this busybox already
	}
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	if _, err := dockertest.DockerCmd("build", "-q", "--label", "swarmdns.busybox.sha256="+hash, "-t", e2eBusyboxImage, dir); err != nil {
		return err
	}
	return nil
}

// --- the Swarm ---

// swarmManager makes sure the engine is a Swarm manager: when it is in no
// swarm, the test initialises one (on loopback) and leaves it at cleanup,
// with the docker_gwbridge network the Swarm made; a swarm the engine was
// already in is used as it is and left alone.
func swarmManager(t *testing.T) {
	t.Helper()
	state := dockertest.Docker(t, "info", "-f", "{{.Swarm.LocalNodeState}}")
	switch state {
	case "active":
		if dockertest.Docker(t, "info", "-f", "{{.Swarm.ControlAvailable}}") != "true" {
			t.Fatalf("the engine is a Swarm worker; this test needs a manager (or no swarm)")
		}
		t.Logf("the engine is already a Swarm manager: using that swarm")
		return
	case "inactive":
	default:
		t.Fatalf("engine's swarm state is %q; want inactive or active", state)
	}
	_, gwErr := dockertest.DockerCmd("network", "inspect", "docker_gwbridge")
	hadGWBridge := gwErr == nil
	dockertest.Docker(t, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
	t.Cleanup(func() {
		if _, err := dockertest.DockerCmd("swarm", "leave", "--force"); err != nil {
			t.Errorf("leaving the swarm the test made: %v", err)
		}
		if !hadGWBridge {
			// Best effort: containers still detaching may hold it a moment.
			_ = await.Check(20*time.Second, func() error {
				_, err := dockertest.DockerCmd("network", "rm", "docker_gwbridge")
				if err != nil && strings.Contains(err.Error(), "No such network") {
					return nil
				}
				return err
			})
		}
	})
}

// nodeDNS makes nodeDNSAddr reach this node's sidecar with
// deploy/node-dns.sh (removing its rules at cleanup unless they were there
// already). It returns false when the script cannot run (not root).
func nodeDNS(t *testing.T) (string, bool) {
	t.Helper()
	script := deployFile(t, "node-dns.sh")
	if _, err := runEnv(nil, "sh", script, "status", nodeDNSAddr); err == nil {
		t.Logf("deploy/node-dns.sh rules for %s already in place: using them as they are", nodeDNSAddr)
		return nodeDNSAddr, true
	}
	if out, err := runEnv(nil, "sh", script, "up", nodeDNSAddr); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("deploy/node-dns.sh up: %v\n%s", err, out)
		}
		return "", false
	}
	t.Cleanup(func() {
		if out, err := runEnv(nil, "sh", script, "down", nodeDNSAddr); err != nil {
			t.Errorf("deploy/node-dns.sh down: %v\n%s", err, out)
		}
	})
	return nodeDNSAddr, true
}

// gwbridgeGateway is the gateway of docker_gwbridge: the node's address on
// the bridge every Swarm task has its outside link on.
func gwbridgeGateway(t *testing.T) string {
	t.Helper()
	return dockertest.Docker(t, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "docker_gwbridge")
}

// dockerGID is the group that owns the engine's socket.
func dockerGID(t *testing.T) string {
	t.Helper()
	fi, err := os.Stat("/var/run/docker.sock")
	if err != nil {
		t.Fatalf("docker.sock: %v", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("docker.sock: no owner group")
	}
	return strconv.FormatUint(uint64(st.Gid), 10)
}

// createSecret creates a Swarm secret and removes it at cleanup (after the
// stacks that use it, whose cleanups run first).
func createSecret(t *testing.T, name, value string) {
	t.Helper()
	if _, err := runStdin(value, "docker", "secret", "create", "--label", dockertest.LabelRun+"="+dockertest.RunID(), name, "-"); err != nil {
		t.Fatalf("docker secret create: %v", err)
	}
	t.Cleanup(func() {
		err := await.Check(60*time.Second, func() error {
			_, err := dockertest.DockerCmd("secret", "rm", name)
			if err != nil && strings.Contains(err.Error(), "not found") {
				return nil
			}
			return err
		})
		if err != nil {
			t.Errorf("removing secret %s: %v", name, err)
		}
	})
}

// deployStack runs `docker stack deploy` of deploy/<file> as stack name with
// env added to the environment, and removes the stack at cleanup, waiting
// until its containers and networks are gone.
func deployStack(t *testing.T, name, file string, env ...string) {
	t.Helper()
	t.Cleanup(func() { removeStack(t, name) })
	out, err := runEnv(env, "docker", "stack", "deploy", "--resolve-image", "never", "-c", deployFile(t, file), name)
	if err != nil {
		t.Fatalf("docker stack deploy %s: %v\n%s", file, err, out)
	}
}

func removeStack(t *testing.T, name string) {
	t.Helper()
	if _, err := dockertest.DockerCmd("stack", "rm", name); err != nil && !strings.Contains(err.Error(), "Nothing found") {
		t.Errorf("docker stack rm %s: %v", name, err)
	}
	err := await.Check(90*time.Second, func() error {
		ids, err := dockertest.DockerCmd("ps", "-aq", "--filter", "label=com.docker.stack.namespace="+name)
		if err != nil {
			return err
		}
		if ids != "" {
			// Stopped task containers linger in Swarm's task history: remove them.
			_, _ = dockertest.DockerCmd(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
			return fmt.Errorf("stack %s: containers left: %s", name, strings.Join(strings.Fields(ids), " "))
		}
		nets, err := dockertest.DockerCmd("network", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+name)
		if err != nil {
			return err
		}
		if nets != "" {
			return fmt.Errorf("stack %s: networks left: %s", name, nets)
		}
		return nil
	})
	if err != nil {
		t.Errorf("removing stack %s: %v", name, err)
	}
}

// awaitTask waits for a running container of a Swarm service (a healthy one
// when healthy is set) and returns its ID. It fails t with the service's
// task states (`docker service ps`) when none comes.
func awaitTask(t *testing.T, service string, healthy bool) string {
	t.Helper()
	id, err := findTask(dockertest.DockerCmd, service, healthy)
	if err != nil {
		ps, _ := dockertest.DockerCmd("service", "ps", "--no-trunc", service)
		logs, _ := dockertest.DockerCmd("service", "logs", "--raw", "--tail", "30", service)
		t.Fatalf("%v\n%s\n%s", err, ps, logs)
	}
	return id
}

// findTask waits up to two minutes for a running (and healthy, if asked)
// container of a Swarm service, asking the engine through docker, and
// returns its ID.
func findTask(docker func(args ...string) (string, error), service string, healthy bool) (string, error) {
	var id string
	err := await.Check(120*time.Second, func() error {
		args := []string{"ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + service}
		if healthy {
			args = append(args, "--filter", "health=healthy")
		}
		out, err := docker(args...)
		if err != nil {
			return err
		}
		if ids := strings.Fields(out); len(ids) > 0 {
			id = ids[0]
			return nil
		}
		return fmt.Errorf("no running%s container of service %s", map[bool]string{true: " healthy"}[healthy], service)
	})
	return id, err
}

// --- DNS from inside a container ---

// expectTasks returns a condition for await: from inside client, name gives
// exactly the addresses, on network, of the n running tasks of service.
func expectTasks(client, name, service, network string, n int) func() error {
	return func() error {
		want, err := taskIPs(service, network)
		if err != nil {
			return err
		}
		if len(want) != n {
			return fmt.Errorf("service %s: %d running tasks %v; want %d", service, len(want), want, n)
		}
		got, err := nslookup(client, name)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s from the client: got %v; want the tasks' %v", name, got, want)
		}
		return nil
	}
}

// taskIPs returns the sorted addresses on network of the running containers
// of a Swarm service.
func taskIPs(service, network string) ([]string, error) {
	out, err := dockertest.DockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, id := range strings.Fields(out) {
		ip, err := dockertest.DockerCmd("inspect", "-f", "{{with index .NetworkSettings.Networks \""+network+"\"}}{{.IPAddress}}{{end}}", id)
		if err != nil {
			continue // gone since ps
		}
		if ip != "" {
			ips = append(ips, ip)
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// nslookup resolves name (type A) inside a container with busybox's
// nslookup, through the container's own resolver (Docker's 127.0.0.11,
// which forwards to its `dns:` servers), and returns the sorted addresses.
func nslookup(container, name string) ([]string, error) {
	out, err := dockertest.DockerCmd("exec", container, "nslookup", "-type=a", name)
	addrs := parseNslookup(out)
	if err != nil && len(addrs) == 0 {
		return nil, fmt.Errorf("nslookup %s in %s: %w\n%s", name, container, err, out)
	}
	return addrs, nil
}

// parseNslookup reads the answer addresses of busybox nslookup's output:
// the "Address:" lines after the first "Name:" line (the ones before it
// name the server).
func parseNslookup(out string) []string {
	var addrs []string
	answers := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Name:"):
			answers = true
		case answers && strings.HasPrefix(line, "Address:"):
			a := strings.TrimSpace(strings.TrimPrefix(line, "Address:"))
			if ip := net.ParseIP(a); ip != nil {
				addrs = append(addrs, ip.String())
			}
		}
	}
	slices.Sort(addrs)
	return addrs
}

// --- the upstream ---

// bridgeUpstream is a DNS server standing in for the outside world, on the
// gateway address of a bridge network the test made, so that containers
// (the sidecar) reach it through the node.
type bridgeUpstream struct {
	addr   string
	server *mdns.Server
	mu     sync.Mutex
	counts map[string]int
}

func startBridgeUpstream(t *testing.T) *bridgeUpstream {
	t.Helper()
	network := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "upstream")})
	gw := dockertest.Docker(t, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network)
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatalf("upstream on %s's gateway: %v", network, err)
	}
	u := &bridgeUpstream{addr: pc.LocalAddr().String(), counts: map[string]int{}}
	u.server = &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		if len(req.Question) == 1 {
			q := req.Question[0]
			u.mu.Lock()
			u.counts[strings.ToLower(q.Name)]++
			u.mu.Unlock()
			if strings.EqualFold(q.Name, outsideName) && q.Qtype == mdns.TypeA {
				rr, _ := mdns.NewRR(q.Name + " 60 IN A " + outsideAddr)
				m.Answer = append(m.Answer, rr)
			} else if !strings.EqualFold(q.Name, outsideName) {
				m.Rcode = mdns.RcodeNameError
			}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	u.server.NotifyStartedFunc = func() { close(started) }
	go func() { _ = u.server.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = u.server.Shutdown() })
	return u
}

func (u *bridgeUpstream) count(name string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[strings.ToLower(name)]
}

// --- small things ---

// deployFile is the path of a file in the repository's deploy/.
func deployFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runEnv runs a command with env added to the environment and returns its
// combined output.
func runEnv(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// runStdin runs a command with stdin as its standard input.
func runStdin(stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// containerLogs returns a container's stdout and stderr.
func containerLogs(id string) (string, error) {
	return runEnv(nil, "docker", "logs", id)
}

// freeSubnet picks a /24 in 172.30.0.0/16 that no Docker network uses, and
// an address in it for the compose sidecar.
func freeSubnet(t *testing.T) (string, string) {
	t.Helper()
	used := dockertest.Docker(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
		"bridge") + " " + allSubnets(t)
	for i := 53; i < 253; i++ {
		subnet := fmt.Sprintf("172.30.%d.0/24", i)
		_, mine, _ := net.ParseCIDR(subnet)
		clash := false
		for _, s := range strings.Fields(used) {
			if _, other, err := net.ParseCIDR(s); err == nil && (other.Contains(mine.IP) || mine.Contains(other.IP)) {
				clash = true
				break
			}
		}
		if !clash {
			return subnet, fmt.Sprintf("172.30.%d.53", i)
		}
	}
	t.Fatal("no free /24 in 172.30.0.0/16")
	return "", ""
}

func allSubnets(t *testing.T) string {
	t.Helper()
	ids := strings.Fields(dockertest.Docker(t, "network", "ls", "-q"))
	out, _ := dockertest.DockerCmd(append([]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, ids...)...)
	return out
}

// freePort returns a TCP and UDP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		pc, err := net.ListenPacket("udp4", "127.0.0.1:"+port)
		l.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return ""
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestParseNslookup checks the reading of busybox nslookup's output (no
// engine needed).
func TestParseNslookup(t *testing.T) {
	out := "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nNon-authoritative answer:\nName:\tweb.demo.swarm.internal\nAddress: 10.0.2.6\nName:\tweb.demo.swarm.internal\nAddress: 10.0.2.5\n\n"
	if got, want := parseNslookup(out), []string{"10.0.2.5", "10.0.2.6"}; !slices.Equal(got, want) {
		t.Errorf("answer: got %v; want %v", got, want)
	}
	nx := "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n** server can't find x.swarm.internal: NXDOMAIN\n"
	if got := parseNslookup(nx); len(got) != 0 {
		t.Errorf("NXDOMAIN: got %v; want no addresses", got)
	}
}
