package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/netlab"
)

// labelNode is the label that gives a container to one cluster node: each
// node watches only the containers labelled with its own name.
const labelNode = "swarmdns.test.node"

// cluster is a set of swarmdns processes, each on its own lab host with its
// own address, all against this machine's engine, each given its own
// containers by label.
type cluster struct {
	t   *testing.T
	lab *netlab.Lab
	key string
	// keyFiles, when set, gives node i --gossip-key-file keyFiles[i]
	// instead of --gossip-key key.
	keyFiles []string
	lease    time.Duration
	nodes    []*node // index i runs on lab host i+1
	names    []string
}

// newCluster starts n nodes that join the first one.
func newCluster(t *testing.T, n int, lease time.Duration) *cluster {
	t.Helper()
	c := prepareCluster(t, n, lease)
	c.startAll()
	return c
}

// prepareCluster makes the lab and names of an n-node cluster without
// starting it (startAll does), so a test can change its settings first.
func prepareCluster(t *testing.T, n int, lease time.Duration) *cluster {
	t.Helper()
	dockertest.Engine(t)
	c := &cluster{t: t, lab: netlab.New(t, n), key: newKey(t), lease: lease}
	for i := 0; i < n; i++ {
		c.names = append(c.names, dockertest.Name(t, "n"+strconv.Itoa(i)))
	}
	c.nodes = make([]*node, n)
	return c
}

// startAll starts every node, in order.
func (c *cluster) startAll() {
	c.t.Helper()
	for i := range c.nodes {
		c.start(i)
	}
}

func newKey(t *testing.T) string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// start (re)starts node i.
func (c *cluster) start(i int, extra ...string) *node {
	c.t.Helper()
	host := c.lab.Host(i + 1)
	addr := host.Addr().String()
	args := []string{
		"--dns-listen", net.JoinHostPort(addr, "53"),
		"--gossip-listen", net.JoinHostPort(addr, "7947"),
		"--admin-listen", net.JoinHostPort(addr, "8053"), "--admin-token", "e2e-token",
		"--watch-label", labelNode + "=" + c.names[i],
		"--lease", c.lease.String(),
		"--ttl", "1s",
	}
	if c.keyFiles != nil {
		args = append(args, "--gossip-key-file", c.keyFiles[i])
	} else {
		args = append(args, "--gossip-key", c.key)
	}
	if i > 0 {
		args = append(args, "--join", net.JoinHostPort(c.lab.Host(1).Addr().String(), "7947"))
	}
	args = append(args, extra...)
	n := startNode(c.t, c.names[i], nodeOptions{Args: args, Wrap: host.Wrap})
	c.nodes[i] = n
	return n
}

// dns returns node i's DNS address.
func (c *cluster) dns(i int) string { return net.JoinHostPort(c.lab.Host(i+1).Addr().String(), "53") }

// run starts a container that belongs to node i.
func (c *cluster) run(i int) (dockertest.Container, string) {
	c.t.Helper()
	ct := dockertest.Run(c.t, dockertest.RunOptions{Labels: map[string]string{labelNode: c.names[i]}})
	return ct, containerIP(c.t, ct.ID, "bridge")
}

// expectEverywhere awaits name resolving to want (or NXDOMAIN) on the nodes.
func (c *cluster) expectEverywhere(timeout time.Duration, nodes []int, name string, want ...string) time.Duration {
	c.t.Helper()
	start := time.Now()
	await.Until(c.t, timeout, func() error {
		for _, i := range nodes {
			if err := expectAddrs(c.dns(i), name, want...)(); err != nil {
				return fmt.Errorf("node %d: %w", i, err)
			}
		}
		return nil
	})
	return time.Since(start)
}

// TestClusterReplication is issue 3's first check: a container started for
// node A resolves on B and C within 2 s, and is gone from all of them within
// 2 s of its stop.
func TestClusterReplication(t *testing.T) {
	c := newCluster(t, 3, 30*time.Second)
	all := []int{0, 1, 2}
	ct, ip := c.run(0)
	took := c.expectEverywhere(2*time.Second, all, fqdn(ct.Name), ip)
	t.Logf("start → resolvable on every node: %v", took.Round(time.Millisecond))

	dockertest.Docker(t, "stop", "-t", "5", ct.ID)
	took = c.expectEverywhere(2*time.Second, all, fqdn(ct.Name))
	t.Logf("stop → NXDOMAIN on every node: %v", took.Round(time.Millisecond))

	// Names merge across nodes: one name served by containers on every
	// node answers every address.
	shared := "shared-" + dockertest.RunID()
	var want []string
	for i := range 3 {
		ctr := dockertest.Run(t, dockertest.RunOptions{Labels: map[string]string{labelNode: c.names[i], "swarmdns.name": shared}})
		want = append(want, containerIP(t, ctr.ID, "bridge"))
	}
	c.expectEverywhere(3*time.Second, all, fqdn(shared), want...)

	// Each node answers for every node's own name.
	for i := range 3 {
		c.expectEverywhere(3*time.Second, all, fqdn(c.names[i]+".node"), c.lab.Host(i+1).Addr().String())
	}
}

