package dns

import (
	"context"
	"fmt"
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// Candidate is one record the server considered for an answer, and why it
// was given or left out.
type Candidate struct {
	// Node and ContainerID identify the record set the record comes from.
	Node        string
	ContainerID string
	// Name is the container's primary name.
	Name string
	// Health is the container's healthcheck state ("none", "starting",
	// "healthy", "unhealthy").
	Health string
	// Addr and Network are the address (A, AAAA, PTR) and its network.
	Addr    netip.Addr
	Network string
	// Port is the port of an SRV record.
	Port uint16
	// Included reports whether the record is in the answer.
	Included bool
	// Reason says why: ReasonServed, or a sentence such as
	// "left out: healthcheck unhealthy".
	Reason string
}

// Explanation is the answer the server gives one client for one question,
// with every candidate record of the zone it weighed.
type Explanation struct {
	// Reply is the reply as it would be sent over TCP (not truncated).
	Reply *mdns.Msg
	// Source is SourceZone, SourceHosts, SourceForward or SourceServer.
	Source string
	// Candidates are the zone's records for the name; empty for
	// forwarded names.
	Candidates []Candidate
	// Client is the local container that holds the client address, which
	// the answer was computed for; nil when none does (see Clients).
	Client *registry.Client
	// Refused says why the server refused the question by policy (a
	// client that may not recurse); empty otherwise.
	Refused string
}

// Lookup returns the answer the server would give client for name and
// qtype, through the same code as the query path, and explains it. A name
// outside the zone is forwarded (or answered from the cache) as a query
// with recursion desired would be; ctx bounds that. name need not be fully
// qualified. An invalid client address is treated as an unknown client
// (no network filtering, no recursion).
func (s *Server) Lookup(ctx context.Context, name string, qtype uint16, client netip.Addr) (Explanation, error) {
	if _, ok := mdns.IsDomainName(name); !ok {
		return Explanation{}, fmt.Errorf("dns: invalid name %q", name)
	}
	req := new(mdns.Msg)
	req.SetQuestion(mdns.Fqdn(name), qtype)
	var ex explain
	m, src := s.respond(ctx, req, client.Unmap(), true, &ex)
	if ex.refused != "" && !client.IsValid() {
		ex.refused += "; no client address was given, and an unknown client may not recurse (ask as a client: --client 127.0.0.1)"
	}
	return Explanation{Reply: m, Source: src, Candidates: ex.candidates, Client: s.zone.clientOf(client.Unmap()), Refused: ex.refused}, nil
}
