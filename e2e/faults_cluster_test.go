package e2e

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// Cluster-side faults of issue 8 with real processes in network namespaces:
// each test ends with every node's zone equal to the union of the live
// nodes' containers (realityCheck over every node's admin API and DNS).

// reality returns the check that every node in live holds exactly the
// containers of every node in live.
func (c *cluster) reality(live ...int) *realityCheck {
	c.t.Helper()
	owners := map[string]string{}
	var viewers []viewer
	for _, i := range live {
		owners[c.names[i]] = labelNode + "=" + c.names[i]
		admin := net.JoinHostPort(c.lab.Host(i+1).Addr().String(), "8053")
		viewers = append(viewers, newViewer(c.t, c.names[i], admin, "e2e-token", c.dns(i)))
	}
	return newRealityCheck(c.t, owners, viewers...)
}

// TestFaultTwoPartitionsChangeAndHeal splits four nodes two against two for
// long enough that each side finds the other dead; each side changes its
// containers (one removed, one started on each node), sees its own changes
// and not the other's; after the heal every node equals the union of what
// runs, within the lease.
func TestFaultTwoPartitionsChangeAndHeal(t *testing.T) {
	c, current := partitionCluster(t)
	c.lab.Partition([]int{1, 2}, []int{3, 4})
	cut := time.Now()
	awaitState(t, c, 0, "dead", 2, 3)
	awaitState(t, c, 2, "dead", 0, 1)
	t.Logf("each side found the other dead after %v", time.Since(cut).Round(time.Millisecond))
	changeBothSides(t, c, current)
	c.lab.Heal()
	took := c.reality(0, 1, 2, 3).await(t, c.lease)
	t.Logf("heal → every zone equals the union of docker ps after %v (lease %v)", took.Round(time.Millisecond), c.lease)
}

// TestFaultShortPartitionChangeAndHeal is TestFaultTwoPartitionsChangeAndHeal
// with a partition shorter than failure detection: memberlist declares no
// one dead, so no join follows the heal, and the deltas sent meanwhile are
// lost. The suspicions it raised are refuted after the heal, and each
// refuting node exchanges its own state with every peer: issue 3 wants
// the changes of the partition everywhere within 5s of the heal.
func TestFaultShortPartitionChangeAndHeal(t *testing.T) {
	c, current := partitionCluster(t)
	c.lab.Partition([]int{1, 2}, []int{3, 4})
	changeBothSides(t, c, current)
	c.lab.Heal()
	// Issue 8's bound: every zone equals the union within the lease. A
	// refuted suspicion or a failed probe triggers a state exchange at the
	// heal (usually 0.6-3.3 s); a partition too short for either to happen
	// between some pair of nodes is left to push/pull, within the lease.
	took := c.reality(0, 1, 2, 3).await(t, c.lease)
	t.Logf("heal → every zone equals the union of docker ps after %v (lease %v)", took.Round(time.Millisecond), c.lease)
}

// partitionCluster starts four nodes with two containers each and a one
// minute lease; it returns the cluster and one container of each node.
func partitionCluster(t *testing.T) (*cluster, []dockertest.Container) {
	t.Helper()
	c := newCluster(t, 4, time.Minute)
	current := make([]dockertest.Container, 4)
	for i := range 4 {
		current[i], _ = c.run(i)
		c.run(i)
	}
	took := c.reality(0, 1, 2, 3).await(t, 20*time.Second)
	t.Logf("four nodes, eight containers: every zone equals docker ps after %v", took.Round(time.Millisecond))
	return c, current
}

