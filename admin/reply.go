package admin

import (
	"strconv"

	mdns "github.com/miekg/dns"
)

// ExplanationFromReply starts an Explanation from a DNS reply: its rcode
// and its answer and authority sections in presentation format. The caller
// (an Explainer) adds Forwarded, Note and Candidates. A nil reply gives
// rcode SERVFAIL and no records.
func ExplanationFromReply(m *mdns.Msg) Explanation {
	ex := Explanation{Rcode: mdns.RcodeToString[mdns.RcodeServerFailure], Answer: []string{}, Candidates: []Candidate{}}
	if m == nil {
		return ex
	}
	ex.Rcode = rcodeString(m.Rcode)
	for _, rr := range m.Answer {
		ex.Answer = append(ex.Answer, rr.String())
	}
	for _, rr := range m.Ns {
		ex.Authority = append(ex.Authority, rr.String())
	}
	if m.Truncated {
		ex.Note = "the reply is truncated"
	}
	return ex
}

func rcodeString(rc int) string {
	if rc == mdns.RcodeBadVers {
		return "BADVERS" // RcodeToString says BADSIG, which shares 16 but only travels in TSIG records
	}
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}
