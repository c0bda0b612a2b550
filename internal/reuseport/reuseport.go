// Package reuseport binds TCP listeners with SO_REUSEPORT where the
// platform has it (and gives its Control to bind UDP sockets alike), so that the next run of a server can bind its address
// while this one still runs (a start-first update of a sidecar on the host
// network), and the kernel spreads new connections over both until this
// one closes.
package reuseport

import (
	"context"
	"net"
)

// Listen is net.Listen with SO_REUSEPORT set before the bind (on a
// platform without it, plain net.Listen). Port 0 never shares: the kernel
// picks a free port.
func Listen(network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "0" {
		lc.Control = Control
	}
	return lc.Listen(context.Background(), network, addr)
}
