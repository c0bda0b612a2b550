//go:build !(linux && (amd64 || arm64))

package dns

import (
	"net"
	"sync"
)

// batching reports whether this platform reads and writes in batches.
const batching = false

// serveUDPBatches is serveUDPEach where recvmmsg is not used.
func (s *Server) serveUDPBatches(conn *net.UDPConn, handlers *sync.WaitGroup) error {
	return s.serveUDPEach(conn, handlers)
}
