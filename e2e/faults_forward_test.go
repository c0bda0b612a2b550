package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
)

// Forwarding faults of issue 8 against the real binary: upstreams that are
// slow, fail, lie or lead back to swarmdns. (An upstream that is down is in
// TestForwardingAndTransports.)

// clientTimeout is how long a stub resolver waits for one answer (glibc's
// default is 5s): an answer after it is as good as none.
const clientTimeout = 4 * time.Second

// rawUpstream is a UDP upstream whose behaviour the test scripts per
// question: reply gets each query (with the client's address) and sends
// whatever it wants through send.
type rawUpstream struct {
	conn *net.UDPConn
	addr string

	mu    sync.Mutex
	ids   []uint16
	ports []int
}

func startRawUpstream(t *testing.T, reply func(u *rawUpstream, req *mdns.Msg, from *net.UDPAddr)) *rawUpstream {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{conn: conn, addr: conn.LocalAddr().String()}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			req := new(mdns.Msg)
			if req.Unpack(buf[:n]) != nil || len(req.Question) != 1 {
				continue
			}
			u.mu.Lock()
			u.ids = append(u.ids, req.Id)
			u.ports = append(u.ports, from.Port)
			u.mu.Unlock()
			reply(u, req, from)
		}
	}()
	return u
}

// send packs m and sends it to the client from the upstream's own socket.
func (u *rawUpstream) send(m *mdns.Msg, to *net.UDPAddr) {
	if b, err := m.Pack(); err == nil {
		_, _ = u.conn.WriteToUDP(b, to)
	}
}

// answerA makes the reply to req with one A record.
func answerA(req *mdns.Msg, ip string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	rr, _ := mdns.NewRR(req.Question[0].Name + " 300 IN A " + ip)
	m.Answer = append(m.Answer, rr)
	return m
}

// TestFaultUpstreamSlowOrFailing: an upstream that never answers in time
// gives the client SERVFAIL before its own timeout; an upstream answering
// SERVFAIL gives SERVFAIL, and with a working upstream behind it the answer
// comes from that one; the zone is answered all along.
func TestFaultUpstreamSlowOrFailing(t *testing.T) {
	silent := startRawUpstream(t, func(*rawUpstream, *mdns.Msg, *net.UDPAddr) {}) // reads, never answers
	failing := startRawUpstream(t, func(u *rawUpstream, req *mdns.Msg, from *net.UDPAddr) {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeServerFailure)
		u.send(m, from)
	})
	good := startUpstream(t)

	for _, tc := range []struct {
		what      string
		upstreams string
		rcode     int
		addrs     []string
	}{
		{"slow upstream", silent.addr, mdns.RcodeServerFailure, nil},
		{"SERVFAIL upstream", failing.addr, mdns.RcodeServerFailure, nil},
		{"SERVFAIL upstream, then a good one", failing.addr + "," + good.addr, mdns.RcodeSuccess, []string{"192.0.2.80"}},
		{"slow upstream, then a good one", silent.addr + "," + good.addr, mdns.RcodeSuccess, []string{"192.0.2.80"}},
	} {
		n, _ := startScopedNode(t, "--upstream", tc.upstreams)
		for i := range 3 {
			name := fmt.Sprintf("q%d-%d.example.test.", i, rand.Uint32())
			start := time.Now()
			m := new(mdns.Msg)
			m.SetQuestion(name, mdns.TypeA)
			r, _, err := (&mdns.Client{Timeout: clientTimeout}).Exchange(m, n.DNS())
			if err != nil {
				t.Fatalf("%s: %s: no answer within the client's %v: %v", tc.what, name, clientTimeout, err)
			}
			if r.Rcode != tc.rcode || !slices.Equal(addrsOf(r), tc.addrs) {
				t.Errorf("%s: %s: got %s %v; want %s %v", tc.what, name, mdns.RcodeToString[r.Rcode], addrsOf(r),
					mdns.RcodeToString[tc.rcode], tc.addrs)
			}
			t.Logf("%s: %s %v after %v", tc.what, mdns.RcodeToString[r.Rcode], addrsOf(r), time.Since(start).Round(time.Millisecond))
		}
		if err := probeNXDOMAIN(n.DNS()); err != nil {
			t.Errorf("%s: the zone: %v", tc.what, err)
		}
		n.kill()
	}
}

