package dns

import (
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestCookie: RFC 7873 §5.2.2. A COOKIE option of a length no cookie has
// (not 8, nor 16 to 40 bytes) is FORMERR, with the OPT; a well-formed one
// is answered as usual.
func TestCookie(t *testing.T) {
	s := newTestServer(t, Config{})
	for n, want := range map[int]int{
		1: mdns.RcodeFormatError, 5: mdns.RcodeFormatError, 7: mdns.RcodeFormatError, 9: mdns.RcodeFormatError,
		12: mdns.RcodeFormatError, 15: mdns.RcodeFormatError, 41: mdns.RcodeFormatError,
		8: mdns.RcodeSuccess, 16: mdns.RcodeSuccess, 24: mdns.RcodeSuccess, 40: mdns.RcodeSuccess,
	} {
		m := query("web-1.swarm.internal.", mdns.TypeA)
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: strings.Repeat("ab", n)})
		for _, network := range []string{"udp", "tcp"} {
			addr := s.UDPAddr()
			if network == "tcp" {
				addr = s.TCPAddr()
			}
			r := exchange(t, network, addr, m)
			if r.Rcode != want || r.IsEdns0() == nil {
				t.Errorf("%d-byte cookie over %s: got %s (OPT %v); want %s with an OPT", n, network, mdns.RcodeToString[r.Rcode], r.IsEdns0() != nil, mdns.RcodeToString[want])
			}
		}
	}
}