// TestClusterPartition is issue 3's second check: B cut off keeps its
// records on A and C until the lease runs out, then NXDOMAIN; after the heal
// B's records, including what changed during the cut, return within 5 s.
func TestClusterPartition(t *testing.T) {
	lease := 8 * time.Second
	c := newCluster(t, 3, lease)
	kept, keptIP := c.run(1)
	gone, goneIP := c.run(1)
	c.expectEverywhere(3*time.Second, []int{0, 2}, fqdn(kept.Name), keptIP)
	c.expectEverywhere(3*time.Second, []int{0, 2}, fqdn(gone.Name), goneIP)

	cut := time.Now()
	c.lab.Isolate(2)
	// During the cut B changes its containers.
	dockertest.Docker(t, "stop", "-t", "5", gone.ID)
	added, addedIP := c.run(1)
	c.expectEverywhere(3*time.Second, []int{1}, fqdn(added.Name), addedIP)

	// A and C keep B's records for a while (at least until the failure is
	// noticed), and drop them once the lease has run out.
	if err := expectAddrs(c.dns(0), fqdn(kept.Name), keptIP)(); err != nil {
		t.Errorf("right after the cut: %v", err)
	}
	took := c.expectEverywhere(lease+30*time.Second, []int{0, 2}, fqdn(kept.Name))
	t.Logf("cut → B's records dropped on A and C: %v (lease %v)", time.Since(cut).Round(time.Second), lease)
	if since := time.Since(cut); since < lease {
		t.Errorf("B's records were dropped %v after the cut, before the %v lease", since, lease)
	}
	_ = took

	c.lab.Heal()
	healed := time.Now()
	c.expectEverywhere(5*time.Second, []int{0, 2}, fqdn(kept.Name), keptIP)
	c.expectEverywhere(5*time.Second, []int{0, 2}, fqdn(added.Name), addedIP)
	c.expectEverywhere(5*time.Second, []int{0, 2}, fqdn(gone.Name))
	t.Logf("heal → B's records back on A and C: %v", time.Since(healed).Round(time.Millisecond))
}

// TestClusterKillAndRestart is issue 3's third check: kill -9 B, its records
// stay until the lease and then go; B restarted publishes again with no
// duplicate or stale address.
func TestClusterKillAndRestart(t *testing.T) {
	lease := 6 * time.Second
	c := newCluster(t, 3, lease)
	ct, ip := c.run(1)
	c.expectEverywhere(3*time.Second, []int{0, 2}, fqdn(ct.Name), ip)

	c.nodes[1].kill()
	killed := time.Now()
	if err := expectAddrs(c.dns(0), fqdn(ct.Name), ip)(); err != nil {
		t.Errorf("right after kill -9: %v", err)
	}
	c.expectEverywhere(lease+30*time.Second, []int{0, 2}, fqdn(ct.Name))
	if since := time.Since(killed); since < lease {
		t.Errorf("records dropped %v after the kill, before the %v lease", since, lease)
	}

	// While B is down its container goes and another comes.
	dockertest.Docker(t, "stop", "-t", "5", ct.ID)
	next, nextIP := c.run(1)
	c.start(1)
	c.expectEverywhere(5*time.Second, []int{0, 1, 2}, fqdn(next.Name), nextIP)
	c.expectEverywhere(5*time.Second, []int{0, 1, 2}, fqdn(ct.Name))
}

// TestClusterWrongKeyAndLeave is issue 3's fourth check: a node with another
// key (or none) neither joins nor injects records, and the node it tried logs
// why; a clean leave (SIGTERM) removes the leaver's records at once.
func TestClusterWrongKeyAndLeave(t *testing.T) {
	c := newCluster(t, 3, 60*time.Second)
	ct, ip := c.run(2)
	c.expectEverywhere(3*time.Second, []int{0, 1}, fqdn(ct.Name), ip)

	// An intruder on a fourth address: reuse host 3's namespace is not
	// possible (its ports are taken), so take node 3's place after it
	// leaves cleanly.
	leaving := time.Now()
	if err := c.nodes[2].stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	took := c.expectEverywhere(3*time.Second, []int{0, 1}, fqdn(ct.Name))
	t.Logf("clean leave → records gone on the others: %v", time.Since(leaving).Round(time.Millisecond))
	_ = took

	for _, key := range []string{newKey(t), ""} {
		c.key = key
		from := c.nodes[0].mark()
		intruder := c.start(2)
		// The intruder publishes its container locally but must reach no one.
		c.expectEverywhere(3*time.Second, []int{2}, fqdn(ct.Name), ip)
		l, err := c.nodes[0].waitLogFrom(from, 10*time.Second, func(l map[string]any) bool {
			msg, _ := l["message"].(string)
			return l["level"] != "debug" && l["component"] == "gossip" &&
				strings.Contains(msg, c.lab.Host(3).Addr().String())
		})
		if err != nil {
			t.Fatalf("node A never logged the rejected attempt of %s: %v", c.lab.Host(3).Addr(), err)
		}
		t.Logf("node A about the intruder with key %q: %v", key, l["message"])
		if err := intruder.stop(10 * time.Second); err != nil {
			t.Log(err)
		}
		for _, i := range []int{0, 1} {
			if err := expectAddrs(c.dns(i), fqdn(ct.Name))(); err != nil {
				t.Errorf("a node with key %q injected records: %v", key, err)
			}
		}
	}
}
