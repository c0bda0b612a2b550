package dns

import (
	"net/netip"

	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/rrl"
	"github.com/swarmdns/swarmdns/registry"
)

// Clients tells the server which container of the local node holds a
// client's address (on any of its networks, or on docker_gwbridge, the
// address a container on overlay networks only asks from). The server
// then answers for that container:
//   - network scoping: a name whose container shares a network with the
//     client container is answered with its addresses on those networks
//     only (a network of this node only, such as a bridge, is shared with
//     the local node's containers only);
//   - local first: among what is given, the local node's addresses lead;
//   - rate limit: one bucket per client container, whatever address it
//     asks from;
//   - recursion: allowed when any address the container holds is in
//     Config.AllowRecursion.
//
// An address no container holds (a process on the node, another host) is
// answered without network scoping, rate-limited by its network (IPv4 /24,
// IPv6 /56) and allowed recursion by that address alone.
//
// Client is called on the query path: it must be fast, safe for concurrent
// use and must not block; the server does not modify what it returns.
// *registry.ClientTable satisfies it.
type Clients interface {
	Client(addr netip.Addr) (*registry.Client, bool)
}

var _ Clients = (*registry.ClientTable)(nil)

// clientOf returns the container that holds addr, or nil.
func (z *zoneConfig) clientOf(addr netip.Addr) *registry.Client {
	if z.clients == nil || !addr.IsValid() {
		return nil
	}
	if c, ok := z.clients.Client(addr); ok {
		return c
	}
	return nil
}

// rateKey is the rate limiter's bucket for a client: its container (by
// the container's first address), else its network.
func (s *Server) rateKey(client netip.Addr) netip.Prefix {
	if c := s.zone.clientOf(client); c != nil && len(c.Addrs) > 0 {
		return netip.PrefixFrom(c.Addrs[0], c.Addrs[0].BitLen())
	}
	return rrl.ClientNet(client)
}

// queryLog returns the event for one query's log line: at info level for
// every query with Config.LogQueries, else at debug level and sampled. It
// names the client's container when one holds the address.
func (s *Server) queryLog(client netip.Addr) *zerolog.Event {
	e := s.qlog.Debug()
	if s.cfg.LogQueries {
		e = s.log.Info()
	}
	if !e.Enabled() {
		return e
	}
	if c := s.zone.clientOf(client); c != nil {
		e = e.Str("client_container", c.Name).Str("client_id", shortID(c.ContainerID))
	}
	return e
}

func shortID(id string) string { return id[:min(12, len(id))] }
