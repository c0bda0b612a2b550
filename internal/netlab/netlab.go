// Package netlab builds a lab of hosts for multi-node tests: each host is a
// Linux network namespace with its own IPv4 address on a private /24, all
// joined by a bridge, so tests can run real processes on distinct addresses
// and cut the network between them.
//
// Layout of a lab named swdns-nlXXYYYY (XX is the subnet's third octet in
// hex, YYYY random):
//
//	root namespace (the test process)
//	  swdns-nlXXYYYY  veth, 10.213.X.254/24 ───┐
//	netns swdns-nlXXYYYY-hub                    │
//	  br0 bridge ── root ───────────────────────┘
//	         ├──── h1 ── netns swdns-nlXXYYYY-h1: eth0 10.213.X.1/24, lo
//	         ├──── h2 ── netns swdns-nlXXYYYY-h2: eth0 10.213.X.2/24, lo
//	         └──── …
//
// The bridge lives in its own namespace, not the root one: Docker sets the
// root namespace's iptables FORWARD policy to DROP and loads br_netfilter,
// which would filter bridged lab traffic there. The test process reaches
// every host directly through its one veth (UDP or TCP to Host.Addr), and
// the hosts reach the test process at Lab.TestAddr.
//
// Faults (Partition, Isolate, Block, DropPercent, Disconnect) drop packets
// where a real network would lose them, so senders see silence rather than
// errors; Heal removes them all. Each lab holds a lock on its subnet for its
// life, and New removes what crashed earlier runs left behind (only
// namespaces and links named like a lab whose lock is free).
//
// netlab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), the ip command of
// iproute2, and for the packet-dropping faults iptables-restore (either the
// nft or the legacy backend). Without them New skips the test, or fails it
// when the environment has CI=true. Lab and Host methods report errors with
// t.Fatalf, so call them from the goroutine of the test that made the lab.
package netlab

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// MaxHosts is the largest lab New builds. Addresses .1 to .253 of the /24
// are shared between the hosts and the new addresses MoveAddr hands out.
const MaxHosts = 200

// Option changes how New builds a lab.
type Option func(*options)

type options struct {
	mtu int
}

// WithMTU sets the MTU of every link in the lab (the default is the kernel's,
// 1500), e.g. 1280 to check that messages fit a small path MTU.
func WithMTU(mtu int) Option { return func(o *options) { o.mtu = mtu } }

// Lab is a set of hosts on one bridge. It is torn down when the test that
// created it ends.
type Lab struct {
	t      testing.TB
	name   string       // swdns-nlXXYYYY: the root link, and the prefix of every netns
	hub    string       // the hub netns
	subnet netip.Prefix // 10.213.X.0/24
	mtu    int
	lock   *os.File // the subnet lock, held for the lab's life
	hosts  []*Host  // hosts[i-1] is host i

	mu      sync.Mutex
	addrs   []netip.Addr   // addrs[i] is host i's address; addrs[0] unused
	next    int            // last octet MoveAddr hands out next
	faults  []fault        // the faults in force
	applied map[int]string // host -> the rules last loaded into its chain
	hooked  map[int]bool   // host -> INPUT jumps to inChain
	cut     map[int]bool   // host -> its bridge port is in "listening"
	procs   []*Proc        // every process started in the lab
}

// New builds a lab of n hosts, numbered 1 to n, and tears it down in
// t.Cleanup, whether the test passes or not: every process in the lab's
// namespaces is killed, then the namespaces and the root link are deleted.
func New(t testing.TB, n int, opts ...Option) *Lab {
	t.Helper()
	if n < 1 || n > MaxHosts {
		t.Fatalf("netlab: %d hosts; want 1 to %d", n, MaxHosts)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := available(); err != nil {
		unavailable(t, err)
	}
	if removed, err := sweep(); err != nil {
		t.Logf("netlab: removing leftovers of earlier runs: %v", err)
	} else if len(removed) > 0 {
		t.Logf("netlab: removed leftovers of earlier runs: %s", strings.Join(removed, " "))
	}
	lock, octet, err := claimSubnet()
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	name := fmt.Sprintf("%s%02x%04x", namePrefix, octet, rand.N(0x10000))
	l := &Lab{
		t:       t,
		name:    name,
		hub:     name + "-hub",
		subnet:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(octet), 0}), 24),
		mtu:     o.mtu,
		lock:    lock,
		addrs:   make([]netip.Addr, n+1),
		next:    n + 1,
		applied: map[int]string{},
		hooked:  map[int]bool{},
		cut:     map[int]bool{},
	}
	for i := 1; i <= n; i++ {
		l.addrs[i] = l.addr(i)
		l.hosts = append(l.hosts, &Host{lab: l, index: i, ns: fmt.Sprintf("%s-h%d", name, i)})
	}
	t.Cleanup(l.teardown)
	// Creating the first namespace is the real test of privilege.
	if err := ip("netns", "add", l.hub); err != nil {
		unavailable(t, err)
	}
	if err := l.build(); err != nil {
		t.Fatalf("netlab: building %s: %v", name, err)
	}
	t.Logf("netlab: lab %s: hosts %s to %s; the test process is %s", name, l.addrs[1], l.addrs[n], l.TestAddr())
	return l
}

