package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
)

// TestHelpListsEveryServeFlag checks that `swarmdns --help` and `swarmdns
// serve --help` both list every flag of serve with its env var and default.
func TestHelpListsEveryServeFlag(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), args, &out, &errOut); code != exitOK {
			t.Fatalf("swarmdns %v: exit %d; want 0", args, code)
		}
		text := out.String() + errOut.String()
		newServeFlags(&serveConfig{}).VisitAll(func(f *flag.Flag) {
			if !strings.Contains(text, "--"+f.Name+" ") || !strings.Contains(text, envName(f.Name)) {
				t.Errorf("swarmdns %v: flag --%s or its env var %s is missing", args, f.Name, envName(f.Name))
			}
			if f.DefValue != "" && !strings.Contains(text, `default "`+f.DefValue+`"`) {
				t.Errorf("swarmdns %v: the default %q of --%s is missing", args, f.DefValue, f.Name)
			}
		})
	}
}

// TestServeFlagsFromEnv checks the SWARMDNS_* overlay: an env var sets a
// flag the command line did not, the command line wins, and a bad value
// names the variable and exits 2.
func TestServeFlagsFromEnv(t *testing.T) {
	env := map[string]string{"SWARMDNS_TTL": "9s", "SWARMDNS_ZONE": "from.env.", "SWARMDNS_JOIN": "a:1,b:2"}
	getenv := func(k string) string { return env[k] }
	var c serveConfig
	fs := newServeFlags(&c)
	var errOut bytes.Buffer
	if _, ok := parseFlags(fs, []string{"--zone", "from.flag."}, getenv, &errOut); !ok {
		t.Fatalf("parseFlags: %s", errOut.String())
	}
	if c.ttl.String() != "9s" || c.zone != "from.flag." || strings.Join(c.join, ",") != "a:1,b:2" {
		t.Errorf("got ttl %v, zone %q, join %v; want 9s from env, from.flag. from the flag, [a:1 b:2] from env", c.ttl, c.zone, c.join)
	}

	env["SWARMDNS_LEASE"] = "forever"
	fs = newServeFlags(&serveConfig{})
	errOut.Reset()
	code, ok := parseFlags(fs, nil, getenv, &errOut)
	if ok || code != exitUsage || !strings.Contains(errOut.String(), "SWARMDNS_LEASE") {
		t.Errorf("bad env value: ok %v, code %d, %q; want exit 2 naming SWARMDNS_LEASE", ok, code, errOut.String())
	}
}
