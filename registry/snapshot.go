package registry

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
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

// Snapshot is an immutable view of the whole zone at one time. All its
// methods are safe for concurrent use and never block. The slices they
// return belong to the caller (a DNS answer may shuffle them); the record
// sets those point to are shared and must not be modified (Clone them).
// Names passed to lookups must be canonical (CanonicalName).
//
// A new snapshot shares all it can with the one before: a write copies only
// the node entry and the index shards it touches (see index.go).
type Snapshot struct {
	changed int64            // the zone's change time (serial.go)
	clock   func() time.Time // the registry's, for Serial
	final   atomic.Bool      // the clock has passed the serial's due second
	local   string
	nodes   []nodeEntry // by name
	total   int         // record sets in all nodes
	// names, aliases and parents all shard by hashName, so a name has the
	// same shard in each.
	names   *sharded[string, []*RecordSet]
	aliases *sharded[string, []*RecordSet] // the sets with an alias of that name
	addrs   *sharded[addrKey, []*RecordSet]
	parents *sharded[string, int32] // how many names and aliases lie below
}

// nodeEntry is one node in a snapshot.
type nodeEntry struct {
	info NodeInfo
	sets []*RecordSet // by container ID; never written once published
}

// rebuildShare is the share of a snapshot's sets a batch of changes must
// touch before the next snapshot is built from scratch rather than from the
// previous one.
const rebuildShare = 4

