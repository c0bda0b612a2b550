package registry

import (
	"hash/maphash"
	"maps"
	"net/netip"
	"slices"
)

// The snapshot's indexes are maps split into shards, so that a write copies
// only the shards it touches: publishing a change costs the size of a few
// shards, not of the whole zone. A published shard is never written again.

// shardBits sets the number of shards per index (256): at 100,000
// containers a shard of the name index holds under a thousand names, and
// copying the shard pointers of four indexes costs 8 KiB per write; more
// shards make writes cheaper and lookups less cache-friendly.
const (
	shardBits  = 8
	shardCount = 1 << shardBits
)

var seed = maphash.MakeSeed()

func hashName(name string) uint64 { return maphash.String(seed, name) }

// addrKey is an address as the address index keys it: its 16 bytes
// (an IPv4 address in its IPv4-mapped form; the index holds unmapped
// addresses without zone, so no two differ only in that). It is 16 bytes
// where a netip.Addr is 24, which at 100,000 sets saves about 1 MB of the
// index's slots.
type addrKey [16]byte

func keyOf(ip netip.Addr) addrKey { return ip.As16() }

func hashAddr(k addrKey) uint64 { return maphash.Bytes(seed, k[:]) }

// sharded is a map split into shards by key hash.
type sharded[K comparable, V any] struct {
	hash   func(K) uint64
	shards [shardCount]map[K]V
}

func newSharded[K comparable, V any](hash func(K) uint64) *sharded[K, V] {
	return &sharded[K, V]{hash: hash}
}

func (m *sharded[K, V]) shard(k K) int { return int(m.hash(k) & (shardCount - 1)) }

func (m *sharded[K, V]) get(k K) (V, bool) {
	v, ok := m.shards[m.shard(k)][k]
	return v, ok
}

// shardWriter makes a new version of a sharded map: it starts as a copy of
// the shard pointers and copies a shard the first time a write touches it.
type shardWriter[K comparable, V any] struct {
	m      *sharded[K, V]
	copied [shardCount]bool
}

// writeShardsOf starts a new version of old; old itself is not changed.
func writeShardsOf[K comparable, V any](old *sharded[K, V]) *shardWriter[K, V] {
	m := *old
	return &shardWriter[K, V]{m: &m}
}

// shardFor returns the writable shard that holds k.
func (w *shardWriter[K, V]) shardFor(k K) map[K]V {
	i := w.m.shard(k)
	if !w.copied[i] {
		if w.m.shards[i] == nil {
			w.m.shards[i] = make(map[K]V)
		} else {
			w.m.shards[i] = maps.Clone(w.m.shards[i])
		}
		w.copied[i] = true
	}
	return w.m.shards[i]
}

// setIndex maps a key (a name, an address) to the sets that hold it,
// ordered by node and container. A list in a published shard is never
// written: a writer copies it the first time it changes it (owned tracks
// which lists this writer made).
type setIndex[K comparable] struct {
	w     *shardWriter[K, []*RecordSet]
	owned map[K]bool
}

func writeIndexOf[K comparable](old *sharded[K, []*RecordSet]) *setIndex[K] {
	return &setIndex[K]{w: writeShardsOf(old), owned: make(map[K]bool)}
}

// find returns where set (by node and container) is or would go in list.
func find(list []*RecordSet, set *RecordSet) (int, bool) {
	return slices.BinarySearchFunc(list, set, compareSets)
}

// put adds set under k, or replaces the set of the same node and container;
// it reports whether k is new to the index.
func (x *setIndex[K]) put(k K, set *RecordSet) bool {
	shard := x.w.shardFor(k)
	list, had := shard[k]
	i, found := find(list, set)
	if !x.owned[k] {
		list = slices.Clone(list)
		x.owned[k] = true
	}
	if found {
		list[i] = set
	} else {
		list = slices.Insert(list, i, set)
	}
	shard[k] = list
	return !had
}

// remove takes the set of set's node and container from under k; it
// reports whether k left the index.
func (x *setIndex[K]) remove(k K, set *RecordSet) bool {
	shard := x.w.shardFor(k)
	list, had := shard[k]
	i, found := find(list, set)
	if !had || !found {
		return false
	}
	if len(list) == 1 {
		delete(shard, k)
		delete(x.owned, k)
		return true
	}
	if !x.owned[k] {
		list = slices.Clone(list)
		x.owned[k] = true
	}
	shard[k] = slices.Delete(list, i, i+1)
	return false
}

// parentIndex counts, for each name, the indexed names and aliases below
// it: a name with a count is an empty non-terminal.
type parentIndex struct {
	w *shardWriter[string, int32]
}

// add counts name's proper ancestors (the root excluded), or uncounts them
// with delta -1.
func (p parentIndex) add(name string, delta int32) {
	for i := 0; i < len(name)-1; i++ {
		if name[i] != '.' {
			continue
		}
		anc := name[i+1:]
		shard := p.w.shardFor(anc)
		if n := shard[anc] + delta; n > 0 {
			shard[anc] = n
		} else {
			delete(shard, anc)
		}
	}
}
