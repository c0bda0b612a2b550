package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// Errors of the forwarder. The server maps errBusy and errNotCached to
// REFUSED and every other error to SERVFAIL.
var (
	// errBusy: the bound on forwarded queries in flight is reached.
	errBusy = errors.New("too many forwarded queries in flight")
	// errNotCached: the client did not ask for recursion and the cache has
	// no answer.
	errNotCached = errors.New("not cached and recursion not desired")
	// errNoUpstreams: no upstream is configured (or every one loops).
	errNoUpstreams = errors.New("no upstream configured")
	// errMismatch: a reply's ID or question differs from the query's.
	errMismatch = errors.New("reply does not match the query")
)

// forwarder sends questions outside the zone to the upstreams, following
// RFC 5452: each query has a crypto-random ID (mdns.Id) and a socket of its
// own, with a random source port (exchangeUDP); a reply counts
// only when it comes from the upstream's address and port (the socket is
// connected, so the kernel checks that), and carries the query's ID and
// question. Other packets are ignored and the wait goes on, so a spoofed
// reply can neither poison the cache nor cut the wait short.
//
// An upstream that answers FORMERR to a query with EDNS is asked again
// without (RFC 6891 §7), and a reply keeps only the records that answer
// the question (scrubReply, forward_scrub.go).
//
// Identical questions in flight are coalesced into one upstream query, and
// the client queries waiting on upstreams are bounded (errBusy beyond).
type forwarder struct {
	upstreams   []string
	timeout     time.Duration
	maxInflight int64
	udpSize     uint16
	cache       *cache
	metrics     *metrics
	log         zerolog.Logger // sampled
	report      *upstreamReport

	inflight atomic.Int64
	// failed holds, per upstream, when it last failed (Unix nanoseconds;
	// zero once it answers again). Upstreams that failed recently are
	// tried last.
	failed []atomic.Int64
	// looping marks the upstreams that send our questions back to us.
	looping []atomic.Bool
	loopLog zerolog.Logger // not sampled

	mu      sync.Mutex
	flights map[cacheKey]*flight
	probes  map[string]*loopProbe // outstanding loop probes by name
}

// flight is one upstream query that several clients may wait on.
type flight struct {
	done    chan struct{}
	msg     *mdns.Msg // set before done closes; shared, read-only
	err     error
	waiters int // clients that joined (under forwarder.mu)
}

// resolve returns the reply to k, which the caller owns: from the cache
// (cached true), or from the upstreams (joining an identical query in flight if there is one).
// With cacheOnly it never queries an upstream. base is the context the
// upstream query runs under (the server's), so that one client giving up
// does not fail the others waiting on the same query; a client that joins
// another's query waits at most the forward timeout. k's name must be a
// string of its own (not one aliasing a packet buffer): the table of
// queries in flight keeps it while the upstream is asked.
//
// A hit has the upstream's records, Rcode and AD bit, the canonical name
// as owner where the upstream had the question's, no question and no OPT;
// a reply fresh from an upstream is the upstream's message as it came.
func (f *forwarder) resolve(base context.Context, k cacheKey, cacheOnly bool) (msg *mdns.Msg, cached bool, err error) {
	if m := f.cache.get(k); m != nil {
		f.metrics.cacheHit()
		return m, true, nil
	}
	f.metrics.cacheMiss()
	if cacheOnly {
		return nil, false, errNotCached
	}
	if f.inflight.Add(1) > f.maxInflight {
		f.inflight.Add(-1)
		return nil, false, errBusy
	}
	defer f.inflight.Add(-1)

	f.mu.Lock()
	c, joined := f.flights[k]
	if joined {
		c.waiters++
	} else {
		c = &flight{done: make(chan struct{})}
		f.flights[k] = c
	}
	f.mu.Unlock()

	if !joined {
		c.msg, c.err = f.exchange(base, k)
		if c.err == nil {
			f.cache.put(k, c.msg) // keeps a packed copy, not c.msg
		}
		f.mu.Lock()
		delete(f.flights, k)
		alone := c.waiters == 0 // and no one can join any more
		f.mu.Unlock()
		close(c.done)
		if alone || c.err != nil {
			return c.msg, false, c.err // no one else reads it: the caller's own
		}
	} else {
		// Only a query that waits on another's flight needs a deadline of
		// its own; a cache hit must not pay for a timer.
		ctx, cancel := context.WithTimeout(base, f.timeout)
		defer cancel()
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("forward %s: %w", k.name, ctx.Err())
		}
	}
	if c.err != nil {
		return nil, false, c.err
	}
	return c.msg.Copy(), false, nil
}

