package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/dns"
	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/watcher"
)

// gossipMembers shows gossip's member list to the admin API.
type gossipMembers struct{ n *gossip.Node }

func (g gossipMembers) Members() []admin.Member {
	var out []admin.Member
	for _, m := range g.n.Members() {
		am := admin.Member{Name: m.Name, State: string(m.State), Since: m.Since, LastSeen: m.LastSeen, Generation: m.Generation, Key: m.Key, Local: m.Local}
		if m.Addr.IsValid() {
			am.Addr = m.Addr.String()
		}
		out = append(out, am)
	}
	return out
}

// dnsExplainer shows the DNS server's explained answers to the admin API.
type dnsExplainer struct{ s *dns.Server }

func (d dnsExplainer) Explain(ctx context.Context, name string, qtype uint16, client netip.Addr) (admin.Explanation, error) {
	ex, err := d.s.Lookup(ctx, name, qtype, client)
	if err != nil {
		// Lookup fails only on a name or type it cannot ask about.
		return admin.Explanation{}, fmt.Errorf("%w: %v", admin.ErrInvalidQuery, err)
	}
	out := admin.ExplanationFromReply(ex.Reply)
	out.Forwarded, out.Note = ex.Source == dns.SourceForward || ex.Source == dns.SourceCache, "answered by: "+ex.Source
	out.Refused = ex.Refused
	if cl := ex.Client; cl != nil {
		cc := &admin.ClientContainer{ID: cl.ContainerID, Name: cl.Name, Addrs: []string{}, Networks: []string{}}
		for _, a := range cl.Addrs {
			cc.Addrs = append(cc.Addrs, a.String())
		}
		for _, n := range cl.Networks {
			cc.Networks = append(cc.Networks, n.Name)
		}
		out.ClientContainer = cc
	}
	for _, c := range ex.Candidates {
		ac := admin.Candidate{Name: c.Name, Network: c.Network, Port: c.Port, Node: c.Node, ContainerID: c.ContainerID, Health: c.Health, Included: c.Included, Reason: c.Reason}
		if c.Addr.IsValid() {
			ac.Address = c.Addr.String()
		}
		out.Candidates = append(out.Candidates, ac)
	}
	return out, nil
}

// memberAddrs answers <node>.node.<zone> with the gossip address of a live
// member of that name (compared case-insensitively, as DNS does).
func memberAddrs(n *gossip.Node) func(string) []netip.Addr {
	return func(name string) []netip.Addr {
		for _, m := range n.Members() {
			if strings.EqualFold(m.Name, name) && m.State == gossip.StateAlive && m.Addr.IsValid() {
				return []netip.Addr{m.Addr.Addr()}
			}
		}
		return nil
	}
}

// lateExplainer is the admin API's explainer for a DNS server that may be
// created after the API starts (when this run takes over from the previous
// one on the node).
type lateExplainer struct{ s atomic.Pointer[dns.Server] }

func (l *lateExplainer) set(s *dns.Server) { l.s.Store(s) }
func (l *lateExplainer) get() *dns.Server  { return l.s.Load() }

func (l *lateExplainer) Explain(ctx context.Context, name string, qtype uint16, client netip.Addr) (admin.Explanation, error) {
	s := l.get()
	if s == nil {
		return admin.Explanation{}, errors.New("DNS is not served by this run yet")
	}
	return dnsExplainer{s}.Explain(ctx, name, qtype, client)
}

// watcherHidden shows the watcher's hidden containers to the admin API.
type watcherHidden struct{ w *watcher.Watcher }

func (h watcherHidden) HiddenNamed(name string) []admin.HiddenContainer {
	var out []admin.HiddenContainer
	for _, c := range h.w.HiddenNamed(name) {
		out = append(out, admin.HiddenContainer{ContainerID: c.ContainerID, Name: c.Name, Reason: c.Reason})
	}
	return out
}
