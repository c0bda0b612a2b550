package dns

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/reuseport"
)

// TestExtraListen serves every listen address, UDP and TCP.
func TestExtraListen(t *testing.T) {
	s := newTestServer(t, Config{Listen: "127.0.0.1:0", ExtraListen: []string{"127.0.0.2:0"}})
	if len(s.tcps) != 2 {
		t.Fatalf("%d TCP listeners; want 2", len(s.tcps))
	}
	for _, l := range s.tcps {
		ap := l.Addr().(*net.TCPAddr).AddrPort()
		for _, network := range []string{"udp", "tcp"} {
			r := exchange(t, network, ap, query("web-1."+testZone, mdns.TypeA))
			if r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
				t.Errorf("%s %v: rcode %s, %d answers", network, ap, mdns.RcodeToString[r.Rcode], len(r.Answer))
			}
		}
	}
}

// TestNextRunBindsBeside: on a fixed port a second server binds the same
// address while the first runs (SO_REUSEPORT, UDP and TCP), and answers
// everything once the first has stopped.
func TestNextRunBindsBeside(t *testing.T) {
	if !reuseport.Available {
		t.Skip("no SO_REUSEPORT on this platform")
	}
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	first, err := New(Config{Listen: addr, Store: testRegistry(t), Logger: testLogger(t)})
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", port, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	newTestServer(t, Config{Listen: addr})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	ap := netip.MustParseAddrPort(addr)
	for range 20 { // UDP: the kernel spread queries over both runs' sockets
		for _, network := range []string{"udp", "tcp"} {
			if r := exchange(t, network, ap, query("web-1."+testZone, mdns.TypeA)); r.Rcode != mdns.RcodeSuccess {
				t.Fatalf("%s after the first run closed: %s", network, mdns.RcodeToString[r.Rcode])
			}
		}
	}
}
