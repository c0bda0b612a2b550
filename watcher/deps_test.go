package watcher

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies: the watcher talks to Docker and writes to the
// registry; it knows nothing of gossip or DNS.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/hashicorp/", "github.com/miekg/",
		"github.com/swarmdns/swarmdns/gossip", "github.com/swarmdns/swarmdns/dns",
		"github.com/swarmdns/swarmdns/admin", "github.com/swarmdns/swarmdns/cmd")
}
