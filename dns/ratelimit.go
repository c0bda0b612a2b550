package dns

import mdns "github.com/miekg/dns"

// slipReply turns the reply resp to req into the empty truncated reply sent
// in place of an answer over the rate limit: the header and the question,
// TC=1, and the OPT if resp had one.
func slipReply(req, resp *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = resp.Authoritative
	m.RecursionAvailable = resp.RecursionAvailable
	m.Rcode = resp.Rcode
	m.Truncated = true
	if opt := resp.IsEdns0(); opt != nil {
		m.Extra = append(m.Extra, opt)
	}
	return m
}
