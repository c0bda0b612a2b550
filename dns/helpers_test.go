package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/testrun"
	"github.com/swarmdns/swarmdns/registry"
)

const testZone = "swarm.internal."

func addr(ip, network, subnet string) registry.Addr {
	a := registry.Addr{IP: netip.MustParseAddr(ip), Network: network}
	if subnet != "" {
		a.Subnet = netip.MustParsePrefix(subnet)
	}
	return a
}

// testRegistry returns a registry for local node n1 holding:
//
//	n1 c1 web-1 (+ web, app.proj): 10.0.1.2 front, 10.0.2.2 back, fd00::2 front; ports http/8080, 9000/tcp
//	n1 c2 v6: fd00::3 only
//	n1 c3 sick (+ web): 10.0.1.3, unhealthy
//	n1 c5 cn: 10.0.1.9; aliases www -> web, ext -> example.com.
//	n1 c6 db: 10.0.3.1, unhealthy
//	n1 c8 a.b.deep: 10.0.4.1
//	n2 c4 web-2 (+ web): 10.0.1.4 front, healthy
//	n2 c7 db: 10.0.3.2, starting
func testRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	r, err := registry.New(registry.Config{Node: "n1", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	local := []registry.RecordSet{
		{
			ContainerID: "c1", Name: "web-1." + testZone, Names: []string{"web." + testZone, "app.proj." + testZone},
			Addrs: []registry.Addr{addr("10.0.1.2", "front", "10.0.1.0/24"), addr("10.0.2.2", "back", "10.0.2.0/24"), addr("fd00::2", "front", "fd00::/64")},
			Ports: []registry.Port{{Service: "http", Proto: "tcp", Port: 8080}, {Proto: "tcp", Port: 9000}},
			Image: "nginx:1", Health: registry.HealthHealthy,
		},
		{ContainerID: "c2", Name: "v6." + testZone, Addrs: []registry.Addr{addr("fd00::3", "front", "fd00::/64")}},
		{ContainerID: "c3", Name: "sick." + testZone, Names: []string{"web." + testZone}, Addrs: []registry.Addr{addr("10.0.1.3", "front", "10.0.1.0/24")}, Health: registry.HealthUnhealthy},
		{
			ContainerID: "c5", Name: "cn." + testZone, Addrs: []registry.Addr{addr("10.0.1.9", "front", "10.0.1.0/24")},
			Aliases: []registry.Alias{{Name: "www." + testZone, Target: "web." + testZone}, {Name: "ext." + testZone, Target: "example.com."}},
		},
		{ContainerID: "c6", Name: "db." + testZone, Addrs: []registry.Addr{addr("10.0.3.1", "back", "")}, Health: registry.HealthUnhealthy},
		{ContainerID: "c8", Name: "a.b.deep." + testZone, Addrs: []registry.Addr{addr("10.0.4.1", "back", "")}},
	}
	if _, err := r.ReplaceLocal(local); err != nil {
		t.Fatal(err)
	}
	remote := []registry.RecordSet{
		{ContainerID: "c4", Name: "web-2." + testZone, Names: []string{"web." + testZone}, Addrs: []registry.Addr{addr("10.0.1.4", "front", "10.0.1.0/24")}, Health: registry.HealthHealthy},
		{ContainerID: "c7", Name: "db." + testZone, Addrs: []registry.Addr{addr("10.0.3.2", "back", "")}, Health: registry.HealthStarting},
	}
	for i, s := range remote {
		if _, err := r.ApplyDelta(registry.Delta{Node: "n2", Generation: 1, Version: uint64(i + 1), ContainerID: s.ContainerID, Set: &s}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func testZoneConfig() *zoneConfig {
	return &zoneConfig{
		origin: testZone, ttl: 5, staleTTL: 1, negTTL: 5,
		nsName: "ns." + testZone, mbox: "hostmaster." + testZone,
		nsAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		clients: testClients(),
	}
}

// testClients returns the local containers that ask in the tests:
//
//	front-client: 10.0.1.77 on front, 172.18.0.77 on docker_gwbridge
//	back-client:  10.0.2.50 on back
//	back-2, back-3: 10.0.2.9, 10.0.2.7 on back
//	bridge-client: 172.17.0.5 on bridge (this node's only)
//
// front and back are Swarm-wide networks (overlays).
func testClients() *registry.ClientTable {
	t := registry.NewClientTable()
	a := netip.MustParseAddr
	t.ReplaceClients([]registry.Client{
		{ContainerID: "cc-front", Name: "front-client", Addrs: []netip.Addr{a("10.0.1.77"), a("172.18.0.77")}, Networks: []registry.ClientNetwork{{Name: "front"}}},
		{ContainerID: "cc-back", Name: "back-client", Addrs: []netip.Addr{a("10.0.2.50")}, Networks: []registry.ClientNetwork{{Name: "back"}}},
		{ContainerID: "cc-back2", Name: "back-2", Addrs: []netip.Addr{a("10.0.2.9")}, Networks: []registry.ClientNetwork{{Name: "back"}}},
		{ContainerID: "cc-back3", Name: "back-3", Addrs: []netip.Addr{a("10.0.2.7")}, Networks: []registry.ClientNetwork{{Name: "back"}}},
		{ContainerID: "cc-bridge", Name: "bridge-client", Addrs: []netip.Addr{a("172.17.0.5")}, Networks: []registry.ClientNetwork{{Name: "bridge", Local: true}}},
	})
	return t
}

// rrStrings returns the records in presentation form, sorted, with the SOA
// serial (which depends on the clock) replaced by "SERIAL".
func rrStrings(rrs []mdns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if soa, ok := rr.(*mdns.SOA); ok {
			c := *soa
			c.Serial = 0
			out = append(out, strings.Replace(c.String(), " 0 30 10 600 ", " SERIAL 30 10 600 ", 1))
			continue
		}
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// checkSections fails t unless m's answer, authority and additional
// sections hold the records given (in rrStrings form, in any order).
func checkSections(t *testing.T, m *mdns.Msg, answer, ns, extra []string) {
	t.Helper()
	for _, sec := range []struct {
		name      string
		got, want []string
	}{{"answer", rrStrings(m.Answer), answer}, {"authority", rrStrings(m.Ns), ns}, {"additional", rrStrings(m.Extra), extra}} {
		want := slices.Clone(sec.want)
		slices.Sort(want)
		if !slices.Equal(sec.got, want) {
			t.Errorf("%s:\n got %q\nwant %q", sec.name, sec.got, want)
		}
	}
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// newTestServer starts a server on 127.0.0.1:0 and stops it at cleanup.
func newTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Store == nil {
		cfg.Store = testRegistry(t)
	}
	if cfg.Clients == nil {
		cfg.Clients = testClients()
	}
	if cfg.Logger.GetLevel() == zerolog.TraceLevel { // the zero Logger
		cfg.Logger = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runTestServer(t, s)
	return s
}

func runTestServer(t testing.TB, s *Server) {
	t.Helper()
	testrun.Start(t, s.Run)
	// Wait until it answers.
	waitFor(t, 5*time.Second, func() bool {
		m := new(mdns.Msg)
		m.SetQuestion(s.Zone(), mdns.TypeSOA)
		c := &mdns.Client{Timeout: 200 * time.Millisecond}
		_, _, err := c.Exchange(m, s.UDPAddr().String())
		return err == nil
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, cond func() bool) {
	t.Helper()
	await.Until(t, within, func() error {
		if !cond() {
			return errors.New("condition not met")
		}
		return nil
	})
}

// exchange sends m to addr over net ("udp" or "tcp").
func exchange(t testing.TB, network string, addr netip.AddrPort, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("exchange %s %s: %v", network, m.Question[0].String(), err)
	}
	return r
}

// upstream is a fake upstream resolver: a miekg server on 127.0.0.1:0 with
// its own handler that counts the queries it gets.
type upstream struct {
	addr    string
	queries atomic.Int64 // loop probes left out
	probes  atomic.Int64
	names   chan string // every qname received, if not nil (buffered)
}

// startUpstream runs handler on UDP and TCP on one port of 127.0.0.1.
func startUpstream(t testing.TB, handler func(w mdns.ResponseWriter, r *mdns.Msg)) *upstream {
	t.Helper()
	u := &upstream{names: make(chan string, 1024)}
	udps, _, tcp, err := listenSockets("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	udp := udps[0]
	u.addr = udp.LocalAddr().String()
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		if isProbe(r) {
			u.probes.Add(1)
		} else {
			u.queries.Add(1)
		}
		select {
		case u.names <- r.Question[0].Name:
		default:
		}
		handler(w, r)
	})
	for _, srv := range []*mdns.Server{{PacketConn: udp, Handler: h}, {Listener: tcp, Handler: h}} {
		serveMiekg(t, srv)
	}
	return u
}

// serveMiekg runs a miekg server (its socket set) until the test ends;
// it returns once the server is serving.
func serveMiekg(t testing.TB, srv *mdns.Server) {
	t.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
}

// isProbe reports whether r is one of the server's loop probes.
func isProbe(r *mdns.Msg) bool {
	return len(r.Question) == 1 && strings.HasSuffix(strings.ToLower(r.Question[0].Name), probeSuffix)
}

// answerA is an upstream handler that answers every A query with 192.0.2.1
// (TTL 60) and every other name with NXDOMAIN and an SOA (minimum 30).
func answerA(w mdns.ResponseWriter, r *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	switch {
	case strings.HasPrefix(strings.ToLower(q.Name), "nx"):
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{&mdns.SOA{Hdr: mdns.RR_Header{Name: "example.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: 300},
			Ns: "ns.example.", Mbox: "h.example.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1, Minttl: 30}}
	case q.Qtype == mdns.TypeA:
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1).To4()}}
	}
	_ = w.WriteMsg(m)
}

// checkGoroutines records the goroutine count; the returned func fails the
// test unless the count comes back down to it (exited goroutines take a
// moment to leave the count).
func checkGoroutines(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		await.Until(t, 10*time.Second, func() error {
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				return fmt.Errorf("goroutines: got %d after; want at most %d (before)\n%s", n, before, buf)
			}
			return nil
		})
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
