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
	// Node is the local node's name (the cluster's, --node-name); the
	// per-replica name of a global Swarm task (<node>.<service>) when
	// NodeHost is empty.
	Node string
	// NodeHost is the host name of the node's engine, the per-replica
	// name of a global Swarm task (<node>.<service>): the name users type
	// (the Swarm node's hostname). <node ID>.<service> is published too.
	NodeHost string
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
// changed (Notes.Renamed) and which label entries were wrong or skipped
// (Notes.Warnings), so the caller can log them.
func RecordSetFor(c container.InspectResponse, opts NameOptions) (set registry.RecordSet, notes Notes, publish bool) {
	set, notes, reason := translate(c, opts)
	return set, notes, reason == ""
}

// Notes is what translating a container has to say about its names, split
// by who must hear it.
type Notes struct {
	// Warnings need the operator: a label value that is wrong, a name that
	// could not be published at all. They are logged at warn.
	Warnings []string
	// Renamed lists Docker's own name forms (a Swarm task's
	// "web.1.<id>", Compose v1's "proj_web_1", a generated
	// "romantic_heyrovsky") published in a DNS-valid spelling: normal,
	// logged at debug with one info summary per start.
	Renamed []string
	// Grouped are the names the container shares with the other
	// containers of its Compose service (<service>.<project>) or Swarm
	// stack service (<service>.<stack>), for the watcher to report a
	// project and a stack of the same name.
	Grouped []GroupName
}

// GroupName is a name a Compose service or a stack's service answers to.
type GroupName struct {
	FQDN string
	// Compose is true for a Compose project's name, false for a stack's.
	Compose bool
}

// translate is RecordSetFor with the reason a container is not published
// (empty when it is).
func translate(c container.InspectResponse, opts NameOptions) (registry.RecordSet, Notes, string) {
	if c.ContainerJSONBase == nil || c.State == nil {
		return registry.RecordSet{}, Notes{}, "no state in inspect response"
	}
	if !c.State.Running || c.State.Restarting {
		return registry.RecordSet{}, Notes{}, "not running"
	}
	if c.State.Paused {
		return registry.RecordSet{}, Notes{}, "paused"
	}
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	if why := hiddenBy(labels, opts); why != "" {
		return registry.RecordSet{}, Notes{}, why
	}
	if c.HostConfig != nil {
		switch mode := c.HostConfig.NetworkMode; {
		case mode.IsHost():
			return registry.RecordSet{}, Notes{}, "host network"
		case mode.IsNone():
			return registry.RecordSet{}, Notes{}, "network none"
		case mode.IsContainer():
			return registry.RecordSet{}, Notes{}, "shares the network of " + mode.ConnectedContainer()
		}
	}
	addrs := addresses(c)
	if len(addrs) == 0 {
		return registry.RecordSet{}, Notes{}, "no address"
	}

	n := newNamer(opts.Zone)
	if v, ok := labels[LabelEnable]; ok && !isTrue(v) {
		n.warnings = append(n.warnings, fmt.Sprintf("%s=%q is neither true nor false; the container is published (set %s=false to hide it)", LabelEnable, v, LabelEnable))
	}
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
		if fqdn := n.add("compose service", svc+"."+proj); fqdn != "" {
			n.grouped = append(n.grouped, GroupName{FQDN: fqdn, Compose: true})
		}
	}
	swarmNames(n, labels, opts)
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
	return set, Notes{Warnings: n.warnings, Renamed: n.renamed, Grouped: n.grouped}, ""
}

// swarmNames adds a Swarm task's names: <service>, tasks.<service>, and
// <slot>.<service> (replicated) or <node>.<service> and <node ID>.<service>
// (global); for a service of a stack, the same again under <short>.<stack>
// (the service name without the stack's prefix): <short>.<stack>,
// tasks.<short>.<stack>, <slot>.<short>.<stack> or <node>.<short>.<stack>.
// <node> is the node's host name (NameOptions.NodeHost), what users type;
// the node ID form stays because two nodes may share a host name.
func swarmNames(n *namer, labels map[string]string, opts NameOptions) {
	svc := labels[labelSwarmService]
	if svc == "" {
		return
	}
	label := dnsname.SanitizeLabel(svc)
	if label == "" {
		n.warnings = append(n.warnings, fmt.Sprintf("swarm service name %q has no usable characters; skipped", svc))
		return
	}
	bases := []string{label}
	if stack := labels[labelStack]; stack != "" && strings.HasPrefix(svc, stack+"_") {
		bases = append(bases, svc[len(stack)+1:]+"."+stack)
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
	host := cmp.Or(opts.NodeHost, opts.Node)
	nodeID := labels[labelSwarmNode]
	for i, base := range bases {
		kind := "swarm service"
		if i > 0 {
			kind = "swarm stack service"
		}
		if fqdn := n.add(kind, base); fqdn != "" && i > 0 {
			n.grouped = append(n.grouped, GroupName{FQDN: fqdn})
		}
		n.add(kind, "tasks."+base)
		switch {
		case slot != "":
			n.add("swarm task slot", slot+"."+base)
		default:
			if host != "" {
				n.add("swarm node", dnsname.SanitizeLabel(host)+"."+base)
			}
			if nodeID != "" {
				n.add("swarm node", nodeID+"."+base)
			}
		}
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

// namer collects a container's names as FQDNs in a zone, the warnings
// about the ones it had to drop or that a label spelt wrong, and the Docker
// names it had to respell.
type namer struct {
	zone     string // without the trailing dot, lower-case
	maxRel   int    // the longest relative name that fits in 253 octets
	set      map[string]struct{}
	warnings []string
	renamed  []string
	grouped  []GroupName
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

// fqdn makes raw a valid name in the zone, noting when it has to change it
// beyond case: a warning for a name from a label (the operator wrote it), a
// rename for one of Docker's own (its names allow '_' and '.').
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
		note := fmt.Sprintf("%s %q is not a valid DNS name; published as %q", kind, raw, clean)
		if kind == LabelName || kind == LabelCNAME {
			n.warnings = append(n.warnings, note)
		} else {
			n.renamed = append(n.renamed, note)
		}
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

// hiddenBy says which label hides a container from swarmdns
// (LabelEnable false, or the WatchLabel missing); "" when none does.
func hiddenBy(labels map[string]string, opts NameOptions) string {
	if v, ok := labels[LabelEnable]; ok && isFalse(v) {
		return LabelEnable + "=" + v
	}
	if opts.WatchLabel != "" && !hasLabel(labels, opts.WatchLabel) {
		return "no label " + opts.WatchLabel
	}
	return ""
}

// namesIfShown returns the names a container hidden by a label would have
// without it; nil when it would not be published anyway.
func namesIfShown(c container.InspectResponse, opts NameOptions) []string {
	if c.Config == nil {
		return nil
	}
	cfg := *c.Config
	cfg.Labels = make(map[string]string, len(c.Config.Labels))
	for k, v := range c.Config.Labels {
		if k != LabelEnable {
			cfg.Labels[k] = v
		}
	}
	c.Config = &cfg
	opts.WatchLabel = ""
	set, _, reason := translate(c, opts)
	if reason != "" {
		return nil
	}
	names := slices.Clone(set.Names)
	for _, a := range set.Aliases {
		names = append(names, a.Name)
	}
	return names
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

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
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
