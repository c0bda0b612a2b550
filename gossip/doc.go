// Package gossip replicates the registry across the swarmdns nodes of a
// cluster over hashicorp/memberlist (v0.7.0 or later), so that every node
// answers for every node's containers.
//
// # Ownership and versions
//
// Each node is the only writer of its own records. A record set carries its
// owner, the owner's generation (the start time of its run, in nanoseconds:
// it grows across restarts) and the owner's change counter (version). The
// registry ignores anything from an older generation or at a version it
// already has; a newer generation replaces everything the owner's earlier
// run published. A generation further than 24h ahead of the local clock is
// refused, so a bad peer cannot claim a name with a run its owner can
// never get above. Updates claiming the local node are dropped; one with a
// newer generation than the local run's (a previous run whose clock was
// ahead) makes the node move above it (registry.RenewGeneration), as does a
// notice from a peer that holds its name at a run it dropped (a node cut
// off longer than the lease): peers then take its records again.
//
// memberlist does not tell NotifyMsg who sent a message, and deltas travel
// epidemically, so a delta is not bound to its sender: every node relays a
// delta once, when it was news to it. The owner's authority comes from the
// versions; with encryption only key holders can speak at all. A delta
// whose generation is older than the one its owner announces in its
// memberlist meta is refused, so a delayed message of an earlier run
// cannot bring it back.
//
// # Messages
//
// Messages are one type byte, one format version byte and a body in a
// hand-written binary encoding (varints, container IDs as raw bytes, names
// sharing suffixes). Bodies only grow at the end and nested records are
// length-prefixed, so an older node reads what it knows and skips the
// rest; an unknown message type is counted and dropped.
//
//   - delta: one container's set written, or its removal. Local changes
//     (from the registry's change feed) go on memberlist's broadcast queue
//     as NamedBroadcasts keyed by owner/container, so a newer delta
//     replaces an older one still queued. A set too large for one gossip
//     packet is not broadcast (counted as "oversize"); push/pull carries it.
//   - batch: an owner's changes together (batch.go). The owner keeps one
//     entry on the queue, carrying the newest state of every container it
//     changed since its last entry went out in full, replaced at each
//     change; a batch says which versions it completes, so a node that
//     missed an earlier one (or that a batch had no room for) pulls the
//     owner's state over TCP instead. Relays keep one entry per owner too.
//     While a member reads no batches (an earlier release), changes go
//     out as deltas.
//   - state: full node states and, for push/pull, a digest (node,
//     generation, version) of everything the sender holds. The sender's own
//     state is authoritative (registry.MergeNode: what it lacks was
//     removed); states it relays for others are merged additively (a
//     relay's copy may miss a removal, and must not delete what the
//     receiver holds correctly).
//   - notice: "I hold your name at this generation".
//
// # Anti-entropy
//
// memberlist's push/pull (every 30s, scaled up in large clusters) carries
// the sender's own full state and its digest, not every node's state: at
// hundreds of nodes with tens of containers each that would be megabytes
// per exchange. Each side, after merging the other's half, sends back
// (over TCP) the states it holds newer than the other's digest says,
// bounded per exchange; a node that joins empty learns the whole zone this
// way from the first peer it joins. When a peer joins or comes back (after
// a failure or a partition), both sides exchange their own full states at
// once, so whatever deltas were lost meanwhile is repaired in one round
// trip rather than at the next random push/pull. A partition shorter
// than failure detection declares no one dead, so no join follows it; but
// it leaves suspicions that the suspected nodes refute once they are
// reached again, and a node that refutes (memberlist v0.7.0 has no hook
// for it: its "Refuting a suspect/dead message" log line is the sign)
// exchanges its own state with every alive peer, at most every 2s. A
// node whose probe of a peer failed (or got through over TCP only) also
// exchanges states with that peer when it answers again (the ping
// delegate, and the probe's log lines): a pair of nodes neither of which
// was suspected is repaired too.
//
// # Failure, leave and rejoin
//
// A node that stops cleanly sets a "leaving" flag in its memberlist meta
// (memberlist v0.7.0's events do not tell a leave from a failure:
// hashicorp/memberlist#293), then leaves: peers drop its records at once.
// A node that fails or is cut off keeps its records on the others for
// Config.Lease after it was last seen alive, measured on each peer's own
// clock; then they are dropped and logged. Relayed news about a node that
// is not seen alive never extends its lease.
//
// memberlist forgets a dead node after GossipToTheDeadTime and never heals
// a partition by itself, so Run joins again, every RejoinInterval, the
// join addresses (DNS names are resolved again each time, so a Swarm
// service's tasks.<service> is enough) and the failed peers it remembers
// (for 24h). memberlist refuses a known name from a new address while the
// old one is still alive or freshly dead; DeadNodeReclaimTime is set to 2s
// so that a node restarted at a new address (a rescheduled task) gets its
// name back as soon as the old address is found dead. Nothing would tell
// the peers the new address then (until a push/pull), so a node that sees
// a peer hold its own name at another address (memberlist's conflict
// delegate) joins its alive peers again every 2s, for 30s after the last
// such conflict: each takes the new address at the first join after its
// old one is dead for DeadNodeReclaimTime.
//
// A node restarted at its old address starts at memberlist incarnation 1
// while peers may hold its previous run (dead, left, or still alive when
// the restart beat failure detection) at a higher one, and memberlist then
// ignores the new run until the node hears of the old claim
// (hashicorp/memberlist#311, seen in mass restarts). The generation in the
// meta is the run's identity: a node that sees alive messages of a newer
// run than the one it holds, and still holds the old one a second later,
// pushes/pulls with the peer, which refutes the old claim (revive.go).
//
// # Security
//
// With a key, memberlist encrypts and authenticates every packet and
// stream (AES-GCM, GossipVerifyIncoming/Outgoing): a node with another key
// or none can neither join nor inject a record, and memberlist's refusal
// ("Decrypt packet failed", "no installed keys could decrypt") shows in the
// log of the node it tried, through the memberlist-to-zerolog bridge
// (component=gossip subsystem=memberlist, sampled). A node holds a keyring (Config.Keys,
// Node.SetKeys): the first key encrypts, every key decrypts, so a key is
// rotated without downtime in three steps that each reach every node
// before the next (add the new key, make it the first, drop the old one).
// The node meta carries the fingerprint of the key a node encrypts with
// (never the key), so every node's member list shows which key each peer
// uses. Without a key New logs a warning. The
// memberlist Label (default "swarmdns") keeps the cluster apart from
// Docker Swarm's own memberlist on the same hosts (which holds port 7946;
// swarmdns uses 7947). Members whose meta is not swarmdns's are refused.
//
// # Sizes
//
// Measured (BenchmarkEncodeDelta, BenchmarkStateSize, bench/cluster) for a
// typical Swarm task (three names, two networks, one port, an image
// reference with its sha256 digest, which alone is about 110 bytes):
//
//   - a delta is about 330 bytes, well under the ~1330-byte packet budget;
//   - the push/pull state is the node's own sets plus about 40 bytes per
//     node of the cluster: 18 KB at 100 nodes x 50 containers, 28 KB at
//     300 x 50, 41 KB at 300 x 100 (about 6-7 KB after memberlist's LZW);
//   - the whole zone, which a node joining empty receives once, is about
//     300 bytes per container: 1.3 MB at 100 x 50, 3.9 MB at 300 x 50,
//     7.8 MB at 300 x 100 (roughly a fifth with LZW).
//
// In one process on loopback with memberlist's LAN defaults, 50 nodes
// converge in about 0.6 s (p50) and 1.0 s (p99, max of 100 trials) from a
// write on one node to all nodes; each node sends 200-400 B/s at rest and
// about 1.4 KB per cluster-wide change under churn (epidemic relay: every
// node forwards a change 1.5*RetransmitMult*log10(N+1) times).
package gossip
