package e2e

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/swarmdns/swarmdns/internal/dockertest"
)

// This file puts swarmdns where containers can use it as their resolver,
// and runs the resolvers of real container images against it.
//
// Why a node runs inside a container's network namespace: Docker's --dns
// takes an address, never a port, so the node must listen on port 53 at an
// address the containers reach. The host's own addresses do not do: a
// container anywhere on the machine that publishes port 53 (a swarmdns
// stack, say) makes docker-proxy hold 0.0.0.0:53, so the bind fails, and
// Docker's DNAT rules take the port for every local address. A "dnsbox"
// container (testbox sleeping) attached to the networks the clients use
// gives the node its own addresses there; the node is the test's binary,
// started with nsenter into the box's network namespace, so it still
// reaches the engine's socket and its log is the test's. The bridges keep
// every client's own source address (no NAT between a container and
// another container on its network), which the network-aware answers need.

// nsNode is a node running in a dnsbox's network namespace.
type nsNode struct {
	*node
	box   dockertest.Container
	pid   int    // of the box's first process: its network namespace
	scope string // the KEY=VALUE label of the containers it publishes
}

// startBoxedNode starts a dnsbox on networks (the first one at create;
// "bridge" is Docker's default bridge) and a node inside it serving DNS on
// port 53 of the box's addresses, publishing the containers labelled with
// the returned node's scope. It needs root (nsenter), like the e2e tests'
// network namespaces.
func startBoxedNode(t *testing.T, networks []string, extra ...string) *nsNode {
	t.Helper()
	dockertest.Engine(t)
	nsenter := dockertest.Tool(t, "nsenter")
	if os.Geteuid() != 0 {
		dockertest.Missing(t, "entering a container's network namespace needs root")
	}
	box := dockertest.Run(t, dockertest.RunOptions{Name: dockertest.Name(t, "dnsbox"), Networks: networks})
	pid := boxPID(t, box)
	scope := scopeLabel + "=" + dockertest.Name(t, "scope")
	args := append([]string{"--watch-label", scope, "--ttl", "2s", "--dns-listen", ":53"}, extra...)
	n := startNode(t, dockertest.Name(t, "node"), nodeOptions{
		Args: args,
		Wrap: func(argv []string) []string {
			return append([]string{nsenter, "-t", strconv.Itoa(pid), "-n", "--"}, argv...)
		},
	})
	return &nsNode{node: n, box: box, pid: pid, scope: scope}
}

// boxPID returns the host PID of a running container's first process.
func boxPID(t *testing.T, c dockertest.Container) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(dockertest.Docker(t, "inspect", "-f", "{{.State.Pid}}", c.ID)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid of %s: %v (%d)", c.Name, err, pid)
	}
	return pid
}

// server returns the node's DNS address on network, host:53.
func (n *nsNode) server(t *testing.T, network string) string {
	t.Helper()
	return net.JoinHostPort(containerIP(t, n.box.ID, network), "53")
}

// clientBox is a long-running container whose resolver programs the test
// runs with docker exec.
type clientBox struct {
	dockertest.Container
	network string // the one network it is on ("bridge" for the default)
}

var clientSeq atomic.Int64

// startClient runs image (BusyboxImage or DebianImage) sleeping on network
// with dns as its --dns server and search as its --dns-search domains.
func startClient(t *testing.T, image, network, dns string, search ...string) clientBox {
	t.Helper()
	opts := dockertest.RunOptions{Name: dockertest.Name(t, "client"+strconv.Itoa(int(clientSeq.Add(1)))), Image: image, DNS: []string{dns}, DNSSearch: search}
	if network != "bridge" {
		opts.Networks = []string{network}
	}
	switch image {
	case dockertest.BusyboxTag:
		opts.Cmd = []string{"sleep", "3600"}
	case dockertest.DebianTag:
		opts.Cmd = []string{"sleep", "infinity"}
	}
	return clientBox{Container: dockertest.Run(t, opts), network: network}
}

// exec runs argv in the client and returns its output (standard output
// and, on failure, the error with standard error).
func (c clientBox) exec(argv ...string) (string, error) {
	return dockertest.DockerCmd(append([]string{"exec", c.ID}, argv...)...)
}

// resolvConf returns the client's /etc/resolv.conf, for logs.
func (c clientBox) resolvConf() string {
	out, err := c.exec("cat", "/etc/resolv.conf")
	if err != nil {
		return err.Error()
	}
	return out
}

