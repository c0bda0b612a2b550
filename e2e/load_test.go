package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// loadSeconds is how long TestLoadWithChurn's main phase runs: 20s by
// default (issue 8 asks for 60s; SWARMDNS_E2E_LOAD_SECONDS=60 does that).
func loadSeconds(t *testing.T) int {
	if s := os.Getenv("SWARMDNS_E2E_LOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SWARMDNS_E2E_LOAD_SECONDS=%q: want a positive number of seconds", s)
		}
		return n
	}
	return 20
}

// perfResult is what dnsperf reports.
type perfResult struct {
	sent, completed, lost float64
	qps                   float64
	out                   string
}

var perfLine = regexp.MustCompile(`(?m)^\s*(Queries sent|Queries completed|Queries lost|Queries per second):\s+([0-9.]+)`)

// dnsperf runs dnsperf against server with the query file and extra flags.
func dnsperf(t *testing.T, bin, server, file string, args ...string) perfResult {
	t.Helper()
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argv := append([]string{"-s", host, "-p", port, "-d", file}, args...)
	out, err := exec.CommandContext(ctx, bin, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("dnsperf %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	r := perfResult{out: string(out)}
	for _, m := range perfLine.FindAllStringSubmatch(r.out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[1] {
		case "Queries sent":
			r.sent = v
		case "Queries completed":
			r.completed = v
		case "Queries lost":
			r.lost = v
		case "Queries per second":
			r.qps = v
		}
	}
	if r.sent == 0 {
		t.Fatalf("dnsperf sent nothing:\n%s", out)
	}
	return r
}

// TestLoadWithChurn is issue 8's load check against the real binary (built
// with -race, so its rates are a fraction of a release build's): dnsperf
// first finds the rate the node saturates at (closed loop, 5s), then sends
// at that rate for loadSeconds while containers start and stop, with a mix
// of in-zone names (some of them churning), NXDOMAIN, NODATA and forwarded
// (cached) questions. Under 1% of the queries may go unanswered within
// dnsperf's 5s timeout; the records still equal docker ps at the end; and
// once the load is over the goroutines, open descriptors and heap come back
// to where they were after the first phase (no growth).
// It needs dnsperf (CI installs it); it is skipped with -short.
func TestLoadWithChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	bin, err := exec.LookPath("dnsperf")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no dnsperf (apt-get install dnsperf): %v", err)
		}
		t.Skipf("no dnsperf (apt-get install dnsperf): %v", err)
	}
	up := startUpstream(t)
	n, sel := startScopedNode(t, "--upstream", up.addr)
	cli := dockertest.Engine(t)
	image := dockertest.TestboxImage(t)
	t.Cleanup(func() { removeLabelled(t, cli, sel) })

	var stable []string
	for range 5 {
		c := dockertest.Run(t, dockertest.RunOptions{Labels: labels(sel)})
		stable = append(stable, c.Name)
		await.Until(t, 10*time.Second, expectAddrs(n.DNS(), fqdn(c.Name), containerIP(t, c.ID, "bridge")))
	}
	churnNames := make([]string, 8)
	for i := range churnNames {
		churnNames[i] = dockertest.Name(t, fmt.Sprint("churn", i))
	}
	var lines []string
	for _, s := range stable {
		lines = append(lines, fqdn(s)+" A", fqdn(s)+" A", fqdn(s)+" AAAA")
	}
	for i, c := range churnNames {
		lines = append(lines, fqdn(c)+" A", fmt.Sprintf("nx%d.%s A", i, zone), fmt.Sprintf("www%d.example.test. A", i%3))
	}
	lines = append(lines, zone+" SOA")
	file := filepath.Join(t.TempDir(), "queries.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Phase 1: the saturation rate, closed loop.
	sat := dnsperf(t, bin, n.DNS(), file, "-l", "5", "-c", "4", "-q", "200")
	t.Logf("saturation (closed loop, 5s): %.0f queries/s, %v lost of %v", sat.qps, sat.lost, sat.sent)
	if sat.lost > sat.sent/100 {
		t.Errorf("closed loop: %v of %v queries lost; want under 1%%", sat.lost, sat.sent)
	}
	type sample struct{ goroutines, fds, heap, rss float64 }
	read := func() sample {
		return sample{
			metric(t, n.Admin(), "", "go_goroutines"),
			metric(t, n.Admin(), "", "process_open_fds"),
			metric(t, n.Admin(), "", "go_memstats_heap_inuse_bytes"),
			metric(t, n.Admin(), "", "process_resident_memory_bytes"),
		}
	}
	base := read()

	// Phase 2: that rate for loadSeconds, while containers churn.
	seconds := loadSeconds(t)
	ctx, cancel := context.WithCancel(context.Background())
	churned := make(chan error, 1)
	go func() { churned <- churn(ctx, cli, image, sel, churnNames) }()
	drops := udpRcvbufErrors()
	rate := int(sat.qps*loadFactor(t)) + 1
	load := dnsperf(t, bin, n.DNS(), file, "-l", strconv.Itoa(seconds), "-c", "4", "-q", "1000", "-Q", strconv.Itoa(rate))
	drops = udpRcvbufErrors() - drops
	cancel()
	if err := <-churned; err != nil {
		t.Errorf("churning containers: %v", err)
	}
	t.Logf("load (%d queries/s asked, %ds, containers churning): %.0f queries/s, %v sent, %v lost; UDP receive buffer overflows on this machine meanwhile: %d",
		rate, seconds, load.qps, load.sent, load.lost, drops)
	if load.lost > load.sent/100 {
		t.Errorf("%v of %v queries lost (%.2f%%); want under 1%%\n%s", load.lost, load.sent, 100*load.lost/load.sent, load.out)
	}

	// The records stayed right through the churn.
	newRealityCheck(t, map[string]string{n.name: sel}, newViewer(t, n.name, n.Admin(), "", n.DNS())).await(t, 30*time.Second)

	// After the load: no goroutine, descriptor or heap growth. The heap
	// bound is loose: miekg pools a 64 KiB read buffer per UDP query in
	// flight (up to 4096 of them), and an idle process may not collect
	// them for minutes; the goroutine and descriptor bounds are tight.
	var after sample
	err = await.Check(60*time.Second, func() error {
		after = read()
		if after.goroutines > base.goroutines+10 {
			return fmt.Errorf("goroutines: %v after the first phase, %v after the second", base.goroutines, after.goroutines)
		}
		if after.fds > base.fds+5 {
			return fmt.Errorf("open descriptors: %v after the first phase, %v after the second", base.fds, after.fds)
		}
		if limit := base.heap + 64<<20; after.heap > limit {
			return fmt.Errorf("heap in use: %.1f MiB after the first phase, %.1f MiB after the second", base.heap/(1<<20), after.heap/(1<<20))
		}
		return nil
	})
	t.Logf("goroutines %v → %v, open descriptors %v → %v, heap in use %.1f → %.1f MiB, RSS %.1f → %.1f MiB",
		base.goroutines, after.goroutines, base.fds, after.fds, base.heap/(1<<20), after.heap/(1<<20), base.rss/(1<<20), after.rss/(1<<20))
	if err != nil {
		t.Error(err)
	}
	if err := probeNXDOMAIN(n.DNS()); err != nil {
		t.Errorf("after the load: %v", err)
	}
	noErrorLogs(t, n)
}

