package dnswire

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the wire codec a leaf: bytes in, bytes out, with
// miekg's constants only; no project package, logger, metrics, Docker or
// memberlist.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/swarmdns/swarmdns/", "github.com/docker/", "github.com/hashicorp/",
		"github.com/prometheus/", "github.com/rs/zerolog")
}
