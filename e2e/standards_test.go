package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/netlab"
)

// The checks of issue 13 ("a zone that secondaries, resolvers and the RFCs
// trust"), with Debian's BIND 9, Unbound and dig.

// TestStandardsBINDSecondary: a BIND 9 secondary of two nodes, configured
// with the README's snippet and a refresh of an hour (min-refresh-time
// 3600, so only NOTIFY can bring a change soon), transfers the zone signed
// with the TSIG key and picks up a container start within seconds; the
// same secondary without the key is refused.
func TestStandardsBINDSecondary(t *testing.T) {
	secret := tsigSecret(t)
	c, host, _ := newStandardsCluster(t, 2, func(h *netlab.Host) []string {
		return []string{
			"--allow-transfer", h.Addr().String(),
			"--transfer-key", "hmac-sha256:" + readmeKeyName + ":" + secret,
			"--notify", h.Addr().String(),
		}
	})
	snippet := clusterSnippet(t, c, "bind-secondary", secret)
	refresh := "\tmin-refresh-time 3600;\n\tmax-refresh-time 3600;\n\trecursion no;\n\tdnssec-validation no;\n"
	dir := t.TempDir()
	named := startNamed(t, host, dir, labPort(host, 53), namedOptions(dir, netip.AddrPortFrom(host.Addr(), 53), refresh)+snippet)
	var serial uint32
	await.Until(t, 30*time.Second, func() error {
		want, err := soaSerialAt(c.dns(0))
		if err != nil {
			return err
		}
		got, err := soaSerialAt(named.addr)
		if err != nil {
			return fmt.Errorf("secondary: %w", err)
		}
		if got != want {
			return fmt.Errorf("secondary at serial %d; node at %d", got, want)
		}
		serial = got
		return nil
	})
	if !strings.Contains(named.proc.Logs(), "TSIG "+readmeKeyName) {
		t.Errorf("named's log does not show the transfer signed with %s", readmeKeyName)
	}

	// A container of node 2 starts: the secondary has it within seconds.
	ct, ip := c.run(1)
	started := time.Now()
	await.Until(t, 20*time.Second, func() error {
		r, err := named.ask(fqdn(ct.Name), mdns.TypeA)
		if err != nil {
			return err
		}
		return hasA(ip)(r)
	})
	took := time.Since(started)
	now, err := soaSerialAt(named.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BIND secondary (refresh 3600 s) answered the new container %v after it started; serial %d -> %d", took.Round(10*time.Millisecond), serial, now)
	if took > 10*time.Second {
		t.Errorf("the secondary took %v to see the container; want seconds (NOTIFY)", took)
	}
	if int32(now-serial) <= 0 {
		t.Errorf("serial after the change %d; want above %d", now, serial)
	}

	// Without the key: the secondary's transfer is refused.
	keyless := regexp.MustCompile(`(?s)key "`+readmeKeyName+`" \{.*?\};\n`).ReplaceAllString(snippet, "")
	keyless = strings.ReplaceAll(keyless, " key "+readmeKeyName, "")
	dir2 := t.TempDir()
	plain := startNamed(t, host, dir2, labPort(host, 5300), namedOptions(dir2, netip.AddrPortFrom(host.Addr(), 5300), refresh)+keyless)
	await.Until(t, 30*time.Second, func() error {
		if logs := plain.proc.Logs(); !strings.Contains(logs, "REFUSED") {
			return fmt.Errorf("named without the key has not logged a refused transfer yet")
		}
		return nil
	})
	if r, err := plain.ask(fqdn(ct.Name), mdns.TypeA); err != nil || r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("the secondary without the key: got %v, %v; want SERVFAIL (no zone)", r, err)
	}
	for _, line := range strings.Split(plain.proc.Logs(), "\n") {
		if strings.Contains(line, "REFUSED") {
			t.Logf("named without the key: %s", strings.TrimSpace(line))
			break
		}
	}
}

