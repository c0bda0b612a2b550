package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// TestClusterRollingRestart is issue 17's third check: every node of a
// cluster of real processes restarted in turn (SIGTERM, start again: a
// stop-first rolling update of the global service), then half of them
// killed and restarted at once (at their old addresses, faster than the
// others declare them dead: memberlist there holds the old runs at a
// higher incarnation, hashicorp/memberlist#311). No record is lost: the
// others keep a restarting node's peers' records throughout, and every
// record resolves everywhere after each restart; no node is left marked
// failed.
func TestClusterRollingRestart(t *testing.T) {
	const size = 5
	c := prepareCluster(t, size, 30*time.Second)
	c.startAll()
	all := make([]int, size)
	for i := range all {
		all[i] = i
	}
	type record struct {
		owner    int
		name, ip string
	}
	var records []record
	for i := range all {
		ct := dockertest.Run(t, dockertest.RunOptions{Name: "t17-" + dockertest.Name(t, fmt.Sprintf("r%d", i)), Labels: map[string]string{labelNode: c.names[i]}})
		records = append(records, record{owner: i, name: fqdn(ct.Name), ip: containerIP(t, ct.ID, "bridge")})
	}
	everywhere := func(step string, timeout time.Duration) {
		t.Helper()
		start := time.Now()
		for _, r := range records {
			c.expectEverywhere(timeout, all, r.name, r.ip)
		}
		c.awaitAllAlive(timeout, all, "")
		t.Logf("%s: every record on every node, every node alive everywhere, after %v", step, time.Since(start).Round(time.Millisecond))
	}
	everywhere("start", 15*time.Second)

	// Node 0 joins the last node too when it restarts: it has no --join of
	// its own (it is the first), and a restarted node finds the cluster
	// through its join addresses, as the service's tasks.<name> in Swarm.
	rejoin := []string{"--join", net.JoinHostPort(c.lab.Host(size).Addr().String(), "7947")}
	restart := func(i int) {
		if i == 0 {
			c.start(i, rejoin...)
		} else {
			c.start(i)
		}
	}
	for _, i := range all {
		if err := c.nodes[i].stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		// While node i is down the others hold every other node's records.
		for _, r := range records {
			if r.owner == i {
				continue
			}
			for _, j := range all {
				if j == i {
					continue
				}
				if err := expectAddrs(c.dns(j), r.name, r.ip)(); err != nil {
					t.Errorf("node %d down: node %d lost node %d's record: %v", i, j, r.owner, err)
				}
			}
		}
		restart(i)
		everywhere(fmt.Sprintf("node %d restarted", i), 10*time.Second)
	}

	// Half at once, crashed, and back before failure detection ends.
	half := all[:size/2]
	for _, i := range half {
		c.nodes[i].kill()
	}
	for _, i := range half {
		restart(i)
	}
	everywhere(fmt.Sprintf("nodes %v killed and restarted at once", half), 20*time.Second)
	revived := 0
	for _, i := range all[size/2:] {
		revived += strings.Count(c.nodes[i].Logs(), "memberlist does not take a peer's new run")
	}
	t.Logf("pushes/pulls with a new run memberlist did not take (memberlist#311), on the nodes kept: %d", revived)
	for _, i := range all {
		resp, err := c.members(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.Members {
			if m.State != "alive" {
				t.Errorf("node %d lists %s %s", i, m.Name, m.State)
			}
		}
		if len(resp.Members) != size {
			t.Errorf("node %d lists %d members; want %d", i, len(resp.Members), size)
		}
	}
}
