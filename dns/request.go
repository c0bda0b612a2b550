package dns

import (
	"encoding/binary"

	mdns "github.com/miekg/dns"
)

// serveMessage takes one message from a client, as it came over UDP or
// TCP, through the full path: the header checks of acceptMsg, miekg's
// parser, then serveDNS. A message that cannot be parsed
// gets FORMERR, as miekg's own server gives it.
func (s *Server) serveMessage(w mdns.ResponseWriter, pkt []byte) {
	if len(pkt) < headerLen {
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
		_ = req.Unpack(pkt[:headerLen]) // the header alone always parses
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

// serveRequest answers a parsed request; raw is the message as it came.
func (s *Server) serveRequest(w mdns.ResponseWriter, req *mdns.Msg, raw []byte) {
	s.serveDNS(w, req)
}
