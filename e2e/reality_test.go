package e2e

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// This file holds the one check the fault tests end with: "the records
// equal reality". Reality is what the engine says runs (docker ps, whose
// list entries carry each container's networks as docker inspect does);
// the records are what a node's admin API lists (GET /v1/records), and what
// it answers over DNS for each container's name.

// scopeLabel is the label key that gives a container to the node of one
// test (its --watch-label), so a test's node sees only that test's
// containers.
const scopeLabel = "swarmdns.test.scope"

// startScopedNode runs one node on loopback that publishes the containers
// labelled scopeLabel=<a name unique to t>, and returns it with that label
// (KEY=VALUE).
func startScopedNode(t *testing.T, extra ...string) (*node, string) {
	t.Helper()
	dockertest.Engine(t)
	label := scopeLabel + "=" + dockertest.Name(t, "scope")
	args := append([]string{"--watch-label", label, "--ttl", "2s"}, extra...)
	return startNode(t, dockertest.Name(t, "node"), nodeOptions{Args: args}), label
}

// labels turns a KEY=VALUE selector (plus more labels) into a label map for
// dockertest.Run.
func labels(selector string, more ...string) map[string]string {
	m := map[string]string{}
	for _, kv := range append([]string{selector}, more...) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// viewer is one node whose zone a realityCheck reads.
type viewer struct {
	name  string
	admin *admin.Client
	dns   string // host:port; empty skips the DNS half of the check
}

// newViewer makes a viewer for a node's admin API at addr.
func newViewer(t testing.TB, name, addr, token, dnsAddr string) viewer {
	t.Helper()
	c, err := admin.NewClient(addr, token, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return viewer{name: name, admin: c, dns: dnsAddr}
}

// realityCheck compares the zones of some nodes with the containers the
// engine runs. Every owner is a node with the label selector its watcher
// uses; every viewer must hold, for each owner, exactly one record set per
// running container of that owner (none for containers without an address:
// host, none and container: network modes), with exactly the container's
// addresses, and no record set of any other node. With DNS set, each
// container's name must also resolve, over the wire, to exactly its IPv4
// addresses.
type realityCheck struct {
	cli     *client.Client
	owners  map[string]string // node name → label selector
	viewers []viewer

	mu   sync.Mutex
	last time.Time
	err  error
}

// newRealityCheck builds a check of viewers against owners.
func newRealityCheck(t testing.TB, owners map[string]string, viewers ...viewer) *realityCheck {
	t.Helper()
	return &realityCheck{cli: dockertest.Engine(t), owners: owners, viewers: viewers}
}

// await polls the check until it holds, failing t after timeout with the
// last difference. It returns how long it took.
func (r *realityCheck) await(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	r.mu.Lock()
	r.last = time.Time{} // the first look is a fresh one
	r.mu.Unlock()
	start := time.Now()
	await.Until(t, timeout, r.throttled)
	return time.Since(start)
}

// throttled runs check at most every 250ms (a full check is a docker ps and
// an API call per viewer); in between it returns the last result.
func (r *realityCheck) throttled() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && time.Since(r.last) < 250*time.Millisecond {
		return r.err
	}
	r.err = r.check()
	r.last = time.Now()
	return r.err
}

// truth is one container as the engine reports it.
type truth struct {
	name  string
	addrs []string // sorted, IPv4 and IPv6
}

// engineTruth lists the running containers with the label selector that
// have at least one address, by ID.
func engineTruth(ctx context.Context, cli *client.Client, selector string) (map[string]truth, error) {
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", selector))})
	if err != nil {
		return nil, fmt.Errorf("docker ps --filter label=%s: %w", selector, err)
	}
	out := map[string]truth{}
	for _, c := range list {
		if c.State != container.StateRunning || c.NetworkSettings == nil {
			continue // restarting or paused: not published
		}
		var addrs []string
		for _, ep := range c.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			for _, a := range []string{ep.IPAddress, ep.GlobalIPv6Address} {
				if ip := net.ParseIP(a); ip != nil {
					addrs = append(addrs, ip.String())
				}
			}
		}
		if len(addrs) == 0 {
			continue
		}
		sort.Strings(addrs)
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out[c.ID] = truth{name: name, addrs: addrs}
	}
	return out, nil
}

