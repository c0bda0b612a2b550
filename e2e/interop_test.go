package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// This file is issue 4's proof with the machine's real clients: dig and
// kdig against a node on loopback (records, the standards, the zone
// transfer), busybox's nslookup and glibc's getent inside containers whose
// resolver is swarmdns, a client that gets only the address on its own
// network, and health deciding which containers are answered.

// hostsBig and hostsHuge are hosts-file names with many addresses: 60 A
// records take about 1 KB (more than 512 octets, less than 1232), 100 take
// about 1.6 KB (more than 1232).
const (
	hostsBig  = "big.interop.test."
	hostsHuge = "huge.interop.test."
)

func writeManyHosts(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&b, "198.51.100.%d %s\n", i, hostsBig)
	}
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "203.0.113.%d %s\n", i, hostsHuge)
	}
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ipv6Subnet returns a unique-local /64 for this run (fd5d:<run id>::/64),
// clear of the fd00::/64 a test machine's own interfaces may use.
func ipv6Subnet() string {
	id := strings.TrimPrefix(dockertest.RunID(), "sdt")
	return fmt.Sprintf("fd5d:%s:%s::/64", id[:4], id[4:8])
}

// containerIPv6 returns a container's global IPv6 address on a network.
func containerIPv6(t *testing.T, id, network string) string {
	t.Helper()
	return strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{(index .NetworkSettings.Networks \""+network+"\").GlobalIPv6Address}}", id))
}

// mixCase returns name with every other letter upper-case, as a resolver
// using 0x20 encoding would send it.
func mixCase(name string) string {
	b := []byte(name)
	up := false
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			if up {
				b[i] = c - 'a' + 'A'
			}
			up = !up
		}
	}
	return string(b)
}

// clientCase is one question both real clients ask.
type clientCase struct {
	name  string
	args  []string            // for both clients
	extra map[string][]string // per client ("dig", "kdig")
	skip  map[string]string   // per client: why the case does not apply
	check func(r *clientReply) error
}

