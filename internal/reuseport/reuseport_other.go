//go:build !linux

package reuseport

import "syscall"

// Available reports whether listeners share their address.
const Available = false

func control(_, _ string, _ syscall.RawConn) error { return nil }