// available reports why namespaces cannot be made, before trying.
func available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the ip command (iproute2): %w", err)
	}
	return nil
}

// unavailable skips the test, or fails it under CI.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("netlab: cannot build a lab (and CI=true, so this fails rather than skips): %v", err)
	}
	t.Skipf("netlab: cannot build a lab: %v", err)
}

// claimSubnet picks a free 10.213.X.0/24 in random order: one no other lab
// holds and no address or route of this machine overlaps.
func claimSubnet() (*os.File, int, error) {
	for _, octet := range rand.Perm(256) {
		lock, ok, err := lockSubnet(octet)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			continue
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(octet), 0}), 24)
		used, err := subnetInUse(p)
		if err != nil {
			lock.Close()
			return nil, 0, err
		}
		if used {
			lock.Close()
			continue
		}
		return lock, octet, nil
	}
	return nil, 0, errors.New("no free subnet in 10.213.0.0/16")
}

// addr returns the address with last octet i in the lab's subnet.
func (l *Lab) addr(i int) netip.Addr {
	a := l.subnet.Addr().As4()
	a[3] = byte(i)
	return netip.AddrFrom4(a)
}

// build creates the links and namespaces after the hub namespace. Each step
// is one ip -batch per namespace. The links get no IPv6 addresses (addrgenmode
// none): the lab is IPv4 only, so nothing can slip past a fault over IPv6
// link-local, and the bridge carries no router or neighbour solicitations.
func (l *Lab) build() error {
	mtu := ""
	if l.mtu > 0 {
		mtu = fmt.Sprintf(" mtu %d", l.mtu)
	}
	var b strings.Builder
	for _, h := range l.hosts {
		fmt.Fprintf(&b, "netns add %s\n", h.ns)
	}
	fmt.Fprintf(&b, "link add name %s%s type veth peer name root%s netns %s\n", l.name, mtu, mtu, l.hub)
	fmt.Fprintf(&b, "link set dev %s addrgenmode none\n", l.name)
	fmt.Fprintf(&b, "addr add %s dev %s\n", netip.PrefixFrom(l.TestAddr(), 24), l.name)
	fmt.Fprintf(&b, "link set dev %s up\n", l.name)
	if err := batch("", b.String()); err != nil {
		return err
	}

	b.Reset()
	b.WriteString("link set dev lo up\n")
	fmt.Fprintf(&b, "link add name br0%s type bridge\n", mtu)
	b.WriteString("link set dev br0 addrgenmode none\n")
	b.WriteString("link set dev br0 up\n")
	b.WriteString("link set dev root addrgenmode none\n")
	b.WriteString("link set dev root master br0 up\n")
	for _, h := range l.hosts {
		fmt.Fprintf(&b, "link add name h%d%s type veth peer name eth0%s netns %s\n", h.index, mtu, mtu, h.ns)
		fmt.Fprintf(&b, "link set dev h%d addrgenmode none\n", h.index)
		fmt.Fprintf(&b, "link set dev h%d master br0 up\n", h.index)
	}
	if err := batch(l.hub, b.String()); err != nil {
		return err
	}

	for _, h := range l.hosts {
		cmds := fmt.Sprintf("link set dev lo up\nlink set dev eth0 addrgenmode none\naddr add %s dev eth0\nlink set dev eth0 up\n",
			netip.PrefixFrom(l.addrs[h.index], 24))
		if err := batch(h.ns, cmds); err != nil {
			return err
		}
	}
	return nil
}

