package dnsname

import (
	"net/netip"
	"strconv"
	"strings"
)

// The reverse trees (RFC 1035 §3.5, RFC 3596 §2.5).
const (
	ReverseV4 = "in-addr.arpa."
	ReverseV6 = "ip6.arpa."
)

// ParseReverse parses a full reverse name (4 decimal labels under
// in-addr.arpa., or 32 nibble labels under ip6.arpa.) into the address.
// ok is false for anything else, such as a partial reverse name.
func ParseReverse(lname string) (netip.Addr, bool) {
	p, ok := ParseReversePrefix(lname)
	if !ok || !p.IsSingleIP() {
		return netip.Addr{}, false
	}
	return p.Addr(), true
}

// IsReverse reports whether lname is inside one of the reverse trees.
func IsReverse(lname string) bool {
	return InZone(lname, ReverseV4) || InZone(lname, ReverseV6)
}

// parseOctet parses a decimal label of an in-addr.arpa. name: 0 to 255,
// no leading zero.
func parseOctet(s string) (byte, bool) {
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

// hexNibble parses a nibble label of an ip6.arpa. name (lower case).
func hexNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// ReverseZoneNames returns the apexes of the reverse zones that cover p.
// A prefix whose length is not a multiple of the label (8 bits for IPv4, 4
// for IPv6) is covered without RFC 2317's classless delegation: by the
// zones of the next longer multiple (a /20 is sixteen /24 zones, a /12
// sixteen /16 ones), and a prefix longer than the last label but one (an
// IPv4 /25 to /32, an IPv6 /125 to /128) by the zone that holds it (its
// /24, its /124).
func ReverseZoneNames(p netip.Prefix) []string {
	p = p.Masked()
	if !p.IsValid() {
		return nil
	}
	step, tree := 8, ReverseV4
	if p.Addr().Is6() {
		step, tree = 4, ReverseV6
	}
	full := p.Addr().BitLen()
	bits := min((p.Bits()+step-1)/step*step, full-step)
	if bits < p.Bits() { // longer than the last label but one
		p = netip.PrefixFrom(p.Addr(), bits).Masked()
	}
	if bits == 0 {
		return []string{tree}
	}
	// Every prefix of length bits inside p: they differ in the low bits of
	// their last label only, 2^(bits-p.Bits()) of them, at most 2^(step-1).
	above := reverseName(p.Addr(), bits-step, step) + tree
	first := labelValue(p.Addr().AsSlice(), bits-step, step)
	out := make([]string, 0, 1<<(bits-p.Bits()))
	for v := first; v < first+1<<(bits-p.Bits()); v++ {
		out = append(out, formatLabel(v, step)+"."+above)
	}
	return out
}

// reverseName returns the labels of the first bits of a (a multiple of
// step), least significant first, each followed by a dot.
func reverseName(a netip.Addr, bits, step int) string {
	var sb strings.Builder
	b := a.AsSlice()
	for pos := bits - step; pos >= 0; pos -= step {
		sb.WriteString(formatLabel(labelValue(b, pos, step), step))
		sb.WriteByte('.')
	}
	return sb.String()
}

// labelValue is the label of step bits (8 or 4) at bit offset pos of b.
func labelValue(b []byte, pos, step int) int {
	if step == 8 {
		return int(b[pos/8])
	}
	return int(b[pos/8] >> (4 - pos%8) & 0xf)
}

// formatLabel writes a label: an octet in decimal, a nibble in hex.
func formatLabel(v, step int) string {
	if step == 8 {
		return strconv.Itoa(v)
	}
	return string("0123456789abcdef"[v])
}

// ParseReversePrefix parses a reverse name, full or partial (up to 4
// decimal labels under in-addr.arpa., up to 32 nibble labels under
// ip6.arpa.), into the prefix it stands for: "2.1.in-addr.arpa." is
// 1.2.0.0/16.
func ParseReversePrefix(lname string) (netip.Prefix, bool) {
	var labels string
	step, max := 8, 4
	switch {
	case lname == ReverseV4 || lname == ReverseV6:
		labels = ""
		if lname == ReverseV6 {
			step, max = 4, 32
		}
	case strings.HasSuffix(lname, "."+ReverseV4):
		labels = lname[:len(lname)-len(ReverseV4)-1]
	case strings.HasSuffix(lname, "."+ReverseV6):
		labels = lname[:len(lname)-len(ReverseV6)-1]
		step, max = 4, 32
	default:
		return netip.Prefix{}, false
	}
	var parts []string
	if labels != "" {
		parts = strings.Split(labels, ".")
	}
	if len(parts) > max {
		return netip.Prefix{}, false
	}
	var b [16]byte
	for i, label := range parts {
		pos := (len(parts) - 1 - i) * step // bit offset, most significant first
		if step == 8 {
			v, ok := parseOctet(label)
			if !ok {
				return netip.Prefix{}, false
			}
			b[pos/8] = v
			continue
		}
		if len(label) != 1 {
			return netip.Prefix{}, false
		}
		v, ok := hexNibble(label[0])
		if !ok {
			return netip.Prefix{}, false
		}
		b[pos/8] |= v << (4 - pos%8)
	}
	bits := len(parts) * step
	if step == 8 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(b[:4])), bits), true
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), bits), true
}
