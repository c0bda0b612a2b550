package e2e

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// startLocalNode runs one node against the real engine that publishes only
// the containers this test process starts.
func startLocalNode(t *testing.T, extra ...string) *node {
	t.Helper()
	dockertest.Engine(t)
	args := append([]string{"--watch-label", dockertest.LabelRun + "=" + dockertest.RunID(), "--ttl", "7s"}, extra...)
	return startNode(t, dockertest.Name(t, "node"), nodeOptions{Args: args})
}

// containerIP returns a container's IPv4 address on a network.
func containerIP(t *testing.T, id, network string) string {
	t.Helper()
	return strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{(index .NetworkSettings.Networks \""+network+"\").IPAddress}}", id))
}

// TestContainerLifecycle is issue 2's first check, over the wire: a started
// container resolves with the configured TTL and back through PTR, a rename
// moves its name, and a stop gives NXDOMAIN with the SOA.
func TestContainerLifecycle(t *testing.T) {
	n := startLocalNode(t)
	server := n.DNS()
	c := dockertest.Run(t, dockertest.RunOptions{})
	ip := containerIP(t, c.ID, "bridge")

	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(c.Name), ip))
	r, err := query(server, "udp", fqdn(c.Name), mdns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Answer[0].Header().Ttl; got != 7 {
		t.Errorf("TTL: got %d; want 7 (--ttl 7s)", got)
	}
	if !r.Authoritative {
		t.Errorf("answer is not authoritative")
	}

	rev, _ := mdns.ReverseAddr(ip)
	r, err = query(server, "udp", rev, mdns.TypePTR)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 || r.Answer[0].(*mdns.PTR).Ptr != fqdn(c.Name) {
		t.Errorf("PTR %s: got %v; want %s", rev, r.Answer, fqdn(c.Name))
	}

	renamed := c.Name + "-renamed"
	dockertest.Docker(t, "rename", c.Name, renamed)
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(renamed), ip))
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(c.Name)))

	dockertest.Docker(t, "stop", "-t", "5", renamed)
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(renamed)))
	r, err = query(server, "udp", fqdn(renamed), mdns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	soa := soaOf(t, r)
	if soa == nil || soa.Hdr.Name != zone {
		t.Fatalf("NXDOMAIN without the zone's SOA: %v", r.Ns)
	}
	if soa.Minttl == 0 || soa.Hdr.Ttl > soa.Minttl {
		t.Errorf("negative TTL: SOA TTL %d, minimum %d; want a non-zero minimum and TTL = min(TTL, minimum)", soa.Hdr.Ttl, soa.Minttl)
	}
}

// TestNamesOverTheWire is issue 2's second check: two networks, aliases,
// Compose services with two replicas, swarmdns.name and swarmdns.enable.
func TestNamesOverTheWire(t *testing.T) {
	n := startLocalNode(t)
	server := n.DNS()

	netA := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "neta")})
	netB := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "netb")})
	alias := dockertest.Name(t, "alias")
	multi := dockertest.Run(t, dockertest.RunOptions{
		Networks: []string{netA, netB},
		Aliases:  map[string][]string{netA: {alias}},
		Labels:   map[string]string{"swarmdns.name": "extra-" + dockertest.RunID() + ",Bad_Name!"},
	})
	ipA, ipB := containerIP(t, multi.ID, netA), containerIP(t, multi.ID, netB)
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(multi.Name), ipA, ipB))
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(alias), ipA, ipB))
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn("extra-"+dockertest.RunID()), ipA, ipB))

	hidden := dockertest.Run(t, dockertest.RunOptions{Labels: map[string]string{"swarmdns.enable": "false"}})
	visible := dockertest.Run(t, dockertest.RunOptions{})
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(visible.Name), containerIP(t, visible.ID, "bridge")))
	if err := expectAddrs(server, fqdn(hidden.Name))(); err != nil {
		t.Errorf("swarmdns.enable=false: %v", err)
	}

	project := dockertest.Name(t, "proj")
	p := dockertest.ComposeUp(t, project, `version: "2.4"
services:
  api:
    image: `+dockertest.TestboxImage(t)+`
    scale: 2
    labels:
      `+dockertest.LabelRun+`: "`+dockertest.RunID()+`"
`)
	ids := strings.Fields(p.Run(t, "ps", "-q", "api"))
	if len(ids) != 2 {
		t.Fatalf("compose ps: got %d api containers; want 2", len(ids))
	}
	var want []string
	for _, id := range ids {
		want = append(want, strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)))
	}
	await.Until(t, 10*time.Second, expectAddrs(server, fqdn("api."+project), want...))
}

