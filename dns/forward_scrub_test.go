package dns

import (
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

func mustRRs(t *testing.T, lines ...string) []mdns.RR {
	t.Helper()
	var out []mdns.RR
	for _, l := range lines {
		rr, err := mdns.NewRR(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

func TestScrubReply(t *testing.T) {
	tests := []struct {
		name                    string
		qname                   string
		answer, ns, extra       []string
		wantAn, wantNs, wantExt []string // the records kept, by index
	}{
		{
			name:  "a CNAME chain out of the domain is kept; other domains' records go",
			qname: "www.example.com.",
			answer: []string{
				"www.example.com. 60 IN CNAME web.example.net.",
				"web.example.net. 60 IN CNAME edge.cdn.example.org.",
				"edge.cdn.example.org. 60 IN A 192.0.2.1",
				"evil.example. 60 IN A 6.6.6.6",
				"example.com. 60 IN A 6.6.6.7",
			},
			ns: []string{
				"cdn.example.org. 60 IN NS ns1.cdn.example.org.",
				"example. 60 IN NS ns.evil.example.",
				"example.com. 60 IN NS ns.example.com.",
			},
			extra: []string{
				"ns1.cdn.example.org. 60 IN A 192.0.2.53",
				"ns.evil.example. 60 IN A 6.6.6.8",
				"ns.example.com. 60 IN A 6.6.6.9",
				"other.cdn.example.org. 60 IN A 6.6.6.10",
			},
			wantAn: []string{
				"www.example.com. 60 IN CNAME web.example.net.",
				"web.example.net. 60 IN CNAME edge.cdn.example.org.",
				"edge.cdn.example.org. 60 IN A 192.0.2.1",
			},
			wantNs:  []string{"cdn.example.org. 60 IN NS ns1.cdn.example.org."},
			wantExt: []string{"ns1.cdn.example.org. 60 IN A 192.0.2.53"},
		},
		{
			name:  "NXDOMAIN: the SOA of the name's zone and its NSEC stay",
			qname: "nope.example.com.",
			ns: []string{
				"example.com. 60 IN SOA ns.example.com. h.example.com. 1 1 1 1 30",
				"a.example.com. 60 IN NSEC z.example.com. A",
				"example.net. 60 IN SOA ns.example.net. h.example.net. 1 1 1 1 30",
				"x.example.net. 60 IN NSEC y.example.net. A",
			},
			wantNs: []string{
				"example.com. 60 IN SOA ns.example.com. h.example.com. 1 1 1 1 30",
				"a.example.com. 60 IN NSEC z.example.com. A",
			},
		},
		{
			name:  "a wildcard answer: its NSEC stays, its zone named by the signer",
			qname: "a.wild.example.com.",
			answer: []string{
				"a.wild.example.com. 60 IN A 192.0.2.3",
				"a.wild.example.com. 60 IN RRSIG A 13 3 60 20300101000000 20200101000000 1 example.com. AAAA",
			},
			ns: []string{
				"*.wild.example.com. 60 IN NSEC z.example.com. A RRSIG",
				"other.example. 60 IN NSEC z.other.example. A",
			},
			wantAn: []string{
				"a.wild.example.com. 60 IN A 192.0.2.3",
				"a.wild.example.com. 60 IN RRSIG A 13 3 60 20300101000000 20200101000000 1 example.com. AAAA",
			},
			wantNs: []string{"*.wild.example.com. 60 IN NSEC z.example.com. A RRSIG"},
		},
		{
			name:  "a DNAME and the CNAME it makes",
			qname: "www.old.example.",
			answer: []string{
				"old.example. 60 IN DNAME new.example.",
				"www.old.example. 60 IN CNAME www.new.example.",
				"www.new.example. 60 IN A 192.0.2.2",
				"mail.new.example. 60 IN A 6.6.6.6",
			},
			wantAn: []string{
				"old.example. 60 IN DNAME new.example.",
				"www.old.example. 60 IN CNAME www.new.example.",
				"www.new.example. 60 IN A 192.0.2.2",
			},
		},
		{
			name:   "MX targets in the bailiwick keep their addresses",
			qname:  "Example.COM.",
			answer: []string{"example.com. 60 IN MX 10 mx.example.com.", "example.com. 60 IN MX 20 mx.example.net."},
			extra:  []string{"mx.example.com. 60 IN A 192.0.2.25", "mx.example.net. 60 IN A 6.6.6.25", "www.example.com. 60 IN A 6.6.6.80"},
			wantAn: []string{"example.com. 60 IN MX 10 mx.example.com.", "example.com. 60 IN MX 20 mx.example.net."},
			// No zone named: the bailiwick is com., so mx.example.net's
			// address, and the unreferenced www, go.
			wantExt: []string{"mx.example.com. 60 IN A 192.0.2.25"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(mdns.Msg)
			m.Answer, m.Ns, m.Extra = mustRRs(t, tt.answer...), mustRRs(t, tt.ns...), mustRRs(t, tt.extra...)
			m.SetEdns0(1232, false)
			scrubReply(m, lower(tt.qname))
			if m.IsEdns0() == nil {
				t.Errorf("the OPT went")
			}
			for _, sec := range []struct {
				name      string
				got, want []mdns.RR
			}{{"answer", m.Answer, mustRRs(t, tt.wantAn...)}, {"authority", m.Ns, mustRRs(t, tt.wantNs...)}, {"additional", withoutOPT(m.Extra), mustRRs(t, tt.wantExt...)}} {
				if got, want := rrStrings(sec.got), rrStrings(sec.want); !slices.Equal(got, want) {
					t.Errorf("%s:\n got %q\nwant %q", sec.name, got, want)
				}
			}
		})
	}
}

func lower(s string) string { return mdns.CanonicalName(s) }

func withoutOPT(rrs []mdns.RR) []mdns.RR {
	var out []mdns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != mdns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// TestForwardDropsOutOfBailiwick: through the server, a forwarded reply's
// records of other domains are gone, from the upstream's reply and from the
// cache.
func TestForwardDropsOutOfBailiwick(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if q.Qtype == mdns.TypeA {
			m.Answer = mustRRs(t, q.Name+" 60 IN A 192.0.2.1", "victim.example. 60 IN A 6.6.6.6")
			m.Ns = mustRRs(t, "example.com. 60 IN NS ns.example.com.", "example. 60 IN NS ns.attacker.example.")
			m.Extra = mustRRs(t, "ns.example.com. 60 IN A 192.0.2.53", "ns.attacker.example. 60 IN A 6.6.6.7")
		}
		_ = w.WriteMsg(m)
	})
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	for _, from := range []string{"upstream", "cache"} {
		m := exchange(t, "udp", s.UDPAddr(), query("www.example.com.", mdns.TypeA))
		want := []string{
			"www.example.com.\t60\tIN\tA\t192.0.2.1",
			"example.com.\t60\tIN\tNS\tns.example.com.",
			"ns.example.com.\t60\tIN\tA\t192.0.2.53",
		}
		got := append(append(rrStrings(m.Answer), rrStrings(m.Ns)...), rrStrings(m.Extra)...)
		for i := range got { // the cache lowers TTLs by the seconds spent there
			got[i] = ttlAgnostic(got[i])
		}
		for i := range want {
			want[i] = ttlAgnostic(want[i])
		}
		if !slices.Equal(got, want) {
			t.Errorf("from the %s:\n got %q\nwant %q", from, got, want)
		}
	}
}

// ttlAgnostic drops the TTL from a record's presentation.
func ttlAgnostic(s string) string {
	rr, err := mdns.NewRR(s)
	if err != nil {
		return s
	}
	rr.Header().Ttl = 0
	return rr.String()
}
