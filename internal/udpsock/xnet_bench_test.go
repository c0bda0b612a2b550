//go:build linux && (amd64 || arm64)

package udpsock

import (
	"net"
	"testing"

	"golang.org/x/net/ipv4"
)

// BenchmarkBatchEchoXNetWrite is BenchmarkBatchEcho with the replies sent
// by golang.org/x/net's ipv4.PacketConn.WriteBatch instead of Batch.Write:
// the side-by-side comparison that kept Batch.Write (it takes less CPU).
// Each slot's *net.UDPAddr is made once and refilled, so the difference is
// x/net's own.
func BenchmarkBatchEchoXNetWrite(b *testing.B) {
	var pc *ipv4.PacketConn
	msgs := make([]ipv4.Message, BatchSize)
	addrs := make([]net.UDPAddr, BatchSize)
	for i := range msgs {
		addrs[i].IP = make(net.IP, 4, 16)
		msgs[i].Buffers = make([][]byte, 1)
		msgs[i].Addr = &addrs[i]
	}
	benchEcho(b, func(batch *Batch, n int, server *net.UDPConn) error {
		if pc == nil {
			pc = ipv4.NewPacketConn(server)
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
				return err
			}
			sent += k
		}
		return nil
	})
}