// exchange asks the upstreams in order until one gives a usable reply
// (NOERROR or NXDOMAIN), all within f.timeout. Each upstream gets an equal
// share of the time that is left, so a fast failure (a closed port) leaves
// more time to the next.
func (f *forwarder) exchange(base context.Context, k cacheKey) (*mdns.Msg, error) {
	order := f.order()
	if len(order) == 0 {
		return nil, fmt.Errorf("forward %s: %w", k.name, errNoUpstreams)
	}
	ctx, cancel := context.WithTimeout(base, f.timeout)
	defer cancel()
	var errs []error
	for i, u := range order {
		up := f.upstreams[u]
		// The last upstream's share is all the time left: ctx's own.
		actx, acancel := ctx, context.CancelFunc(func() {})
		if left := len(order) - i; left > 1 {
			deadline, _ := ctx.Deadline()
			actx, acancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(left))
		}
		start := time.Now()
		m, err := f.query(actx, up, k)
		acancel()
		rcode := -1
		if err == nil {
			rcode = m.Rcode
		}
		f.metrics.upstream(up).forwardDone(time.Since(start), rcode, err != nil || (m.Rcode != mdns.RcodeSuccess && m.Rcode != mdns.RcodeNameError))
		if err == nil {
			if m.Rcode == mdns.RcodeSuccess || m.Rcode == mdns.RcodeNameError {
				if f.failed[u].Swap(0) != 0 && f.report != nil {
					f.report.answered(up)
				}
				scrubReply(m, k.name)
				return m, nil
			}
			err = fmt.Errorf("%s answered %s", up, mdns.RcodeToString[m.Rcode])
		}
		if base.Err() == nil {
			f.failed[u].Store(time.Now().UnixNano())
		}
		f.log.Debug().Err(err).Str("upstream", up).Str("name", k.name).Msg("upstream query failed")
		if f.report != nil && base.Err() == nil {
			f.report.failed(up, err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("forward %s: %w", k.name, errors.Join(errs...))
}

// upstreamRetry is how long an upstream that failed is tried after the
// others.
const upstreamRetry = 30 * time.Second

// order returns the upstreams' indexes in the order to try them, leaving
// out those that loop back to us: those
// that have not failed in the last upstreamRetry in their configured order,
// then the others, the longest-failed first (the likeliest to be back).
func (f *forwarder) order() []int {
	type down struct {
		i    int
		when int64
	}
	order := make([]int, 0, len(f.upstreams))
	var failing []down
	cutoff := time.Now().Add(-upstreamRetry).UnixNano()
	for i := range f.upstreams {
		if f.looping[i].Load() {
			continue
		}
		if t := f.failed[i].Load(); t != 0 && t > cutoff {
			failing = append(failing, down{i, t})
		} else {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(failing, func(a, b down) int { return cmp.Compare(a.when, b.when) })
	for _, d := range failing {
		order = append(order, d.i)
	}
	return order
}

// query asks one upstream with EDNS, and again without when it answers
// FORMERR (RFC 6891 §7: it does not speak EDNS).
func (f *forwarder) query(ctx context.Context, upstream string, k cacheKey) (*mdns.Msg, error) {
	req := new(mdns.Msg)
	req.RecursionDesired = true
	req.CheckingDisabled = k.cd
	req.Question = []mdns.Question{{Name: k.name, Qtype: k.qtype, Qclass: k.qclass}}
	req.SetEdns0(f.udpSize, k.do)
	m, err := ask(ctx, upstream, req)
	if err != nil || m.Rcode != mdns.RcodeFormatError {
		return m, err
	}
	f.log.Debug().Str("upstream", upstream).Str("name", k.name).Msg("FORMERR to EDNS: asking again without")
	req.Extra = nil
	return ask(ctx, upstream, req)
}

// ask sends req to upstream over UDP with a new ID, and again over TCP when
// the UDP reply is truncated.
func ask(ctx context.Context, upstream string, req *mdns.Msg) (*mdns.Msg, error) {
	req.Id = mdns.Id()
	m, err := exchangeUDP(ctx, upstream, req)
	if err != nil || !m.Truncated {
		return m, err
	}
	req.Id = mdns.Id()
	return exchangeTCP(ctx, upstream, req)
}

// bufPool holds read buffers big enough for any UDP reply.
var bufPool = sync.Pool{New: func() any { b := make([]byte, mdns.MaxMsgSize); return &b }}

// exchangeTCP sends req over a new TCP connection and reads the reply.
func exchangeTCP(ctx context.Context, upstream string, req *mdns.Msg) (*mdns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", upstream)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", upstream, err)
	}
	defer conn.Close()
	stop := watchContext(ctx, conn)
	defer stop()
	co := &mdns.Conn{Conn: conn}
	if err := co.WriteMsg(req); err != nil {
		return nil, fmt.Errorf("send to %s over tcp: %w", upstream, ctxErr(ctx, err))
	}
	for {
		m, err := co.ReadMsg()
		if err != nil {
			if errors.Is(err, mdns.ErrId) {
				continue
			}
			return nil, fmt.Errorf("read from %s over tcp: %w", upstream, ctxErr(ctx, err))
		}
		if matchReply(req, m) != nil {
			continue
		}
		return m, nil
	}
}

// watchContext makes blocked reads and writes on conn return when ctx ends
// (at its deadline or when it is canceled). Call stop when done.
func watchContext(ctx context.Context, conn net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// ctxErr prefers the context's error (a timeout, a cancel) to the I/O error
// it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// matchReply checks that m answers req: a response with req's ID and
// question (name compared without case, type, class).
func matchReply(req, m *mdns.Msg) error {
	if !m.Response || m.Id != req.Id || len(m.Question) != 1 {
		return errMismatch
	}
	q, rq := req.Question[0], m.Question[0]
	if q.Qtype != rq.Qtype || q.Qclass != rq.Qclass || !strings.EqualFold(q.Name, rq.Name) {
		return errMismatch
	}
	return nil
}