// churn starts and removes containers under the given names, round robin,
// until ctx ends; it returns the first Docker error.
func churn(ctx context.Context, cli *client.Client, image, sel string, names []string) error {
	for i := 0; ; i++ {
		name := names[i%len(names)]
		opCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cli.ContainerRemove(opCtx, name, container.RemoveOptions{Force: true})
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
			cancel()
			return err
		}
		if ctx.Err() != nil {
			cancel()
			return nil
		}
		created, err := cli.ContainerCreate(opCtx, &container.Config{Image: image, Labels: labels(sel, dockertest.LabelRun+"="+dockertest.RunID())}, nil, nil, nil, name)
		if err == nil {
			err = cli.ContainerStart(opCtx, created.ID, container.StartOptions{})
		}
		cancel()
		if err != nil {
			return err
		}
	}
}

// loadFactor is the share of the saturation rate the main phase asks for:
// SWARMDNS_E2E_LOAD_FACTOR, 1 by default.
func loadFactor(t *testing.T) float64 {
	if s := os.Getenv("SWARMDNS_E2E_LOAD_FACTOR"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			t.Fatalf("SWARMDNS_E2E_LOAD_FACTOR=%q: want a positive number", s)
		}
		return f
	}
	return 1
}

// udpRcvbufErrors reads the machine's count of UDP datagrams dropped
// because a socket's receive buffer was full (/proc/net/snmp), or -1.
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return -1
}