// batch runs ip commands, one a line, in namespace ns ("" for the root one).
func batch(ns, cmds string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return run([]byte(cmds), "ip", args...)
}

// teardown kills every process in the lab, deletes its namespaces and root
// link, releases the subnet, and fails the test if anything is left.
func (l *Lab) teardown() {
	l.mu.Lock()
	procs := slices.Clone(l.procs)
	l.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	var errs []error
	nss, err := l.namespaces()
	if err != nil {
		errs = append(errs, err)
	}
	// Kill what else runs in the namespaces (commands a test started
	// itself), so that none keeps a namespace alive after its deletion.
	for _, ns := range nss {
		if err := killNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if linkExists(l.name) {
		if err := ip("link", "del", l.name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range nss {
		if err := ip("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if left, err := l.namespaces(); err != nil {
		errs = append(errs, err)
	} else if len(left) > 0 {
		errs = append(errs, fmt.Errorf("namespaces left: %s", strings.Join(left, " ")))
	}
	if linkExists(l.name) {
		errs = append(errs, fmt.Errorf("link %s left", l.name))
	}
	l.lock.Close()
	if err := errors.Join(errs...); err != nil {
		l.t.Errorf("netlab: tearing down %s: %v", l.name, err)
	}
}

// namespaces lists the lab's namespaces that exist.
func (l *Lab) namespaces() ([]string, error) {
	all, err := listNetns()
	if err != nil {
		return nil, err
	}
	var mine []string
	for _, ns := range all {
		if strings.HasPrefix(ns, l.name+"-") {
			mine = append(mine, ns)
		}
	}
	return mine, nil
}

// Name returns the lab's name: the name of its link in the root namespace
// and the prefix of all its namespaces.
func (l *Lab) Name() string { return l.name }

// Subnet returns the lab's /24.
func (l *Lab) Subnet() netip.Prefix { return l.subnet }

// TestAddr returns the test process's address in the lab (.254), which every
// host can reach.
func (l *Lab) TestAddr() netip.Addr { return l.addr(254) }

// Len returns the number of hosts.
func (l *Lab) Len() int { return len(l.hosts) }

// Host returns host i, 1 ≤ i ≤ Len().
func (l *Lab) Host(i int) *Host {
	l.t.Helper()
	l.check(i)
	return l.hosts[i-1]
}

// Hosts returns all hosts, host 1 first.
func (l *Lab) Hosts() []*Host { return slices.Clone(l.hosts) }

// check fails the test unless every i is a host index.
func (l *Lab) check(is ...int) {
	l.t.Helper()
	for _, i := range is {
		if i < 1 || i > len(l.hosts) {
			l.t.Fatalf("netlab: no host %d; the lab has hosts 1 to %d", i, len(l.hosts))
		}
	}
}

// Partition drops every packet between a host in a and a host in b, both
// ways. Hosts in neither group, and the test process, still reach both.
// Partitions add up until Heal.
func (l *Lab) Partition(a, b []int) {
	l.t.Helper()
	l.check(a...)
	l.check(b...)
	for _, i := range a {
		if slices.Contains(b, i) {
			l.t.Fatalf("netlab: host %d on both sides of a partition", i)
		}
	}
	l.addFault(fault{kind: faultPartition, a: slices.Clone(a), b: slices.Clone(b)})
}

// Isolate drops every packet between host i and the other hosts, both ways;
// the test process still reaches host i (see Disconnect).
func (l *Lab) Isolate(i int) {
	l.t.Helper()
	l.check(i)
	var others []int
	for j := 1; j <= len(l.hosts); j++ {
		if j != i {
			others = append(others, j)
		}
	}
	l.addFault(fault{kind: faultPartition, a: []int{i}, b: others})
}

// Disconnect cuts host i off from everything, the test process included, as
// if its cable were pulled at the switch; its own link stays up. (It puts the
// host's bridge port in the "listening" state, which forwards nothing.)
func (l *Lab) Disconnect(i int) {
	l.t.Helper()
	l.check(i)
	l.addFault(fault{kind: faultDisconnect, host: i})
}

// Block drops the packets host from sends to host to, and only those: an
// asymmetric partition (to's replies would still reach from, but to never
// hears from it).
func (l *Lab) Block(from, to int) {
	l.t.Helper()
	l.check(from, to)
	if from == to {
		l.t.Fatalf("netlab: Block(%d, %d): a host cannot block itself", from, to)
	}
	l.addFault(fault{kind: faultBlock, from: from, to: to})
}

// DropPercent makes host i's link lossy: each packet host i receives, and
// each packet it sends to another host, is dropped with probability
// percent/100, independently (so a request and its reply both survive with
// probability (1-p)², and a packet to a host that is also lossy meets both
// drops). Packets host i sends to the test process are not dropped. A new
// call replaces host i's earlier rate; 0 removes it.
func (l *Lab) DropPercent(i int, percent float64) {
	l.t.Helper()
	l.check(i)
	if !(percent >= 0 && percent <= 100) {
		l.t.Fatalf("netlab: DropPercent(%d, %v): want 0 to 100", i, percent)
	}
	l.mu.Lock()
	l.faults = slices.DeleteFunc(l.faults, func(f fault) bool { return f.kind == faultLoss && f.host == i })
	l.mu.Unlock()
	if percent == 0 {
		l.t.Logf("netlab: %s: host %d no longer drops packets", l.name, i)
		l.apply()
		return
	}
	l.addFault(fault{kind: faultLoss, host: i, percent: percent})
}

// Heal removes every fault.
func (l *Lab) Heal() {
	l.t.Helper()
	l.mu.Lock()
	l.faults = nil
	l.mu.Unlock()
	l.t.Logf("netlab: %s: heal", l.name)
	l.apply()
}

// MoveAddr gives host i a new address, never used in this lab before, in
// place of its current one, as if the host had come back elsewhere; it
// returns the new address. Sockets bound to the old address stop working;
// those bound to 0.0.0.0 answer at the new one. Faults follow the host.
func (l *Lab) MoveAddr(i int) netip.Addr {
	l.t.Helper()
	l.check(i)
	l.mu.Lock()
	if l.next > 253 {
		l.mu.Unlock()
		l.t.Fatalf("netlab: %s: no address left to move host %d to", l.name, i)
	}
	old, addr := l.addrs[i], l.addr(l.next)
	l.next++
	l.mu.Unlock()
	// Delete first: deleting the primary address would take a secondary
	// in the same subnet with it.
	cmds := fmt.Sprintf("addr del %s dev eth0\naddr add %s dev eth0\n",
		netip.PrefixFrom(old, 24), netip.PrefixFrom(addr, 24))
	if err := batch(l.hosts[i-1].ns, cmds); err != nil {
		l.t.Fatalf("netlab: moving host %d to %s: %v", i, addr, err)
	}
	l.mu.Lock()
	l.addrs[i] = addr
	l.mu.Unlock()
	l.t.Logf("netlab: %s: host %d moved from %s to %s", l.name, i, old, addr)
	l.apply()
	return addr
}

// addFault adds f and applies the faults.
func (l *Lab) addFault(f fault) {
	l.t.Helper()
	l.mu.Lock()
	l.faults = append(l.faults, f)
	l.mu.Unlock()
	l.t.Logf("netlab: %s: %v", l.name, f)
	l.apply()
}

// apply brings every host's rules and bridge port in line with l.faults,
// touching only the hosts whose part changed.
func (l *Lab) apply() {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.hosts {
		rules := renderRules(h.index, l.addrs, l.faults)
		text := strings.Join(rules, "\n")
		if text != l.applied[h.index] {
			in := renderRestore(rules, !l.hooked[h.index])
			if err := run(in, "ip", "netns", "exec", h.ns, "iptables-restore", "-w", "5", "--noflush"); err != nil {
				l.t.Fatalf("netlab: loading host %d's rules: %v", h.index, err)
			}
			l.hooked[h.index] = true
			l.applied[h.index] = text
		}
		if cut := disconnected(h.index, l.faults); cut != l.cut[h.index] {
			// 1 is "listening": with STP off the bridge resets a port
			// set to disabled (0) or blocking (4) to forwarding at
			// once, but leaves listening alone.
			state := "3"
			if cut {
				state = "1"
			}
			if err := ip("-n", l.hub, "link", "set", "dev", fmt.Sprintf("h%d", h.index), "type", "bridge_slave", "state", state); err != nil {
				l.t.Fatalf("netlab: setting host %d's bridge port: %v", h.index, err)
			}
			l.cut[h.index] = cut
		}
	}
}
