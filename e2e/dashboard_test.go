package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The monitoring files deploy/ ships.
const (
	dashboardFile = "../deploy/grafana/swarmdns.json"
	alertsFile    = "../deploy/prometheus/alerts.yml"
)

// metricName finds the swarmdns metrics a query names.
var metricName = regexp.MustCompile(`\bswarmdns_[a-z0-9_]+\b`)

// TestDashboardAndAlerts is issue 16's first check: the alert rules pass
// promtool check rules, the dashboard is JSON Grafana can import (panels
// with queries), and every swarmdns metric either queries exists in a
// running node's /metrics before any traffic: a renamed metric breaks this
// test rather than the operator's dashboard.
func TestDashboardAndAlerts(t *testing.T) {
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if promtool, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is missing (Debian package prometheus): %v", err)
		}
		t.Log("promtool missing: rules not checked by promtool")
	} else if out, err := exec.Command(promtool, "check", "rules", alertsFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", alertsFile, err, out)
	}

	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s does not parse: %v", dashboardFile, err)
	}
	queries := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			queries++
		}
	}
	if dash.UID == "" || queries < 10 {
		t.Errorf("dashboard %q: uid %q, %d queries; want a uid and a panel for each part", dash.Title, dash.UID, queries)
	}

	n := startLocalNode(t)
	code, body := get(t, "http://"+n.Admin()+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body + "\n"))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	exists := func(name string) bool {
		if mf, ok := families[name]; ok && len(mf.GetMetric()) > 0 {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if mf, ok := families[base]; ok && len(mf.GetMetric()) > 0 {
					return true
				}
			}
		}
		return false
	}
	var dashExprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			dashExprs = append(dashExprs, tg.Expr)
		}
	}
	for file, text := range map[string]string{dashboardFile: strings.Join(dashExprs, "\n"), alertsFile: ruleExprs(string(rules))} {
		names := slices.Compact(slices.Sorted(slices.Values(metricName.FindAllString(text, -1))))
		if len(names) == 0 {
			t.Errorf("%s queries no swarmdns metric", file)
		}
		for _, name := range names {
			if !exists(name) {
				t.Errorf("%s queries %s, which a running node does not export (or exports without a series)", file, name)
			}
		}
	}
}

// ruleExprs returns the expr fields of a rules file, one a line or a
// block scalar ("expr: |" and the lines indented under it).
func ruleExprs(yaml string) string {
	var out []string
	lines := strings.Split(yaml, "\n")
	for i := 0; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "expr:")
		if !ok {
			continue
		}
		if rest = strings.TrimSpace(rest); rest != "|" && rest != ">" {
			out = append(out, rest)
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent {
			i++
			out = append(out, lines[i])
		}
	}
	return strings.Join(out, "\n")
}
