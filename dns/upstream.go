package dns

import (
	"context"
	"fmt"
	"net"

	mdns "github.com/miekg/dns"
)

// Every query to an upstream over UDP gets a socket of its own, so that a
// forged reply has to guess a fresh random source port and a random ID
// together (RFC 5452 §10; about 30 bits with Linux's ephemeral range):
//
//   - the socket is connected, so the kernel drops packets from anywhere but
//     the upstream's address and port, and gets its source port, picked at
//     random by the kernel, when it connects;
//   - it carries that one query and is closed when its reply came, or when
//     the query times out or is canceled, so a late reply meets no socket;
//   - packets on it that are not the reply (a forgery, a stray datagram)
//     are read past (RFC 5452 §9.1) and the wait goes on.
//
// An earlier version kept sockets in a pool for up to 100 queries or 5 s:
// 300 forwarded queries then left from 3 ports. The socket, the connect and
// the close cost the cold path only (BenchmarkForwardMiss: 60 µs a miss
// with the pool, 80 µs now, scrubbing included); a cache hit never reaches
// an upstream.

// exchangeUDP sends req to upstream from a new socket and waits for the
// matching reply until ctx ends.
func exchangeUDP(ctx context.Context, upstream string, req *mdns.Msg) (*mdns.Msg, error) {
	wire, err := req.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", upstream)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", upstream, err)
	}
	defer conn.Close()
	stop := watchContext(ctx, conn)
	defer stop()
	if _, err := conn.Write(wire); err != nil {
		return nil, fmt.Errorf("send to %s: %w", upstream, ctxErr(ctx, err))
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("read from %s: %w", upstream, ctxErr(ctx, err))
		}
		m := new(mdns.Msg)
		if m.Unpack(buf[:n]) != nil || matchReply(req, m) != nil {
			continue // not our reply: keep waiting
		}
		return m, nil
	}
}
