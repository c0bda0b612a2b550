package gossip

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies: gossip replicates the registry over memberlist; it
// knows nothing of Docker or of the DNS server (miekg/dns is memberlist's
// own dependency, for its DNS join, so it is not banned here).
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/docker/",
		"github.com/swarmdns/swarmdns/watcher", "github.com/swarmdns/swarmdns/dns",
		"github.com/swarmdns/swarmdns/admin", "github.com/swarmdns/swarmdns/cmd")
}
