package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// TestTypeRule: the types the query path answers with an error, whatever
// the name, and that every other type is served.
func TestTypeRule(t *testing.T) {
	for qtype, want := range map[uint16]int{
		mdns.TypeOPT: mdns.RcodeFormatError, mdns.TypeAXFR: mdns.RcodeRefused, mdns.TypeIXFR: mdns.RcodeRefused,
		mdns.TypeTKEY: mdns.RcodeNotImplemented, mdns.TypeTSIG: mdns.RcodeNotImplemented,
		mdns.TypeMAILA: mdns.RcodeNotImplemented, mdns.TypeMAILB: mdns.RcodeNotImplemented,
	} {
		if got, ok := typeRule(qtype); !ok || got != want {
			t.Errorf("typeRule(%s) = %s, %v; want %s", mdns.Type(qtype), mdns.RcodeToString[got], ok, mdns.RcodeToString[want])
		}
	}
	for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeMX, mdns.TypeANY, mdns.TypePTR, 65000} {
		if rcode, ok := typeRule(qtype); ok {
			t.Errorf("typeRule(%s) = %s; want served", mdns.Type(qtype), mdns.RcodeToString[rcode])
		}
	}
}

// TestMayClaimAndForwardable: which names outside the origin the zone may
// answer, and which of the rest are forwarded.
func TestMayClaimAndForwardable(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: zerolog.Nop(), NoNetworkReverseZones: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name  string
		qtype uint16
		want  bool
	}{
		{"web.", mdns.TypeA, true},
		{"web.", mdns.TypeMX, false},
		{"internal.", mdns.TypeA, false}, // a label of the zone's own name
		{"test.", mdns.TypeA, false},     // special-use
		{"localhost.", mdns.TypeMX, true},
		{"x.localhost.", mdns.TypeA, true},
		{"1.2.0.192.in-addr.arpa.", mdns.TypePTR, true},
		{"1.2.0.192.in-addr.arpa.", mdns.TypeNS, false}, // no reverse zone configured
		{"www.example.com.", mdns.TypeA, false},
	} {
		if got := s.zone.mayClaim(c.name, c.qtype); got != c.want {
			t.Errorf("mayClaim(%s %s) = %v; want %v", c.name, mdns.Type(c.qtype), got, c.want)
		}
	}
	probe := newProbeName()
	for _, c := range []struct {
		name      string
		recursion bool
		want      bool
	}{
		{"www.example.com.", true, true},
		{"www.example.com.", false, false},
		{probe, true, false},
		{probeSuffix[1:], true, true}, // the parent itself is no probe
	} {
		if got := forwardable(c.name, c.recursion); got != c.want {
			t.Errorf("forwardable(%s, %v) = %v; want %v", c.name, c.recursion, got, c.want)
		}
	}
}
