package dnsname

import (
	"testing"

	"github.com/swarmdns/swarmdns/internal/deptest"
)

// TestDependencies keeps name syntax a leaf on the standard library, so
// that the registry (which must not import miekg) can use it.
func TestDependencies(t *testing.T) {
	deptest.Forbid(t, "github.com/")
}
