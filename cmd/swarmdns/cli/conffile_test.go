package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "swarmdns.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSettingsFilePrecedence: flags override the environment, which
// overrides the file, which overrides the defaults; a list setting may be
// repeated in the file.
func TestSettingsFilePrecedence(t *testing.T) {
	conf := writeConf(t, `# a comment

zone = file.internal.
ttl = "7s"
upstream = 10.0.0.1
upstream = 10.0.0.2:5353
lease = 90s
log-queries = true
`)
	env := map[string]string{"SWARMDNS_TTL": "9s", "SWARMDNS_CONFIG": conf}
	var c serveConfig
	fs := newServeFlags(&c)
	var stderr bytes.Buffer
	unknown, _, ok := parseServeFlags(fs, []string{"--lease", "2m"}, func(k string) string { return env[k] }, []string{"SWARMDNS_TTL=9s", "SWARMDNS_UPSTREMA=x", "SWARMDNS_ADMIN=unix:/x", "PATH=/bin"}, &stderr)
	if !ok {
		t.Fatalf("parse: %s", stderr.String())
	}
	if c.zone != "file.internal." || c.ttl.String() != "9s" || c.lease.String() != "2m0s" || !c.logQueries {
		t.Errorf("zone %q (file), ttl %v (env over file), lease %v (flag over file), log-queries %v", c.zone, c.ttl, c.lease, c.logQueries)
	}
	if got := []string(c.upstreams); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2:5353"}) {
		t.Errorf("upstreams from the file: %v", got)
	}
	if !slices.Equal(unknown, []string{"SWARMDNS_UPSTREMA"}) {
		t.Errorf("unknown variables: %v; want the typo only", unknown)
	}
}

// TestSettingsFileErrors: an unknown name, a line without "=", a bad value
// stop serve with the file and line.
func TestSettingsFileErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"upstrem = 10.0.0.1\n", `:1: unknown setting "upstrem"`},
		{"zone = a.\nttl 5s\n", `:2: "ttl 5s" is not "name = value"`},
		{"ttl = soon\n", `:1: invalid value "soon" for ttl`},
		{"config = /etc/other.conf\n", `unknown setting "config"`},
	} {
		conf := writeConf(t, tc.text)
		var c serveConfig
		var stderr bytes.Buffer
		_, code, ok := parseServeFlags(newServeFlags(&c), []string{"--config", conf}, func(string) string { return "" }, nil, &stderr)
		if ok || code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: ok %v code %d: %s; want exit 2 with %q", tc.text, ok, code, stderr.String(), tc.want)
		}
	}
	var c serveConfig
	var stderr bytes.Buffer
	if _, _, ok := parseServeFlags(newServeFlags(&c), []string{"--config", "/nonexistent/swarmdns.conf"}, func(string) string { return "" }, nil, &stderr); ok {
		t.Error("a missing settings file: no error")
	}
}

// TestDNSListenDefaults: loopback only by default; with a node address,
// that address's port 53 too; never the wildcard unless asked.
func TestDNSListenDefaults(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"127.0.0.1:53"}},
		{[]string{"--node-address", "169.254.53.53"}, []string{"169.254.53.53:53", "127.0.0.1:53"}},
		{[]string{"--node-address", "169.254.53.53", "--dns-listen", ":53"}, []string{":53"}},
	} {
		var c serveConfig
		var stderr bytes.Buffer
		if _, _, ok := parseServeFlags(newServeFlags(&c), tc.args, func(string) string { return "" }, nil, &stderr); !ok {
			t.Fatal(stderr.String())
		}
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal([]string(c.dnsListen), tc.want) {
			t.Errorf("%v: dns-listen %v; want %v", tc.args, c.dnsListen, tc.want)
		}
	}
	var c serveConfig
	var stderr bytes.Buffer
	parseServeFlags(newServeFlags(&c), []string{"--node-address", "127.0.0.1"}, func(string) string { return "" }, nil, &stderr)
	if err := c.validate(); err == nil {
		t.Error("--node-address 127.0.0.1: no error")
	}
}
