package udpsock

import (
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PktinfoSize is room for one IPv4 or IPv6 packet-info control message.
var PktinfoSize = max(unix.CmsgSpace(unix.SizeofInet4Pktinfo), unix.CmsgSpace(unix.SizeofInet6Pktinfo))

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
		err4 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		err6 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
	}); err != nil {
		return fmt.Errorf("packet info: %w", err)
	}
	if err4 != nil && err6 != nil {
		return fmt.Errorf("packet info: IP_PKTINFO: %w", err4)
	}
	return nil
}

// ParsePktinfo finds the destination address (and, for IPv6, the
// interface) in the control messages of a received packet, without
// allocating; none when oob holds no well-formed packet info.
func ParsePktinfo(oob []byte) (dst netip.Addr, ifindex uint32) {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return netip.Addr{}, 0
		}
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// The local address the kernel would answer from: the
			// destination itself, unless that was a broadcast.
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(info.Spec_dst), 0
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(info.Addr).Unmap(), info.Ifindex
		}
		oob = rest
	}
	return netip.Addr{}, 0
}

// SetPktinfo writes into oob (PktinfoSize bytes) the control message that
// makes a reply leave from src, and returns the part to send; nil when src
// is not known.
func SetPktinfo(oob []byte, src netip.Addr, ifindex uint32) []byte {
	if !src.IsValid() {
		return nil
	}
	clear(oob)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	data := oob[unix.CmsgLen(0):]
	if src.Is4() {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
		info.Spec_dst = src.As4() // what the kernel sends from
		info.Addr = info.Spec_dst // ignored on send; set so the message reads back
		return oob[:unix.CmsgSpace(unix.SizeofInet4Pktinfo)]
	}
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
	info.Addr = src.As16()
	info.Ifindex = ifindex
	return oob[:unix.CmsgSpace(unix.SizeofInet6Pktinfo)]
}
