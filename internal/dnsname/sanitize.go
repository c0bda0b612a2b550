package dnsname

import "strings"

// DNS limits (RFC 1035 2.3.4), in octets of presentation form without the
// trailing dot.
const (
	MaxLabelLen = 63
	MaxNameLen  = 253
)

// SanitizeLabel makes s a valid DNS label in the hostname syntax (letters,
// digits and hyphens; RFC 952/1123): it lower-cases ASCII letters, turns
// every other character (dots and underscores included) into '-', trims
// hyphens at both ends and truncates to 63 octets. The result is empty when
// nothing usable is left. SanitizeLabel(SanitizeLabel(s)) == SanitizeLabel(s).
func SanitizeLabel(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-':
			b.WriteRune(r)
		case 'A' <= r && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		default:
			b.WriteByte('-')
		}
	}
	label := strings.Trim(b.String(), "-")
	if len(label) > MaxLabelLen {
		label = strings.TrimRight(label[:MaxLabelLen], "-")
	}
	return label
}

// SanitizeName makes a dotted name valid: each label is sanitized, empty
// labels are dropped, and the whole is cut to max octets (at the end, then
// trimmed of trailing hyphens and dots).
func SanitizeName(name string, max int) string {
	if max <= 0 {
		return ""
	}
	var labels []string
	for l := range strings.SplitSeq(name, ".") {
		if l = SanitizeLabel(l); l != "" {
			labels = append(labels, l)
		}
	}
	out := strings.Join(labels, ".")
	if len(out) > max {
		// The cut can only end the last label early; trimming its
		// trailing hyphens (or a dangling dot) keeps it valid.
		out = strings.TrimRight(out[:max], "-.")
	}
	return out
}