// TestForwardingAndTransports is issue 2's fourth and fifth checks against
// the real process: names outside the zone reach a local upstream once and
// then come from the cache; with the upstream down SERVFAIL comes back in
// time; TCP gives the same answer as UDP.
func TestForwardingAndTransports(t *testing.T) {
	up := startUpstream(t)
	n := startLocalNode(t, "--upstream", up.addr)
	server := n.DNS()

	for i := 0; i < 3; i++ {
		r, err := query(server, "udp", "www.example.test.", mdns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if got := addrsOf(r); !slices.Equal(got, []string{"192.0.2.80"}) {
			t.Fatalf("forwarded answer: got %v; want [192.0.2.80]", got)
		}
	}
	if got := up.count("www.example.test."); got != 1 {
		t.Errorf("upstream saw %d queries for a cached name; want 1", got)
	}
	rt, err := query(server, "tcp", "www.example.test.", mdns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(rt); !slices.Equal(got, []string{"192.0.2.80"}) {
		t.Errorf("over TCP: got %v; want [192.0.2.80]", got)
	}

	c := dockertest.Run(t, dockertest.RunOptions{})
	ip := containerIP(t, c.ID, "bridge")
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn(c.Name), ip))
	rt, err = query(server, "tcp", fqdn(c.Name), mdns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(rt); !slices.Equal(got, []string{ip}) {
		t.Errorf("in-zone over TCP: got %v; want [%s]", got, ip)
	}
	if got := up.count(fqdn(c.Name)); got != 0 {
		t.Errorf("an in-zone name reached the upstream %d times", got)
	}

	up.close()
	start := time.Now()
	r, err := query(server, "udp", "down.example.test.", mdns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("upstream down: got %s; want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	t.Logf("SERVFAIL after %v", time.Since(start).Round(time.Millisecond))
}

// TestBadFlagsExit checks that a bad flag exits 2 naming it, and that an
// engine that stays unreachable at start exits non-zero saying so.
func TestBadFlagsExit(t *testing.T) {
	out, code := runCLI(t, "serve", "--ttl", "banana")
	if code != 2 || !strings.Contains(out, "--ttl") {
		t.Errorf("bad --ttl: exit %d, output %q; want 2 naming --ttl", code, out)
	}
	out, code = runCLI(t, "serve", "--dns-listen", "127.0.0.1:0", "--admin-listen", "", "--gossip-listen", "",
		"--upstream", "127.0.0.1:9", "--docker-host", "unix://"+t.TempDir()+"/missing.sock", "--docker-timeout", "2s", "--log-format", "json")
	if code == 0 || !strings.Contains(strings.ToLower(out), "unreachable") {
		t.Errorf("unreachable engine: exit %d, output %q; want non-zero saying unreachable", code, out)
	}
	_, code = runCLI(t, "serve", "--zone", "bad..zone")
	if code != 2 {
		t.Errorf("bad zone: exit %d; want 2", code)
	}
	t.Setenv("SWARMDNS_LEASE", "forever")
	out, code = runCLI(t, "serve")
	if code != 2 || !strings.Contains(out, "SWARMDNS_LEASE") {
		t.Errorf("bad env var: exit %d, output %q; want 2 naming SWARMDNS_LEASE", code, out)
	}
}

// upstream is a local DNS server that stands in for the outside world.
type upstream struct {
	addr   string
	server *mdns.Server
	mu     chan struct{} // a one-slot lock
	counts map[string]int
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: pc.LocalAddr().String(), mu: make(chan struct{}, 1), counts: map[string]int{}}
	u.server = &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		u.mu <- struct{}{}
		u.counts[strings.ToLower(req.Question[0].Name)]++
		<-u.mu
		m := new(mdns.Msg)
		m.SetReply(req)
		if req.Question[0].Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR(req.Question[0].Name + " 300 IN A 192.0.2.80")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	u.server.NotifyStartedFunc = func() { close(started) }
	go func() { _ = u.server.ActivateAndServe() }()
	<-started
	t.Cleanup(u.close)
	return u
}

func (u *upstream) count(name string) int {
	u.mu <- struct{}{}
	defer func() { <-u.mu }()
	return u.counts[strings.ToLower(name)]
}

func (u *upstream) close() { _ = u.server.Shutdown() }
