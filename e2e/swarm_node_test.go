package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// TestSwarmStack is issue 12 on a one-node Swarm the test makes, with
// nothing run on the host but the secret and `docker stack deploy` of
// deploy/stack.yml (a copy of deploy/ whose swarmdns.conf the test edits,
// as an operator does):
//
//   - DNS sockets on the node-local address and loopback only, /readyz 200;
//   - a client container on an overlay network resolves the other
//     services through dns: [169.254.53.53]; swarmdns logs which container
//     asked, and lookup --client names it from its docker_gwbridge address;
//   - a service on two overlay networks answers a client on one of them
//     with its address there only;
//   - --allow-recursion set to the client's own (overlay) address: its
//     outside names are forwarded, another container's are REFUSED;
//   - the sidecar killed: outside names (the client's second dns: entry)
//     answer within 1 s, in-zone ones again seconds after the new task;
//   - a rolling update to a new image tag with the README's deploy command
//     under 20 lookups/s: the failed lookups counted and printed, and the
//     setting made in swarmdns.conf kept.
func TestSwarmStack(t *testing.T) {
	dockertest.Engine(t)
	image := swarmdnsImage(t)
	busybox := busyboxImage(t)
	testbox := dockertest.TestboxImage(t)
	nodeAddress(t, image)
	swarmManager(t)
	up := startBridgeUpstream(t)

	stack := dockertest.Name(t, "dns")
	secret := stack + "-key"
	createSecret(t, secret, newKey(t))
	dir := stackCopy(t, stack, "upstream = "+up.addr, "log-queries = true")
	stackFile := filepath.Join(dir, "stack.yml")
	deploy := func(tag string) {
		t.Helper()
		// The README's command: the same every time, with the image.
		out, err := runEnv([]string{"SWARMDNS_IMAGE=" + tag, "SWARMDNS_GOSSIP_SECRET=" + secret},
			"docker", "stack", "deploy", "--resolve-image", "never", "-c", stackFile, stack)
		if err != nil {
			t.Fatalf("docker stack deploy: %v\n%s", err, out)
		}
	}
	// The upgrade's image: a new tag of the same build, untagged after the
	// stack is gone (cleanups run last first).
	nextTag := "swarmdns:e2e-next"
	dockertest.Docker(t, "tag", image, nextTag)
	t.Cleanup(func() { _, _ = dockertest.DockerCmd("rmi", nextTag) })
	t.Cleanup(func() { removeStack(t, stack) })
	deploy(image)
	service := stack + "_swarmdns"
	sidecar := awaitTask(t, service, true)

	t.Run("SocketsAndReadiness", func(t *testing.T) {
		pid := containerPID(t, sidecar)
		socks, err := listeningSockets(pid)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"udp " + nodeAddr + ":53": false, "tcp " + nodeAddr + ":53": false, "udp 127.0.0.1:53": false, "tcp 127.0.0.1:53": false}
		for _, s := range socks {
			key := s.proto + " " + s.addr.String()
			if s.addr.Port() == 53 {
				if _, ok := want[key]; !ok {
					t.Errorf("a DNS socket on %s: want the node address and loopback only", key)
				}
				want[key] = true
			}
		}
		for k, seen := range want {
			if !seen {
				t.Errorf("no DNS socket %s", k)
			}
		}
		t.Logf("the sidecar's listening sockets: %v", socks)
		out, err := dockertest.DockerCmd("exec", sidecar, "swarmdns", "health", "--ready", "--json")
		if err != nil {
			t.Fatalf("/readyz on the one-node Swarm: %v\n%s", err, out)
		}
		var rd struct {
			Ready  bool   `json:"ready"`
			Rule   string `json:"rule"`
			Checks []struct {
				Name, Error string
			} `json:"checks"`
		}
		if err := json.Unmarshal([]byte(out), &rd); err != nil || !rd.Ready || rd.Rule == "" {
			t.Errorf("/readyz: %s (%v); want ready, with its rule", out, err)
		}
		t.Logf("/readyz: %s", strings.Join(strings.Fields(out), " "))
		logs, _ := containerLogs(sidecar)
		if !strings.Contains(logs, "node-local DNS address in place") {
			t.Errorf("the sidecar does not log where the node address went:\n%s", tail(logs, 3000))
		}
		t.Logf("%s", grepLines(logs, "node-local DNS address"))
		// Prometheus on the node: /metrics on port 9153, no token.
		await.Until(t, 10*time.Second, func() error {
			resp, err := http.Get("http://127.0.0.1:9153/metrics")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "swarmdns_records") {
				return fmt.Errorf("GET :9153/metrics on the node: %s\n%.300s", resp.Status, body)
			}
			return nil
		})
	})

	app := dockertest.Name(t, "app")
	zoneName := "web." + app + ".swarm.internal"
	deployStack(t, app, appStackFile(t),
		"EXAMPLE_IMAGE="+busybox, "TESTBOX_IMAGE="+testbox, "FALLBACK_DNS="+up.ip,
		"PROBE_INTERVAL=100ms", "PROBE_ZONE_NAME="+zoneName, "PROBE_OUTSIDE_NAME="+outsideName)
	client := awaitTask(t, app+"_client", false)
	other := awaitTask(t, app+"_other", false)
	probe := awaitTask(t, app+"_probe", false)
	front, back := app+"_front", app+"_back"
	clientIP := containerIP(t, client, front)
	clientGW := gwbridgeIP(t, client)

	t.Run("ClientContainer", func(t *testing.T) {
		start := time.Now()
		await.Until(t, 90*time.Second, expectTasks(client, zoneName, app+"_web", front, 2))
		t.Logf("%s answered every web task %v after the client started", zoneName, time.Since(start).Round(time.Millisecond))
		// The query log names the container that asked.
		name := dockertest.Docker(t, "inspect", "-f", "{{.Name}}", client)
		await.Until(t, 10*time.Second, func() error {
			logs, _ := containerLogs(sidecar)
			var seen []string
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, `"message":"query"`) && strings.Contains(l, zoneName) {
					if strings.Contains(l, `"client_container":"`+strings.TrimPrefix(name, "/")+`"`) {
						t.Logf("query log: %s", l)
						return nil
					}
					seen = append(seen, l)
				}
			}
			return fmt.Errorf("no query line for %s from container %s (client %s, docker_gwbridge %s) among\n%s", zoneName, name, clientIP, clientGW, tail(strings.Join(seen, "\n"), 2000))
		})
		// lookup --client with its docker_gwbridge address: the source of
		// its queries, which the engine lists on docker_gwbridge.
		out := dockertest.Docker(t, "exec", sidecar, "swarmdns", "lookup", zoneName, "--client", clientGW)
		if !strings.Contains(out, "client container "+strings.TrimPrefix(name, "/")) || !strings.Contains(out, front) {
			t.Errorf("lookup --client %s (the client's docker_gwbridge address): no client container %s on %s in\n%s", clientGW, name, front, out)
		}
		t.Logf("swarmdns lookup --client %s:\n%s", clientGW, out)
	})

	t.Run("StackNames", func(t *testing.T) {
		// tasks.<service>.<stack>, <slot>.<service>.<stack> and, for a
		// global service, <node host name>.<service>.<stack> and the
		// node ID form, as deploy/example.yml promises.
		await.Until(t, 30*time.Second, expectTasks(client, "tasks.web."+app+".swarm.internal", app+"_web", front, 2))
		webIPs, err := taskIPs(app+"_web", front)
		if err != nil {
			t.Fatal(err)
		}
		await.Until(t, 30*time.Second, func() error {
			got, err := nslookup(client, "1.web."+app+".swarm.internal")
			if err != nil {
				return err
			}
			if len(got) != 1 || !slices.Contains(webIPs, got[0]) {
				return fmt.Errorf("1.web.%s: got %v; want one of the web tasks %v", app, got, webIPs)
			}
			return nil
		})
		agent := awaitTask(t, app+"_agent", false)
		agentIP := containerIP(t, agent, front)
		host := strings.ToLower(strings.TrimSpace(dockertest.Docker(t, "info", "-f", "{{.Name}}")))
		nodeID := strings.TrimSpace(dockertest.Docker(t, "info", "-f", "{{.Swarm.NodeID}}"))
		for _, name := range []string{host + ".agent." + app, nodeID + ".agent." + app, host + "." + app + "-agent"} {
			await.Until(t, 30*time.Second, func() error {
				got, err := nslookup(client, name+".swarm.internal")
				if err != nil {
					return err
				}
				if !slices.Equal(got, []string{agentIP}) {
					return fmt.Errorf("%s: got %v; want the agent's %s", name, got, agentIP)
				}
				return nil
			})
		}
	})

	t.Run("NetworkScoped", func(t *testing.T) {
		multi := awaitTask(t, app+"_multi", false)
		name := "multi." + app + ".swarm.internal"
		for _, tc := range []struct{ from, network string }{{client, front}, {other, back}} {
			want := []string{containerIP(t, multi, tc.network)}
			await.Until(t, 30*time.Second, func() error {
				got, err := nslookup(tc.from, name)
				if err != nil {
					return err
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("%s from a client on %s: got %v; want %v (its address there only)", name, tc.network, got, want)
				}
				return nil
			})
		}
	})

	t.Run("RecursionACL", func(t *testing.T) {
		// Env over the settings file: a rolling update of the sidecar.
		updated := time.Now()
		dockertest.Docker(t, "service", "update", "--detach", "--env-add", "SWARMDNS_ALLOW_RECURSION="+clientIP+"/32", service)
		sidecar = awaitSoleTask(t, service, updated, "")
		n := 0
		ask := func(from string) (string, error) {
			n++
			q := fmt.Sprintf("acl%d.%s", n, outsideDomain)
			return dockertest.DockerCmd("exec", from, "nslookup", "-type=a", strings.TrimSuffix(q, "."), nodeAddr)
		}
		await.Until(t, 30*time.Second, func() error {
			out, err := ask(client)
			if !strings.Contains(out, outsideAddr) {
				return fmt.Errorf("the allowed client (%s, asking from %s): %v\n%s", clientIP, clientGW, err, out)
			}
			return nil
		})
		out, _ := ask(other)
		if !strings.Contains(out, "REFUSED") || strings.Contains(out, outsideAddr) {
			t.Errorf("another container: want REFUSED, got\n%s", out)
		}
		t.Logf("another container asking for an outside name:\n%s", out)
	})

	t.Run("KillAndRestart", func(t *testing.T) {
		killed := time.Now()
		dockertest.Docker(t, "kill", sidecar)
		// One outside lookup from the client while no sidecar runs: the
		// node address refuses at once, Docker's resolver asks the next
		// dns: entry.
		asked := time.Now()
		out, err := dockertest.DockerCmd("exec", client, "nslookup", "-type=a", "gap."+strings.TrimSuffix(outsideDomain, "."))
		took := time.Since(asked)
		if err != nil || !strings.Contains(out, outsideAddr) || took > time.Second {
			t.Errorf("an outside name %v after the kill: %v in %v; want %s within 1s\n%s", asked.Sub(killed).Round(time.Millisecond), err, took, outsideAddr, out)
		}
		next := awaitSoleTask(t, service, killed, "")
		started := containerStarted(t, next)
		healthy := time.Now()
		end := waitProbe(t, probe, healthy.Add(5*time.Second))
		lines := probeLines(t, probe, killed, end)
		in, outside := summarize(lines, zoneName), summarize(lines, outsideName)
		t.Logf("sidecar killed: an outside lookup from the client %v after the kill answered in %v", asked.Sub(killed).Round(time.Millisecond), took.Round(time.Millisecond))
		t.Logf("  new task started %v and healthy %v after the kill", started.Sub(killed).Round(time.Millisecond), healthy.Sub(killed).Round(time.Millisecond))
		t.Logf("  probe at 20 lookups/s, in-zone lookups: %s", in)
		t.Logf("  probe at 20 lookups/s, outside lookups: %s", outside)
		if outside.failed > 0 {
			t.Errorf("outside names failed while the sidecar was away: %s; want every one answered (the second dns: entry)", outside)
		}
		back := in.firstOKAfter(killed)
		if back.IsZero() || back.Sub(started) > 10*time.Second {
			t.Errorf("in-zone names answered again %v after the new task started; want within seconds", back.Sub(started))
		} else {
			t.Logf("  in-zone names answered again %v after the new task started (%v after the kill)", back.Sub(started).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond))
		}
		sidecar = next
	})

	t.Run("RollingUpdateKeepsSettings", func(t *testing.T) {
		before := up.count(outsideName)
		begun := time.Now()
		deploy(nextTag)
		next := awaitSoleTask(t, service, begun, nextTag)
		done := time.Now()
		end := waitProbe(t, probe, done.Add(5*time.Second))
		lines := probeLines(t, probe, begun, end)
		in, out := summarize(lines, zoneName), summarize(lines, outsideName)
		t.Logf("rolling update to %s (start-first, the new task took over in %v):", nextTag, done.Sub(begun).Round(time.Millisecond))
		t.Logf("  in-zone lookups: %s", in)
		t.Logf("  outside lookups: %s", out)
		if in.failed > 0 || out.failed > 0 {
			t.Errorf("lookups failed during the rolling update: in-zone %s; outside %s", in, out)
		}
		logs, _ := containerLogs(next)
		if !strings.Contains(logs, "took over DNS from the previous run") {
			t.Errorf("the new task did not take over from the old one:\n%s", tail(logs, 4000))
		}
		// The setting of swarmdns.conf survived the redeploy: outside
		// names still go to the test's upstream.
		await.Until(t, 30*time.Second, func() error {
			got, err := nslookup(client, "kept."+strings.TrimSuffix(outsideDomain, "."))
			if err != nil || !slices.Equal(got, []string{outsideAddr}) {
				return fmt.Errorf("outside name after the upgrade: %v %v; want %s from the test's upstream", got, err, outsideAddr)
			}
			return nil
		})
		if up.count(outsideName) <= before {
			t.Errorf("the upstream of swarmdns.conf saw no probe query during the update")
		}
		sidecar = next
	})

	t.Run("DebugVerbsAndStop", func(t *testing.T) {
		out := dockertest.Docker(t, "exec", sidecar, "swarmdns", "members")
		if !strings.Contains(out, "this node") || !strings.Contains(out, "alive") {
			t.Errorf("swarmdns members in the sidecar: got\n%s\nwant this node, alive", out)
		}
		out = dockertest.Docker(t, "exec", sidecar, "swarmdns", "records")
		if !strings.Contains(out, zoneName+".") {
			t.Errorf("swarmdns records in the sidecar: got\n%s\nwant %s.", out, zoneName)
		}
		if u := dockertest.Docker(t, "inspect", "-f", "{{.Config.User}} {{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}}", sidecar); u != "0:0 [ALL] [CAP_NET_ADMIN CAP_NET_BIND_SERVICE]" {
			t.Errorf("sidecar user and capabilities: %q; want root with NET_ADMIN and NET_BIND_SERVICE only", u)
		}
		dockertest.Docker(t, "stop", sidecar)
		if code := dockertest.Docker(t, "inspect", "-f", "{{.State.ExitCode}}", sidecar); code != "0" {
			t.Errorf("sidecar exit code after docker stop: got %s; want 0", code)
		}
		logs, _ := containerLogs(sidecar)
		if !strings.Contains(logs, "left the gossip cluster") {
			t.Errorf("no clean leave after docker stop:\n%s", tail(logs, 3000))
		}
		// The address stays: nothing is bound, so a query is refused at
		// once (ICMP port unreachable), not timed out.
		c := &mdns.Client{Net: "udp", Timeout: 3 * time.Second}
		m := new(mdns.Msg)
		m.SetQuestion(zoneName+".", mdns.TypeA)
		start := time.Now()
		if _, _, err := c.Exchange(m, nodeAddr+":53"); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Logf("query to %s with no sidecar: %v after %v (a new task may be up already)", nodeAddr, err, time.Since(start))
		} else {
			t.Logf("query to %s with no sidecar: %v after %v", nodeAddr, err, time.Since(start).Round(time.Microsecond))
		}
	})
}

