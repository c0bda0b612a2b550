// Package handoff lets the next run of swarmdns on a node take over from
// the one still running, without a moment in which the node has no DNS
// server or its records leave the cluster. It is for a start-first rolling
// update of a sidecar on the host network: both runs share the node's
// network, so they meet on a unix socket in the node's state directory.
//
// The running process (the predecessor) listens on the socket. Its
// successor connects at start and, in order:
//
//  1. asks it to release gossip: the predecessor stops gossip without
//     leaving the cluster (the peers keep the node's records) and frees the
//     gossip port, which the successor then binds, joining with a newer
//     generation that supersedes the old one's records;
//  2. once it is ready (first Docker sync done, joined), binds the DNS
//     sockets beside the predecessor's (SO_REUSEPORT) and asks it to
//     release DNS: the predecessor closes its DNS sockets and from then on
//     the successor alone answers;
//  3. listens on the socket itself, for its own successor.
//
// The predecessor keeps running (idle) until it is stopped. If its
// successor goes away between steps 1 and 2, the predecessor has no gossip
// any more; its Abort hook decides what to do (swarmdns exits, and Swarm
// starts a fresh task).
package handoff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The protocol: one line each way per step.
const (
	greeting      = "swarmdns-handoff 1"
	releaseGossip = "release-gossip"
	releaseDNS    = "release-dns"
	okReply       = "ok"
)

// Predecessor is the running process, as its successor holds it.
type Predecessor struct {
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to the process serving on the socket at path. It returns
// nil and no error when none does: no socket file, or one nobody answers
// on (a process that is gone).
func Dial(ctx context.Context, path string) (*Predecessor, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || isRefused(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("handoff: connect to %s: %w", path, err)
	}
	p := &Predecessor{conn: conn, r: bufio.NewReader(conn)}
	line, err := p.read(ctx)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handoff: %s: %w", path, err)
	}
	if line != greeting {
		conn.Close()
		return nil, fmt.Errorf("handoff: %s answers %q, not a swarmdns", path, line)
	}
	return p, nil
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// ReleaseGossip asks the predecessor to stop gossip without leaving and
// returns once the gossip port is free.
func (p *Predecessor) ReleaseGossip(ctx context.Context) error { return p.ask(ctx, releaseGossip) }

// ReleaseDNS asks the predecessor to close its DNS sockets (the caller has
// bound its own beside them) and returns once it has.
func (p *Predecessor) ReleaseDNS(ctx context.Context) error { return p.ask(ctx, releaseDNS) }

// Close ends the conversation.
func (p *Predecessor) Close() error { return p.conn.Close() }

func (p *Predecessor) ask(ctx context.Context, what string) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = p.conn.SetWriteDeadline(dl)
	}
	if _, err := fmt.Fprintln(p.conn, what); err != nil {
		return fmt.Errorf("handoff: %s: %w", what, err)
	}
	line, err := p.read(ctx)
	if err != nil {
		return fmt.Errorf("handoff: %s: %w", what, err)
	}
	if line != okReply {
		return fmt.Errorf("handoff: %s: the running process answered %q", what, line)
	}
	return nil
}

// read reads one line, giving up when ctx ends.
func (p *Predecessor) read(ctx context.Context) (string, error) {
	stop := context.AfterFunc(ctx, func() { _ = p.conn.SetReadDeadline(time.Now()) })
	defer stop()
	line, err := p.r.ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// Hooks are what the running process does for its successor. Each runs
// once at most, in this order.
type Hooks struct {
	// ReleaseGossip stops gossip without leaving the cluster and returns
	// once the port is free.
	ReleaseGossip func(ctx context.Context) error
	// ReleaseDNS closes the DNS sockets and returns once they are closed.
	ReleaseDNS func(ctx context.Context) error
	// Abort is called when the successor goes away after ReleaseGossip
	// and before ReleaseDNS.
	Abort func(err error)
}

// Listener is the socket the running process is found on.
type Listener struct {
	ln   net.Listener
	path string
}

// Listen binds the socket at path (making its directory), replacing a
// file left by a process that is gone. It fails when a process still
// answers there.
func Listen(path string) (*Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("handoff: another swarmdns answers on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("handoff: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	// The successor removes the file and binds its own; this listener
	// must not unlink that one when it closes.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return &Listener{ln: ln, path: path}, nil
}

// Take replaces the predecessor's socket file with a new one: for the
// successor, after ReleaseDNS.
func Take(path string) (*Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	return Listen(path)
}

// Path returns the socket's path.
func (l *Listener) Path() string { return l.path }

// Run serves successors until ctx ends or one has taken over (ReleaseDNS
// done); it returns nil then. One successor is served at a time; one that
// goes away before asking anything changes nothing.
func (l *Listener) Run(ctx context.Context, hooks Hooks) error {
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()
	defer l.ln.Close()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("handoff: accept: %w", err)
		}
		done := serve(ctx, conn, hooks)
		conn.Close()
		if done {
			return nil // the successor has taken the path (Take)
		}
	}
}

// serve talks to one successor; it reports whether it has taken over.
func serve(ctx context.Context, conn net.Conn, hooks Hooks) bool {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := fmt.Fprintln(conn, greeting); err != nil {
		return false
	}
	r := bufio.NewReader(conn)
	released := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if released && ctx.Err() == nil && hooks.Abort != nil {
				hooks.Abort(fmt.Errorf("the next run went away during the handoff: %w", err))
			}
			return false
		}
		var herr error
		switch strings.TrimSuffix(line, "\n") {
		case releaseGossip:
			if released {
				herr = errors.New("gossip released already")
				break
			}
			herr = hooks.ReleaseGossip(cctx)
			released = herr == nil
		case releaseDNS:
			herr = hooks.ReleaseDNS(cctx)
			if herr == nil {
				_, _ = fmt.Fprintln(conn, okReply)
				return true
			}
		default:
			herr = fmt.Errorf("unknown request %q", strings.TrimSpace(line))
		}
		reply := okReply
		if herr != nil {
			reply = "error: " + herr.Error()
		}
		if _, err := fmt.Fprintln(conn, reply); err != nil {
			return false
		}
	}
}