// TestInteropDigKdig asks a node on loopback every kind of question with
// dig and kdig and checks what they print: A and AAAA on a dual-stack
// network, PTR, SRV (named and by port), TXT, CNAME, ANY (RFC 8482), the
// question's case echoed (0x20), NXDOMAIN and NODATA with the SOA, TCP,
// EDNS0 sizes and truncation with TCP fallback, BADVERS, unknown options
// not echoed, REFUSED for CHAOS, FORMERR and NOTIMP that keep the OPT,
// AXFR, and single-label names.
func TestInteropDigKdig(t *testing.T) {
	clients := []realClient{lookClient(t, "dig"), lookClient(t, "kdig")}
	for _, c := range clients {
		t.Logf("client: %s", c.version())
	}
	hosts := writeManyHosts(t)
	n, scope := startScopedNode(t, "--allow-transfer", "127.0.0.1/32", "--hosts-file", hosts, "--max-udp-size", "1232")
	server := n.DNS()

	network := dockertest.Network(t, dockertest.NetworkOptions{IPv6Subnet: ipv6Subnet()})
	cname := dockertest.Name(t, "www")
	web := dockertest.Run(t, dockertest.RunOptions{
		Networks:     []string{network},
		ExposedPorts: []string{"9100/tcp"},
		Labels:       labels(scope, "swarmdns.srv=http=8080/tcp", "swarmdns.cname="+cname),
	})
	fq := fqdn(web.Name)
	ip4, ip6 := containerIP(t, web.ID, network), containerIPv6(t, web.ID, network)
	if ip6 == "" {
		t.Fatalf("container %s has no IPv6 address on %s", web.Name, network)
	}
	await.Until(t, 10*time.Second, expectAddrs(server, fq, ip4))
	wantAddrs := func(want ...string) func(r *clientReply) error {
		return func(r *clientReply) error {
			if err := r.expect("NOERROR", "qr", "aa", "!tc"); err != nil {
				return err
			}
			if got := r.addrs(); !slices.Equal(got, want) {
				return fmt.Errorf("got addresses %v; want %v", got, want)
			}
			return nil
		}
	}
	wantSOA := func(rcode string) func(r *clientReply) error {
		return func(r *clientReply) error {
			if err := r.expect(rcode, "aa"); err != nil {
				return err
			}
			if len(r.Answer) != 0 {
				return fmt.Errorf("got answer %v; want none", r.Answer)
			}
			if soa := r.soa(); soa == nil || soa.Hdr.Name != zone || soa.Minttl == 0 {
				return fmt.Errorf("got authority %v; want the SOA of %s with a negative TTL", r.Authority, zone)
			}
			return nil
		}
	}
	wantPTR := func(r *clientReply) error {
		if err := r.expect("NOERROR", "aa"); err != nil {
			return err
		}
		if ptrs := r.only(mdns.TypePTR); len(ptrs) != 1 || ptrs[0].(*mdns.PTR).Ptr != fq {
			return fmt.Errorf("got %v; want one PTR to %s", r.Answer, fq)
		}
		return nil
	}
	wantSRV := func(port uint16) func(r *clientReply) error {
		return func(r *clientReply) error {
			if err := r.expect("NOERROR", "aa"); err != nil {
				return err
			}
			srv := r.only(mdns.TypeSRV)
			if len(srv) != 1 {
				return fmt.Errorf("got %v; want one SRV", r.Answer)
			}
			if s := srv[0].(*mdns.SRV); s.Port != port || s.Target != fq || s.Priority != 0 {
				return fmt.Errorf("got %v; want priority 0, port %d, target %s", s, port, fq)
			}
			return nil
		}
	}
	truncated := func(maxSize int) func(r *clientReply) error {
		return func(r *clientReply) error {
			if err := r.expect("NOERROR", "tc"); err != nil {
				return err
			}
			if r.TCP || r.Size > maxSize || len(r.Answer) == 0 {
				return fmt.Errorf("got %d octets over TCP=%v with %d records; want a truncated UDP reply of at most %d octets that still carries records", r.Size, r.TCP, len(r.Answer), maxSize)
			}
			return nil
		}
	}
	full := func(count int, tcp bool, retried bool) func(r *clientReply) error {
		return func(r *clientReply) error {
			if err := r.expect("NOERROR", "!tc"); err != nil {
				return err
			}
			if len(r.Answer) != count || r.TCP != tcp || r.Retried != retried {
				return fmt.Errorf("got %d records (TCP %v, retried %v); want %d (TCP %v, retried %v)", len(r.Answer), r.TCP, r.Retried, count, tcp, retried)
			}
			return nil
		}
	}

	// wantTransfer checks a zone transfer: SOA first and last with one
	// serial, the web container's records in between.
	wantTransfer := func(r *clientReply) error {
		if err := r.expect("NOERROR"); err != nil {
			return err
		}
		rrs := r.Answer
		if len(rrs) < 3 || rrs[0].Header().Rrtype != mdns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != mdns.TypeSOA {
			return fmt.Errorf("got %d records; want the SOA first and last", len(rrs))
		}
		if a, b := rrs[0].(*mdns.SOA).Serial, rrs[len(rrs)-1].(*mdns.SOA).Serial; a != b {
			return fmt.Errorf("serials %d and %d; want the same", a, b)
		}
		want := map[string]bool{fq + " A " + ip4: false, fq + " AAAA " + ip6: false, fq + " TXT": false,
			"_http._tcp." + fq + " SRV": false, "_9100._tcp." + fq + " SRV": false, fqdn(cname) + " CNAME": false}
		for _, rr := range rrs {
			h := rr.Header()
			key := h.Name + " " + mdns.TypeToString[h.Rrtype]
			switch rr := rr.(type) {
			case *mdns.A:
				key += " " + rr.A.String()
			case *mdns.AAAA:
				key += " " + rr.AAAA.String()
			}
			if _, ok := want[key]; ok {
				want[key] = true
			}
		}
		for k, seen := range want {
			if !seen {
				return fmt.Errorf("transfer of %d records lacks %s", len(rrs), k)
			}
		}
		return nil
	}

	mixed := mixCase(fq)
	cases := []clientCase{
		{name: "A", args: []string{fq, "A"}, check: func(r *clientReply) error {
			if err := wantAddrs(ip4)(r); err != nil {
				return err
			}
			if ttl := r.Answer[0].Header().Ttl; ttl != 2 {
				return fmt.Errorf("got TTL %d; want 2 (--ttl 2s)", ttl)
			}
			return nil
		}},
		{name: "AAAA", args: []string{fq, "AAAA"}, check: wantAddrs(ip6)},
		{name: "PTR v4", args: []string{"-x", ip4}, check: wantPTR},
		{name: "PTR v6", args: []string{"-x", ip6}, check: wantPTR},
		{name: "SRV by service label", args: []string{"_http._tcp." + fq, "SRV"}, check: wantSRV(8080)},
		{name: "SRV by exposed port", args: []string{"_9100._tcp." + fq, "SRV"}, check: wantSRV(9100)},
		{name: "TXT", args: []string{fq, "TXT"}, check: func(r *clientReply) error {
			if err := r.expect("NOERROR", "aa"); err != nil {
				return err
			}
			txt := r.only(mdns.TypeTXT)
			if len(txt) != 1 {
				return fmt.Errorf("got %v; want one TXT", r.Answer)
			}
			got := txt[0].(*mdns.TXT).Txt
			for _, want := range []string{"container=" + web.ID, "node=" + n.name, "image=" + dockertest.TestboxTag} {
				if !slices.Contains(got, want) {
					return fmt.Errorf("got TXT %q; want it to hold %q", got, want)
				}
			}
			return nil
		}},
		{name: "CNAME", args: []string{fqdn(cname), "A"}, check: func(r *clientReply) error {
			if err := r.expect("NOERROR", "aa"); err != nil {
				return err
			}
			c := r.only(mdns.TypeCNAME)
			if len(c) != 1 || c[0].(*mdns.CNAME).Target != fq || !slices.Equal(r.addrs(), []string{ip4}) {
				return fmt.Errorf("got %v; want a CNAME to %s and its address %s", r.Answer, fq, ip4)
			}
			return nil
		}},
		{name: "ANY is minimal", args: []string{fq, "ANY"}, check: func(r *clientReply) error {
			if err := wantAddrs(ip4, ip6)(r); err != nil {
				return err
			}
			if len(r.Answer) != 2 {
				return fmt.Errorf("got %v; want only the A and the AAAA (RFC 8482)", r.Answer)
			}
			return nil
		}},
		{name: "ANY at the apex", args: []string{zone, "ANY"}, check: func(r *clientReply) error {
			if err := r.expect("NOERROR", "aa"); err != nil {
				return err
			}
			if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != mdns.TypeSOA {
				return fmt.Errorf("got %v; want the SOA alone", r.Answer)
			}
			return nil
		}},
		{name: "0x20 case echoed", args: []string{mixed, "A"}, skip: map[string]string{
			"kdig": "kdig lower-cases the question before sending it",
		}, check: func(r *clientReply) error {
			if err := wantAddrs(ip4)(r); err != nil {
				return err
			}
			if got := r.Answer[0].Header().Name; got != mixed {
				return fmt.Errorf("got owner %s; want the question's case %s", got, mixed)
			}
			return nil
		}},
		{name: "single-label name", args: []string{web.Name + ".", "A"}, check: wantAddrs(ip4)},
		{name: "NXDOMAIN", args: []string{"nope-" + dockertest.RunID() + "." + zone, "A"}, check: wantSOA("NXDOMAIN")},
		{name: "NODATA", args: []string{fq, "MX"}, check: wantSOA("NOERROR")},
		{name: "TCP", args: []string{"+tcp", fq, "A"}, check: func(r *clientReply) error {
			if !r.TCP {
				return fmt.Errorf("reply not over TCP")
			}
			return wantAddrs(ip4)(r)
		}},
		{name: "EDNS 1232 fits 60 records", args: []string{"+bufsize=1232", hostsBig, "A"}, check: func(r *clientReply) error {
			if err := full(60, false, false)(r); err != nil {
				return err
			}
			if r.EDNS == nil || r.EDNS.UDPSize != 1232 || r.Size <= 512 {
				return fmt.Errorf("got EDNS %+v and %d octets; want udp 1232 and more than 512 octets over UDP", r.EDNS, r.Size)
			}
			return nil
		}},
		{name: "EDNS 4096 capped at --max-udp-size", args: []string{"+bufsize=4096", "+ignore", hostsHuge, "A"}, check: func(r *clientReply) error {
			if err := truncated(1232)(r); err != nil {
				return err
			}
			if r.EDNS == nil || r.EDNS.UDPSize != 1232 || r.Size <= 512 {
				return fmt.Errorf("got EDNS %+v and %d octets; want udp 1232 and more than 512 octets", r.EDNS, r.Size)
			}
			return nil
		}},
		{name: "EDNS 512 truncates", args: []string{"+bufsize=512", "+ignore", hostsBig, "A"}, check: truncated(512)},
		{name: "EDNS below 512 taken as 512", args: []string{"+bufsize=100", "+ignore", hostsBig, "A"}, check: func(r *clientReply) error {
			if err := truncated(512)(r); err != nil {
				return err
			}
			if r.Size <= 256 {
				return fmt.Errorf("got %d octets; want a reply filled towards 512 (RFC 6891 6.2.5)", r.Size)
			}
			return nil
		}},
		{name: "no EDNS truncates at 512", args: []string{"+noedns", "+ignore", hostsBig, "A"}, check: func(r *clientReply) error {
			if r.EDNS != nil {
				return fmt.Errorf("got an OPT %+v in reply to a query without one", r.EDNS)
			}
			return truncated(512)(r)
		}},
		{name: "no EDNS retried over TCP", args: []string{"+noedns", hostsBig, "A"}, check: full(60, true, true)},
		{name: "beyond 1232 over TCP", args: []string{"+tcp", hostsHuge, "A"}, check: full(100, true, false)},
		{name: "BADVERS", args: []string{"+edns=1", fq, "A"}, extra: map[string][]string{"dig": {"+noednsneg"}}, check: func(r *clientReply) error {
			if err := r.expect("BADVERS"); err != nil {
				return err
			}
			if r.EDNS == nil || r.EDNS.Version != 0 || len(r.Answer) != 0 {
				return fmt.Errorf("got EDNS %+v and answer %v; want version 0 and no answer", r.EDNS, r.Answer)
			}
			return nil
		}},
		{name: "unknown EDNS option not echoed", args: []string{"+ednsopt=65001:c0ffee", fq, "A"}, check: func(r *clientReply) error {
			if err := wantAddrs(ip4)(r); err != nil {
				return err
			}
			if r.EDNS == nil || len(r.EDNS.Options) != 0 {
				return fmt.Errorf("got EDNS %+v; want an OPT without options", r.EDNS)
			}
			return nil
		}},
		{name: "unknown type: NODATA", args: []string{fq, "TYPE65400"}, check: wantSOA("NOERROR")},
		{name: "CHAOS class: REFUSED", args: []string{"-c", "CH", "version.bind", "TXT"}, check: func(r *clientReply) error {
			return r.expect("REFUSED")
		}},
		{name: "no question: FORMERR with OPT", args: []string{"+header-only"}, skip: map[string]string{
			"kdig": "kdig always sends a question",
		}, check: func(r *clientReply) error {
			if err := r.expect("FORMERR"); err != nil {
				return err
			}
			if r.EDNS == nil {
				return fmt.Errorf("no OPT: clients take the server for one without EDNS (RFC 6891 6.1.1)")
			}
			return nil
		}},
		{name: "opcode STATUS: NOTIMP with OPT", args: []string{"+opcode=status", zone}, skip: map[string]string{
			"kdig": "kdig has no opcode option",
		}, check: func(r *clientReply) error {
			if err := r.expect("NOTIMP"); err != nil {
				return err
			}
			if r.EDNS == nil {
				return fmt.Errorf("no OPT: clients take the server for one without EDNS (RFC 6891 6.1.1)")
			}
			return nil
		}},
		{name: "several questions on one TCP connection", args: []string{"+tcp", "+keepopen", fq, "A", fq, "TXT"}, check: func(r *clientReply) error {
			if err := r.expect("NOERROR", "aa"); err != nil {
				return err
			}
			if r.Replies != 2 || !r.TCP || len(r.only(mdns.TypeTXT)) != 1 {
				return fmt.Errorf("got %d replies (TCP %v), the last %v; want 2 over TCP, the last a TXT", r.Replies, r.TCP, r.Answer)
			}
			return nil
		}},
		{name: "AXFR", args: []string{"AXFR", zone}, check: wantTransfer},
		{name: "IXFR from an older serial answered with the full zone", args: []string{"ixfr=1", zone}, check: wantTransfer},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range cases {
				if why := tc.skip[c.name]; why != "" {
					t.Logf("%s: not with %s: %s", tc.name, c.name, why)
					continue
				}
				r, err := c.ask(server, append(slices.Clone(tc.args), tc.extra[c.name]...)...)
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
					continue
				}
				if err := tc.check(r); err != nil {
					t.Errorf("%s: %v\n%s", tc.name, err, r.Out)
				}
			}
		})
	}
}