// nodeAddress makes sure the test leaves the node-local address as it was:
// at cleanup it removes it with the image's `swarmdns uninstall` (what the
// README tells an operator to run) and checks that it is gone.
func nodeAddress(t *testing.T, image string) {
	t.Helper()
	if had := hasAddr(t, nodeAddr); had {
		t.Logf("%s is on an interface already (a run that crashed?): it will be removed at the end", nodeAddr)
	}
	t.Cleanup(func() {
		out, err := dockertest.DockerCmd("run", "--rm", "--network", "host", "--user", "0:0", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN",
			"--label", dockertest.LabelRun+"="+dockertest.RunID(), image, "uninstall")
		if err != nil {
			t.Errorf("swarmdns uninstall: %v\n%s", err, out)
			return
		}
		t.Logf("swarmdns uninstall: %s", out)
		if hasAddr(t, nodeAddr) {
			t.Errorf("%s is still on an interface after swarmdns uninstall", nodeAddr)
		}
	})
}

// hasAddr reports whether an interface of the test's network namespace
// holds addr.
func hasAddr(t *testing.T, addr string) bool {
	t.Helper()
	out, err := runEnv(nil, "ip", "-o", "addr", "show")
	if err != nil {
		t.Fatalf("ip addr: %v", err)
	}
	return strings.Contains(out, " "+addr+"/")
}

