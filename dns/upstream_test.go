package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// portUpstream is an upstream that answers like answerA and records the
// source port of every query.
func portUpstream(t *testing.T) (*upstream, chan int) {
	t.Helper()
	ports := make(chan int, 4096)
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		ports <- w.RemoteAddr().(*net.UDPAddr).Port
		answerA(w, r)
	})
	return up, ports
}

func aQuery(name string) *mdns.Msg {
	m := query(name, mdns.TypeA)
	m.Id = mdns.Id()
	return m
}

func poolExchange(t *testing.T, p *udpPool, addr, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.exchange(ctx, addr, aQuery(name))
	if err != nil || len(m.Answer) != 1 || !strings.EqualFold(m.Answer[0].Header().Name, name) {
		t.Fatalf("%s: got %v, %v", name, m, err)
	}
}

// TestUDPPoolReusesThenRetires: queries one after the other share a socket
// (one source port) for upstreamConnUses queries, then a new one is used.
func TestUDPPoolReusesThenRetires(t *testing.T) {
	up, ports := portUpstream(t)
	var p udpPool
	defer p.close()
	for i := range upstreamConnUses + 1 {
		poolExchange(t, &p, up.addr, fmt.Sprintf("q%d.example.", i))
	}
	first := <-ports
	for i := 1; i < upstreamConnUses; i++ {
		if port := <-ports; port != first {
			t.Fatalf("query %d: from port %d; want %d like the first", i, port, first)
		}
	}
	if port := <-ports; port == first {
		t.Errorf("query %d: from port %d again; want a new socket", upstreamConnUses, port)
	}
	if n := p.idleCount(up.addr); n != 1 {
		t.Errorf("idle sockets: got %d; want 1", n)
	}
}

// TestUDPPoolRetiresOldSockets: a socket is not used past upstreamConnAge.
func TestUDPPoolRetiresOldSockets(t *testing.T) {
	up, ports := portUpstream(t)
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	p := udpPool{now: clock.Now}
	defer p.close()
	poolExchange(t, &p, up.addr, "a.example.")
	clock.Advance(upstreamConnAge - time.Second)
	poolExchange(t, &p, up.addr, "b.example.")
	clock.Advance(time.Second)
	poolExchange(t, &p, up.addr, "c.example.")
	a, b, c := <-ports, <-ports, <-ports
	if a != b || c == b {
		t.Errorf("ports %d, %d, %d; want the first two equal, the third new", a, b, c)
	}
}

// TestUDPPoolRetiresAfterMismatch: a socket that read anything but its
// reply (here a forged one first) is not reused.
func TestUDPPoolRetiresAfterMismatch(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		spoof := new(mdns.Msg)
		spoof.SetReply(r)
		spoof.Id = r.Id + 1
		_ = w.WriteMsg(spoof)
		answerA(w, r)
	})
	var p udpPool
	defer p.close()
	poolExchange(t, &p, up.addr, "a.example.")
	if n := p.idleCount(up.addr); n != 0 {
		t.Errorf("idle sockets: got %d; want 0 (retired)", n)
	}
}

// TestUDPPoolRetiresAfterTimeout: a socket whose query timed out is closed,
// so the late reply never meets a later query.
func TestUDPPoolRetiresAfterTimeout(t *testing.T) {
	hole, received := blackhole(t)
	var p udpPool
	defer p.close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.exchange(ctx, hole, aQuery("a.example.")); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v; want the deadline", err)
	}
	if n := p.idleCount(hole); n != 0 || received.Load() != 1 {
		t.Errorf("idle sockets %d, queries received %d; want 0 and 1", n, received.Load())
	}
	// Canceled, not timed out: the same.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := p.exchange(ctx, hole, aQuery("b.example.")); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want canceled", err)
	}
	if n := p.idleCount(hole); n != 0 {
		t.Errorf("idle sockets after cancel: %d; want 0", n)
	}
}