// nslookupAddrs reads busybox nslookup's output: the addresses printed
// after the first "Name:" line, sorted, and the names it printed.
func nslookupAddrs(out string) (addrs, names []string) {
	inAnswer := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Name:"):
			inAnswer = true
			names = append(names, strings.TrimSpace(strings.TrimPrefix(line, "Name:")))
		case inAnswer && strings.HasPrefix(line, "Address"):
			// "Address: 1.2.3.4" (busybox >= 1.28) or "Address 1: 1.2.3.4 name".
			_, rest, _ := strings.Cut(line, ":")
			if f := strings.Fields(rest); len(f) > 0 && !slices.Contains(addrs, f[0]) {
				addrs = append(addrs, f[0])
			}
		}
	}
	slices.Sort(addrs)
	return addrs, names
}

// getentAddrs reads "getent hosts" output ("ADDR NAME [ALIASES]" lines):
// the addresses, sorted, and the canonical names.
func getentAddrs(out string) (addrs, names []string) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if !slices.Contains(addrs, f[0]) {
			addrs = append(addrs, f[0])
		}
		if !slices.Contains(names, f[1]) {
			names = append(names, f[1])
		}
	}
	slices.Sort(addrs)
	return addrs, names
}

// resolveIn returns a condition for await: name resolves in the client,
// with busybox nslookup or glibc getent (by the client's image), to exactly
// want.
func resolveIn(c clientBox, image, name string, want ...string) func() error {
	slices.Sort(want)
	return func() error {
		var out string
		var err error
		var got []string
		if image == dockertest.BusyboxTag {
			out, err = c.exec("nslookup", name)
			got, _ = nslookupAddrs(out)
		} else {
			out, err = c.exec("getent", "hosts", name)
			got, _ = getentAddrs(out)
		}
		if err != nil {
			return fmt.Errorf("%s in %s: %v\n%s", name, c.Name, err, out)
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s in %s: got %v; want %v\n%s", name, c.Name, got, want, out)
		}
		return nil
	}
}

// whoami is a DNS server that answers every A question with the address
// the question came from. It listens on port 53 inside the network
// namespace of a container (its own socket, opened there by the test), so
// containers can name it with --dns and show what source address their
// queries carry.
type whoami struct {
	box    dockertest.Container
	server *mdns.Server
}

// startWhoami starts a box on network and the whoami server in it.
func startWhoami(t *testing.T, network string) *whoami {
	t.Helper()
	box := dockertest.Run(t, dockertest.RunOptions{Name: dockertest.Name(t, "whoami"), Networks: []string{network}})
	pc, err := listenPacketIn(boxPID(t, box), ":53")
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	w := &whoami{box: box}
	w.server = &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(rw mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		if ua, ok := rw.RemoteAddr().(*net.UDPAddr); ok && len(req.Question) == 1 && req.Question[0].Qtype == mdns.TypeA {
			if ip4 := ua.IP.To4(); ip4 != nil {
				m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: req.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET}, A: ip4})
			}
		}
		_ = rw.WriteMsg(m)
	})}
	started := make(chan struct{})
	w.server.NotifyStartedFunc = func() { close(started) }
	go func() { _ = w.server.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = w.server.Shutdown() })
	return w
}

// inNetns runs f on a thread that has entered the network namespace of
// process pid: the sockets f opens stay in that namespace after the thread
// comes back to its own.
func inNetns(pid int, f func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns to %d: %w", pid, err)
	}
	ferr := f()
	if err := setns(self); err != nil {
		// The thread is stuck in the other namespace: leave it locked so
		// it ends with this goroutine instead of serving others.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// listenPacketIn opens a UDP socket on addr in the network namespace of
// process pid.
func listenPacketIn(pid int, addr string) (pc net.PacketConn, err error) {
	err = inNetns(pid, func() error {
		pc, err = net.ListenPacket("udp4", addr)
		return err
	})
	if err != nil && pc != nil {
		pc.Close()
		pc = nil
	}
	return pc, err
}

// queryIn asks name's A records over UDP from inside the network namespace
// of process pid, from 127.0.0.1 to 127.0.0.1:53.
func queryIn(pid int, name string) (*mdns.Msg, error) {
	var conn net.Conn
	err := inNetns(pid, func() (err error) {
		conn, err = net.Dial("udp4", "127.0.0.1:53")
		return err
	})
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	co := &mdns.Conn{Conn: conn}
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	return co.ReadMsg()
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }
