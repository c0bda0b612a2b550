package dns

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the DNS server free of Docker and memberlist: it
// reads the registry only.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/docker/", "github.com/hashicorp/memberlist",
		"github.com/swarmdns/swarmdns/watcher", "github.com/swarmdns/swarmdns/gossip",
		"github.com/swarmdns/swarmdns/admin", "github.com/swarmdns/swarmdns/cmd")
}
