package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmdns/swarmdns/internal/await"
)

// The test binary doubles as the programs run in the lab: with
// NETLAB_HELPER set, TestHelperProcess becomes an echo server or a client.

const (
	echoPort = 7000
	// noReply is how long a probe waits before it calls a host
	// unreachable. A lost packet shows only as silence, so every
	// "unreachable" check costs this much.
	noReply = 300 * time.Millisecond
	// settle bounds the wait for something that should work.
	settle = 5 * time.Second
)

// TestHelperProcess is not a test: run with NETLAB_HELPER=echo it serves
// UDP and TCP echo on echoPort, answering "<pid> <payload>", and exits 0 on
// SIGTERM; run with NETLAB_HELPER=udp or tcp it sends one probe to
// NETLAB_TARGET (host:port) and prints the answer, exiting 1 when there is
// none within noReply.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("NETLAB_HELPER")
	if mode == "" {
		return
	}
	switch mode {
	case "echo":
		echoServer()
	case "udp", "tcp":
		reply, err := probe(mode, os.Getenv("NETLAB_TARGET"), "hello")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(reply)
	}
	os.Exit(0)
}

func echoServer() {
	pid := strconv.Itoa(os.Getpid())
	pc, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", echoPort))
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", fmt.Sprintf(":%d", echoPort))
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(pid+" "+string(buf[:n])), from)
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s %s", pid, line)
			}()
		}
	}()
	fmt.Println("ready pid", pid)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	fmt.Println("terminated")
}

// probe sends payload to addr over UDP or TCP and returns the answer.
func probe(network, addr, payload string) (string, error) {
	c, err := net.DialTimeout(network, addr, noReply)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(noReply))
	if network == "tcp" {
		payload += "\n"
	}
	if _, err := c.Write([]byte(payload)); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// helperEnv is the environment of a helper process in the given mode. A
// -race binary sleeps 1 s at exit to flush reports unless GORACE says not to.
func helperEnv(mode string, extra ...string) []string {
	return append(os.Environ(), append([]string{"GORACE=atexit_sleep_ms=0", "NETLAB_HELPER=" + mode}, extra...)...)
}

// startEcho starts the echo server on h and waits until it listens.
func startEcho(t *testing.T, h *Host) *Proc {
	t.Helper()
	cmd := h.Command(context.Background(), os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = helperEnv("echo")
	p := h.StartCmd(t, cmd)
	await.Until(t, settle, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("echo server exited: %v: %s", p.Wait(), p.Logs())
		default:
		}
		if !strings.Contains(p.Logs(), "ready") {
			return errors.New("echo server not ready")
		}
		return nil
	})
	return p
}

// hostProbe runs one UDP probe from host h to addr.
func hostProbe(h *Host, addr netip.Addr) (string, error) {
	return hostProbeTo(h, netip.AddrPortFrom(addr, echoPort).String())
}

