package reuseport

import (
	"net"
	"testing"
)

func TestTwoListenersShareAPort(t *testing.T) {
	if !Available {
		t.Skip("no SO_REUSEPORT here")
	}
	a, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	addr := a.Addr().String()
	first, err := Listen("tcp", addr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer first.Close()
	second, err := Listen("tcp", addr)
	if err != nil {
		t.Fatalf("second listener on %s: %v", addr, err)
	}
	defer second.Close()
	first.Close()
	go func() {
		if c, err := second.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial after the first closed: %v", err)
	}
	c.Close()
}
