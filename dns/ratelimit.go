package dns

import (
	"hash/maphash"

	mdns "github.com/miekg/dns"
	"net/netip"
	"sync"
	"time"
)

// Response-rate limiting (RRL), after BIND's: a bound on the in-zone UDP
// answers sent to one client network per second, so that the server cannot
// be used to amplify a flood at a spoofed address. Over the limit, every
// slip-th answer goes out as an empty truncated reply (TC=1), which a real
// client retries over TCP (where the source cannot be spoofed and no limit
// applies); the others are dropped.

// rrlAction is what the limiter decides for one answer.
type rrlAction uint8

const (
	rrlSend rrlAction = iota // within the limit
	rrlSlip                  // over it: send an empty reply with TC=1
	rrlDrop                  // over it: send nothing
)

// rrlShards spreads the buckets over locks so that clients do not contend.
const rrlShards = 64

// rrlMaxPerShard bounds the buckets a shard keeps; beyond it, idle buckets
// are swept, and if none are idle the shard starts over (a flood from many
// sources then meets fresh, full buckets, which is the safe side).
const rrlMaxPerShard = 4096

// rateLimiter is a token bucket per client network (IPv4 /24, IPv6 /56).
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64 // bucket size
	slip  uint32  // every slip-th limited answer is a TC reply; 0 drops all
	now   func() time.Time
	seed  maphash.Seed

	shards [rrlShards]rrlShard
}

type rrlShard struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*rrlBucket
}

type rrlBucket struct {
	tokens  float64
	last    time.Time
	limited uint32 // answers limited since the bucket last had tokens
}

// newRateLimiter limits each client network to perSecond answers a second,
// with a burst of the same size. A perSecond of 0 or less disables it (nil).
func newRateLimiter(perSecond int, slip int, now func() time.Time) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	l := &rateLimiter{rate: float64(perSecond), burst: float64(perSecond), slip: uint32(max(slip, 0)), now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[netip.Prefix]*rrlBucket)
	}
	return l
}

// clientNet is the network a client address is counted under.
func clientNet(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 56
	}
	p, _ := a.Prefix(bits)
	return p
}

// allow takes a token for one answer to client and says what to send.
func (l *rateLimiter) allow(client netip.Addr) rrlAction {
	return l.allowKey(clientNet(client))
}

// allowKey is allow for the bucket key (a client network, or the /32 or
// /128 of a client container's first address).
func (l *rateLimiter) allowKey(key netip.Prefix) rrlAction {
	var h maphash.Hash
	h.SetSeed(l.seed)
	b := key.Addr().As16()
	_, _ = h.Write(b[:])
	sh := &l.shards[h.Sum64()%rrlShards]
	now := l.now()

	sh.mu.Lock()
	defer sh.mu.Unlock()
	bk, ok := sh.buckets[key]
	if !ok {
		if len(sh.buckets) >= rrlMaxPerShard {
			sh.sweep(now, l.burst/l.rate)
		}
		bk = &rrlBucket{tokens: l.burst, last: now}
		sh.buckets[key] = bk
	}
	if elapsed := now.Sub(bk.last).Seconds(); elapsed > 0 {
		bk.tokens = min(l.burst, bk.tokens+elapsed*l.rate)
		bk.last = now
	}
	if bk.tokens >= 1 {
		bk.tokens--
		bk.limited = 0
		return rrlSend
	}
	bk.limited++
	if l.slip > 0 && bk.limited%l.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// sweep drops the buckets that have been idle long enough to be full again.
func (sh *rrlShard) sweep(now time.Time, refill float64) {
	for k, b := range sh.buckets {
		if now.Sub(b.last).Seconds() >= refill {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) >= rrlMaxPerShard {
		clear(sh.buckets)
	}
}

// slipReply turns the reply resp to req into the empty truncated reply sent
// in place of an answer over the rate limit: the header and the question,
// TC=1, and the OPT if resp had one.
func (s *Server) slipReply(req, resp *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = resp.Authoritative
	m.RecursionAvailable = resp.RecursionAvailable
	m.Rcode = resp.Rcode
	m.Truncated = true
	if opt := resp.IsEdns0(); opt != nil {
		m.Extra = append(m.Extra, opt)
	}
	return m
}