// serialWatch polls the serials of servers every 20 ms until stop, and
// keeps the highest each gave (RFC 1982).
type serialWatch struct {
	mu      sync.Mutex
	highest map[string]uint32
	stop    chan struct{}
	done    chan struct{}
}

func watchSerials(servers ...string) *serialWatch {
	w := &serialWatch{highest: map[string]uint32{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, s := range servers {
				if v, err := soaSerialAt(s); err == nil {
					w.mu.Lock()
					if h, ok := w.highest[s]; !ok || int32(v-h) > 0 {
						w.highest[s] = v
					}
					w.mu.Unlock()
				}
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// max stops the watch and returns the highest serial any server gave.
func (w *serialWatch) max() uint32 {
	close(w.stop)
	<-w.done
	var out uint32
	first := true
	for _, v := range w.highest {
		if first || int32(v-out) > 0 {
			out, first = v, false
		}
	}
	return out
}

// sameSerial awaits one serial on every node, held for settle (a change
// that reaches a node in a second its serial has reached shows in its
// serial only when the next second begins, and on the other nodes when
// push/pull carries the stamp: one equal reading is not convergence), and
// returns it and how long that took.
func sameSerial(t *testing.T, c *cluster, timeout time.Duration) (uint32, time.Duration) {
	t.Helper()
	const settle = 1500 * time.Millisecond
	start := time.Now()
	var got uint32
	var since time.Time
	await.Until(t, timeout, func() error {
		var serials []uint32
		for i := range c.nodes {
			s, err := soaSerialAt(c.dns(i))
			if err != nil {
				return err
			}
			serials = append(serials, s)
		}
		for _, s := range serials[1:] {
			if s != serials[0] {
				since = time.Time{}
				return fmt.Errorf("serials %v; want one", serials)
			}
		}
		if since.IsZero() || serials[0] != got {
			got, since = serials[0], time.Now()
		}
		if held := time.Since(since); held < settle {
			return fmt.Errorf("serial %d on every node for %v; want %v", got, held.Round(time.Millisecond), settle)
		}
		return nil
	})
	return got, time.Since(start)
}

// TestStandardsSerial: the serial after a node's restart (kill -9, then
// SIGTERM) is not below any serial either node gave before it, and two
// nodes that have converged serve the same serial.
func TestStandardsSerial(t *testing.T) {
	c, _, args := newStandardsCluster(t, 2, nil)
	servers := []string{c.dns(0), c.dns(1)}
	// Many changes in a few seconds (the serial of old, start time plus one
	// per change, ran ahead of the clock by one per change; a restart then
	// took it down): a container renamed 40 times, and two more.
	w := watchSerials(servers...)
	ct, _ := c.run(0)
	begin := time.Now()
	for i := range 40 {
		dockertest.Docker(t, "rename", ct.ID, dockertest.Name(t, fmt.Sprint("r", i)))
	}
	c.run(0)
	c.run(1)
	changing := time.Since(begin)
	s, took := sameSerial(t, c, 30*time.Second)
	highest := w.max()
	t.Logf("42 changes in %v: both nodes at serial %d %v after the last (highest seen %d)", changing.Round(10*time.Millisecond), s, took.Round(10*time.Millisecond), highest)
	if int32(s-highest) < 0 {
		t.Errorf("converged serial %d below the highest given %d", s, highest)
	}

	for _, restart := range []string{"kill -9", "SIGTERM"} {
		w := watchSerials(servers...)
		before := highest
		if restart == "kill -9" {
			c.nodes[0].kill()
		} else if err := c.nodes[0].stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		c.start(0, args...)
		first, err := soaSerialAt(c.dns(0))
		if err != nil {
			t.Fatal(err)
		}
		s, took := sameSerial(t, c, 30*time.Second)
		highest = w.max()
		t.Logf("after %s and a restart: the restarted node's first serial %d (before: at most %d); both at %d %v later", restart, first, before, s, took.Round(10*time.Millisecond))
		if int32(first-before) < 0 {
			t.Errorf("after %s: the restarted node's first serial %d is below %d, given before", restart, first, before)
		}
		w.mu.Lock()
		for _, srv := range servers {
			if v, ok := w.highest[srv]; ok && int32(v-before) < 0 {
				t.Errorf("after %s: %s served %d at most, below %d", restart, srv, v, before)
			}
		}
		w.mu.Unlock()
		// The lowest each served since: the watch keeps the highest, so
		// ask once more now, after convergence.
		for _, srv := range servers {
			if v, err := soaSerialAt(srv); err != nil || int32(v-before) < 0 {
				t.Errorf("after %s: %s at serial %d (%v); want at least %d", restart, srv, v, err, before)
			}
		}
		if int32(highest-before) < 0 {
			highest = before
		}
	}
}

// digOut runs dig with args and returns what it printed.
func digOut(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, dockertest.Tool(t, "dig"), append([]string{"+tries=1", "+timeout=3"}, args...)...).CombinedOutput()
	return string(out)
}

// digServer is dig's @ and -p for host:port.
func digServer(t *testing.T, server string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"@" + host, "-p", port}
}

// records are the records dig printed in transfer style (AXFR, IXFR):
// every line that is neither a comment nor the TSIG pseudo-record.
func records(out string) []string {
	var rrs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ";") || strings.Contains(line, "\tTSIG\t") {
			continue
		}
		rrs = append(rrs, line)
	}
	return rrs
}

