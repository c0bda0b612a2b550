package admin_test

import (
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/admin"
)

func TestExplanationFromReply(t *testing.T) {
	m := new(mdns.Msg)
	m.SetQuestion("web.swarm.internal.", mdns.TypeA)
	m.Response = true
	a, err := mdns.NewRR("web.swarm.internal. 5 IN A 10.0.1.5")
	if err != nil {
		t.Fatal(err)
	}
	m.Answer = []mdns.RR{a}
	ex := admin.ExplanationFromReply(m)
	if ex.Rcode != "NOERROR" || len(ex.Answer) != 1 || ex.Answer[0] != "web.swarm.internal.\t5\tIN\tA\t10.0.1.5" || ex.Authority != nil {
		t.Errorf("got %+v", ex)
	}

	m.Answer, m.Rcode = nil, mdns.RcodeNameError
	soa, _ := mdns.NewRR("swarm.internal. 5 IN SOA ns.swarm.internal. hostmaster.swarm.internal. 1 60 60 60 5")
	m.Ns = []mdns.RR{soa}
	ex = admin.ExplanationFromReply(m)
	if ex.Rcode != "NXDOMAIN" || len(ex.Answer) != 0 || ex.Answer == nil || len(ex.Authority) != 1 {
		t.Errorf("NXDOMAIN: got %+v", ex)
	}
	m.Rcode = mdns.RcodeBadVers
	if ex := admin.ExplanationFromReply(m); ex.Rcode != "BADVERS" {
		t.Errorf("rcode 16: got %q; want BADVERS", ex.Rcode)
	}
	m.Rcode = 3841
	if ex := admin.ExplanationFromReply(m); ex.Rcode != "RCODE3841" {
		t.Errorf("unknown rcode: got %q; want RCODE3841", ex.Rcode)
	}
	if ex := admin.ExplanationFromReply(nil); ex.Rcode != "SERVFAIL" {
		t.Errorf("nil reply: got %q; want SERVFAIL", ex.Rcode)
	}
}
