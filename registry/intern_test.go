package registry

import (
	"net/netip"
	"strings"
	"testing"
	"unsafe"
)

// Sets written from different sources (local, a delta, a merged state)
// share one copy of a network name and an image, whoever built them.
func TestRepeatedStringsShared(t *testing.T) {
	r, _ := newTestRegistry(t, "a", 1)
	// Build each string at run time, so that no two share bytes already.
	fresh := func(s string) string { return strings.Clone(s) }
	set := func(id string, ip string) RecordSet {
		return RecordSet{
			ContainerID: id, Name: id + ".z.",
			Addrs: []Addr{{IP: netip.MustParseAddr(ip), Network: fresh("bench")}},
			Ports: []Port{{Service: fresh("http"), Proto: fresh("tcp"), Port: 80}},
			Image: fresh("registry.example/web:1"),
		}
	}
	mustSetLocal(t, r, set("c1", "10.0.0.1"))
	d := set("c2", "10.0.0.2")
	mustApply(t, r, Delta{Node: "b", Generation: 1, Version: 1, ContainerID: "c2", Set: &d})
	if _, err := r.MergeNode(NodeState{Node: "c", Generation: 1, Version: 1, Sets: []RecordSet{func() RecordSet { s := set("c3", "10.0.0.3"); s.Version = 1; return s }()}}); err != nil {
		t.Fatal(err)
	}
	sets := r.Snapshot().Sets()
	if len(sets) != 3 {
		t.Fatalf("%d sets; want 3", len(sets))
	}
	same := func(what string, get func(*RecordSet) string) {
		t.Helper()
		p := unsafe.StringData(get(sets[0]))
		for _, s := range sets[1:] {
			if unsafe.StringData(get(s)) != p {
				t.Errorf("%s of %s has its own copy; want it shared", what, s.ContainerID)
			}
		}
	}
	same("network", func(s *RecordSet) string { return s.Addrs[0].Network })
	same("image", func(s *RecordSet) string { return s.Image })
	same("port service", func(s *RecordSet) string { return s.Ports[0].Service })
	same("port proto", func(s *RecordSet) string { return s.Ports[0].Proto })
}
