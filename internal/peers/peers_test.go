package peers

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/rs/zerolog"
)

type fakeEngine struct {
	info    system.Info
	infoErr error
	nodes   []swarm.Node
}

func (e *fakeEngine) Info(context.Context) (system.Info, error) { return e.info, e.infoErr }

func (e *fakeEngine) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	if !e.info.Swarm.ControlAvailable {
		return nil, errors.New("This node is not a swarm manager.")
	}
	return e.nodes, nil
}

func node(addr string, state swarm.NodeState) swarm.Node {
	return swarm.Node{Status: swarm.NodeStatus{Addr: addr, State: state}}
}

func TestSeedsFromTheSwarm(t *testing.T) {
	worker := &fakeEngine{info: system.Info{Swarm: swarm.Info{
		LocalNodeState: swarm.LocalNodeStateActive, NodeAddr: "10.0.0.3",
		RemoteManagers: []swarm.Peer{{NodeID: "m1", Addr: "10.0.0.1:2377"}, {NodeID: "m2", Addr: "10.0.0.2:2377"}},
	}}}
	f := New(Config{Engine: worker, Port: 7947, Logger: zerolog.Nop()})
	if got, want := f.Seeds(context.Background()), []string{"10.0.0.1:7947", "10.0.0.2:7947"}; !slices.Equal(got, want) {
		t.Errorf("worker seeds: got %v; want %v", got, want)
	}
	if a, ok, err := f.SwarmAddr(context.Background()); err != nil || !ok || a != netip.MustParseAddr("10.0.0.3") {
		t.Errorf("SwarmAddr: %v %v %v", a, ok, err)
	}

	manager := &fakeEngine{info: system.Info{Swarm: swarm.Info{
		LocalNodeState: swarm.LocalNodeStateActive, NodeAddr: "10.0.0.1", ControlAvailable: true,
		RemoteManagers: []swarm.Peer{{NodeID: "m1", Addr: "10.0.0.1:2377"}},
	}}, nodes: []swarm.Node{node("10.0.0.1", swarm.NodeStateReady), node("10.0.0.3", swarm.NodeStateReady), node("10.0.0.4", swarm.NodeStateDown)}}
	f = New(Config{Engine: manager, Port: 7947, Logger: zerolog.Nop()})
	if got, want := f.Seeds(context.Background()), []string{"10.0.0.1:7947", "10.0.0.3:7947"}; !slices.Equal(got, want) {
		t.Errorf("manager seeds: got %v; want %v (down nodes left out)", got, want)
	}

	none := &fakeEngine{info: system.Info{Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}}}
	f = New(Config{Engine: none, Port: 7947, Logger: zerolog.Nop()})
	if got := f.Seeds(context.Background()); len(got) != 0 {
		t.Errorf("no swarm: seeds %v", got)
	}
	if _, ok, err := f.SwarmAddr(context.Background()); ok || err != nil {
		t.Errorf("no swarm: SwarmAddr ok %v err %v", ok, err)
	}
}

// TestRememberedPeers: the peers seen alive are kept in the file and come
// back as seeds in the next run, even when the engine cannot be asked;
// one not seen for a day is forgotten; a broken file is ignored.
func TestRememberedPeers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "peers.json")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	f := New(Config{Port: 7947, File: file, Logger: zerolog.Nop(), Now: clock})
	a, b := netip.MustParseAddrPort("10.0.0.5:7947"), netip.MustParseAddrPort("10.0.0.6:7947")
	if err := f.Seen([]netip.AddrPort{b, a}); err != nil {
		t.Fatal(err)
	}
	down := &fakeEngine{infoErr: errors.New("engine away")}
	next := New(Config{Engine: down, Port: 7947, File: file, Logger: zerolog.Nop(), Now: clock})
	if got, want := next.Seeds(context.Background()), []string{a.String(), b.String()}; !slices.Equal(got, want) {
		t.Errorf("next run's seeds: got %v; want %v", got, want)
	}

	now = now.Add(Forget / 2)
	if err := next.Seen([]netip.AddrPort{a}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(Forget/2 + time.Minute)
	if err := next.Seen([]netip.AddrPort{a}); err != nil {
		t.Fatal(err)
	}
	later := New(Config{Port: 7947, File: file, Logger: zerolog.Nop(), Now: clock})
	if got, want := later.Seeds(context.Background()), []string{a.String()}; !slices.Equal(got, want) {
		t.Errorf("after a day without %v: got %v; want %v", b, got, want)
	}

	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := New(Config{Port: 7947, File: file, Logger: zerolog.Nop()}).Seeds(context.Background()); len(got) != 0 {
		t.Errorf("broken file: seeds %v", got)
	}
}
