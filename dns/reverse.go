package dns

import (
	"net/netip"
	"slices"
	"sync/atomic"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// Reverse zones: the server is authoritative for the reverse zones of
// Config.ReverseZones and (unless Config.NoNetworkReverseZones) of the
// subnets of every network the cluster's containers are on. Inside one, a
// PTR for a container's address is its name, an address no container holds
// is NXDOMAIN with that zone's SOA, a name between the apex and the
// addresses exists when a container's address is below it, and the apex
// answers SOA and NS. Reverse names outside them are answered only for a
// container's address, and forwarded otherwise.
//
// A prefix whose length is not a multiple of the label (8 bits for IPv4, 4
// for IPv6) is covered without RFC 2317's classless delegation: by the
// zones of the next longer multiple (a /20 is sixteen /24 zones, a /12
// sixteen /16 ones), and a prefix longer than the last label but one (an
// IPv4 /25 to /32, an IPv6 /125 to /128) by the zone that holds it (its
// /24, its /124): the server then answers NXDOMAIN for the rest of that
// zone too.

// reverseZones are the configured reverse zones and, per snapshot, those of
// the containers' networks.
type reverseZones struct {
	fixed        []string // zone apexes of Config.ReverseZones
	fromNetworks bool
	index        atomic.Pointer[reverseIndex] // of the last snapshot asked about
}

// reverseIndex is what the reverse zones need of one snapshot.
type reverseIndex struct {
	snap  *registry.Snapshot
	zones map[string]bool // canonical apexes
	addrs []netip.Addr    // every container address, sorted, unique
}

// newReverseZones returns the reverse zones of prefixes and, if
// fromNetworks, of the containers' subnets; nil when there can be none.
func newReverseZones(prefixes []netip.Prefix, fromNetworks bool) *reverseZones {
	if len(prefixes) == 0 && !fromNetworks {
		return nil
	}
	r := &reverseZones{fromNetworks: fromNetworks}
	for _, p := range prefixes {
		for _, z := range dnsname.ReverseZoneNames(p) {
			if !slices.Contains(r.fixed, z) {
				r.fixed = append(r.fixed, z)
			}
		}
	}
	return r
}

// indexOf returns the index of snap, building it on the first question
// after a change.
func (r *reverseZones) indexOf(snap *registry.Snapshot) *reverseIndex {
	if ix := r.index.Load(); ix != nil && ix.snap == snap {
		return ix
	}
	ix := &reverseIndex{snap: snap, zones: make(map[string]bool, len(r.fixed))}
	for _, z := range r.fixed {
		ix.zones[z] = true
	}
	subnets := make(map[netip.Prefix]bool)
	for _, s := range snap.Sets() {
		for _, a := range s.Addrs {
			ix.addrs = append(ix.addrs, a.IP)
			if r.fromNetworks && a.Subnet.IsValid() && !subnets[a.Subnet] && !a.IP.IsLinkLocalUnicast() && !a.IP.IsLoopback() {
				subnets[a.Subnet] = true
				for _, z := range dnsname.ReverseZoneNames(a.Subnet) {
					ix.zones[z] = true
				}
			}
		}
	}
	slices.SortFunc(ix.addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	ix.addrs = slices.Compact(ix.addrs)
	r.index.Store(ix)
	return ix
}

// zoneOf returns the apex of the reverse zone that holds the canonical
// reverse name lname, if the server is authoritative for one.
func (r *reverseZones) zoneOf(snap *registry.Snapshot, lname string) (string, bool) {
	if r == nil {
		return "", false
	}
	ix := r.indexOf(snap)
	for name := lname; ; {
		if ix.zones[name] {
			return name, true
		}
		_, parent, ok := dnsname.FirstLabel(name)
		if !ok || !dnsname.IsReverse(parent) && parent != dnsname.ReverseV4 && parent != dnsname.ReverseV6 {
			return "", false
		}
		name = parent
	}
}

// holds reports whether a container address lies in p.
func (ix *reverseIndex) holds(p netip.Prefix) bool {
	i, _ := slices.BinarySearchFunc(ix.addrs, p.Addr(), func(a, b netip.Addr) int { return a.Compare(b) })
	return i < len(ix.addrs) && p.Contains(ix.addrs[i])
}

// answerReverse answers a question for lname inside the reverse zone apex.
func (z *zoneConfig) answerReverse(snap *registry.Snapshot, req *mdns.Msg, lname, owner, apex string, ex *explain) *mdns.Msg {
	q := req.Question[0]
	m := z.reply(req)
	soaOwner := owner[len(owner)-len(apex):]
	if lname == apex {
		switch q.Qtype {
		case mdns.TypeSOA, mdns.TypeANY:
			m.Answer = []mdns.RR{z.soa(soaOwner, snap.Serial(), z.ttl)}
			return m
		case mdns.TypeNS:
			m.Answer = []mdns.RR{&mdns.NS{Hdr: z.hdr(soaOwner, mdns.TypeNS, z.ttl), Ns: z.nsName}}
			m.Extra = z.glue()
			return m
		}
		m.Ns = []mdns.RR{z.soa(soaOwner, snap.Serial(), min(z.ttl, z.negTTL))}
		return m
	}
	exists := false
	if p, ok := dnsname.ParseReversePrefix(lname); ok {
		if p.IsSingleIP() {
			if q.Qtype == mdns.TypePTR || q.Qtype == mdns.TypeANY {
				if rrs := z.ptrRecords(snap, p.Addr(), owner, ex); len(rrs) > 0 {
					m.Answer = rrs
					return m
				}
			}
			exists = len(snap.LookupAddr(p.Addr())) > 0
		} else {
			exists = z.reverse.indexOf(snap).holds(p)
		}
	}
	if !exists {
		m.Rcode = mdns.RcodeNameError
	}
	m.Ns = []mdns.RR{z.soa(soaOwner, snap.Serial(), min(z.ttl, z.negTTL))}
	return m
}
