package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/netlab"
)

// This file runs Debian's BIND 9 (named) and Unbound next to a cluster, as
// an operator would: as a secondary of the zone, and as resolvers with a
// stub or forward zone for it. Their configuration is the README's: each
// snippet is read from README.md (the fenced block after a
// "<!-- e2e: NAME -->" line), with the example addresses and secret
// replaced by the test's.

// README's example values, replaced by the test's.
const (
	readmePrimary1 = "192.0.2.11"
	readmePrimary2 = "192.0.2.12"
	readmeSecret   = "c3dhcm1kbnMtZXhhbXBsZS1rZXktZG8tbm90LXVzZSE="
	readmeKeyName  = "swarmdns-xfr"
)

// snippetDocs are the files the snippets are read from: the README and
// the docs its details moved to.
var snippetDocs = []string{"../README.md", "../docs/secondaries.md", "../docs/deploying.md"}

// readmeSnippet returns the fenced code block that follows the line
// "<!-- e2e: name -->" in the README or docs/.
func readmeSnippet(t *testing.T, name string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- e2e: " + regexp.QuoteMeta(name) + " -->\\s*```[a-z]*\n(.*?)```")
	for _, f := range snippetDocs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	t.Fatalf("no snippet %q in %v", name, snippetDocs)
	return ""
}

// clusterSnippet is a README snippet with the example primaries replaced by
// the addresses of c's first two nodes and the example secret by secret.
func clusterSnippet(t *testing.T, c *cluster, name, secret string) string {
	t.Helper()
	s := readmeSnippet(t, name)
	for _, r := range [][2]string{
		{readmePrimary1, c.lab.Host(1).Addr().String()},
		{readmePrimary2, c.lab.Host(2).Addr().String()},
		{readmeSecret, secret},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// newStandardsCluster starts nodes nodes (lab hosts 1..nodes) in a lab
// with one more host, for the test's DNS software, which it returns. Each
// node gets extra(that host) as more flags, also when restarted (c.start).
func newStandardsCluster(t *testing.T, nodes int, extra func(dnsHost *netlab.Host) []string) (*cluster, *netlab.Host, []string) {
	t.Helper()
	dockertest.Engine(t)
	c := &cluster{t: t, lab: netlab.New(t, nodes+1), key: newKey(t), lease: 30 * time.Second}
	host := c.lab.Host(nodes + 1)
	var args []string
	if extra != nil {
		args = extra(host)
	}
	for i := range nodes {
		c.names = append(c.names, dockertest.Name(t, "n"+strconv.Itoa(i)))
	}
	c.nodes = make([]*node, nodes)
	for i := range nodes {
		c.start(i, args...)
	}
	return c, host, args
}

// dnsDaemon is named or unbound running in a lab host.
type dnsDaemon struct {
	proc *netlab.Proc
	addr string // host:port it answers on
}

// startNamed runs named in h with conf (a whole named.conf, whose
// directory, pid file and listen address the caller set to dir and addr).
func startNamed(t *testing.T, h *netlab.Host, dir, addr, conf string) *dnsDaemon {
	t.Helper()
	return startDaemon(t, h, dir, addr, conf, daemonKind{
		bin: "named", check: "named-checkconf", conf: "named.conf", args: []string{"-g", "-n", "1", "-c"},
		probe: "version.bind.", probeType: mdns.TypeTXT, probeClass: mdns.ClassCHAOS, // answered without the network
	})
}

// startUnbound runs unbound in h with conf (a whole unbound.conf).
func startUnbound(t *testing.T, h *netlab.Host, dir, addr, conf string) *dnsDaemon {
	t.Helper()
	return startDaemon(t, h, dir, addr, conf, daemonKind{
		bin: "unbound", check: "unbound-checkconf", conf: "unbound.conf", args: []string{"-d", "-c"},
		probe: "localhost.", probeType: mdns.TypeA, probeClass: mdns.ClassINET, // Unbound's own local zone
	})
}

// daemonKind says how to run named or unbound.
type daemonKind struct {
	bin, check, conf string   // the daemon, its configuration checker, the file's name
	args             []string // the daemon's flags before the file (in the foreground)
	probe            string   // a question any reply to shows it is up
	probeType        uint16
	probeClass       uint16
}

// startDaemon writes conf to dir, checks it, runs the daemon in h, and
// waits until it answers on addr.
func startDaemon(t *testing.T, h *netlab.Host, dir, addr, conf string, k daemonKind) *dnsDaemon {
	t.Helper()
	bin := dockertest.Tool(t, k.bin)
	file := filepath.Join(dir, k.conf)
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := h.Command(t.Context(), dockertest.Tool(t, k.check), file).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s\n%s", k.check, err, out, conf)
	}
	d := &dnsDaemon{proc: h.Start(t, bin, append(k.args, file)...), addr: addr}
	await.Until(t, 30*time.Second, func() error {
		d.exited(t)
		m := new(mdns.Msg)
		m.SetQuestion(k.probe, k.probeType)
		m.Question[0].Qclass = k.probeClass
		_, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, d.addr)
		return err
	})
	return d
}

