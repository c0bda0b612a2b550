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
//     and a connected socket of its own per query, from a pool in
//     upstream.go that uses each for at most 100 queries or 5 s; replies
//     accepted only when address, port, ID and question match), coalesces
//     identical questions in flight, bounds the queries in flight and
//     retries truncated replies over TCP.
//   - cache.go keeps forwarded answers, packed, for their TTL (positive) or
//     their SOA minimum (negative, RFC 2308), sharded and bounded, with
//     constant-time eviction.
//   - hosts.go answers the names of a hosts file (Config.HostsFile) before
//     the zone and the upstreams; internal/hostsfile reads it and reloads
//     it when it changes.
//   - loop.go finds upstreams that send our questions back to us.
//   - server.go binds UDP and TCP, applies the protocol rules (EDNS0, BADVERS,
//     a malformed COOKIE (edns.go), truncation to the client's size,
//     FORMERR, NOTIMP, REFUSED), bounds the work in progress and wires the
//     above together. request.go is the full path both transports share
//     (header checks, parsing, the TSIG check).
//   - tcp.go is the TCP server: each connection's queries are answered
//     concurrently, at most 32 at once, each reply written when it is
//     ready (RFC 7766 §6.2.1.1).
//   - transfer.go answers AXFR and IXFR (RFC 5936, RFC 1995), tsig.go
//     verifies and signs with the TSIG keys (RFC 8945), notify.go sends
//     NOTIFY to secondaries when the serial changes (RFC 1996). The serial
//     itself is the registry's (registry/serial.go): never backwards, the
//     same on every node once gossip has converged.
//   - udp.go is the UDP server: one SO_REUSEPORT socket per core, each with
//     one reader that takes queued queries in batches (recvmmsg/sendmmsg,
//     internal/udpsock), answers plain ones itself through fastpath.go
//     and internal/dnswire (in-zone A/AAAA and cache hits, written from the packet
//     with no allocation) and hands the rest to the full miekg path.
//
// Choices where the standards leave room:
//
//   - Reverse names: the PTR of an address some container holds is answered
//     here (the local node's container first: bridge subnets repeat across
//     hosts); every other reverse name, and any other type under the
//     reverse trees, is forwarded, since those trees are not our zone.
//   - A single-label name ("web.") is answered from the zone when
//     "web.<zone>" exists there, as Docker's own DNS does; otherwise it is
//     forwarded.
//   - A name that holds records and a CNAME is answered from its records.
//     A CNAME inside the zone is followed (up to 8 hops); the rcode is
//     that of the last name (RFC 6604).
//   - ANY is answered minimally (RFC 8482): the addresses, or an HINFO
//     "RFC8482" when there are none; the apex gives its SOA.
//   - SRV: the local node's containers have priority 0, the others 1.
//   - Classes other than IN get REFUSED; OPCODEs other than QUERY NOTIMP
//     (UPDATE REFUSED); AXFR a full transfer over TCP for clients in
//     Config.AllowTransfer (and, with Config.TransferKeys, signed with a
//     key), REFUSED otherwise; IXFR one SOA for a client that is current
//     (and over UDP), else the full transfer: no history is kept.
//   - SRV answers carry their targets' addresses in the additional
//     section when they fit, whole RRsets; replies lose additional RRsets
//     before anything is truncated, without TC.
//   - Recursion only for clients in Config.AllowRecursion; a query with
//     RD=0 for an outside name is answered from the cache or REFUSED, and
//     upstream queries always ask for recursion.
//   - Negative upstream answers are cached only with an SOA (RFC 2308 §5);
//     failures (SERVFAIL, timeouts) are not cached, and coalescing keeps a
//     failing name to one upstream query at a time.
//
// The package imports nothing from Docker or memberlist; it sees the registry
// only through the Zone interface. miekg/dns is imported as mdns.
package dns
