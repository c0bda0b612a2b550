package nodeaddr

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// inNewNetns returns a Manager working in a network namespace of its own,
// removed at cleanup. It needs CAP_SYS_ADMIN and CAP_NET_ADMIN: without
// them the test is skipped, or fails under CI=true.
func inNewNetns(t *testing.T) (*Manager, *netlink.Handle) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // also switches this thread into it
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a network namespace of its own: %v (needs root)", err)
		}
		t.Skipf("a network namespace of its own: %v (needs root)", err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); ns.Close() })
	return NewWithHandle(h), h
}

func addrsOn(t *testing.T, h *netlink.Handle, name string) []netip.Addr {
	t.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	list, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Addr
	for _, a := range list {
		ip, _ := netip.AddrFromSlice(a.IP)
		out = append(out, ip.Unmap())
	}
	return out
}

func has(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// TestEnsureAndRemove puts the address on the dummy interface, or on lo on
// a kernel without the dummy driver (as here), keeps it there on a second
// Ensure (a restart), and removes it (and the interface) with Remove.
func TestEnsureAndRemove(t *testing.T) {
	m, h := inNewNetns(t)
	addr := netip.MustParseAddr("169.254.53.53")
	res, err := m.Ensure(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Ensure: %+v", res)
	if !res.Added {
		t.Errorf("first Ensure: Added false")
	}
	if res.Fallback {
		if res.Link != "lo" || res.Reason == "" {
			t.Errorf("fallback: link %q reason %q; want lo and a reason", res.Link, res.Reason)
		}
	} else if res.Link != Link {
		t.Errorf("link %q; want %s", res.Link, Link)
	}
	if got := addrsOn(t, h, res.Link); !has(got, addr) {
		t.Fatalf("%s holds %v; want %v among them", res.Link, got, addr)
	}
	link, _ := h.LinkByName(res.Link)
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s is not up", res.Link)
	}

	again, err := m.Ensure(addr)
	if err != nil {
		t.Fatal(err)
	}
	if again.Added || again.Link != res.Link {
		t.Errorf("second Ensure: %+v; want the same link, nothing added", again)
	}

	removed, err := m.Remove(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Remove: %s", removed)
	if got := addrsOn(t, h, res.Link); has(got, addr) {
		t.Errorf("after Remove %s still holds %v", res.Link, addr)
	}
	if _, err := h.LinkByName(Link); err == nil {
		t.Errorf("after Remove %s still exists", Link)
	}
	if removed2, err := m.Remove(addr); err != nil || removed2 != "" {
		t.Errorf("second Remove: %q, %v; want nothing to do", removed2, err)
	}
}

func TestEnsureRefusesBadAddresses(t *testing.T) {
	m := NewWithHandle(nil)
	for _, s := range []string{"0.0.0.0", "127.0.0.1", "::1", "224.0.0.1"} {
		if _, err := m.Ensure(netip.MustParseAddr(s)); err == nil {
			t.Errorf("Ensure(%s): no error", s)
		}
	}
	if _, err := m.Ensure(netip.Addr{}); err == nil {
		t.Errorf("Ensure(invalid): no error")
	}
}
