// Package dnsname is the syntax of DNS names in presentation form, shared
// by the registry (canonical names), the watcher (names made valid from
// container names and labels) and the DNS server (zone membership, labels,
// reverse names): pure functions on strings, with no DNS library, so that
// the registry can use them.
package dnsname

import "strings"

// CanonicalName returns name lower-cased (ASCII only, as DNS compares names)
// with exactly one trailing dot: a run of trailing dots becomes one. The
// empty name stays empty. It allocates only when name is not canonical.
func CanonicalName(name string) string {
	if name == "" {
		return ""
	}
	trimmed := strings.TrimRight(name, ".")
	if len(trimmed) == len(name)-1 {
		return asciiLower(name)
	}
	return asciiLower(trimmed) + "."
}

// asciiLower lower-cases ASCII letters only, allocating only when it must.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// InZone reports whether the canonical name lname is origin or below it.
// It compares whole labels, so "a\.swarm.internal." (one label holding an
// escaped dot) is not below "swarm.internal.".
func InZone(lname, origin string) bool {
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

// SingleLabel reports whether lname (canonical, not the root) has exactly
// one label: "web." but not "web.example." nor "a\.b." (escapes count as
// a plain name with more than one label, which keeps this conservative).
func SingleLabel(lname string) bool {
	return len(lname) > 1 && strings.IndexByte(lname, '.') == len(lname)-1 && strings.IndexByte(lname, '\\') < 0
}

// FirstLabel splits lname into its first label and the rest (the parent
// name). ok is false when lname has a single label or uses escapes.
func FirstLabel(lname string) (label, parent string, ok bool) {
	i := strings.IndexByte(lname, '.')
	if i <= 0 || i == len(lname)-1 || strings.IndexByte(lname[:i], '\\') >= 0 {
		return "", "", false
	}
	return lname[:i], lname[i+1:], true
}
