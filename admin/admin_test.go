package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/internal/metric"
	"github.com/swarmdns/swarmdns/internal/testrun"
	"github.com/swarmdns/swarmdns/registry"
)

// fakeMembers is a MemberLister with a fixed list.
type fakeMembers struct {
	mu sync.Mutex
	ms []admin.Member
}

func (f *fakeMembers) Members() []admin.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]admin.Member(nil), f.ms...)
}

// fakeExplainer records its last query and answers with ex or err.
type fakeExplainer struct {
	mu     sync.Mutex
	name   string
	qtype  uint16
	client netip.Addr
	ex     admin.Explanation
	err    error
}

func (f *fakeExplainer) Explain(ctx context.Context, name string, qtype uint16, client netip.Addr) (admin.Explanation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.name, f.qtype, f.client = name, qtype, client
	return f.ex, f.err
}

func (f *fakeExplainer) last() (string, uint16, netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.name, f.qtype, f.client
}

// testZone returns a registry for node "n1" holding one local container
// and two of node "n2" (one unhealthy).
func testZone(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := registry.New(registry.Config{Node: "n1", Generation: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetLocal(registry.RecordSet{
		ContainerID: "aaaa1111", Name: "web.swarm.internal", Names: []string{"www.swarm.internal"},
		Addrs:  []registry.Addr{{IP: netip.MustParseAddr("10.0.1.5"), Network: "front", Subnet: netip.MustParsePrefix("10.0.1.0/24")}},
		Health: registry.HealthHealthy, Image: "nginx:1",
		Ports:   []registry.Port{{Service: "http", Proto: "tcp", Port: 80}},
		Aliases: []registry.Alias{{Name: "home.swarm.internal", Target: "web.swarm.internal"}},
	}); err != nil {
		t.Fatal(err)
	}
	for i, set := range []registry.RecordSet{
		{ContainerID: "bbbb2222", Name: "web.swarm.internal", Addrs: []registry.Addr{{IP: netip.MustParseAddr("10.0.1.6"), Network: "front"}}, Health: registry.HealthUnhealthy},
		{ContainerID: "cccc3333", Name: "db.swarm.internal", Addrs: []registry.Addr{{IP: netip.MustParseAddr("10.0.2.7"), Network: "back"}}},
	} {
		if _, err := reg.ApplyDelta(registry.Delta{Node: "n2", Generation: 200, Version: uint64(i + 1), ContainerID: set.ContainerID, Set: &set}); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// localVersion is the version the zone holds for a local container.
func localVersion(zone *registry.Registry, id string) uint64 {
	set, _ := zone.Snapshot().NodeSet(zone.LocalNode(), id)
	if set == nil {
		return 0
	}
	return set.Version
}

// startServer builds a server on 127.0.0.1:0 from cfg (filling Zone,
// Gatherer, Registerer and Logger when unset), runs it until the test ends
// and returns it with its base URL.
func startServer(t *testing.T, cfg admin.Config) (*admin.Server, string) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Zone == nil {
		cfg.Zone = testZone(t)
	}
	if cfg.Gatherer == nil {
		pr := prometheus.NewRegistry()
		cfg.Gatherer, cfg.Registerer = pr, pr
	}
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	s, err := admin.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testrun.Start(t, s.Run)
	return s, "http://" + s.Addr().String()
}

// call makes one request and returns the status and body.
func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// getJSON GETs url, checks the status and decodes the body into out.
func getJSON(t *testing.T, url string, wantStatus int, out any) {
	t.Helper()
	status, body := call(t, http.MethodGet, url, "", "")
	if status != wantStatus {
		t.Fatalf("GET %s: got status %d (%s); want %d", url, status, body, wantStatus)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: decode %s: %v", url, body, err)
	}
}

func TestMembersMergesGossipAndZone(t *testing.T) {
	zone := testZone(t)
	lease := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	zone.SetLease("n2", lease)
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	members := &fakeMembers{ms: []admin.Member{
		{Name: "n3", Addr: "10.9.0.3:7946", State: "dead", LastSeen: seen, Generation: 300},
		{Name: "n2", Addr: "10.9.0.2:7946", State: "suspect", LastSeen: seen},
		{Name: "n1", Addr: "10.9.0.1:7946", State: "alive"},
	}}
	_, base := startServer(t, admin.Config{Zone: zone, Members: members})

	var got admin.MembersResponse
	getJSON(t, base+"/v1/members", http.StatusOK, &got)
	if got.Node != "n1" {
		t.Errorf("node: got %q; want n1", got.Node)
	}
	want := []admin.Member{
		{Name: "n1", Addr: "10.9.0.1:7946", State: "alive", Generation: 100, Records: 1, Local: true},
		{Name: "n2", Addr: "10.9.0.2:7946", State: "suspect", LastSeen: seen, Generation: 200, Records: 2, Stale: true, LeaseExpires: lease},
		{Name: "n3", Addr: "10.9.0.3:7946", State: "dead", LastSeen: seen, Generation: 300},
	}
	if len(got.Members) != len(want) {
		t.Fatalf("got %d members %+v; want %d", len(got.Members), got.Members, len(want))
	}
	for i := range want {
		g, w := got.Members[i], want[i]
		if !g.LastSeen.Equal(w.LastSeen) || !g.LeaseExpires.Equal(w.LeaseExpires) {
			t.Errorf("member %d times: got %v, %v; want %v, %v", i, g.LastSeen, g.LeaseExpires, w.LastSeen, w.LeaseExpires)
		}
		g.LastSeen, g.LeaseExpires, w.LastSeen, w.LeaseExpires = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("member %d: got %+v; want %+v", i, g, w)
		}
	}
}

func TestMembersWithoutGossipListsZoneNodes(t *testing.T) {
	_, base := startServer(t, admin.Config{})
	var got admin.MembersResponse
	getJSON(t, base+"/v1/members", http.StatusOK, &got)
	var states []string
	for _, m := range got.Members {
		states = append(states, fmt.Sprintf("%s=%s/%d", m.Name, m.State, m.Records))
	}
	if g, w := strings.Join(states, " "), "n1=alive/1 n2=unknown/2"; g != w {
		t.Errorf("got %s; want %s", g, w)
	}
}

func TestRecordsFilters(t *testing.T) {
	zone := testZone(t)
	_, base := startServer(t, admin.Config{Zone: zone})
	for _, tc := range []struct {
		query string
		want  string // container IDs
	}{
		{"", "aaaa1111 bbbb2222 cccc3333"},
		{"?node=n2", "bbbb2222 cccc3333"},
		{"?node=n9", ""},
		{"?name=web", "aaaa1111 bbbb2222"},
		{"?name=WEB.swarm.internal.", "aaaa1111 bbbb2222"},
		{"?name=www", "aaaa1111"},
		{"?name=home.swarm.internal", "aaaa1111"}, // an alias
		{"?name=swarm.internal.", ""},             // anchored: no set is named the apex
		{"?name=swarm", ""},
		{"?container=CCCC", "cccc3333"},
		{"?node=n2&name=web", "bbbb2222"},
	} {
		var got admin.RecordsResponse
		getJSON(t, base+"/v1/records"+tc.query, http.StatusOK, &got)
		if got.Records == nil {
			t.Errorf("%q: records is null; want a list", tc.query)
		}
		var ids []string
		for _, r := range got.Records {
			ids = append(ids, r.ContainerID)
		}
		if g := strings.Join(ids, " "); g != tc.want {
			t.Errorf("%q: got %q; want %q", tc.query, g, tc.want)
		}
	}

	var got admin.RecordsResponse
	getJSON(t, base+"/v1/records?container=aaaa", http.StatusOK, &got)
	r := got.Records[0]
	if r.Node != "n1" || r.Name != "web.swarm.internal." || strings.Join(r.Names, ",") != "web.swarm.internal.,www.swarm.internal." ||
		len(r.Addrs) != 1 || r.Addrs[0] != (admin.RecordAddr{IP: "10.0.1.5", Network: "front", Subnet: "10.0.1.0/24"}) ||
		r.Health != "healthy" || !r.Serving || r.Image != "nginx:1" || r.Version != localVersion(zone, "aaaa1111") ||
		len(r.Ports) != 1 || r.Ports[0] != (admin.RecordPort{Service: "http", Proto: "tcp", Port: 80}) ||
		len(r.Aliases) != 1 || r.Aliases[0] != (admin.RecordAlias{Name: "home.swarm.internal.", Target: "web.swarm.internal."}) {
		t.Errorf("got %+v", r)
	}

	for _, q := range []string{"?nod=n1", "?node=n1&node=n2", "?name=%zz"} {
		status, body := call(t, http.MethodGet, base+"/v1/records"+q, "", "")
		var e admin.ErrorResponse
		if status != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("%q: got %d %s; want 400 with a JSON error", q, status, body)
		}
	}
}

func TestLookup(t *testing.T) {
	ex := &fakeExplainer{ex: admin.Explanation{
		Rcode:  "NOERROR",
		Answer: []string{"web.swarm.internal.\t5\tIN\tA\t10.0.1.5"},
		Candidates: []admin.Candidate{
			{Name: "web.swarm.internal.", Address: "10.0.1.5", Node: "n1", ContainerID: "aaaa1111", Health: "healthy", Included: true},
			{Name: "web.swarm.internal.", Address: "10.0.1.6", Node: "n2", ContainerID: "bbbb2222", Health: "unhealthy", Reason: "unhealthy"},
		},
	}}
	_, base := startServer(t, admin.Config{Explainer: ex, ZoneName: "swarm.internal"})

	var got admin.Explanation
	getJSON(t, base+"/v1/lookup?name=WEB&type=aaaa&client=::ffff:10.0.1.9", http.StatusOK, &got)
	name, qtype, client := ex.last()
	if name != "web.swarm.internal." || qtype != 28 || client != netip.MustParseAddr("10.0.1.9") {
		t.Errorf("explainer got %q %d %v; want web.swarm.internal. 28 10.0.1.9", name, qtype, client)
	}
	if got.Name != "web.swarm.internal." || got.Type != "AAAA" || got.Client != "10.0.1.9" || got.Rcode != "NOERROR" ||
		len(got.Answer) != 1 || len(got.Candidates) != 2 || got.Candidates[1].Reason != "unhealthy" || got.Candidates[1].Included {
		t.Errorf("got %+v", got)
	}

	got = admin.Explanation{}
	getJSON(t, base+"/v1/lookup?name=example.org.&type=TYPE65", http.StatusOK, &got)
	if name, qtype, client := ex.last(); name != "example.org." || qtype != 65 || client.IsValid() {
		t.Errorf("explainer got %q %d %v; want example.org. 65 and no client", name, qtype, client)
	}
	if got.Type != "HTTPS" || got.Client != "" {
		t.Errorf("got type %q client %q; want HTTPS and none", got.Type, got.Client)
	}

	for _, q := range []string{"", "?type=A", "?name=a..b", "?name=web&type=BOGUS", "?name=web&client=10.0.0", "?name=web&extra=1"} {
		status, body := call(t, http.MethodGet, base+"/v1/lookup"+q, "", "")
		if status != http.StatusBadRequest {
			t.Errorf("%q: got %d %s; want 400", q, status, body)
		}
	}

	ex.mu.Lock()
	ex.err = fmt.Errorf("name too deep: %w", admin.ErrInvalidQuery)
	ex.mu.Unlock()
	if status, body := call(t, http.MethodGet, base+"/v1/lookup?name=web", "", ""); status != http.StatusBadRequest {
		t.Errorf("invalid-query error: got %d %s; want 400", status, body)
	}
	ex.mu.Lock()
	ex.err = errors.New("upstream exploded")
	ex.mu.Unlock()
	if status, body := call(t, http.MethodGet, base+"/v1/lookup?name=web", "", ""); status != http.StatusInternalServerError || !strings.Contains(string(body), "upstream exploded") {
		t.Errorf("explainer error: got %d %s; want 500 naming the error", status, body)
	}
}

func TestLookupWithoutExplainer(t *testing.T) {
	_, base := startServer(t, admin.Config{})
	if status, body := call(t, http.MethodGet, base+"/v1/lookup?name=web.", "", ""); status != http.StatusNotImplemented {
		t.Errorf("got %d %s; want 501", status, body)
	}
}

func TestReadyzTurnsReadyAfterSync(t *testing.T) {
	var synced atomic.Bool
	_, base := startServer(t, admin.Config{Ready: []admin.Check{
		{Name: "dns", Ready: func() error { return nil }},
		{Name: "docker-sync", Ready: func() error {
			if !synced.Load() {
				return errors.New("first Docker sync not done")
			}
			return nil
		}},
	}})

	var rd admin.Readiness
	getJSON(t, base+"/readyz", http.StatusServiceUnavailable, &rd)
	if rd.Ready || len(rd.Checks) != 2 || !rd.Checks[0].Ready || rd.Checks[1].Ready || rd.Checks[1].Error != "first Docker sync not done" {
		t.Errorf("before sync: got %+v; want not ready, docker-sync failing", rd)
	}
	if status, _ := call(t, http.MethodGet, base+"/healthz", "", ""); status != http.StatusOK {
		t.Errorf("healthz before sync: got %d; want 200", status)
	}

	synced.Store(true)
	rd = admin.Readiness{}
	getJSON(t, base+"/readyz", http.StatusOK, &rd)
	if !rd.Ready || !rd.Checks[1].Ready {
		t.Errorf("after sync: got %+v; want ready", rd)
	}
}

func TestTokenRequired(t *testing.T) {
	const token = "s3cret-token"
	_, base := startServer(t, admin.Config{Token: token})
	for _, path := range []string{"/v1/members", "/v1/records", "/v1/stats", "/metrics", "/v1/version", "/v1/log-level", "/v1/lookup", "/nope"} {
		for _, tok := range []string{"", "wrong", token + "x"} {
			status, body := call(t, http.MethodGet, base+path, tok, "")
			if status != http.StatusUnauthorized {
				t.Errorf("%s with token %q: got %d %s; want 401", path, tok, status, body)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/members", nil)
	req.Header.Set("Authorization", "Basic "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("basic auth: got %d, WWW-Authenticate %q; want 401 with the header", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	for _, path := range []string{"/v1/members", "/metrics", "/readyz"} {
		if status, body := call(t, http.MethodGet, base+path, token, ""); status != http.StatusOK {
			t.Errorf("%s with the token: got %d %s; want 200", path, status, body)
		}
	}
	// The probes need no token (Config.Token says why).
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _ := call(t, http.MethodGet, base+path, "", ""); status != http.StatusOK {
			t.Errorf("%s without token: got %d; want 200", path, status)
		}
	}
}

func TestNewRefusesNonLoopbackWithoutToken(t *testing.T) {
	zone := testZone(t)
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		s, err := admin.New(admin.Config{Listen: listen, Zone: zone, Gatherer: prometheus.NewRegistry()})
		if err == nil {
			s.Close()
			t.Errorf("%s without token: got nil error; want a refusal", listen)
			continue
		}
		if !strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), listen) {
			t.Errorf("%s: got %q; want an error naming the address and the token", listen, err)
		}
	}
	for _, cfg := range []admin.Config{
		{Listen: "0.0.0.0:0", Token: "t"},
		{Listen: "localhost:0"},
		{Listen: "127.0.0.1:0"},
		{Listen: "[::1]:0"},
	} {
		cfg.Zone, cfg.Gatherer = zone, prometheus.NewRegistry()
		s, err := admin.New(cfg)
		if err != nil {
			if cfg.Listen == "[::1]:0" && strings.Contains(err.Error(), "cannot assign") {
				continue // no IPv6 loopback here
			}
			t.Errorf("%s (token %q): %v", cfg.Listen, cfg.Token, err)
			continue
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	zone := testZone(t)
	pr := prometheus.NewRegistry()
	for name, cfg := range map[string]admin.Config{
		"no zone":     {Listen: "127.0.0.1:0", Gatherer: pr},
		"no gatherer": {Listen: "127.0.0.1:0", Zone: zone},
		"bad check":   {Listen: "127.0.0.1:0", Zone: zone, Gatherer: pr, Ready: []admin.Check{{Name: "x"}}},
		"bad address": {Listen: "127.0.0.1:99999", Zone: zone, Gatherer: pr},
	} {
		if s, err := admin.New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: got nil error", name)
		}
	}
	// The port is taken: the error surfaces at New.
	s, base := startServer(t, admin.Config{})
	_ = base
	if s2, err := admin.New(admin.Config{Listen: s.Addr().String(), Zone: zone, Gatherer: pr}); err == nil {
		s2.Close()
		t.Errorf("listening twice on %s: got nil error", s.Addr())
	}
}

// scrape GETs /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: got status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the series of family name with the given
// label pairs ("k", "v", ...), and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, kv ...string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(kv); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == kv[i] && lp.GetValue() == kv[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsScrapedAndMoving(t *testing.T) {
	pr := prometheus.NewRegistry()
	requests := metric.DNSRequests.CounterVec()
	pr.MustRegister(requests)
	requests.WithLabelValues("swarm.internal.", "udp", "1", "A").Add(3)
	zone := testZone(t)
	members := &fakeMembers{ms: []admin.Member{{Name: "n1", State: "alive"}, {Name: "n2", State: "alive"}, {Name: "n3", State: "dead"}}}
	_, base := startServer(t, admin.Config{Zone: zone, Members: members, Gatherer: pr, Registerer: pr})

	mfs := scrape(t, base)
	if v, ok := value(mfs, metric.DNSRequests.Name, "type", "A"); !ok || v != 3 {
		t.Errorf("first scrape: got %v (present %v); want 3", v, ok)
	}
	for _, c := range []struct {
		name, k, v string
		want       float64
	}{
		{metric.Records.Name, "node", "n1", 1},
		{metric.Records.Name, "node", "n2", 2},
	} {
		if got, ok := value(mfs, c.name, c.k, c.v); !ok || got != c.want {
			t.Errorf("%s{%s=%q}: got %v (present %v); want %v", c.name, c.k, c.v, got, ok, c.want)
		}
	}

	requests.WithLabelValues("swarm.internal.", "udp", "1", "A").Inc()
	requests.WithLabelValues("swarm.internal.", "udp", "1", "AAAA").Inc()
	zone.RemoveLocal("aaaa1111")
	mfs = scrape(t, base)
	if v, _ := value(mfs, metric.DNSRequests.Name, "type", "A"); v != 4 {
		t.Errorf("second scrape A: got %v; want 4", v)
	}
	if v, _ := value(mfs, metric.DNSRequests.Name, "type", "AAAA"); v != 1 {
		t.Errorf("second scrape AAAA: got %v; want 1", v)
	}
	if v, _ := value(mfs, metric.Records.Name, "node", "n1"); v != 0 {
		t.Errorf("second scrape swarmdns_records{node=n1}: got %v; want 0", v)
	}
}

func TestStatsReadFromRegistry(t *testing.T) {
	pr := prometheus.NewRegistry()
	requests := metric.DNSRequests.CounterVec()
	responses := metric.DNSResponses.CounterVec()
	hits := metric.DNSCacheHits.Counter()
	misses := metric.DNSCacheMisses.Counter()
	fwdDef := metric.DNSForwardDuration
	fwdDef.Buckets = []float64{0.01, 0.1, 1}
	forward := fwdDef.HistogramVec()
	reconnects := metric.WatcherReconnects.Counter()
	lastSync := metric.WatcherLastSync.Gauge()
	gossipMsgs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmdns_gossip_messages_total", Help: "h"}, []string{"direction"})
	fwdErrors := metric.DNSForwardErrors.CounterVec()
	overload := metric.DNSOverload.CounterVec()
	pr.MustRegister(requests, responses, hits, misses, forward, reconnects, lastSync, gossipMsgs, fwdErrors, overload)
	fwdErrors.WithLabelValues("127.0.0.1:53").Add(4)
	overload.WithLabelValues("inflight").Add(6)

	requests.WithLabelValues("swarm.internal.", "udp", "1", "A").Add(5)
	requests.WithLabelValues(".", "tcp", "2", "A").Add(2)
	requests.WithLabelValues("swarm.internal.", "udp", "1", "AAAA").Add(1)
	responses.WithLabelValues("swarm.internal.", "udp", "1", "NOERROR", "zone").Add(6)
	responses.WithLabelValues(".", "tcp", "2", "NXDOMAIN", "upstream").Add(2)
	responses.WithLabelValues(".", "tcp", "2", "SERVFAIL", "server") // present at zero: not listed
	hits.Add(7)
	misses.Add(3)
	for range 9 {
		forward.WithLabelValues("127.0.0.1:53").Observe(0.005)
	}
	forward.WithLabelValues("127.0.0.2:53").Observe(0.5)
	reconnects.Add(2)
	sync := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	lastSync.Set(float64(sync.Unix()))
	gossipMsgs.WithLabelValues("in").Add(11)
	gossipMsgs.WithLabelValues("out").Add(12)

	_, base := startServer(t, admin.Config{Gatherer: pr, Registerer: pr})
	var st admin.Stats
	getJSON(t, base+"/v1/stats", http.StatusOK, &st)

	if st.Node != "n1" || st.Records != 3 || st.Members["alive"] != 1 || st.Members["unknown"] != 1 {
		t.Errorf("node/records/members: got %q %d %v", st.Node, st.Records, st.Members)
	}
	d := st.DNS
	if d.Queries != 8 || d.ByType["A"] != 7 || d.ByType["AAAA"] != 1 || d.ByRcode["NOERROR"] != 6 || d.ByRcode["NXDOMAIN"] != 2 {
		t.Errorf("queries: got %d %v %v; want 8, A=7 AAAA=1, NOERROR=6 NXDOMAIN=2", d.Queries, d.ByType, d.ByRcode)
	}
	if d.CacheHits != 7 || d.CacheMisses != 3 {
		t.Errorf("cache: got %d/%d; want 7/3", d.CacheHits, d.CacheMisses)
	}
	if d.ForwardErrors != 4 || d.Overload["inflight"] != 6 {
		t.Errorf("forward errors/overload: got %d %v; want 4, inflight=6", d.ForwardErrors, d.Overload)
	}
	if d.Requests != nil {
		t.Errorf("request latency: got %+v; want nil (not exported)", d.Requests)
	}
	f := d.Forward
	if f == nil || f.Count != 10 || f.P50Seconds <= 0 || f.P50Seconds > 0.01 || f.P99Seconds <= 0.1 || f.P99Seconds > 1 {
		t.Errorf("forward latency: got %+v; want 10 observations, p50 in (0, 0.01], p99 in (0.1, 1]", f)
	}
	if f != nil && (f.MeanSeconds < 0.054 || f.MeanSeconds > 0.055) {
		t.Errorf("forward mean: got %v; want 0.0545", f.MeanSeconds)
	}
	if st.Watcher.Reconnects != 2 || !st.Watcher.LastSync.Equal(sync) {
		t.Errorf("watcher: got %+v; want 2 reconnects, last sync %v", st.Watcher, sync)
	}
	if len(st.Gossip) != 2 || st.Gossip[0].Labels["direction"] != "in" || st.Gossip[0].Value != 11 || st.Gossip[1].Value != 12 {
		t.Errorf("gossip: got %+v", st.Gossip)
	}
}

func TestStatsWithoutMetrics(t *testing.T) {
	_, base := startServer(t, admin.Config{})
	var st admin.Stats
	getJSON(t, base+"/v1/stats", http.StatusOK, &st)
	if st.DNS.Queries != 0 || st.DNS.Forward != nil || !st.Watcher.LastSync.IsZero() || st.Gossip != nil {
		t.Errorf("got %+v; want zeros", st)
	}
}

func TestLogLevel(t *testing.T) {
	var mu sync.Mutex
	level := zerolog.InfoLevel
	cfg := admin.Config{
		LogLevel:    func() zerolog.Level { mu.Lock(); defer mu.Unlock(); return level },
		SetLogLevel: func(l zerolog.Level) { mu.Lock(); defer mu.Unlock(); level = l },
	}
	_, base := startServer(t, cfg)

	var ll admin.LogLevel
	getJSON(t, base+"/v1/log-level", http.StatusOK, &ll)
	if ll.Level != "info" {
		t.Errorf("GET: got %q; want info", ll.Level)
	}
	for _, c := range []struct{ query, body, want string }{
		{"?level=debug", "", "debug"},
		{"", `{"level":"WARN"}`, "warn"},
		{"", "error\n", "error"},
		{"", "trace", "trace"},
	} {
		status, body := call(t, http.MethodPut, base+"/v1/log-level"+c.query, "", c.body)
		if status != http.StatusOK || json.Unmarshal(body, &ll) != nil || ll.Level != c.want {
			t.Errorf("PUT %q %q: got %d %s; want 200 %s", c.query, c.body, status, body, c.want)
		}
		getJSON(t, base+"/v1/log-level", http.StatusOK, &ll)
		if ll.Level != c.want {
			t.Errorf("GET after PUT %q %q: got %q; want %q", c.query, c.body, ll.Level, c.want)
		}
	}
	for _, c := range []struct{ query, body string }{
		{"", ""}, {"?level=loud", ""}, {"?level=3", ""}, {"", `{"level":""}`}, {"", "{nope"}, {"?lvl=debug", ""},
		{"", strings.Repeat("x", 5000)},
	} {
		if status, body := call(t, http.MethodPut, base+"/v1/log-level"+c.query, "", c.body); status != http.StatusBadRequest {
			t.Errorf("PUT %q %.20q: got %d %s; want 400", c.query, c.body, status, body)
		}
	}
	mu.Lock()
	got := level
	mu.Unlock()
	if got != zerolog.TraceLevel {
		t.Errorf("level after bad PUTs: got %v; want trace", got)
	}
}

func TestLogLevelWithoutGetter(t *testing.T) {
	var set atomic.Int32
	set.Store(-100)
	_, base := startServer(t, admin.Config{SetLogLevel: func(l zerolog.Level) { set.Store(int32(l)) }})
	if status, _ := call(t, http.MethodGet, base+"/v1/log-level", "", ""); status != http.StatusNotImplemented {
		t.Errorf("GET before any PUT: got %d; want 501", status)
	}
	if status, body := call(t, http.MethodPut, base+"/v1/log-level?level=debug", "", ""); status != http.StatusOK {
		t.Fatalf("PUT: got %d %s", status, body)
	}
	if zerolog.Level(set.Load()) != zerolog.DebugLevel {
		t.Errorf("SetLogLevel got %v; want debug", zerolog.Level(set.Load()))
	}
	var ll admin.LogLevel
	getJSON(t, base+"/v1/log-level", http.StatusOK, &ll)
	if ll.Level != "debug" {
		t.Errorf("GET after PUT: got %q; want debug", ll.Level)
	}

	_, base2 := startServer(t, admin.Config{})
	if status, _ := call(t, http.MethodPut, base2+"/v1/log-level?level=debug", "", ""); status != http.StatusNotImplemented {
		t.Errorf("PUT without a setter: got %d; want 501", status)
	}
}

func TestVersionMethodsAndUnknownPaths(t *testing.T) {
	_, base := startServer(t, admin.Config{Version: "v1.2.3"})
	var v admin.VersionInfo
	getJSON(t, base+"/v1/version", http.StatusOK, &v)
	if v.Version != "v1.2.3" || v.Node != "n1" || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("got %+v", v)
	}
	if status, body := call(t, http.MethodPost, base+"/v1/members", "", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/members: got %d %s; want 405", status, body)
	}
	if status, body := call(t, http.MethodDelete, base+"/v1/log-level", "", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /v1/log-level: got %d %s; want 405", status, body)
	}
	status, body := call(t, http.MethodGet, base+"/v2/nothing", "", "")
	var e admin.ErrorResponse
	if status != http.StatusNotFound || json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Errorf("unknown path: got %d %s; want 404 with a JSON error", status, body)
	}
}

func TestRunReturnsAndReleasesPort(t *testing.T) {
	pr := prometheus.NewRegistry()
	s, err := admin.New(admin.Config{Listen: "127.0.0.1:0", Zone: testZone(t), Gatherer: pr, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if status, _ := call(t, http.MethodGet, "http://"+addr+"/healthz", "", ""); status != http.StatusOK {
		t.Fatalf("healthz: got %d", status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: got %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run: got nil error")
	}
	s2, err := admin.New(admin.Config{Listen: addr, Zone: testZone(t), Gatherer: pr})
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	s2.Close()
}