// hostProbeTo runs one UDP probe from host h to target (host:port).
func hostProbeTo(h *Host, target string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	cmd := h.Command(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = helperEnv("udp", "NETLAB_TARGET="+target)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("probe from host %d to %s: %w: %s", h.Index(), target, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// testProbe runs one probe from the test process to addr.
func testProbe(network string, addr netip.Addr) (string, error) {
	return probe(network, netip.AddrPortFrom(addr, echoPort).String(), "hello")
}

// reaches waits until from (nil: the test process) gets a UDP echo from
// addr, and returns the echo. One probe waits only noReply, so under load
// it may take a few.
func reaches(t *testing.T, from *Host, addr netip.Addr) string {
	t.Helper()
	return reachesOver(t, "udp", from, addr)
}

// reachesOver is reaches over network ("udp", or "tcp" from the test
// process).
func reachesOver(t *testing.T, network string, from *Host, addr netip.Addr) string {
	t.Helper()
	var reply string
	await.Until(t, settle, func() error {
		var err error
		if from == nil {
			reply, err = testProbe(network, addr)
		} else {
			reply, err = hostProbe(from, addr)
		}
		return err
	})
	return reply
}

// unreachable checks that from (nil: the test process) gets no echo from
// addr within noReply.
func unreachable(t *testing.T, from *Host, addr netip.Addr) {
	t.Helper()
	var reply string
	var err error
	who := "the test process"
	if from == nil {
		reply, err = testProbe("udp", addr)
	} else {
		who = fmt.Sprintf("host %d", from.Index())
		reply, err = hostProbe(from, addr)
	}
	if err == nil {
		t.Fatalf("%s reached %s (reply %q); want no reply", who, addr, reply)
	}
}

func TestReachAndProcesses(t *testing.T) {
	t.Parallel()
	lab := New(t, 3)
	if got := lab.Len(); got != 3 {
		t.Fatalf("Len: got %d; want 3", got)
	}
	h1 := lab.Host(1)
	for i, h := range lab.Hosts() {
		want := lab.Subnet().Addr().As4()
		want[3] = byte(i + 1)
		if got := h.Addr(); got != netip.AddrFrom4(want) {
			t.Errorf("host %d address: got %s; want %s", i+1, got, netip.AddrFrom4(want))
		}
		if !strings.HasPrefix(h.Name(), lab.Name()+"-") || len(lab.Name()) > 15 {
			t.Errorf("host %d netns %q, lab %q: want the lab name (at most 15 bytes) as prefix", i+1, h.Name(), lab.Name())
		}
	}

	p := startEcho(t, h1)
	// The test process reaches host 1 over UDP and TCP, and the echo
	// comes from the very process Proc signals.
	for _, network := range []string{"udp", "tcp"} {
		reply := reachesOver(t, network, nil, h1.Addr())
		if want := fmt.Sprintf("%d hello", p.PID()); reply != want {
			t.Errorf("%s reply: got %q; want %q", network, reply, want)
		}
	}
	// Another host reaches it too.
	reply := reaches(t, lab.Host(2), h1.Addr())
	if want := fmt.Sprintf("%d hello", p.PID()); reply != want {
		t.Errorf("host 2's reply: got %q; want %q", reply, want)
	}
	// A host reaches the test process.
	ln, err := net.ListenPacket("udp4", netip.AddrPortFrom(lab.TestAddr(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	echoed := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-echoed }) // on an early Fatal
	go func() {
		defer close(echoed)
		buf := make([]byte, 100)
		for {
			n, from, err := ln.ReadFrom(buf)
			if err != nil {
				return // ln closed
			}
			ln.WriteTo(append([]byte("back "), buf[:n]...), from)
		}
	}()
	await.Until(t, settle, func() error {
		reply, err := hostProbeTo(lab.Host(3), ln.LocalAddr().String())
		if err == nil && reply != "back hello" {
			t.Fatalf("host 3 to the test process: got %q; want \"back hello\"", reply)
		}
		return err
	})
	ln.Close()
	<-echoed

	// Stop: SIGTERM reaches the program, which exits 0.
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: got %v; want nil (the echo server exits 0 on SIGTERM)", err)
	}
	if !strings.Contains(p.Logs(), "terminated") {
		t.Errorf("echo server's output %q; want it to say it got SIGTERM", p.Logs())
	}

	// Kill: kill -9, then the process is gone and its port closed.
	p = startEcho(t, h1)
	pid := p.PID()
	p.Kill()
	select {
	case <-p.Done():
	default:
		t.Fatal("Kill returned before the process exited")
	}
	var exit *exec.ExitError
	if err := p.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait after Kill: got %v; want killed by SIGKILL", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal 0 to pid %d after Kill: got %v; want ESRCH", pid, err)
	}
	if _, err := testProbe("tcp", h1.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("TCP to the killed server: got %v; want connection refused", err)
	}
	p.Kill() // again: a no-op
}

func TestPartitionAndHeal(t *testing.T) {
	t.Parallel()
	lab := New(t, 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	startEcho(t, h1)
	reaches(t, h2, h1.Addr())

	lab.Partition([]int{1}, []int{2})
	unreachable(t, h2, h1.Addr())
	reaches(t, nil, h1.Addr()) // the test process is on neither side
	reaches(t, h3, h1.Addr())  // nor is host 3

	lab.Heal()
	reaches(t, h2, h1.Addr())

	// Isolate: no host reaches host 1, the test process still does.
	lab.Isolate(1)
	unreachable(t, h2, h1.Addr())
	unreachable(t, h3, h1.Addr())
	reaches(t, nil, h1.Addr())
	lab.Heal()
	reaches(t, h3, h1.Addr())

	// Disconnect: nothing reaches host 1, not even the test process.
	lab.Disconnect(1)
	unreachable(t, nil, h1.Addr())
	unreachable(t, h2, h1.Addr())
	lab.Heal()
	reaches(t, nil, h1.Addr())
	reaches(t, h2, h1.Addr())
}

func TestBlockAndLoss(t *testing.T) {
	t.Parallel()
	lab := New(t, 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	startEcho(t, h1)
	reaches(t, h2, h1.Addr())

	// One way: host 1 never hears host 2; host 3 is not affected.
	lab.Block(2, 1)
	unreachable(t, h2, h1.Addr())
	reaches(t, h3, h1.Addr())
	lab.Heal()
	reaches(t, h2, h1.Addr())

	// The other way: host 2's request arrives but the reply is lost.
	lab.Block(1, 2)
	unreachable(t, h2, h1.Addr())
	reaches(t, nil, h1.Addr())
	lab.Heal()

	lab.DropPercent(1, 100)
	unreachable(t, nil, h1.Addr())
	unreachable(t, h3, h1.Addr())
	lab.DropPercent(1, 0)
	reaches(t, nil, h1.Addr())
	reaches(t, h3, h1.Addr())

	// A partial rate loses some packets and passes others. With p = 0.5 in
	// one direction, 200 probes all passing or all failing has odds 2^-199.
	lab.DropPercent(1, 50)
	c, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(h1.Addr(), echoPort))
	for range 200 {
		if _, err := c.WriteTo([]byte("x"), to); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 100)
	for {
		// Generous: under load a reply can take a while, and counting
		// a late one as lost would only make the count less telling.
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := c.ReadFrom(buf); err != nil {
			break
		}
		got++
	}
	if got == 0 || got == 200 {
		t.Errorf("replies to 200 probes at 50%% loss: got %d; want some but not all", got)
	}
	t.Logf("replies to 200 probes at 50%% loss: %d", got)
}

func TestMoveAddr(t *testing.T) {
	t.Parallel()
	lab := New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	startEcho(t, h1)
	old := h1.Addr()
	reaches(t, h2, old)

	lab.Partition([]int{1}, []int{2})
	addr := lab.MoveAddr(1)
	if addr == old || !lab.Subnet().Contains(addr) || h1.Addr() != addr {
		t.Fatalf("MoveAddr: got %s (Addr %s), old %s; want a new address in %s", addr, h1.Addr(), old, lab.Subnet())
	}
	// The echo server listens on 0.0.0.0, so it answers at the new
	// address; the partition followed the host.
	reaches(t, nil, addr)
	unreachable(t, nil, old)
	unreachable(t, h2, addr)
	lab.Heal()
	reaches(t, h2, addr)
}

func TestTeardown(t *testing.T) {
	var (
		name string
		proc *Proc
		raw  *exec.Cmd
	)
	t.Run("lab", func(t *testing.T) {
		lab := New(t, 2, WithMTU(1280))
		name = lab.Name()
		out, err := lab.Host(1).Command(context.Background(), "ip", "-o", "link", "show", "dev", "eth0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "mtu 1280") {
			t.Errorf("host 1's eth0: got %q, %v; want mtu 1280", out, err)
		}
		out, err = lab.Host(1).Command(context.Background(), "ip", "-6", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("host 1's IPv6 addresses: got %q, %v; want none", out, err)
		}
		proc = lab.Host(1).Start(t, "sleep", "60")
		// A process the test starts itself, not through Start, is
		// killed too, so it cannot keep a namespace alive.
		raw = lab.Host(2).Command(context.Background(), "sleep", "60")
		if err := raw.Start(); err != nil {
			t.Fatal(err)
		}
		lab.Partition([]int{1}, []int{2})
		lab.Disconnect(2)
	})
	if name == "" {
		t.Fatal("the lab was not built")
	}
	select {
	case <-proc.Done():
	default:
		t.Error("a process started with Start outlived its lab")
	}
	if err := raw.Wait(); err == nil {
		t.Error("a process started with Command exited 0; want it killed")
	}
	nss, err := listNetns()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		if strings.HasPrefix(ns, name) {
			t.Errorf("namespace %s left after teardown", ns)
		}
	}
	if linkExists(name) {
		t.Errorf("link %s left after teardown", name)
	}
}

func TestSweep(t *testing.T) {
	lab := New(t, 1)
	// The leftovers of a crashed run: a namespace and a root link named
	// like a lab whose subnet lock is free. A subnet this process has
	// never used is free unless a parallel run holds it; look for one.
	octet := -1
	for _, o := range rand.Perm(256) {
		if lock, ok, err := lockSubnet(o); err == nil && ok {
			lock.Close()
			octet = o
			break
		}
	}
	if octet < 0 {
		t.Fatal("no free subnet lock")
	}
	stale := fmt.Sprintf("%s%02x%04x", namePrefix, octet, rand.N(0x10000))
	// Leftovers of a live lab (same subnet as ours, other suffix) and a
	// namespace not named like a lab at all must stay.
	live := fmt.Sprintf("%s%04x", lab.Name()[:len(namePrefix)+2], rand.N(0x10000))
	if live == lab.Name() {
		t.Skip("drew the live lab's own name; run again")
	}
	other := "swdns-test-" + lab.Name()[len(namePrefix):]
	for _, ns := range []string{stale + "-hub", stale + "-h1", live + "-h1", other} {
		if err := ip("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ip("netns", "del", ns) })
	}
	if err := ip("link", "add", "name", stale, "type", "veth", "peer", "name", "root", "netns", stale+"-hub"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip("link", "del", stale) })
	// A process the crashed run left running in its namespace.
	orphan := exec.Command("ip", "netns", "exec", stale+"-h1", "sleep", "60")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.Process.Kill() })
	await.Until(t, settle, func() error {
		out, err := output(nil, "ip", "netns", "pids", stale+"-h1")
		if err != nil || !slices.Contains(strings.Fields(string(out)), strconv.Itoa(orphan.Process.Pid)) {
			return fmt.Errorf("pid %d not in %s yet: %q, %v", orphan.Process.Pid, stale+"-h1", out, err)
		}
		return nil
	})

	removed, err := sweep()
	if err != nil {
		t.Fatal(err)
	}
	nss, err := listNetns()
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, ns := range nss {
		has[ns] = true
	}
	// A parallel New may have swept the stale ones first; either way they
	// are gone.
	for _, ns := range []string{stale + "-hub", stale + "-h1"} {
		if has[ns] {
			t.Errorf("stale namespace %s left by sweep (removed %v)", ns, removed)
		}
	}
	if linkExists(stale) {
		t.Errorf("stale link %s left by sweep (removed %v)", stale, removed)
	}
	if err := orphan.Wait(); err == nil {
		t.Error("the process in a stale namespace exited 0; want it killed by sweep")
	}
	for _, ns := range []string{live + "-h1", other, lab.Host(1).Name(), lab.Name() + "-hub"} {
		if !has[ns] {
			t.Errorf("sweep removed %s, which it must not touch", ns)
		}
	}
}

// TestUnprivileged runs a lab test as an unprivileged user: it must skip,
// and fail under CI=true.
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	// The test binary's own directory is private to root; copy it where
	// nobody can run it.
	dir, err := os.MkdirTemp("", "netlab-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := dir + "/netlab.test"
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{ci: "", wantFail: false, want: "--- SKIP: TestReachAndProcesses"},
		{ci: "true", wantFail: true, want: "CI=true, so this fails"},
	} {
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			exe, "-test.run=^TestReachAndProcesses$", "-test.v")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CI="+tt.ci, "GORACE=atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tt.wantFail || !strings.Contains(string(out), tt.want) {
			t.Errorf("CI=%q as nobody: got error %v and output\n%s\nwant failed=%v and %q", tt.ci, err, out, tt.wantFail, tt.want)
		}
	}
}
