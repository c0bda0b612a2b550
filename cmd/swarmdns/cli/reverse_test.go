package cli

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/registry"
)

// TestReverseZoneFlag: --reverse-zone gives the DNS server its prefixes,
// "none" turns the containers' subnets off too, and a bad value exits 2
// naming the flag.
func TestReverseZoneFlag(t *testing.T) {
	reg, err := registry.New(registry.Config{Node: "n1", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	config := func(args ...string) (prefixes []netip.Prefix, noNetworks bool) {
		t.Helper()
		var c serveConfig
		fs := newServeFlags(&c)
		var errOut bytes.Buffer
		if _, ok := parseFlags(fs, args, func(string) string { return "" }, &errOut); !ok {
			t.Fatalf("parseFlags %v: %s", args, errOut.String())
		}
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		cfg, err := c.dnsConfig(reg, registry.NewClientTable(), prometheus.NewRegistry(), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		return cfg.ReverseZones, cfg.NoNetworkReverseZones
	}
	if p, no := config(); p != nil || no {
		t.Errorf("default: %v, no networks %v; want none given, the networks' zones on", p, no)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/64"), netip.MustParsePrefix("192.168.1.0/24")}
	if p, no := config("--reverse-zone", "10.0.0.0/8,fd00::/64", "--reverse-zone", "192.168.1.0/24"); !slices.Equal(p, want) || no {
		t.Errorf("given: %v, no networks %v; want %v and the networks' zones", p, no, want)
	}
	if p, no := config("--reverse-zone", "none"); len(p) != 0 || !no {
		t.Errorf("none: %v, no networks %v; want no zone at all", p, no)
	}
	var stderr bytes.Buffer
	if code := runServe(context.Background(), []string{"--reverse-zone", "10.0.0.0/33"}, &bytes.Buffer{}, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "-reverse-zone") {
		t.Errorf("bad prefix: exit %d, %q; want %d naming -reverse-zone", code, stderr.String(), exitUsage)
	}
}
