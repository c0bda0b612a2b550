package dns

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"unsafe"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/internal/dnswire"
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
	name [dnswire.MaxNameLen]byte
	ips  [16]netip.Addr
	out  []byte
}

// fastReply is what the fast path answered, for metrics and logs.
type fastReply struct {
	msg    []byte
	qtype  uint16
	rcode  int
	name   string // canonical; aliases fastBuffers.name: valid until the next query
	cached bool   // from the forwarding cache
}

// answerFast answers pkt from client when it is a plain in-zone A or AAAA
// query or a forwarded question the cache holds, and reports false
// otherwise.
func (s *Server) answerFast(pkt []byte, client netip.Addr, b *fastBuffers) (fastReply, bool) {
	if s.rrl != nil || s.cfg.LogQueries {
		return fastReply{}, false
	}
	q, n, ok := dnswire.ParseQuery(pkt, &b.name)
	if !ok {
		return fastReply{}, false
	}
	// The name is only read while this query is answered: map lookups,
	// hashing, comparisons. Nothing keeps it.
	name := unsafe.String(&b.name[0], n)
	if _, ok := s.hostsTable().Addrs(name); ok {
		return fastReply{}, false
	}
	var r fastReply
	if dnsname.InZone(name, s.zone.origin) {
		r, ok = s.answerZoneFast(&q, name, client, b)
	} else {
		r, ok = s.answerCachedFast(&q, name, client, b)
	}
	if !ok || len(r.msg) > q.MaxUDPReply(s.cfg.MaxUDPSize) {
		return fastReply{}, false // the full path truncates
	}
	if r.cached {
		s.metrics.cacheHit() // counted once the fast path keeps the reply
	}
	return r, true
}

// answerZoneFast answers an A or AAAA question for a name in the zone.
func (s *Server) answerZoneFast(q *dnswire.Query, name string, client netip.Addr, b *fastBuffers) (fastReply, bool) {
	z := &s.zone
	if (q.Qtype != mdns.TypeA && q.Qtype != mdns.TypeAAAA) || len(name) == len(z.origin) || name[0] == '_' ||
		name == z.nsName || (z.nodeAddrs != nil && dnsname.InZone(name, z.nodeZone)) {
		return fastReply{}, false
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
		ips, nLocal, ttl = z.selectAddrs(snap, sets, q.Qtype == mdns.TypeA, client, nil, b.ips[:0])
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
	if q.EDNS {
		ar = 1
	}
	if len(ips) > 0 {
		out = dnswire.AppendReplyHeader(out, q, true, ra, false, rcode, uint16(len(ips)), 0, ar)
		for _, ip := range ips {
			out = dnswire.AppendAddrRR(out, dnswire.HeaderLen, ip, ttl)
		}
	} else {
		// NXDOMAIN, or NODATA: the SOA, owned by the apex as the client
		// wrote it (the question's tail), says how long to cache that.
		out = dnswire.AppendReplyHeader(out, q, true, ra, false, rcode, 0, 1, ar)
		apex := dnswire.HeaderLen + len(name) - len(z.origin)
		out = dnswire.AppendRRHeader(out, apex, mdns.TypeSOA, min(z.ttl, z.negTTL), len(s.soaNames)+20)
		out = append(out, s.soaNames...)
		out = binary.BigEndian.AppendUint32(out, snap.Serial())
		out = binary.BigEndian.AppendUint32(out, soaRefresh)
		out = binary.BigEndian.AppendUint32(out, soaRetry)
		out = binary.BigEndian.AppendUint32(out, soaExpire)
		out = binary.BigEndian.AppendUint32(out, z.negTTL)
	}
	if q.EDNS {
		out = dnswire.AppendOPT(out, uint16(s.cfg.MaxUDPSize), q.DO)
	}
	b.out = out
	return fastReply{msg: out, qtype: q.Qtype, rcode: rcode, name: name}, true
}

// answerCachedFast answers a question for a name outside the zone from the
// forwarding cache, as Server.forward would: the upstream's rcode and
// records, RA set, AD only for a client that asked (DO or AD).
func (s *Server) answerCachedFast(q *dnswire.Query, name string, client netip.Addr, b *fastBuffers) (fastReply, bool) {
	switch q.Qtype {
	case mdns.TypeOPT, mdns.TypeAXFR, mdns.TypeIXFR, mdns.TypeTKEY, mdns.TypeTSIG, mdns.TypeMAILA, mdns.TypeMAILB:
		return fastReply{}, false // the full path's errors
	}
	if dnsname.IsReverse(name) && (q.Qtype == mdns.TypePTR || s.zone.reverse != nil) {
		return fastReply{}, false // may be a container's address, or in a reverse zone of ours
	}
	if dnsname.SingleLabel(name) || strings.HasSuffix(name, probeSuffix) || !s.recursionAllowed(client) {
		return fastReply{}, false
	}
	k := cacheKey{name: name, qtype: q.Qtype, qclass: mdns.ClassINET, do: q.DO, cd: q.Flags&dnswire.FlagCD != 0}
	out := b.out[:0]
	out = dnswire.AppendReplyHeader(out, q, false, true, false, 0, 0, 0, 0)
	out, h, ok := s.fwd.cache.appendSections(out, k)
	if !ok {
		b.out = out
		return fastReply{}, false
	}
	ar := h.ar
	if q.EDNS {
		out = dnswire.AppendOPT(out, uint16(s.cfg.MaxUDPSize), q.DO)
		ar++
	}
	// The header is written before the sections are known; fill in the
	// rcode, AD and the counts now.
	flags := binary.BigEndian.Uint16(out[2:]) | uint16(h.rcode&0xF)
	if h.ad && (q.DO || q.Flags&dnswire.FlagAD != 0) {
		flags |= dnswire.FlagAD
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	binary.BigEndian.PutUint16(out[6:], h.an)
	binary.BigEndian.PutUint16(out[8:], h.ns)
	binary.BigEndian.PutUint16(out[10:], ar)
	b.out = out
	return fastReply{msg: out, qtype: q.Qtype, rcode: h.rcode, name: name, cached: true}, true
}
