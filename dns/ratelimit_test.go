package dns

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

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
