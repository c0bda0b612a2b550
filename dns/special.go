package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/dnsname"
)

// Special-use names (RFC 6761) and the single-label shortcut.
//
// localhost. and every name below it are the loopback addresses (RFC 6761
// §6.3): A is 127.0.0.1, AAAA ::1, any other type an empty answer, whatever
// the containers are called. A single-label question ("web.") is answered
// from the zone only for A and AAAA (what a container that set dns:
// but no search domain asks), and never for a special-use top-level name or
// one of the zone's own labels ("internal." for swarm.internal.): a
// resolver asking for the SOA or NS of a top-level domain never gets the
// zone's.

const localhostName = "localhost."

// specialTLDs are the single-label special-use names of IANA's registry
// (RFC 6761, 6762, 7686, 9476, and .internal, ICANN's private-use TLD) and
// arpa.
var specialTLDs = map[string]bool{
	"localhost.": true, "invalid.": true, "test.": true, "example.": true,
	"local.": true, "onion.": true, "alt.": true, "internal.": true, "arpa.": true,
}

var (
	loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	loopback6 = netip.IPv6Loopback()
)

// isLocalhost reports whether the canonical name lname is localhost. or
// below it.
func isLocalhost(lname string) bool { return dnsname.InZone(lname, localhostName) }

// answerLocalhost answers a question for localhost. or a name below it.
func (z *zoneConfig) answerLocalhost(req *mdns.Msg, owner string) *mdns.Msg {
	m := z.reply(req)
	for _, ip := range []netip.Addr{loopback4, loopback6} {
		for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
			if qt == req.Question[0].Qtype || req.Question[0].Qtype == mdns.TypeANY {
				if rr := addrRR(owner, qt, ip, z.ttl); rr != nil {
					m.Answer = append(m.Answer, rr)
				}
			}
		}
	}
	return m
}

// shortcut reports whether a single-label question for lname may be
// answered from the zone's name lname+origin (the caller checks that it
// exists). Only A and AAAA: a top-level domain has neither at its apex
// (ICANN forbids dotless domains: SAC053, Board resolution 2013.08.13),
// so a container named com shadows nothing real, while a TLD's SOA, NS,
// DS or TXT stay the DNS's.
func (z *zoneConfig) shortcut(lname string, qtype uint16) bool {
	if !dnsname.SingleLabel(lname) || specialTLDs[lname] {
		return false
	}
	switch qtype {
	case mdns.TypeA, mdns.TypeAAAA:
	default:
		return false
	}
	// The zone's own labels are names of the tree above it.
	// Label by label, without allocating: this runs on the fast path.
	for rest := z.origin; rest != ""; {
		label, after, _ := strings.Cut(rest, ".")
		if len(lname) == len(label)+1 && lname[:len(label)] == label {
			return false
		}
		rest = after
	}
	return true
}
