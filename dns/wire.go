package dns

import (
	"encoding/binary"
	"net/netip"

	mdns "github.com/miekg/dns"
)

// This file reads the one shape of query that makes up nearly all traffic,
// straight from the packet: a standard QUERY with one plain question, no
// records but at most an OPT without options. Anything else (other opcodes,
// compression or escapes in the question, EDNS options, several questions)
// is not a wireQuery and takes the full miekg path.

// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2).
const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagZ  = 1 << 6
	flagAD = 1 << 5
	flagCD = 1 << 4

	opcodeMask = 0xF << 11
	headerLen  = 12
)

// maxNameLen is the longest name in presentation form with its trailing
// dot: 255 octets on the wire less the length of the first label.
const maxNameLen = 254

// wireQuery is a parsed plain query. question aliases the packet.
type wireQuery struct {
	id       uint16
	flags    uint16 // the query's header flags
	question []byte // the question as sent: name, type, class
	qtype    uint16
	edns     bool   // the query carried an OPT (version 0, no options)
	udpSize  uint16 // the OPT's payload size, when edns
	do       bool   // the OPT's DO bit
}

// parseQuery reads pkt as a plain query, writing the question name in
// canonical presentation form (lower case, trailing dot) into name, which
// must hold maxNameLen bytes. It returns false for anything that is not a
// plain query; the caller then hands the packet to the full parser.
func parseQuery(pkt []byte, name *[maxNameLen]byte) (q wireQuery, nameLen int, ok bool) {
	if len(pkt) < headerLen+5 {
		return q, 0, false
	}
	q.id = binary.BigEndian.Uint16(pkt[0:])
	q.flags = binary.BigEndian.Uint16(pkt[2:])
	if q.flags&(flagQR|opcodeMask|flagTC|flagZ) != 0 || q.flags&0xF != 0 {
		return q, 0, false // a response, not QUERY, truncated, Z set, or an rcode
	}
	qd, an, ns, ar := binary.BigEndian.Uint16(pkt[4:]), binary.BigEndian.Uint16(pkt[6:]), binary.BigEndian.Uint16(pkt[8:]), binary.BigEndian.Uint16(pkt[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return q, 0, false
	}
	off := headerLen
	n := 0
	for {
		if off >= len(pkt) {
			return q, 0, false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(pkt) || n+l+1 > maxNameLen {
			return q, 0, false // a pointer, an extended label type, or too long
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				return q, 0, false // needs escaping in presentation form
			}
			name[n] = c
			n++
		}
		name[n] = '.'
		n++
		off += l
	}
	if n == 0 || off+4 > len(pkt) {
		return q, 0, false // the root, or no type and class
	}
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != mdns.ClassINET {
		return q, 0, false
	}
	off += 4
	q.question = pkt[headerLen:off]
	if ar == 1 {
		// The OPT: root owner, type 41, no extended rcode, version 0, no
		// options, and nothing after it.
		if off+11 != len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != mdns.TypeOPT ||
			pkt[off+5] != 0 || pkt[off+6] != 0 || binary.BigEndian.Uint16(pkt[off+9:]) != 0 {
			return q, 0, false
		}
		q.edns = true
		q.udpSize = binary.BigEndian.Uint16(pkt[off+3:])
		q.do = pkt[off+7]&0x80 != 0
	} else if off != len(pkt) {
		return q, 0, false
	}
	return q, n, true
}

// maxUDPReply is the largest UDP reply q's client takes (clientUDPSize).
func (q *wireQuery) maxUDPReply(limit int) int {
	return clientUDPSize(q.edns, q.udpSize, limit)
}

// appendReplyHeader appends the header of the reply to q: its ID, QR, its
// opcode (QUERY), RD and CD; aa, ra and ad as given; rcode; the counts; then
// the question as the client sent it, so names compressed to offset 12 take
// the client's case (0x20).
func appendReplyHeader(dst []byte, q *wireQuery, aa, ra, ad bool, rcode int, an, ns, ar uint16) []byte {
	flags := uint16(flagQR) | q.flags&(flagRD|flagCD) | uint16(rcode&0xF)
	if aa {
		flags |= flagAA
	}
	if ra {
		flags |= flagRA
	}
	if ad {
		flags |= flagAD
	}
	dst = binary.BigEndian.AppendUint16(dst, q.id)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, an)
	dst = binary.BigEndian.AppendUint16(dst, ns)
	dst = binary.BigEndian.AppendUint16(dst, ar)
	return append(dst, q.question...)
}

// appendRRHeader appends an RR's owner (a compression pointer to ptr), type,
// class IN, TTL and RDLENGTH.
func appendRRHeader(dst []byte, ptr int, rrtype uint16, ttl uint32, rdlen int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 0xC000|uint16(ptr))
	dst = binary.BigEndian.AppendUint16(dst, rrtype)
	dst = binary.BigEndian.AppendUint16(dst, mdns.ClassINET)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	return binary.BigEndian.AppendUint16(dst, uint16(rdlen))
}

// appendAddrRR appends an A or AAAA record for ip owned by the name at ptr.
func appendAddrRR(dst []byte, ptr int, ip netip.Addr, ttl uint32) []byte {
	if ip.Is4() {
		a := ip.As4()
		return append(appendRRHeader(dst, ptr, mdns.TypeA, ttl, 4), a[:]...)
	}
	a := ip.As16()
	return append(appendRRHeader(dst, ptr, mdns.TypeAAAA, ttl, 16), a[:]...)
}

// appendOPT appends the server's OPT record (RFC 6891): payload size,
// version 0, the client's DO bit, no options.
func appendOPT(dst []byte, udpSize uint16, do bool) []byte {
	dst = append(dst, 0) // root owner
	dst = binary.BigEndian.AppendUint16(dst, mdns.TypeOPT)
	dst = binary.BigEndian.AppendUint16(dst, udpSize)
	var flags uint32
	if do {
		flags = 1 << 15
	}
	dst = binary.BigEndian.AppendUint32(dst, flags)
	return binary.BigEndian.AppendUint16(dst, 0)
}
