package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/dnswire"
	"github.com/swarmdns/swarmdns/internal/metric"
	"github.com/swarmdns/swarmdns/internal/udpsock"
)

// The UDP side of the server is its own: one socket per core on the same
// address (SO_REUSEPORT, internal/udpsock), each read by one goroutine that
// takes queued queries in batches, answers plain in-zone queries itself
// (fastpath.go) and hands every other packet to the full miekg path in a
// goroutine of its own, bounded by Config.MaxConcurrent.
// miekg's UDP server starts a goroutine and makes some fifteen allocations
// per packet before the handler sees it; at the rates a sidecar must take
// that was most of the cost of an answer.

// serveUDP reads queries from conn until it is closed, every queued one at
// once (udpsock.Batch), answers them, and writes the fast replies at once:
// they leave as soon as the batch they came in with is answered. Handlers
// it starts are counted in handlers; the caller waits for them.
func (s *Server) serveUDP(conn *net.UDPConn, handlers *sync.WaitGroup) error {
	b, err := udpsock.NewBatch(conn, maxQuerySize, s.pktinfo)
	if err != nil {
		return err
	}
	fb := &fastBuffers{}
	var (
		replies [udpsock.BatchSize]fastReply
		clients [udpsock.BatchSize]netip.Addr
		names   [udpsock.BatchSize][dnswire.MaxNameLen]byte // fb.name is the next query's
		queued  int
		start   time.Time
		errs    readErrors
	)
	// flush sends the replies queued so far, then counts and logs them.
	flush := func() {
		if queued == 0 {
			return
		}
		if err := b.Write(queued); err != nil {
			s.qlog.Debug().Err(err).Msg("write replies")
		}
		for j := range queued {
			s.fastDone(replies[j], clients[j], start, nil)
		}
		queued = 0
	}
	for {
		n, err := b.Read()
		if closed := errs.after(s, err); closed {
			return nil
		} else if err != nil {
			continue
		}
		start = time.Now()
		for i := range n {
			p := b.Packet(i)
			fb.out = b.ReplyBuffer(queued)
			r, ok := s.answerPacket(conn, p, fb, handlers, flush)
			if !ok {
				continue
			}
			b.Queue(queued, i, r.msg, p.Dst, p.Ifindex)
			l := copy(names[queued][:], r.name)
			r.name = unsafe.String(&names[queued][0], l)
			replies[queued], clients[queued] = r, p.From.Addr().Unmap()
			queued++
		}
		flush()
	}
}

// answerPacket answers p on the fast path and returns the reply to send, or
// hands p to the full path (and returns false). When the full path must
// wait for a slot, beforeWait (if not nil) runs first: the caller sends
// the replies it holds rather than keep them waiting too.
func (s *Server) answerPacket(conn *net.UDPConn, p udpsock.Packet, fb *fastBuffers, handlers *sync.WaitGroup, beforeWait func()) (fastReply, bool) {
	if len(p.Data) < dnswire.HeaderLen {
		return fastReply{}, false // not even a header: nothing to answer
	}
	if r, ok := s.answerFast(p.Data, p.From.Addr().Unmap(), fb); ok {
		return r, true
	}
	// Everything else runs on its own goroutine: it may wait on an
	// upstream. When MaxConcurrent are running the reader waits too, and
	// the kernel's buffer takes the rest.
	select {
	case s.udpSlots <- struct{}{}:
	default:
		if beforeWait != nil {
			beforeWait()
		}
		s.udpSlots <- struct{}{}
	}
	pkt := make([]byte, len(p.Data))
	copy(pkt, p.Data)
	w := &udpWriter{conn: conn, from: p.From, dst: p.Dst, ifindex: p.Ifindex}
	handlers.Add(1)
	go func() {
		defer handlers.Done()
		defer s.releaseUDP()
		s.serveMessage(w, pkt)
	}()
	return fastReply{}, false
}

// readErrors spaces out the reads after a read error, 1 ms doubling to
// 100 ms while errors go on, so that one that persists does not spin a
// core; the first of a run is logged.
type readErrors struct{ n int }

// after takes the outcome of a read: it reports whether the socket is
// closed (the reader stops); after any other error it waits before the
// next read.
func (e *readErrors) after(s *Server, err error) (closed bool) {
	switch {
	case err == nil:
		e.n = 0
		return false
	case errors.Is(err, net.ErrClosed):
		return true
	}
	if e.n == 0 {
		s.log.Warn().Err(err).Msg("read udp")
	}
	d := min(time.Millisecond<<min(e.n, 7), 100*time.Millisecond)
	e.n++
	time.Sleep(d) // a backoff: there is nothing to wait on
	return false
}

// fastDone counts and logs a fast reply once it is sent (or failed with
// err).
func (s *Server) fastDone(r fastReply, client netip.Addr, start time.Time, err error) {
	if err != nil {
		s.qlog.Debug().Err(err).Stringer("client", client).Msg("write reply")
	}
	d := time.Since(start)
	src := metric.SourceZone
	if r.cached {
		src = metric.SourceCache
	}
	s.metrics.request(served{qtype: r.qtype, rcode: r.rcode, inZone: !r.cached, v6: client.Is6() && !client.Is4In6(), source: src}, d)
	if e := s.queryLog(client); e.Enabled() {
		e.Str("name", r.name).Str("type", mdns.Type(r.qtype).String()).Str("rcode", rcodeLabel(r.rcode)).
			Stringer("client", client).Bool("tcp", false).Int("answers", int(binary.BigEndian.Uint16(r.msg[6:]))).
			Bool("tc", false).Dur("took_ms", d).Msg("query")
	}
}

// udpWriter is the mdns.ResponseWriter for one UDP query on the full path.
type udpWriter struct {
	conn    *net.UDPConn
	from    netip.AddrPort
	dst     netip.Addr // the query's destination, when the socket is a wildcard
	ifindex uint32
}

// LocalAddr returns the address the query was sent to, when known.
func (w *udpWriter) LocalAddr() net.Addr {
	local := w.conn.LocalAddr().(*net.UDPAddr)
	if w.dst.IsValid() {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(w.dst, uint16(local.Port)))
	}
	return local
}

// RemoteAddr returns the client's address.
func (w *udpWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.from) }

// WriteMsg packs m and sends it to the client.
func (w *udpWriter) WriteMsg(m *mdns.Msg) error {
	wire, err := m.Pack()
	if err != nil {
		return fmt.Errorf("pack reply: %w", err)
	}
	_, err = w.Write(wire)
	return err
}

// Write sends b to the client, from the address the query went to.
func (w *udpWriter) Write(b []byte) (int, error) {
	var oob []byte
	if w.dst.IsValid() {
		oob = udpsock.SetPktinfo(make([]byte, udpsock.PktinfoSize), w.dst, w.ifindex)
	}
	n, _, err := w.conn.WriteMsgUDPAddrPort(b, oob, w.from)
	if err != nil {
		return n, fmt.Errorf("write to %s: %w", w.from, err)
	}
	return n, nil
}

// Close does nothing: the socket is shared.
func (w *udpWriter) Close() error { return nil }

// TsigStatus reports no TSIG: a signed request's replies go through a
// tsigWriter (tsig.go).
func (w *udpWriter) TsigStatus() error { return nil }

// TsigTimersOnly does nothing: tsigWriter signs.
func (w *udpWriter) TsigTimersOnly(bool) {}

// Hijack does nothing: a UDP socket is not the handler's to take.
func (w *udpWriter) Hijack() {}
