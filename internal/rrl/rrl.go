// Package rrl is response-rate limiting (RRL), after BIND's: a bound on
// the answers sent to one client (a network, or one container's address)
// per second, so that a server cannot be used to amplify a flood at a
// spoofed address. Over the limit, every slip-th answer is to go out as an
// empty truncated reply (TC=1), which a real client retries over TCP
// (where the source cannot be spoofed); the others are dropped. The
// limiter only decides (an Action); the caller builds and sends the reply.
package rrl

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Action is what the limiter decides for one answer.
type Action uint8

const (
	Send Action = iota // within the limit
	Slip               // over it: send an empty reply with TC=1
	Drop               // over it: send nothing
)

// shardCount spreads the buckets over locks so that clients do not contend.
const shardCount = 64

// maxPerShard bounds the buckets a shard keeps; beyond it, idle buckets
// are swept, and if none are idle the shard starts over (a flood from many
// sources then meets fresh, full buckets, which is the safe side).
const maxPerShard = 4096

// Limiter is a token bucket per key (a client network: IPv4 /24, IPv6
// /56, or a client container's address).
type Limiter struct {
	rate  float64 // tokens per second
	burst float64 // bucket size
	slip  uint32  // every slip-th limited answer is a TC reply; 0 drops all
	now   func() time.Time
	seed  maphash.Seed

	shards [shardCount]shard
}

// Config is a limiter's settings.
type Config struct {
	// PerSecond is the answers a client may have each second, and its
	// burst; 0 or less turns limiting off.
	PerSecond int
	// Slip makes every Slip-th answer over the limit a Slip action; 0 or
	// less drops them all.
	Slip int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

type shard struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited uint32 // answers limited since the bucket last had tokens
}

// New makes a limiter of cfg.PerSecond answers a second per key, with a
// burst of the same size; nil (no limiter) when cfg.PerSecond is 0 or
// less.
func New(cfg Config) *Limiter {
	if cfg.PerSecond <= 0 {
		return nil
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	l := &Limiter{rate: float64(cfg.PerSecond), burst: float64(cfg.PerSecond), slip: uint32(max(cfg.Slip, 0)), now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[netip.Prefix]*bucket)
	}
	return l
}

// ClientNet is the network a client address is counted under: its IPv4
// /24 or IPv6 /56.
func ClientNet(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 56
	}
	p, _ := a.Prefix(bits)
	return p
}

// Allow takes a token for one answer to the client counted under key (its
// network, ClientNet, or the /32 or /128 of a client container's first
// address) and says what to send. It is safe for concurrent use.
func (l *Limiter) Allow(key netip.Prefix) Action {
	var h maphash.Hash
	h.SetSeed(l.seed)
	b := key.Addr().As16()
	_, _ = h.Write(b[:])
	sh := &l.shards[h.Sum64()%shardCount]
	now := l.now()

	sh.mu.Lock()
	defer sh.mu.Unlock()
	bk, ok := sh.buckets[key]
	if !ok {
		if len(sh.buckets) >= maxPerShard {
			sh.sweep(now, l.burst/l.rate)
		}
		bk = &bucket{tokens: l.burst, last: now}
		sh.buckets[key] = bk
	}
	if elapsed := now.Sub(bk.last).Seconds(); elapsed > 0 {
		bk.tokens = min(l.burst, bk.tokens+elapsed*l.rate)
		bk.last = now
	}
	if bk.tokens >= 1 {
		bk.tokens--
		bk.limited = 0
		return Send
	}
	bk.limited++
	if l.slip > 0 && bk.limited%l.slip == 0 {
		return Slip
	}
	return Drop
}

// sweep drops the buckets that have been idle long enough to be full again.
func (sh *shard) sweep(now time.Time, refill float64) {
	for k, b := range sh.buckets {
		if now.Sub(b.last).Seconds() >= refill {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) >= maxPerShard {
		clear(sh.buckets)
	}
}