// check compares every viewer once.
func (r *realityCheck) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := map[string]map[string]truth{} // owner → container ID → truth
	for node, sel := range r.owners {
		tr, err := engineTruth(ctx, r.cli, sel)
		if err != nil {
			return err
		}
		want[node] = tr
	}
	for _, v := range r.viewers {
		resp, err := v.admin.Records(ctx, admin.RecordFilter{})
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		got := map[string]map[string][]string{}
		for _, rec := range resp.Records {
			if got[rec.Node] == nil {
				got[rec.Node] = map[string][]string{}
			}
			var addrs []string
			for _, a := range rec.Addrs {
				addrs = append(addrs, a.IP)
			}
			sort.Strings(addrs)
			got[rec.Node][rec.ContainerID] = addrs
		}
		for node := range got {
			if _, ok := r.owners[node]; !ok {
				return fmt.Errorf("%s holds %d record sets of node %s, which is not a live owner", v.name, len(got[node]), node)
			}
		}
		for node, tr := range want {
			if err := compareOwner(got[node], tr); err != nil {
				return fmt.Errorf("%s, records of node %s: %w", v.name, node, err)
			}
		}
		if v.dns == "" {
			continue
		}
		for _, tr := range want {
			for _, id := range slices.Sorted(maps.Keys(tr)) {
				c := tr[id]
				var v4 []string
				for _, a := range c.addrs {
					if !strings.Contains(a, ":") {
						v4 = append(v4, a)
					}
				}
				if err := expectAddrs(v.dns, fqdn(c.name), v4...)(); err != nil {
					return fmt.Errorf("%s over DNS: %w", v.name, err)
				}
			}
		}
	}
	return nil
}

// compareOwner compares one owner's record sets (container ID → sorted
// addresses) with what the engine runs.
func compareOwner(got map[string][]string, want map[string]truth) error {
	var diffs []string
	for id, tr := range want {
		addrs, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s (%s) runs with %v but has no record", tr.name, short(id), tr.addrs))
		case !slices.Equal(addrs, tr.addrs):
			diffs = append(diffs, fmt.Sprintf("%s (%s): records %v; docker says %v", tr.name, short(id), addrs, tr.addrs))
		}
	}
	for id, addrs := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s has records %v but is not running with an address", short(id), addrs))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	const show = 5
	if len(diffs) > show {
		diffs = append(diffs[:show], fmt.Sprintf("and %d more", len(diffs)-show))
	}
	return fmt.Errorf("%d differences: %s", len(diffs), strings.Join(diffs, "; "))
}

func short(id string) string { return id[:min(12, len(id))] }

// metric reads one family from a node's /metrics (with a bearer token,
// empty for none) and returns the sum of its samples.
func metric(t testing.TB, adminAddr, token, family string) float64 {
	t.Helper()
	v, err := metricErr(adminAddr, token, family)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// probeNXDOMAIN asks server for a name nobody has, to see it answer.
func probeNXDOMAIN(server string) error {
	r, err := query(server, "udp", fqdn("nobody-"+dockertest.RunID()), mdns.TypeA)
	if err != nil {
		return err
	}
	if r.Rcode != mdns.RcodeNameError {
		return fmt.Errorf("got %s; want NXDOMAIN", mdns.RcodeToString[r.Rcode])
	}
	return nil
}

// metricErr is metric returning an error.
func metricErr(adminAddr, token, family string) (float64, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("/metrics does not parse: %w", err)
	}
	var sum float64
	for _, m := range families[family].GetMetric() {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, nil
}

// noErrorLogs fails t if the node logged at error level, panicked or
// raced.
func noErrorLogs(t *testing.T, n *node) {
	t.Helper()
	noErrorLogsBut(t, n, "")
}

// noErrorLogsBut is noErrorLogs allowing error lines whose message starts
// with allowed (when not empty).
func noErrorLogsBut(t *testing.T, n *node, allowed string) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.lines {
		msg, _ := l["message"].(string)
		if allowed != "" && strings.HasPrefix(msg, allowed) {
			continue
		}
		if l["level"] == "error" || l["level"] == "fatal" || l["level"] == "panic" {
			t.Errorf("node %s logged an error: %v", n.name, l)
		}
	}
	if s := n.logs.String(); strings.Contains(s, "panic:") || strings.Contains(s, "DATA RACE") {
		t.Errorf("node %s panicked or raced", n.name)
	}
}
