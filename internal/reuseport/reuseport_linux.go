package reuseport

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Available reports whether listeners share their address.
const Available = true

// Control sets SO_REUSEPORT before a socket is bound: a net.ListenConfig
// Control for sockets, TCP or UDP, that share their address.
func Control(_, _ string, c syscall.RawConn) error {
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