// changeBothSides removes current[i] and starts another container on each
// node i while nodes 0,1 and 2,3 are cut apart, and checks that each side
// sees its own changes and the other side does not.
func changeBothSides(t *testing.T, c *cluster, current []dockertest.Container) {
	t.Helper()
	start := time.Now()
	fresh := make([]dockertest.Container, len(current))
	freshIP := make([]string, len(current))
	for i := range current {
		dockertest.Docker(t, "rm", "-f", current[i].ID)
		fresh[i], freshIP[i] = c.run(i)
	}
	sides := [][]int{{0, 1}, {2, 3}}
	for s, side := range sides {
		other := sides[1-s]
		for _, i := range side {
			c.expectEverywhere(10*time.Second, side, fqdn(fresh[i].Name), freshIP[i])
			c.expectEverywhere(10*time.Second, side, fqdn(current[i].Name))
			// The other side cannot know: it still has the old state.
			if err := expectAddrs(c.dns(other[0]), fqdn(fresh[i].Name))(); err != nil {
				t.Errorf("across the partition: %v", err)
			}
		}
	}
	t.Logf("both sides changed and see their own changes after %v", time.Since(start).Round(time.Millisecond))
}

// awaitState waits until node i sees each of the nodes others in state.
func awaitState(t *testing.T, c *cluster, i int, state string, others ...int) {
	t.Helper()
	cl, err := admin.NewClient(net.JoinHostPort(c.lab.Host(i+1).Addr().String(), "8053"), "e2e-token", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	await.Until(t, 60*time.Second, func() error {
		resp, err := cl.Members(context.Background())
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, m := range resp.Members {
			got[m.Name] = m.State
		}
		for _, o := range others {
			if got[c.names[o]] != state {
				return fmt.Errorf("node %d sees %s as %q; want %q", i, c.names[o], got[c.names[o]], state)
			}
		}
		return nil
	})
}

// TestFaultRestartEmptyAndMoved kills a node (kill -9), changes its
// containers while it is down, and restarts it with nothing but its
// flags: first at the same address, then at a new one (the host's address
// moved, as when a task is rescheduled). Each time it rejoins and every
// node's zone equals what runs: the removed container is gone
// everywhere, nothing of the earlier run is left anywhere, with a lease long
// enough that stale records would show.
func TestFaultRestartEmptyAndMoved(t *testing.T) {
	c := newCluster(t, 3, 2*time.Minute)
	all := []int{0, 1, 2}
	for i := range all {
		c.run(i)
	}
	gone, _ := c.run(1)
	c.reality(all...).await(t, 20*time.Second)

	for _, move := range []bool{false, true} {
		c.nodes[1].kill()
		dockertest.Docker(t, "rm", "-f", gone.ID)
		gone, _ = c.run(1)
		if move {
			c.lab.MoveAddr(2)
		}
		start := time.Now()
		c.start(1)
		// Issue 3 wants a moved node back at once: its peers refuse the
		// new address until they find the old one dead, and the node
		// joins them again every 2s meanwhile (it sees them hold its name
		// at the old address).
		took := c.reality(all...).await(t, 10*time.Second)
		t.Logf("restart (new address: %v) → every zone equals docker ps after %v", move, took.Round(time.Millisecond))
		awaitAlive(t, c, 0, c.names[1], c.lab.Host(2).Addr().String())
		t.Logf("restart (new address: %v) → %s alive at %s on node 0 after %v", move, c.names[1], c.lab.Host(2).Addr(), time.Since(start).Round(time.Millisecond))
	}
}

// awaitAlive waits until node i lists member as alive at addr.
func awaitAlive(t *testing.T, c *cluster, i int, member, addr string) {
	t.Helper()
	cl, err := admin.NewClient(net.JoinHostPort(c.lab.Host(i+1).Addr().String(), "8053"), "e2e-token", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	await.Until(t, 30*time.Second, func() error {
		resp, err := cl.Members(context.Background())
		if err != nil {
			return err
		}
		for _, m := range resp.Members {
			if m.Name == member {
				if m.State != "alive" || m.Addr == "" || host(m.Addr) != addr {
					return fmt.Errorf("member %s: %+v; want alive at %s", member, m, addr)
				}
				return nil
			}
		}
		return fmt.Errorf("no member %s in %+v", member, resp.Members)
	})
}

func host(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}
