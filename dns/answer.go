package dns

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// This file is the pure core: from a question, the asking client's address
// and a registry snapshot to the reply, with no I/O and no clock. Only the
// order of records (shuffled) is random.

// SOA timers. Refresh, retry and expire only matter to secondaries that
// transfer the zone; the minimum is the negative TTL and comes from Config.
const (
	soaRefresh = 30
	soaRetry   = 10
	soaExpire  = 600
)

// maxChase bounds the CNAME chain followed inside the zone.
const maxChase = 8

// zoneConfig is what the core knows besides the snapshot.
type zoneConfig struct {
	origin   string // canonical apex: "swarm.internal."
	ttl      uint32 // TTL of cluster records
	staleTTL uint32 // TTL when the owning node is stale
	negTTL   uint32 // SOA minimum: the negative TTL (RFC 2308)
	nsName   string // canonical NS target: "ns.<origin>"
	nsAddrs  []netip.Addr
	mbox     string // SOA RNAME: "hostmaster.<origin>"
	// nodeAddrs, if set, gives the addresses of a swarmdns node by its
	// label, for <node>.node.<origin>.
	nodeAddrs func(node string) []netip.Addr
	nodeZone  string  // "node.<origin>"
	clients   Clients // nil: clients are known by their address only
	// reverse are the reverse zones the server is authoritative for; nil
	// for none.
	reverse *reverseZones
}

// explain collects, for Lookup, why each candidate record was given or left
// out. The core takes a nil *explain on the query path and skips all of it.
type explain struct {
	candidates []Candidate
	refused    string // why the server refused the question, when it did by policy
}

// refuse notes why the server refuses the question.
func (ex *explain) refuse(why string) {
	if ex != nil {
		ex.refused = why
	}
}

func (ex *explain) add(c Candidate) {
	if ex != nil {
		ex.candidates = append(ex.candidates, c)
	}
}

// answer returns the reply for req if its question belongs to the zone
// (the zone itself, a single-label name that exists in it, or the PTR of a
// registered address), and false otherwise: the name must then be forwarded.
// req must hold exactly one question. The reply carries no OPT and is not
// truncated; the transport does that.
func (z *zoneConfig) answer(snap *registry.Snapshot, req *mdns.Msg, client netip.Addr, ex *explain) (*mdns.Msg, bool) {
	q := req.Question[0]
	lname := registry.CanonicalName(q.Name)
	owner := q.Name // records at the queried name keep the client's case (0x20)
	if len(owner) != len(lname) {
		owner = lname
	}
	var target, apex string // the zone name looked up; the SOA owner
	switch {
	case isLocalhost(lname):
		return z.answerLocalhost(req, owner), true
	case dnsname.InZone(lname, z.origin):
		target, apex = lname, owner[len(owner)-len(z.origin):]
	case z.shortcut(lname, q.Qtype) && snap.Exists(lname+z.origin):
		// A container that set dns: but no search domain asks for "web.";
		// Docker's own DNS answers such names too.
		target, apex = lname+z.origin, z.origin
	case dnsname.IsReverse(lname):
		if zone, ok := z.reverse.zoneOf(snap, lname); ok {
			return z.answerReverse(snap, req, lname, owner, zone, ex), true
		}
		if q.Qtype != mdns.TypePTR {
			return nil, false
		}
		ip, ok := dnsname.ParseReverse(lname)
		if !ok {
			return nil, false
		}
		rrs := z.ptrRecords(snap, ip, owner, ex)
		if len(rrs) == 0 {
			// Not a container address: the reverse tree is not ours.
			return nil, false
		}
		m := z.reply(req)
		m.Answer = rrs
		return m, true
	default:
		return nil, false
	}

	m := z.reply(req)
	for hops := 0; ; hops++ {
		rrs, exists, alias := z.records(snap, target, owner, q.Qtype, client, ex)
		if len(rrs) > 0 {
			if m.Answer == nil {
				m.Answer = rrs
			} else {
				m.Answer = append(m.Answer, rrs...)
			}
			if target == z.origin && q.Qtype == mdns.TypeNS {
				m.Extra = append(m.Extra, z.glue()...)
			}
			if q.Qtype == mdns.TypeSRV {
				m.Extra = append(m.Extra, z.srvAdditional(snap, rrs, client)...)
			}
			return m, true
		}
		if alias != "" && q.Qtype != mdns.TypeCNAME {
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: z.hdr(owner, mdns.TypeCNAME, z.ttl), Target: alias})
			if !dnsname.InZone(alias, z.origin) || hops >= maxChase {
				return m, true // the client's resolver follows it
			}
			target, owner = alias, alias
			continue
		}
		if !exists {
			m.Rcode = mdns.RcodeNameError
		}
		m.Ns = []mdns.RR{z.soa(apex, snap.Serial(), min(z.ttl, z.negTTL))}
		return m, true
	}
}

