package gossip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/registry"
)

// closedAddr returns an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func joinedWithin(n *tnode, d time.Duration) bool {
	select {
	case <-n.node.Joined():
		return true
	case <-time.After(d):
		return false
	}
}

// TestAloneWhenNobodyAnswers: a node whose join addresses and seeds all
// refuse is the first node of its cluster: Joined closes after the first
// round, Alone says why, and it joins a peer that comes later.
func TestAloneWhenNobodyAnswers(t *testing.T) {
	late := newLoopbackIP() // no one else uses it: any port is free
	lateAddr := netip.AddrPortFrom(late, 17947).String()
	a := startNode(t, "a", nodeOpts{join: []string{closedAddr(t)}, seeds: func(context.Context) []string { return []string{lateAddr} }})
	if !joinedWithin(a, 10*time.Second) {
		t.Fatal("a node with no peer to join never became joined")
	}
	if !a.node.Alone() {
		t.Error("Alone is false, yet no peer was joined")
	}
	// The seed comes up: a joins it by itself.
	b := startNode(t, "b", nodeOpts{ip: late, port: 17947})
	awaitMembers(t, a, b)
}

// TestSeedsJoin: the Seeds function's peers are joined like --join ones.
func TestSeedsJoin(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	b := startNode(t, "b", nodeOpts{seeds: func(context.Context) []string { return []string{closedAddr(t), a.addr()} }})
	if !joinedWithin(b, 10*time.Second) {
		t.Fatal("b did not join through its seeds")
	}
	if b.node.Alone() {
		t.Error("b joined a, yet Alone is true")
	}
	awaitMembers(t, a, b)
}

// TestAddrInUse: New on a held port says so with ErrAddrInUse.
func TestAddrInUse(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	reg, err := registry.New(registry.Config{Node: "b", Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	metrics := prometheus.NewRegistry()
	for range 2 { // a retry registers its metrics again
		_, err = New(Config{Node: "b", Generation: 1, BindAddr: a.addr(), Store: reg, Logger: zerolog.Nop(), Metrics: metrics})
		if !errors.Is(err, ErrAddrInUse) {
			t.Fatalf("New on %s: %v; want ErrAddrInUse", a.addr(), err)
		}
	}
}

// TestHandOffKeepsRecords: a node that hands off stops without leaving,
// so its peers keep its records; the next run at its address, with a newer
// generation, takes its name over and its records replace the old ones.
func TestHandOffKeepsRecords(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	at := nodeOpts{ip: newLoopbackIP(), port: 17947, join: []string{a.addr()}}
	b := startNode(t, "b", at)
	awaitMembers(t, a, b)
	mustSet(t, b, testSet("c-old", "old", "10.0.0.1"))
	awaitSets(t, a, "b", "c-old")

	b.node.HandOff()
	b.leave()
	time.Sleep(500 * time.Millisecond) // well past a leave's broadcast
	if got := ownerSets(a, "b"); len(got) != 1 {
		t.Fatalf("a holds b's %v after the handoff; want b's records kept", got)
	}
	b2 := startNode(t, "b", at)
	mustSet(t, b2, testSet("c-new", "new", "10.0.0.2"))
	awaitSets(t, a, "b", "c-new")
}

// awaitSets waits until tn holds exactly ids for owner.
func awaitSets(t *testing.T, tn *tnode, owner string, ids ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := ownerSets(tn, owner); !slices.Equal(got, ids) {
			return fmt.Errorf("%s holds %s's %v; want %v", tn.name, owner, got, ids)
		}
		return nil
	})
}
