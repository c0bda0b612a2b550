package rrl

import (
	"net/netip"
	"testing"
	"time"
)

// TestRateLimiterBuckets: a client network has its burst, then every
// slip-th answer over the limit slips and the rest drop; another network,
// an IPv6 client and a refilled bucket are sent; no rate, no limiter.
func TestRateLimiterBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(Config{PerSecond: 3, Slip: 2, Now: func() time.Time { return now }})
	a, sameNet, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("198.51.100.1")

	want := []Action{Send, Send, Send, Drop, Slip, Drop, Slip}
	for i, w := range want {
		client := a
		if i%2 == 1 {
			client = sameNet // a /24 shares one bucket
		}
		if got := l.Allow(ClientNet(client)); got != w {
			t.Fatalf("answer %d: got %d; want %d", i, got, w)
		}
	}
	if got := l.Allow(ClientNet(other)); got != Send {
		t.Errorf("another network: got %d; want send (buckets are per network)", got)
	}
	if got := l.Allow(ClientNet(netip.MustParseAddr("2001:db8:0:ff::1"))); got != Send {
		t.Errorf("IPv6 client: got %d; want send", got)
	}

	now = now.Add(time.Second) // refills three tokens
	for i := range 3 {
		if got := l.Allow(ClientNet(a)); got != Send {
			t.Fatalf("after a second, answer %d: got %d; want send", i, got)
		}
	}
	if got := l.Allow(ClientNet(a)); got == Send {
		t.Errorf("a fourth answer within the second was sent")
	}

	if New(Config{Slip: 2}) != nil {
		t.Errorf("a rate of 0 must turn the limiter off")
	}
	drop := New(Config{PerSecond: 1, Slip: -1, Now: func() time.Time { return now }})
	drop.Allow(ClientNet(a))
	for range 4 {
		if got := drop.Allow(ClientNet(a)); got != Drop {
			t.Errorf("negative slip: got %d; want drop", got)
		}
	}
}

// TestRateLimiterBoundsItsMemory: a flood from many networks keeps each
// shard within its bound.
func TestRateLimiterBoundsItsMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(Config{PerSecond: 10, Slip: 2, Now: func() time.Time { return now }})
	for i := range 3 * shardCount * maxPerShard {
		l.Allow(ClientNet(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), 1})))
	}
	for i := range l.shards {
		if n := len(l.shards[i].buckets); n > maxPerShard {
			t.Fatalf("shard %d holds %d buckets; want at most %d", i, n, maxPerShard)
		}
	}
}