// nextSnapshot makes the snapshot of the registry's current state from
// prev, the one published before changes (nil for none). Changes must name
// every container whose set changed since prev.
func (r *Registry) nextSnapshot(prev *Snapshot, changes []Change) *Snapshot {
	touched := make(map[string]map[string]bool)
	count := 0
	for _, c := range changes {
		if c.ContainerID == "" {
			continue
		}
		ids := touched[c.Node]
		if ids == nil {
			ids = make(map[string]bool)
			touched[c.Node] = ids
		}
		if !ids[c.ContainerID] {
			ids[c.ContainerID] = true
			count++
		}
	}
	if prev == nil || count > 64 && count > prev.total/rebuildShare {
		prev, touched = emptySnapshot(), nil
	}
	s := &Snapshot{changed: r.changed, clock: r.now, local: r.local}
	w := newSnapshotWriter(prev)

	names := make([]string, 0, len(r.nodes))
	for name, n := range r.nodes {
		if !n.gone {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	s.nodes = make([]nodeEntry, 0, len(names))
	i := 0 // position in prev.nodes
	for _, name := range names {
		// Nodes gone since prev: all their sets go.
		for ; i < len(prev.nodes) && prev.nodes[i].info.Name < name; i++ {
			for _, set := range prev.nodes[i].sets {
				w.replace(set, nil)
			}
		}
		var old []*RecordSet
		known := i < len(prev.nodes) && prev.nodes[i].info.Name == name
		if known {
			old = prev.nodes[i].sets
			i++
		}
		n := r.nodes[name]
		sets := old
		if ids := touched[name]; !known || len(ids) > 0 {
			sets = w.updateNode(n, old, ids, known)
		}
		s.nodes = append(s.nodes, nodeEntry{info: r.info(n), sets: sets})
		n.sets.rebase(sets) // the registry's view of n is now the snapshot's
		s.total += len(sets)
	}
	for ; i < len(prev.nodes); i++ {
		for _, set := range prev.nodes[i].sets {
			w.replace(set, nil)
		}
	}
	s.names, s.aliases, s.addrs, s.parents = w.names.w.m, w.aliases.w.m, w.addrs.w.m, w.parents.w.m
	return s
}

func emptySnapshot() *Snapshot {
	return &Snapshot{
		names:   newSharded[string, []*RecordSet](hashName),
		aliases: newSharded[string, []*RecordSet](hashName),
		addrs:   newSharded[addrKey, []*RecordSet](hashAddr),
		parents: newSharded[string, int32](hashName),
	}
}

func (r *Registry) info(n *nodeState) NodeInfo {
	return NodeInfo{
		Name: n.name, Generation: n.generation, Version: n.version, Records: n.sets.len(),
		Expires: n.expires, Stale: n.stale || !n.expires.IsZero(), Local: n.name == r.local,
	}
}

// snapshotWriter makes the indexes of a new snapshot from a previous one.
type snapshotWriter struct {
	names, aliases *setIndex[string]
	addrs          *setIndex[addrKey]
	parents        parentIndex
}

func newSnapshotWriter(prev *Snapshot) *snapshotWriter {
	return &snapshotWriter{
		names:   writeIndexOf(prev.names),
		aliases: writeIndexOf(prev.aliases),
		addrs:   writeIndexOf(prev.addrs),
		parents: parentIndex{w: writeShardsOf(prev.parents)},
	}
}

// updateNode returns n's sets, ordered by container, from old (its sets in
// the previous snapshot, if known) and the containers changed since (ids),
// and indexes the changes. Without a previous entry, every set is new.
func (w *snapshotWriter) updateNode(n *nodeState, old []*RecordSet, ids map[string]bool, known bool) []*RecordSet {
	byID := func(s *RecordSet, id string) int { return strings.Compare(s.ContainerID, id) }
	if !known || len(ids) > 8 {
		sets := make([]*RecordSet, 0, n.sets.len())
		for _, set := range n.sets.all() {
			sets = append(sets, set)
		}
		slices.SortFunc(sets, compareSets)
		if !known {
			for _, set := range sets {
				w.replace(nil, set)
			}
			return sets
		}
		for id := range ids {
			var was *RecordSet
			if j, ok := slices.BinarySearchFunc(old, id, byID); ok {
				was = old[j]
			}
			now, _ := n.sets.get(id)
			w.replace(was, now)
		}
		return sets
	}
	sets := slices.Clone(old)
	for id := range ids {
		j, ok := slices.BinarySearchFunc(sets, id, byID)
		var was *RecordSet
		if ok {
			was = sets[j]
		}
		now, _ := n.sets.get(id)
		w.replace(was, now)
		switch {
		case ok && now != nil:
			sets[j] = now
		case ok:
			sets = slices.Delete(sets, j, j+1)
		case now != nil:
			sets = slices.Insert(sets, j, now)
		}
	}
	return sets
}

// replace indexes the change of one container's set from old to new
// (either may be nil).
func (w *snapshotWriter) replace(old, new *RecordSet) {
	if old == new {
		return
	}
	var oldNames, newNames, oldAliases, newAliases []string
	var oldAddrs, newAddrs []addrKey
	if old != nil {
		oldNames, oldAliases, oldAddrs = old.Names, aliasNames(old), addrKeys(old)
	}
	if new != nil {
		newNames, newAliases, newAddrs = new.Names, aliasNames(new), addrKeys(new)
	}
	for _, name := range oldNames {
		if !slices.Contains(newNames, name) && w.names.remove(name, old) {
			w.parents.add(name, -1)
		}
	}
	for _, name := range newNames {
		if w.names.put(name, new) {
			w.parents.add(name, +1)
		}
	}
	for _, name := range oldAliases {
		if !slices.Contains(newAliases, name) && w.aliases.remove(name, old) {
			w.parents.add(name, -1)
		}
	}
	for _, name := range newAliases {
		if w.aliases.put(name, new) {
			w.parents.add(name, +1)
		}
	}
	for _, ip := range oldAddrs {
		if !slices.Contains(newAddrs, ip) {
			w.addrs.remove(ip, old)
		}
	}
	for _, ip := range newAddrs {
		w.addrs.put(ip, new)
	}
}

// aliasNames returns the distinct names of s's aliases (sorted by name, as
// normalize leaves them).
func aliasNames(s *RecordSet) []string {
	var out []string
	for _, a := range s.Aliases {
		if len(out) == 0 || out[len(out)-1] != a.Name {
			out = append(out, a.Name)
		}
	}
	return out
}

// addrKeys returns the distinct addresses of s (sorted by address, as
// normalize leaves them).
func addrKeys(s *RecordSet) []addrKey {
	var out []addrKey
	for _, a := range s.Addrs {
		if k := keyOf(a.IP); len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}

func compareSets(a, b *RecordSet) int {
	return cmp.Or(strings.Compare(a.Node, b.Node), strings.Compare(a.ContainerID, b.ContainerID))
}

func sortSets(sets []RecordSet) {
	slices.SortFunc(sets, func(a, b RecordSet) int { return compareSets(&a, &b) })
}

// LocalNode is the name of the node the snapshot was taken on.
func (s *Snapshot) LocalNode() string { return s.local }

// Lookup returns the record sets that answer to name, ordered by node and
// container; nil, without allocating, when there are none.
func (s *Snapshot) Lookup(name string) []*RecordSet {
	sets, _ := s.names.get(name)
	return slices.Clone(sets)
}

// LookupShared is Lookup without the copy: it returns the snapshot's own
// slice, for the DNS answer path that reads it once per query. The slice
// and its sets must not be modified or appended to.
func (s *Snapshot) LookupShared(name string) []*RecordSet {
	sets, _ := s.names.get(name)
	return sets[:len(sets):len(sets)]
}

// Alias returns the CNAME record at name, if any. When several containers
// claim name, the first by node and container wins.
func (s *Snapshot) Alias(name string) (Alias, bool) {
	sets, _ := s.aliases.get(name)
	if len(sets) == 0 {
		return Alias{}, false
	}
	for _, a := range sets[0].Aliases {
		if a.Name == name {
			return a, true
		}
	}
	return Alias{}, false
}

// Exists reports whether name exists in the zone: it owns records, or it is
// an empty non-terminal (an ancestor of a name that does), so that a miss
// there is NODATA rather than NXDOMAIN (RFC 8020).
func (s *Snapshot) Exists(name string) bool {
	i := s.names.shard(name) // the three name indexes shard alike
	if _, ok := s.names.shards[i][name]; ok {
		return true
	}
	if _, ok := s.aliases.shards[i][name]; ok {
		return true
	}
	_, ok := s.parents.shards[i][name]
	return ok
}

// LookupAddr returns the record sets that hold ip, for PTR answers. An
// IPv4-mapped IPv6 address finds the IPv4 one; a zone is ignored.
func (s *Snapshot) LookupAddr(ip netip.Addr) []*RecordSet {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return nil
	}
	sets, _ := s.addrs.get(keyOf(ip))
	return slices.Clone(sets)
}

// Sets returns every record set, ordered by node and container.
func (s *Snapshot) Sets() []*RecordSet {
	out := make([]*RecordSet, 0, s.total)
	for _, n := range s.nodes {
		out = append(out, n.sets...)
	}
	return out
}

// NodeSets returns the record sets of one node, ordered by container: what
// Sets holds for it, at the cost of that node's sets only.
func (s *Snapshot) NodeSets(node string) []*RecordSet {
	i, ok := slices.BinarySearchFunc(s.nodes, node, func(n nodeEntry, name string) int { return strings.Compare(n.info.Name, name) })
	if !ok {
		return nil
	}
	return slices.Clone(s.nodes[i].sets)
}

// NodeSet returns node's record set for one container, if the snapshot
// holds it (shared: do not modify). It does not allocate.
func (s *Snapshot) NodeSet(node, containerID string) (*RecordSet, bool) {
	i, ok := slices.BinarySearchFunc(s.nodes, node, func(n nodeEntry, name string) int { return strings.Compare(n.info.Name, name) })
	if !ok {
		return nil, false
	}
	sets := s.nodes[i].sets
	j, ok := slices.BinarySearchFunc(sets, containerID, func(set *RecordSet, id string) int { return strings.Compare(set.ContainerID, id) })
	if !ok {
		return nil, false
	}
	return sets[j], true
}

// Nodes returns every known node, ordered by name.
func (s *Snapshot) Nodes() []NodeInfo {
	out := make([]NodeInfo, len(s.nodes))
	for i, n := range s.nodes {
		out[i] = n.info
	}
	return out
}

// Node returns one node's info.
func (s *Snapshot) Node(name string) (NodeInfo, bool) {
	i, ok := slices.BinarySearchFunc(s.nodes, name, func(n nodeEntry, name string) int { return strings.Compare(n.info.Name, name) })
	if !ok {
		return NodeInfo{}, false
	}
	return s.nodes[i].info, true
}
