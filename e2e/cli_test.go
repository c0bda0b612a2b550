package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// TestDebugCLI is issue 5's first check: two nodes and their containers,
// inspected with `swarmdns members`, `records`, `lookup` (an unhealthy
// record left out, and why) and `stats`, as tables and as JSON.
func TestDebugCLI(t *testing.T) {
	c := newCluster(t, 2, 30*time.Second)
	name := "svc-" + dockertest.RunID()
	healthy := dockertest.Run(t, dockertest.RunOptions{Labels: map[string]string{labelNode: c.names[0], "swarmdns.name": name}})
	sick := dockertest.Run(t, dockertest.RunOptions{
		Labels: map[string]string{labelNode: c.names[1], "swarmdns.name": name},
		Healthcheck: &container.HealthConfig{
			Test:     []string{"CMD", "/testbox", "exit-after", "0s", "1"},
			Interval: 500 * time.Millisecond, Timeout: time.Second, Retries: 1,
		},
	})
	healthyIP, sickIP := containerIP(t, healthy.ID, "bridge"), containerIP(t, sick.ID, "bridge")
	await.Until(t, 20*time.Second, func() error {
		got, err := dockertest.DockerCmd("inspect", "-f", "{{.State.Health.Status}}", sick.ID)
		if err != nil {
			return err
		}
		if got = strings.TrimSpace(got); got != "unhealthy" {
			return fmt.Errorf("container health: got %q; want unhealthy", got)
		}
		return nil
	})
	c.expectEverywhere(5*time.Second, []int{0, 1}, fqdn(name), healthyIP)

	cli := cliAt(t, net.JoinHostPort(c.lab.Host(1).Addr().String(), "8053"), "e2e-token")

	// members: both nodes alive, as a table and as JSON.
	out := cli(0, "members")
	for _, n := range c.names {
		if !strings.Contains(out, n) {
			t.Errorf("members table lacks %s:\n%s", n, out)
		}
	}
	if !strings.HasPrefix(out, "NAME") || strings.Count(out, "alive") != 2 {
		t.Errorf("members table: want a header and two alive nodes:\n%s", out)
	}
	var members admin.MembersResponse
	decode(t, cli(0, "members", "--json"), &members)
	if len(members.Members) != 2 {
		t.Errorf("members --json: got %d members; want 2", len(members.Members))
	}

	// records: node 0 holds node 1's container too.
	out = cli(0, "records", "--name", name)
	if !strings.Contains(out, healthyIP) || !strings.Contains(out, sickIP) || !strings.Contains(out, "unhealthy") {
		t.Errorf("records --name %s: want both addresses and the unhealthy state:\n%s", name, out)
	}
	var recs admin.RecordsResponse
	decode(t, cli(0, "records", "--node", c.names[1], "--json"), &recs)
	if len(recs.Records) != 1 || recs.Records[0].ContainerID != sick.ID {
		t.Errorf("records --node %s --json: got %+v; want the one sick container", c.names[1], recs.Records)
	}

	// lookup: the unhealthy record is left out, and the reason says so.
	out = cli(0, "lookup", name)
	if !strings.Contains(out, healthyIP) || !strings.Contains(out, "healthcheck unhealthy") {
		t.Errorf("lookup %s: want the served address and the left-out one explained:\n%s", name, out)
	}
	var ex admin.Explanation
	decode(t, cli(0, "lookup", name, "A", "--json"), &ex)
	var sawSick bool
	for _, cand := range ex.Candidates {
		if cand.Address == sickIP {
			sawSick = true
			if cand.Included || !strings.Contains(cand.Reason, "unhealthy") || cand.Node != c.names[1] {
				t.Errorf("lookup --json: sick candidate %+v; want left out as unhealthy, from %s", cand, c.names[1])
			}
		}
	}
	if !sawSick {
		t.Errorf("lookup --json: the unhealthy candidate %s is not listed: %+v", sickIP, ex.Candidates)
	}

	// stats: the queries made above are counted.
	out = cli(0, "stats")
	if !strings.Contains(out, "queries") {
		t.Errorf("stats table:\n%s", out)
	}
	var st admin.Stats
	decode(t, cli(0, "stats", "--json"), &st)
	if st.DNS.Queries == 0 {
		t.Errorf("stats --json: no DNS queries counted after the lookups: %+v", st.DNS)
	}

	// A node that cannot be reached: exit 1 naming the address.
	out, code := runCLI(t, "members", "--admin", "127.0.0.1:1")
	if code != 1 || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("unreachable admin: exit %d, %q; want 1 naming the address", code, out)
	}
}