// TestFaultUpstreamSpoofedReplies: for every forwarded question the
// upstream first sends replies that must be dropped (a wrong ID, a wrong
// question, the right ID from another port, the right ID from another
// address) and then the real one; the client gets the real answer, and the
// cache is not poisoned. The forwarded queries use random IDs and source
// ports (RFC 5452).
func TestFaultUpstreamSpoofedReplies(t *testing.T) {
	otherPort, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer otherPort.Close()
	otherAddr, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer otherAddr.Close()
	spoofFrom := func(c *net.UDPConn, m *mdns.Msg, to *net.UDPAddr) {
		if b, err := m.Pack(); err == nil {
			_, _ = c.WriteToUDP(b, to)
		}
	}
	up := startRawUpstream(t, func(u *rawUpstream, req *mdns.Msg, from *net.UDPAddr) {
		wrongID := answerA(req, "6.6.6.1")
		wrongID.Id ^= 0x5a5a
		u.send(wrongID, from)
		wrongQ := answerA(req, "6.6.6.2")
		wrongQ.Question[0].Name = "evil." + req.Question[0].Name
		wrongQ.Answer[0].Header().Name = wrongQ.Question[0].Name
		u.send(wrongQ, from)
		spoofFrom(otherPort, answerA(req, "6.6.6.3"), from)
		spoofFrom(otherAddr, answerA(req, "6.6.6.4"), from)
		u.send(answerA(req, "192.0.2.80"), from)
	})
	n, _ := startScopedNode(t, "--upstream", up.addr)

	const queries = 50
	for i := range queries {
		name := "spoof" + strconv.Itoa(i) + ".example.test."
		for round := range 2 { // the second comes from the cache
			r, err := query(n.DNS(), "udp", name, mdns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if got := addrsOf(r); !slices.Equal(got, []string{"192.0.2.80"}) {
				t.Fatalf("%s (round %d): got %s %v; want only the real answer [192.0.2.80]", name, round, mdns.RcodeToString[r.Rcode], got)
			}
		}
	}
	up.mu.Lock()
	ids, ports := slices.Clone(up.ids), slices.Clone(up.ports)
	up.mu.Unlock()
	// The loop probe adds queries of its own.
	if len(ids) < queries {
		t.Fatalf("upstream saw %d queries; want at least %d", len(ids), queries)
	}
	if d := distinct(ids); d < len(ids)-2 {
		t.Errorf("forwarded query IDs: %d distinct of %d; want them random (%v)", d, len(ids), ids)
	}
	if d := distinct(ports); d < len(ports)-2 {
		t.Errorf("forwarded query source ports: %d distinct of %d; want a fresh random port per query (%v)", d, len(ports), ports)
	}
	t.Logf("%d forwarded queries: %d distinct IDs, %d distinct source ports", len(ids), distinct(ids), distinct(ports))
}

func distinct[T comparable](s []T) int {
	m := map[T]bool{}
	for _, v := range s {
		m[v] = true
	}
	return len(m)
}

// TestFaultForwardingLoop points two nodes at each other as upstreams (as
// when dockerd's --dns leads back to swarmdns): the loop is detected (logged,
// never fatal), every question outside the zone gets SERVFAIL before the
// client's timeout, and the queries are not amplified: counted in each
// node's /metrics, the two nodes together handle at most a few requests per
// client question.
func TestFaultForwardingLoop(t *testing.T) {
	// Fixed addresses, known before either starts: two random loopback
	// addresses, one port.
	a, b := rand.IntN(200)+20, rand.IntN(250)+1
	addrA := fmt.Sprintf("127.%d.%d.1:10053", a, b)
	addrB := fmt.Sprintf("127.%d.%d.2:10053", a, b)
	nodeA, _ := startScopedNode(t, "--dns-listen", addrA, "--upstream", addrB, "--gossip-listen", "")
	nodeB, _ := startScopedNode(t, "--dns-listen", addrB, "--upstream", addrA, "--gossip-listen", "")
	detected := func() error {
		for _, n := range []*node{nodeA, nodeB} {
			n.mu.Lock()
			for _, l := range n.lines {
				if msg, _ := l["message"].(string); strings.HasPrefix(msg, "forwarding loop:") {
					n.mu.Unlock()
					return nil
				}
			}
			n.mu.Unlock()
		}
		return fmt.Errorf("no node logged a forwarding loop")
	}
	await.Until(t, 15*time.Second, detected)

	const perNode = 20
	before := metric(t, nodeA.Admin(), "", "swarmdns_dns_requests_total") + metric(t, nodeB.Admin(), "", "swarmdns_dns_requests_total")
	for _, n := range []*node{nodeA, nodeB} {
		for i := range perNode {
			name := fmt.Sprintf("loop%d-%d.example.test.", i, rand.Uint32())
			m := new(mdns.Msg)
			m.SetQuestion(name, mdns.TypeA)
			r, _, err := (&mdns.Client{Timeout: clientTimeout}).Exchange(m, n.DNS())
			if err != nil {
				t.Fatalf("%s @%s: no answer within the client's %v: %v", name, n.DNS(), clientTimeout, err)
			}
			if r.Rcode != mdns.RcodeServerFailure {
				t.Errorf("%s @%s: got %s; want SERVFAIL", name, n.DNS(), mdns.RcodeToString[r.Rcode])
			}
		}
	}
	after := metric(t, nodeA.Admin(), "", "swarmdns_dns_requests_total") + metric(t, nodeB.Admin(), "", "swarmdns_dns_requests_total")
	handled := after - before
	t.Logf("%d client questions → %v requests handled by the two nodes together", 2*perNode, handled)
	if handled > 3*2*perNode {
		t.Errorf("the loop amplified: %v requests for %d client questions; want at most %d", handled, 2*perNode, 3*2*perNode)
	}
	for _, n := range []*node{nodeA, nodeB} {
		if err := probeNXDOMAIN(n.DNS()); err != nil {
			t.Errorf("zone @%s after the loop: %v", n.DNS(), err)
		}
	}
	noErrorLogsBut(t, nodeA, "forwarding loop:")
	noErrorLogsBut(t, nodeB, "forwarding loop:")
}
