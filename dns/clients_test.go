package dns

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/logtest"
	"github.com/swarmdns/swarmdns/registry"
)

// TestAnswerByClientContainer: a client container is answered on the
// networks it shares with the name's container, whichever of its addresses
// it asks from (its docker_gwbridge one included); an address no container
// holds gets every address, even inside a network's subnet; a network of
// this node only is shared with the local node's containers only.
func TestAnswerByClientContainer(t *testing.T) {
	r := testRegistry(t)
	z := testZoneConfig()
	ask := func(name string, client string) []string {
		t.Helper()
		req := new(mdns.Msg)
		req.SetQuestion(name, mdns.TypeA)
		m, ok := z.answer(r.Snapshot(), req, netip.MustParseAddr(client), nil)
		if !ok {
			t.Fatalf("%s: not answered", name)
		}
		var ips []string
		for _, rr := range m.Answer {
			ips = append(ips, rr.(*mdns.A).A.String())
		}
		slices.Sort(ips)
		return ips
	}
	for _, tt := range []struct {
		client string
		want   []string
	}{
		{"10.0.1.77", []string{"10.0.1.2"}},              // front-client on front
		{"172.18.0.77", []string{"10.0.1.2"}},            // the same container, from docker_gwbridge
		{"10.0.2.50", []string{"10.0.2.2"}},              // back-client
		{"10.0.1.99", []string{"10.0.1.2", "10.0.2.2"}},  // no container: no scoping
		{"172.17.0.5", []string{"10.0.1.2", "10.0.2.2"}}, // bridge-client shares nothing with web-1
	} {
		if got := ask("web-1."+testZone, tt.client); !slices.Equal(got, tt.want) {
			t.Errorf("web-1 for %s: got %v; want %v", tt.client, got, tt.want)
		}
	}

	// The default bridge: shared with this node's containers, not with
	// another node's bridge of the same name.
	br := func(id, node, ip string) registry.RecordSet {
		return registry.RecordSet{ContainerID: id, Name: id + "." + testZone, Names: []string{"br." + testZone},
			Addrs: []registry.Addr{addr(ip, "bridge", "172.17.0.0/16"), addr("10.0.1.1"+ip[len(ip)-1:], "front", "10.0.1.0/24")}}
	}
	if _, err := r.SetLocal(br("lb", "n1", "172.17.0.9")); err != nil {
		t.Fatal(err)
	}
	rb := br("rb", "n2", "172.17.0.8")
	if _, err := r.ApplyDelta(registry.Delta{Node: "n2", Generation: 1, Version: 10, ContainerID: "rb", Set: &rb}); err != nil {
		t.Fatal(err)
	}
	if got, want := ask("lb."+testZone, "172.17.0.5"), []string{"172.17.0.9"}; !slices.Equal(got, want) {
		t.Errorf("local container on the client's bridge: got %v; want %v", got, want)
	}
	if got, want := ask("rb."+testZone, "172.17.0.5"), []string{"10.0.1.18", "172.17.0.8"}; !slices.Equal(got, want) {
		t.Errorf("another node's container on a bridge of the same name: got %v; want every address %v", got, want)
	}
	if got, want := ask("br."+testZone, "10.0.1.77"), []string{"10.0.1.18", "10.0.1.19"}; !slices.Equal(got, want) {
		t.Errorf("front-client asking for both: got %v; want their front addresses %v", got, want)
	}
}

// TestRecursionByClientContainer: the ACL admits a container by any
// address it holds, so an overlay address in --allow-recursion admits the
// container asking from docker_gwbridge; another container in the same
// network is refused.
func TestRecursionByClientContainer(t *testing.T) {
	s := newTestServer(t, Config{AllowRecursion: []netip.Prefix{netip.MustParsePrefix("10.0.1.77/32")}})
	for client, want := range map[string]bool{
		"10.0.1.77": true, "172.18.0.77": true, // front-client, by either address
		"10.0.2.50": false, "10.0.1.78": false, "127.0.0.1": false,
	} {
		if got := s.recursionAllowed(netip.MustParseAddr(client)); got != want {
			t.Errorf("recursion for %s: got %v; want %v", client, got, want)
		}
	}
	ex, err := s.Lookup(context.Background(), "example.com.", mdns.TypeA, netip.MustParseAddr("10.0.2.9"))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Reply.Rcode != mdns.RcodeRefused || ex.Client == nil || ex.Client.Name != "back-2" {
		t.Errorf("lookup for back-2: rcode %s client %v; want REFUSED for back-2", mdns.RcodeToString[ex.Reply.Rcode], ex.Client)
	}
}

// TestRateKeyPerContainer: one bucket per client container, two for two
// containers of one /24; clients no container holds share their network's.
func TestRateKeyPerContainer(t *testing.T) {
	s := newTestServer(t, Config{RateLimit: 5})
	key := func(a string) netip.Prefix { return s.rateKey(netip.MustParseAddr(a)) }
	if key("10.0.1.77") != key("172.18.0.77") {
		t.Errorf("one container, two buckets: %v %v", key("10.0.1.77"), key("172.18.0.77"))
	}
	if key("10.0.2.9") == key("10.0.2.7") {
		t.Errorf("two containers of one /24 share bucket %v", key("10.0.2.9"))
	}
	if key("192.0.2.1") != key("192.0.2.200") || key("192.0.2.1").Bits() != 24 {
		t.Errorf("unknown clients: %v %v; want their /24", key("192.0.2.1"), key("192.0.2.200"))
	}
}

// TestLogQueries: with LogQueries every query is logged at info level, on
// the path the fast path would have taken too, with the asking container.
func TestLogQueries(t *testing.T) {
	var logs logtest.Buffer
	clients := registry.NewClientTable()
	clients.SetClient(registry.Client{ContainerID: "0123456789abcdef", Name: "asker", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	s := newTestServer(t, Config{LogQueries: true, Clients: clients, Logger: zerolog.New(&logs).Level(zerolog.InfoLevel)})
	for range 3 {
		exchange(t, "udp", s.UDPAddr(), query("web-1."+testZone, mdns.TypeA))
	}
	// Each line is written just after its reply leaves: wait for the last.
	lines := 0
	waitFor(t, 5*time.Second, func() bool {
		lines = 0
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"message":"query"`) && strings.Contains(l, `"name":"web-1.swarm.internal."`) {
				lines++
			}
		}
		return lines == 3
	})
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"message":"query"`) && strings.Contains(l, `"name":"web-1.swarm.internal."`) &&
			(!strings.Contains(l, `"client_container":"asker"`) || !strings.Contains(l, `"client_id":"0123456789ab"`) || !strings.Contains(l, `"level":"info"`)) {
			t.Errorf("query line without the client container at info: %s", l)
		}
	}
}
