package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestSecurityFlagsOverTheWire checks issue 8's security list against the
// real binary, from a client (the test, on 127.0.0.1) outside the allowed
// networks: names outside the zone are REFUSED without reaching the
// upstream (--allow-recursion), the zone transfer is REFUSED
// (--allow-transfer), in-zone UDP answers are rate-limited per client
// network with truncated "slips" that send the client to TCP
// (--rate-limit), TCP is not limited; and the admin API refuses to listen
// beyond loopback without a token.
func TestSecurityFlagsOverTheWire(t *testing.T) {
	up := startUpstream(t)
	const limit = 5
	n, _ := startScopedNode(t, "--upstream", up.addr, "--allow-recursion", "10.0.0.0/8", "--allow-transfer", "10.0.0.0/8",
		"--rate-limit", "5")
	server := n.DNS()

	r, err := query(server, "udp", "www.example.test.", mdns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeRefused || r.RecursionAvailable {
		t.Errorf("recursion from a client outside --allow-recursion: got %s ra=%v; want REFUSED without ra", mdns.RcodeToString[r.Rcode], r.RecursionAvailable)
	}
	if got := up.count("www.example.test."); got != 0 {
		t.Errorf("the refused question reached the upstream %d times", got)
	}

	axfr := new(mdns.Msg)
	axfr.SetAxfr(zone)
	ar, _, err := (&mdns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(axfr, server)
	if err != nil {
		t.Fatal(err)
	}
	if ar.Rcode != mdns.RcodeRefused || len(ar.Answer) != 0 {
		t.Errorf("AXFR from a client outside --allow-transfer: got %s with %d records; want REFUSED with none", mdns.RcodeToString[ar.Rcode], len(ar.Answer))
	}

	// A burst of in-zone questions over UDP, sent before any answer is read.
	conn, err := net.Dial("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const burst = 60
	for i := range burst {
		m := new(mdns.Msg)
		m.SetQuestion(zone, mdns.TypeSOA)
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	var answered, slipped int
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	for {
		k, err := conn.Read(buf)
		if err != nil {
			break // the deadline: the rest were dropped
		}
		var m mdns.Msg
		if err := m.Unpack(buf[:k]); err != nil {
			t.Fatalf("a reply does not unpack: %v", err)
		}
		switch {
		case m.Truncated && len(m.Answer) == 0:
			slipped++
		case len(m.Answer) > 0:
			answered++
		default:
			t.Errorf("unexpected reply: %v", &m)
		}
	}
	dropped := burst - answered - slipped
	t.Logf("%d in-zone questions at once, --rate-limit %d: %d answered, %d truncated (slip), %d dropped", burst, limit, answered, slipped, dropped)
	if answered > 3*limit || slipped == 0 || dropped == 0 {
		t.Errorf("rate limit %d/s: %d answered, %d slipped, %d dropped; want about %d answered and some of each other", limit, answered, slipped, dropped, limit)
	}
	if r, err := query(server, "tcp", zone, mdns.TypeSOA); err != nil || len(r.Answer) != 1 {
		t.Errorf("over TCP (not rate-limited): got %v, %v; want the SOA", r, err)
	}

	out, code := runCLI(t, "serve", "--admin-listen", "0.0.0.0:0", "--dns-listen", "127.0.0.1:0", "--gossip-listen", "",
		"--upstream", "127.0.0.1:9", "--docker-timeout", "5s", "--log-format", "json")
	if code == 0 || !strings.Contains(strings.ToLower(out), "token") {
		t.Errorf("admin API beyond loopback without a token: exit %d, %q; want a non-zero exit naming the token", code, out)
	}
	noErrorLogs(t, n)
}
