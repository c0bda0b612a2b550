package dns

import (
	"net/netip"
	"strings"

	"github.com/swarmdns/swarmdns/registry"
)

// Zone is the registry as the DNS server sees it.
//
// Snapshot returns the current immutable view of the zone. It must be safe
// for concurrent use, never block (the server calls it once per query), and
// never return nil. The server treats the snapshot and everything reachable
// from it as read-only: it copies before it shuffles or rewrites anything.
// *registry.Registry satisfies Zone.
type Zone interface {
	Snapshot() *registry.Snapshot
}

// inZone reports whether the canonical name lname is origin or below it.
// It compares whole labels, so "a\.swarm.internal." (one label holding an
// escaped dot) is not below "swarm.internal.".
func inZone(lname, origin string) bool {
	if !strings.HasSuffix(lname, origin) {
		return false
	}
	if len(lname) == len(origin) {
		return true
	}
	i := len(lname) - len(origin) - 1 // must be a label separator
	if lname[i] != '.' {
		return false
	}
	// The dot separates labels unless an odd number of backslashes escape it.
	n := 0
	for j := i - 1; j >= 0 && lname[j] == '\\'; j-- {
		n++
	}
	return n%2 == 0
}

// singleLabel reports whether lname (canonical, not the root) has exactly
// one label: "web." but not "web.example." nor "a\.b." (escapes count as
// a plain name with more than one label, which keeps this conservative).
func singleLabel(lname string) bool {
	return len(lname) > 1 && strings.IndexByte(lname, '.') == len(lname)-1 && strings.IndexByte(lname, '\\') < 0
}

// firstLabel splits lname into its first label and the rest (the parent
// name). ok is false when lname has a single label or uses escapes.
func firstLabel(lname string) (label, parent string, ok bool) {
	i := strings.IndexByte(lname, '.')
	if i <= 0 || i == len(lname)-1 || strings.IndexByte(lname[:i], '\\') >= 0 {
		return "", "", false
	}
	return lname[:i], lname[i+1:], true
}

const (
	reverseV4 = "in-addr.arpa."
	reverseV6 = "ip6.arpa."
)

// parseReverse parses a full reverse name (4 decimal labels under
// in-addr.arpa., or 32 nibble labels under ip6.arpa.) into the address.
// ok is false for anything else, such as a partial reverse name.
func parseReverse(lname string) (netip.Addr, bool) {
	switch {
	case strings.HasSuffix(lname, "."+reverseV4):
		s := lname[:len(lname)-len(reverseV4)-1]
		var b [4]byte
		for i := 3; i >= 0; i-- {
			label := s
			if j := strings.IndexByte(s, '.'); j >= 0 {
				label, s = s[:j], s[j+1:]
			} else {
				s = ""
				if i != 0 {
					return netip.Addr{}, false
				}
			}
			v, ok := parseOctet(label)
			if !ok {
				return netip.Addr{}, false
			}
			b[i] = v
		}
		if s != "" {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(lname, "."+reverseV6):
		s := lname[:len(lname)-len(reverseV6)-1]
		if len(s) != 63 { // 32 nibbles and 31 dots
			return netip.Addr{}, false
		}
		var b [16]byte
		for i := 0; i < 32; i++ {
			if i > 0 && s[2*i-1] != '.' {
				return netip.Addr{}, false
			}
			v, ok := hexNibble(s[2*i])
			if !ok {
				return netip.Addr{}, false
			}
			// Nibbles come least significant first.
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= v << 4
			} else {
				b[pos/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// isReverse reports whether lname is inside one of the reverse trees.
func isReverse(lname string) bool {
	return inZone(lname, reverseV4) || inZone(lname, reverseV6)
}

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

func hexNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
