package registry

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Client is a container of the local node seen as a DNS client: every
// address it holds, on its own networks and on docker_gwbridge (the
// bridge through which a container on overlay networks only reaches its
// node, which the engine lists on that network and not among the
// container's), and the networks it is on. Clients are local: they are not
// gossiped and not in snapshots. A Client handed out by ClientTable is
// shared and must not be modified.
type Client struct {
	// ContainerID is the Docker container ID.
	ContainerID string
	// Name is the container's name, without Docker's leading slash.
	Name string
	// Addrs are every address the container holds (unmapped, sorted).
	Addrs []netip.Addr
	// Networks are the networks it is attached to, sorted by name
	// (docker_gwbridge is not one of them).
	Networks []ClientNetwork
}

// ClientNetwork is one network of a Client.
type ClientNetwork struct {
	// Name is the Docker network's name, as in Addr.Network.
	Name string
	// Local is true for a network of this node only (a bridge): a
	// network of the same name on another node is another network.
	// Swarm-scoped networks (overlays) are the same on every node.
	Local bool
}

// OnNetwork reports whether a container of node, whose address is on the
// network named network, shares that network with the client; local is
// the local node's name. A network of this node only (Local) is shared
// with the local node's containers only.
func (c *Client) OnNetwork(network, node, local string) bool {
	for _, n := range c.Networks {
		if n.Name == network {
			return !n.Local || node == local
		}
	}
	return false
}

// normalize puts c in canonical form: valid unmapped addresses without
// zone, sorted and unique; networks sorted by name and unique.
func (c *Client) normalize() {
	addrs := make([]netip.Addr, 0, len(c.Addrs))
	for _, a := range c.Addrs {
		if a.IsValid() {
			addrs = append(addrs, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	c.Addrs = slices.Compact(addrs)
	nets := slices.Clone(c.Networks)
	slices.SortFunc(nets, func(a, b ClientNetwork) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), boolCompare(a.Local, b.Local))
	})
	c.Networks = slices.CompactFunc(nets, func(a, b ClientNetwork) bool { return a.Name == b.Name })
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func sameClient(a, b *Client) bool {
	return a.ContainerID == b.ContainerID && a.Name == b.Name && slices.Equal(a.Addrs, b.Addrs) && slices.Equal(a.Networks, b.Networks)
}

// ClientTable maps the addresses of the local node's containers to the
// container that holds each, for the DNS server to know who asks. Reads
// (Client) take no lock: they load an immutable map that every write
// replaces. Writes are serialized; the watcher is the only writer. The zero
// value is not usable; make one with NewClientTable.
type ClientTable struct {
	mu     sync.Mutex
	byID   map[string]*Client
	byAddr atomic.Pointer[map[addrKey]*Client]
}

// NewClientTable returns an empty table.
func NewClientTable() *ClientTable {
	t := &ClientTable{byID: make(map[string]*Client)}
	t.publishLocked()
	return t
}

// Client returns the container of the local node that holds addr, and
// false when none does. It is safe for concurrent use and does not block.
func (t *ClientTable) Client(addr netip.Addr) (*Client, bool) {
	c, ok := (*t.byAddr.Load())[keyOf(addr.Unmap())]
	return c, ok
}

// Len returns the number of containers in the table.
func (t *ClientTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// ReplaceClients makes clients the whole table.
func (t *ClientTable) ReplaceClients(clients []Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	byID := make(map[string]*Client, len(clients))
	for _, c := range clients {
		c.normalize()
		byID[c.ContainerID] = &c
	}
	if len(t.byID) == len(byID) {
		same := true
		for id, c := range byID {
			if old, ok := t.byID[id]; !ok || !sameClient(old, c) {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	t.byID = byID
	t.publishLocked()
}

// SetClient adds or replaces one container.
func (t *ClientTable) SetClient(c Client) {
	c.normalize()
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.byID[c.ContainerID]; ok && sameClient(old, &c) {
		return
	}
	t.byID[c.ContainerID] = &c
	t.publishLocked()
}

// RemoveClient removes one container, if the table has it.
func (t *ClientTable) RemoveClient(containerID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byID[containerID]; !ok {
		return
	}
	delete(t.byID, containerID)
	t.publishLocked()
}

// publishLocked builds the address map from byID. Two containers holding
// one address (which Docker does not allow on one node) resolve to the one
// with the smaller ID, so the answer does not depend on map order.
func (t *ClientTable) publishLocked() {
	m := make(map[addrKey]*Client)
	for _, c := range t.byID {
		for _, a := range c.Addrs {
			k := keyOf(a)
			if old, ok := m[k]; !ok || c.ContainerID < old.ContainerID {
				m[k] = c
			}
		}
	}
	t.byAddr.Store(&m)
}
