package dnsname

import (
	"net/netip"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestParseReverse: full reverse names parse to their address (and back
// through miekg's ReverseAddr); partial and malformed ones do not.
func TestParseReverse(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"4.3.2.1.in-addr.arpa.", "1.2.3.4"},
		{"255.0.0.10.in-addr.arpa.", "10.0.0.255"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", "::1"},
		{"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.", "4321:0:1:2:3:4:567:89ab"},
		{"3.2.1.in-addr.arpa.", ""},
		{"5.4.3.2.1.in-addr.arpa.", ""},
		{"256.3.2.1.in-addr.arpa.", ""},
		{"01.3.2.1.in-addr.arpa.", ""},
		{"a.3.2.1.in-addr.arpa.", ""},
		{".3.2.1.in-addr.arpa.", ""},
		{"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", ""},
		{"0.0.0.ip6.arpa.", ""},
		{"ab.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", ""},
		{"in-addr.arpa.", ""},
		{"example.com.", ""},
	}
	for _, tt := range tests {
		ip, ok := ParseReverse(tt.in)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tt.want {
			t.Errorf("ParseReverse(%q): got %q; want %q", tt.in, got, tt.want)
		}
		if ok {
			if rev, _ := mdns.ReverseAddr(got); rev != tt.in {
				t.Errorf("round trip of %q: got %q", tt.in, rev)
			}
		}
	}
}

// TestReverseZoneNames: the zones that cover a prefix, aligned or not,
// and their names parse back.
func TestReverseZoneNames(t *testing.T) {
	v6zone := "0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."
	tests := []struct {
		prefix string
		want   []string
	}{
		{"10.0.0.0/8", []string{"10.in-addr.arpa."}},
		{"10.0.1.0/24", []string{"1.0.10.in-addr.arpa."}},
		{"10.0.1.128/25", []string{"1.0.10.in-addr.arpa."}},
		{"10.0.1.7/32", []string{"1.0.10.in-addr.arpa."}},
		{"10.0.1.7/16", []string{"0.10.in-addr.arpa."}},
		{"192.168.16.0/22", []string{"16.168.192.in-addr.arpa.", "17.168.192.in-addr.arpa.", "18.168.192.in-addr.arpa.", "19.168.192.in-addr.arpa."}},
		{"0.0.0.0/0", []string{"in-addr.arpa."}},
		{"fd00::/64", []string{v6zone}},
		{"fd00::/63", []string{v6zone, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."}},
		{"fd00::1/128", []string{"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."}},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		got := ReverseZoneNames(p)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ReverseZoneNames(%s):\n got %q\nwant %q", tt.prefix, got, tt.want)
		}
		// An aligned prefix's zone parses back to it.
		if back, ok := ParseReversePrefix(got[0]); len(got) == 1 && p.Bits()%8 == 0 && p.Bits() <= 24 && (!ok || back != p.Masked()) {
			t.Errorf("ParseReversePrefix(%q) = %v, %v; want %v", got[0], back, ok, p.Masked())
		}
	}
	if got := ReverseZoneNames(netip.MustParsePrefix("172.16.0.0/12")); len(got) != 16 || got[0] != "16.172.in-addr.arpa." || got[15] != "31.172.in-addr.arpa." {
		t.Errorf("ReverseZoneNames(172.16.0.0/12) = %q", got)
	}
	// Every zone name parses back to a prefix inside the one it covers, or
	// holding it.
	for _, p := range []string{"172.16.0.0/12", "10.0.1.128/25", "fd00::/61", "2001:db8::/32"} {
		pp := netip.MustParsePrefix(p)
		for _, z := range ReverseZoneNames(pp) {
			zp, ok := ParseReversePrefix(z)
			if !ok || !(pp.Contains(zp.Addr()) || zp.Contains(pp.Addr())) {
				t.Errorf("zone %s of %s parses to %v %v", z, p, zp, ok)
			}
		}
	}
}
