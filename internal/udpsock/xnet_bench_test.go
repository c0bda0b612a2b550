//go:build linux && (amd64 || arm64)

package udpsock

import (
	"net"
	"testing"

	"golang.org/x/net/ipv4"
)

// BenchmarkBatchEchoXNetWrite is BenchmarkBatchEcho with the replies sent
// by golang.org/x/net's ipv4.PacketConn.WriteBatch instead of Batch.Write:
// the comparison that kept Batch.Write (see /work/notes/14.md and
// bench/peers/README.md). Each slot's *net.UDPAddr is made once and
// refilled, so the difference is x/net's own.
func BenchmarkBatchEchoXNetWrite(b *testing.B) {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	client, err := net.DialUDP("udp4", nil, server.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	batch, err := NewBatch(server, 512, false)
	if err != nil {
		b.Fatal(err)
	}
	pc := ipv4.NewPacketConn(server)
	msgs := make([]ipv4.Message, BatchSize)
	addrs := make([]net.UDPAddr, BatchSize)
	for i := range msgs {
		addrs[i].IP = make(net.IP, 4, 16)
		msgs[i].Buffers = make([][]byte, 1)
		msgs[i].Addr = &addrs[i]
	}
	const burst = 16
	msg := make([]byte, 40)
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		for range burst {
			if _, err := client.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		for got := 0; got < burst; {
			n, err := batch.Read()
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				p := batch.Packet(i)
				msgs[i].Buffers[0] = append(batch.ReplyBuffer(i), p.Data...)
				a4 := p.From.Addr().As4()
				addrs[i].IP = append(addrs[i].IP[:0], a4[:]...)
				addrs[i].Port = int(p.From.Port())
			}
			for sent := 0; sent < n; {
				k, err := pc.WriteBatch(msgs[sent:n], 0)
				if err != nil {
					b.Fatal(err)
				}
				sent += k
			}
			got += n
		}
		for range burst {
			if _, err := client.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
