package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestDNSFlagErrors: a bad --ttl, --max-udp-size or --upstream is reported
// by serve's validation with the flag's name and dns's reason (one error
// per bad value), and the bounds themselves pass.
func TestDNSFlagErrors(t *testing.T) {
	ok := serveConfig{ttl: time.Second, maxUDPSize: 4096, upstreams: listFlag{"192.0.2.1", "[2001:db8::1]:5353"}}
	if errs := dnsFlagErrors(ok.dnsConfigToCheck()); errs != nil {
		t.Errorf("valid settings: %v", errs)
	}
	for _, c := range []struct {
		cfg  serveConfig
		want []string
	}{
		{serveConfig{ttl: 25 * time.Hour}, []string{"--ttl 25h0m0s: out of range (1s to 24h0m0s)"}},
		{serveConfig{ttl: time.Millisecond}, []string{"--ttl 1ms: out of range"}},
		{serveConfig{maxUDPSize: 511}, []string{"--max-udp-size 511: out of range (512 to 4096)"}},
		{serveConfig{maxUDPSize: 4097}, []string{"--max-udp-size 4097: out of range"}},
		{serveConfig{upstreams: listFlag{"dns.example:53", "192.0.2.1:0"}}, []string{`--upstream "dns.example:53": not an IP address`, `--upstream "192.0.2.1:0": bad port`}},
	} {
		errs := dnsFlagErrors(c.cfg.dnsConfigToCheck())
		if len(errs) != len(c.want) {
			t.Errorf("%+v: got %v; want %d errors", c.cfg, errs, len(c.want))
			continue
		}
		for i, err := range errs {
			if !strings.HasPrefix(err.Error(), c.want[i]) {
				t.Errorf("error %d: %q; want it to start %q", i, err, c.want[i])
			}
		}
	}
}

// TestDNSFlagZeroIsAValue: --ttl 0 and --max-udp-size 0 on the command line
// are refused, not taken as dns.Config's "unset" (which would serve the
// default the user did not ask for).
func TestDNSFlagZeroIsAValue(t *testing.T) {
	for _, args := range [][]string{{"--ttl", "0"}, {"--max-udp-size", "0"}} {
		var c serveConfig
		fs := newServeFlags(&c)
		var errOut bytes.Buffer
		if _, ok := parseFlags(fs, args, func(string) string { return "" }, &errOut); !ok {
			t.Fatalf("parseFlags %v: %s", args, errOut.String())
		}
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), args[0]+" 0") {
			t.Errorf("%v: got %v; want an error naming %s", args, err, args[0])
		}
	}
}