// reply starts an authoritative reply to req.
func (z *zoneConfig) reply(req *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	return m
}

// records returns the records of type qtype at the canonical zone name
// (owned by owner, the name as the client wrote it), whether the name exists
// at all, and the target of a CNAME at the name, if that is all it holds.
func (z *zoneConfig) records(snap *registry.Snapshot, name, owner string, qtype uint16, client netip.Addr, ex *explain) (rrs []mdns.RR, exists bool, alias string) {
	if name == z.origin {
		switch qtype {
		case mdns.TypeSOA, mdns.TypeANY:
			rrs = []mdns.RR{z.soa(owner, snap.Serial(), z.ttl)}
		case mdns.TypeNS:
			rrs = []mdns.RR{&mdns.NS{Hdr: z.hdr(owner, mdns.TypeNS, z.ttl), Ns: z.nsName}}
		}
		return rrs, true, ""
	}
	if z.nodeAddrs != nil && dnsname.InZone(name, z.nodeZone) {
		if name == z.nodeZone {
			return nil, true, "" // an empty non-terminal
		}
		label, parent, ok := dnsname.FirstLabel(name)
		if !ok || parent != z.nodeZone {
			return nil, false, ""
		}
		addrs := z.nodeAddrs(label)
		for _, ip := range addrs {
			for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
				if qtype == qt || qtype == mdns.TypeANY {
					if rr := addrRR(owner, qt, ip.Unmap(), z.ttl); rr != nil {
						rrs = append(rrs, rr)
					}
				}
			}
		}
		return rrs, len(addrs) > 0, ""
	}
	if name == z.nsName {
		// The server's own name: always there, whatever the containers
		// are called (a container named ns is published beside it).
		for _, ip := range z.nsAddrs {
			if rr := addrRR(owner, qtype, ip, z.ttl); rr != nil {
				rrs = append(rrs, rr)
			}
		}
		return rrs, true, ""
	}
	if name[0] == '_' {
		if rrs, exists := z.srvRecords(snap, name, owner, qtype, ex); exists {
			return rrs, true, ""
		}
	}
	sets := snap.Lookup(name)
	if len(sets) == 0 {
		if a, ok := snap.Alias(name); ok {
			if qtype == mdns.TypeCNAME || qtype == mdns.TypeANY {
				return []mdns.RR{&mdns.CNAME{Hdr: z.hdr(owner, mdns.TypeCNAME, z.ttl), Target: a.Target}}, true, ""
			}
			return nil, true, a.Target
		}
		return nil, snap.Exists(name), ""
	}
	switch qtype {
	case mdns.TypeA, mdns.TypeAAAA:
		rrs = z.addrRecords(snap, sets, owner, qtype, client, ex)
	case mdns.TypeTXT:
		rrs = z.txtRecords(snap, sets, owner)
	case mdns.TypeANY:
		// RFC 8482: a minimal answer. The addresses are what clients want.
		rrs = z.addrRecords(snap, sets, owner, mdns.TypeA, client, ex)
		rrs = append(rrs, z.addrRecords(snap, sets, owner, mdns.TypeAAAA, client, ex)...)
		if len(rrs) == 0 {
			rrs = []mdns.RR{&mdns.HINFO{Hdr: z.hdr(owner, mdns.TypeHINFO, z.ttl), Cpu: "RFC8482"}}
		}
	}
	return rrs, true, ""
}

