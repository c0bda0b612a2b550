package cli

import (
	"net"
	"net/netip"
)

// outboundAddrs returns the host's addresses that the routing table picks
// to reach other networks (an IPv4 one, an IPv6 one, either may be
// missing), or the IPv4 loopback address when it has none: what the zone's
// name server ns.<zone> answers when DNS listens on a wildcard address and
// no better address is known. Connecting a UDP socket sends nothing.
func outboundAddrs() []netip.Addr {
	var out []netip.Addr
	for _, probe := range []string{"192.0.2.1:53", "[2001:db8::1]:53"} { // RFC 5737, RFC 3849
		c, err := net.Dial("udp", probe)
		if err != nil {
			continue
		}
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok {
			if ip := a.AddrPort().Addr().Unmap(); ip.IsValid() && !ip.IsUnspecified() {
				out = append(out, ip)
			}
		}
		_ = c.Close()
	}
	if len(out) == 0 {
		out = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	return out
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
