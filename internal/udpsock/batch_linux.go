//go:build linux && (amd64 || arm64)

package udpsock

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Under load a reader takes every queued datagram with one recvmmsg and
// sends the replies with one sendmmsg: two system calls per batch instead
// of two per datagram. A read never waits for a batch to fill.

// BatchSize is the most datagrams one Read takes.
const BatchSize = 32

// mmsghdr is struct mmsghdr of the 64-bit Linux ABI.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// Batch is one reader's buffers and the headers that point into them, for
// one socket. Everything is allocated once; the kernel writes into it. A
// Batch is not safe for concurrent use.
type Batch struct {
	raw     syscall.RawConn
	pktinfo bool

	// The system calls, as method values bound once (NewBatch): a closure
	// made per call would escape to the heap with the results it sets,
	// several allocations a call. Their arguments and results are fields.
	recvmmsgFn, sendmmsgFn func(fd uintptr) bool
	got, from, count       int
	errno                  syscall.Errno

	recv  [BatchSize]mmsghdr
	riov  [BatchSize]unix.Iovec
	names [BatchSize]unix.RawSockaddrInet6 // big enough for either family
	roob  [BatchSize][]byte
	bufs  [BatchSize][]byte

	send  [BatchSize]mmsghdr
	siov  [BatchSize]unix.Iovec
	soob  [BatchSize][]byte
	reply [BatchSize][]byte // reply buffers, reused
}

// NewBatch makes the buffers for reading conn, datagrams of up to size
// bytes, and for writing replies; with pktinfo (Listen's report) each
// Packet carries its destination.
func NewBatch(conn *net.UDPConn, size int, pktinfo bool) (*Batch, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw udp socket: %w", err)
	}
	b := &Batch{raw: raw, pktinfo: pktinfo}
	b.recvmmsgFn, b.sendmmsgFn = b.recvmmsg, b.sendmmsg
	for i := range BatchSize {
		b.bufs[i] = make([]byte, size)
		b.reply[i] = make([]byte, 0, size)
		if PktinfoSize > 0 {
			b.roob[i] = make([]byte, PktinfoSize)
			b.soob[i] = make([]byte, PktinfoSize)
		}
		b.riov[i] = unix.Iovec{Base: &b.bufs[i][0]}
		b.riov[i].SetLen(size)
		b.recv[i].hdr.Iov = &b.riov[i]
		b.recv[i].hdr.SetIovlen(1)
		b.send[i].hdr.Iov = &b.siov[i]
		b.send[i].hdr.SetIovlen(1)
	}
	return b, nil
}

// Read fills the batch with the datagrams queued on the socket, waiting
// for one when there are none, and returns how many it took. It returns an
// error wrapping net.ErrClosed once the socket is closed.
func (b *Batch) Read() (int, error) {
	for i := range BatchSize {
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
	b.got, b.errno = 0, 0
	if err := b.raw.Read(b.recvmmsgFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", b.errno)
	}
	return b.got, nil
}

// recvmmsg is Read's system call, for RawConn.Read: it reports false (wait
// until the socket is readable) when nothing is queued.
func (b *Batch) recvmmsg(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.recv[0])), BatchSize, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	b.got, b.errno = int(r), e
	return true
}

// Packet returns the i-th datagram read.
func (b *Batch) Packet(i int) Packet {
	h := &b.recv[i]
	p := Packet{Data: b.bufs[i][:h.len], From: sockaddrAddrPort(&b.names[i], h.hdr.Namelen)}
	if b.pktinfo {
		p.Dst, p.Ifindex = ParsePktinfo(b.roob[i][:h.hdr.Controllen])
	}
	return p
}

// ReplyBuffer returns slot j's reply buffer, emptied, to write a reply
// into.
func (b *Batch) ReplyBuffer(j int) []byte { return b.reply[j][:0] }

// Queue sets slot j to send msg (written into ReplyBuffer(j)) to the sender
// of datagram i, from dst when it is known.
func (b *Batch) Queue(j, i int, msg []byte, dst netip.Addr, ifindex uint32) {
	b.reply[j] = msg[:0]
	b.siov[j] = unix.Iovec{Base: &msg[0]}
	b.siov[j].SetLen(len(msg))
	h := &b.send[j].hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Namelen = b.recv[i].hdr.Namelen
	h.Control = nil
	h.SetControllen(0)
	if oob := SetPktinfo(b.soob[j], dst, ifindex); oob != nil {
		h.Control = &oob[0]
		h.SetControllen(len(oob))
	}
	h.Flags = 0
}

// Write sends the first n queued replies. A reply the kernel refuses is
// skipped (its error returned at the end), so one bad destination does not
// hold back the others.
func (b *Batch) Write(n int) error {
	var firstErr error
	for sent := 0; sent < n; {
		b.from, b.count, b.got, b.errno = sent, n-sent, 0, 0
		if err := b.raw.Write(b.sendmmsgFn); err != nil {
			return err
		}
		done := b.got
		if b.errno != 0 {
			if firstErr == nil {
				firstErr = fmt.Errorf("sendmmsg: %w", b.errno)
			}
			done = 1 // the first message failed: skip it
		}
		sent += done
	}
	return firstErr
}

// sendmmsg is Write's system call for the count replies from slot from,
// for RawConn.Write: it reports false (wait until the socket is writable)
// when the socket's buffer is full.
func (b *Batch) sendmmsg(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.send[b.from])), uintptr(b.count), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	b.got, b.errno = int(r), e
	return true
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
