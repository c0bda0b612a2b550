package resolvconf

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUpstreams(t *testing.T) {
	conf := `# generated
search example.internal
nameserver 192.0.2.1
nameserver 127.0.0.53
nameserver   127.0.0.11
nameserver 2001:db8::1
nameserver fe80::1%eth0
nameserver not-an-address
options ndots:2
nameserver ::ffff:192.0.2.9
`
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	all := []string{"192.0.2.1:53", "127.0.0.53:53", "127.0.0.11:53", "[2001:db8::1]:53", "[fe80::1%eth0]:53", "192.0.2.9:53"}
	tests := []struct {
		name    string
		exclude []netip.AddrPort
		want    []string
	}{
		{"nothing excluded", nil, all},
		{"our own address", []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}, without(all, "192.0.2.1:53")},
		{"our address on another port", []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:5353")}, all},
		{"listening on every address: loopback goes, Docker's 127.0.0.11 stays", []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:53")}, without(all, "127.0.0.53:53")},
		{"listening on [::]:53", []netip.AddrPort{netip.MustParseAddrPort("[::]:53")}, without(all, "127.0.0.53:53")},
		{"listening on a loopback address", []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53")}, without(all, "127.0.0.53:53")},
		{"mapped form of an excluded address", []netip.AddrPort{netip.MustParseAddrPort("[::ffff:192.0.2.9]:53")}, without(all, "192.0.2.9:53")},
	}
	for _, tt := range tests {
		got, err := Upstreams(path, tt.exclude...)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func without(list []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == drop })
}

// TestUpstreamsErrors: an unreadable file, or one with no nameserver but
// ourselves, is an error.
func TestUpstreamsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Upstreams(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing file: got no error")
	}
	only := filepath.Join(dir, "self")
	if err := os.WriteFile(only, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Upstreams(only, netip.MustParseAddrPort("0.0.0.0:53"))
	if err == nil || !strings.Contains(err.Error(), "no usable nameserver") {
		t.Errorf("only ourselves: got %v; want no usable nameserver", err)
	}
}

// TestUpstreamsDropOwnInterfaceAddress: with a wildcard listen address, a
// nameserver that is one of this host's own addresses is us.
func TestUpstreamsDropOwnInterfaceAddress(t *testing.T) {
	var own netip.Addr
	for _, a := range interfaceAddrs() {
		if a.Is4() && !a.IsLoopback() {
			own = a
			break
		}
	}
	if !own.IsValid() {
		if os.Getenv("CI") == "true" {
			t.Fatal("no non-loopback IPv4 address on this host")
		}
		t.Skip("no non-loopback IPv4 address on this host")
	}
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver "+own.String()+"\nnameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Upstreams(path, netip.MustParseAddrPort("0.0.0.0:53"))
	if err != nil || !slices.Equal(got, []string{"192.0.2.1:53"}) {
		t.Errorf("got %q, %v; want only 192.0.2.1:53", got, err)
	}
}
