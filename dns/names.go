package dns

import (
	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// Zone is the registry as the DNS server sees it.
//
// Snapshot returns the current immutable view of the zone. It must be safe
// for concurrent use, never block (the server calls it once per query), and
// never return nil. The server treats the snapshot and everything reachable
// from it as read-only: it copies before it shuffles or rewrites anything.
// *registry.Registry satisfies Zone.
type Zone interface {
	Snapshot() *registry.Snapshot
}

// inZone and firstLabel are dnsname's, under the names forward_scrub.go
// calls them by: that file moves with the forwarder (issue 14's next step).
func inZone(lname, origin string) bool { return dnsname.InZone(lname, origin) }

func firstLabel(lname string) (label, parent string, ok bool) { return dnsname.FirstLabel(lname) }
