package dns

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"
	"github.com/swarmdns/swarmdns/internal/udpsock"
)

// TestServerWildcardRepliesFromQueriedAddress: a server bound to a wildcard
// address answers from the address each query was sent to, on the fast
// and the full path. A connected client socket takes replies only from the
// address it sent to, and for 127.0.0.2 the kernel would pick 127.0.0.1 as
// the source of a reply left to its choice.
func TestServerWildcardRepliesFromQueriedAddress(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "[::]:0"} {
		s := newTestServer(t, Config{Listen: listen})
		if !s.pktinfo {
			t.Fatalf("%s: packet info is off", listen)
		}
		port := strconv.Itoa(int(s.UDPAddr().Port()))
		targets := []string{"127.0.0.2", "127.0.0.1"}
		if listen == "[::]:0" {
			targets = append(targets, "::1")
		}
		for _, target := range targets {
			for _, q := range []*mdns.Msg{query("web-1.swarm.internal.", mdns.TypeA), query("swarm.internal.", mdns.TypeSOA)} {
				c := &mdns.Client{Timeout: 2 * time.Second}
				r, _, err := c.Exchange(q, net.JoinHostPort(target, port))
				if err != nil {
					t.Errorf("%s, query to %s for %s: %v", listen, target, q.Question[0].Name, err)
					continue
				}
				if r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
					t.Errorf("%s, query to %s: got %s with %d answers", listen, target, mdns.RcodeToString[r.Rcode], len(r.Answer))
				}
			}
		}
	}
}

// TestServerUDPSockets: on Linux the server reads from one socket per core
// on one port, and clients get answers whichever socket the kernel hands
// them to.
func TestServerUDPSockets(t *testing.T) {
	s := newTestServer(t, Config{})
	if want := udpsock.SocketCount(); len(s.udpConns) != want {
		t.Fatalf("got %d UDP sockets; want %d", len(s.udpConns), want)
	}
	for _, c := range s.udpConns {
		if got := c.LocalAddr().(*net.UDPAddr).AddrPort(); got != s.UDPAddr() {
			t.Errorf("socket on %s; want %s", got, s.UDPAddr())
		}
	}
	// The kernel spreads clients over the sockets by their address and
	// port; each exchange is a new client port.
	for i := range 32 {
		r := exchange(t, "udp", s.UDPAddr(), query("web-1.swarm.internal.", mdns.TypeA))
		if len(r.Answer) != 2 {
			t.Fatalf("client %d: got %d answers; want 2", i, len(r.Answer))
		}
	}
}

// TestServerUDPMaxConcurrent: at most MaxConcurrent UDP queries are on the
// full path at once; the rest wait in the socket's buffer. With a slow
// upstream and many clients, the upstream never sees more than that.
func TestServerUDPMaxConcurrent(t *testing.T) {
	var inflight, peak atomic.Int64
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if isProbe(r) {
			answerA(w, r)
			return
		}
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond) // a slow upstream
		inflight.Add(-1)
		answerA(w, r)
	})
	const limit = 4
	s := newTestServer(t, Config{MaxConcurrent: limit, Upstreams: []string{up.addr}, ForwardTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mdns.Client{Timeout: 10 * time.Second}
			if _, _, err := c.Exchange(query(fmt.Sprintf("slow-%d.example.", i), mdns.TypeA), s.UDPAddr().String()); err != nil {
				t.Errorf("client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if got := peak.Load(); got > limit || got < 1 {
		t.Errorf("upstream saw %d queries at once; want 1 to %d (MaxConcurrent)", got, limit)
	}
}

// TestReadErrorsAfter: a closed socket stops the reader; another error is
// retried after a growing pause, and a good read starts the count again.
func TestReadErrorsAfter(t *testing.T) {
	s := &Server{log: zerolog.Nop()}
	var e readErrors
	if e.after(s, fmt.Errorf("read: %w", net.ErrClosed)) != true {
		t.Error("closed socket: reader goes on")
	}
	for i := range 3 {
		if e.after(s, syscall.EIO) {
			t.Fatal("EIO: reader stops")
		}
		if e.n != i+1 {
			t.Fatalf("after %d errors: count %d", i+1, e.n)
		}
	}
	if e.after(s, nil) || e.n != 0 {
		t.Errorf("good read: count %d; want 0", e.n)
	}
}
