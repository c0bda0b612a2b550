package dockertest

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/docker/docker/client"
)

// SocketProxy relays connections from a unix socket of its own to the
// engine's socket, so a test can cut a client off the engine (Cut) and let
// it back (Restore) while the engine itself keeps running.
type SocketProxy struct {
	t        testing.TB
	path     string
	upstream string

	mu    sync.Mutex
	ln    net.Listener
	links map[*link]struct{}
	wg    sync.WaitGroup // the accept loop and the relays
}

// NewSocketProxy starts a proxy to the unix socket upstream (a path; empty
// means the socket of the engine Engine connects to, which must then be a
// unix socket) on a socket in a fresh temporary directory. It is closed at
// cleanup.
func NewSocketProxy(t testing.TB, upstream string) *SocketProxy {
	t.Helper()
	if upstream == "" {
		host := Engine(t).DaemonHost()
		u, err := url.Parse(host)
		if err != nil || u.Scheme != "unix" {
			t.Skipf("engine at %s is not on a unix socket", host)
		}
		upstream = u.Path
	}
	// Unix socket paths are short (108 bytes); t.TempDir can be too long.
	dir, err := os.MkdirTemp("", "sdtproxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &SocketProxy{t: t, path: filepath.Join(dir, "docker.sock"), upstream: upstream, links: make(map[*link]struct{})}
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// Host is the proxy's address in DOCKER_HOST form ("unix:///…").
func (p *SocketProxy) Host() string { return "unix://" + p.path }

// Path is the proxy's socket path.
func (p *SocketProxy) Path() string { return p.path }

// Client returns a Docker client that talks through the proxy, closed at
// cleanup.
func (p *SocketProxy) Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.WithHost(p.Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Cut closes the listener and every relayed connection, and waits until the
// proxy's goroutines have ended. New connections are refused until Restore.
// Cutting a cut proxy does nothing.
func (p *SocketProxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for l := range p.links {
		l.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Restore listens again on the same path. Restoring a live proxy does
// nothing.
func (p *SocketProxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatalf("socket proxy: %v", err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *SocketProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		down, err := ln.Accept()
		if err != nil {
			return // closed by Cut
		}
		up, err := net.Dial("unix", p.upstream)
		if err != nil {
			down.Close()
			continue
		}
		l := &link{down: down, up: up, closed: make(chan struct{})}
		p.mu.Lock()
		if p.ln != ln { // cut meanwhile
			p.mu.Unlock()
			l.close()
			return
		}
		p.links[l] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.relay(l, up, &requestWatcher{l: l, r: down})
		go p.relay(l, down, &stallable{l: l, r: up})
	}
}

// StallEvents stops relaying the engine's answers on every connection that
// carries an event stream now, without closing it, as an engine whose
// stream hangs would. Other and later connections are not affected.
func (p *SocketProxy) StallEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		if l.events.Load() {
			l.stalled.Store(true)
		}
	}
}

// link is one relayed connection.
type link struct {
	down, up  net.Conn
	events    atomic.Bool // a request for /events went through it
	stalled   atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *link) close() {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.down.Close()
		l.up.Close()
	})
}

// requestWatcher reads the client's side and notes event stream requests.
type requestWatcher struct {
	l *link
	r io.Reader
}

func (w *requestWatcher) Read(b []byte) (int, error) {
	n, err := w.r.Read(b)
	if bytes.Contains(b[:n], []byte("/events")) {
		w.l.events.Store(true)
	}
	return n, err
}

// stallable reads the engine's side, and blocks until the link closes once
// the link is stalled.
type stallable struct {
	l *link
	r io.Reader
}

func (s *stallable) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if s.l.stalled.Load() {
		<-s.l.closed
		return 0, net.ErrClosed
	}
	return n, err
}

// relay copies src to dst; when either side ends it closes the link.
func (p *SocketProxy) relay(l *link, dst io.Writer, src io.Reader) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	l.close()
}
