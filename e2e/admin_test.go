package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// TestReadinessAndMetrics is issue 5's second and third checks against the
// real process: /readyz says not ready until the first Docker sync (the
// engine is held back behind a cut proxy), ready after; /metrics parses as
// Prometheus text and its DNS counters move with queries; a token, when set,
// is required.
func TestReadinessAndMetrics(t *testing.T) {
	dockertest.Engine(t)
	proxy := dockertest.NewSocketProxy(t, "")
	proxy.Cut()
	n := startNode(t, dockertest.Name(t, "node"), nodeOptions{Args: []string{
		"--docker-host", proxy.Host(), "--docker-timeout", "2m",
		"--watch-label", dockertest.LabelRun + "=" + dockertest.RunID(),
		"--admin-token", "s3cret",
	}})
	base := "http://" + n.Admin()

	if code, body := get(t, base+"/readyz", "s3cret"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first sync: got %d %s; want 503", code, body)
	}
	if code, _ := get(t, base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: got %d; want 200 (the process lives)", code)
	}
	proxy.Restore()
	await.Until(t, 30*time.Second, func() error {
		if code, body := get(t, base+"/readyz", "s3cret"); code != http.StatusOK {
			return fmt.Errorf("/readyz after the engine came back: got %d %s", code, body)
		}
		return nil
	})

	for _, tok := range []string{"", "wrong"} {
		if code, _ := get(t, base+"/metrics", tok); code != http.StatusUnauthorized {
			t.Errorf("/metrics with token %q: got %d; want 401", tok, code)
		}
	}

	before, ok := scrape(t, base, "swarmdns_dns_requests_total")
	if !ok {
		t.Errorf("/metrics lacks swarmdns_dns_requests_total before the first query; want it at zero")
	}
	for range 5 {
		if _, err := query(n.DNS(), "udp", fqdn("nothing-here"), mdns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := scrape(t, base, "swarmdns_dns_requests_total")
	if after-before < 5 {
		t.Errorf("swarmdns_dns_requests_total moved by %v after 5 queries; want at least 5", after-before)
	}
	for _, name := range []string{"swarmdns_records", "swarmdns_gossip_members", "swarmdns_dns_request_duration_seconds", "swarmdns_build_info"} {
		if _, ok := scrape(t, base, name); !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// get fetches url with a bearer token (none when empty).
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// scrape reads /metrics with a Prometheus text parser and returns the sum of
// every sample of the family (counters, gauges; a histogram's count), and
// whether the family is there at all.
func scrape(t *testing.T, base, family string) (float64, bool) {
	t.Helper()
	code, body := get(t, base+"/metrics", "s3cret")
	if code != http.StatusOK {
		t.Fatalf("/metrics: got %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body + "\n")) // get trims the final newline
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	mf, ok := families[family]
	if !ok {
		return 0, false
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, true
}
