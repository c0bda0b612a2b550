package watcher

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// Container labels swarmdns reads.
const (
	// LabelEnable set to a false value ("false", "0", "no", "off") hides a
	// container from swarmdns.
	LabelEnable = "swarmdns.enable"
	// LabelName adds names: comma-separated, relative to the zone (a name
	// that already ends in the zone is taken as is).
	LabelName = "swarmdns.name"
	// LabelSRV names ports for SRV records: comma-separated
	// SERVICE=PORT[/PROTO] entries, PROTO tcp (the default) or udp.
	LabelSRV = "swarmdns.srv"
	// LabelCNAME asks for CNAME records (comma-separated names, relative to
	// the zone) that point to the container's primary name.
	LabelCNAME = "swarmdns.cname"
)

// Labels Docker Compose and Docker Swarm put on containers.
const (
	labelComposeProject = "com.docker.compose.project"
	labelComposeService = "com.docker.compose.service"
	labelSwarmService   = "com.docker.swarm.service.name"
	labelSwarmTaskName  = "com.docker.swarm.task.name"
	labelSwarmSlot      = "com.docker.swarm.task.slot"
	labelSwarmNode      = "com.docker.swarm.node.id"
	labelStack          = "com.docker.stack.namespace"
)

// NameOptions tells RecordSetFor which zone the names go in and which
// containers to publish.
type NameOptions struct {
	// Zone is the zone every name is put in, e.g. "swarm.internal." (a
	// trailing dot is optional; case does not matter).
	Zone string
	// Node is the local node's name, the per-replica name of a global Swarm
	// task (<node>.<service>); empty means the Swarm node ID.
	Node string
	// WatchLabel limits publishing to containers that carry the label KEY,
	// or KEY with the value VALUE ("KEY=VALUE"); empty publishes all.
	WatchLabel string
}

// RecordSetFor turns a container's inspect response into the records it
// publishes. It is pure: it reads nothing but its arguments.
//
// It returns publish false, and no records, for a container that is not
// running (or paused), that is hidden (LabelEnable false, or without the WatchLabel),
// that shares the host's, another container's or no network, or that has
// no address. Otherwise the set holds the container's names (see the
// package documentation) in opts.Zone, its IPv4 and IPv6 addresses on every
// network with the network's name and subnet, its ports, CNAMEs, image and
// health. Every name is made a valid DNS name; warnings say which names were
// changed and which label entries were skipped, so the caller can log them.
func RecordSetFor(c container.InspectResponse, opts NameOptions) (set registry.RecordSet, warnings []string, publish bool) {
	set, warnings, reason := translate(c, opts)
	return set, warnings, reason == ""
}

// translate is RecordSetFor with the reason a container is not published
// (empty when it is).
func translate(c container.InspectResponse, opts NameOptions) (registry.RecordSet, []string, string) {
	if c.ContainerJSONBase == nil || c.State == nil {
		return registry.RecordSet{}, nil, "no state in inspect response"
	}
	if !c.State.Running || c.State.Restarting {
		return registry.RecordSet{}, nil, "not running"
	}
	if c.State.Paused {
		return registry.RecordSet{}, nil, "paused"
	}
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	if v, ok := labels[LabelEnable]; ok && isFalse(v) {
		return registry.RecordSet{}, nil, LabelEnable + "=" + v
	}
	if opts.WatchLabel != "" && !hasLabel(labels, opts.WatchLabel) {
		return registry.RecordSet{}, nil, "no label " + opts.WatchLabel
	}
	if c.HostConfig != nil {
		switch mode := c.HostConfig.NetworkMode; {
		case mode.IsHost():
			return registry.RecordSet{}, nil, "host network"
		case mode.IsNone():
			return registry.RecordSet{}, nil, "network none"
		case mode.IsContainer():
			return registry.RecordSet{}, nil, "shares the network of " + mode.ConnectedContainer()
		}
	}
	addrs := addresses(c)
	if len(addrs) == 0 {
		return registry.RecordSet{}, nil, "no address"
	}

	n := newNamer(opts.Zone)
	shortID := c.ID[:min(12, len(c.ID))]
	name := strings.TrimPrefix(c.Name, "/")
	primary := n.add("container name", name)
	if primary == "" { // Docker's names start with a letter or digit, so only a broken response gets here
		primary = n.add("container ID", shortID)
	}
	if c.Config != nil && c.Config.Hostname != "" && c.Config.Hostname != shortID {
		n.add("hostname", c.Config.Hostname)
	}
	for _, net := range sortedNetworks(c) {
		ep := c.NetworkSettings.Networks[net]
		for _, a := range ep.Aliases {
			if a != shortID && a != c.ID {
				n.add("network alias", a)
			}
		}
		for _, d := range ep.DNSNames {
			if d != shortID && d != c.ID {
				n.add("DNS name", d)
			}
		}
	}
	if svc, proj := labels[labelComposeService], labels[labelComposeProject]; svc != "" && proj != "" {
		n.add("compose service", svc+"."+proj)
	}
	swarmNames(n, labels, opts.Node)
	for _, extra := range splitList(labels[LabelName]) {
		n.add(LabelName, extra)
	}

	set := registry.RecordSet{
		ContainerID: c.ID,
		Name:        primary,
		Names:       n.names(),
		Addrs:       addrs,
		Ports:       ports(c, labels, &n.warnings),
		Image:       c.Image,
	}
	if c.Config != nil && c.Config.Image != "" {
		set.Image = c.Config.Image
	}
	if c.State.Health != nil {
		set.Health = registry.ParseHealth(c.State.Health.Status)
	}
	seen := make(map[string]bool)
	for _, raw := range splitList(labels[LabelCNAME]) {
		alias := n.fqdn(LabelCNAME, raw)
		switch {
		case alias == "" || seen[alias]:
		case slices.Contains(set.Names, alias):
			// A CNAME cannot share its name with other records (RFC 1034 3.6.2).
			n.warnings = append(n.warnings, fmt.Sprintf("%s %q skipped: the container already answers to %s", LabelCNAME, raw, alias))
		default:
			seen[alias] = true
			set.Aliases = append(set.Aliases, registry.Alias{Name: alias, Target: primary})
		}
	}
	slices.SortFunc(set.Aliases, func(a, b registry.Alias) int { return strings.Compare(a.Name, b.Name) })
	return set, n.warnings, ""
}

