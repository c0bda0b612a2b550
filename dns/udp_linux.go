package dns

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reusePort lets several UDP sockets bind one address; the kernel spreads
// the clients over them, so each socket's reader can run on its own core.
const reusePort = true

// reusePortControl sets SO_REUSEPORT before the socket is bound.
func reusePortControl(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", serr)
	}
	return nil
}

// pktinfoSize is room for one IPv4 or IPv6 packet-info control message.
var pktinfoSize = max(syscall.CmsgSpace(syscall.SizeofInet4Pktinfo), syscall.CmsgSpace(syscall.SizeofInet6Pktinfo))

// enablePktinfo asks the kernel to report each packet's destination
// address, so that a socket bound to a wildcard address can answer from the
// address the query was sent to. A dual-stack socket takes both options;
// an IPv4 one only the first.
func enablePktinfo(conn *net.UDPConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("packet info: %w", err)
	}
	var err4, err6 error
	if err := raw.Control(func(fd uintptr) {
		err4 = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
		err6 = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVPKTINFO, 1)
	}); err != nil {
		return fmt.Errorf("packet info: %w", err)
	}
	if err4 != nil && err6 != nil {
		return fmt.Errorf("packet info: IP_PKTINFO: %w", err4)
	}
	return nil
}

// parsePktinfo finds the destination address (and, for IPv6, the
// interface) in the control messages of a received packet, without
// allocating.
func parsePktinfo(oob []byte) (dst netip.Addr, ifindex uint32) {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < syscall.SizeofCmsghdr || l > len(oob) {
			return netip.Addr{}, 0
		}
		data := oob[syscall.CmsgLen(0):l]
		switch {
		case h.Level == syscall.IPPROTO_IP && h.Type == syscall.IP_PKTINFO && len(data) >= syscall.SizeofInet4Pktinfo:
			// The local address the kernel would answer from: the
			// destination itself, unless that was a broadcast.
			info := (*syscall.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(info.Spec_dst), 0
		case h.Level == syscall.IPPROTO_IPV6 && h.Type == syscall.IPV6_PKTINFO && len(data) >= syscall.SizeofInet6Pktinfo:
			info := (*syscall.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(info.Addr).Unmap(), info.Ifindex
		}
		next := syscall.CmsgSpace(l - syscall.CmsgLen(0))
		if next > len(oob) {
			return netip.Addr{}, 0
		}
		oob = oob[next:]
	}
	return netip.Addr{}, 0
}

// setPktinfo writes into oob (pktinfoSize bytes) the control message that
// makes a reply leave from src, and returns the part to send; nil when src
// is not known.
func setPktinfo(oob []byte, src netip.Addr, ifindex uint32) []byte {
	if !src.IsValid() {
		return nil
	}
	clear(oob)
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	data := oob[syscall.CmsgLen(0):]
	if src.Is4() {
		h.Level, h.Type = syscall.IPPROTO_IP, syscall.IP_PKTINFO
		h.SetLen(syscall.CmsgLen(syscall.SizeofInet4Pktinfo))
		info := (*syscall.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
		info.Spec_dst = src.As4() // what the kernel sends from
		info.Addr = info.Spec_dst // ignored on send; set so the message reads back
		return oob[:syscall.CmsgSpace(syscall.SizeofInet4Pktinfo)]
	}
	h.Level, h.Type = syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO
	h.SetLen(syscall.CmsgLen(syscall.SizeofInet6Pktinfo))
	info := (*syscall.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
	info.Addr = src.As16()
	info.Ifindex = ifindex
	return oob[:syscall.CmsgSpace(syscall.SizeofInet6Pktinfo)]
}
