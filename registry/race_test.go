package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersAndWriters runs lookups in a loop against local and
// remote writers, a lease expirer and a subscriber; under -race it proves
// the snapshots are never written once published (readers even shuffle
// what Lookup returns). Each reader also checks
// that what it sees is internally consistent: every set found by name
// carries that name, and by address that address.
func TestConcurrentReadersAndWriters(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const writes = 400
	var wg sync.WaitGroup
	var stop atomic.Bool

	name := func(i int) string { return fmt.Sprintf("web-%d.swarm.internal.", i%20) }
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i % 7), byte(i % 20)}) }

	// Readers.
	var lookups atomic.Int64
	for range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				snap := r.Snapshot()
				found := snap.Lookup(name(i))
				// Rotate the answer in place, as a DNS server does.
				rand.Shuffle(len(found), func(a, b int) { found[a], found[b] = found[b], found[a] })
				for _, s := range found {
					if !slices.Contains(s.Names, name(i)) {
						t.Errorf("Lookup(%s) gave a set without that name: %v", name(i), s.Names)
						return
					}
				}
				for _, s := range snap.LookupAddr(ip(i)) {
					if !containsAddr(s.Addrs, ip(i)) {
						t.Errorf("LookupAddr(%v) gave a set without that address", ip(i))
						return
					}
				}
				snap.Exists(name(i))
				snap.Alias(name(i))
				snap.Nodes()
				snap.Serial()
				lookups.Add(1)
			}
		})
	}
	// A subscriber that drains as it goes.
	_, sub := r.Subscribe(ctx)
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
				sub.Next()
			}
		}
	})

	// Writers: the local node, two remote nodes, leases.
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := range writes {
			s := RecordSet{ContainerID: fmt.Sprintf("c%d", i%30), Name: name(i), Addrs: []Addr{{IP: ip(i), Network: "n"}}}
			if _, err := r.SetLocal(s); err != nil {
				t.Errorf("SetLocal: %v", err)
			}
			if i%5 == 0 {
				r.RemoveLocal(fmt.Sprintf("c%d", (i+3)%30))
			}
			if i%50 == 0 {
				r.SetLocalStale(i%100 == 0)
			}
		}
	})
	for _, node := range []string{"b", "c"} {
		writers.Go(func() {
			for i := range writes {
				s := RecordSet{ContainerID: fmt.Sprintf("c%d", i%30), Name: name(i + 1), Addrs: []Addr{{IP: ip(i + 1), Network: "n"}}}
				d := Delta{Node: node, Generation: uint64(1 + i/100), Version: uint64(i%100 + 1), ContainerID: s.ContainerID, Set: &s}
				if i%4 == 0 {
					d.Set = nil
				}
				if _, err := r.ApplyDelta(d); err != nil {
					t.Errorf("ApplyDelta: %v", err)
				}
				if i%25 == 0 {
					st := NodeState{Node: node, Generation: d.Generation, Version: d.Version, Sets: []RecordSet{s}}
					st.Sets[0].Version = d.Version
					if _, err := r.MergeNode(st); err != nil {
						t.Errorf("MergeNode: %v", err)
					}
					r.NodeStates()
				}
				if i%60 == 0 {
					r.SetLease(node, clk.Now())
					r.ExpireLeases()
				}
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	cancel()
	wg.Wait()
	checkSnapshot(t, r)
	if lookups.Load() == 0 {
		t.Error("the readers never ran")
	}
}

func containsAddr(addrs []Addr, ip netip.Addr) bool {
	for _, a := range addrs {
		if a.IP == ip {
			return true
		}
	}
	return false
}
