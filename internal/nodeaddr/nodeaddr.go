// Package nodeaddr gives a node its node-local DNS address: one address
// (169.254.53.53 in swarmdns's stack) that every container of the node
// reaches through its default route, the same on every node, as
// Kubernetes' NodeLocal DNSCache does with 169.254.20.10.
//
// Ensure puts the address, as a /32 (or /128), on a dummy interface of its
// own (Link, created up), or on the loopback interface where the kernel has
// no dummy driver. Either way the kernel treats it as a local address: a
// packet from a container arrives through the container's gateway and is
// delivered to whatever is bound to the address, with the container's own
// source address. The address stays when the process stops: a client then
// gets an ICMP port unreachable at once (and Docker's resolver moves on to
// its next dns: server) instead of a timeout, and nothing leaves the node.
// Remove takes it away again, for an uninstall.
//
// Both need CAP_NET_ADMIN in the network namespace the addresses go in (the
// host's, for a service on the host network).
package nodeaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is the dummy interface the address goes on.
const Link = "swarmdns0"

// Result says where Ensure put the address.
type Result struct {
	// Link is the interface that holds the address: Link, or "lo".
	Link string
	// Fallback is true when the address went on lo because the kernel
	// could not make a dummy interface; Reason says why.
	Fallback bool
	Reason   string
	// Added is false when the address was there already (a restart).
	Added bool
}

// Manager adds and removes node addresses through one netlink handle.
type Manager struct {
	h *netlink.Handle
}

// New returns a Manager for the network namespace of the calling process.
func New() (*Manager, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("nodeaddr: netlink: %w", err)
	}
	return &Manager{h: h}, nil
}

// NewWithHandle returns a Manager that works through h (a handle on
// another network namespace, in tests).
func NewWithHandle(h *netlink.Handle) *Manager { return &Manager{h: h} }

// Close releases the netlink handle.
func (m *Manager) Close() { m.h.Close() }

// Ensure makes addr a local address of the namespace: on Link when the
// address is there already or a dummy interface can be made, else on lo.
// It is idempotent.
func (m *Manager) Ensure(addr netip.Addr) (Result, error) {
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsLoopback() || addr.IsMulticast() {
		return Result{}, fmt.Errorf("nodeaddr: %v cannot be a node address", addr)
	}
	addr = addr.Unmap()
	// Where it is already (an earlier run put it there): keep it.
	if link, ok, err := m.holder(addr); err != nil {
		return Result{}, err
	} else if ok {
		return Result{Link: link.Attrs().Name, Fallback: link.Attrs().Name != Link}, m.up(link)
	}
	link, reason, err := m.dummy()
	if err != nil {
		return Result{}, err
	}
	res := Result{Link: Link, Added: true}
	if link == nil {
		lo, err := m.h.LinkByName("lo")
		if err != nil {
			return Result{}, fmt.Errorf("nodeaddr: no dummy interface (%s) and no lo: %w", reason, err)
		}
		link, res.Link, res.Fallback, res.Reason = lo, "lo", true, reason
		if err := m.up(lo); err != nil {
			return Result{}, err
		}
	}
	if err := m.h.AddrAdd(link, netlinkAddr(addr)); err != nil && !errors.Is(err, unix.EEXIST) {
		return Result{}, fmt.Errorf("nodeaddr: add %v to %s: %w", addr, res.Link, err)
	}
	return res, nil
}

// dummy returns Link, creating it (up) when it is missing, or nil and why
// when the kernel cannot make one.
func (m *Manager) dummy() (netlink.Link, string, error) {
	link, err := m.h.LinkByName(Link)
	if err == nil {
		return link, "", m.up(link)
	}
	var notFound netlink.LinkNotFoundError
	if !errors.As(err, &notFound) {
		return nil, "", fmt.Errorf("nodeaddr: look up %s: %w", Link, err)
	}
	d := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: Link}}
	if err := m.h.LinkAdd(d); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Sprintf("the kernel makes no dummy interface: %v", err), nil
		}
		if !errors.Is(err, unix.EEXIST) { // another process made it meanwhile
			return nil, "", fmt.Errorf("nodeaddr: create dummy interface %s: %w", Link, err)
		}
	}
	link, err = m.h.LinkByName(Link)
	if err != nil {
		return nil, "", fmt.Errorf("nodeaddr: look up %s: %w", Link, err)
	}
	return link, "", m.up(link)
}

func (m *Manager) up(link netlink.Link) error {
	if link.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := m.h.LinkSetUp(link); err != nil {
		return fmt.Errorf("nodeaddr: set %s up: %w", link.Attrs().Name, err)
	}
	return nil
}

// holder returns the interface that has addr, if one does.
func (m *Manager) holder(addr netip.Addr) (netlink.Link, bool, error) {
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := m.h.AddrList(nil, family)
	if err != nil {
		return nil, false, fmt.Errorf("nodeaddr: list addresses: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || ip.Unmap() != addr {
			continue
		}
		link, err := m.h.LinkByIndex(a.LinkIndex)
		if err != nil {
			return nil, false, fmt.Errorf("nodeaddr: interface %d of %v: %w", a.LinkIndex, addr, err)
		}
		return link, true, nil
	}
	return nil, false, nil
}

// Remove takes addr away wherever Ensure put it, and deletes Link when no
// address is left on it. It reports what it removed ("" when addr was not
// there); it is idempotent.
func (m *Manager) Remove(addr netip.Addr) (string, error) {
	addr = addr.Unmap()
	link, ok, err := m.holder(addr)
	if err != nil {
		return "", err
	}
	removed := ""
	if ok {
		name := link.Attrs().Name
		if err := m.h.AddrDel(link, netlinkAddr(addr)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return "", fmt.Errorf("nodeaddr: remove %v from %s: %w", addr, name, err)
		}
		removed = addr.String() + " from " + name
	}
	if link, err := m.h.LinkByName(Link); err == nil {
		left, err := m.h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return removed, fmt.Errorf("nodeaddr: list addresses of %s: %w", Link, err)
		}
		if len(globalAddrs(left)) == 0 {
			if err := m.h.LinkDel(link); err != nil {
				return removed, fmt.Errorf("nodeaddr: delete %s: %w", Link, err)
			}
			if removed != "" {
				removed += ", "
			}
			removed += "interface " + Link
		}
	}
	return removed, nil
}

// globalAddrs leaves out the link-local IPv6 addresses the kernel gives an
// interface by itself.
func globalAddrs(addrs []netlink.Addr) []netlink.Addr {
	var out []netlink.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, a)
	}
	return out
}

func netlinkAddr(addr netip.Addr) *netlink.Addr {
	bits := addr.BitLen()
	return &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(addr.AsSlice()), Mask: net.CIDRMask(bits, bits)}}
}
