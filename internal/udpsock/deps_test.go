package udpsock

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the socket layer below DNS: no DNS library, no
// project package but reuseport, no logger or metrics.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/miekg/", "github.com/swarmdns/swarmdns/dns", "github.com/swarmdns/swarmdns/registry",
		"github.com/swarmdns/swarmdns/internal/dnswire", "github.com/docker/", "github.com/hashicorp/",
		"github.com/prometheus/", "github.com/rs/zerolog")
}
