package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// cacheKey identifies one forwarded question. The name is canonical (lower
// case), so clients that vary the case (0x20) share an entry; the DO and CD
// bits are part of the key because they change what an upstream returns.
type cacheKey struct {
	name   string
	qtype  uint16
	qclass uint16
	do, cd bool
}

// cachedHeader is what a packed cache hit tells the caller about the reply.
type cachedHeader struct {
	rcode      int
	ad         bool   // the upstream's AD bit
	an, ns, ar uint16 // section counts (no OPT)
}

// cacheEntry is one cached upstream reply, packed: a 12-byte header, the
// question of its key (canonical name), then the upstream's answer,
// authority and additional sections (its OPT left out), compressed. Owner
// names equal to the question's (in any case) are the canonical name, so
// compression makes them pointers to offset 12. An entry is never modified
// after it is stored, so readers use it outside the shard's lock.
type cacheEntry struct {
	key      cacheKey
	hash     uint64 // cache.hash(key)
	wire     []byte
	sections int      // offset of the answer section in wire
	ttls     []uint16 // offset of each record's TTL, from sections
	hdr      cachedHeader
	stored   time.Time
	expires  time.Time
}

// cacheShards spreads the cache over independent locks, so that lookups on
// both cores do not queue on one mutex.
const cacheShards = 16

// evictScan is how many slots an insert into a full shard looks at for one
// to reuse.
const evictScan = 8

// cache keeps forwarded replies for as long as their TTLs allow: positive
// answers for the smallest TTL of their records, negative ones (NXDOMAIN and
// NODATA) for the SOA's minimum (RFC 2308 §5), both capped at maxTTL. It
// holds at most about size entries.
//
// Eviction is constant time per insert (CLOCK with a bounded sweep): the
// entries of a shard sit in a fixed ring of slots; an insert into a full
// shard looks at the evictScan slots after the hand and reuses the first
// expired one, else the first not read since the hand last passed it, else
// the slot at the hand. Entries read by a hit get that second chance; an
// entry found expired by a lookup frees its slot at once.
type cache struct {
	now    func() time.Time
	maxTTL time.Duration
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	index map[uint64]int32 // slot of each entry, by cache.hash of its key
	slots []*cacheEntry    // nil: free (listed in free)
	refs  []bool           // read since the hand passed
	free  []int32
	hand  int
	limit int
}

func newCache(size int, maxTTL time.Duration, now func() time.Time) *cache {
	c := &cache{now: now, maxTTL: maxTTL, seed: maphash.MakeSeed()}
	per := max(1, (size+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i].index = make(map[uint64]int32)
		c.shards[i].limit = per
	}
	return c
}

// hash returns the 64-bit hash of k that picks its shard and indexes it
// there (the index's map hashes a uint64 faster than a struct with a
// string). Two keys with one hash (a chance of 2^-64 per pair, the seed
// being random) cannot both be cached: the later replaces the earlier.
func (c *cache) hash(k cacheKey) uint64 {
	f := uint64(k.qtype)<<32 | uint64(k.qclass)<<16
	if k.do {
		f |= 2
	}
	if k.cd {
		f |= 1
	}
	// An odd multiplier is a bijection: distinct fields, distinct terms.
	return maphash.String(c.seed, k.name) ^ (f+1)*0x9E3779B97F4A7C15
}

func (c *cache) shard(k cacheKey) *cacheShard {
	return c.shardOf(c.hash(k))
}

func (c *cache) shardOf(h uint64) *cacheShard {
	return &c.shards[h%cacheShards]
}

// lookup returns the live entry for k and its age in whole seconds, or nil.
// It never retains k.
func (c *cache) lookup(k cacheKey) (*cacheEntry, uint32) {
	h := c.hash(k)
	sh := c.shardOf(h)
	now := c.now()
	sh.mu.Lock()
	i, ok := sh.index[h]
	if !ok || sh.slots[i].key != k {
		sh.mu.Unlock()
		return nil, 0
	}
	e := sh.slots[i]
	if !now.Before(e.expires) {
		sh.removeLocked(i)
		sh.mu.Unlock()
		return nil, 0
	}
	sh.refs[i] = true
	sh.mu.Unlock()
	return e, uint32(now.Sub(e.stored) / time.Second)
}

// get returns the cached reply for k, unpacked, with its TTLs lowered by
// the time it has spent in the cache, or nil. The caller owns it. It has
// the upstream's Rcode and AuthenticatedData, no question and no OPT; the
// owner names equal to the question are the canonical name. The three
// sections share one backing array, each capped at its length.
func (c *cache) get(k cacheKey) *mdns.Msg {
	e, age := c.lookup(k)
	if e == nil {
		return nil
	}
	an, ns := int(e.hdr.an), int(e.hdr.ns)
	rrs := make([]mdns.RR, len(e.ttls))
	off := e.sections
	for i := range rrs {
		rr, next, err := unpackCachedRR(e, off, age)
		if err != nil {
			return nil // cannot happen: put packed it and walked it
		}
		rrs[i], off = rr, next
	}
	m := new(mdns.Msg)
	m.Response = true
	m.Rcode = e.hdr.rcode
	m.AuthenticatedData = e.hdr.ad
	m.Answer = section(rrs[:an:an])
	m.Ns = section(rrs[an : an+ns : an+ns])
	m.Extra = section(rrs[an+ns:])
	return m
}

