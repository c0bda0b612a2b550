// Package dns is swarmdns's DNS server: it answers the cluster zone (by
// default swarm.internal.) from registry snapshots and forwards every other
// name to upstream resolvers through a cache.
//
// The package is layered so that each part can be tested on its own:
//
//   - answer.go is a pure function from a question and a registry snapshot to
//     a reply (no I/O, no clock): A, AAAA, SRV, TXT, CNAME, PTR, SOA and NS,
//     NXDOMAIN and NODATA with the SOA (RFC 2308), health, network and
//     locality filtering. Lookup runs the same code and also reports why each
//     candidate record was given or left out.
//   - forward.go sends other names upstream following RFC 5452 (a random ID
//     and a fresh socket per query, replies accepted only when address, port,
//     ID and question match), coalesces identical questions in flight, bounds
//     the queries in flight and retries truncated replies over TCP.
//   - cache.go keeps forwarded answers for their TTL (positive) or their SOA
//     minimum (negative, RFC 2308), sharded and bounded.
//   - server.go binds UDP and TCP, applies the protocol rules (EDNS0, BADVERS,
//     truncation to the client's size, FORMERR, NOTIMP, REFUSED) and wires
//     the above together.
//
// The package imports nothing from Docker or memberlist; it sees the registry
// only through the Zone interface. miekg/dns is imported as mdns.
package dns
