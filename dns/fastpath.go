package dns

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	mdns "github.com/miekg/dns"
)

// The fast path answers the queries that make up nearly all of a sidecar's
// traffic, A and AAAA for names in the zone (found or not), from the packet
// bytes and the registry snapshot, writing the reply straight into a
// buffer: no miekg Msg, no allocation. It uses the same selection as the
// full path (zoneConfig.selectAddrs), and gives up, so that the full path
// answers, whenever a query or its answer leaves that narrow shape: other
// types, CNAMEs, the apex, node and SRV names, hosts-file names, rate
// limiting, EDNS options, replies that would need truncating.

// fastBuffers is one reader's scratch space; it is not shared.
type fastBuffers struct {
	name [maxNameLen]byte
	ips  [16]netip.Addr
	out  []byte
}

// fastReply is what the fast path answered, for metrics and logs.
type fastReply struct {
	msg   []byte
	qtype uint16
	rcode int
	name  string // canonical; aliases fastBuffers.name: valid until the next query
}

// answerFast answers pkt from client when it is a plain in-zone A or AAAA
// query, and reports false otherwise.
func (s *Server) answerFast(pkt []byte, client netip.Addr, b *fastBuffers) (fastReply, bool) {
	if s.rrl != nil {
		return fastReply{}, false
	}
	q, n, ok := parseQuery(pkt, &b.name)
	if !ok || (q.qtype != mdns.TypeA && q.qtype != mdns.TypeAAAA) {
		return fastReply{}, false
	}
	// The name is only read while this query is answered: map lookups,
	// hashing, comparisons. Nothing keeps it.
	name := unsafe.String(&b.name[0], n)
	z := &s.zone
	if len(name) <= len(z.origin) || !inZone(name, z.origin) || name[0] == '_' ||
		name == z.nsName || (z.nodeAddrs != nil && inZone(name, z.nodeZone)) {
		return fastReply{}, false
	}
	if t := s.hosts.Load(); t != nil {
		if _, ok := t.byName[name]; ok {
			return fastReply{}, false
		}
	}
	snap := s.store.Snapshot()
	sets := snap.LookupShared(name)
	ra := s.recursionAllowed(client)
	out := b.out[:0]
	rcode := mdns.RcodeSuccess
	var ips []netip.Addr
	var ttl uint32
	if len(sets) > 0 {
		var nLocal int
		ips, nLocal, ttl = z.selectAddrs(snap, sets, q.qtype == mdns.TypeA, client, nil, b.ips[:0])
		shuffleAddrs(ips[:nLocal])
		shuffleAddrs(ips[nLocal:])
	} else {
		if _, ok := snap.Alias(name); ok {
			return fastReply{}, false // a CNAME: the full path chases it
		}
		if !snap.Exists(name) {
			rcode = mdns.RcodeNameError
		}
	}
	var ar uint16
	if q.edns {
		ar = 1
	}
	if len(ips) > 0 {
		out = appendReplyHeader(out, &q, true, ra, false, rcode, uint16(len(ips)), 0, ar)
		for _, ip := range ips {
			out = appendAddrRR(out, headerLen, ip, ttl)
		}
	} else {
		// NXDOMAIN, or NODATA: the SOA, owned by the apex as the client
		// wrote it (the question's tail), says how long to cache that.
		out = appendReplyHeader(out, &q, true, ra, false, rcode, 0, 1, ar)
		apex := headerLen + n - len(z.origin)
		out = appendRRHeader(out, apex, mdns.TypeSOA, min(z.ttl, z.negTTL), len(s.soaNames)+20)
		out = append(out, s.soaNames...)
		out = binary.BigEndian.AppendUint32(out, snap.Serial())
		out = binary.BigEndian.AppendUint32(out, soaRefresh)
		out = binary.BigEndian.AppendUint32(out, soaRetry)
		out = binary.BigEndian.AppendUint32(out, soaExpire)
		out = binary.BigEndian.AppendUint32(out, z.negTTL)
	}
	if q.edns {
		out = appendOPT(out, uint16(s.cfg.MaxUDPSize), q.do)
	}
	b.out = out
	if len(out) > q.maxUDPReply(s.cfg.MaxUDPSize) {
		return fastReply{}, false // the full path truncates
	}
	return fastReply{msg: out, qtype: q.qtype, rcode: rcode, name: name}, true
}
