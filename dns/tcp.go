package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/swarmdns/swarmdns/internal/dnswire"
)

// The TCP side of the server is its own, not miekg's: miekg's TCP server
// reads a connection's next query only once the previous one is answered,
// so on a pipelined connection an in-zone answer waited behind a forwarded
// query for as long as its upstream took (2 s for one that never
// answered). RFC 7766 §6.2.1.1 wants the queries of one connection
// processed concurrently and answered as they are ready; the message IDs
// tell the replies apart.
//
// Each connection has one reader, which hands every query to a goroutine
// of its own, at most maxTCPPipeline at once: beyond that it stops reading
// and the client's queries wait in the socket. Replies are written whole,
// one at a time. The limits are those miekg's server had: Config.MaxTCPConns
// connections (limitListener), readTimeout for the first query and for the
// rest of a query once its length has come, TCPIdleTimeout between queries
// while none is being answered, readTimeout to write a reply.

// maxTCPPipeline bounds the queries of one connection handled at once.
const maxTCPPipeline = 32

// tcpServer accepts and serves the TCP connections of a Server.
type tcpServer struct {
	s  *Server
	ln net.Listener

	mu      sync.Mutex
	conns   map[*tcpConn]struct{}
	closing bool
	active  sync.WaitGroup // connections being served
}

func newTCPServer(s *Server, ln net.Listener) *tcpServer {
	return &tcpServer{s: s, ln: ln, conns: make(map[*tcpConn]struct{})}
}

// serve accepts connections until the listener is closed; it returns nil
// then, or the error that stopped it.
func (t *tcpServer) serve() error {
	var errs readErrors
	for {
		c, err := t.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				errs.after(t.s, err) // out of descriptors and the like: back off
				continue
			}
			return fmt.Errorf("accept tcp: %w", err)
		}
		errs.after(t.s, nil)
		tc := &tcpConn{srv: t, conn: c, slots: make(chan struct{}, maxTCPPipeline)}
		t.mu.Lock()
		if t.closing {
			t.mu.Unlock()
			_ = c.Close()
			continue
		}
		t.conns[tc] = struct{}{}
		t.active.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.active.Done()
			tc.serve()
			t.mu.Lock()
			delete(t.conns, tc)
			t.mu.Unlock()
		}()
	}
}

func isTemporary(err error) bool {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return true // EMFILE, ENFILE, ENOBUFS, ECONNABORTED: accept again
	}
	return false
}

// shutdown stops reading every connection, waits (at most until deadline)
// for the queries being answered to be written, then closes them all. The
// listener must be closed first.
func (t *tcpServer) shutdown(deadline time.Time) {
	t.mu.Lock()
	t.closing = true
	for c := range t.conns {
		c.stopReading()
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() {
		t.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(time.Until(deadline)):
	}
	t.mu.Lock()
	for c := range t.conns {
		_ = c.conn.Close()
	}
	t.mu.Unlock()
	<-done
}

// tcpConn is one client connection.
type tcpConn struct {
	srv   *tcpServer
	conn  net.Conn
	slots chan struct{} // queries being handled

	stopMu  sync.Mutex
	stopped bool // the server is shutting down: read no more

	wmu sync.Mutex // one reply written at a time
}

// stopReading makes the reader return at its next read (the server is
// shutting down); replies being made are still written.
func (c *tcpConn) stopReading() {
	c.stopMu.Lock()
	c.stopped = true
	c.stopMu.Unlock()
	_ = c.conn.SetReadDeadline(time.Now())
}

func (c *tcpConn) stopping() bool {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	return c.stopped
}

// serve reads queries until the client closes its side, stays idle too
// long, sends something that is not a DNS message, or the server shuts
// down; then it waits for the queries being answered and closes.
func (c *tcpConn) serve() {
	var handlers sync.WaitGroup
	defer func() {
		handlers.Wait()
		_ = c.conn.Close()
	}()
	s := c.srv.s
	first := true
	var length [2]byte
	for {
		wait := s.cfg.TCPIdleTimeout
		if first {
			wait = readTimeout
		}
		if !c.readFull(length[:], wait) {
			return
		}
		n := int(binary.BigEndian.Uint16(length[:]))
		if n < dnswire.HeaderLen {
			return // no DNS message is that short (zero: RFC 7766 gives no meaning)
		}
		pkt := make([]byte, n)
		if err := c.conn.SetReadDeadline(time.Now().Add(readTimeout)); err != nil {
			return
		}
		if _, err := io.ReadFull(c.conn, pkt); err != nil {
			return
		}
		first = false
		c.slots <- struct{}{} // at most maxTCPPipeline at once: else stop reading
		handlers.Add(1)
		go func() {
			defer handlers.Done()
			defer func() { <-c.slots }()
			s.serveMessage(&tcpWriter{c: c}, pkt)
		}()
	}
}

// readFull reads len(b) bytes that start within wait. While queries are
// being answered the connection is not idle (RFC 7766 §6.2.3): the wait
// starts again.
func (c *tcpConn) readFull(b []byte, wait time.Duration) bool {
	got := 0
	for {
		if c.stopping() {
			return false
		}
		if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return false
		}
		n, err := io.ReadFull(c.conn, b[got:])
		got += n
		if err == nil {
			return true
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || got > 0 || len(c.slots) == 0 {
			return false // closed, reset, trickled or idle
		}
	}
}

// write sends one message with its length, whole, within readTimeout; a
// connection that cannot take it is closed.
func (c *tcpConn) write(msg []byte) error {
	if len(msg) > mdns.MaxMsgSize {
		return fmt.Errorf("reply of %d bytes does not fit a TCP message", len(msg))
	}
	buf := make([]byte, 2, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	buf = append(buf, msg...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.SetWriteDeadline(time.Now().Add(readTimeout)); err != nil {
		return err
	}
	if _, err := c.conn.Write(buf); err != nil {
		_ = c.conn.Close()
		return fmt.Errorf("write to %s: %w", c.conn.RemoteAddr(), err)
	}
	return nil
}

// tcpWriter is the mdns.ResponseWriter of one query on a connection.
type tcpWriter struct{ c *tcpConn }

// LocalAddr returns the address the connection was accepted on.
func (w *tcpWriter) LocalAddr() net.Addr { return w.c.conn.LocalAddr() }

// RemoteAddr returns the client's address.
func (w *tcpWriter) RemoteAddr() net.Addr { return w.c.conn.RemoteAddr() }

// WriteMsg packs m and sends it.
func (w *tcpWriter) WriteMsg(m *mdns.Msg) error {
	wire, err := m.Pack()
	if err != nil {
		return fmt.Errorf("pack reply: %w", err)
	}
	return w.c.write(wire)
}

// Write sends one message, b, with its length.
func (w *tcpWriter) Write(b []byte) (int, error) {
	if err := w.c.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close closes the connection.
func (w *tcpWriter) Close() error { return w.c.conn.Close() }

// TsigStatus reports no TSIG: a signed request's replies go through a
// tsigWriter (tsig.go).
func (w *tcpWriter) TsigStatus() error { return nil }

// TsigTimersOnly does nothing: tsigWriter signs.
func (w *tcpWriter) TsigTimersOnly(bool) {}

// Hijack does nothing: the connection stays the server's.
func (w *tcpWriter) Hijack() {}
