package watcher

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/swarmdns/swarmdns/registry"
)

// ClientStore receives the local node's containers as DNS clients (every
// address each holds, docker_gwbridge's included, and its networks), so
// that the DNS server knows which container asks. Unlike Store it holds
// every running container with an address of its own, published or not
// (hidden by a label, outside --watch-label). *registry.ClientTable
// satisfies it.
type ClientStore interface {
	ReplaceClients(clients []registry.Client)
	SetClient(c registry.Client)
	RemoveClient(containerID string)
}

var _ ClientStore = (*registry.ClientTable)(nil)

// gatewayBridge is the bridge through which a Swarm task whose networks
// are all overlays reaches its node (and the node-local DNS address). The
// engine lists its endpoints on the network, not among the container's
// networks.
const gatewayBridge = "docker_gwbridge"

// ClientFor turns a container's inspect response into the client it is
// when it sends DNS queries: its addresses on its networks, plus gateway
// (its docker_gwbridge address) when valid. local says whether a network
// (by ID) belongs to this node only. ok is false for a container that is
// not running, or that has no address of its own (host network, none, or
// another container's network, whose queries come from that container).
func ClientFor(c container.InspectResponse, gateway netip.Addr, local func(networkID string) bool) (cl registry.Client, ok bool) {
	if c.ContainerJSONBase == nil || c.State == nil || !c.State.Running {
		return cl, false
	}
	if c.HostConfig != nil {
		if mode := c.HostConfig.NetworkMode; mode.IsHost() || mode.IsNone() || mode.IsContainer() {
			return cl, false
		}
	}
	cl = registry.Client{ContainerID: c.ID, Name: strings.TrimPrefix(c.Name, "/")}
	for _, name := range sortedNetworks(c) {
		ep := c.NetworkSettings.Networks[name]
		held := false
		for _, s := range []string{ep.IPAddress, ep.GlobalIPv6Address} {
			if ip, err := netip.ParseAddr(s); err == nil && !ip.IsUnspecified() {
				cl.Addrs = append(cl.Addrs, ip.Unmap())
				held = true
			}
		}
		if held {
			cl.Networks = append(cl.Networks, registry.ClientNetwork{Name: name, Local: local(ep.NetworkID)})
		}
	}
	if gateway.IsValid() {
		cl.Addrs = append(cl.Addrs, gateway.Unmap())
	}
	return cl, len(cl.Addrs) > 0
}

// networkInfo is what the watcher knows of the engine's networks for its
// clients: which are local, and the docker_gwbridge address of each
// container. Owned by Run's goroutine.
type networkInfo struct {
	local    map[string]bool       // network ID -> scope "local"
	gateways map[string]netip.Addr // container ID -> its docker_gwbridge address
}

// loadNetworks lists the engine's networks (their scopes) and reads the
// endpoints of docker_gwbridge.
func (w *Watcher) loadNetworks(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	list, err := w.cli.NetworkList(lctx, network.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing networks: %w", err)
	}
	local := make(map[string]bool, len(list))
	for _, n := range list {
		local[n.ID] = n.Scope != "swarm"
	}
	w.nets.local = local
	return w.loadGateways(ctx)
}

// loadGateways reads the docker_gwbridge endpoints (none when the engine
// is in no Swarm).
func (w *Watcher) loadGateways(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	gw, err := w.cli.NetworkInspect(lctx, gatewayBridge, network.InspectOptions{})
	gateways := make(map[string]netip.Addr)
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("inspecting %s: %w", gatewayBridge, err)
	default:
		for id, ep := range gw.Containers {
			if p, err := netip.ParsePrefix(ep.IPv4Address); err == nil {
				gateways[id] = p.Addr()
			}
		}
	}
	w.nets.gateways = gateways
	return nil
}

// networkLocal reports whether the network with that ID is a local one,
// asking the engine about a network created since the last list (a network
// it cannot find is taken as local: only its own node can have it).
func (w *Watcher) networkLocal(ctx context.Context, id string) bool {
	if local, ok := w.nets.local[id]; ok {
		return local
	}
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	n, err := w.cli.NetworkInspect(lctx, id, network.InspectOptions{})
	if err != nil {
		return true
	}
	if w.nets.local == nil {
		w.nets.local = make(map[string]bool)
	}
	w.nets.local[id] = n.Scope != "swarm"
	return w.nets.local[id]
}

// clientOf is ClientFor with what the watcher knows of the networks. A
// running container on a Swarm-wide network whose docker_gwbridge address
// is not known yet (the engine announces no event for that endpoint) has
// the bridge's endpoints read again.
func (w *Watcher) clientOf(ctx context.Context, c container.InspectResponse) (registry.Client, bool) {
	local := func(id string) bool { return w.networkLocal(ctx, id) }
	if _, ok := w.nets.gateways[c.ID]; !ok && c.State != nil && c.State.Running && onSwarmNetwork(c, local) {
		if err := w.loadGateways(ctx); err != nil {
			w.log.Debug().Err(err).Msg("cannot read docker_gwbridge's endpoints")
		}
	}
	return ClientFor(c, w.nets.gateways[c.ID], local)
}

// onSwarmNetwork reports whether c is on a network that is not local.
func onSwarmNetwork(c container.InspectResponse, local func(networkID string) bool) bool {
	if c.NetworkSettings == nil {
		return false
	}
	for _, ep := range c.NetworkSettings.Networks {
		if ep != nil && ep.NetworkID != "" && !local(ep.NetworkID) {
			return true
		}
	}
	return false
}

// updateClient writes (or removes) the container's client entry.
func (w *Watcher) updateClient(ctx context.Context, c container.InspectResponse) {
	if w.cfg.Clients == nil {
		return
	}
	if cl, ok := w.clientOf(ctx, c); ok {
		w.cfg.Clients.SetClient(cl)
	} else {
		w.cfg.Clients.RemoveClient(c.ID)
	}
}

// removeClient drops a container that is gone.
func (w *Watcher) removeClient(id string) {
	if w.cfg.Clients != nil {
		w.cfg.Clients.RemoveClient(id)
	}
}
