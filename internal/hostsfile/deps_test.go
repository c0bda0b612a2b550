package hostsfile

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the hosts file reader below the server: it reads
// names with dnsname's canonical form and miekg's syntax check, and knows
// neither the registry, the DNS server nor Docker, memberlist or metrics.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/swarmdns/swarmdns/dns", "github.com/swarmdns/swarmdns/registry", "github.com/swarmdns/swarmdns/watcher",
		"github.com/swarmdns/swarmdns/gossip", "github.com/swarmdns/swarmdns/admin", "github.com/swarmdns/swarmdns/cmd",
		"github.com/docker/", "github.com/hashicorp/", "github.com/prometheus/")
}
