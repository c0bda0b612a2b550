// Package registry is swarmdns's single source of truth: the record sets of
// every container on every node of the cluster, with the node that owns each
// set, its version and its lease.
//
// Writers are the watcher (the local node's sets, through SetLocal,
// RemoveLocal and ReplaceLocal) and gossip (other nodes' sets, through
// ApplyDelta and MergeNode). Every write builds a new immutable Snapshot and
// publishes it with an atomic pointer swap, so readers (the DNS server above
// all) never wait behind a writer. A new snapshot shares all it can with the
// previous one: a write costs what it touches, not the size of the zone.
// Subscribers follow the change feed.
//
// The package imports nothing from Docker, memberlist or miekg/dns.
package registry