// unpackCachedRR unpacks the record at off in e.wire with its TTL lowered
// by age. An owner name that points at the question is e's key name, not a
// new string.
func unpackCachedRR(e *cacheEntry, off int, age uint32) (mdns.RR, int, error) {
	w := e.wire
	var h mdns.RR_Header
	if off+2 <= len(w) && w[off] == 0xC0 && w[off+1] == 12 {
		h.Name, off = e.key.name, off+2
	} else {
		var err error
		if h.Name, off, err = mdns.UnpackDomainName(w, off); err != nil {
			return nil, 0, fmt.Errorf("cached record: %w", err)
		}
	}
	if off+10 > len(w) {
		return nil, 0, errBadWire
	}
	h.Rrtype = binary.BigEndian.Uint16(w[off:])
	h.Class = binary.BigEndian.Uint16(w[off+2:])
	h.Ttl = agedTTL(binary.BigEndian.Uint32(w[off+4:]), age)
	h.Rdlength = binary.BigEndian.Uint16(w[off+8:])
	rr, next, err := mdns.UnpackRRWithHeader(h, w, off+10)
	if err != nil {
		return nil, 0, fmt.Errorf("cached record: %w", err)
	}
	return rr, next, nil
}

// section returns rrs, or nil when it is empty (as Unpack leaves an empty
// section).
func section(rrs []mdns.RR) []mdns.RR {
	if len(rrs) == 0 {
		return nil
	}
	return rrs
}

// appendSections appends to dst the answer, authority and additional
// sections of the cached reply for k, TTLs lowered by the entry's age,
// exactly as they follow the question in the packed entry. Compression
// pointers in them assume the message starts with a 12-byte header and
// then the question for k (any case: same length), so the caller writes
// its own header and the client's question bytes, then these. It returns
// false on a miss or an expired entry (and then appends nothing).
//
// It does not allocate (beyond growing dst when it is too short) and never
// retains k, whose name may alias the caller's buffer.
func (c *cache) appendSections(dst []byte, k cacheKey) ([]byte, cachedHeader, bool) {
	e, age := c.lookup(k)
	if e == nil {
		return dst, cachedHeader{}, false
	}
	start := len(dst)
	dst = append(dst, e.wire[e.sections:]...)
	if age > 0 {
		out := dst[start:]
		for _, off := range e.ttls {
			p := out[off : off+4]
			binary.BigEndian.PutUint32(p, agedTTL(binary.BigEndian.Uint32(p), age))
		}
	}
	return dst, e.hdr, true
}

func agedTTL(ttl, age uint32) uint32 {
	if ttl > age {
		return ttl - age
	}
	return 0
}

