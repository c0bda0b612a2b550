package registry

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// NodeInfo describes one node in a Snapshot.
type NodeInfo struct {
	Name       string
	Generation uint64
	Version    uint64
	// Records is the number of record sets (containers) the node owns.
	Records int
	// Expires is when the node's lease ends; zero while it is alive.
	Expires time.Time
	// Stale is true when the node's records may be out of date: its lease
	// is running, or (the local node) its engine cannot be reached.
	Stale bool
	// Local is true for the node this registry runs on.
	Local bool
}

// Snapshot is an immutable view of the whole zone at one serial. All its
// methods are safe for concurrent use and never block. The slices they
// return belong to the caller (a DNS answer may shuffle them); the record
// sets those point to are shared and must not be modified (Clone them).
// Names passed to lookups must be canonical (CanonicalName).
type Snapshot struct {
	serial  uint32
	local   string
	sets    []*RecordSet
	names   map[string][]*RecordSet
	parents map[string]struct{} // proper ancestors of names and aliases
	aliases map[string]*Alias
	addrs   map[netip.Addr][]*RecordSet
	nodes   []NodeInfo
}

// build makes a snapshot of the registry's current state.
func (r *Registry) build() *Snapshot {
	s := &Snapshot{
		serial:  r.serial,
		local:   r.local,
		names:   make(map[string][]*RecordSet),
		parents: make(map[string]struct{}),
		aliases: make(map[string]*Alias),
		addrs:   make(map[netip.Addr][]*RecordSet),
	}
	for _, n := range r.nodes {
		if n.gone {
			continue
		}
		s.nodes = append(s.nodes, NodeInfo{
			Name: n.name, Generation: n.generation, Version: n.version, Records: len(n.sets),
			Expires: n.expires, Stale: n.stale || !n.expires.IsZero(), Local: n.name == r.local,
		})
		for _, set := range n.sets {
			s.sets = append(s.sets, set)
		}
	}
	slices.SortFunc(s.nodes, func(a, b NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.sets, compareSets)
	for _, set := range s.sets {
		for _, name := range set.Names {
			s.names[name] = append(s.names[name], set)
			s.addParents(name)
		}
		for _, a := range set.Addrs {
			s.addrs[a.IP] = append(s.addrs[a.IP], set)
		}
		for i := range set.Aliases {
			a := &set.Aliases[i]
			if _, dup := s.aliases[a.Name]; !dup {
				s.aliases[a.Name] = a
				s.addParents(a.Name)
			}
		}
	}
	return s
}

func (s *Snapshot) addParents(name string) {
	for i := 0; i < len(name)-1; i++ {
		if name[i] == '.' {
			p := name[i+1:]
			if _, ok := s.parents[p]; ok {
				return // its own ancestors are in already
			}
			s.parents[p] = struct{}{}
		}
	}
}

func compareSets(a, b *RecordSet) int {
	return cmp.Or(strings.Compare(a.Node, b.Node), strings.Compare(a.ContainerID, b.ContainerID))
}

func sortSets(sets []RecordSet) {
	slices.SortFunc(sets, func(a, b RecordSet) int { return compareSets(&a, &b) })
}

// Serial is the zone's serial number; it changes whenever the zone does.
func (s *Snapshot) Serial() uint32 { return s.serial }

// LocalNode is the name of the node the snapshot was taken on.
func (s *Snapshot) LocalNode() string { return s.local }

// Lookup returns the record sets that answer to name, ordered by node and
// container; nil, without allocating, when there are none.
func (s *Snapshot) Lookup(name string) []*RecordSet { return slices.Clone(s.names[name]) }

// Alias returns the CNAME record at name, if any.
func (s *Snapshot) Alias(name string) (Alias, bool) {
	a, ok := s.aliases[name]
	if !ok {
		return Alias{}, false
	}
	return *a, true
}

// Exists reports whether name exists in the zone: it owns records, or it is
// an empty non-terminal (an ancestor of a name that does), so that a miss
// there is NODATA rather than NXDOMAIN (RFC 8020).
func (s *Snapshot) Exists(name string) bool {
	if _, ok := s.names[name]; ok {
		return true
	}
	if _, ok := s.aliases[name]; ok {
		return true
	}
	_, ok := s.parents[name]
	return ok
}

// LookupAddr returns the record sets that hold ip, for PTR answers. An
// IPv4-mapped IPv6 address finds the IPv4 one; a zone is ignored.
func (s *Snapshot) LookupAddr(ip netip.Addr) []*RecordSet {
	return slices.Clone(s.addrs[ip.Unmap().WithZone("")])
}

// Sets returns every record set, ordered by node and container.
func (s *Snapshot) Sets() []*RecordSet { return slices.Clone(s.sets) }

// Nodes returns every known node, ordered by name.
func (s *Snapshot) Nodes() []NodeInfo { return slices.Clone(s.nodes) }

// Node returns one node's info.
func (s *Snapshot) Node(name string) (NodeInfo, bool) {
	i, ok := slices.BinarySearchFunc(s.nodes, name, func(n NodeInfo, name string) int { return strings.Compare(n.Name, name) })
	if !ok {
		return NodeInfo{}, false
	}
	return s.nodes[i], true
}