// TestInteropSOASerial checks with dig and kdig that the SOA serial grows
// (RFC 1982) when the zone changes: a container starts, then stops.
func TestInteropSOASerial(t *testing.T) {
	clients := []realClient{lookClient(t, "dig"), lookClient(t, "kdig")}
	n, scope := startScopedNode(t)
	server := n.DNS()
	serials := func() []uint32 {
		t.Helper()
		var out []uint32
		for _, c := range clients {
			r, err := c.ask(server, zone, "SOA")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.expect("NOERROR", "aa"); err != nil || len(r.Answer) != 1 {
				t.Fatalf("SOA: %v; got %v\n%s", err, r.Answer, r.Out)
			}
			out = append(out, r.Answer[0].(*mdns.SOA).Serial)
		}
		return out
	}
	// The serial moves once the change's second is over (registry/serial.go):
	// within about a second of the change, never backwards.
	grew := func(before []uint32, what string) []uint32 {
		t.Helper()
		var after []uint32
		await.Until(t, 3*time.Second, func() error {
			after = serials()
			if after[0] != after[1] {
				return fmt.Errorf("%s: dig saw serial %d, kdig %d; want the same", what, after[0], after[1])
			}
			if d := int32(after[0] - before[0]); d < 0 {
				t.Fatalf("%s: serial went back from %d to %d", what, before[0], after[0])
			} else if d == 0 {
				return fmt.Errorf("%s: serial still %d; want it to grow", what, after[0])
			}
			return nil
		})
		return after
	}
	s0 := serials()
	c := dockertest.Run(t, dockertest.RunOptions{Labels: labels(scope)})
	await.Until(t, 10*time.Second, expectAddrs(server, fqdn(c.Name), containerIP(t, c.ID, "bridge")))
	s1 := grew(s0, "container started")
	dockertest.Docker(t, "rm", "-f", c.ID)
	await.Until(t, 10*time.Second, expectAddrs(server, fqdn(c.Name)))
	grew(s1, "container removed")
}

