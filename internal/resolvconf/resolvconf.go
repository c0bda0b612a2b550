// Package resolvconf reads the upstream resolvers of a resolv.conf file
// (miekg's parser) and leaves out the ones that would reach this server
// itself, so that it never forwards to itself.
package resolvconf

import (
	"fmt"
	"net"
	"net/netip"

	mdns "github.com/miekg/dns"
)

// dockerEmbeddedDNS is the address of Docker's embedded resolver inside a
// container on a user-defined network. It is reached through a DNAT rule to
// another port, so it is never this server even when we listen on :53.
var dockerEmbeddedDNS = netip.MustParseAddr("127.0.0.11")

// Upstreams returns the nameservers of a resolv.conf file as host:port
// upstreams (port 53), leaving out the server itself, so that it
// never forwards to itself:
//   - a nameserver equal to one of the exclude addresses (our listen
//     addresses) is dropped;
//   - when an exclude address is unspecified (listening on ":53"), a
//     loopback nameserver on its port and any address of this host's
//     interfaces are dropped as well, since they would reach us. The one
//     exception is 127.0.0.11, Docker's embedded resolver, which Docker
//     redirects to its own port.
//
// It fails when the file cannot be read or holds no usable nameserver.
func Upstreams(path string, exclude ...netip.AddrPort) ([]string, error) {
	conf, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read nameservers: %w", err)
	}
	var local []netip.Addr // this host's addresses, read only when needed
	localRead := false
	var out []string
	for _, server := range conf.Servers {
		ip, err := netip.ParseAddr(server)
		if err != nil {
			continue // not an address (resolv.conf allows none other)
		}
		ip = ip.Unmap()
		ap := netip.AddrPortFrom(ip, 53)
		if isSelf(ap, exclude, func() []netip.Addr {
			if !localRead {
				local, localRead = interfaceAddrs(), true
			}
			return local
		}) {
			continue
		}
		if ip.Zone() != "" {
			out = append(out, net.JoinHostPort(ip.String(), "53"))
		} else {
			out = append(out, ap.String())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no usable nameserver in %s", path)
	}
	return out, nil
}

// isSelf reports whether the upstream ns would reach one of our listen
// addresses.
func isSelf(ns netip.AddrPort, listen []netip.AddrPort, local func() []netip.Addr) bool {
	for _, l := range listen {
		if l.Port() != ns.Port() {
			continue
		}
		if l.Addr().Unmap() == ns.Addr().WithZone("") {
			return true
		}
		if !l.Addr().IsUnspecified() {
			continue
		}
		if ns.Addr().IsLoopback() && ns.Addr() != dockerEmbeddedDNS {
			return true
		}
		for _, a := range local() {
			if a == ns.Addr().WithZone("") {
				return true
			}
		}
	}
	return false
}

// interfaceAddrs returns the addresses of this host's interfaces.
func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}
