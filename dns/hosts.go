package dns

import (
	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/internal/hostsfile"
	"github.com/swarmdns/swarmdns/registry"
)

// The names of Config.HostsFile (internal/hostsfile reads and watches it)
// are answered as dnsmasq does, before the zone and the upstreams.

// hostsTable is the hosts file's current table; nil without one.
func (s *Server) hostsTable() *hostsfile.Table {
	if s.hosts == nil {
		return nil
	}
	return s.hosts.Table()
}

// answerHosts answers req from the hosts file's table t with ttl: A and
// AAAA (ANY gives both) for its names, NODATA for their other types (there
// is no SOA to give), and PTR for its addresses. ok is false when the
// table does not hold the name (or there is no table).
func answerHosts(t *hostsfile.Table, req *mdns.Msg, ttl uint32) (*mdns.Msg, bool) {
	if t == nil {
		return nil, false
	}
	q := req.Question[0]
	lname := registry.CanonicalName(q.Name)
	owner := q.Name
	if len(owner) != len(lname) {
		owner = lname
	}
	var rrs []mdns.RR
	if addrs, ok := t.Addrs(lname); ok {
		for _, ip := range addrs {
			for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
				if q.Qtype == qt || q.Qtype == mdns.TypeANY {
					if rr := addrRR(owner, qt, ip, ttl); rr != nil {
						rrs = append(rrs, rr)
					}
				}
			}
		}
		shuffle(rrs)
	} else if ip, ok := dnsname.ParseReverse(lname); ok && q.Qtype == mdns.TypePTR {
		names := t.Names(ip)
		if len(names) == 0 {
			return nil, false
		}
		rrs = []mdns.RR{&mdns.PTR{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: ttl}, Ptr: names[0]}}
	} else {
		return nil, false
	}
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.Answer = rrs
	return m, true
}
