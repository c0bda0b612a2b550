package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/internal/metric"
	"github.com/swarmdns/swarmdns/internal/testrun"
	"github.com/swarmdns/swarmdns/registry"
)

// These tests run the debug verbs into buffers against an in-process admin
// server holding a real registry.

type testMembers []admin.Member

func (m testMembers) Members() []admin.Member { return append([]admin.Member(nil), m...) }

// testExplainer answers every query with the zone's records for the name,
// leaving unhealthy ones out; it records the last query.
type testExplainer struct {
	zone *registry.Registry

	mu     sync.Mutex
	qtype  uint16
	client netip.Addr
}

func (e *testExplainer) Explain(_ context.Context, name string, qtype uint16, client netip.Addr) (admin.Explanation, error) {
	e.mu.Lock()
	e.qtype, e.client = qtype, client
	e.mu.Unlock()
	ex := admin.Explanation{Rcode: "NXDOMAIN"}
	for _, set := range e.zone.Snapshot().Lookup(name) {
		ex.Rcode = "NOERROR"
		for _, a := range set.Addrs {
			c := admin.Candidate{Name: name, Address: a.IP.String(), Network: a.Network, Node: set.Node,
				ContainerID: set.ContainerID, Health: set.Health.String(), Included: set.Health.Serving()}
			if c.Included {
				ex.Answer = append(ex.Answer, name+"\t5\tIN\tA\t"+c.Address)
			} else {
				c.Reason = "container is " + c.Health
			}
			ex.Candidates = append(ex.Candidates, c)
		}
	}
	if ex.Rcode == "NXDOMAIN" {
		ex.Authority = []string{"swarm.internal.\t5\tIN\tSOA\tns.swarm.internal. hostmaster.swarm.internal. 1 60 60 60 5"}
	}
	return ex, nil
}

