// Package dnswire reads and writes DNS messages at the byte level for the
// server's fast path: it parses the one shape of query that makes up nearly
// all traffic straight from the packet, and appends reply headers, address
// records and the OPT record to a buffer, without a miekg Msg and without
// allocating. Everything outside that shape is left to miekg/dns.
package dnswire

import (
	"encoding/binary"
	"net/netip"

	mdns "github.com/miekg/dns"
)

// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2), the opcode's bits and
// the header's length.
const (
	FlagQR = 1 << 15
	FlagAA = 1 << 10
	FlagTC = 1 << 9
	FlagRD = 1 << 8
	FlagRA = 1 << 7
	FlagZ  = 1 << 6
	FlagAD = 1 << 5
	FlagCD = 1 << 4

	OpcodeMask = 0xF << 11
	HeaderLen  = 12
)

// MaxNameLen is the longest name in presentation form with its trailing
// dot: 255 octets on the wire less the length of the first label.
const MaxNameLen = 254

// Query is a parsed plain query. Question aliases the packet.
type Query struct {
	ID       uint16
	Flags    uint16 // the query's header flags
	Question []byte // the question as sent: name, type, class
	Qtype    uint16
	EDNS     bool   // the query carried an OPT (version 0, no options)
	UDPSize  uint16 // the OPT's payload size, when EDNS
	DO       bool   // the OPT's DO bit
}

// ParseQuery reads pkt as a plain query, writing the question name in
// canonical presentation form (lower case, trailing dot) into name, which
// must hold MaxNameLen bytes. It returns false for anything that is not a
// plain query; the caller then hands the packet to the full parser.
//
// A plain query is the one shape that makes up nearly all traffic: a
// standard QUERY with one plain question, no records but at most an OPT
// without options. Anything else (other opcodes, compression or escapes in
// the question, EDNS options, several questions) is not a Query.
func ParseQuery(pkt []byte, name *[MaxNameLen]byte) (q Query, nameLen int, ok bool) {
	if len(pkt) < HeaderLen+5 {
		return q, 0, false
	}
	q.ID = binary.BigEndian.Uint16(pkt[0:])
	q.Flags = binary.BigEndian.Uint16(pkt[2:])
	if q.Flags&(FlagQR|OpcodeMask|FlagTC|FlagZ) != 0 || q.Flags&0xF != 0 {
		return q, 0, false // a response, not QUERY, truncated, Z set, or an rcode
	}
	qd, an, ns, ar := binary.BigEndian.Uint16(pkt[4:]), binary.BigEndian.Uint16(pkt[6:]), binary.BigEndian.Uint16(pkt[8:]), binary.BigEndian.Uint16(pkt[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return q, 0, false
	}
	off := HeaderLen
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
		if l > 63 || off+l > len(pkt) || n+l+1 > MaxNameLen {
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
	q.Qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != mdns.ClassINET {
		return q, 0, false
	}
	off += 4
	q.Question = pkt[HeaderLen:off]
	if ar == 1 {
		// The OPT: root owner, type 41, no extended rcode, version 0, no
		// options, and nothing after it.
		if off+11 != len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != mdns.TypeOPT ||
			pkt[off+5] != 0 || pkt[off+6] != 0 || binary.BigEndian.Uint16(pkt[off+9:]) != 0 {
			return q, 0, false
		}
		q.EDNS = true
		q.UDPSize = binary.BigEndian.Uint16(pkt[off+3:])
		q.DO = pkt[off+7]&0x80 != 0
	} else if off != len(pkt) {
		return q, 0, false
	}
	return q, n, true
}

// MaxUDPReply is the largest UDP reply q's client takes (ClientUDPSize).
func (q *Query) MaxUDPReply(limit int) int {
	return ClientUDPSize(q.EDNS, q.UDPSize, limit)
}

// ClientUDPSize is the largest UDP reply a client takes: 512 without
// EDNS0, else its advertised size, at least 512 and at most limit.
func ClientUDPSize(edns bool, size uint16, limit int) int {
	if !edns {
		return mdns.MinMsgSize
	}
	return min(max(int(size), mdns.MinMsgSize), limit)
}

// AppendReplyHeader appends the header of the reply to q: its ID, QR, its
// opcode (QUERY), RD and CD; aa, ra and ad as given; rcode; the counts; then
// the question as the client sent it, so names compressed to offset 12 take
// the client's case (0x20).
func AppendReplyHeader(dst []byte, q *Query, aa, ra, ad bool, rcode int, an, ns, ar uint16) []byte {
	flags := uint16(FlagQR) | q.Flags&(FlagRD|FlagCD) | uint16(rcode&0xF)
	if aa {
		flags |= FlagAA
	}
	if ra {
		flags |= FlagRA
	}
	if ad {
		flags |= FlagAD
	}
	dst = binary.BigEndian.AppendUint16(dst, q.ID)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, an)
	dst = binary.BigEndian.AppendUint16(dst, ns)
	dst = binary.BigEndian.AppendUint16(dst, ar)
	return append(dst, q.Question...)
}

// AppendRRHeader appends an RR's owner (a compression pointer to ptr), type,
// class IN, TTL and RDLENGTH.
func AppendRRHeader(dst []byte, ptr int, rrtype uint16, ttl uint32, rdlen int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 0xC000|uint16(ptr))
	dst = binary.BigEndian.AppendUint16(dst, rrtype)
	dst = binary.BigEndian.AppendUint16(dst, mdns.ClassINET)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	return binary.BigEndian.AppendUint16(dst, uint16(rdlen))
}

// AppendAddrRR appends an A or AAAA record for ip owned by the name at ptr.
func AppendAddrRR(dst []byte, ptr int, ip netip.Addr, ttl uint32) []byte {
	if ip.Is4() {
		a := ip.As4()
		return append(AppendRRHeader(dst, ptr, mdns.TypeA, ttl, 4), a[:]...)
	}
	a := ip.As16()
	return append(AppendRRHeader(dst, ptr, mdns.TypeAAAA, ttl, 16), a[:]...)
}

// AppendOPT appends the server's OPT record (RFC 6891): payload size,
// version 0, the client's DO bit, no options.
func AppendOPT(dst []byte, udpSize uint16, do bool) []byte {
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