// TestStandardsTransferAndTSIG: IXFR at the current serial is one SOA, over
// TCP and over UDP (dig, signed with the key, the signature verified);
// `dig -y` with a key the node does not hold gets NOTAUTH and BADKEY,
// whether or not the node has keys; a BADVERS reply is counted as BADVERS
// in `swarmdns stats`; a 5-byte COOKIE is FORMERR.
func TestStandardsTransferAndTSIG(t *testing.T) {
	secret := tsigSecret(t)
	keyed, _ := startScopedNode(t, "--allow-transfer", "127.0.0.0/8", "--transfer-key", "hmac-sha256:xfr:"+secret)
	keyless, _ := startScopedNode(t)
	at := digServer(t, keyed.DNS())

	for _, transport := range []string{"+tcp", "+notcp"} {
		await.Until(t, 5*time.Second, func() error {
			serial, err := soaSerialAt(keyed.DNS())
			if err != nil {
				return err
			}
			out := digOut(t, append(at, "-y", "hmac-sha256:xfr:"+secret, zone, fmt.Sprintf("IXFR=%d", serial), transport)...)
			rrs := records(out)
			if strings.Contains(out, "Couldn't verify") || strings.Contains(out, "could not be validated") || strings.Contains(out, "failed") {
				return fmt.Errorf("dig: %s", out)
			}
			if len(rrs) != 1 || !strings.Contains(rrs[0], "\tSOA\t") || !strings.Contains(rrs[0], fmt.Sprint(" ", serial, " ")) {
				if s2, _ := soaSerialAt(keyed.DNS()); s2 != serial {
					return fmt.Errorf("the serial moved on during the check (%d -> %d)", serial, s2)
				}
				t.Fatalf("IXFR=%d %s: got %d records %q; want the one SOA at %d\n%s", serial, transport, len(rrs), rrs, serial, out)
			}
			t.Logf("IXFR=%d %s: %s", serial, transport, rrs[0])
			return nil
		})
	}
	// An older serial over TCP: the whole zone (here the SOA, NS, the
	// node's name, the SOA again).
	out := digOut(t, append(at, "-y", "hmac-sha256:xfr:"+secret, zone, "IXFR=1", "+tcp")...)
	if rrs := records(out); len(rrs) < 3 || !strings.Contains(rrs[0], "\tSOA\t") || !strings.Contains(rrs[len(rrs)-1], "\tSOA\t") {
		t.Errorf("IXFR=1: got %q; want the whole zone between two SOAs\n%s", rrs, out)
	}

	for name, n := range map[string]*node{"node with keys": keyed, "node without keys": keyless} {
		out := digOut(t, append(digServer(t, n.DNS()), "-y", "hmac-sha256:nobody:"+secret, zone, "SOA")...)
		if !strings.Contains(out, "status: NOTAUTH") || !regexp.MustCompile(`nobody\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY`).MatchString(out) {
			t.Errorf("%s: dig -y with an unknown key: want NOTAUTH and a BADKEY TSIG\n%s", name, out)
		}
	}
	wrong := digOut(t, append(at, "-y", "hmac-sha256:xfr:"+tsigSecret(t), zone, "SOA")...)
	if !strings.Contains(wrong, "status: NOTAUTH") || !strings.Contains(wrong, "BADSIG") {
		t.Errorf("dig -y with the wrong secret: want NOTAUTH and BADSIG\n%s", wrong)
	}

	if out := digOut(t, append(at, "+edns=1", "+noednsneg", zone, "SOA")...); !strings.Contains(out, "status: BADVERS") {
		t.Errorf("EDNS version 1: want BADVERS\n%s", out)
	}
	stats, code := runCLI(t, "stats", "--admin", keyed.Admin())
	if code != 0 || !strings.Contains(stats, "BADVERS") || strings.Contains(stats, "BADSIG") {
		t.Errorf("swarmdns stats (exit %d): want BADVERS counted, no BADSIG\n%s", code, stats)
	}
	if out := digOut(t, append(at, "+cookie=0102030405", zone, "SOA")...); !strings.Contains(out, "status: FORMERR") {
		t.Errorf("a 5-byte COOKIE: want FORMERR\n%s", out)
	}
}