// swarmNames adds a Swarm task's names: <service>, tasks.<service>,
// <service-without-stack>.<stack>, and <slot>.<service> (replicated) or
// <node>.<service> (global).
func swarmNames(n *namer, labels map[string]string, node string) {
	svc := labels[labelSwarmService]
	if svc == "" {
		return
	}
	label := dnsname.SanitizeLabel(svc)
	if label == "" {
		n.warnings = append(n.warnings, fmt.Sprintf("swarm service name %q has no usable characters; skipped", svc))
		return
	}
	n.add("swarm service", label)
	n.add("swarm service", "tasks."+label)
	if stack := labels[labelStack]; stack != "" && strings.HasPrefix(svc, stack+"_") {
		n.add("swarm stack service", svc[len(stack)+1:]+"."+stack)
	}
	slot := labels[labelSwarmSlot]
	if slot == "" {
		// Engines before 25 do not label the slot; the task name is
		// <service>.<slot>.<task ID> for replicated services and
		// <service>.<node ID>.<task ID> for global ones.
		if rest, ok := strings.CutPrefix(labels[labelSwarmTaskName], svc+"."); ok {
			if s, _, ok := strings.Cut(rest, "."); ok && isDigits(s) {
				slot = s
			}
		}
	}
	switch {
	case slot != "":
		n.add("swarm task slot", slot+"."+label)
	case node != "":
		n.add("swarm node", dnsname.SanitizeLabel(node)+"."+label)
	case labels[labelSwarmNode] != "":
		n.add("swarm node", labels[labelSwarmNode]+"."+label)
	}
}

// addresses returns the container's addresses on every network, ordered by
// network name and then IPv4 before IPv6.
func addresses(c container.InspectResponse) []registry.Addr {
	var out []registry.Addr
	for _, net := range sortedNetworks(c) {
		ep := c.NetworkSettings.Networks[net]
		for _, a := range []struct {
			ip   string
			bits int
		}{{ep.IPAddress, ep.IPPrefixLen}, {ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen}} {
			ip, err := netip.ParseAddr(a.ip)
			if err != nil || !ip.IsValid() || ip.IsUnspecified() {
				continue
			}
			ip = ip.Unmap()
			addr := registry.Addr{IP: ip, Network: net}
			if p, err := ip.Prefix(a.bits); err == nil && a.bits > 0 {
				addr.Subnet = p
			}
			out = append(out, addr)
		}
	}
	return out
}

func sortedNetworks(c container.InspectResponse) []string {
	if c.NetworkSettings == nil {
		return nil
	}
	nets := make([]string, 0, len(c.NetworkSettings.Networks))
	for name, ep := range c.NetworkSettings.Networks {
		if ep != nil {
			nets = append(nets, name)
		}
	}
	sort.Strings(nets)
	return nets
}

// ports returns the container's exposed and published ports (without a
// service name) and the named ports of LabelSRV, sorted and unique.
func ports(c container.InspectResponse, labels map[string]string, warnings *[]string) []registry.Port {
	var out []registry.Port
	addNat := func(p nat.Port) {
		num, err := strconv.ParseUint(p.Port(), 10, 16)
		proto := p.Proto()
		if err != nil || num == 0 || (proto != "tcp" && proto != "udp") {
			return // a range or an sctp port: nothing SRV can carry
		}
		out = append(out, registry.Port{Proto: proto, Port: uint16(num)})
	}
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			addNat(p)
		}
	}
	if c.NetworkSettings != nil {
		for p := range c.NetworkSettings.Ports {
			addNat(p)
		}
	}
	for _, entry := range splitList(labels[LabelSRV]) {
		p, err := parseSRVEntry(entry)
		if err != nil {
			*warnings = append(*warnings, fmt.Sprintf("%s entry %q skipped: %v", LabelSRV, entry, err))
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b registry.Port) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
	return slices.Compact(out)
}

