package udpsock

import (
	"net"
	"testing"
)

// BenchmarkBatchEcho: one client sends a burst of 16 datagrams; the server
// side takes them with Read and echoes them with Queue and Write. Per op:
// one burst, the client's sends and reads included. allocs/op are the
// socket layer's own (the client's writes and reads allocate nothing).
func BenchmarkBatchEcho(b *testing.B) {
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
			for i := range n {
				p := batch.Packet(i)
				reply := append(batch.ReplyBuffer(i), p.Data...)
				batch.Queue(i, i, reply, p.Dst, p.Ifindex)
			}
			if err := batch.Write(n); err != nil {
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
