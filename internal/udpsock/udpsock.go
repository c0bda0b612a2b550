// Package udpsock is the server's batched UDP socket layer: it binds one
// SO_REUSEPORT socket per core on an address, asks for packet info on a
// wildcard bind (so that a reply leaves from the address its query went
// to), and reads and writes datagrams in batches (recvmmsg and sendmmsg on
// 64-bit Linux, one at a time elsewhere) into buffers allocated once. It
// knows nothing of DNS: a Packet is bytes and addresses. All of the
// module's unsafe and platform-specific UDP code is here.
package udpsock

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"

	"github.com/swarmdns/swarmdns/internal/reuseport"
)

// Packet is one datagram read from a socket.
type Packet struct {
	Data    []byte // aliases the batch's buffer: valid until the next Read
	From    netip.AddrPort
	Dst     netip.Addr // where it was sent, when the socket is a wildcard
	Ifindex uint32     // the interface it came in on (IPv6 packet info)
}

// SocketCount is how many UDP sockets share an address: one per core
// where SO_REUSEPORT spreads the clients over them, else one.
func SocketCount() int {
	if !reuseport.Available {
		return 1
	}
	return max(1, runtime.GOMAXPROCS(0))
}

// Listen binds count UDP sockets to addr (with port 0, to the port the
// first one gets), asks for receive buffers of readBuffer bytes (best
// effort: the kernel caps it) and, when addr is a wildcard, packet info.
// It reports whether replies need their source set (SetPktinfo).
func Listen(addr string, count, readBuffer int) (conns []*net.UDPConn, pktinfo bool, err error) {
	// SO_REUSEPORT for several sockets on one address, and on a fixed port
	// for the next run of the server, which binds beside this one.
	lc := net.ListenConfig{}
	if _, port, _ := net.SplitHostPort(addr); reuseport.Available && (count > 1 || port != "0") {
		lc.Control = reuseport.Control
	}
	defer func() {
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			conns = nil
		}
	}()
	for i := range count {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			return conns, false, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		conn := pc.(*net.UDPConn)
		conns = append(conns, conn)
		_ = conn.SetReadBuffer(readBuffer) // best effort: a smaller buffer still works
		if i == 0 {
			local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
			pktinfo = local.Addr().IsUnspecified()
			host, _, _ := net.SplitHostPort(addr)
			addr = net.JoinHostPort(host, strconv.Itoa(int(local.Port())))
		}
		if pktinfo {
			if err := enablePktinfo(conn); err != nil {
				return conns, false, err
			}
		}
	}
	return conns, pktinfo, nil
}
