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
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// These tests deploy swarmdns the way a user does, from the files in
// deploy/: the image built by deploy/build-image.sh from the Dockerfile,
// deploy/stack.yml and deploy/swarmdns.conf on a real Swarm (this machine's
// engine, swarm-initialised by the test when it is not in one, or engines
// of the test's own), deploy/example.yml and testdata/swarm-apps.yml as
// application stacks, deploy/compose.yml on one host. They check everything
// from inside application containers, through their own resolver and
// `dns:` setting.

// Image tags the tests build; they stay in the engine as a cache.
const (
	e2eImage        = "swarmdns:e2e"
	e2eBusyboxImage = "swarmdns-e2e-busybox:test"
)

// nodeAddr is the node-local DNS address of deploy/swarmdns.conf.
const nodeAddr = "169.254.53.53"

// outsideName is a name outside the zone that only the test's upstream
// answers (every name under outsideDomain), with outsideAddr (a
// documentation address, never contacted).
const (
	outsideDomain = "swarmdns-e2e.test."
	outsideName   = "outside." + outsideDomain
	outsideAddr   = "192.0.2.80"
)

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

// deployStack runs `docker stack deploy` of file (an absolute path, or a
// file of deploy/) as stack name with env added to the environment, and
// removes the stack at cleanup, waiting until its containers and networks
// are gone, and its volumes.
func deployStack(t *testing.T, name, file string, env ...string) {
	t.Helper()
	t.Cleanup(func() { removeStack(t, name) })
	if !filepath.IsAbs(file) {
		file = deployFile(t, file)
	}
	out, err := runEnv(env, "docker", "stack", "deploy", "--resolve-image", "never", "-c", file, name)
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
		vols, err := dockertest.DockerCmd("volume", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+name)
		if err != nil {
			return err
		}
		if vols != "" {
			if _, err := dockertest.DockerCmd(append([]string{"volume", "rm"}, strings.Fields(vols)...)...); err != nil {
				return fmt.Errorf("stack %s: volumes left: %v", name, err)
			}
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

// bridgeUpstream is a DNS server standing in for the outside world, on
// port 53 of the gateway address of a bridge network the test made, so
// that containers (the sidecar, and clients naming it in dns:) reach it
// through the node.
type bridgeUpstream struct {
	addr   string // ip:53
	ip     string
	server *mdns.Server
	mu     sync.Mutex
	counts map[string]int
}

func startBridgeUpstream(t *testing.T) *bridgeUpstream {
	t.Helper()
	network := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "upstream")})
	gw := dockertest.Docker(t, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network)
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(gw, "53"))
	if err != nil {
		t.Fatalf("upstream on %s's gateway: %v", network, err)
	}
	u := &bridgeUpstream{addr: pc.LocalAddr().String(), ip: gw, counts: map[string]int{}}
	u.server = &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		if len(req.Question) == 1 {
			q := req.Question[0]
			u.mu.Lock()
			u.counts[strings.ToLower(q.Name)]++
			u.mu.Unlock()
			outside := strings.HasSuffix(strings.ToLower(q.Name), "."+outsideDomain)
			if outside && q.Qtype == mdns.TypeA {
				rr, _ := mdns.NewRR(q.Name + " 60 IN A " + outsideAddr)
				m.Answer = append(m.Answer, rr)
			} else if !outside {
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
