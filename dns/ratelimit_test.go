package dns

import (
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestRateLimiterBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(3, 2, func() time.Time { return now })
	a, sameNet, other := mustAddr("192.0.2.1"), mustAddr("192.0.2.200"), mustAddr("198.51.100.1")

	want := []rrlAction{rrlSend, rrlSend, rrlSend, rrlDrop, rrlSlip, rrlDrop, rrlSlip}
	for i, w := range want {
		client := a
		if i%2 == 1 {
			client = sameNet // a /24 shares one bucket
		}
		if got := l.allow(client); got != w {
			t.Fatalf("answer %d: got %d; want %d", i, got, w)
		}
	}
	if got := l.allow(other); got != rrlSend {
		t.Errorf("another network: got %d; want send (buckets are per network)", got)
	}
	if got := l.allow(mustAddr("2001:db8:0:ff::1")); got != rrlSend {
		t.Errorf("IPv6 client: got %d; want send", got)
	}

	now = now.Add(time.Second) // refills three tokens
	for i := range 3 {
		if got := l.allow(a); got != rrlSend {
			t.Fatalf("after a second, answer %d: got %d; want send", i, got)
		}
	}
	if got := l.allow(a); got == rrlSend {
		t.Errorf("a fourth answer within the second was sent")
	}

	if newRateLimiter(0, 2, time.Now) != nil {
		t.Errorf("a rate of 0 must turn the limiter off")
	}
	drop := newRateLimiter(1, -1, func() time.Time { return now })
	drop.allow(a)
	for range 4 {
		if got := drop.allow(a); got != rrlDrop {
			t.Errorf("negative slip: got %d; want drop", got)
		}
	}
}

func TestRateLimiterBoundsItsMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(10, 2, func() time.Time { return now })
	for i := range 3 * rrlShards * rrlMaxPerShard {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), 1}))
	}
	for i := range l.shards {
		if n := len(l.shards[i].buckets); n > rrlMaxPerShard {
			t.Fatalf("shard %d holds %d buckets; want at most %d", i, n, rrlMaxPerShard)
		}
	}
}

// TestServerRateLimit checks the limit on the wire: over it, in-zone UDP
// answers are dropped or slipped as empty TC replies, while TCP and names
// outside the zone are not limited.
func TestServerRateLimit(t *testing.T) {
	frozen := time.Unix(1000, 0) // no refill during the test
	s := newTestServer(t, Config{RateLimit: 3, Now: func() time.Time { return frozen }})
	q := new(mdns.Msg)
	q.SetQuestion("web-1."+testZone, mdns.TypeA)
	wire := pack(t, q)

	var answered, slipped, dropped int
	for range 12 {
		raw, err := tryRawExchange("udp", s.UDPAddr(), wire, 300*time.Millisecond)
		if err != nil {
			dropped++
			continue
		}
		r := new(mdns.Msg)
		if err := r.Unpack(raw); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Truncated && len(r.Answer) == 0:
			slipped++
		case len(r.Answer) > 0:
			answered++
		default:
			t.Fatalf("unexpected reply: %v", r)
		}
	}
	// The server's readiness probe took one of the three tokens.
	if answered > 3 || slipped == 0 || dropped == 0 {
		t.Errorf("12 queries at a limit of 3/s: %d answered, %d slipped, %d dropped; want at most 3 answered and some of each other", answered, slipped, dropped)
	}
	if r := exchange(t, "tcp", s.TCPAddr(), q); len(r.Answer) == 0 {
		t.Errorf("over TCP the limit must not apply: %v", r)
	}
}
