package dns

import (
	"hash/maphash"
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

// cacheEntry is one cached upstream reply. msg is never modified after it is
// stored: readers copy what they hand out.
type cacheEntry struct {
	msg     *mdns.Msg
	stored  time.Time
	expires time.Time
}

// cacheShards spreads the cache over independent locks, so that lookups on
// both cores do not queue on one mutex.
const cacheShards = 16

// cache keeps forwarded replies for as long as their TTLs allow: positive
// answers for the smallest TTL of their records, negative ones (NXDOMAIN and
// NODATA) for the SOA's minimum (RFC 2308 §5), both capped at maxTTL. It
// holds at most about size entries; when a shard is full it drops expired
// entries, then arbitrary ones.
type cache struct {
	now    func() time.Time
	maxTTL time.Duration
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
	limit   int
}

func newCache(size int, maxTTL time.Duration, now func() time.Time) *cache {
	c := &cache{now: now, maxTTL: maxTTL, seed: maphash.MakeSeed()}
	per := max(1, (size+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]cacheEntry)
		c.shards[i].limit = per
	}
	return c
}

func (c *cache) shard(k cacheKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.name)%cacheShards]
}

// get returns a copy of the cached reply for k with its TTLs lowered by the
// time it has spent in the cache, or nil.
func (c *cache) get(k cacheKey) *mdns.Msg {
	sh := c.shard(k)
	now := c.now()
	sh.mu.Lock()
	e, ok := sh.entries[k]
	if ok && !now.Before(e.expires) {
		delete(sh.entries, k)
		ok = false
	}
	sh.mu.Unlock()
	if !ok {
		return nil
	}
	age := uint32(now.Sub(e.stored) / time.Second)
	m := e.msg.Copy()
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Ttl > age {
				h.Ttl -= age
			} else {
				h.Ttl = 0
			}
		}
	}
	return m
}

// put stores m (which the cache now owns) for k if it is cacheable.
func (c *cache) put(k cacheKey, m *mdns.Msg) {
	ttl, ok := cacheTTL(m)
	if !ok {
		return
	}
	d := min(time.Duration(ttl)*time.Second, c.maxTTL)
	if d <= 0 {
		return
	}
	now := c.now()
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, exists := sh.entries[k]; !exists && len(sh.entries) >= sh.limit {
		sh.evictLocked(now)
	}
	sh.entries[k] = cacheEntry{msg: m, stored: now, expires: now.Add(d)}
}

// evictLocked makes room for one entry: expired entries go first; if there
// are none, one arbitrary entry goes (map order is random).
func (sh *cacheShard) evictLocked(now time.Time) {
	for k, e := range sh.entries {
		if !now.Before(e.expires) {
			delete(sh.entries, k)
		}
	}
	for k := range sh.entries {
		if len(sh.entries) < sh.limit {
			return
		}
		delete(sh.entries, k)
	}
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
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