// addrRecords returns the A or AAAA records of sets for client, as
// selectAddrs picks them, each group shuffled.
func (z *zoneConfig) addrRecords(snap *registry.Snapshot, sets []*registry.RecordSet, owner string, qtype uint16, client netip.Addr, ex *explain) []mdns.RR {
	var buf [8]netip.Addr
	ips, nLocal, ttl := z.selectAddrs(snap, sets, qtype == mdns.TypeA, client, ex, buf[:0])
	shuffleAddrs(ips[:nLocal])
	shuffleAddrs(ips[nLocal:])
	if len(ips) == 0 {
		return nil
	}
	rrs := make([]mdns.RR, len(ips))
	for i, ip := range ips {
		rrs[i] = addrRR(owner, qtype, ip, ttl)
	}
	return rrs
}

// selectAddrs appends to dst the IPv4 (is4) or IPv6 addresses of sets to
// give client, and returns them with how many lead as the local node's and
// the TTL they all share:
//   - health: sets whose healthcheck is not passing are left out, unless no
//     set with an address of the family passes (then all are given);
//   - network: when the client's container shares networks with a set,
//     only that set's addresses on those networks are given (Clients);
//   - order: the local node's addresses first, then the others (the caller
//     shuffles each group); the TTL lowered to staleTTL when any owning node
//     is stale;
//   - an address held by several sets is given once.
func (z *zoneConfig) selectAddrs(snap *registry.Snapshot, sets []*registry.RecordSet, is4 bool, client netip.Addr, ex *explain, dst []netip.Addr) (ips []netip.Addr, nLocal int, ttl uint32) {
	anyServing := false
	for _, s := range sets {
		if s.Health.Serving() && hasFamily(s, is4) {
			anyServing = true
			break
		}
	}
	local := snap.LocalNode()
	// The client's container is looked up only for a set on several
	// networks: scoping changes nothing for the others.
	var cl *registry.Client
	clKnown := false
	ips = dst
	first := len(dst)
	ttl = z.ttl
	for _, s := range sets {
		if !hasFamily(s, is4) {
			continue
		}
		reason := ReasonServed
		if !s.Health.Serving() {
			if anyServing {
				if ex != nil {
					explainSet(ex, s, is4, false, "left out: healthcheck "+s.Health.String())
				}
				continue
			}
			if ex != nil {
				reason = "served although healthcheck " + s.Health.String() + ": every container behind the name is unhealthy"
			}
		}
		stale := false
		if n, ok := snap.Node(s.Node); ok && n.Stale {
			stale = true
			if ex != nil {
				reason += "; TTL lowered: node " + s.Node + " is stale"
			}
		}
		shared := false
		if multiNetwork(s) {
			if !clKnown {
				cl, clKnown = z.clientOf(client), true
			}
			shared = sharesNetwork(s, cl, local)
		}
		given := false
		for _, a := range s.Addrs {
			if a.IP.Is4() != is4 {
				continue
			}
			if shared && !cl.OnNetwork(a.Network, s.Node, local) {
				if ex != nil {
					ex.add(candidate(s, a, false, "left out: the client is on network "+strings.Join(sharedNetworks(s, cl, local), ",")+", this address is on "+a.Network))
				}
				continue
			}
			if slices.Contains(ips[first:], a.IP) {
				ex.add(candidate(s, a, false, "left out: the same address is already given"))
				continue
			}
			ex.add(candidate(s, a, true, reason))
			ips = append(ips, a.IP)
			if s.Node == local {
				last := len(ips) - 1
				ips[first+nLocal], ips[last] = ips[last], ips[first+nLocal]
				nLocal++
			}
			given = true
		}
		if given && stale {
			ttl = z.staleTTL
		}
	}
	return ips[first:], nLocal, ttl
}

// ReasonServed is the Candidate.Reason of a record given without remark.
const ReasonServed = "served"

func explainSet(ex *explain, s *registry.RecordSet, is4 bool, included bool, reason string) {
	if ex == nil {
		return
	}
	for _, a := range s.Addrs {
		if a.IP.Is4() == is4 {
			ex.add(candidate(s, a, included, reason))
		}
	}
}

