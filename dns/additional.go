package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// The additional section of zone answers: the addresses of the SRV
// targets (RFC 2782: "...the additional data section ... may contain A
// records for the targets") and of the apex NS target (glue), as the
// client would get them asking for them. They are extra: a reply too large
// for the client loses them first, and without TC (RFC 2181 §9), since the
// answer itself is whole.

// srvAdditional returns the A and AAAA records of the targets of the SRV
// records in rrs that lie in the zone, each target once, for client.
func (z *zoneConfig) srvAdditional(snap *registry.Snapshot, rrs []mdns.RR, client netip.Addr) []mdns.RR {
	var extra []mdns.RR
	var done []string
	for _, rr := range rrs {
		srv, ok := rr.(*mdns.SRV)
		if !ok || containsString(done, srv.Target) {
			continue
		}
		done = append(done, srv.Target)
		target := registry.CanonicalName(srv.Target)
		if !dnsname.InZone(target, z.origin) {
			continue
		}
		sets := snap.Lookup(target)
		if len(sets) == 0 {
			continue
		}
		extra = append(extra, z.addrRecords(snap, sets, srv.Target, mdns.TypeA, client, nil)...)
		extra = append(extra, z.addrRecords(snap, sets, srv.Target, mdns.TypeAAAA, client, nil)...)
	}
	return extra
}

// dropAdditional removes whole RRsets from the end of m's additional
// section (never its OPT or TSIG) until m fits size or none is left, so
// that Truncate, which sets TC for any record it cuts, finds only the
// answer and authority sections too large. No RRset is given in part
// (RFC 2181 §5: a resolver would take the part for the whole).
func dropAdditional(m *mdns.Msg, size int) {
	if m.Len() <= size {
		return
	}
	m.Compress = true // as Truncate packs it
	if m.Len() <= size {
		return
	}
	var keep, extra []mdns.RR
	for _, rr := range m.Extra {
		switch rr.Header().Rrtype {
		case mdns.TypeOPT, mdns.TypeTSIG:
			keep = append(keep, rr)
		default:
			extra = append(extra, rr)
		}
	}
	for len(extra) > 0 {
		last := extra[len(extra)-1].Header()
		for len(extra) > 0 {
			h := extra[len(extra)-1].Header()
			if h.Rrtype != last.Rrtype || !strings.EqualFold(h.Name, last.Name) {
				break
			}
			extra = extra[:len(extra)-1]
		}
		m.Extra = append(extra[:len(extra):len(extra)], keep...)
		if m.Len() <= size {
			return
		}
	}
}
