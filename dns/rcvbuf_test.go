package dns

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestServerUDPReadBuffer: the UDP socket gets the large receive buffer
// (as far as net.core.rmem_max allows), so bursts near saturation are not
// dropped by the kernel (e2e TestLoadWithChurn measures the difference).
func TestServerUDPReadBuffer(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0", Store: testRegistry(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, err := s.udp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		got, sockErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || sockErr != nil {
		t.Fatalf("getsockopt SO_RCVBUF: %v %v", err, sockErr)
	}
	want := udpReadBuffer
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		if limit, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			want = min(want, limit)
		}
	}
	// Linux reports twice the size asked for (the kernel's bookkeeping).
	if got < want {
		t.Errorf("SO_RCVBUF: got %d; want at least %d (min of %d and net.core.rmem_max)", got, want, udpReadBuffer)
	}
}
