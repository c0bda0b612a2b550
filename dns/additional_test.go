package dns

import (
	"fmt"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// TestSRVAdditional: the addresses of SRV targets come in the additional
// section when they fit; when they do not, they are left out and the
// reply is not truncated (RFC 2181 §9), the SRV answer being whole.
func TestSRVAdditional(t *testing.T) {
	r := testRegistry(t)
	set := registry.RecordSet{ContainerID: "many", Name: "many." + testZone, Ports: []registry.Port{{Service: "http", Proto: "tcp", Port: 80}}}
	for i := range 40 {
		set.Addrs = append(set.Addrs, registry.Addr{IP: netip.MustParseAddr(fmt.Sprintf("10.7.0.%d", i+1)), Network: "n"})
	}
	if _, err := r.SetLocal(set); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{Store: r})

	m := query("_http._tcp.web-1.swarm.internal.", mdns.TypeSRV)
	got := exchange(t, "udp", s.UDPAddr(), m)
	if len(got.Answer) != 1 || len(got.Extra) != 3 || got.Truncated {
		t.Errorf("web-1's SRV: got %d answers, %d additional, tc=%v; want 1, its 3 addresses, no TC", len(got.Answer), len(got.Extra), got.Truncated)
	}
	// 40 A records do not fit in 512 bytes beside the SRV: the RRset is
	// left out whole.
	m = query("_http._tcp.many.swarm.internal.", mdns.TypeSRV)
	got = exchange(t, "udp", s.UDPAddr(), m)
	if len(got.Answer) != 1 || len(got.Extra) != 0 || got.Truncated {
		t.Errorf("many's SRV in 512 bytes: got %d answers, %d additional, tc=%v; want the SRV alone, no TC", len(got.Answer), len(got.Extra), got.Truncated)
	}
	// Over TCP all 40 fit.
	got = exchange(t, "tcp", s.TCPAddr(), m)
	if len(got.Answer) != 1 || len(got.Extra) != 40 {
		t.Errorf("many's SRV over TCP: got %d answers, %d additional; want 1, 40", len(got.Answer), len(got.Extra))
	}
}
