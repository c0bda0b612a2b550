package registry

import "strings"

// Names in the zone that the DNS server answers itself, whatever the
// containers ask for: the zone's name server (the NS and SOA MNAME target),
// the nodes' names, and localhost (RFC 6761 §6.3: a client that expands
// "localhost" with its search domain must not reach a container). A
// container that asks for one of them is published under AlternativeName
// instead, and the watcher says so.
const (
	// NSLabel is the label of the zone's name server: NSName(zone) is
	// "ns.<zone>".
	NSLabel = "ns"
	// NodeLabel is the label under which every swarmdns node answers to its
	// own name: "<node>.node.<zone>".
	NodeLabel = "node"
	// LocalhostLabel is the special-use name of RFC 6761 §6.3.
	LocalhostLabel = "localhost"
	// alternativeSuffix is what AlternativeName appends to the first label.
	alternativeSuffix = "-container"
)

// NSName returns the zone's name server, "ns.<zone>", for a canonical zone.
func NSName(zone string) string { return NSLabel + "." + zone }

// NodeZone returns the name under which the nodes answer, "node.<zone>",
// for a canonical zone.
func NodeZone(zone string) string { return NodeLabel + "." + zone }

// Reserved reports whether name (canonical) is one the server answers
// itself in the canonical zone: NSName(zone), "localhost.<zone>", or
// NodeZone(zone) and every name below it.
func Reserved(name, zone string) bool {
	rel, ok := strings.CutSuffix(name, "."+zone)
	if !ok || rel == "" {
		return false
	}
	return rel == NSLabel || rel == LocalhostLabel || rel == NodeLabel || strings.HasSuffix(rel, "."+NodeLabel)
}

// AlternativeName returns the name a container that asks for the reserved
// name (canonical, in the canonical zone) is published under: the label
// that made it reserved with "-container" appended ("ns-container.<zone>",
// "web.node-container.<zone>"). A name that is not reserved is returned as
// it is.
func AlternativeName(name, zone string) string {
	if !Reserved(name, zone) {
		return name
	}
	rel := strings.TrimSuffix(name, "."+zone)
	// The reserved label is the last one of rel: ns, localhost or node,
	// all short enough for the suffix.
	return rel + alternativeSuffix + "." + zone
}
