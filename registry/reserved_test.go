package registry

import "testing"

func TestReservedNames(t *testing.T) {
	const zone = "swarm.internal."
	cases := []struct {
		name     string
		reserved bool
		alt      string
	}{
		{"ns.swarm.internal.", true, "ns-container.swarm.internal."},
		{"localhost.swarm.internal.", true, "localhost-container.swarm.internal."},
		{"node.swarm.internal.", true, "node-container.swarm.internal."},
		{"web.node.swarm.internal.", true, "web.node-container.swarm.internal."},
		{"a.b.node.swarm.internal.", true, "a.b.node-container.swarm.internal."},
		{"ns-container.swarm.internal.", false, "ns-container.swarm.internal."},
		{"web.swarm.internal.", false, "web.swarm.internal."},
		{"ns.web.swarm.internal.", false, "ns.web.swarm.internal."},
		{"node.web.swarm.internal.", false, "node.web.swarm.internal."},
		{"swarm.internal.", false, "swarm.internal."},
		{"ns.other.", false, "ns.other."},
		{"xns.swarm.internal.", false, "xns.swarm.internal."},
	}
	for _, c := range cases {
		if got := Reserved(c.name, zone); got != c.reserved {
			t.Errorf("Reserved(%q) = %v, want %v", c.name, got, c.reserved)
		}
		alt := AlternativeName(c.name, zone)
		if alt != c.alt {
			t.Errorf("AlternativeName(%q) = %q, want %q", c.name, alt, c.alt)
		}
		if Reserved(alt, zone) {
			t.Errorf("AlternativeName(%q) = %q is reserved itself", c.name, alt)
		}
	}
	if NSName(zone) != "ns.swarm.internal." || NodeZone(zone) != "node.swarm.internal." {
		t.Errorf("NSName, NodeZone = %q, %q", NSName(zone), NodeZone(zone))
	}
}
