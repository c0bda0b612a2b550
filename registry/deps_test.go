package registry

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the registry, the source of truth every other
// part reads, free of Docker, memberlist, miekg and the packages that
// depend on it.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/docker/", "github.com/hashicorp/", "github.com/miekg/",
		"github.com/swarmdns/swarmdns/watcher", "github.com/swarmdns/swarmdns/gossip",
		"github.com/swarmdns/swarmdns/dns", "github.com/swarmdns/swarmdns/admin", "github.com/swarmdns/swarmdns/cmd")
}
