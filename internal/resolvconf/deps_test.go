package resolvconf

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the resolv.conf reader a leaf: miekg's parser and
// the standard library only.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/swarmdns/swarmdns/", "github.com/docker/", "github.com/hashicorp/",
		"github.com/prometheus/", "github.com/rs/zerolog")
}