// TestStandardsTCPPipelined: RFC 7766 §6.2.1.1 over the wire. On one TCP
// connection, an in-zone query sent right after a forwarded one whose
// upstream never answers is answered first, in milliseconds; the forwarded
// one gets SERVFAIL when the forward times out.
func TestStandardsTCPPipelined(t *testing.T) {
	never := startRawUpstream(t, func(*rawUpstream, *mdns.Msg, *net.UDPAddr) {}) // takes queries, answers none
	n, _ := startScopedNode(t, "--upstream", never.addr)
	conn, err := net.Dial("tcp", n.DNS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	var wire bytes.Buffer
	for i, q := range []struct {
		name  string
		qtype uint16
	}{{"never.example.", mdns.TypeA}, {zone, mdns.TypeSOA}} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.Id = uint16(i + 1)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		wire.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b))))
		wire.Write(b)
	}
	start := time.Now()
	if _, err := conn.Write(wire.Bytes()); err != nil { // both in one segment
		t.Fatal(err)
	}
	var order []string
	for range 2 {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		var r mdns.Msg
		if err := r.Unpack(b); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		order = append(order, fmt.Sprintf("%s %s after %v", r.Question[0].Name, mdns.RcodeToString[r.Rcode], took.Round(time.Millisecond)))
		switch r.Id {
		case 2:
			if len(order) != 1 || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
				t.Errorf("in-zone reply (%s) came second or wrong: %v", order[len(order)-1], r.Answer)
			}
		case 1:
			if r.Rcode != mdns.RcodeServerFailure {
				t.Errorf("forwarded reply: %s; want SERVFAIL", mdns.RcodeToString[r.Rcode])
			}
		}
	}
	t.Logf("pipelined on one connection, forwarded (never answered) then in-zone: %s", strings.Join(order, "; "))
}

