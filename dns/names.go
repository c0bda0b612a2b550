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
	p, ok := parseReversePrefix(lname)
	if !ok || !p.IsSingleIP() {
		return netip.Addr{}, false
	}
	return p.Addr(), true
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
