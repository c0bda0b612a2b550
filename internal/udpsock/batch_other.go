//go:build !(linux && (amd64 || arm64))

package udpsock

import (
	"fmt"
	"net"
	"net/netip"
)

// Where recvmmsg is not used, a Batch reads and writes one datagram at a
// time.

// BatchSize is the most datagrams one Read takes.
const BatchSize = 1

// Batch is one reader's buffers for one socket, allocated once. A Batch is
// not safe for concurrent use.
type Batch struct {
	conn     *net.UDPConn
	pktinfo  bool
	buf, oob []byte
	p        Packet

	reply    []byte
	replyOOB []byte
	msg      []byte
	dst      netip.Addr
	ifindex  uint32
}

// NewBatch makes the buffers for reading conn, datagrams of up to size
// bytes, and for writing replies; with pktinfo (Listen's report) each
// Packet carries its destination.
func NewBatch(conn *net.UDPConn, size int, pktinfo bool) (*Batch, error) {
	return &Batch{
		conn: conn, pktinfo: pktinfo,
		buf: make([]byte, size), oob: make([]byte, PktinfoSize),
		reply: make([]byte, 0, size), replyOOB: make([]byte, PktinfoSize),
	}, nil
}

// Read waits for a datagram and returns 1. It returns an error wrapping
// net.ErrClosed once the socket is closed.
func (b *Batch) Read() (int, error) {
	n, oobn, _, from, err := b.conn.ReadMsgUDPAddrPort(b.buf, b.oob)
	if err != nil {
		return 0, err
	}
	b.p = Packet{Data: b.buf[:n], From: from}
	if b.pktinfo {
		b.p.Dst, b.p.Ifindex = ParsePktinfo(b.oob[:oobn])
	}
	return 1, nil
}

// Packet returns the datagram read.
func (b *Batch) Packet(int) Packet { return b.p }

// ReplyBuffer returns the reply buffer, emptied, to write a reply into.
func (b *Batch) ReplyBuffer(int) []byte { return b.reply[:0] }

// Queue sets the reply msg (written into ReplyBuffer) to go to the
// datagram's sender, from dst when it is known.
func (b *Batch) Queue(_, _ int, msg []byte, dst netip.Addr, ifindex uint32) {
	b.reply = msg[:0]
	b.msg, b.dst, b.ifindex = msg, dst, ifindex
}

// Write sends the queued reply (n is 1).
func (b *Batch) Write(n int) error {
	if n == 0 {
		return nil
	}
	if _, _, err := b.conn.WriteMsgUDPAddrPort(b.msg, SetPktinfo(b.replyOOB, b.dst, b.ifindex), b.p.From); err != nil {
		return fmt.Errorf("write to %s: %w", b.p.From, err)
	}
	return nil
}
