package dns

import (
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// Zone transfers, for secondaries (BIND, Knot, CoreDNS) that mirror the
// zone:
//
//   - AXFR (RFC 5936) over TCP: the SOA, every record, the SOA again.
//   - IXFR (RFC 1995): a client at the current serial or newer gets one SOA
//     (it is up to date); an older one the whole zone in AXFR form, which
//     §4 allows a server that keeps no history; over UDP always the one
//     SOA (§2: too large for UDP, so the client asks again over TCP).
//   - Who: clients in Config.AllowTransfer and, once Config.TransferKeys
//     holds a key, only requests signed with one of them (the signature
//     itself is checked in serveRequest); anyone else gets REFUSED.
//   - What: every name the server answers the same way for every client
//     (zoneConfig.zoneRecords, and the node names <node>.node.<zone>), as
//     a client with no network in common with the containers gets them.

// transferChunk bounds the uncompressed size of the records in one message
// of a zone transfer, well under the 64 KiB a TCP message holds.
const transferChunk = 16 << 10

// isTransfer reports whether req asks for a zone transfer.
func isTransfer(req *mdns.Msg) bool {
	return req.Opcode == mdns.OpcodeQuery && len(req.Question) == 1 &&
		(req.Question[0].Qtype == mdns.TypeAXFR || req.Question[0].Qtype == mdns.TypeIXFR)
}

// serveTransfer answers an AXFR or IXFR request.
func (s *Server) serveTransfer(w mdns.ResponseWriter, req *mdns.Msg, client netip.Addr, tcp bool) {
	start := time.Now()
	qtype := req.Question[0].Qtype
	_, signed := w.(*tsigWriter)
	allowed := containsAddr(s.cfg.AllowTransfer, client) && (len(s.keys) == 0 || signed)
	opt := req.IsEdns0()
	if !allowed || qtype == mdns.TypeAXFR && !tcp {
		// The protocol checks (FORMERR, BADVERS, ...) come before REFUSED.
		resp, _ := s.respond(s.base, req, client, tcp, nil)
		s.writeReply(w, req, resp, start)
		return
	}
	if registry.CanonicalName(req.Question[0].Name) != s.zone.origin || opt != nil && opt.Version() != 0 {
		rcode := mdns.RcodeNotAuth
		if opt != nil && opt.Version() != 0 {
			rcode = mdns.RcodeBadVers
		}
		s.writeReply(w, req, s.fail(req, rcode, opt), start)
		return
	}
	snap := s.store.Snapshot()
	if qtype == mdns.TypeIXFR {
		have, ok := ixfrSerial(req)
		if !ok {
			s.writeReply(w, req, s.fail(req, mdns.RcodeFormatError, opt), start)
			return
		}
		if serial := snap.Serial(); !tcp || !serialBefore(have, serial) {
			m := s.zone.reply(req)
			m.Answer = []mdns.RR{s.zone.soa(s.zone.origin, serial, s.zone.ttl)}
			s.writeReply(w, req, s.finish(m, opt), start)
			return
		}
	}
	s.transfer(w, req, client, snap)
	s.metrics.request(s.servedOf(req, mdns.RcodeSuccess, SourceZone, tcp, client), time.Since(start))
}

// ixfrSerial is the serial of the client's copy, from the SOA in the
// authority section of an IXFR request (RFC 1995 §3).
func ixfrSerial(req *mdns.Msg) (uint32, bool) {
	if len(req.Ns) != 1 {
		return 0, false
	}
	soa, ok := req.Ns[0].(*mdns.SOA)
	if !ok {
		return 0, false
	}
	return soa.Serial, true
}

// serialBefore reports whether serial a is before b in RFC 1982 serial
// arithmetic (a difference of exactly 2^31 is undefined; it counts as not
// before, so the client gets one SOA rather than a transfer).
func serialBefore(a, b uint32) bool {
	return a != b && int32(b-a) > 0
}

// transfer sends the whole zone of snap to an allowed client over TCP
// (RFC 5936): the SOA, every record, the SOA again, in as many messages
// as it takes.
func (s *Server) transfer(w mdns.ResponseWriter, req *mdns.Msg, client netip.Addr, snap *registry.Snapshot) {
	opt := req.IsEdns0()
	rrs := s.zone.zoneRecords(snap)
	rrs = append(rrs, s.zone.nodeRecords(snap)...)
	serial := rrs[0].(*mdns.SOA).Serial
	rrs = append(rrs, rrs[0]) // the closing SOA
	count := len(rrs)
	for len(rrs) > 0 {
		n, size := 0, 0
		for n < len(rrs) && (n == 0 || size+mdns.Len(rrs[n]) <= transferChunk) {
			size += mdns.Len(rrs[n])
			n++
		}
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.Compress = true
		m.Answer = rrs[:n]
		rrs = rrs[n:]
		if err := w.WriteMsg(s.finish(m, opt)); err != nil {
			s.log.Warn().Err(err).Stringer("client", client).Msg("zone transfer cut short")
			return
		}
	}
	s.log.Info().Stringer("client", client).Uint32("serial", serial).Int("records", count).Msg("zone transferred")
}

// nodeRecords are the addresses of <node>.node.<zone> for every node of
// snap that Config.NodeAddrs knows, as the zone answers them; the empty
// non-terminal node.<zone> comes with them. Nodes whose names are no plain
// DNS label cannot be asked for, and are left out.
func (z *zoneConfig) nodeRecords(snap *registry.Snapshot) []mdns.RR {
	if z.nodeAddrs == nil {
		return nil
	}
	var rrs []mdns.RR
	for _, n := range snap.Nodes() {
		label := registry.CanonicalName(n.Name)
		label = label[:len(label)-1]
		if !plainLabel(label) {
			continue
		}
		owner := label + "." + z.nodeZone
		for _, ip := range z.nodeAddrs(label) {
			for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
				if rr := addrRR(owner, qtype, ip.Unmap(), z.ttl); rr != nil {
					rrs = append(rrs, rr)
				}
			}
		}
	}
	return rrs
}

// plainLabel reports whether s is one label of letters, digits, hyphens
// and underscores: a name a client can ask for without escapes.
func plainLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
