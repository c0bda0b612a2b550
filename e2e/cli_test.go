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

	admin0 := []string{"--admin", net.JoinHostPort(c.lab.Host(1).Addr().String(), "8053"), "--admin-token", "e2e-token"}
	cli := func(want int, args ...string) string {
		t.Helper()
		out, code := runCLI(t, append(args, admin0...)...)
		if code != want {
			t.Fatalf("swarmdns %s: exit %d; want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}

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

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
}
