package dns

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestTCPPipelined: RFC 7766 §6.2.1.1. On one connection, an in-zone
// query sent after a forwarded one whose upstream never answers is
// answered first, not after the forward times out.
func TestTCPPipelined(t *testing.T) {
	hole, _ := blackhole(t)
	s := newTestServer(t, Config{Upstreams: []string{hole}, ForwardTimeout: 2 * time.Second})
	conn := dialTCP(t, s)
	slow := query("never.example.", mdns.TypeA)
	slow.Id = 1
	fast := query("web-1.swarm.internal.", mdns.TypeA)
	fast.Id = 2
	start := time.Now()
	for _, m := range []*mdns.Msg{slow, fast} {
		if err := conn.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	var order []uint16
	for range 2 {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, r.Id)
		t.Logf("reply %d (%s) after %v", r.Id, mdns.RcodeToString[r.Rcode], time.Since(start).Round(time.Millisecond))
		if r.Id == fast.Id && len(r.Answer) != 2 {
			t.Errorf("in-zone reply: %d answers; want 2", len(r.Answer))
		}
		if r.Id == slow.Id && r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("forwarded reply: %s; want SERVFAIL", mdns.RcodeToString[r.Rcode])
		}
	}
	if order[0] != fast.Id {
		t.Errorf("replies in order %v; want the in-zone one (%d) first", order, fast.Id)
	}
}

// TestTCPPipelineBound: a connection has at most maxTCPPipeline queries
// being answered; the next waits until one is done.
func TestTCPPipelineBound(t *testing.T) {
	hole, _ := blackhole(t)
	s := newTestServer(t, Config{Upstreams: []string{hole}, ForwardTimeout: 500 * time.Millisecond})
	conn := dialTCP(t, s)
	for i := range maxTCPPipeline {
		m := query("never.example.", mdns.TypeA)
		m.Id = uint16(i)
		if err := conn.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	fast := query("web-1.swarm.internal.", mdns.TypeA)
	fast.Id = 1000
	if err := conn.WriteMsg(fast); err != nil {
		t.Fatal(err)
	}
	servfails := 0
	for range maxTCPPipeline + 1 {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if r.Id == fast.Id {
			break
		}
		servfails++
	}
	if servfails == 0 {
		t.Errorf("the in-zone query behind %d forwarded ones was answered before any of them; want it to wait for a slot", maxTCPPipeline)
	}
}

// dialTCP opens a TCP connection to s, closed when the test ends, that
// gives up after 10 s.
func dialTCP(t *testing.T, s *Server) *mdns.Conn {
	t.Helper()
	conn, err := mdns.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}
