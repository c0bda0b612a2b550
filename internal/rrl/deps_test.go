package rrl

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps the limiter a leaf: it decides, and knows neither
// DNS messages nor the server, its logger or its metrics.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/swarmdns/swarmdns/", "github.com/miekg/", "github.com/docker/",
		"github.com/hashicorp/", "github.com/prometheus/", "github.com/rs/zerolog")
}
