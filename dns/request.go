package dns

import (
	"encoding/binary"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/dnswire"
)

// serveMessage takes one message from a client, as it came over UDP or
// TCP, through the full path: the header checks of acceptMsg, miekg's
// parser, the TSIG check, then serveDNS. A message that cannot be parsed
// gets FORMERR, as miekg's own server gives it.
func (s *Server) serveMessage(w mdns.ResponseWriter, pkt []byte) {
	if len(pkt) < dnswire.HeaderLen {
		return // not even a header: nothing to answer
	}
	dh := mdns.Header{
		Id:      binary.BigEndian.Uint16(pkt[0:]),
		Bits:    binary.BigEndian.Uint16(pkt[2:]),
		Qdcount: binary.BigEndian.Uint16(pkt[4:]),
		Ancount: binary.BigEndian.Uint16(pkt[6:]),
		Nscount: binary.BigEndian.Uint16(pkt[8:]),
		Arcount: binary.BigEndian.Uint16(pkt[10:]),
	}
	req := new(mdns.Msg)
	action := acceptMsg(dh)
	switch action {
	case mdns.MsgIgnore:
		return
	case mdns.MsgAccept:
		if req.Unpack(pkt) == nil {
			s.serveRequest(w, req, pkt)
			return
		}
		// The header is set; the question too when it parsed.
	default:
		_ = req.Unpack(pkt[:dnswire.HeaderLen]) // the header alone always parses
	}
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	req.Zero = false
	if action == mdns.MsgRejectNotImplemented {
		req.Opcode = opcode
		req.Rcode = mdns.RcodeNotImplemented
	}
	req.Answer, req.Ns, req.Extra = nil, nil, nil
	_ = w.WriteMsg(req)
}

// serveRequest answers a parsed request; raw is the message as it came,
// which a TSIG signature covers. A signed request is answered through a
// tsigWriter, which signs the replies; a bad signature gets NOTAUTH here.
func (s *Server) serveRequest(w mdns.ResponseWriter, req *mdns.Msg, raw []byte) {
	t, malformed := requestTSIG(req)
	if t == nil && !malformed {
		s.serveDNS(w, req)
		return
	}
	start := time.Now()
	opt := req.IsEdns0()
	if malformed {
		s.writeReply(w, req, s.fail(req, mdns.RcodeFormatError, opt), start)
		return
	}
	k, tsigErr := s.keys.verify(raw, t)
	if tsigErr == 0 {
		s.serveDNS(&tsigWriter{ResponseWriter: w, key: k, mac: t.MAC, now: s.cfg.Now}, req)
		return
	}
	reply := s.fail(req, mdns.RcodeNotAuth, opt)
	buf, err := tsigReply(req, t, k, tsigErr, reply, s.cfg.Now())
	if err == nil {
		_, err = w.Write(buf)
	}
	if err != nil {
		s.qlog.Debug().Err(err).Stringer("client", w.RemoteAddr()).Msg("write reply")
	}
	s.log.Info().Stringer("client", w.RemoteAddr()).Str("key", t.Hdr.Name).Str("error", mdns.RcodeToString[int(tsigErr)]).Msg("refused a TSIG-signed request")
	s.metrics.request(s.servedOf(req, mdns.RcodeNotAuth, SourceServer, isTCP(w.RemoteAddr()), remoteIP(w.RemoteAddr())), time.Since(start))
}

// writeReply writes a reply made whole and counts it.
func (s *Server) writeReply(w mdns.ResponseWriter, req, reply *mdns.Msg, start time.Time) {
	if err := w.WriteMsg(reply); err != nil {
		s.qlog.Debug().Err(err).Stringer("client", w.RemoteAddr()).Msg("write reply")
	}
	s.metrics.request(s.servedOf(req, reply.Rcode, SourceServer, isTCP(w.RemoteAddr()), remoteIP(w.RemoteAddr())), time.Since(start))
}
