//go:build linux && (amd64 || arm64)

package dns

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestUDPBatchRoundTrip: one read takes every queued datagram, each with
// its sender; replies queued in another order reach the right senders in
// one write, IPv4 and IPv6.
func TestUDPBatchRoundTrip(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		host := "127.0.0.1"
		if network == "udp6" {
			host = "::1"
		}
		server, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(host)})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		raw, err := server.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var clients []*net.UDPConn
		for range 3 {
			c, err := net.DialUDP(network, nil, server.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			clients = append(clients, c)
		}
		const perClient = 7
		for k := range perClient {
			for ci, c := range clients {
				if _, err := fmt.Fprintf(c, "client %d msg %d", ci, k); err != nil {
					t.Fatal(err)
				}
			}
		}
		b := newUDPBatch()
		got, reads := 0, 0
		var all []string
		for got < perClient*len(clients) {
			n, err := b.read(raw)
			if err != nil {
				t.Fatal(err)
			}
			if n < 1 || n > batchSize {
				t.Fatalf("read %d datagrams", n)
			}
			reads++
			// Reply to this batch, in reverse order, each with its own text.
			for i := range n {
				p := b.packet(i, false)
				all = append(all, string(p.data))
				if p.from.Port() == 0 || !p.from.Addr().IsLoopback() {
					t.Fatalf("datagram %d from %v", i, p.from)
				}
			}
			for j := range n {
				i := n - 1 - j
				p := b.packet(i, false)
				msg := append(b.replyBuffer(j), "re: "...)
				msg = append(msg, p.data...)
				b.queue(j, i, msg, p.dst, p.ifindex)
			}
			if err := b.write(raw, n); err != nil {
				t.Fatal(err)
			}
			got += n
		}
		if len(all) != perClient*len(clients) {
			t.Fatalf("%s: read %d datagrams; want %d", network, len(all), perClient*len(clients))
		}
		// Loopback delivers at send time: all were queued before the
		// first read, which takes them all.
		if reads != 1 {
			t.Errorf("%s: %d reads for %d queued datagrams; want 1", network, reads, len(all))
		}
		for ci, c := range clients {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			seen := map[string]bool{}
			buf := make([]byte, 100)
			for range perClient {
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("%s client %d: %v", network, ci, err)
				}
				seen[string(buf[:n])] = true
			}
			for k := range perClient {
				if want := fmt.Sprintf("re: client %d msg %d", ci, k); !seen[want] {
					t.Errorf("%s client %d: no %q among %v", network, ci, want, seen)
				}
			}
		}
	}
}
