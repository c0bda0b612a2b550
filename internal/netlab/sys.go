package netlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// lockDir holds one lock file per /24 a lab can use. A lab holds the flock of
// its subnet's file for its whole life, so a lab in another test binary (or a
// parallel test in this one) never picks the same subnet, and a sweep can
// tell a crashed run's leftovers (lock free) from a live lab's (lock held).
// The files are never removed: removing a lock file races with its next user.
const lockDir = "/run/swdns-netlab"

// namePrefix starts every netns and root-namespace link a lab creates; the
// full lab name is namePrefix + two hex digits of the subnet's third octet +
// four random hex digits, e.g. "swdns-nl05a3f2" (14 bytes: it fits in an
// interface name, at most 15).
const namePrefix = "swdns-nl"

// labName matches a lab's root link name and the start of its netns names;
// group 1 is the subnet octet in hex.
var labName = regexp.MustCompile(`^` + namePrefix + `([0-9a-f]{2})[0-9a-f]{4}$`)

// nsName matches a lab's netns names.
var nsName = regexp.MustCompile(`^(` + namePrefix + `[0-9a-f]{6})-(hub|h[0-9]+)$`)

// run runs a command to completion and returns its combined output in the
// error when it fails.
func run(stdin []byte, name string, args ...string) error {
	_, err := output(stdin, name, args...)
	return err
}

// output runs a command and returns its standard output.
func output(stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// ip runs the ip command.
func ip(args ...string) error { return run(nil, "ip", args...) }

// lockSubnet takes the lock for 10.213.<octet>.0/24 without waiting. It
// returns the open lock file (close it to release the lock), or ok false
// when another lab holds it.
func lockSubnet(octet int) (f *os.File, ok bool, err error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, false, fmt.Errorf("lock dir: %w", err)
	}
	path := filepath.Join(lockDir, fmt.Sprintf("subnet-%d.lock", octet))
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open lock: %w", err)
	}
	// flock locks belong to the open file description, so two opens in
	// one process exclude each other too (parallel tests in one binary).
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("flock %s: %w", path, err)
	}
	return f, true, nil
}

// subnetInUse reports whether any address or route of the root namespace
// overlaps p (the default route does not count).
func subnetInUse(p netip.Prefix) (bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("interface addresses: %w", err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ones, _ := n.Mask.Size()
		addr, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		if netip.PrefixFrom(addr.Unmap(), ones).Masked().Overlaps(p) {
			return true, nil
		}
	}
	out, err := output(nil, "ip", "-4", "-j", "route", "show", "table", "all")
	if err != nil {
		return false, err
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return false, fmt.Errorf("parse routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == "" || r.Dst == "default" {
			continue
		}
		dst, err := parsePrefix(r.Dst)
		if err != nil {
			continue
		}
		if dst.Overlaps(p) {
			return true, nil
		}
	}
	return false, nil
}

// parsePrefix parses "a.b.c.d/n" or a bare address (a /32).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// listNetns returns the names of all named network namespaces.
func listNetns() ([]string, error) {
	out, err := output(nil, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		// Lines look like "name" or "name (id: 3)".
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// killNetns sends SIGKILL to every process in the named namespace.
func killNetns(ns string) error {
	out, err := output(nil, "ip", "netns", "pids", ns)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d in %s: %w", pid, ns, err))
		}
	}
	return errors.Join(errs...)
}

// linkExists reports whether the root namespace has a link of that name.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// sweep removes what crashed earlier runs left behind: namespaces and root
// links named like a lab whose subnet lock nobody holds. Anything not named
// like a lab is never touched. It returns what it removed.
func sweep() ([]string, error) {
	found, err := leftovers()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for octet := range found {
		lock, ok, err := lockSubnet(octet)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue // a live lab owns these
		}
		// List again under the lock: what was listed may have been a
		// live lab that has since torn itself down.
		now, err := leftovers()
		if err != nil {
			errs = append(errs, err)
		}
		for _, name := range now[octet] {
			if labName.MatchString(name) {
				if err := ip("link", "del", name); err != nil && linkExists(name) {
					errs = append(errs, err)
					continue
				}
			} else {
				if err := killNetns(name); err != nil && netnsExists(name) {
					errs = append(errs, err)
				}
				if err := ip("netns", "del", name); err != nil && netnsExists(name) {
					errs = append(errs, err)
					continue
				}
			}
			removed = append(removed, name)
		}
		lock.Close()
	}
	return removed, errors.Join(errs...)
}

// leftovers lists the namespaces and root links named like a lab, by the
// subnet octet in their name.
func leftovers() (map[int][]string, error) {
	byOctet := map[int][]string{}
	nss, err := listNetns()
	if err != nil {
		return nil, err
	}
	for _, ns := range nss {
		m := nsName.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		o := labName.FindStringSubmatch(m[1])
		octet, _ := strconv.ParseInt(o[1], 16, 32)
		byOctet[int(octet)] = append(byOctet[int(octet)], ns)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("interfaces: %w", err)
	}
	for _, ifc := range ifs {
		if m := labName.FindStringSubmatch(ifc.Name); m != nil {
			octet, _ := strconv.ParseInt(m[1], 16, 32)
			byOctet[int(octet)] = append(byOctet[int(octet)], ifc.Name)
		}
	}
	return byOctet, nil
}

// netnsExists reports whether a named namespace exists.
func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}
