package registry

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/swarmdns/swarmdns/internal/dnsname"
)

// Health is a container's Docker healthcheck state.
type Health uint8

// Health states, in the order Docker reports them.
const (
	// HealthNone means the container has no healthcheck.
	HealthNone Health = iota
	// HealthStarting means the healthcheck has not passed yet.
	HealthStarting
	// HealthHealthy means the last healthcheck passed.
	HealthHealthy
	// HealthUnhealthy means the healthcheck failed.
	HealthUnhealthy
)

// String returns Docker's word for the state ("none" for no healthcheck).
func (h Health) String() string {
	switch h {
	case HealthStarting:
		return "starting"
	case HealthHealthy:
		return "healthy"
	case HealthUnhealthy:
		return "unhealthy"
	default:
		return "none"
	}
}

// ParseHealth maps Docker's health status words to a Health.
func ParseHealth(s string) Health {
	switch strings.ToLower(s) {
	case "starting":
		return HealthStarting
	case "healthy":
		return HealthHealthy
	case "unhealthy":
		return HealthUnhealthy
	default:
		return HealthNone
	}
}

// Serving reports whether a container in this state should be given out in
// answers (no healthcheck, or a passing one).
func (h Health) Serving() bool { return h == HealthNone || h == HealthHealthy }

// Addr is one address of a container on one network.
type Addr struct {
	// IP is the container's address on the network (IPv4 or IPv6, unmapped).
	IP netip.Addr
	// Network is the Docker network's name.
	Network string
	// Subnet is the network's subnet that holds IP, when known; DNS uses it to
	// answer a client with the address on the network they share.
	Subnet netip.Prefix
}

// Port is a service port of a container, the source of SRV records.
type Port struct {
	// Service is the SRV service label without its underscore ("http");
	// empty for a port taken from the container's exposed or published ports,
	// whose SRV name then uses the number itself.
	Service string
	// Proto is "tcp" or "udp".
	Proto string
	// Port is the port number.
	Port uint16
}

// Alias is a CNAME record: Name points to Target (both FQDNs).
type Alias struct {
	Name   string
	Target string
}

// RecordSet is everything one container publishes: the names it answers to
// and its addresses. It belongs to one node and one container.
//
// A RecordSet held by a Snapshot or handed out by the registry is shared and
// must not be modified; Clone it first.
type RecordSet struct {
	// Node is the name of the swarmdns node that owns the set (set by the
	// registry on write).
	Node string
	// ContainerID is the Docker container ID.
	ContainerID string
	// Name is the container's primary FQDN: the target of its SRV records and
	// the answer to PTR queries for its addresses. It is also in Names.
	Name string
	// Names are every FQDN the container answers to, lower-case with a
	// trailing dot, sorted and without duplicates.
	Names []string
	// Addrs are the container's addresses, one per network and family.
	Addrs []Addr
	// Health is the container's healthcheck state.
	Health Health
	// Ports are the container's service ports (for SRV).
	Ports []Port
	// Aliases are CNAME records the container asks for.
	Aliases []Alias
	// Image is the container's image reference (for TXT).
	Image string
	// Version is the owner node's change counter at the set's last change
	// (set by the registry for local sets; carried by gossip for remote ones).
	Version uint64
}

// Clone returns a deep copy of s.
func (s RecordSet) Clone() RecordSet {
	s.Names = slices.Clone(s.Names)
	s.Addrs = slices.Clone(s.Addrs)
	s.Ports = slices.Clone(s.Ports)
	s.Aliases = slices.Clone(s.Aliases)
	return s
}

// sameContent reports whether a and b publish the same records, ignoring the
// owner and version bookkeeping.
func sameContent(a, b RecordSet) bool {
	return a.ContainerID == b.ContainerID && a.Name == b.Name && a.Health == b.Health && a.Image == b.Image &&
		slices.Equal(a.Names, b.Names) && slices.Equal(a.Addrs, b.Addrs) &&
		slices.Equal(a.Ports, b.Ports) && slices.Equal(a.Aliases, b.Aliases)
}

// normalize puts s in canonical form, so that the same content always
// compares equal whatever order the caller built it in: names lower-case
// FQDNs, sorted and unique, the primary name among them; addresses valid,
// unmapped, without zone, subnets masked, sorted and unique; ports and
// aliases sorted and unique, aliases with both ends set. s must own its
// slices (Clone first).
func (s *RecordSet) normalize() {
	s.Name = CanonicalName(s.Name)
	if !namesNormal(s.Names, s.Name) {
		s.normalizeNames()
	}

	addrs := s.Addrs[:0]
	for _, a := range s.Addrs {
		if !a.IP.IsValid() {
			continue
		}
		a.IP = a.IP.Unmap().WithZone("")
		a.Subnet = a.Subnet.Masked()
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b Addr) int {
		return cmp.Or(a.IP.Compare(b.IP), strings.Compare(a.Network, b.Network), a.Subnet.Compare(b.Subnet))
	})
	s.Addrs = slices.Compact(addrs)

	slices.SortFunc(s.Ports, func(a, b Port) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(a.Proto, b.Proto), strings.Compare(a.Service, b.Service))
	})
	s.Ports = slices.Compact(s.Ports)

	aliases := s.Aliases[:0]
	for _, a := range s.Aliases {
		a.Name, a.Target = CanonicalName(a.Name), CanonicalName(a.Target)
		if a.Name != "" && a.Target != "" {
			aliases = append(aliases, a)
		}
	}
	slices.SortFunc(aliases, func(a, b Alias) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Target, b.Target))
	})
	s.Aliases = slices.Compact(aliases)
}

// namesNormal reports whether names is already canonical, sorted, without
// duplicates and holds name (if not empty), so that normalize can keep it
// as it is: a set merged from gossip or normalized before usually is.
func namesNormal(names []string, name string) bool {
	found := name == ""
	for i, n := range names {
		if n == "" || CanonicalName(n) != n || i > 0 && names[i-1] >= n {
			return false
		}
		found = found || n == name
	}
	return found
}

// normalizeNames makes s.Names canonical, sorted and unique, with s.Name
// (already canonical) among them, in a new slice of its exact size.
func (s *RecordSet) normalizeNames() {
	// Built on the stack when small, then kept at its exact size: a set
	// usually has one name, and a slice of capacity two for it would cost
	// 16 bytes per set.
	var buf [8]string
	names := buf[:0]
	for _, n := range s.Names {
		if n = CanonicalName(n); n != "" {
			names = append(names, n)
		}
	}
	if s.Name != "" {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	s.Names = nil
	if len(names) > 0 {
		s.Names = slices.Clone(names)
	}
}

// CanonicalName returns name in the form the registry keeps names in
// (dnsname.CanonicalName: ASCII lower case, one trailing dot; "" stays "").
func CanonicalName(name string) string { return dnsname.CanonicalName(name) }