// ask sends one question to the daemon over UDP (recursion desired).
func (d *dnsDaemon) ask(name string, qtype uint16) (*mdns.Msg, error) {
	return d.askCD(name, qtype, false)
}

// askCD is ask with the CD bit (checking disabled: a validating resolver
// answers without validating) as given.
func (d *dnsDaemon) askCD(name string, qtype uint16, cd bool) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.CheckingDisabled = cd
	c := &mdns.Client{Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, d.addr)
	return r, err
}

// await asks until check accepts the reply, or fails the test after 30 s.
func (d *dnsDaemon) await(t *testing.T, name string, qtype uint16, check func(*mdns.Msg) error) {
	t.Helper()
	await.Until(t, 30*time.Second, func() error {
		d.exited(t)
		r, err := d.ask(name, qtype)
		if err != nil {
			return err
		}
		return check(r)
	})
}

// exited fails the test if the daemon has exited.
func (d *dnsDaemon) exited(t *testing.T) {
	t.Helper()
	select {
	case <-d.proc.Done():
		t.Fatalf("%s exited:\n%s", d.addr, d.proc.Logs())
	default:
	}
}

// hasA is a check that the reply holds the A record want (with rcode
// NOERROR).
func hasA(want string) func(*mdns.Msg) error {
	return func(r *mdns.Msg) error {
		if r.Rcode != mdns.RcodeSuccess {
			return fmt.Errorf("rcode %s; want NOERROR with %s", mdns.RcodeToString[r.Rcode], want)
		}
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok && a.A.String() == want {
				return nil
			}
		}
		return fmt.Errorf("answer %v; want %s", r.Answer, want)
	}
}

// labPort is addr:port in a lab host.
func labPort(h *netlab.Host, port int) string {
	return net.JoinHostPort(h.Addr().String(), strconv.Itoa(port))
}

// soaSerialAt asks server (host:port) for the zone's SOA and returns its
// serial.
func soaSerialAt(server string) (uint32, error) {
	r, err := query(server, "udp", zone, mdns.TypeSOA)
	if err != nil {
		return 0, err
	}
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		return 0, fmt.Errorf("SOA: %s with %d answers", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	soa, ok := r.Answer[0].(*mdns.SOA)
	if !ok {
		return 0, fmt.Errorf("SOA: got %v", r.Answer[0])
	}
	return soa.Serial, nil
}

// tsigSecret returns a fresh base64 HMAC-SHA256 secret.
func tsigSecret(t *testing.T) string { return newKey(t) }

// namedOptions is the options block of a test named: its own directory
// and pid file, listening on addr only, no rndc, no IPv6.
func namedOptions(dir string, addr netip.AddrPort, more string) string {
	return fmt.Sprintf(`options {
	directory "%s";
	pid-file "%s/named.pid";
	session-keyfile "%s/session.key";
	listen-on port %d { %s; };
	listen-on-v6 { none; };
	notify no;
%s};
controls { };
`, dir, dir, dir, addr.Port(), addr.Addr(), more)
}