func candidate(s *registry.RecordSet, a registry.Addr, included bool, reason string) Candidate {
	return Candidate{
		Node: s.Node, ContainerID: s.ContainerID, Name: s.Name, Health: s.Health.String(),
		Addr: a.IP, Network: a.Network, Included: included, Reason: reason,
	}
}

// sharesNetwork reports whether the client container cl (nil: unknown)
// shares a network with s.
func sharesNetwork(s *registry.RecordSet, cl *registry.Client, local string) bool {
	if cl == nil {
		return false
	}
	for _, a := range s.Addrs {
		if cl.OnNetwork(a.Network, s.Node, local) {
			return true
		}
	}
	return false
}

// multiNetwork reports whether s has addresses on more than one network.
func multiNetwork(s *registry.RecordSet) bool {
	if len(s.Addrs) < 2 {
		return false
	}
	for _, a := range s.Addrs[1:] {
		if a.Network != s.Addrs[0].Network {
			return true
		}
	}
	return false
}

// sharedNetworks returns the networks of s that cl shares, or nil.
func sharedNetworks(s *registry.RecordSet, cl *registry.Client, local string) []string {
	if cl == nil {
		return nil
	}
	var nets []string
	for _, a := range s.Addrs {
		if cl.OnNetwork(a.Network, s.Node, local) && !containsString(nets, a.Network) {
			nets = append(nets, a.Network)
		}
	}
	return nets
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func hasFamily(s *registry.RecordSet, is4 bool) bool {
	for _, a := range s.Addrs {
		if a.IP.Is4() == is4 {
			return true
		}
	}
	return false
}

// aRecord and aaaaRecord hold a record and the bytes of its address in
// one allocation.
type aRecord struct {
	rr mdns.A
	ip [4]byte
}

type aaaaRecord struct {
	rr mdns.AAAA
	ip [16]byte
}

// addrRR returns an A or AAAA record for ip, or nil when ip is not of the
// family qtype asks for.
func addrRR(owner string, qtype uint16, ip netip.Addr, ttl uint32) mdns.RR {
	switch {
	case qtype == mdns.TypeA && ip.Is4():
		r := &aRecord{ip: ip.As4()}
		r.rr = mdns.A{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: r.ip[:]}
		return &r.rr
	case qtype == mdns.TypeAAAA && ip.Is6():
		r := &aaaaRecord{ip: ip.As16()}
		r.rr = mdns.AAAA{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: ttl}, AAAA: r.ip[:]}
		return &r.rr
	}
	return nil
}

// shuffle permutes rrs in place; callers own the slice.
func shuffle(rrs []mdns.RR) {
	if len(rrs) < 2 {
		return
	}
	rand.Shuffle(len(rrs), func(i, j int) { rrs[i], rrs[j] = rrs[j], rrs[i] })
}

// shuffleAddrs permutes ips in place; callers own the slice.
func shuffleAddrs(ips []netip.Addr) {
	for i := len(ips) - 1; i > 0; i-- {
		j := rand.IntN(i + 1)
		ips[i], ips[j] = ips[j], ips[i]
	}
}

// ptrRecords answers the reverse name of ip from the sets that hold it. When
// sets of the local node hold it, only they answer: bridge networks on
// different hosts often reuse the same subnet, and the local container is
// the one a local client can reach.
func (z *zoneConfig) ptrRecords(snap *registry.Snapshot, ip netip.Addr, owner string, ex *explain) []mdns.RR {
	sets := snap.LookupAddr(ip)
	if len(sets) == 0 {
		return nil
	}
	local := snap.LocalNode()
	hasLocal := false
	for _, s := range sets {
		if s.Node == local {
			hasLocal = true
			break
		}
	}
	var rrs []mdns.RR
	var names []string
	ttl := z.ttl
	for _, s := range sets {
		a := addrOf(s, ip)
		if hasLocal && s.Node != local {
			ex.add(candidate(s, a, false, "left out: a container of the local node holds the address"))
			continue
		}
		name := primaryName(s)
		if name == "" || containsString(names, name) {
			continue
		}
		if n, ok := snap.Node(s.Node); ok && n.Stale {
			ttl = z.staleTTL
		}
		ex.add(candidate(s, a, true, ReasonServed))
		names = append(names, name)
		rrs = append(rrs, &mdns.PTR{Hdr: z.hdr(owner, mdns.TypePTR, 0), Ptr: name})
	}
	for _, rr := range rrs {
		rr.Header().Ttl = ttl
	}
	return rrs
}

