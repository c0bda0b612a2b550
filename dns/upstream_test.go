package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// querySource is where an upstream saw a query come from, and its ID.
type querySource struct {
	port int
	id   uint16
	edns bool
}

// sourceUpstream is an upstream that answers like answerA and records the
// source port, ID and EDNS of every query but the loop probes.
func sourceUpstream(t *testing.T) (*upstream, chan querySource) {
	t.Helper()
	sources := make(chan querySource, 4096)
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if !isProbe(r) {
			sources <- querySource{port: w.RemoteAddr().(*net.UDPAddr).Port, id: r.Id, edns: r.IsEdns0() != nil}
		}
		answerA(w, r)
	})
	return up, sources
}

func aQuery(name string) *mdns.Msg {
	m := query(name, mdns.TypeA)
	m.Id = mdns.Id()
	return m
}

func udpExchange(t *testing.T, addr, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := exchangeUDP(ctx, addr, aQuery(name))
	if err != nil || len(m.Answer) != 1 || !strings.EqualFold(m.Answer[0].Header().Name, name) {
		t.Errorf("%s: got %v, %v", name, m, err)
	}
}

// TestForwardFreshSourcePortPerQuery: through the server, 300 forwarded
// questions leave from at least 290 source ports (a new socket each, its
// port the kernel's random pick; a few may repeat by chance) and carry at
// least 290 IDs (RFC 5452 §10).
func TestForwardFreshSourcePortPerQuery(t *testing.T) {
	const n = 300
	up, sources := sourceUpstream(t)
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	ports, ids := make(map[int]bool), make(map[uint16]bool)
	for i := range n {
		m := exchange(t, "udp", s.UDPAddr(), query(fmt.Sprintf("p%d.example.", i), mdns.TypeA))
		if len(m.Answer) != 1 {
			t.Fatalf("query %d: %v", i, m)
		}
		src := <-sources
		ports[src.port], ids[src.id] = true, true
	}
	t.Logf("%d queries: %d source ports, %d IDs", n, len(ports), len(ids))
	if len(ports) < 290 || len(ids) < 290 {
		t.Errorf("%d queries left from %d source ports with %d IDs; want at least 290 of each", n, len(ports), len(ids))
	}
}

// TestExchangeUDPReadsPastForgery: a packet that is not the reply (here a
// forged one with another ID, first) is read past; the reply counts.
func TestExchangeUDPReadsPastForgery(t *testing.T) {
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		spoof := new(mdns.Msg)
		spoof.SetReply(r)
		spoof.Id = r.Id + 1
		_ = w.WriteMsg(spoof)
		answerA(w, r)
	})
	udpExchange(t, up.addr, "a.example.")
}

// TestExchangeUDPTimeout: a query that times out, or is canceled, says so.
func TestExchangeUDPTimeout(t *testing.T) {
	hole, received := blackhole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := exchangeUDP(ctx, hole, aQuery("a.example.")); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v; want the deadline", err)
	}
	if received.Load() != 1 {
		t.Errorf("queries received %d; want 1", received.Load())
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := exchangeUDP(ctx, hole, aQuery("b.example.")); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want canceled", err)
	}
}

// TestExchangeUDPConcurrent: queries in flight at once each get their own
// reply.
func TestExchangeUDPConcurrent(t *testing.T) {
	up := startUpstream(t, answerA)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { udpExchange(t, up.addr, fmt.Sprintf("c%d.example.", i)) })
	}
	wg.Wait()
}

// TestForwardRetriesWithoutEDNS: an upstream that answers FORMERR to a
// query with EDNS is asked again without it, and that answer is the
// client's (RFC 6891 §7).
func TestForwardRetriesWithoutEDNS(t *testing.T) {
	sources := make(chan querySource, 16)
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		if isProbe(r) {
			answerA(w, r)
			return
		}
		sources <- querySource{id: r.Id, edns: r.IsEdns0() != nil}
		if r.IsEdns0() != nil {
			m := new(mdns.Msg)
			m.SetRcode(r, mdns.RcodeFormatError)
			_ = w.WriteMsg(m)
			return
		}
		answerA(w, r)
	})
	s := newTestServer(t, Config{Upstreams: []string{up.addr}})
	req := query("old.example.", mdns.TypeA)
	req.SetEdns0(1232, false)
	m := exchange(t, "udp", s.UDPAddr(), req)
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("got %v; want the upstream's answer", m)
	}
	first, second := <-sources, <-sources
	if !first.edns || second.edns || first.id == second.id {
		t.Errorf("queries to the upstream: %+v then %+v; want EDNS, then without, with another ID", first, second)
	}
	select {
	case q := <-sources:
		t.Errorf("a third query: %+v", q)
	default:
	}
}
