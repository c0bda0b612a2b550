package udpsock

import (
	"net"
	"testing"
)

// benchEcho runs b on a loopback socket read by a Batch: each op, a client
// sends a burst of 16 datagrams, the server side reads them with Read and
// answers each batch read with echo(batch, n, server), and the client
// reads the 16 replies. allocs/op are the socket layer's own (the client's
// writes and reads allocate nothing).
func benchEcho(b *testing.B, echo func(batch *Batch, n int, server *net.UDPConn) error) {
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
			if err := echo(batch, n, server); err != nil {
				b.Fatal(err)
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

// BenchmarkBatchEcho: the replies go out with Queue and Write.
func BenchmarkBatchEcho(b *testing.B) {
	benchEcho(b, func(batch *Batch, n int, _ *net.UDPConn) error {
		for i := range n {
			p := batch.Packet(i)
			batch.Queue(i, i, append(batch.ReplyBuffer(i), p.Data...), p.Dst, p.Ifindex)
		}
		return batch.Write(n)
	})
}
