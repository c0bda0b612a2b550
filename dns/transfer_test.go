package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/registry"
)

// axfr transfers zone from addr and returns the records and the number of
// messages they came in. An IXFR asks from serial 1.
func axfr(t *testing.T, addr netip.AddrPort, zone string, qtype uint16) ([]mdns.RR, int, error) {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(zone, qtype)
	if qtype == mdns.TypeIXFR {
		m = ixfrQuery(zone, 1)
	}
	return transferIn(t, addr, m, new(mdns.Transfer))
}

// transferIn runs the transfer m asks for with tr.
func transferIn(t *testing.T, addr netip.AddrPort, m *mdns.Msg, tr *mdns.Transfer) ([]mdns.RR, int, error) {
	t.Helper()
	ch, err := tr.In(m, addr.String())
	if err != nil {
		return nil, 0, err
	}
	var rrs []mdns.RR
	n := 0
	for env := range ch {
		if env.Error != nil {
			return nil, n, env.Error
		}
		n++
		rrs = append(rrs, env.RR...)
	}
	return rrs, n, nil
}

func TestTransfer(t *testing.T) {
	r := testRegistry(t)
	s := newTestServer(t, Config{Store: r, AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, NSAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	rrs, _, err := axfr(t, s.TCPAddr(), "swarm.internal.", mdns.TypeAXFR)
	if err != nil {
		t.Fatal(err)
	}
	if len(rrs) < 2 || rrs[0].Header().Rrtype != mdns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != mdns.TypeSOA {
		t.Fatalf("transfer must start and end with the SOA: %v", rrs)
	}
	got := rrStrings(rrs[1 : len(rrs)-1])
	want := []string{
		"swarm.internal.\t5\tIN\tNS\tns.swarm.internal.",
		"ns.swarm.internal.\t5\tIN\tA\t127.0.0.1",
		"web-1.swarm.internal.\t5\tIN\tA\t10.0.1.2",
		"web-1.swarm.internal.\t5\tIN\tA\t10.0.2.2",
		"web-1.swarm.internal.\t5\tIN\tAAAA\tfd00::2",
		"web-1.swarm.internal.\t5\tIN\tTXT\t\"container=c1\" \"node=n1\" \"image=nginx:1\"",
		"_http._tcp.web-1.swarm.internal.\t5\tIN\tSRV\t0 1 8080 web-1.swarm.internal.",
		"_9000._tcp.web-1.swarm.internal.\t5\tIN\tSRV\t0 1 9000 web-1.swarm.internal.",
		"www.swarm.internal.\t5\tIN\tCNAME\tweb.swarm.internal.",
		"ext.swarm.internal.\t5\tIN\tCNAME\texample.com.",
		"web.swarm.internal.\t5\tIN\tA\t10.0.1.2",
		"web.swarm.internal.\t5\tIN\tA\t10.0.1.4",
		"web.swarm.internal.\t5\tIN\tA\t10.0.2.2",
		"db.swarm.internal.\t5\tIN\tA\t10.0.3.1",
		"db.swarm.internal.\t5\tIN\tA\t10.0.3.2",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("transfer lacks %q", w)
		}
	}
	for _, g := range got {
		if strings.Contains(g, "10.0.1.3") && strings.HasPrefix(g, "web.") {
			t.Errorf("transfer gives the unhealthy container under the shared name: %q", g)
		}
		if strings.HasPrefix(g, "swarm.internal.\t") && strings.Contains(g, "SOA") {
			t.Errorf("SOA inside the transfer: %q", g)
		}
	}
	// Every name the zone answers is in the transfer, with the same records.
	serial := rrs[0].(*mdns.SOA).Serial
	if _, err := r.SetLocal(registry.RecordSet{ContainerID: "new", Name: "new.swarm.internal.", Addrs: []registry.Addr{addr("10.0.9.9", "x", "")}}); err != nil {
		t.Fatal(err)
	}
	// The serial moves once the change's second is over (registry/serial.go).
	await.Until(t, 3*time.Second, func() error {
		rrs, _, err = axfr(t, s.TCPAddr(), "SWARM.internal.", mdns.TypeIXFR)
		if err != nil {
			return err
		}
		if s2 := rrs[0].(*mdns.SOA).Serial; s2 == serial {
			return fmt.Errorf("serial unchanged after a change: %d", s2)
		}
		return nil
	})
	if !slices.Contains(rrStrings(rrs), "new.swarm.internal.\t5\tIN\tA\t10.0.9.9") {
		t.Errorf("second transfer lacks the new container")
	}
}

func TestTransferLargeZone(t *testing.T) {
	s := newTestServer(t, Config{Store: bigRegistry(t, 3000), AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	rrs, msgs, err := axfr(t, s.TCPAddr(), "swarm.internal.", mdns.TypeAXFR)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rr := range rrs {
		if rr.Header().Name == "big.swarm.internal." && rr.Header().Rrtype == mdns.TypeA {
			n++
		}
	}
	if n != 3000 || msgs < 2 {
		t.Errorf("got %d records of big in %d messages; want 3000 in several", n, msgs)
	}
}

func TestTransferRefused(t *testing.T) {
	allowed := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	denied := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	none := newTestServer(t, Config{})
	for _, tt := range []struct {
		name    string
		s       *Server
		network string
		zone    string
		rcode   int
	}{
		{"client not allowed", denied, "tcp", "swarm.internal.", mdns.RcodeRefused},
		{"no one allowed", none, "tcp", "swarm.internal.", mdns.RcodeRefused},
		{"over UDP", allowed, "udp", "swarm.internal.", mdns.RcodeRefused},
		{"another zone", allowed, "tcp", "example.com.", mdns.RcodeNotAuth},
	} {
		m := query(tt.zone, mdns.TypeAXFR)
		addr := tt.s.TCPAddr()
		if tt.network == "udp" {
			addr = tt.s.UDPAddr()
		}
		r := exchange(t, tt.network, addr, m)
		if r.Rcode != tt.rcode || len(r.Answer) != 0 {
			t.Errorf("%s: got %s with %d answers; want %s", tt.name, mdns.RcodeToString[r.Rcode], len(r.Answer), mdns.RcodeToString[tt.rcode])
		}
	}
}
