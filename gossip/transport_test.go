package gossip

import (
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// faultTransport wraps memberlist's NetTransport on one loopback address
// and drops every packet and stream to or from blocked addresses, in both
// directions, to cut a node off from some peers.
type faultTransport struct {
	*memberlist.NetTransport
	ip netip.Addr

	mu      sync.RWMutex
	blocked map[netip.Addr]bool
	mute    map[netip.Addr]bool // packets (UDP) only: streams still flow

	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*faultTransport)(nil)

func newFaultTransport(t testing.TB, ip netip.Addr, port int) *faultTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{ip.String()},
		BindPort:  port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("transport on %s: %v", ip, err)
	}
	f := &faultTransport{
		NetTransport: nt,
		ip:           ip,
		blocked:      make(map[netip.Addr]bool),
		mute:         make(map[netip.Addr]bool),
		packets:      make(chan *memberlist.Packet),
		streams:      make(chan net.Conn),
		done:         make(chan struct{}),
	}
	f.wg.Add(2)
	go f.forwardPackets()
	go f.forwardStreams()
	return f
}

// block cuts the traffic with ips; unblock restores it.
func (f *faultTransport) block(ips ...netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ip := range ips {
		f.blocked[ip] = true
	}
}

func (f *faultTransport) unblock(ips ...netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ip := range ips {
		delete(f.blocked, ip)
	}
}

// mutePackets drops the packets (not the streams) from ips, so that
// gossip (UDP only) is lost while memberlist's TCP fallback keeps the
// peers alive.
func (f *faultTransport) mutePackets(on bool, ips ...netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ip := range ips {
		if on {
			f.mute[ip] = true
		} else {
			delete(f.mute, ip)
		}
	}
}

func (f *faultTransport) isMuted(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mute[ap.Addr().Unmap()]
}

func (f *faultTransport) isBlocked(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.blocked[ap.Addr().Unmap()]
}

func (f *faultTransport) forwardPackets() {
	defer f.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case p := <-f.NetTransport.PacketCh():
			if f.isBlocked(p.From.String()) || f.isMuted(p.From.String()) {
				continue
			}
			select {
			case f.packets <- p:
			case <-f.done:
				return
			}
		}
	}
}

func (f *faultTransport) forwardStreams() {
	defer f.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case c := <-f.NetTransport.StreamCh():
			if f.isBlocked(c.RemoteAddr().String()) {
				_ = c.Close()
				continue
			}
			select {
			case f.streams <- c:
			case <-f.done:
				_ = c.Close()
				return
			}
		}
	}
}

var errBlocked = errors.New("blocked by the test")

func (f *faultTransport) PacketCh() <-chan *memberlist.Packet { return f.packets }
func (f *faultTransport) StreamCh() <-chan net.Conn           { return f.streams }

func (f *faultTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return f.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (f *faultTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if f.isBlocked(a.Addr) {
		return time.Now(), nil // lost on the way
	}
	return f.NetTransport.WriteToAddress(b, a)
}

func (f *faultTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return f.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (f *faultTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if f.isBlocked(a.Addr) {
		return nil, errBlocked
	}
	return f.NetTransport.DialAddressTimeout(a, timeout)
}

func (f *faultTransport) Shutdown() error {
	err := f.NetTransport.Shutdown()
	f.once.Do(func() { close(f.done) })
	f.wg.Wait()
	return err
}
