package dns

import mdns "github.com/miekg/dns"

// EDNS options the server checks (RFC 6891 §6.1.2: options it does not
// know are ignored).

// Lengths of a DNS COOKIE option (RFC 7873 §4): the client cookie alone,
// or with a server cookie of 8 to 32 bytes.
const (
	clientCookieLen    = 8
	minServerCookieLen = 8
	maxServerCookieLen = 32
)

// malformedCookie reports whether opt carries a COOKIE option of a length
// no cookie has (RFC 7873 §5.2.2: FORMERR). The server itself sets no
// server cookie: a well-formed one is ignored, as a server that does not
// implement cookies does.
func malformedCookie(opt *mdns.OPT) bool {
	for _, o := range opt.Option {
		c, ok := o.(*mdns.EDNS0_COOKIE)
		if !ok {
			continue
		}
		n := len(c.Cookie) / 2 // hex
		if n != clientCookieLen && (n < clientCookieLen+minServerCookieLen || n > clientCookieLen+maxServerCookieLen) {
			return true
		}
	}
	return false
}