// resolverClient is one kind of container resolver the tests run.
type resolverClient struct {
	name  string
	image func(t testing.TB) string
}

var resolverClients = []resolverClient{
	{"busybox nslookup", dockertest.BusyboxImage},
	{"glibc getent", dockertest.DebianImage},
}

// TestInteropContainerResolvers runs busybox's nslookup and glibc's getent
// inside containers whose --dns is a node, on the default bridge (the
// container asks the node itself) and on a user-defined network (Docker's
// embedded DNS at 127.0.0.11 forwards to the node). Each resolves a
// container on a third network (so Docker's DNS cannot know it) by its
// short name through the search domain, by its fully qualified name, and
// by its short name without a search domain (the node answers "name." from
// the zone).
func TestInteropContainerResolvers(t *testing.T) {
	images := make([]string, len(resolverClients))
	for i, rc := range resolverClients {
		images[i] = rc.image(t)
	}
	clientNet := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "clients")})
	n := startBoxedNode(t, []string{"bridge", clientNet})
	webNet := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "web")})
	web := dockertest.Run(t, dockertest.RunOptions{Networks: []string{webNet}, Labels: labels(n.scope)})
	ip := containerIP(t, web.ID, webNet)
	await.Until(t, 10*time.Second, expectAddrs(n.server(t, "bridge"), fqdn(web.Name), ip))

	search := strings.TrimSuffix(zone, ".")
	for i, rc := range resolverClients {
		for _, network := range []string{"bridge", clientNet} {
			where := "default bridge"
			if network != "bridge" {
				where = "user-defined network"
			}
			t.Run(rc.name+" on the "+where, func(t *testing.T) {
				dns := containerIP(t, n.box.ID, network)
				withSearch := startClient(t, images[i], network, dns, search)
				noSearch := startClient(t, images[i], network, dns)
				t.Logf("resolv.conf with --dns-search:\n%s", withSearch.resolvConf())
				for _, q := range []struct {
					c    clientBox
					name string
				}{
					{withSearch, web.Name},
					{withSearch, fqdn(web.Name)},
					{noSearch, fqdn(web.Name)},
					{noSearch, web.Name},
				} {
					await.Until(t, 15*time.Second, resolveIn(q.c, images[i], q.name, ip))
				}
			})
		}
	}
}

