package dnswire

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

// packQuery packs a question for name and qtype, with an OPT when size > 0.
func packQuery(t *testing.T, name string, qtype uint16, size uint16, do bool, edit func(*mdns.Msg)) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1234
	m.CheckingDisabled = true
	if size > 0 {
		m.SetEdns0(size, do)
	}
	if edit != nil {
		edit(m)
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestParseQuery: the plain shape is read with its name made canonical;
// every other shape is left to the full parser.
func TestParseQuery(t *testing.T) {
	var name [MaxNameLen]byte
	q, n, ok := ParseQuery(packQuery(t, "Web.Swarm.Internal.", mdns.TypeAAAA, 1232, true, nil), &name)
	if !ok {
		t.Fatal("plain query with OPT not taken")
	}
	if got := string(name[:n]); got != "web.swarm.internal." {
		t.Errorf("name %q; want web.swarm.internal.", got)
	}
	if q.ID != 0x1234 || q.Qtype != mdns.TypeAAAA || !q.EDNS || q.UDPSize != 1232 || !q.DO || q.Flags&FlagCD == 0 {
		t.Errorf("query %+v", q)
	}
	if got := q.MaxUDPReply(4096); got != 1232 {
		t.Errorf("MaxUDPReply %d; want 1232", got)
	}
	if q, _, ok := ParseQuery(packQuery(t, "a.b.", mdns.TypeA, 0, false, nil), &name); !ok || q.EDNS || q.MaxUDPReply(4096) != 512 {
		t.Errorf("plain query without OPT: ok %v, %+v", ok, q)
	}
	for _, tc := range []struct {
		what string
		pkt  []byte
	}{
		{"a response", packQuery(t, "a.b.", mdns.TypeA, 0, false, func(m *mdns.Msg) { m.Response = true })},
		{"opcode NOTIFY", packQuery(t, "a.b.", mdns.TypeA, 0, false, func(m *mdns.Msg) { m.Opcode = mdns.OpcodeNotify })},
		{"class CH", packQuery(t, "a.b.", mdns.TypeA, 0, false, func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS })},
		{"a name to escape", packQuery(t, `a\.b.c.`, mdns.TypeA, 0, false, nil)},
		{"the root", packQuery(t, ".", mdns.TypeNS, 0, false, nil)},
		{"an EDNS option", packQuery(t, "a.b.", mdns.TypeA, 1232, false, func(m *mdns.Msg) {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"})
		})},
		{"an answer record", packQuery(t, "a.b.", mdns.TypeA, 0, false, func(m *mdns.Msg) {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: "a.b.", Rrtype: mdns.TypeA, Class: mdns.ClassINET}})
		})},
		{"a short header", make([]byte, HeaderLen)},
	} {
		if _, _, ok := ParseQuery(tc.pkt, &name); ok {
			t.Errorf("%s: taken as a plain query", tc.what)
		}
	}
}

// TestAppendReply: a reply written with the Append functions is the
// message miekg reads back: header bits, the client's question, the
// records and the OPT.
func TestAppendReply(t *testing.T) {
	var name [MaxNameLen]byte
	q, _, ok := ParseQuery(packQuery(t, "Web.Swarm.Internal.", mdns.TypeA, 1232, true, func(m *mdns.Msg) { m.RecursionDesired = true }), &name)
	if !ok {
		t.Fatal("query not taken")
	}
	out := AppendReplyHeader(nil, &q, true, true, false, mdns.RcodeSuccess, 2, 0, 1)
	out = AppendAddrRR(out, HeaderLen, netip.MustParseAddr("10.0.0.1"), 5)
	out = AppendAddrRR(out, HeaderLen, netip.MustParseAddr("fd00::1"), 7)
	out = AppendOPT(out, 4096, q.DO)
	m := new(mdns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	if m.Id != q.ID || !m.Response || !m.Authoritative || !m.RecursionAvailable || !m.RecursionDesired || !m.CheckingDisabled || m.AuthenticatedData {
		t.Errorf("header %+v", m.MsgHdr)
	}
	if len(m.Question) != 1 || m.Question[0].Name != "Web.Swarm.Internal." {
		t.Errorf("question %v; want the client's, case kept", m.Question)
	}
	if len(m.Answer) != 2 {
		t.Fatalf("answer %v", m.Answer)
	}
	if a, ok := m.Answer[0].(*mdns.A); !ok || a.A.String() != "10.0.0.1" || a.Hdr.Ttl != 5 || a.Hdr.Name != "Web.Swarm.Internal." {
		t.Errorf("first record %v", m.Answer[0])
	}
	if a, ok := m.Answer[1].(*mdns.AAAA); !ok || a.AAAA.String() != "fd00::1" || a.Hdr.Ttl != 7 {
		t.Errorf("second record %v", m.Answer[1])
	}
	opt := m.IsEdns0()
	if opt == nil || opt.UDPSize() != 4096 || !opt.Do() || opt.Version() != 0 || len(opt.Option) != 0 {
		t.Errorf("OPT %v", opt)
	}
}
