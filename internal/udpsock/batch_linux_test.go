//go:build linux && (amd64 || arm64)

package udpsock

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestBatchRoundTrip: one read takes every queued datagram, each with
// its sender; replies queued in another order reach the right senders in
// one write, IPv4 and IPv6.
func TestBatchRoundTrip(t *testing.T) {
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
		b, err := NewBatch(server, 4096, false)
		if err != nil {
			t.Fatal(err)
		}
		got, reads := 0, 0
		var all []string
		for got < perClient*len(clients) {
			n, err := b.Read()
			if err != nil {
				t.Fatal(err)
			}
			if n < 1 || n > BatchSize {
				t.Fatalf("read %d datagrams", n)
			}
			reads++
			// Reply to this batch, in reverse order, each with its own text.
			for i := range n {
				p := b.Packet(i)
				all = append(all, string(p.Data))
				if p.From.Port() == 0 || !p.From.Addr().IsLoopback() {
					t.Fatalf("datagram %d from %v", i, p.From)
				}
			}
			for j := range n {
				i := n - 1 - j
				p := b.Packet(i)
				msg := append(b.ReplyBuffer(j), "re: "...)
				msg = append(msg, p.Data...)
				b.Queue(j, i, msg, p.Dst, p.Ifindex)
			}
			if err := b.Write(n); err != nil {
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
