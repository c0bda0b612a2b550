//go:build !linux

package dns

import (
	"net"
	"net/netip"
	"syscall"
)

// Outside Linux the server reads from one UDP socket and replies from the
// system's choice of source address.

const reusePort = false

func reusePortControl(_, _ string, _ syscall.RawConn) error { return nil }

var pktinfoSize = 0

func enablePktinfo(*net.UDPConn) error { return nil }

func parsePktinfo([]byte) (netip.Addr, uint32) { return netip.Addr{}, 0 }

func setPktinfo([]byte, netip.Addr, uint32) []byte { return nil }
