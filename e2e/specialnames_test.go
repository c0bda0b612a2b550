package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// TestStandardsSpecialUseNames is issue 13's seventh check, on a node that
// serves DNS on a wildcard address with gossip off (the setup in which
// ns.<zone> used to be NXDOMAIN): containers that ask for localhost, the
// zone's NS target ns and the zone's top-level label internal cannot
// change what localhost. (loopback, RFC 6761), ns.<zone> (the server) and
// internal. (not the zone's) answer; the containers that asked for
// localhost and ns get an alternative name instead, which the log reports
// and the records list. The containers are named so, as a user would name
// them (container names are the engine's, so one a crashed run of this
// test left behind, with the test's label, is removed first).
func TestStandardsSpecialUseNames(t *testing.T) {
	n := startLocalNode(t, "--dns-listen", "0.0.0.0:0", "--gossip-listen", "")
	_, port, err := net.SplitHostPort(n.DNS())
	if err != nil {
		t.Fatal(err)
	}
	server := net.JoinHostPort("127.0.0.1", port)
	run := func(name string) (dockertest.Container, string) {
		stale := dockertest.Docker(t, "ps", "-aq", "--filter", "name=^/"+name+"$", "--filter", "label="+dockertest.LabelRun)
		for _, id := range strings.Fields(stale) {
			dockertest.Remove(t, id)
		}
		ct := dockertest.Run(t, dockertest.RunOptions{Name: name})
		return ct, containerIP(t, ct.ID, "bridge")
	}
	_, lhIP := run("localhost")
	_, nsIP := run("ns")
	top, topIP := run("internal")
	await.Until(t, 10*time.Second, expectAddrs(server, fqdn(top.Name), topIP))

	// The alternatives answer, and the log says why.
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn("localhost-container"), lhIP))
	await.Until(t, 5*time.Second, expectAddrs(server, fqdn("ns-container"), nsIP))
	for _, alt := range []string{"localhost-container", "ns-container"} {
		if _, err := n.waitLog(5*time.Second, func(l map[string]any) bool {
			msg, _ := l["message"].(string)
			return l["level"] == "warn" && strings.Contains(msg, "the server's own name") && strings.Contains(msg, `"`+alt+`"`)
		}); err != nil {
			t.Errorf("no warning about %s: %v", alt, err)
		}
	}
	out, code := runCLI(t, "records", "--name", fqdn("ns-container"), "--admin", n.Admin())
	if code != 0 || !strings.Contains(out, nsIP) {
		t.Errorf("swarmdns records --name %s: exit %d; want the ns container's %s:\n%s", fqdn("ns-container"), code, nsIP, out)
	}

	ask := func(name string, qtype uint16) *mdns.Msg {
		t.Helper()
		r, err := query(server, "udp", name, qtype)
		if err != nil {
			t.Fatalf("%s %s: %v", name, mdns.Type(qtype), err)
		}
		return r
	}
	for _, c := range []struct {
		name  string
		qtype uint16
		want  string
	}{{"localhost.", mdns.TypeA, "127.0.0.1"}, {"LocalHost.", mdns.TypeAAAA, "::1"}, {"db.localhost.", mdns.TypeA, "127.0.0.1"}} {
		r := ask(c.name, c.qtype)
		if got := addrsOf(r); r.Rcode != mdns.RcodeSuccess || !r.Authoritative || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s %s: %s aa=%v %v; want %s only (loopback, not the container's %s)", c.name, mdns.Type(c.qtype), mdns.RcodeToString[r.Rcode], r.Authoritative, got, c.want, lhIP)
		}
	}
	r := ask(fqdn("localhost"), mdns.TypeA)
	if r.Rcode != mdns.RcodeNameError {
		t.Errorf("%s A: %s %v; want NXDOMAIN (the container is localhost-container)", fqdn("localhost"), mdns.RcodeToString[r.Rcode], addrsOf(r))
	}

	// ns.<zone> is the server: an address, never the container's.
	r = ask(fqdn("ns"), mdns.TypeA)
	if got := addrsOf(r); r.Rcode != mdns.RcodeSuccess || len(got) == 0 || strings.Contains(strings.Join(got, ","), nsIP) {
		t.Errorf("%s A: %s %v; want the server's address, not the container's %s", fqdn("ns"), mdns.RcodeToString[r.Rcode], got, nsIP)
	}
	soa := ask(zone, mdns.TypeSOA)
	if len(soa.Answer) != 1 || soa.Answer[0].(*mdns.SOA).Ns != fqdn("ns") {
		t.Errorf("SOA %s: %v; want MNAME %s", zone, soa.Answer, fqdn("ns"))
	}

	// internal. is not the container's, nor the zone's: no authoritative
	// answer with the zone's SOA (the node forwards it; its upstream is
	// closed, so SERVFAIL).
	for _, qtype := range []uint16{mdns.TypeSOA, mdns.TypeA} {
		r := ask("internal.", qtype)
		if r.Authoritative || len(r.Answer) > 0 || len(r.Ns) > 0 {
			t.Errorf("internal. %s: %s aa=%v answer %v authority %v; want no answer of the zone", mdns.Type(qtype), mdns.RcodeToString[r.Rcode], r.Authoritative, r.Answer, r.Ns)
		}
	}
	t.Logf("ns.%s A %v; localhost-container %s, ns-container %s", zone, addrsOf(ask(fqdn("ns"), mdns.TypeA)), lhIP, nsIP)
}
