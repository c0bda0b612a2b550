package registry

import (
	"net/netip"
	"sync"
	"testing"
)

func TestClientTable(t *testing.T) {
	tab := NewClientTable()
	a := netip.MustParseAddr
	if _, ok := tab.Client(a("10.0.1.3")); ok {
		t.Fatal("empty table knows 10.0.1.3")
	}
	web := Client{ContainerID: "c1", Name: "web", Addrs: []netip.Addr{a("172.18.0.3"), a("::ffff:10.0.1.3")},
		Networks: []ClientNetwork{{Name: "front"}, {Name: "bridge", Local: true}}}
	tab.SetClient(web)
	for _, ip := range []string{"10.0.1.3", "::ffff:10.0.1.3", "172.18.0.3"} {
		c, ok := tab.Client(a(ip))
		if !ok || c.ContainerID != "c1" {
			t.Errorf("Client(%s): %v, %v; want c1", ip, c, ok)
		}
	}
	c, _ := tab.Client(a("10.0.1.3"))
	if c.Networks[0].Name != "bridge" || c.Networks[1].Name != "front" {
		t.Errorf("networks not sorted: %v", c.Networks)
	}
	if !c.OnNetwork("front", "n2", "n1") || !c.OnNetwork("bridge", "n1", "n1") {
		t.Errorf("OnNetwork: front on another node and bridge on this one should be shared")
	}
	if c.OnNetwork("bridge", "n2", "n1") || c.OnNetwork("back", "n1", "n1") {
		t.Errorf("OnNetwork: another node's bridge, or a network the client is not on, should not be shared")
	}

	tab.ReplaceClients([]Client{{ContainerID: "c2", Addrs: []netip.Addr{a("10.0.1.4")}}})
	if _, ok := tab.Client(a("10.0.1.3")); ok {
		t.Error("ReplaceClients kept c1")
	}
	if c, ok := tab.Client(a("10.0.1.4")); !ok || c.ContainerID != "c2" {
		t.Errorf("after ReplaceClients: %v, %v", c, ok)
	}
	tab.RemoveClient("c2")
	tab.RemoveClient("c2")
	if tab.Len() != 0 {
		t.Errorf("Len after remove: %d", tab.Len())
	}

	// A shared address resolves to the smaller ID, whatever the order.
	tab.SetClient(Client{ContainerID: "b", Addrs: []netip.Addr{a("10.9.0.1")}})
	tab.SetClient(Client{ContainerID: "a", Addrs: []netip.Addr{a("10.9.0.1")}})
	if c, _ := tab.Client(a("10.9.0.1")); c.ContainerID != "a" {
		t.Errorf("shared address: got %s; want a", c.ContainerID)
	}
}

func TestClientTableConcurrent(t *testing.T) {
	tab := NewClientTable()
	ip := netip.MustParseAddr("10.0.0.1")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if c, ok := tab.Client(ip); ok && c.ContainerID != "c" {
					t.Errorf("got %s", c.ContainerID)
				}
			}
		}
	}()
	for range 1000 {
		tab.SetClient(Client{ContainerID: "c", Addrs: []netip.Addr{ip}})
		tab.RemoveClient("c")
	}
	close(stop)
	wg.Wait()
}
