//go:build !linux

package udpsock

import (
	"net"
	"net/netip"
)

// Outside Linux a socket has no packet info: replies leave from the
// system's choice of source address.

// PktinfoSize is 0: there is no packet-info control message.
var PktinfoSize = 0

func enablePktinfo(*net.UDPConn) error { return nil }

// ParsePktinfo finds nothing.
func ParsePktinfo([]byte) (netip.Addr, uint32) { return netip.Addr{}, 0 }

// SetPktinfo returns nil: the system picks the source.
func SetPktinfo([]byte, netip.Addr, uint32) []byte { return nil }
