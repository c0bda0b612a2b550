//go:build !linux

package reuseport

import "syscall"

// Available reports whether listeners share their address.
const Available = false

// Control does nothing: there is no SO_REUSEPORT.
func Control(_, _ string, _ syscall.RawConn) error { return nil }