// TestUDPPoolConcurrent: queries in flight at once each get their own
// socket and their own reply; the pool keeps at most upstreamConnIdle.
func TestUDPPoolConcurrent(t *testing.T) {
	const n = upstreamConnIdle + 8
	g := newGate(t)
	var arrived atomic.Int64
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		arrived.Add(1)
		g.handler(w, r)
	})
	var p udpPool
	defer p.close()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { poolExchange(t, &p, up.addr, fmt.Sprintf("c%d.example.", i)) })
	}
	waitFor(t, 5*time.Second, func() bool { return arrived.Load() == n })
	g.open()
	wg.Wait()
	if got := p.idleCount(up.addr); got != upstreamConnIdle {
		t.Errorf("idle sockets: got %d; want %d", got, upstreamConnIdle)
	}
	// And again, from the pool, all answered.
	for i := range n {
		wg.Go(func() { poolExchange(t, &p, up.addr, fmt.Sprintf("d%d.example.", i)) })
	}
	wg.Wait()
}

// TestUDPPoolClose: close shuts the idle sockets; a socket that comes back
// afterwards is closed too.
func TestUDPPoolClose(t *testing.T) {
	up := startUpstream(t, answerA)
	var p udpPool
	poolExchange(t, &p, up.addr, "a.example.")
	c, err := p.get(context.Background(), up.addr)
	if err != nil {
		t.Fatal(err)
	}
	poolExchange(t, &p, up.addr, "b.example.") // a second socket, left idle
	p.close()
	if n := p.idleCount(up.addr); n != 0 {
		t.Errorf("idle after close: %d", n)
	}
	p.put(up.addr, c, true)
	if _, err := c.conn.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write on a socket returned after close: got %v; want closed", err)
	}
}

// TestForwardReusesUpstreamSocket: through the server, forwarded questions
// one after the other leave from one socket.
func TestForwardReusesUpstreamSocket(t *testing.T) {
	up, ports := portUpstream(t)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	// The loop probe goes out first; wait until its socket is back.
	waitFor(t, 5*time.Second, func() bool { return up.probes.Load() == 1 && s.fwd.udp.idleCount(up.addr) == 1 })
	for range len(ports) {
		<-ports
	}
	for i := range 5 {
		exchange(t, "udp", s.UDPAddr(), query(fmt.Sprintf("r%d.example.", i), mdns.TypeA))
	}
	first := <-ports
	for i := 1; i < 5; i++ {
		if port := <-ports; port != first {
			t.Errorf("query %d: from port %d; want %d", i, port, first)
		}
	}
	s.fwd.close()
	if n := s.fwd.udp.idleCount(up.addr); n != 0 {
		t.Errorf("idle after close: %d", n)
	}
}

// TestUDPPoolSweepsIdle: idle sockets are closed once they reach
// upstreamConnAge, without a query to notice (the pool's timer calls
// sweepIdle; here the test does, on its clock).
func TestUDPPoolSweepsIdle(t *testing.T) {
	up := startUpstream(t, answerA)
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	p := udpPool{now: clock.Now}
	defer p.close()
	old, err := p.get(context.Background(), up.addr)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	young, err := p.get(context.Background(), up.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.put(up.addr, old, true)
	p.put(up.addr, young, true)
	clock.Advance(upstreamConnAge - 2*time.Second)
	p.sweepIdle()
	if n := p.idleCount(up.addr); n != 1 {
		t.Fatalf("idle after the first sweep: %d; want 1", n)
	}
	if _, err := old.conn.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("old socket: got %v; want closed", err)
	}
	p.mu.Lock()
	armed := p.sweep != nil
	p.mu.Unlock()
	if !armed {
		t.Errorf("timer not armed with a socket still idle")
	}
	clock.Advance(2 * time.Second)
	p.sweepIdle()
	p.mu.Lock()
	armed = p.sweep != nil
	p.mu.Unlock()
	if n := p.idleCount(up.addr); n != 0 || armed {
		t.Errorf("after the second sweep: %d idle, timer armed %v; want none", n, armed)
	}
	if _, err := young.conn.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("young socket: got %v; want closed", err)
	}
}