// TestStandardsResolvers: Debian's Unbound and BIND 9 as validating
// resolvers (with the root's trust anchor) that send the cluster zone to
// two nodes with the README's stub and forward zones, and its
// validating-resolver exception, answer a container's name; without the
// exception they answer SERVFAIL (the zone cannot be proved insecure).
func TestStandardsResolvers(t *testing.T) {
	anchor := "/usr/share/dns/root.key" // Debian's dns-root-data
	if _, err := os.Stat(anchor); err != nil {
		dockertest.Missing(t, "the root trust anchor (dns-root-data): %v", err)
	}
	c, host, _ := newStandardsCluster(t, 2, nil)
	ct, ip := c.run(1)
	c.expectEverywhere(10*time.Second, []int{0, 1}, fqdn(ct.Name), ip)
	name := fqdn(ct.Name)

	unbound := func(port int, snippet string) string {
		return fmt.Sprintf(`server:
	interface: %s@%d
	username: ""
	chroot: ""
	directory: "%%s"
	pidfile: "%%s/unbound.pid"
	use-syslog: no
	logfile: ""
	num-threads: 1
	do-ip6: no
	access-control: 0.0.0.0/0 allow
	trust-anchor-file: %q
`, host.Addr(), port, anchor) + snippet
	}
	bind := func(dir string, port int, zoneSnippet, except string) string {
		opts := "\trecursion yes;\n\tallow-recursion { any; };\n\tdnssec-validation auto;\n" + except
		return namedOptions(dir, netip.AddrPortFrom(host.Addr(), uint16(port)), opts) + zoneSnippet
	}
	validateExcept := clusterSnippet(t, c, "bind-validate-except", "")
	port := 5400
	for _, tc := range []struct {
		name     string
		software string
		conf     func(dir string, port int) string
		answers  bool
	}{
		{"unbound stub-zone", "unbound", func(dir string, port int) string {
			return unbound(port, clusterSnippet(t, c, "unbound-stub", ""))
		}, true},
		{"unbound forward-zone", "unbound", func(dir string, port int) string {
			return unbound(port, clusterSnippet(t, c, "unbound-forward", ""))
		}, true},
		{"unbound stub-zone without domain-insecure", "unbound", func(dir string, port int) string {
			return unbound(port, strings.Replace(clusterSnippet(t, c, "unbound-stub", ""), "\tdomain-insecure: \"swarm.internal\"\n", "", 1))
		}, false},
		{"BIND stub zone", "named", func(dir string, port int) string {
			return bind(dir, port, clusterSnippet(t, c, "bind-stub", ""), validateExcept)
		}, true},
		{"BIND forward zone", "named", func(dir string, port int) string {
			return bind(dir, port, clusterSnippet(t, c, "bind-forward", ""), validateExcept)
		}, true},
		{"BIND stub zone without validate-except", "named", func(dir string, port int) string {
			return bind(dir, port, clusterSnippet(t, c, "bind-stub", ""), "")
		}, false},
	} {
		port++
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			d := startResolver(t, host, tc.software, port, tc.conf)
			start := time.Now()
			if tc.answers {
				d.await(t, name, mdns.TypeA, hasA(ip))
				t.Logf("%s: %s A %s after %v", tc.name, name, ip, time.Since(start).Round(time.Millisecond))
				return
			}
			// The zone is reached (with checking disabled the name resolves)
			// and it is validation that fails.
			await.Until(t, 30*time.Second, func() error {
				r, err := d.askCD(name, mdns.TypeA, true)
				if err != nil {
					return err
				}
				return hasA(ip)(r)
			})
			r, err := d.ask(name, mdns.TypeA)
			if err != nil || r.Rcode != mdns.RcodeServerFailure {
				t.Fatalf("%s: got %v, %v; want SERVFAIL (the exception is what makes it answer)", tc.name, r, err)
			}
			t.Logf("%s: with CD the address, without it SERVFAIL, after %v", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
	// The reverse zone of the container's subnet, sent to the nodes with the
	// README's reverse snippets beside the cluster zone's: the container's
	// PTR, NXDOMAIN (not SERVFAIL) for an address no container holds, and
	// the zone's names still.
	subnet := containerSubnet(t, ct.ID, "bridge")
	revZone := reverseZoneOf(subnet)
	revSnippet := func(name string) string {
		return strings.ReplaceAll(clusterSnippet(t, c, name, ""), "17.172.in-addr.arpa", revZone)
	}
	ptrName, _ := mdns.ReverseAddr(ip)
	unused, _ := mdns.ReverseAddr(lastHost(subnet).String())
	for _, tc := range []struct {
		name     string
		software string
		conf     func(dir string, port int) string
	}{
		{"unbound stub-zones for the zone and its reverse", "unbound", func(dir string, port int) string {
			return unbound(port, clusterSnippet(t, c, "unbound-stub", "")+revSnippet("unbound-stub-reverse"))
		}},
		{"BIND stub zones for the zone and its reverse", "named", func(dir string, port int) string {
			except := strings.Replace(validateExcept, `"swarm.internal";`, `"swarm.internal"; "`+revZone+`";`, 1)
			return bind(dir, port, clusterSnippet(t, c, "bind-stub", "")+revSnippet("bind-stub-reverse"), except)
		}},
	} {
		port++
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			d := startResolver(t, host, tc.software, port, tc.conf)
			start := time.Now()
			d.await(t, ptrName, mdns.TypePTR, func(r *mdns.Msg) error {
				if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
					return fmt.Errorf("PTR %s: %s %v", ptrName, mdns.RcodeToString[r.Rcode], r.Answer)
				}
				if p, ok := r.Answer[0].(*mdns.PTR); !ok || p.Ptr != name {
					return fmt.Errorf("PTR %s: %v; want %s", ptrName, r.Answer[0], name)
				}
				return nil
			})
			r, err := d.ask(unused, mdns.TypePTR)
			if err != nil || r.Rcode != mdns.RcodeNameError {
				t.Fatalf("PTR %s (no container holds it): %v, %v; want NXDOMAIN", unused, r, err)
			}
			d.await(t, name, mdns.TypeA, hasA(ip))
			t.Logf("%s (zone %s): PTR %s, NXDOMAIN for %s, %s A %s, after %v", tc.name, revZone, name, unused, name, ip, time.Since(start).Round(time.Millisecond))
		})
	}
}