func addrOf(s *registry.RecordSet, ip netip.Addr) registry.Addr {
	for _, a := range s.Addrs {
		if a.IP == ip {
			return a
		}
	}
	return registry.Addr{IP: ip}
}

func primaryName(s *registry.RecordSet) string {
	if s.Name != "" {
		return s.Name
	}
	if len(s.Names) > 0 {
		return s.Names[0]
	}
	return ""
}

// txtRecords gives one TXT record per container: its ID, image and node.
func (z *zoneConfig) txtRecords(snap *registry.Snapshot, sets []*registry.RecordSet, owner string) []mdns.RR {
	rrs := make([]mdns.RR, 0, len(sets))
	ttl := z.ttl
	for _, s := range sets {
		if n, ok := snap.Node(s.Node); ok && n.Stale {
			ttl = z.staleTTL
		}
		txt := []string{txtString("container=" + s.ContainerID), txtString("node=" + s.Node)}
		if s.Image != "" {
			txt = append(txt, txtString("image="+s.Image))
		}
		rrs = append(rrs, &mdns.TXT{Hdr: z.hdr(owner, mdns.TypeTXT, 0), Txt: txt})
	}
	for _, rr := range rrs {
		rr.Header().Ttl = ttl
	}
	return rrs
}

// txtString escapes s for miekg's TXT presentation form and cuts it to the
// 255 octets a character-string holds.
func txtString(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	if strings.ContainsAny(s, `"\`) {
		s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	}
	return s
}

// srvRecords answers names of the form _<service>._<proto>.<name>: one SRV
// record per matching port of each container behind <name>, the local
// node's with priority 0 and the others with priority 1. A port without a
// service label is found by its number (_8080._tcp.<name>). exists reports
// whether the name (or the empty non-terminal _<proto>.<name>) exists.
func (z *zoneConfig) srvRecords(snap *registry.Snapshot, name, owner string, qtype uint16, ex *explain) (rrs []mdns.RR, exists bool) {
	l1, rest, ok := dnsname.FirstLabel(name)
	if !ok {
		return nil, false
	}
	if proto, ok := srvProto(l1); ok {
		// _tcp.<name>: an empty non-terminal when <name> has such ports.
		for _, s := range snap.Lookup(rest) {
			for _, p := range s.Ports {
				if p.Proto == proto {
					return nil, true
				}
			}
		}
		return nil, false
	}
	l2, parent, ok := dnsname.FirstLabel(rest)
	if !ok || len(l1) < 2 || l1[0] != '_' {
		return nil, false
	}
	proto, ok := srvProto(l2)
	if !ok {
		return nil, false
	}
	service := l1[1:]
	sets := snap.Lookup(parent)
	anyServing := false
	for _, s := range sets {
		if s.Health.Serving() && matchPort(s, service, proto) {
			anyServing = true
		}
	}
	local := snap.LocalNode()
	ttl := z.ttl
	for _, s := range sets {
		for _, p := range s.Ports {
			if p.Proto != proto || !portMatches(p, service) {
				continue
			}
			exists = true
			if qtype != mdns.TypeSRV && qtype != mdns.TypeANY {
				continue
			}
			target := primaryName(s)
			c := Candidate{Node: s.Node, ContainerID: s.ContainerID, Name: target, Health: s.Health.String(), Port: p.Port}
			if !s.Health.Serving() && anyServing {
				c.Reason = "left out: healthcheck " + s.Health.String()
				ex.add(c)
				continue
			}
			if n, ok := snap.Node(s.Node); ok && n.Stale {
				ttl = z.staleTTL
			}
			prio := uint16(1)
			if s.Node == local {
				prio = 0
			}
			c.Included, c.Reason = true, ReasonServed
			ex.add(c)
			rrs = append(rrs, &mdns.SRV{Hdr: z.hdr(owner, mdns.TypeSRV, 0), Priority: prio, Weight: 1, Port: p.Port, Target: target})
		}
	}
	for _, rr := range rrs {
		rr.Header().Ttl = ttl
	}
	shuffle(rrs)
	return rrs, exists
}

func srvProto(label string) (string, bool) {
	switch label {
	case "_tcp":
		return "tcp", true
	case "_udp":
		return "udp", true
	}
	return "", false
}

func matchPort(s *registry.RecordSet, service, proto string) bool {
	for _, p := range s.Ports {
		if p.Proto == proto && portMatches(p, service) {
			return true
		}
	}
	return false
}

func portMatches(p registry.Port, service string) bool {
	if p.Service != "" {
		return strings.EqualFold(p.Service, service)
	}
	return service == strconv.Itoa(int(p.Port))
}

func (z *zoneConfig) hdr(owner string, rrtype uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: owner, Rrtype: rrtype, Class: mdns.ClassINET, Ttl: ttl}
}

// soa returns the zone's SOA record owned by owner.
func (z *zoneConfig) soa(owner string, serial uint32, ttl uint32) *mdns.SOA {
	return &mdns.SOA{
		Hdr: z.hdr(owner, mdns.TypeSOA, ttl), Ns: z.nsName, Mbox: z.mbox, Serial: serial,
		Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: z.negTTL,
	}
}

// glue returns the addresses of the NS target, for the additional section.
func (z *zoneConfig) glue() []mdns.RR {
	var rrs []mdns.RR
	for _, ip := range z.nsAddrs {
		qtype := mdns.TypeAAAA
		if ip.Is4() {
			qtype = mdns.TypeA
		}
		rrs = append(rrs, addrRR(z.nsName, qtype, ip, z.ttl))
	}
	return rrs
}

// zoneRecords returns the whole zone as a secondary should serve it, for a
// transfer (AXFR): the SOA, the NS and its addresses, then for every name in
// order its A, AAAA, TXT and SRV records (or its CNAME), as an asker with no
// network in common would get them (health filtering applies). The SOA that
// ends a transfer is the caller's to add.
func (z *zoneConfig) zoneRecords(snap *registry.Snapshot) []mdns.RR {
	serial := snap.Serial()
	rrs := []mdns.RR{
		z.soa(z.origin, serial, z.ttl),
		&mdns.NS{Hdr: z.hdr(z.origin, mdns.TypeNS, z.ttl), Ns: z.nsName},
	}
	rrs = append(rrs, z.glue()...)
	names := make(map[string]struct{})
	for _, s := range snap.Sets() {
		for _, n := range s.Names {
			names[n] = struct{}{}
		}
		for _, a := range s.Aliases {
			names[a.Name] = struct{}{}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		if dnsname.InZone(n, z.origin) && n != z.origin && n != z.nsName {
			sorted = append(sorted, n)
		}
	}
	slices.Sort(sorted)
	for _, name := range sorted {
		sets := snap.Lookup(name)
		if len(sets) == 0 {
			if a, ok := snap.Alias(name); ok {
				rrs = append(rrs, &mdns.CNAME{Hdr: z.hdr(name, mdns.TypeCNAME, z.ttl), Target: a.Target})
			}
			continue
		}
		rrs = append(rrs, z.addrRecords(snap, sets, name, mdns.TypeA, netip.Addr{}, nil)...)
		rrs = append(rrs, z.addrRecords(snap, sets, name, mdns.TypeAAAA, netip.Addr{}, nil)...)
		rrs = append(rrs, z.txtRecords(snap, sets, name)...)
		var services []string // "_svc._proto." prefixes, once each
		for _, s := range sets {
			for _, p := range s.Ports {
				svc := p.Service
				if svc == "" {
					svc = strconv.Itoa(int(p.Port))
				}
				prefix := "_" + strings.ToLower(svc) + "._" + p.Proto + "."
				if !containsString(services, prefix) {
					services = append(services, prefix)
				}
			}
		}
		slices.Sort(services)
		for _, prefix := range services {
			srv, _ := z.srvRecords(snap, prefix+name, prefix+name, mdns.TypeSRV, nil)
			rrs = append(rrs, srv...)
		}
	}
	return rrs
}
