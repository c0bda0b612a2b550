package registry

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// benchSet is a realistic container: a 64-hex ID, four names, an IPv4 and
// an IPv6 address, a port and an image.
func benchSet(i int) RecordSet {
	return RecordSet{
		ContainerID: fmt.Sprintf("%064x", i),
		Name:        fmt.Sprintf("web-%d.swarm.internal.", i),
		Names: []string{
			fmt.Sprintf("host-%d.swarm.internal.", i),
			fmt.Sprintf("%d.web.app.swarm.internal.", i%1000),
			fmt.Sprintf("web.app%d.swarm.internal.", i/1000),
		},
		Addrs: []Addr{
			{IP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Network: "app", Subnet: netip.MustParsePrefix("10.0.0.0/8")},
			{IP: netip.AddrFrom16([16]byte{0: 0xfd, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}), Network: "app"},
		},
		Ports: []Port{{Service: "http", Proto: "tcp", Port: 80}},
		Image: "registry.example/web:1.2.3",
	}
}

// fill gives r n sets: one local set per 100 and the rest spread over
// remote nodes of at most 1,000 sets each, merged as full states.
func fill(tb testing.TB, r *Registry, n int) {
	tb.Helper()
	var local []RecordSet
	states := make(map[int]*NodeState)
	for i := range n {
		s := benchSet(i)
		if i%100 == 0 {
			local = append(local, s)
			continue
		}
		node := i / 1000
		st, ok := states[node]
		if !ok {
			st = &NodeState{Node: fmt.Sprintf("node-%03d", node), Generation: 1}
			states[node] = st
		}
		st.Version++
		s.Version = st.Version
		st.Sets = append(st.Sets, s)
	}
	if _, err := r.ReplaceLocal(local); err != nil {
		tb.Fatal(err)
	}
	for _, st := range states {
		if _, err := r.MergeNode(*st); err != nil {
			tb.Fatal(err)
		}
	}
	if got := len(r.Snapshot().Sets()); got != n {
		tb.Fatalf("filled %d sets; want %d", got, n)
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		r, _ := newTestRegistry(b, "node-local", 1)
		fill(b, r, n)
		snap := r.Snapshot()
		hits := make([]string, 1024)
		misses := make([]string, 1024)
		addrs := make([]netip.Addr, 1024)
		for i := range hits {
			hits[i] = fmt.Sprintf("web-%d.swarm.internal.", (i*7919)%n)
			misses[i] = fmt.Sprintf("nope-%d.swarm.internal.", i)
			addrs[i] = benchSet((i * 7919) % n).Addrs[0].IP
		}
		b.Run(fmt.Sprintf("names=%d/hit", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if len(snap.Lookup(hits[i%len(hits)])) != 1 {
					b.Fatal("miss")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("names=%d/miss", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				name := misses[i%len(misses)]
				if snap.Lookup(name) != nil || snap.Exists(name) {
					b.Fatal("hit")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("names=%d/addr", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if len(snap.LookupAddr(addrs[i%len(addrs)])) != 1 {
					b.Fatal("miss")
				}
				i++
			}
		})
	}
}

// BenchmarkSetLocal measures one local write that changes a set, with n
// sets in the registry: the cost of publishing a new snapshot.
func BenchmarkSetLocal(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("sets=%d", n), func(b *testing.B) {
			r, _ := newTestRegistry(b, "node-local", 1)
			fill(b, r, n)
			s := benchSet(n + 1)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Addrs[0].IP = netip.AddrFrom4([4]byte{10, 255, byte(i >> 8), byte(i)})
				if changed, err := r.SetLocal(s); err != nil || !changed {
					b.Fatalf("SetLocal: %v, %v", changed, err)
				}
				i++
			}
		})
	}
}

// BenchmarkApplyDelta is BenchmarkSetLocal for a remote node's delta.
func BenchmarkApplyDelta(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("sets=%d", n), func(b *testing.B) {
			r, _ := newTestRegistry(b, "node-local", 1)
			fill(b, r, n)
			s := benchSet(n + 1)
			b.ReportAllocs()
			v := uint64(1_000_000)
			for b.Loop() {
				v++
				s.Addrs[0].IP = netip.AddrFrom4([4]byte{10, 255, byte(v >> 8), byte(v)})
				if ok, err := r.ApplyDelta(Delta{Node: "node-000", Generation: 1, Version: v, ContainerID: s.ContainerID, Set: &s}); err != nil || !ok {
					b.Fatalf("ApplyDelta: %v, %v", ok, err)
				}
			}
		})
	}
}

// BenchmarkMemoryPerSet reports the heap a registry holds per record set
// (its maps, the sets and one published snapshot), filled with 100,000.
func BenchmarkMemoryPerSet(b *testing.B) {
	const n = 100_000
	var perSet float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, _ := newTestRegistry(b, "node-local", 1)
		fill(b, r, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSet = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(r)
	}
	b.ReportMetric(perSet, "heap-bytes/set")
}

// BenchmarkNodeStates builds every node's state from a snapshot, as a
// push/pull does: with Sets and a search per node (O(nodes x sets)) and
// with NodeSets (O(sets)).
func BenchmarkNodeStates(b *testing.B) {
	r, _ := newTestRegistry(b, "node-local", 1)
	fill(b, r, 100_000)
	snap := r.Snapshot()
	b.Run("Sets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, n := range snap.Nodes() {
				sets := snap.Sets()
				i, _ := slices.BinarySearchFunc(sets, n.Name, func(s *RecordSet, name string) int { return strings.Compare(s.Node, name) })
				for ; i < len(sets) && sets[i].Node == n.Name; i++ {
				}
			}
		}
	})
	b.Run("NodeSets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, n := range snap.Nodes() {
				_ = snap.NodeSets(n.Name)
			}
		}
	})
}
