// Package deptest checks, in a package's own tests, that the package does
// not depend on what its job says it must not: the layering written in
// the README (watcher, gossip and dns depend on registry, not on each
// other; registry on none of Docker, memberlist or miekg) as a test that
// fails when an import breaks it. Its own test keeps docs/design.md's layout
// table (every package, its job, its project imports) in step with the
// code.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// Forbid fails t for every package that the package in the current
// directory depends on, directly or not, whose import path starts with one
// of banned. The package itself is not its own dependency, so a leaf can
// ban the whole module's prefix.
func Forbid(t *testing.T, banned ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	self := deps[len(deps)-1] // go list -deps prints the package last
	for _, dep := range deps[:len(deps)-1] {
		for _, b := range banned {
			if strings.HasPrefix(dep, b) {
				t.Errorf("%s depends on %s", self, dep)
			}
		}
	}
}
