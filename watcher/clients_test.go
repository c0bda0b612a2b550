package watcher

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/registry"
)

// TestClientFor turns the captures into clients: every address on every
// network, the docker_gwbridge address given, each network local or not as
// the scope function says; no client for the host, none and container:
// network modes.
func TestClientFor(t *testing.T) {
	swarmNets := map[string]bool{"6jcayj0n": true}
	local := func(id string) bool { return !swarmNets[id[:min(8, len(id))]] }
	gw := netip.MustParseAddr("172.18.0.7")
	tests := []struct {
		capture string
		gateway netip.Addr
		addrs   []string
		nets    []registry.ClientNetwork
		ok      bool
	}{
		{"multinet", netip.Addr{}, []string{"10.231.1.2", "10.231.2.2", "fd00:231:2::2"}, []registry.ClientNetwork{{Name: "cap-back", Local: true}, {Name: "cap-front", Local: true}}, true},
		{"swarm-global", gw, []string{"10.231.9.6", "172.18.0.7"}, []registry.ClientNetwork{{Name: "cap_net"}}, true},
		{"plain", netip.Addr{}, []string{"172.17.0.2"}, []registry.ClientNetwork{{Name: "bridge", Local: true}}, true},
		{"hostnet", gw, nil, nil, false},
		{"nonenet", netip.Addr{}, nil, nil, false},
		{"containernet", netip.Addr{}, nil, nil, false},
	}
	for _, tt := range tests {
		c := inspectFile(t, tt.capture)
		cl, ok := ClientFor(c, tt.gateway, local)
		if ok != tt.ok {
			t.Errorf("%s: ok %v; want %v", tt.capture, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		var got []string
		for _, a := range cl.Addrs {
			got = append(got, a.String())
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.addrs) || !slices.Equal(cl.Networks, tt.nets) || cl.ContainerID != c.ID || cl.Name == "" {
			t.Errorf("%s: got %s %q %v %v; want %v %v", tt.capture, cl.ContainerID, cl.Name, got, cl.Networks, tt.addrs, tt.nets)
		}
	}
	stopped := inspectFile(t, "plain")
	stopped.State.Running = false
	if _, ok := ClientFor(stopped, netip.Addr{}, local); ok {
		t.Error("a stopped container is a client")
	}
}

// TestClientsFollowContainers: on the real engine, every running container
// is a client, whether the watcher publishes it or not (here one outside
// its --watch-label), with each network's address; a network connected at
// run time adds its address, and a removed container leaves the table.
func TestClientsFollowContainers(t *testing.T) {
	t.Parallel()
	clients := registry.NewClientTable()
	e := newEnv(t, func(c *Config) { c.Clients = clients }, nil)
	n1 := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "cl1")})
	n2 := dockertest.Network(t, dockertest.NetworkOptions{Name: dockertest.Name(t, "cl2")})
	// Not in the test's scope: no records, but a client all the same.
	c := dockertest.Run(t, dockertest.RunOptions{Networks: []string{n1}})
	clientHas := func(id string, nets ...string) func() error {
		return func() error {
			for _, ip := range e.ips(id) {
				cl, ok := clients.Client(ip)
				if !ok || cl.ContainerID != id {
					return fmt.Errorf("%v: client %v, %v; want container %s", ip, cl, ok, id[:12])
				}
				var got []string
				for _, n := range cl.Networks {
					if !n.Local {
						return fmt.Errorf("network %s of a bridge is not local", n.Name)
					}
					got = append(got, n.Name)
				}
				if !slices.Equal(got, nets) {
					return fmt.Errorf("networks %v; want %v", got, nets)
				}
			}
			return nil
		}
	}
	await.Until(t, soon, clientHas(c.ID, n1))
	if len(e.lookup(c.Name)) != 0 {
		t.Errorf("a container outside the watch label got records")
	}
	dockertest.Docker(t, "network", "connect", n2, c.ID)
	want := []string{n1, n2}
	slices.Sort(want)
	await.Until(t, soon, clientHas(c.ID, want...))
	ips := e.ips(c.ID)
	dockertest.Remove(t, c.ID)
	await.Until(t, soon, func() error {
		for _, ip := range ips {
			if cl, ok := clients.Client(ip); ok && cl.ContainerID == c.ID {
				return fmt.Errorf("%v still maps to the removed container", ip)
			}
		}
		return nil
	})
}
