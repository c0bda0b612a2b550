package gossip

import (
	"net/netip"
	"time"
)

// A peer restarted at its old address starts over at memberlist
// incarnation 1, while the peers that declared its previous run dead (or
// saw it leave) hold that run at a higher incarnation: memberlist ignores
// the new run's alive messages until the node itself hears of the old
// claim and refutes it, or the dead entry is reaped. In a mass restart the
// node may hear of it from no one for a long time (hashicorp/memberlist#311).
// The same holds for a run restarted faster than failure detection: the
// peers still hold the old run alive at its higher incarnation, and ignore
// the new one's meta. The run's generation in the meta (its start time)
// tells a new run from the old one whatever the incarnations say, so a
// node that gets alive messages of a newer run than the one it holds for a
// peer (dead, left or alive), and still holds the old one a little later,
// pushes/pulls with it: the push/pull carries the old run's state, which
// the peer refutes above, and everyone takes the new run.
const (
	// reviveAfter is how long memberlist gets to take a new run by itself.
	reviveAfter = time.Second
	// reviveEvery bounds the pushes/pulls with one revived peer.
	reviveEvery = 5 * time.Second
	// reviveFor is how long an unanswered new run is followed.
	reviveFor = time.Minute
)

// revival is a newer run of a peer than the one held.
type revival struct {
	addr       netip.AddrPort
	generation uint64
	since      time.Time
	lastJoin   time.Time
}

// noteAlive is called for every alive message memberlist gets (the alive
// delegate, under memberlist's node lock: it only records).
func (n *Node) noteAlive(name string, addr netip.AddrPort, gen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	mb := n.members[name]
	if mb == nil || mb.state == "" || !mb.hasMeta || gen <= mb.meta.Generation {
		return
	}
	if r, ok := n.revived[name]; ok && r.generation >= gen {
		return
	}
	n.revived[name] = &revival{addr: addr, generation: gen, since: time.Now()}
}

// joinRevived pushes/pulls with the new runs memberlist has not taken
// after reviveAfter. The loop calls it on its tick.
func (n *Node) joinRevived(now time.Time) {
	var addrs []netip.AddrPort
	var names []string
	n.mu.Lock()
	for name, r := range n.revived {
		mb := n.members[name]
		switch {
		case mb == nil || mb.state == StateAlive && mb.meta.Generation >= r.generation || now.Sub(r.since) > reviveFor:
			delete(n.revived, name)
		case now.Sub(r.since) >= reviveAfter && now.Sub(r.lastJoin) >= reviveEvery:
			r.lastJoin = now
			addrs, names = append(addrs, r.addr), append(names, name)
		}
	}
	n.mu.Unlock()
	for i, a := range addrs {
		n.stats.revived.Add(1)
		n.log.Info().Str("peer", names[i]).Stringer("addr", a).Msg("memberlist does not take a peer's new run (it holds the old run at a higher incarnation): pushing/pulling with it so that it refutes")
		n.enqueue(outMsg{job: func() {
			if _, err := n.ml.Join([]string{a.String()}); err != nil {
				n.log.Debug().Err(err).Stringer("addr", a).Msg("join of a revived peer failed")
			}
		}})
	}
}