// stackCopy copies deploy/stack.yml and deploy/swarmdns.conf into a
// directory of the test, with settings appended to the conf, and the
// config's name made the test's own (a Swarm config name is not scoped by
// the stack). It returns the directory.
func stackCopy(t *testing.T, stack string, settings ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"stack.yml", "swarmdns.conf"} {
		b, err := os.ReadFile(deployFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		switch f {
		case "stack.yml":
			if !strings.Contains(string(b), "name: swarmdns_conf_1") {
				t.Fatalf("deploy/stack.yml names its config otherwise than swarmdns_conf_1: update the test")
			}
			b = []byte(strings.Replace(string(b), "name: swarmdns_conf_1", "name: "+stack+"_conf_1", 1))
		case "swarmdns.conf":
			b = append(b, []byte("\n# the test's\n"+strings.Join(settings, "\n")+"\n")...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// appStackFile is the path of testdata/swarm-apps.yml.
func appStackFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "swarm-apps.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gwbridgeIP is a Swarm task's address on docker_gwbridge (its outside
// link), which the engine lists on that network, not in the container's.
func gwbridgeIP(t *testing.T, id string) string {
	t.Helper()
	full := dockertest.Docker(t, "inspect", "-f", "{{.Id}}", id)
	ip := dockertest.Docker(t, "network", "inspect", "-f", `{{with index .Containers "`+full+`"}}{{.IPv4Address}}{{end}}`, "docker_gwbridge")
	p, err := netip.ParsePrefix(ip)
	if err != nil {
		t.Fatalf("container %s has no docker_gwbridge address (%q)", id, ip)
	}
	return p.Addr().String()
}

func containerPID(t *testing.T, id string) int {
	t.Helper()
	pid, err := strconv.Atoi(dockertest.Docker(t, "inspect", "-f", "{{.State.Pid}}", id))
	if err != nil || pid <= 0 {
		t.Fatalf("pid of %s: %v", id, err)
	}
	return pid
}

func containerStarted(t *testing.T, id string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, dockertest.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", id))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// awaitSoleTask waits until the service runs one task only (an update or
// a restart is over), started after since, healthy, and of image unless
// image is empty; it returns its ID.
func awaitSoleTask(t *testing.T, service string, since time.Time, image string) string {
	t.Helper()
	var id string
	err := await.Check(180*time.Second, func() error {
		out, err := dockertest.DockerCmd("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service)
		if err != nil {
			return err
		}
		ids := strings.Fields(out)
		if len(ids) != 1 {
			return fmt.Errorf("%d running tasks of %s", len(ids), service)
		}
		got, err := dockertest.DockerCmd("inspect", "-f", "{{.Config.Image}} {{.State.Health.Status}} {{.State.StartedAt}}", ids[0])
		if err != nil {
			return err
		}
		f := strings.Fields(got)
		if len(f) != 3 {
			return fmt.Errorf("task %s: %q", ids[0], got)
		}
		started, _ := time.Parse(time.RFC3339Nano, f[2])
		switch {
		case started.Before(since):
			return fmt.Errorf("task %s started %v, before %v", ids[0], started, since)
		case f[1] != "healthy":
			return fmt.Errorf("task %s is %s", ids[0], f[1])
		case image != "" && f[0] != image:
			return fmt.Errorf("task %s runs %s; want %s", ids[0], f[0], image)
		}
		id = ids[0]
		return nil
	})
	if err != nil {
		ps, _ := dockertest.DockerCmd("service", "ps", "--no-trunc", service)
		t.Fatalf("%v\n%s", err, ps)
	}
	return id
}

// --- the probe's lookups ---

// probeLine is one lookup of the probe service (testbox probe).
type probeLine struct {
	at   time.Time
	name string
	ok   bool
	took time.Duration
	info string
}

var probeRE = regexp.MustCompile(`^probe (\d+) (\S+) (ok|fail) (\d+) (\S*)$`)

// waitProbe waits until the probe has logged lookups started after end
// (so every lookup before end has been logged), and returns end.
func waitProbe(t *testing.T, probe string, end time.Time) time.Time {
	t.Helper()
	await.Until(t, 60*time.Second, func() error {
		lines := probeLines(t, probe, end, time.Now().Add(time.Hour))
		if len(lines) == 0 {
			return fmt.Errorf("the probe has logged nothing after %v yet", end)
		}
		return nil
	})
	return end
}

// probeLines returns the probe's lookups started in [from, to).
func probeLines(t *testing.T, probe string, from, to time.Time) []probeLine {
	t.Helper()
	logs, err := containerLogs(probe)
	if err != nil {
		t.Fatal(err)
	}
	var out []probeLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		m := probeRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseInt(m[1], 10, 64)
		ms, _ := strconv.Atoi(m[4])
		l := probeLine{at: time.Unix(0, ns), name: m[2], ok: m[3] == "ok", took: time.Duration(ms) * time.Millisecond, info: m[5]}
		if !l.at.Before(from) && l.at.Before(to) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b probeLine) int { return a.at.Compare(b.at) })
	return out
}

// probeSummary is what an application saw for one name in a window.
type probeSummary struct {
	total, failed int
	longest       time.Duration // the longest single lookup
	outage        time.Duration // from the first failed lookup to the next good one, longest
	lines         []probeLine
}

func summarize(lines []probeLine, name string) probeSummary {
	var s probeSummary
	var failSince time.Time
	for _, l := range lines {
		if l.name != name {
			continue
		}
		s.lines = append(s.lines, l)
		s.total++
		s.longest = max(s.longest, l.took)
		if !l.ok {
			s.failed++
			if failSince.IsZero() {
				failSince = l.at
			}
			continue
		}
		if !failSince.IsZero() {
			s.outage = max(s.outage, l.at.Add(l.took).Sub(failSince))
			failSince = time.Time{}
		}
	}
	return s
}

// firstOKAfter is when the first good lookup after t (ending after t) came
// back; zero when none did.
func (s probeSummary) firstOKAfter(t time.Time) time.Time {
	failedSince := false
	for _, l := range s.lines {
		if !l.ok {
			failedSince = true
			continue
		}
		if failedSince && l.at.Add(l.took).After(t) {
			return l.at.Add(l.took)
		}
	}
	if !failedSince && len(s.lines) > 0 {
		return s.lines[0].at.Add(s.lines[0].took) // never failed
	}
	return time.Time{}
}

func (s probeSummary) String() string {
	return fmt.Sprintf("%d lookups, %d failed, longest lookup %v, longest outage %v", s.total, s.failed, s.longest, s.outage)
}

// --- listening sockets ---

// socket is a listening socket: "udp" or "tcp", and its local address.
type socket struct {
	proto string
	addr  netip.AddrPort
}

func (s socket) String() string { return s.proto + " " + s.addr.String() }

// listeningSockets reads, from /proc, the listening TCP and bound UDP
// sockets the process holds (in its own network namespace).
func listeningSockets(pid int) ([]socket, error) {
	inodes := make(map[string]bool)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []socket
	for _, table := range []struct{ file, proto, state string }{{"tcp", "tcp", "0A"}, {"tcp6", "tcp", "0A"}, {"udp", "udp", "07"}, {"udp6", "udp", "07"}} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table.file))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != table.state || !inodes[f[9]] {
				continue
			}
			ap, err := parseProcAddr(f[1])
			if err != nil {
				return nil, err
			}
			out = append(out, socket{table.proto, ap})
		}
	}
	slices.SortFunc(out, func(a, b socket) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out), nil
}

