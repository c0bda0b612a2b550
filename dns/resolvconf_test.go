package dns

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/swarmdns/swarmdns/internal/resolvconf"
)

// TestResolvConfUpstreamsAccepted: every upstream internal/resolvconf
// reads from a resolv.conf (IPv4, IPv6, a zone, a mapped address) is one
// New accepts, as the CLI hands them over.
func TestResolvConfUpstreamsAccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "nameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver fe80::1%eth0\nnameserver ::ffff:192.0.2.9\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ups, err := resolvconf.Upstreams(path)
	if err != nil || len(ups) != 4 {
		t.Fatalf("Upstreams: %q, %v; want 4", ups, err)
	}
	for _, u := range ups {
		if _, err := normalizeUpstream(u); err != nil {
			t.Errorf("normalizeUpstream(%q): %v", u, err)
		}
	}
}
