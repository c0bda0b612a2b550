package dns

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Upstream UDP sockets are reused instead of opened for every query (a
// socket, a connect and a close each time were an eighth of the CPU with a
// cold cache), within limits that keep replies hard to spoof (RFC 5452):
//
//   - each socket is connected, so the kernel drops packets from anywhere
//     but the upstream's address and port, and has its own source port,
//     picked at random by the kernel when it connects;
//   - a socket carries one query at a time (it is checked out of the pool
//     for the query), so a forged reply has to match that query's random ID
//     and its question;
//   - it goes back to the pool only after a clean exchange: a reply that
//     did not match (a forgery, or the late reply to another query), a
//     timeout, a cancel or an error closes it;
//   - it is closed after upstreamConnUses queries or upstreamConnAge,
//     whichever comes first, so a source port is not in use long enough to
//     be found and aimed at.
//
// A design with many queries in flight per socket, demultiplexed by ID by a
// reader goroutine, would need fewer sockets but would let a forgery aim at
// any of the IDs outstanding on a port, and needs a goroutine per socket
// with an owner; one query per socket is simpler and, measured on
// BenchmarkForwardMiss and serveprof -case cold, removes the socket cost.
const (
	// upstreamConnUses is how many queries a socket carries at most.
	upstreamConnUses = 100
	// upstreamConnAge is how long a socket is used at most.
	upstreamConnAge = 5 * time.Second
	// upstreamConnIdle is how many idle sockets are kept per upstream;
	// more in flight at once are closed when they come back. It is above
	// the queries a busy server has out at once (serveprof -case cold keeps
	// about 64 out; with 16, three in four queries still opened a socket),
	// and each idle socket costs a file descriptor and a few hundred bytes.
	upstreamConnIdle = 128
)

// udpPool keeps idle connected UDP sockets per upstream. The zero value is
// ready to use. While sockets are idle a timer (the pool's own; close stops
// it) closes each once it reaches upstreamConnAge, so none outlives that
// even when the queries stop, as they do when the server does.
type udpPool struct {
	now func() time.Time // nil: time.Now

	mu     sync.Mutex
	idle   map[string][]*upstreamConn // by upstream, most recently used last
	sweep  *time.Timer                // armed while sockets are idle
	closed bool
}

// upstreamConn is one pooled socket, used by one query at a time.
type upstreamConn struct {
	conn net.Conn
	born time.Time
	uses int
}

func (p *udpPool) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// exchange sends req to upstream from a pooled socket and waits for the
// matching reply until ctx ends. Packets that are not the reply (RFC 5452
// §9.1) are read past.
func (p *udpPool) exchange(ctx context.Context, upstream string, req *mdns.Msg) (*mdns.Msg, error) {
	wire, err := req.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	c, err := p.get(ctx, upstream)
	if err != nil {
		return nil, err
	}
	m, clean, err := c.exchange(ctx, upstream, req, wire)
	p.put(upstream, c, clean)
	return m, err
}

// get checks out an idle socket to upstream that is young enough, or
// connects a new one.
func (p *udpPool) get(ctx context.Context, upstream string) (*upstreamConn, error) {
	now := p.clock()
	var stale []*upstreamConn
	p.mu.Lock()
	list := p.idle[upstream]
	for len(list) > 0 {
		c := list[len(list)-1]
		list = list[:len(list)-1]
		if now.Sub(c.born) < upstreamConnAge {
			p.idle[upstream] = list
			p.mu.Unlock()
			closeAll(stale)
			return c, nil
		}
		stale = append(stale, c)
	}
	if p.idle != nil {
		p.idle[upstream] = list
	}
	p.mu.Unlock()
	closeAll(stale)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", upstream)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", upstream, err)
	}
	return &upstreamConn{conn: conn, born: now}, nil
}

// put returns c to the pool after a query, or closes it: when the exchange
// was not clean, when c is used up or too old, when enough sockets to
// upstream are idle, or when the pool is closed.
func (p *udpPool) put(upstream string, c *upstreamConn, clean bool) {
	if !clean || c.uses >= upstreamConnUses || p.clock().Sub(c.born) >= upstreamConnAge {
		_ = c.conn.Close()
		return
	}
	p.mu.Lock()
	if p.closed || len(p.idle[upstream]) >= upstreamConnIdle {
		p.mu.Unlock()
		_ = c.conn.Close()
		return
	}
	if p.idle == nil {
		p.idle = make(map[string][]*upstreamConn)
	}
	p.idle[upstream] = append(p.idle[upstream], c)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(upstreamConnAge, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle closes the idle sockets that have reached upstreamConnAge, and
// comes back when the oldest of the others will have, if any is left.
func (p *udpPool) sweepIdle() {
	now := p.clock()
	var stale []*upstreamConn
	next := time.Duration(-1)
	p.mu.Lock()
	if p.sweep == nil { // close ran
		p.mu.Unlock()
		return
	}
	for up, list := range p.idle {
		kept := list[:0]
		for _, c := range list {
			if left := upstreamConnAge - now.Sub(c.born); left > 0 {
				kept = append(kept, c)
				if next < 0 || left < next {
					next = left
				}
			} else {
				stale = append(stale, c)
			}
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(p.idle, up)
		} else {
			p.idle[up] = kept
		}
	}
	if next < 0 {
		p.sweep = nil // the next put arms a new one
	} else {
		p.sweep.Reset(max(next, 10*time.Millisecond))
	}
	p.mu.Unlock()
	closeAll(stale)
}

// close closes the idle sockets and stops the timer; sockets in use are
// closed when their query ends. The pool still works afterwards, without
// keeping sockets.
func (p *udpPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, list := range idle {
		closeAll(list)
	}
}

// idleCount returns how many sockets to upstream are idle.
func (p *udpPool) idleCount(upstream string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle[upstream])
}

func closeAll(conns []*upstreamConn) {
	for _, c := range conns {
		_ = c.conn.Close()
	}
}

// exchange sends the packed query wire (req) on c and reads until the
// matching reply comes or ctx ends. clean reports whether c may carry
// another query: the reply came, nothing else was read, and ctx never
// touched c's deadline.
func (c *upstreamConn) exchange(ctx context.Context, upstream string, req *mdns.Msg, wire []byte) (m *mdns.Msg, clean bool, err error) {
	dl, _ := ctx.Deadline() // zero (no deadline) clears the last query's
	_ = c.conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			clean = false // ctx ended: c's deadline is in the past, or about to be
		}
	}()
	c.uses++
	if _, err := c.conn.Write(wire); err != nil {
		return nil, false, fmt.Errorf("send to %s: %w", upstream, ctxErr(ctx, err))
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	clean = true
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			return nil, false, fmt.Errorf("read from %s: %w", upstream, ctxErr(ctx, err))
		}
		m := new(mdns.Msg)
		if m.Unpack(buf[:n]) != nil || matchReply(req, m) != nil {
			clean = false // not our reply: keep waiting, then retire c
			continue
		}
		return m, clean, nil
	}
}
