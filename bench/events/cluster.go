package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/container"
)

// labelNode gives a container to one node of the measured cluster: node i
// watches the containers labelled labelNode=<run>-<i>.
const labelNode = "swarmdns.bench.events.node"

// clusterConvergence starts cfg.cluster swarmdns processes on loopback, each
// watching its own containers and gossiping with the others, then starts
// and stops cfg.clusterTrials containers (on each node in turn) and times,
// from the engine's start event (and from the stop call), until every
// node's DNS answers for the name (and NXDOMAIN for it).
func (b *bench) clusterConvergence(ctx context.Context, report *strings.Builder) error {
	n := b.cfg.cluster
	nodes := make([]*server, 0, n)
	defer func() {
		for _, s := range nodes {
			s.stop()
		}
	}()
	var join string
	for i := range n {
		s, err := b.startClusterNode(i, join)
		if err != nil {
			return err
		}
		nodes = append(nodes, s)
		if _, err := s.ready(ctx, time.Minute); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		if i == 0 {
			join = s.gossipAddr
		}
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	el, err := b.followEvents(ectx)
	if err != nil {
		return err
	}
	logf("cluster: %d nodes up; %d containers started and stopped in turn", n, b.cfg.clusterTrials)

	var startToAll, stopToAll []time.Duration
	for t := range b.cfg.clusterTrials {
		owner := t % n
		name := fmt.Sprintf("%s-k%d", b.runID, t)
		id, err := b.createLabelled(ctx, name, map[string]string{labelNode: b.runID + "-" + strconv.Itoa(owner)})
		if err != nil {
			return err
		}
		fqdn := name + "." + zone
		if err := b.start(ctx, id); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		last, err := lastOnAll(ctx, nodes, fqdn, b.cfg.timeout, holdsA)
		if err != nil {
			return err
		}
		ev, err := el.when(ctx, el.start, id)
		if err != nil {
			return err
		}
		startToAll = append(startToAll, last.Sub(ev))

		timeout := 1
		called := time.Now()
		if err := b.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout}); err != nil {
			return fmt.Errorf("stop %.12s: %w", id, err)
		}
		last, err = lastOnAll(ctx, nodes, fqdn, b.cfg.timeout, isNXDOMAIN)
		if err != nil {
			return err
		}
		stopToAll = append(stopToAll, last.Sub(called))
		if err := b.remove([]string{id}); err != nil {
			return err
		}
	}

	fmt.Fprintf(report, "cluster convergence, %d real swarmdns processes gossiping on loopback, %d containers\n", n, b.cfg.clusterTrials)
	tw := tabwriter.NewWriter(report, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tp50\tp99\tmax\tmin\t")
	row := func(what string, d []time.Duration) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", what, ms(pct(d, 50)), ms(pct(d, 99)), ms(slices.Max(d)), ms(slices.Min(d)))
	}
	row("start event on one node -> answered on every node", startToAll)
	row("docker stop called -> NXDOMAIN on every node", stopToAll)
	tw.Flush()
	fmt.Fprintln(report)
	return writeJSON(filepath.Join(b.cfg.out, "cluster-convergence.json"), map[string]any{
		"nodes": n, "start_event_to_all_ns": startToAll, "stop_call_to_all_nxdomain_ns": stopToAll,
	})
}

// lastOnAll polls name on every node at once and returns when the last of
// them first met cond.
func lastOnAll(ctx context.Context, nodes []*server, name string, timeout time.Duration, cond func(int, bool) bool) (time.Time, error) {
	type result struct {
		at  time.Time
		err error
	}
	results := make(chan result, len(nodes))
	for _, s := range nodes {
		go func() {
			at, err := newResolver(s.dnsAddr).waitFor(ctx, name, timeout, cond)
			results <- result{at, err}
		}()
	}
	var last time.Time
	var firstErr error
	for range nodes {
		r := <-results
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		if r.at.After(last) {
			last = r.at
		}
	}
	return last, firstErr
}

// startClusterNode starts node i of the cluster, joining join (unless
// empty), with every listener on a free loopback port.
func (b *bench) startClusterNode(i int, join string) (*server, error) {
	var addrs [3]string
	for k := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[k] = a
	}
	args := []string{
		"--zone", zone,
		"--dns-listen", addrs[0],
		"--admin-listen", addrs[1],
		"--gossip-listen", addrs[2],
		"--upstream", "127.0.0.1:9",
		"--watch-label", labelNode + "=" + b.runID + "-" + strconv.Itoa(i),
		"--node-name", fmt.Sprintf("bench-node-%d", i),
		"--log-level", "info",
		"--log-format", "json",
	}
	if join != "" {
		args = append(args, "--join", join)
	}
	s := &server{dnsAddr: addrs[0], admin: "http://" + addrs[1], gossipAddr: addrs[2]}
	return s, b.spawn(s, fmt.Sprintf("swarmdns-cluster-%d.log", i), args...)
}