// parseProcAddr reads /proc/net's "0100007F:0035" (each 32-bit word of the
// address in host byte order, little-endian here).
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	raw := make([]byte, len(hexAddr)/2)
	for i := range raw {
		v, err := strconv.ParseUint(hexAddr[2*i:2*i+2], 16, 8)
		if err != nil {
			return netip.AddrPort{}, err
		}
		raw[i] = byte(v)
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	a, ok := netip.AddrFromSlice(raw)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{"0100007F:0035": "127.0.0.1:53", "3535FEA9:0035": "169.254.53.53:53", "00000000:1F0B": "0.0.0.0:7947"} {
		if got, err := parseProcAddr(in); err != nil || got.String() != want {
			t.Errorf("%s: %v %v; want %s", in, got, err, want)
		}
	}
}

// TestComposeFile runs deploy/compose.yml on this host without Swarm, in
// the same node-local mode: the sidecar on the host network owns the
// node address; the client resolves web.<project>.swarm.internal to both
// web containers through dns: [169.254.53.53], and the host asks the node
// address and loopback directly.
func TestComposeFile(t *testing.T) {
	dockertest.Engine(t)
	image := swarmdnsImage(t)
	busybox := busyboxImage(t)
	nodeAddress(t, image)
	project := dockertest.Name(t, "")
	dir := t.TempDir()
	for _, f := range []string{"compose.yml", "swarmdns.conf"} {
		b, err := os.ReadFile(deployFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "swarmdns.conf" {
			b = append(b, []byte("\nupstream = 127.0.0.1:9\nmetrics-listen =\n")...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"SWARMDNS_IMAGE=" + image, "EXAMPLE_IMAGE=" + busybox}
	compose := func(args ...string) (string, error) {
		return runEnv(env, "docker-compose", append([]string{"-f", filepath.Join(dir, "compose.yml"), "-p", project}, args...)...)
	}
	t.Cleanup(func() {
		if out, err := compose("down", "-v", "--remove-orphans", "-t", "5"); err != nil {
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
	network := project + "_app"
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
	for _, server := range []string{nodeAddr + ":53", "127.0.0.1:53"} {
		await.Until(t, 10*time.Second, expectAddrs(server, web+".", wantIPs()...))
	}
	sidecar := ps("swarmdns")[0]
	if out := dockertest.Docker(t, "exec", sidecar, "swarmdns", "members"); !strings.Contains(out, "this node") {
		t.Errorf("swarmdns members in the compose sidecar: got\n%s", out)
	}
}
