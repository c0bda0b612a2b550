package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	metricdef "github.com/swarmdns/swarmdns/internal/metric"
)

// members returns node i's member list, as `swarmdns members --json`
// prints it.
func (c *cluster) members(i int) (admin.MembersResponse, error) {
	var resp admin.MembersResponse
	out, code := runCLI(c.t, "members", "--json", "--admin", net.JoinHostPort(c.lab.Host(i+1).Addr().String(), "8053"), "--admin-token", "e2e-token")
	if code != 0 {
		return resp, fmt.Errorf("swarmdns members: exit %d: %s", code, out)
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		return resp, fmt.Errorf("swarmdns members: %w", err)
	}
	return resp, nil
}

// awaitAllAlive awaits every node of nodes seeing each of them alive,
// announcing key (a fingerprint) when it is not empty.
func (c *cluster) awaitAllAlive(timeout time.Duration, nodes []int, key string) {
	c.t.Helper()
	await.Until(c.t, timeout, func() error {
		for _, i := range nodes {
			resp, err := c.members(i)
			if err != nil {
				return err
			}
			for _, j := range nodes {
				k := slices.IndexFunc(resp.Members, func(m admin.Member) bool { return m.Name == c.names[j] })
				if k < 0 {
					return fmt.Errorf("node %d does not list node %d", i, j)
				}
				m := resp.Members[k]
				if m.State != "alive" {
					return fmt.Errorf("node %d sees node %d %s", i, j, m.State)
				}
				if key != "" && m.Key != key {
					return fmt.Errorf("node %d sees node %d encrypt with key %q; want %q", i, j, m.Key, key)
				}
			}
		}
		return nil
	})
}

// writeKeys writes a gossip key file, one base64 key a line.
func writeKeys(t *testing.T, path string, keys ...string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Replaced whole, as a secret or a config manager does.
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func fingerprint(t *testing.T, key string) string {
	t.Helper()
	k, err := gossip.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return gossip.KeyFingerprint(k)
}

// TestClusterKeyRotation is issue 17's second check: three nodes' key files
// go from K1 to K1+K2, to K2 first, to K2 alone, each read again by the
// running processes (on change, and on SIGHUP), with a container started on
// one node at each step resolving on the others and no member lost; a node
// that kept only K1 is refused at the end.
func TestClusterKeyRotation(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	fp1, fp2 := fingerprint(t, k1), fingerprint(t, k2)
	c := prepareCluster(t, 3, 30*time.Second)
	dir := t.TempDir()
	all := []int{0, 1, 2}
	for i := range all {
		c.keyFiles = append(c.keyFiles, filepath.Join(dir, fmt.Sprintf("gossip-key-%d", i)))
		writeKeys(t, c.keyFiles[i], k1)
	}
	c.startAll()
	c.awaitAllAlive(15*time.Second, all, fp1)

	// SIGHUP reads the file again: unchanged, it says so.
	from := c.nodes[1].mark()
	c.nodes[1].signal(syscall.SIGHUP)
	if _, err := c.nodes[1].waitLogFrom(from, 10*time.Second, func(l map[string]any) bool {
		return l["message"] == "SIGHUP: gossip key file unchanged"
	}); err != nil {
		t.Errorf("SIGHUP: %v", err)
	}

	steps := []struct {
		name    string
		keys    []string
		primary string
	}{
		{"K1+K2", []string{k1, k2}, fp1},
		{"K2 first", []string{k2, k1}, fp2},
		{"K2 alone", []string{k2}, fp2},
	}
	for s, step := range steps {
		marks := make([]int, len(all))
		for i := range all {
			marks[i] = c.nodes[i].mark()
			writeKeys(t, c.keyFiles[i], step.keys...)
		}
		// The last node is told by SIGHUP, the others find the change.
		c.nodes[2].signal(syscall.SIGHUP)
		want := make([]string, len(step.keys))
		for i, k := range step.keys {
			want[i] = fingerprint(t, k)
		}
		for i := range all {
			l, err := c.nodes[i].waitLogFrom(marks[i], 10*time.Second, func(l map[string]any) bool {
				return l["message"] == "gossip keys loaded" && fmt.Sprint(l["keys"]) == fmt.Sprint(toAny(want))
			})
			if err != nil {
				t.Fatalf("%s: node %d never loaded keys %v: %v", step.name, i, want, err)
			}
			if strings.Contains(fmt.Sprint(l), strings.TrimRight(step.keys[0], "=")) {
				t.Fatalf("node %d logged a key: %v", i, l)
			}
		}
		c.awaitAllAlive(10*time.Second, all, step.primary)

		owner := s % len(all)
		ct := dockertest.Run(t, dockertest.RunOptions{Name: "t17-" + dockertest.Name(t, fmt.Sprintf("step%d", s)), Labels: map[string]string{labelNode: c.names[owner]}})
		ip := containerIP(t, ct.ID, "bridge")
		took := c.expectEverywhere(5*time.Second, all, fqdn(ct.Name), ip)
		t.Logf("%s: a container of node %d resolves everywhere after %v", step.name, owner, took.Round(time.Millisecond))
		c.awaitAllAlive(5*time.Second, all, step.primary)
	}

	// Node 3 leaves, and comes back with K1 only: refused.
	kept := dockertest.Run(t, dockertest.RunOptions{Name: "t17-" + dockertest.Name(t, "kept"), Labels: map[string]string{labelNode: c.names[2]}})
	if err := c.nodes[2].stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	writeKeys(t, c.keyFiles[2], k1)
	from = c.nodes[0].mark()
	admin0 := net.JoinHostPort(c.lab.Host(1).Addr().String(), "8053")
	failures := metric(t, admin0, "e2e-token", metricdef.GossipDecryptFailures.Name)
	c.start(2)
	c.expectEverywhere(5*time.Second, []int{2}, fqdn(kept.Name), containerIP(t, kept.ID, "bridge"))
	if _, err := c.nodes[0].waitLogFrom(from, 15*time.Second, func(l map[string]any) bool {
		msg, _ := l["message"].(string)
		return l["level"] != "debug" && l["component"] == "gossip" && strings.Contains(msg, c.lab.Host(3).Addr().String())
	}); err != nil {
		t.Fatalf("node 1 never logged refusing the K1-only node: %v", err)
	}
	// The precise signal: node 1 (index 0) could not decrypt what the
	// K1-only node sent it.
	await.Until(t, 15*time.Second, func() error {
		if v := metric(t, admin0, "e2e-token", metricdef.GossipDecryptFailures.Name); v <= failures {
			return fmt.Errorf("%s at %v; want above %v", metricdef.GossipDecryptFailures.Name, v, failures)
		}
		return nil
	})
	for _, i := range []int{0, 1} {
		if err := expectAddrs(c.dns(i), fqdn(kept.Name))(); err != nil {
			t.Errorf("the K1-only node's record reached node %d: %v", i, err)
		}
		resp, err := c.members(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.Members {
			if m.Name == c.names[2] && m.State == "alive" {
				t.Errorf("node %d sees the K1-only node alive", i)
			}
		}
	}
	c.awaitAllAlive(5*time.Second, []int{0, 1}, fp2)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