// debugServer starts an admin server on 127.0.0.1:0 for node n1 with one
// local container and two of n2 (one unhealthy) and returns its address.
// The counter it returns adds to both the requests and the responses
// (rcode) of a query type: count(type, rcode).
func debugServer(t *testing.T, token string) (string, *testExplainer, func(qtype, rcode string)) {
	t.Helper()
	zone, err := registry.New(registry.Config{Node: "n1", Generation: 11})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zone.SetLocal(registry.RecordSet{ContainerID: "0123456789abcdef0123", Name: "web.swarm.internal",
		Addrs: []registry.Addr{{IP: netip.MustParseAddr("10.0.1.5"), Network: "front"}}, Health: registry.HealthHealthy}); err != nil {
		t.Fatal(err)
	}
	for i, set := range []registry.RecordSet{
		{ContainerID: "fedcba9876543210fedc", Name: "web.swarm.internal", Addrs: []registry.Addr{{IP: netip.MustParseAddr("10.0.1.6"), Network: "front"}}, Health: registry.HealthUnhealthy},
		{ContainerID: "cccc3333", Name: "db.swarm.internal", Addrs: []registry.Addr{{IP: netip.MustParseAddr("10.0.2.7"), Network: "back"}}},
	} {
		if _, err := zone.ApplyDelta(registry.Delta{Node: "n2", Generation: 22, Version: uint64(i + 1), ContainerID: set.ContainerID, Set: &set}); err != nil {
			t.Fatal(err)
		}
	}
	pr := prometheus.NewRegistry()
	requests, responses := metric.DNSRequests.CounterVec(), metric.DNSResponses.CounterVec()
	pr.MustRegister(requests, responses)
	count := func(qtype, rcode string) {
		requests.WithLabelValues("swarm.internal.", "udp", "1", qtype).Inc()
		responses.WithLabelValues("swarm.internal.", "udp", "1", rcode, "zone").Inc()
	}
	for range 41 {
		count("A", "NOERROR")
	}
	ex := &testExplainer{zone: zone}
	s, err := admin.New(admin.Config{
		Listen: "127.0.0.1:0", Token: token, Zone: zone, ZoneName: "swarm.internal.",
		Members: testMembers{
			{Name: "n1", Addr: "127.0.0.1:7947", State: "alive"},
			{Name: "n2", Addr: "127.0.0.2:7947", State: "alive", Since: time.Now().Add(-time.Minute), LastSeen: time.Now().Add(-2 * time.Second)},
		},
		Explainer: ex, Gatherer: pr, Registerer: pr, Version: "test",
		Logger: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	testrun.Start(t, s.Run)
	return s.Addr().String(), ex, count
}

// noEnv isolates the verbs from the environment the tests run in.
func noEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := debugGetenv
	debugGetenv = func(k string) string { return env[k] }
	t.Cleanup(func() { debugGetenv = old })
}

// run runs the command line and returns its exit code and outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// checkAligned checks that every line of a table starts each column where
// its header does.
func checkAligned(t *testing.T, out string, headers ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var offs []int
	for _, h := range headers {
		i := strings.Index(lines[0], h)
		if i < 0 {
			t.Fatalf("header %q not in %q", h, lines[0])
		}
		offs = append(offs, i)
	}
	for _, l := range lines[1:] {
		for j, off := range offs {
			if off >= len(l) || l[off] == ' ' || (off > 0 && l[off-1] != ' ') {
				t.Errorf("column %s not aligned in line %q (header %q)", headers[j], l, lines[0])
			}
		}
	}
}

func TestMembersVerb(t *testing.T) {
	noEnv(t, nil)
	addr, _, _ := debugServer(t, "")
	code, out, errOut := run(t, "members", "--admin", addr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	checkAligned(t, out, "NAME", "ADDRESS", "STATE", "SINCE", "RECORDS", "GENERATION", "LAST SEEN")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines; want header + 2:\n%s", len(lines), out)
	}
	if f := strings.Fields(lines[1]); f[0] != "n1" || f[2] != "alive" || f[4] != "1" || f[5] != "11" || !strings.Contains(lines[1], "this node") {
		t.Errorf("n1 line: got %q", lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != "n2" || f[1] != "127.0.0.2:7947" || f[3] != "1m0s" || f[4] != "ago" || f[5] != "2" || f[6] != "22" || !strings.Contains(lines[2], "s ago") {
		t.Errorf("n2 line: got %q", lines[2])
	}

	code, out, errOut = run(t, "members", "--json", "--admin", "http://"+addr)
	if code != exitOK {
		t.Fatalf("--json: exit %d; stderr %s", code, errOut)
	}
	var resp admin.MembersResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if resp.Node != "n1" || len(resp.Members) != 2 || resp.Members[1].Records != 2 || !resp.Members[0].Local {
		t.Errorf("--json: got %+v", resp)
	}
}

func TestRecordsVerb(t *testing.T) {
	addr, _, _ := debugServer(t, "")
	noEnv(t, map[string]string{"SWARMDNS_ADMIN": addr})
	code, out, errOut := run(t, "records")
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	checkAligned(t, out, "NODE", "CONTAINER", "NAMES", "ADDRESSES", "HEALTH", "VERSION")
	for _, want := range []string{"0123456789ab ", "10.0.1.6 (front)", "unhealthy (not served)", "db.swarm.internal."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0123456789abc") {
		t.Errorf("container ID not shortened:\n%s", out)
	}

	code, out, _ = run(t, "records", "--node", "n2", "--name", "web", "--json")
	var resp admin.RecordsResponse
	if code != exitOK || json.Unmarshal([]byte(out), &resp) != nil {
		t.Fatalf("--json: exit %d, output %q", code, out)
	}
	if len(resp.Records) != 1 || resp.Records[0].ContainerID != "fedcba9876543210fedc" || resp.Records[0].Serving {
		t.Errorf("--node n2 --name web: got %+v", resp.Records)
	}

	code, out, errOut = run(t, "records", "--container", "nope")
	if code != exitOK || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "no matching records") {
		t.Errorf("no match: got exit %d, stdout %q, stderr %q; want 0, the header only, a note", code, out, errOut)
	}
}

func TestLookupVerb(t *testing.T) {
	noEnv(t, nil)
	addr, ex, _ := debugServer(t, "")
	code, out, errOut := run(t, "lookup", "web", "AAAA", "--client", "10.0.1.9", "--admin", addr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	ex.mu.Lock()
	qtype, client := ex.qtype, ex.client
	ex.mu.Unlock()
	if qtype != 28 || client != netip.MustParseAddr("10.0.1.9") {
		t.Errorf("explainer got type %d client %v; want 28 10.0.1.9", qtype, client)
	}
	if !strings.HasPrefix(out, "web.swarm.internal. AAAA for client 10.0.1.9: NOERROR\n") {
		t.Errorf("first line: got %q", strings.SplitN(out, "\n", 2)[0])
	}
	_, table, ok := strings.Cut(out, "RECORDS IN THE ZONE\n")
	if !ok {
		t.Fatalf("no candidates table:\n%s", out)
	}
	checkAligned(t, table, "NAME", "ADDRESS", "NETWORK", "NODE", "CONTAINER", "HEALTH", "ANSWERED", "WHY")
	var left string
	for _, l := range strings.Split(table, "\n") {
		if strings.Contains(l, "10.0.1.6") {
			left = l
		}
	}
	if f := strings.Fields(left); len(f) < 8 || f[3] != "n2" || f[5] != "unhealthy" || f[6] != "no" || !strings.Contains(left, "container is unhealthy") {
		t.Errorf("left-out record line: got %q", left)
	}

	code, out, _ = run(t, "lookup", "--json", "--admin", addr, "nothing.swarm.internal.")
	var got admin.Explanation
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("--json: exit %d, output %q", code, out)
	}
	if got.Rcode != "NXDOMAIN" || got.Type != "A" || len(got.Authority) != 1 || len(got.Candidates) != 0 {
		t.Errorf("--json NXDOMAIN: got %+v", got)
	}
	code, out, _ = run(t, "lookup", "--admin", addr, "nothing.swarm.internal.")
	if code != exitOK || !strings.Contains(out, "NXDOMAIN") || !strings.Contains(out, "AUTHORITY") || !strings.Contains(out, "no record in the zone has this name") {
		t.Errorf("table NXDOMAIN: exit %d:\n%s", code, out)
	}

	code, _, errOut = run(t, "lookup", "--admin", addr, "web", "BOGUS")
	if code != exitError || !strings.Contains(errOut, "unknown DNS type") {
		t.Errorf("bad type: got exit %d, stderr %q; want 1 naming the type", code, errOut)
	}
}

func TestStatsVerb(t *testing.T) {
	noEnv(t, nil)
	addr, _, count := debugServer(t, "")
	code, out, errOut := run(t, "stats", "--admin", addr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	for _, want := range []string{"node", "n1", "queries", "41", "A=41", "NOERROR=41", "members", "alive=2", "reconnects", "last sync", "never", "forward latency", "(not measured)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	count("AAAA", "NXDOMAIN")
	code, out, _ = run(t, "stats", "--admin", addr, "--json")
	var st admin.Stats
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("--json: exit %d, output %q", code, out)
	}
	if st.DNS.Queries != 42 || st.DNS.ByRcode["NXDOMAIN"] != 1 || st.Records != 3 {
		t.Errorf("--json: got %+v", st)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDebugVerbsUnreachable(t *testing.T) {
	addr := closedAddr(t)
	noEnv(t, map[string]string{"SWARMDNS_ADMIN": addr})
	for _, args := range [][]string{{"members"}, {"records"}, {"lookup", "web"}, {"stats"}, {"members", "--json"}} {
		code, out, errOut := run(t, args...)
		if code != exitError {
			t.Errorf("%v: got exit %d; want 1", args, code)
		}
		if !strings.Contains(errOut, addr) || !strings.Contains(errOut, "unreachable") || out != "" {
			t.Errorf("%v: got stdout %q, stderr %q; want nothing and a message naming %s", args, out, errOut, addr)
		}
	}
}

func TestDebugVerbsToken(t *testing.T) {
	addr, _, _ := debugServer(t, "tok3n")
	noEnv(t, nil)
	code, _, errOut := run(t, "members", "--admin", addr)
	if code != exitError || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "--admin-token") {
		t.Errorf("without token: got exit %d, stderr %q; want 1 with a hint", code, errOut)
	}
	if code, _, errOut := run(t, "members", "--admin", addr, "--admin-token", "tok3n"); code != exitOK {
		t.Errorf("--admin-token: got exit %d, stderr %q", code, errOut)
	}
	noEnv(t, map[string]string{"SWARMDNS_ADMIN": addr, "SWARMDNS_ADMIN_TOKEN": "tok3n"})
	if code, _, errOut := run(t, "stats"); code != exitOK {
		t.Errorf("token from env: got exit %d, stderr %q", code, errOut)
	}
}

func TestDebugVerbsBadArgs(t *testing.T) {
	noEnv(t, map[string]string{"SWARMDNS_ADMIN": closedAddr(t)})
	for _, args := range [][]string{
		{"members", "--bogus"},
		{"members", "extra"},
		{"records", "web"},
		{"records", "--node"},
		{"lookup"},
		{"lookup", "a", "A", "b"},
		{"lookup", "web", "--client", "not-an-ip"},
		{"stats", "--timeout", "0s"},
		{"stats", "--timeout", "soon"},
		{"stats", "--admin", "ftp://x:1"},
		{"stats", "--admin", ""},
	} {
		code, out, errOut := run(t, args...)
		if code != exitUsage || errOut == "" || out != "" {
			t.Errorf("%v: got exit %d, stdout %q, stderr %q; want 2 with a message on stderr", args, code, out, errOut)
		}
	}
	noEnv(t, map[string]string{"SWARMDNS_JSON": "maybe"})
	if code, _, errOut := run(t, "members"); code != exitUsage || !strings.Contains(errOut, "SWARMDNS_JSON") {
		t.Errorf("bad env value: got exit %d, stderr %q; want 2 naming the variable", code, errOut)
	}
	code, out, errOut := run(t, "lookup", "--help")
	if code != exitOK || out != "" || !strings.Contains(errOut, "--client") || !strings.Contains(errOut, "SWARMDNS_ADMIN_TOKEN") {
		t.Errorf("--help: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestDefaultAdminAddr(t *testing.T) {
	for listen, want := range map[string]string{
		"":               "127.0.0.1:8053",
		"0.0.0.0:9000":   "127.0.0.1:9000",
		":9001":          "127.0.0.1:9001",
		"[::]:9002":      "127.0.0.1:9002",
		"10.1.2.3:9003":  "10.1.2.3:9003",
		"localhost:9004": "localhost:9004",
		"garbage":        "127.0.0.1:8053",
	} {
		got := defaultAdminAddr(func(k string) string {
			if k == "SWARMDNS_ADMIN_LISTEN" {
				return listen
			}
			return ""
		})
		if got != want {
			t.Errorf("SWARMDNS_ADMIN_LISTEN=%q: got %q; want %q", listen, got, want)
		}
	}
	// The flag's default follows the environment; SWARMDNS_ADMIN wins.
	addr, _, _ := debugServer(t, "")
	_, port, _ := net.SplitHostPort(addr)
	noEnv(t, map[string]string{"SWARMDNS_ADMIN_LISTEN": "0.0.0.0:" + port})
	if code, _, errOut := run(t, "members"); code != exitOK {
		t.Errorf("admin from SWARMDNS_ADMIN_LISTEN: exit %d, stderr %q", code, errOut)
	}
	noEnv(t, map[string]string{"SWARMDNS_ADMIN_LISTEN": "0.0.0.0:" + port, "SWARMDNS_ADMIN": closedAddr(t)})
	if code, _, _ := run(t, "members"); code != exitError {
		t.Errorf("SWARMDNS_ADMIN over SWARMDNS_ADMIN_LISTEN: got exit %d; want 1", code)
	}
}
