//go:build linux && (amd64 || arm64)

package dns

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/swarmdns/swarmdns/internal/dnswire"
	"golang.org/x/sys/unix"
)

// Under load a reader takes every queued query with one recvmmsg and sends
// the fast replies with one sendmmsg: two system calls per batch instead
// of two per query. Replies leave as soon as the batch they came in with is
// answered, and a reader never waits for a batch to fill.

// batching reports whether this platform reads and writes in batches.
const batching = true

// batchSize is the most queries one recvmmsg takes.
const batchSize = 32

// mmsghdr is struct mmsghdr of the 64-bit Linux ABI.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// udpBatch holds a reader's buffers and the headers that point into them.
// Everything is allocated once; the kernel writes into it.
type udpBatch struct {
	recv  [batchSize]mmsghdr
	riov  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6 // big enough for either family
	roob  [batchSize][]byte
	bufs  [batchSize][]byte

	send  [batchSize]mmsghdr
	siov  [batchSize]unix.Iovec
	soob  [batchSize][]byte
	reply [batchSize][]byte // reply buffers, reused
}

func newUDPBatch() *udpBatch {
	b := &udpBatch{}
	for i := range batchSize {
		b.bufs[i] = make([]byte, maxQuerySize)
		b.reply[i] = make([]byte, 0, maxQuerySize)
		if pktinfoSize > 0 {
			b.roob[i] = make([]byte, pktinfoSize)
			b.soob[i] = make([]byte, pktinfoSize)
		}
		b.riov[i] = unix.Iovec{Base: &b.bufs[i][0]}
		b.riov[i].SetLen(maxQuerySize)
		b.recv[i].hdr.Iov = &b.riov[i]
		b.recv[i].hdr.SetIovlen(1)
		b.send[i].hdr.Iov = &b.siov[i]
		b.send[i].hdr.SetIovlen(1)
	}
	return b
}

// serveUDPBatches reads every queued query at once, answers them, and
// writes the fast replies at once.
func (s *Server) serveUDPBatches(conn *net.UDPConn, handlers *sync.WaitGroup) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw udp socket: %w", err)
	}
	b := newUDPBatch()
	fb := &fastBuffers{}
	var (
		replies [batchSize]fastReply
		clients [batchSize]netip.Addr
		names   [batchSize][dnswire.MaxNameLen]byte // fb.name is the next query's
		queued  int
		start   time.Time
		errs    readErrors
	)
	// flush sends the replies queued so far, then counts and logs them.
	flush := func() {
		if queued == 0 {
			return
		}
		if err := b.write(raw, queued); err != nil {
			s.qlog.Debug().Err(err).Msg("write replies")
		}
		for j := range queued {
			s.fastDone(replies[j], clients[j], start, nil)
		}
		queued = 0
	}
	for {
		n, err := b.read(raw)
		if closed := errs.after(s, err); closed {
			return nil
		} else if err != nil {
			continue
		}
		start = time.Now()
		for i := range n {
			p := b.packet(i, s.pktinfo)
			fb.out = b.replyBuffer(queued)
			r, ok := s.answerPacket(conn, p, fb, handlers, flush)
			if !ok {
				continue
			}
			b.queue(queued, i, r.msg, p.dst, p.ifindex)
			l := copy(names[queued][:], r.name)
			r.name = unsafe.String(&names[queued][0], l)
			replies[queued], clients[queued] = r, p.from.Addr().Unmap()
			queued++
		}
		flush()
	}
}

// read fills the batch with the queries queued on the socket, waiting for
// one when there are none, and returns how many it took.
func (b *udpBatch) read(raw syscall.RawConn) (int, error) {
	for i := range batchSize {
		h := &b.recv[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		if len(b.roob[i]) > 0 {
			h.Control = &b.roob[i][0]
			h.SetControllen(len(b.roob[i]))
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
		h.Flags = 0
		b.recv[i].len = 0
	}
	var n int
	var errno syscall.Errno
	err := raw.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.recv[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // wait until the socket is readable
		}
		n, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", errno)
	}
	return n, nil
}

// packet returns the i-th query read.
func (b *udpBatch) packet(i int, pktinfo bool) udpPacket {
	h := &b.recv[i]
	p := udpPacket{data: b.bufs[i][:h.len], from: sockaddrAddrPort(&b.names[i], h.hdr.Namelen)}
	if pktinfo {
		p.dst, p.ifindex = parsePktinfo(b.roob[i][:h.hdr.Controllen])
	}
	return p
}

// replyBuffer returns slot j's reply buffer, emptied.
func (b *udpBatch) replyBuffer(j int) []byte { return b.reply[j][:0] }

// queue sets slot j to send msg to the sender of query i, from dst when
// it is known.
func (b *udpBatch) queue(j, i int, msg []byte, dst netip.Addr, ifindex uint32) {
	b.reply[j] = msg[:0]
	b.siov[j] = unix.Iovec{Base: &msg[0]}
	b.siov[j].SetLen(len(msg))
	h := &b.send[j].hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Namelen = b.recv[i].hdr.Namelen
	h.Control = nil
	h.SetControllen(0)
	if oob := setPktinfo(b.soob[j], dst, ifindex); oob != nil {
		h.Control = &oob[0]
		h.SetControllen(len(oob))
	}
	h.Flags = 0
}

// write sends the first n queued replies. A reply the kernel refuses is
// skipped (its error returned at the end), so one bad destination does not
// hold back the others.
func (b *udpBatch) write(raw syscall.RawConn, n int) error {
	var firstErr error
	for sent := 0; sent < n; {
		var done int
		var errno syscall.Errno
		err := raw.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.send[sent])), uintptr(n-sent), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false // wait until the socket is writable
			}
			done, errno = int(r), e
			return true
		})
		if err != nil {
			return err
		}
		if errno != 0 {
			if firstErr == nil {
				firstErr = fmt.Errorf("sendmmsg: %w", errno)
			}
			done = 1 // the first message failed: skip it
		}
		sent += done
	}
	return firstErr
}

// sockaddrAddrPort reads an IPv4 or IPv6 socket address the kernel wrote.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		if n < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		if n < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}
		}
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10)) // link-local: the interface
		}
		return netip.AddrPortFrom(ip, port)
	}
	return netip.AddrPort{}
}
