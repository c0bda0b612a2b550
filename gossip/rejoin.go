package gossip

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"
)

// maxJoinAttempts bounds the addresses tried per round (each may take
// memberlist's TCPTimeout when the peer is unreachable).
const maxJoinAttempts = 3

// rejoinLoop joins the cluster and keeps joining it: memberlist forgets a
// dead node after GossipToTheDeadTime and never heals a partition by
// itself. Until the first join succeeds it retries with a backoff from one
// second to RejoinInterval; then, every RejoinInterval, it joins again
// whichever of the join addresses (resolved again each time) and failed
// peers are not alive members.
func (n *Node) rejoinLoop(ctx context.Context) error {
	wait := time.Second
	for {
		n.rejoin(ctx)
		select {
		case <-n.joined:
			wait = n.cfg.RejoinInterval
		default:
			wait = min(wait*2, n.cfg.RejoinInterval)
		}
		if n.fast() {
			n.rejoinAlive(ctx)
			wait = min(wait, fastRejoinEvery)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// rejoin makes one round of join attempts.
func (n *Node) rejoin(ctx context.Context) {
	self := n.LocalAddr()
	// The member table, not memberlist's Members: the nodes that returns
	// are memberlist's live state, rewritten without a lock we can take.
	alive := make(map[netip.AddrPort]bool)
	n.mu.Lock()
	for _, mb := range n.members {
		if mb.state == StateAlive {
			alive[mb.addr] = true
		}
	}
	n.mu.Unlock()
	var seeds, lost []netip.AddrPort
	joins := n.cfg.Join
	if n.cfg.Seeds != nil {
		joins = append(slices.Clone(joins), n.cfg.Seeds(ctx)...)
	}
	for _, a := range n.resolveJoin(ctx, joins) {
		if a != self && !alive[a] {
			seeds = append(seeds, a)
		}
	}
	now := time.Now()
	n.mu.Lock()
	for _, mb := range n.members {
		if mb.state == StateDead && mb.addr.IsValid() && !alive[mb.addr] && now.Sub(mb.since) < reconnectTimeout {
			lost = append(lost, mb.addr)
		}
	}
	n.mu.Unlock()
	rand.Shuffle(len(seeds), func(i, j int) { seeds[i], seeds[j] = seeds[j], seeds[i] })
	rand.Shuffle(len(lost), func(i, j int) { lost[i], lost[j] = lost[j], lost[i] })
	// Lost peers first: they are the ones a partition hides.
	candidates := append(lost, seeds...)
	// Until the first join, every candidate is tried: a round that reaches
	// none of them means there is no other node to join yet.
	first := !n.joinedNow()
	tried := make(map[netip.AddrPort]bool)
	answered := false // a peer answered but the join failed (a wrong key)
	defer func() {
		if first && !answered && ctx.Err() == nil && !n.joinedNow() {
			n.alone.Store(true)
			n.log.Info().Int("tried", len(tried)).Msg("no other swarmdns node to join: serving as the first node of the cluster, and joining the others when they come")
			n.markJoined()
		}
	}()
	for _, a := range candidates {
		if (!first && len(tried) >= maxJoinAttempts) || ctx.Err() != nil {
			return
		}
		if tried[a] {
			continue
		}
		tried[a] = true
		if _, err := n.ml.Join([]string{a.String()}); err != nil {
			if n.warn.allow("join/" + a.String()) {
				n.log.Debug().Err(err).Stringer("addr", a).Msg("join failed")
			}
			answered = answered || !nobodyThere(err)
			continue
		}
		n.log.Debug().Stringer("addr", a).Msg("joined")
		n.markJoined()
		return
	}
}

// nobodyThere reports whether a failed join found no node at the address
// (refused, unreachable, timed out), rather than one that would not take
// this one (another key). memberlist flattens the socket error into text.
func nobodyThere(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "no route to host", "network is unreachable", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// joinedNow reports whether Joined is closed.
func (n *Node) joinedNow() bool {
	select {
	case <-n.joined:
		return true
	default:
		return false
	}
}

// fast says whether the fast rejoin mode is on: peers were seen holding
// the local node's name at another address lately.
func (n *Node) fast() bool { return time.Now().UnixNano() < n.fastUntil.Load() }

// rejoinAlive joins alive peers (up to maxFastJoins, at random) again: a
// join is a push/pull that carries the local node's alive state at its
// current address, which a peer takes once the address it held is dead
// for deadNodeReclaimTime.
func (n *Node) rejoinAlive(ctx context.Context) {
	var addrs []netip.AddrPort
	n.mu.Lock()
	for _, mb := range n.members {
		if mb.state == StateAlive && mb.addr.IsValid() {
			addrs = append(addrs, mb.addr)
		}
	}
	n.mu.Unlock()
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	for i, a := range addrs {
		if i >= maxFastJoins || ctx.Err() != nil {
			return
		}
		if _, err := n.ml.Join([]string{a.String()}); err != nil && n.warn.allow("join/"+a.String()) {
			n.log.Debug().Err(err).Stringer("addr", a).Msg("join failed")
		}
	}
}

// joinResolveGrace is how long after start a join name that does not
// resolve is ordinary (logged at info; at warn after).
const joinResolveGrace = time.Minute

// resolveJoin resolves join addresses; names are looked up again each
// time (a Swarm service's tasks.<service> changes as tasks come and go).
func (n *Node) resolveJoin(ctx context.Context, joins []string) []netip.AddrPort {
	port := int(n.LocalAddr().Port())
	if port == 0 {
		port = DefaultPort
	}
	var out []netip.AddrPort
	for _, j := range joins {
		host, p, err := splitHostPort(j, port)
		if err != nil {
			if n.warn.allow("resolve/" + j) {
				n.log.Warn().Err(err).Str("join", j).Msg("bad join address")
			}
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(lctx, "ip", host)
		cancel()
		if err != nil {
			if n.warn.allow("resolve/" + j) {
				// A stack's tasks.<service> resolves only once its tasks
				// run: ordinary at start, the operator's to fix only when
				// it lasts.
				ev := n.log.Info()
				if time.Since(n.start) > joinResolveGrace {
					ev = n.log.Warn()
				}
				ev.Err(err).Str("join", j).Msg("cannot resolve join address; retrying")
			}
			continue
		}
		for _, ip := range ips {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
		}
	}
	return out
}
