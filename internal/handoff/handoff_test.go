package handoff

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func hooks(c *calls) Hooks {
	return Hooks{
		ReleaseGossip: func(context.Context) error { c.add("gossip"); return nil },
		ReleaseDNS:    func(context.Context) error { c.add("dns"); return nil },
		Abort:         func(err error) { c.add("abort") },
	}
}

func run(t *testing.T, l *Listener, h Hooks) chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- l.Run(ctx, h); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	return done
}

func TestNoPredecessor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "handoff.sock")
	p, err := Dial(context.Background(), path)
	if p != nil || err != nil {
		t.Fatalf("Dial with no socket: %v %v; want nil, nil", p, err)
	}
	// A stale file (its process gone) is no predecessor either, and
	// Listen replaces it.
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l.ln.Close()
	if p, err := Dial(context.Background(), path); p != nil || err != nil {
		t.Fatalf("Dial to a stale socket: %v %v; want nil, nil", p, err)
	}
	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.ln.Close()
}

// TestTakeOver: the successor asks for gossip, then DNS, then takes the
// socket; the predecessor's Run returns, and the next successor finds the
// new process.
func TestTakeOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "handoff.sock")
	var c calls
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil {
		t.Fatal("a second Listen while the first answers: no error")
	}
	done := run(t, l, hooks(&c))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := Dial(ctx, path)
	if err != nil || p == nil {
		t.Fatalf("Dial: %v %v", p, err)
	}
	if err := p.ReleaseGossip(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.ReleaseGossip(ctx); err == nil {
		t.Error("a second release-gossip: no error")
	}
	if err := p.ReleaseDNS(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("predecessor's Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("predecessor's Run did not return after the takeover")
	}
	if got := c.get(); len(got) != 2 || got[0] != "gossip" || got[1] != "dns" {
		t.Errorf("hooks: %v; want gossip, dns", got)
	}

	mine, err := Take(path)
	if err != nil {
		t.Fatal(err)
	}
	var c2 calls
	run(t, mine, hooks(&c2))
	p2, err := Dial(ctx, path)
	if err != nil || p2 == nil {
		t.Fatalf("the next successor finds no one: %v %v", p2, err)
	}
	p2.Close()
}

// TestSuccessorGoesAway: a successor that leaves after gossip was
// released makes the predecessor abort; one that leaves before asking
// anything changes nothing, and the next one is served.
func TestSuccessorGoesAway(t *testing.T) {
	path := filepath.Join(t.TempDir(), "handoff.sock")
	var c calls
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	run(t, l, hooks(&c))
	ctx := context.Background()
	quiet, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	quiet.Close()
	p, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReleaseGossip(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := c.get(); len(got) == 2 && got[1] == "abort" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("hooks: %v; want gossip, abort", c.get())
}

// TestHookError is answered as an error, and the successor may go on.
func TestHookError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "handoff.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	run(t, l, Hooks{
		ReleaseGossip: func(context.Context) error { return errors.New("no gossip here") },
		ReleaseDNS:    func(context.Context) error { return nil },
	})
	p, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.ReleaseGossip(context.Background()); err == nil {
		t.Error("ReleaseGossip: no error from a failing hook")
	}
	if err := p.ReleaseDNS(context.Background()); err != nil {
		t.Errorf("ReleaseDNS after a failed release-gossip: %v", err)
	}
}