// parseSRVEntry parses SERVICE=PORT[/PROTO].
func parseSRVEntry(entry string) (registry.Port, error) {
	svc, port, ok := strings.Cut(entry, "=")
	if !ok {
		return registry.Port{}, fmt.Errorf("want SERVICE=PORT[/PROTO]")
	}
	svc = strings.TrimSpace(svc)
	label := dnsname.SanitizeLabel(svc)
	if label == "" || label != strings.ToLower(svc) {
		return registry.Port{}, fmt.Errorf("service %q is not a DNS label", svc)
	}
	port, proto, hasProto := strings.Cut(strings.TrimSpace(port), "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return registry.Port{}, fmt.Errorf("protocol %q is neither tcp nor udp", proto)
	}
	num, err := strconv.ParseUint(port, 10, 16)
	if err != nil || num == 0 {
		return registry.Port{}, fmt.Errorf("port %q is not in 1-65535", port)
	}
	return registry.Port{Service: label, Proto: proto, Port: uint16(num)}, nil
}

// namer collects a container's names as FQDNs in a zone and the warnings
// about the ones it had to change or drop.
type namer struct {
	zone     string // without the trailing dot, lower-case
	maxRel   int    // the longest relative name that fits in 253 octets
	set      map[string]struct{}
	warnings []string
}

func newNamer(zone string) *namer {
	zone = strings.ToLower(strings.TrimSuffix(zone, "."))
	return &namer{zone: zone, maxRel: dnsname.MaxNameLen - len(zone) - 1, set: make(map[string]struct{})}
}

// add adds the name raw (relative to the zone) and returns its FQDN, or ""
// when nothing usable is left of it.
func (n *namer) add(kind, raw string) string {
	fqdn := n.fqdn(kind, raw)
	if fqdn != "" {
		n.set[fqdn] = struct{}{}
	}
	return fqdn
}

// fqdn makes raw a valid name in the zone, warning when it has to change it
// beyond case.
func (n *namer) fqdn(kind, raw string) string {
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(raw), "."))
	if n.zone != "" {
		if name == n.zone {
			name = ""
		} else {
			name = strings.TrimSuffix(name, "."+n.zone)
		}
	}
	clean := dnsname.SanitizeName(name, n.maxRel)
	if clean == "" {
		n.warnings = append(n.warnings, fmt.Sprintf("%s %q is not a usable DNS name; skipped", kind, raw))
		return ""
	}
	if clean != name {
		n.warnings = append(n.warnings, fmt.Sprintf("%s %q is not a valid DNS name; published as %q", kind, raw, clean))
	}
	if n.zone == "" {
		return clean + "."
	}
	zone := n.zone + "."
	fqdn := clean + "." + zone
	if alt := registry.AlternativeName(fqdn, zone); alt != fqdn {
		// The server answers that name itself (its name server, the
		// nodes, localhost): the container gets one beside it.
		if len(alt) > dnsname.MaxNameLen+1 {
			n.warnings = append(n.warnings, fmt.Sprintf("%s %q: %s is the server's own name, and no longer name fits; skipped", kind, raw, fqdn))
			return ""
		}
		n.warnings = append(n.warnings, fmt.Sprintf("%s %q: %s is the server's own name; published as %q", kind, raw, fqdn, strings.TrimSuffix(alt, "."+zone)))
		return alt
	}
	return fqdn
}

// names returns the collected FQDNs, sorted.
func (n *namer) names() []string {
	out := make([]string, 0, len(n.set))
	for name := range n.set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// splitList splits a comma-separated label value, trimming spaces and
// dropping empty entries.
func splitList(v string) []string {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// hasLabel reports whether labels satisfy a KEY or KEY=VALUE selector.
func hasLabel(labels map[string]string, selector string) bool {
	key, value, withValue := strings.Cut(selector, "=")
	v, ok := labels[key]
	return ok && (!withValue || v == value)
}

// parseWatchLabel checks a KEY or KEY=VALUE selector.
func parseWatchLabel(s string) error {
	if s == "" {
		return nil
	}
	key, _, _ := strings.Cut(s, "=")
	if key == "" || strings.TrimSpace(key) != key || strings.ContainsAny(key, " \t\n") {
		return fmt.Errorf("watch label %q: want KEY or KEY=VALUE with a non-empty KEY without spaces", s)
	}
	return nil
}

func isFalse(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "false", "0", "no", "off":
		return true
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
