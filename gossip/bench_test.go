package gossip

import (
	"bytes"
	"compress/lzw"
	"fmt"
	"testing"

	"github.com/swarmdns/swarmdns/registry"
)

func BenchmarkEncodeDelta(b *testing.B) {
	s := sampleSet(7)
	d := registry.Delta{Node: "worker-17.example.internal", Generation: 1795447790588247492, Version: s.Version, ContainerID: s.ContainerID, Set: &s}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(encodeDelta(d))
	}
	b.ReportMetric(float64(n), "bytes/delta")
}

func BenchmarkDecodeDelta(b *testing.B) {
	s := sampleSet(7)
	buf := encodeDelta(registry.Delta{Node: "worker-17.example.internal", Generation: 1795447790588247492, Version: s.Version, ContainerID: s.ContainerID, Set: &s})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// zoneRegistry builds the registry of node 0 in a cluster of nodes nodes
// with perNode containers each.
func zoneRegistry(tb testing.TB, nodes, perNode int) *registry.Registry {
	tb.Helper()
	name := func(i int) string { return fmt.Sprintf("worker-%03d.example.internal", i) }
	r, err := registry.New(registry.Config{Node: name(0), Generation: 1795447790588247492})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range nodes {
		st := registry.NodeState{Node: name(i), Generation: 1795447790588247492 + uint64(i), Version: uint64(perNode)}
		for j := range perNode {
			s := sampleSet(i*perNode + j)
			s.Version = uint64(j + 1)
			st.Sets = append(st.Sets, s)
		}
		if i == 0 {
			for _, s := range st.Sets {
				if _, err := r.SetLocal(s); err != nil {
					tb.Fatal(err)
				}
			}
			continue
		}
		if _, err := r.MergeNode(st); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// lzwSize is the size memberlist sends for a stream with compression on
// (its default: LZW, LSB order, 8-bit literals).
func lzwSize(n int, enc func() []byte) int {
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.LSB, 8)
	_, _ = w.Write(enc())
	_ = w.Close()
	return buf.Len()
}

// BenchmarkStateSize reports what push/pull sends (the local node's own
// state plus a digest of every node) and what a node joining empty
// receives (the whole zone), raw and LZW-compressed as memberlist sends
// streams, for clusters of 100 and 300 nodes with 10, 50 or 100
// containers each.
func BenchmarkStateSize(b *testing.B) {
	for _, nodes := range []int{100, 300} {
		for _, per := range []int{10, 50, 100} {
			b.Run(fmt.Sprintf("nodes=%d/containers=%d", nodes, per), func(b *testing.B) {
				r := zoneRegistry(b, nodes, per)
				snap := r.Snapshot()
				n := &Node{cfg: Config{Node: snap.LocalNode()}}
				own, _ := snap.Node(snap.LocalNode())
				var pp []byte
				b.ReportAllocs()
				for b.Loop() {
					pp = mustEncodeState(b, &stateMsg{Sender: own.Name, Generation: own.Generation, States: []registry.NodeState{n.ownState(snap)}, Digest: digest(snap)})
				}
				_, zone := StateSize(snap)
				b.ReportMetric(float64(len(pp)), "pushpull-bytes")
				b.ReportMetric(float64(lzwSize(len(pp), func() []byte { return pp })), "pushpull-lzw-bytes")
				b.ReportMetric(float64(zone), "zone-bytes")
				all := &stateMsg{Sender: own.Name}
				for _, info := range snap.Nodes() {
					all.States = append(all.States, nodeState(snap, info))
				}
				b.ReportMetric(float64(lzwSize(zone, func() []byte { return mustEncodeState(b, all) })), "zone-lzw-bytes")
			})
		}
	}
}