// put stores the reply m to k if it is cacheable. The cache keeps a packed
// copy: m is neither retained nor modified, and k's name is copied.
func (c *cache) put(k cacheKey, m *mdns.Msg) {
	ttl, ok := cacheTTL(m)
	if !ok {
		return
	}
	d := min(time.Duration(ttl)*time.Second, c.maxTTL)
	if d <= 0 {
		return
	}
	k.name = strings.Clone(k.name)
	e, err := packEntry(k, m)
	if err != nil {
		return // not representable (too big, or a record miekg cannot pack): not cached
	}
	now := c.now()
	e.stored, e.expires = now, now.Add(d)
	e.hash = c.hash(k)
	sh := c.shardOf(e.hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, exists := sh.index[e.hash]; exists {
		sh.slots[i], sh.refs[i] = e, false
		return
	}
	var i int32
	switch {
	case len(sh.free) > 0:
		i = sh.free[len(sh.free)-1]
		sh.free = sh.free[:len(sh.free)-1]
	case len(sh.slots) < sh.limit:
		i = int32(len(sh.slots))
		sh.slots = append(sh.slots, nil)
		sh.refs = append(sh.refs, false)
	default:
		i = sh.victimLocked(now)
		delete(sh.index, sh.slots[i].hash)
	}
	sh.slots[i], sh.refs[i] = e, false
	sh.index[e.hash] = i
}

// victimLocked picks the slot an insert into the full shard reuses, in at
// most evictScan steps: the first expired entry after the hand, else the
// first not read since the hand passed it, else (every one in the window
// was read) the one at the hand. The entries passed over lose their second
// chance and the hand moves past the victim.
func (sh *cacheShard) victimLocked(now time.Time) int32 {
	n := len(sh.slots)
	scan := min(evictScan, n)
	victim := -1
	for s := range scan {
		j := (sh.hand + s) % n
		if !now.Before(sh.slots[j].expires) {
			victim = j
			break
		}
		if victim < 0 && !sh.refs[j] {
			victim = j
		}
	}
	passed := scan
	if victim >= 0 {
		passed = (victim - sh.hand + n) % n
	} else {
		victim = sh.hand
	}
	for s := range passed {
		sh.refs[(sh.hand+s)%n] = false
	}
	sh.hand = (victim + 1) % n
	return int32(victim)
}

// removeLocked frees slot i.
func (sh *cacheShard) removeLocked(i int32) {
	delete(sh.index, sh.slots[i].hash)
	sh.slots[i], sh.refs[i] = nil, false
	sh.free = append(sh.free, i)
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}

// packEntry packs m's sections behind k's question (see cacheEntry) and
// finds the TTL of every record in them.
func packEntry(k cacheKey, m *mdns.Msg) (*cacheEntry, error) {
	p := mdns.Msg{Compress: true}
	p.Response = true
	p.Rcode = m.Rcode & 0xF
	p.AuthenticatedData = m.AuthenticatedData
	p.Question = []mdns.Question{{Name: k.name, Qtype: k.qtype, Qclass: k.qclass}}
	p.Answer = canonicalOwners(m.Answer, k.name)
	p.Ns = canonicalOwners(m.Ns, k.name)
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != mdns.TypeOPT {
			p.Extra = append(p.Extra, rr)
		}
	}
	p.Extra = canonicalOwners(p.Extra, k.name)
	wire, err := p.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack cache entry for %s: %w", k.name, err)
	}
	e := &cacheEntry{
		key:  k,
		wire: wire,
		hdr: cachedHeader{
			rcode: m.Rcode, ad: m.AuthenticatedData,
			an: uint16(len(p.Answer)), ns: uint16(len(p.Ns)), ar: uint16(len(p.Extra)),
		},
	}
	if e.sections, err = skipWireName(wire, 12); err != nil {
		return nil, fmt.Errorf("cache entry for %s: %w", k.name, err)
	}
	e.sections += 4 // qtype, qclass
	e.ttls, err = wireTTLOffsets(wire, e.sections, len(p.Answer)+len(p.Ns)+len(p.Extra))
	if err != nil {
		return nil, fmt.Errorf("cache entry for %s: %w", k.name, err)
	}
	return e, nil
}

// canonicalOwners returns rrs with every owner name equal to name (in any
// case) set to name. It copies the slice and the records it changes, and
// returns rrs itself when nothing changes.
func canonicalOwners(rrs []mdns.RR, name string) []mdns.RR {
	var out []mdns.RR
	for i, rr := range rrs {
		if h := rr.Header(); h.Name != name && strings.EqualFold(h.Name, name) {
			if out == nil {
				out = make([]mdns.RR, len(rrs))
				copy(out, rrs)
			}
			out[i] = mdns.Copy(rr)
			out[i].Header().Name = name
		}
	}
	if out == nil {
		return rrs
	}
	return out
}

// errBadWire: a packed message that does not parse; only a bug in the
// packing could cause it.
var errBadWire = errors.New("malformed packed message")

// skipWireName returns the offset just after the (possibly compressed)
// domain name at off in msg.
func skipWireName(msg []byte, off int) (int, error) {
	for off < len(msg) {
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return 0, errBadWire
			}
			return off + 2, nil
		default:
			return 0, errBadWire
		}
	}
	return 0, errBadWire
}

// wireTTLOffsets returns the offsets, from off, of the TTL fields of the n
// records that start at off in msg, which they must fill exactly.
func wireTTLOffsets(msg []byte, off, n int) ([]uint16, error) {
	ttls := make([]uint16, 0, n)
	start := off
	for range n {
		var err error
		if off, err = skipWireName(msg, off); err != nil {
			return nil, err
		}
		if off+10 > len(msg) {
			return nil, errBadWire
		}
		ttls = append(ttls, uint16(off+4-start))
		off += 10 + int(binary.BigEndian.Uint16(msg[off+8:]))
	}
	if off != len(msg) {
		return nil, errBadWire
	}
	return ttls, nil
}

// cacheTTL returns how long m may be cached, in seconds: the smallest TTL of
// a positive answer's records, or for NXDOMAIN and NODATA the smaller of the
// authority SOA's TTL and its minimum (RFC 2308 §5). Truncated replies,
// other rcodes and negative replies without an SOA are not cached.
func cacheTTL(m *mdns.Msg) (uint32, bool) {
	if m.Truncated {
		return 0, false
	}
	switch {
	case m.Rcode == mdns.RcodeSuccess && len(m.Answer) > 0:
		ttl := ^uint32(0)
		for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
			for _, rr := range sec {
				ttl = min(ttl, rr.Header().Ttl)
			}
		}
		return ttl, true
	case m.Rcode == mdns.RcodeSuccess, m.Rcode == mdns.RcodeNameError:
		for _, rr := range m.Ns {
			if soa, ok := rr.(*mdns.SOA); ok {
				return min(soa.Hdr.Ttl, soa.Minttl), true
			}
		}
	}
	return 0, false
}
