package dns

import (
	"net/netip"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/dnsname"
)

// The server's query policy, written once: the full path (respond,
// zoneConfig.answer, the forwarder's probeHit) and the cache fast path
// (answerCachedFast) both call these, so the two cannot disagree on which
// questions are errors, which names the zone may claim, and which are
// forwarded. FuzzFastPath compares the two callers.

// typeRule returns the rcode of a question whose type the server does not
// serve on the query path, whatever its name: FORMERR for OPT (a
// pseudo-type), REFUSED for AXFR and IXFR (transfers have their own path,
// serveTransfer), NOTIMP for TKEY, TSIG, MAILA and MAILB. ok is false for
// every other type.
func typeRule(qtype uint16) (rcode int, ok bool) {
	switch qtype {
	case mdns.TypeOPT:
		return mdns.RcodeFormatError, true
	case mdns.TypeAXFR, mdns.TypeIXFR:
		return mdns.RcodeRefused, true
	case mdns.TypeTKEY, mdns.TypeTSIG, mdns.TypeMAILA, mdns.TypeMAILB:
		return mdns.RcodeNotImplemented, true
	}
	return 0, false
}

// mayClaim reports whether the zone may answer a question of type qtype
// for the canonical name lname, which is outside the zone's origin:
// localhost (RFC 6761), a single-label name the shortcut may take, a
// reverse name (a container's PTR, or a reverse zone of ours). When it is
// false, zoneConfig.answer leaves the question to the forwarder.
func (z *zoneConfig) mayClaim(lname string, qtype uint16) bool {
	return isLocalhost(lname) || z.shortcut(lname, qtype) ||
		dnsname.IsReverse(lname) && (qtype == mdns.TypePTR || z.reverse != nil)
}

// isProbeName reports whether the canonical name lname is under the
// parent of the loop probes (probeSuffix): it may be one of ours coming
// back, which forwarder.probeHit checks and the fast path leaves to it.
func isProbeName(lname string) bool {
	return len(lname) > len(probeSuffix) && lname[len(lname)-len(probeSuffix):] == probeSuffix
}

// forwardable reports whether a question the hosts file and the zone do
// not answer is forwarded for client (recursion says whether client may
// recurse: Server.recursionAllowed): not a loop probe, and the client is
// allowed. Otherwise it is refused.
func forwardable(lname string, recursion bool) bool {
	return recursion && !isProbeName(lname)
}

// recursionAllowed reports whether client, or any address of the
// container that holds it, is in the recursion ACL.
func (s *Server) recursionAllowed(client netip.Addr) bool {
	if containsAddr(s.allowRecursion, client) {
		return true
	}
	if c := s.zone.clientOf(client); c != nil {
		for _, a := range c.Addrs {
			if containsAddr(s.allowRecursion, a) {
				return true
			}
		}
	}
	return false
}

func containsAddr(prefixes []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