// TestInteropTwoNetworks is issue 4's network-aware answer with real
// resolvers: a server container on networks X and Y; a client container on
// X only gets the server's address on X, a client on Y only the one on Y,
// whether it asks the node itself or through Docker's embedded DNS, and a
// client on neither network (the test process from 127.0.0.1, the default
// bridge or X's gateway, addresses no container holds; a container on the
// default bridge) gets both. A whoami server shows the source address
// Docker's embedded DNS forwards from.
func TestInteropTwoNetworks(t *testing.T) {
	bb := dockertest.BusyboxImage(t)
	deb := dockertest.DebianImage(t)
	netX := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "x")})
	netY := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "y")})
	n := startBoxedNode(t, []string{"bridge", netX, netY})
	name := "both-" + dockertest.RunID()
	srv := dockertest.Run(t, dockertest.RunOptions{Networks: []string{netX, netY}, Labels: labels(n.scope, "swarmdns.name="+name)})
	ipX, ipY := containerIP(t, srv.ID, netX), containerIP(t, srv.ID, netY)
	fq := fqdn(name)

	// The test process asks on the default bridge: its address there
	// (the bridge's gateway) is in neither X nor Y.
	await.Until(t, 10*time.Second, expectAddrs(n.server(t, "bridge"), fq, ipX, ipY))
	// So does 127.0.0.1 (in the node's namespace).
	r, err := queryIn(n.pid, fq)
	if err != nil {
		t.Fatalf("from 127.0.0.1: %v", err)
	}
	if got := addrsOf(r); !slices.Equal(got, sorted(ipX, ipY)) {
		t.Errorf("from 127.0.0.1: got %v; want %v", got, sorted(ipX, ipY))
	}
	// On X's bridge the host's address is X's gateway: no container holds
	// it, so no network scoping either (the host reaches both networks).
	if err := expectAddrs(n.server(t, netX), fq, ipX, ipY)(); err != nil {
		t.Errorf("test process asking from X's gateway: %v", err)
	}

	for _, tc := range []struct {
		image   string
		network string
		want    []string
	}{
		{bb, netX, []string{ipX}},
		{bb, netY, []string{ipY}},
		{deb, netX, []string{ipX}},
		{deb, netY, []string{ipY}},
		{bb, "bridge", []string{ipX, ipY}},
		{deb, "bridge", []string{ipX, ipY}},
	} {
		dns := containerIP(t, n.box.ID, tc.network)
		c := startClient(t, tc.image, tc.network, dns)
		// Through the container's resolv.conf: Docker's embedded DNS on X
		// and Y, the node itself on the default bridge.
		await.Until(t, 15*time.Second, resolveIn(c, tc.image, fq, tc.want...))
		if tc.image == bb {
			// Straight to the node, by its address on the client's network.
			out, err := c.exec("nslookup", fq, dns)
			if got, _ := nslookupAddrs(out); err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("nslookup %s %s on %s: got %v (%v); want %v\n%s", fq, dns, tc.network, got, err, tc.want, out)
			}
		}
	}

	// Which source address does Docker's embedded DNS forward from? Ask a
	// whoami server through it.
	w := startWhoami(t, netX)
	c := startClient(t, bb, netX, containerIP(t, w.box.ID, netX))
	own := containerIP(t, c.ID, netX)
	var seen []string
	await.Until(t, 15*time.Second, func() error {
		out, err := c.exec("nslookup", "whoami.interop.test")
		if err != nil {
			return fmt.Errorf("nslookup whoami: %v\n%s", err, out)
		}
		seen, _ = nslookupAddrs(out)
		return nil
	})
	if !slices.Equal(seen, []string{own}) {
		t.Errorf("Docker's embedded DNS forwarded from %v; want the client's own address on X %s", seen, own)
	}
	t.Logf("Docker %s: the embedded DNS (127.0.0.11) forwards from the client container's own address %v", dockertest.Docker(t, "version", "-f", "{{.Server.Version}}"), seen)
}