// cliAt returns a runner of the debug verbs against the admin API at addr
// with token, which fails the test unless the verb exits with want.
func cliAt(t *testing.T, addr, token string) func(want int, args ...string) string {
	return func(want int, args ...string) string {
		t.Helper()
		out, code := runCLI(t, append(args, "--admin", addr, "--admin-token", token)...)
		if code != want {
			t.Fatalf("swarmdns %s: exit %d; want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
}

// TestCLITellsTheTruth is issue 16's CLI check against a real node and
// engine: every verb's --help, --json parsed where it is offered, each
// lookup outcome (answered, NODATA, NXDOMAIN, hidden by a label, outside
// the zone and forwarded, refused by policy) for a multi-label name and
// for -x, records readable at any width, log-level, flags spelt --flag,
// unknown SWARMDNS_ variables reported, bad values exiting 2 before the
// node starts, and the probes served without the admin token.
func TestCLITellsTheTruth(t *testing.T) {
	up := startUpstream(t)
	n := startNode(t, dockertest.Name(t, "node"), nodeOptions{
		Args: []string{"--watch-label", dockertest.LabelRun + "=" + dockertest.RunID(), "--upstream", up.addr, "--admin-token", "t16-token"},
		Env:  []string{"SWARMDNS_UPSTREAMS=10.9.9.9"},
	})
	adm := []string{"--admin", n.Admin(), "--admin-token", "t16-token"}
	cli := cliAt(t, n.Admin(), "t16-token")

	multi := "backend.v2-" + dockertest.RunID()
	svc := dockertest.RunID() + "_web"
	web := dockertest.Run(t, dockertest.RunOptions{
		Name: svc + ".1.k3l4ctq0ju7yq2pm4ne4bzvhv",
		Labels: map[string]string{"swarmdns.name": multi, "swarmdns.enable": "nope",
			"com.docker.swarm.service.name": svc, "com.docker.stack.namespace": dockertest.RunID(), "com.docker.swarm.task.slot": "1"},
	})
	ghost := dockertest.Run(t, dockertest.RunOptions{Name: dockertest.Name(t, "ghost"), Labels: map[string]string{"swarmdns.enable": "false"}})
	webIP := containerIP(t, web.ID, "bridge")
	await.Until(t, 10*time.Second, expectAddrs(n.DNS(), fqdn(multi), webIP))

	lookup := func(args ...string) admin.Explanation {
		t.Helper()
		var ex admin.Explanation
		decode(t, cli(0, append([]string{"lookup", "--json"}, args...)...), &ex)
		return ex
	}
	for _, tc := range []struct {
		args []string
		want admin.Outcome
		why  string
	}{
		{[]string{multi}, admin.OutcomeAnswered, "answered"},
		{[]string{multi, "MX"}, admin.OutcomeNODATA, "no MX record"},
		{[]string{"nosuch-" + dockertest.RunID()}, admin.OutcomeNXDOMAIN, "no record in the zone"},
		{[]string{ghost.Name}, admin.OutcomeHidden, "swarmdns.enable=false"},
		{[]string{"www.example.test", "--client", "127.0.0.1"}, admin.OutcomeForwarded, "forwarded"},
		{[]string{"www.example.test", "--client", "203.0.113.9"}, admin.OutcomeRefused, "--allow-recursion"},
		{[]string{"www.example.test"}, admin.OutcomeRefused, "no client address was given"},
		{[]string{"-x", webIP}, admin.OutcomeAnswered, "answered"},
	} {
		ex := lookup(tc.args...)
		if ex.Outcome != tc.want || !strings.Contains(ex.Why, tc.why) {
			t.Errorf("lookup %v: got outcome %q, why %q; want %q saying %q", tc.args, ex.Outcome, ex.Why, tc.want, tc.why)
		}
	}
	if ex := lookup(multi); ex.Name != fqdn(multi) || len(ex.Answer) != 1 || !strings.Contains(ex.Answer[0], webIP) {
		t.Errorf("lookup %s: got %s %v; want %s answered with %s", multi, ex.Name, ex.Answer, fqdn(multi), webIP)
	}
	if ex := lookup("-x", webIP); len(ex.Answer) == 0 || !strings.Contains(ex.Answer[0], "PTR") {
		t.Errorf("lookup -x %s: got %v; want the PTR", webIP, ex.Answer)
	}
	if out := cli(0, "lookup", ghost.Name); !strings.Contains(out, "HIDDEN BY A LABEL") || !strings.Contains(out, ghost.Name) {
		t.Errorf("lookup %s (table): want the hiding label and the container:\n%s", ghost.Name, out)
	}

	// records: no line wider than a terminal for a Swarm task's many
	// names, one name a line; --wide puts them on one.
	out := cli(0, "records", "--container", web.ID[:12])
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 160 {
			t.Errorf("records: a line of %d characters:\n%s", len(line), out)
		}
	}
	if !strings.Contains(out, fqdn(multi)) || !strings.Contains(out, "tasks.") {
		t.Errorf("records: want every name listed, one a line:\n%s", out)
	}
	if wide := cli(0, "records", "--wide", "--container", web.ID[:12]); strings.Count(wide, "\n") != 2 {
		t.Errorf("records --wide: want a header and one line:\n%s", wide)
	}

	// health, version, log-level: --json parses.
	var health struct{ Healthy bool }
	decode(t, cli(0, "health", "--json"), &health)
	var ready admin.Readiness
	decode(t, cli(0, "health", "--ready", "--json"), &ready)
	var version struct{ Version, Go string }
	vout, _ := runCLI(t, "version", "--json")
	decode(t, vout, &version)
	if !health.Healthy || !ready.Ready || version.Go == "" {
		t.Errorf("health %+v, ready %+v, version %+v; want healthy, ready and a Go version", health, ready, version)
	}
	if got := strings.TrimSpace(cli(0, "log-level", "debug")); got != "debug" {
		t.Errorf("log-level debug: got %q", got)
	}
	var lvl struct{ Level string }
	decode(t, cli(0, "log-level", "--json"), &lvl)
	if lvl.Level != "debug" {
		t.Errorf("log-level --json: got %q; want debug", lvl.Level)
	}
	if _, err := n.waitLog(5*time.Second, func(l map[string]any) bool {
		return strings.Contains(fmt.Sprint(l["message"]), "log level changed") && l["new_level"] == "debug" && l["level"] == nil
	}); err != nil {
		t.Errorf("the log-level line: %v", err)
	}
	cli(2, "log-level", "loud")

	// --help for every verb; flag errors spelt --flag.
	for _, verb := range []string{"serve", "version", "members", "records", "lookup", "stats", "health", "log-level", "uninstall"} {
		out, code := runCLI(t, verb, "--help")
		if code != 0 || !strings.Contains(out, "Usage: swarmdns "+verb) {
			t.Errorf("%s --help: exit %d:\n%s", verb, code, out)
		}
		out, code = runCLI(t, verb, "--t16-nope")
		if code != 2 || !strings.Contains(out, "--t16-nope") {
			t.Errorf("%s --t16-nope: exit %d, %q; want 2 naming --t16-nope", verb, code, out)
		}
	}
	if out, code := runCLI(t, "serve", "--ttl", "x"); code != 2 || !strings.Contains(out, "--ttl") || strings.Contains(out, " -ttl") {
		t.Errorf("serve --ttl x: exit %d, %q; want 2 naming --ttl", code, out)
	}

	// Every bad value exits 2 before anything starts.
	for _, args := range [][]string{{"--zone", "bad zone!"}, {"--gossip-key", "notbase64"},
		{"--ttl", "25h"}, {"--max-udp-size", "65535"}, {"--upstream", "dns.example:53"}} {
		out, code := runCLI(t, append([]string{"serve", "--log-format", "json"}, args...)...)
		if code != 2 || strings.Contains(out, "swarmdns starting") || !strings.Contains(out, args[0]) {
			t.Errorf("serve %v: exit %d, %q; want 2 naming %s, before starting", args, code, out, args[0])
		}
	}

	// A busy port: the error said once, exit 1.
	out, code := runCLI(t, "serve", "--log-format", "json", "--watch-label", "t16-none", "--dns-listen", "127.0.0.1:0",
		"--gossip-listen", "127.0.0.1:0", "--upstream", up.addr, "--admin-listen", n.Admin())
	if code != 1 || strings.Count(out, "address already in use") != 1 {
		t.Errorf("serve with the admin port busy: exit %d, %d mentions of the error; want 1 and one:\n%s", code, strings.Count(out, "address already in use"), out)
	}

	// Unknown SWARMDNS_ variables: serve warns, a debug verb says so.
	if _, err := n.waitLog(time.Second, func(l map[string]any) bool {
		return l["level"] == "warn" && strings.Contains(fmt.Sprint(l["variables"]), "SWARMDNS_UPSTREAMS")
	}); err != nil {
		t.Errorf("serve with SWARMDNS_UPSTREAMS: %v", err)
	}
	if out, _ := runEnv([]string{"SWARMDNS_ADMN=x"}, swarmdnsBin, append([]string{"members"}, adm...)...); !strings.Contains(out, "SWARMDNS_ADMN") {
		t.Errorf("members with SWARMDNS_ADMN: %s; want the variable reported", out)
	}

	// A wrong label value is a warning; the probes need no token, the
	// rest does.
	if _, err := n.waitLog(time.Second, func(l map[string]any) bool {
		return l["level"] == "warn" && strings.Contains(fmt.Sprint(l["message"]), `swarmdns.enable="nope"`)
	}); err != nil {
		t.Errorf("swarmdns.enable=nope: %v", err)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v1/members": 401} {
		if code, body := get(t, "http://"+n.Admin()+path, ""); code != want {
			t.Errorf("%s without the token: got %d %s; want %d", path, code, body, want)
		}
	}
}
