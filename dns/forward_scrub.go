package dns

import (
	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// scrubReply drops from an upstream's reply to the canonical name qname the
// records that do not answer it, as a resolver's scrubber does for the
// replies of a forwarder (Unbound's scrub_normalize; RFC 5452 §6), before
// the reply is cached or passed on:
//
//   - answer: the records owned by the names of the CNAME chain that starts
//     at qname (qname, each CNAME's target, each target a DNAME rewrites to,
//     at most maxChase hops), and the DNAMEs (with their signatures) owned by
//     an ancestor of one of them. The chain may leave qname's domain: the
//     upstream is a resolver the operator chose, and it followed the chain.
//   - authority: the records owned by the chain's last name or one of its
//     ancestors (SOA, NS, DS and their signatures), and the NSEC and NSEC3
//     records (and signatures) at or below the last name's zone: the one
//     an SOA or NS names, or the signer of a signature.
//   - additional: the addresses (and signatures) of a name that a kept NS,
//     MX or SRV record points to, when that name is in the bailiwick: at or
//     below the zone the authority section names, or else the parent of the
//     chain's last name. The OPT stays.
//
// Everything else, records of other domains above all, is gone. m is
// changed in place.
func scrubReply(m *mdns.Msg, qname string) {
	chain := cnameChain(m.Answer, qname)
	inChain := func(name string) bool {
		for _, c := range chain {
			if c == name {
				return true
			}
		}
		return false
	}
	aboveChain := func(name string) bool {
		for _, c := range chain {
			if c != name && inZone(c, name) {
				return true
			}
		}
		return false
	}
	m.Answer = keepRecords(m.Answer, func(rr mdns.RR, owner string) bool {
		if inChain(owner) {
			return true
		}
		return coveredType(rr) == mdns.TypeDNAME && aboveChain(owner)
	})

	last := chain[len(chain)-1]
	// The zone of the last name: the deepest SOA or NS owner, or signer of
	// a signature, at or above it.
	zone := ""
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			apex := ""
			if sig, ok := rr.(*mdns.RRSIG); ok {
				apex = registry.CanonicalName(sig.SignerName)
			} else if t := rr.Header().Rrtype; t == mdns.TypeSOA || t == mdns.TypeNS {
				apex = registry.CanonicalName(rr.Header().Name)
			}
			if apex != "" && atOrBelow(last, apex) && len(apex) > len(zone) {
				zone = apex
			}
		}
	}
	m.Ns = keepRecords(m.Ns, func(rr mdns.RR, owner string) bool {
		if atOrBelow(last, owner) {
			return true
		}
		// NSEC and NSEC3 records prove what does not exist; they sit at
		// other names of the zone.
		switch coveredType(rr) {
		case mdns.TypeNSEC, mdns.TypeNSEC3:
			return zone != "" && atOrBelow(owner, zone)
		}
		return false
	})
	bailiwick := zone
	if bailiwick == "" {
		bailiwick = parentName(last)
	}

	targets := make(map[string]bool)
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			switch r := rr.(type) {
			case *mdns.NS:
				targets[registry.CanonicalName(r.Ns)] = true
			case *mdns.MX:
				targets[registry.CanonicalName(r.Mx)] = true
			case *mdns.SRV:
				targets[registry.CanonicalName(r.Target)] = true
			}
		}
	}
	m.Extra = keepRecords(m.Extra, func(rr mdns.RR, owner string) bool {
		switch coveredType(rr) {
		case mdns.TypeOPT:
			return true
		case mdns.TypeA, mdns.TypeAAAA:
			return targets[owner] && atOrBelow(owner, bailiwick)
		}
		return false
	})
}

// cnameChain returns the names of the chain that starts at qname in the
// answer section rrs: qname, then each CNAME's target and each name a
// DNAME rewrites to, canonical, without loops, at most maxChase hops.
func cnameChain(rrs []mdns.RR, qname string) []string {
	chain := []string{qname}
	for range maxChase {
		cur, next := chain[len(chain)-1], ""
		for _, rr := range rrs {
			owner := registry.CanonicalName(rr.Header().Name)
			switch r := rr.(type) {
			case *mdns.CNAME:
				if owner == cur {
					next = registry.CanonicalName(r.Target)
				}
			case *mdns.DNAME:
				if owner != cur && inZone(cur, owner) {
					next = cur[:len(cur)-len(owner)] + registry.CanonicalName(r.Target)
				}
			}
			if next != "" {
				break
			}
		}
		if next == "" || containsString(chain, next) {
			break
		}
		chain = append(chain, next)
	}
	return chain
}

// keepRecords keeps, in place, the records of rrs for which keep (given the
// record and its canonical owner) is true.
func keepRecords(rrs []mdns.RR, keep func(rr mdns.RR, owner string) bool) []mdns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if keep(rr, registry.CanonicalName(rr.Header().Name)) {
			out = append(out, rr)
		}
	}
	clear(rrs[len(out):])
	if len(out) == 0 {
		return nil
	}
	return out
}

// coveredType is a record's type, or for a signature the type it signs.
func coveredType(rr mdns.RR) uint16 {
	if sig, ok := rr.(*mdns.RRSIG); ok {
		return sig.TypeCovered
	}
	return rr.Header().Rrtype
}

// parentName returns the canonical parent of the canonical name: "." for a
// top-level name and the root.
func parentName(name string) string {
	if _, parent, ok := firstLabel(name); ok {
		return parent
	}
	return "."
}

// atOrBelow reports whether the canonical name is zone or below it; every
// name is below the root.
func atOrBelow(name, zone string) bool { return zone == "." || inZone(name, zone) }