// startResolver starts software (unbound or named) in host on port, with
// the configuration conf makes for its directory.
func startResolver(t *testing.T, host *netlab.Host, software string, port int, conf func(dir string, port int) string) *dnsDaemon {
	t.Helper()
	dir := t.TempDir()
	c := conf(dir, port)
	if software == "unbound" {
		return startUnbound(t, host, dir, labPort(host, port), strings.ReplaceAll(c, "%s", dir))
	}
	return startNamed(t, host, dir, labPort(host, port), c)
}

// containerSubnet returns the subnet of a container's IPv4 address on a
// network.
func containerSubnet(t *testing.T, id, network string) netip.Prefix {
	t.Helper()
	out := strings.TrimSpace(dockertest.Docker(t, "inspect", "-f",
		"{{(index .NetworkSettings.Networks \""+network+"\").IPAddress}}/{{(index .NetworkSettings.Networks \""+network+"\").IPPrefixLen}}", id))
	p, err := netip.ParsePrefix(out)
	if err != nil {
		t.Fatalf("subnet of %s: %q: %v", id, out, err)
	}
	return p.Masked()
}

// reverseZoneOf returns the reverse zone (without the trailing dot) that
// holds an octet-aligned IPv4 subnet, as swarmdns serves it.
func reverseZoneOf(p netip.Prefix) string {
	b := p.Addr().As4()
	labels := []string{"in-addr", "arpa"}
	for i := 0; i < min(p.Bits()/8, 3); i++ {
		labels = append([]string{strconv.Itoa(int(b[i]))}, labels...)
	}
	return strings.Join(labels, ".")
}

// lastHost returns the last address of an IPv4 subnet but its broadcast.
func lastHost(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	v--
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