// TestInteropHealth is issue 4's health check over the wire: two
// containers behind one name, each with a healthcheck the test flips
// through a file in a bind mount. A container that is starting or
// unhealthy is left out of the answers and returns once healthy; when
// every container behind the name is unhealthy, all are given.
func TestInteropHealth(t *testing.T) {
	n, scope := startScopedNode(t)
	server := n.DNS()
	dir := t.TempDir()
	flag := func(which string, healthy bool) {
		t.Helper()
		path := filepath.Join(dir, which)
		var err error
		if healthy {
			err = os.WriteFile(path, nil, 0o644)
		} else {
			err = os.Remove(path)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	name := "hc-" + dockertest.RunID()
	run := func(which string) (dockertest.Container, string) {
		c := dockertest.Run(t, dockertest.RunOptions{
			Labels: labels(scope, "swarmdns.name="+name),
			Binds:  []string{dir + ":/flags:ro"},
			Healthcheck: &container.HealthConfig{
				Test:     []string{"CMD", "/testbox", "check-file", "/flags/" + which},
				Interval: 250 * time.Millisecond, Timeout: 2 * time.Second, Retries: 1,
			},
		})
		return c, containerIP(t, c.ID, "bridge")
	}
	flag("a", true)
	_, ipA := run("a")
	_, ipB := run("b") // no flag: starting, then unhealthy
	fq := fqdn(name)
	step := func(what string, want ...string) {
		t.Helper()
		start := time.Now()
		await.Until(t, 20*time.Second, expectAddrs(server, fq, want...))
		t.Logf("%s: %v after %v", what, want, time.Since(start).Round(time.Millisecond))
	}
	// TXT records name every container behind the name, whatever its
	// health: once there are two, b is in the registry.
	await.Until(t, 20*time.Second, func() error {
		r, err := query(server, "udp", fq, mdns.TypeTXT)
		if err != nil {
			return err
		}
		if len(r.Answer) != 2 {
			return fmt.Errorf("%s TXT: got %d records; want 2", fq, len(r.Answer))
		}
		return nil
	})
	step("b starting, then unhealthy: left out", ipA)
	flag("b", true)
	step("b healthy: back", ipA, ipB)
	flag("a", false)
	step("a unhealthy: left out", ipB)
	flag("b", false)
	step("both unhealthy: both given", ipA, ipB)
	flag("a", true)
	step("a healthy again, b still unhealthy", ipA)
	flag("b", true)
	step("both healthy", ipA, ipB)
}

// sorted returns its arguments sorted.
func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
