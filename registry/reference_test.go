package registry

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// reference is the zone rebuilt from scratch out of the registry's node
// states, the simplest way there is: what every incrementally published
// Snapshot must agree with.
type reference struct {
	sets    []*RecordSet
	names   map[string][]*RecordSet
	parents map[string]bool
	aliases map[string]Alias
	addrs   map[netip.Addr][]*RecordSet
	nodes   []NodeInfo
}

func buildReference(r *Registry) *reference {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := &reference{
		names:   make(map[string][]*RecordSet),
		parents: make(map[string]bool),
		aliases: make(map[string]Alias),
		addrs:   make(map[netip.Addr][]*RecordSet),
	}
	for _, n := range r.nodes {
		if n.gone {
			continue
		}
		ref.nodes = append(ref.nodes, NodeInfo{
			Name: n.name, Generation: n.generation, Version: n.version, Records: n.sets.len(),
			Expires: n.expires, Stale: n.stale || !n.expires.IsZero(), Local: n.name == r.local,
		})
		for _, set := range n.sets.all() {
			ref.sets = append(ref.sets, set)
		}
	}
	slices.SortFunc(ref.nodes, func(a, b NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(ref.sets, compareSets)
	addParents := func(name string) {
		labels := strings.Split(strings.TrimSuffix(name, "."), ".")
		for i := 1; i < len(labels); i++ {
			ref.parents[strings.Join(labels[i:], ".")+"."] = true
		}
	}
	for _, set := range ref.sets {
		for _, name := range set.Names {
			ref.names[name] = append(ref.names[name], set)
			addParents(name)
		}
		for _, a := range set.Addrs {
			if l := ref.addrs[a.IP]; len(l) == 0 || l[len(l)-1] != set {
				ref.addrs[a.IP] = append(l, set)
			}
		}
		for _, a := range set.Aliases {
			if _, dup := ref.aliases[a.Name]; !dup {
				ref.aliases[a.Name] = a
				addParents(a.Name)
			}
		}
	}
	return ref
}

// checkSnapshot compares r's current snapshot with the reference, over
// every name, ancestor, alias and address the reference knows and a few
// misses.
func checkSnapshot(tb testing.TB, r *Registry) {
	tb.Helper()
	snap := r.Snapshot()
	ref := buildReference(r)
	if err := compareWithReference(snap, ref); err != nil {
		tb.Fatal(err)
	}
}

func compareWithReference(snap *Snapshot, ref *reference) error {
	if got := snap.Sets(); !slices.Equal(got, ref.sets) {
		return fmt.Errorf("Sets: got %q; want %q", ids(got), ids(ref.sets))
	}
	if got := snap.Nodes(); !slices.Equal(got, ref.nodes) {
		return fmt.Errorf("Nodes: got %+v; want %+v", got, ref.nodes)
	}
	for _, n := range ref.nodes {
		if got, ok := snap.Node(n.Name); !ok || got != n {
			return fmt.Errorf("Node(%s): got %+v, %v; want %+v", n.Name, got, ok, n)
		}
		var want []*RecordSet
		for _, s := range ref.sets {
			if s.Node == n.Name {
				want = append(want, s)
			}
		}
		if got := snap.NodeSets(n.Name); !slices.Equal(got, want) {
			return fmt.Errorf("NodeSets(%s): got %q; want %q", n.Name, ids(got), ids(want))
		}
	}
	if got := snap.NodeSets("no-such-node"); got != nil {
		return fmt.Errorf("NodeSets(unknown): got %q; want nil", ids(got))
	}
	probes := []string{"", ".", "nope.swarm.internal.", "internal."}
	probes = slices.AppendSeq(probes, maps.Keys(ref.names))
	probes = slices.AppendSeq(probes, maps.Keys(ref.parents))
	probes = slices.AppendSeq(probes, maps.Keys(ref.aliases))
	for _, name := range probes {
		if got, want := snap.Lookup(name), ref.names[name]; !slices.Equal(got, want) {
			return fmt.Errorf("Lookup(%s): got %q; want %q", name, ids(got), ids(want))
		}
		want := len(ref.names[name]) > 0 || ref.parents[name]
		if _, ok := ref.aliases[name]; ok {
			want = true
		}
		if got := snap.Exists(name); got != want {
			return fmt.Errorf("Exists(%s): got %v; want %v", name, got, want)
		}
		wa, wok := ref.aliases[name]
		if ga, gok := snap.Alias(name); ga != wa || gok != wok {
			return fmt.Errorf("Alias(%s): got %+v, %v; want %+v, %v", name, ga, gok, wa, wok)
		}
	}
	addrs := slices.Collect(maps.Keys(ref.addrs))
	addrs = append(addrs, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"))
	for _, ip := range addrs {
		if got, want := snap.LookupAddr(ip), ref.addrs[ip]; !slices.Equal(got, want) {
			return fmt.Errorf("LookupAddr(%v): got %q; want %q", ip, ids(got), ids(want))
		}
	}
	return nil
}
