// Command serveprof profiles swarmdns's whole UDP answer path in one
// process: the dns package's real server (its UDP readers, the fast path
// or the full miekg path, the registry snapshot and the socket writes) on 127.0.0.1,
// driven by in-process UDP clients that send pre-packed queries, for a fixed
// time. It writes a CPU profile and an allocation profile, and prints the
// rate and the allocations per answered query, so that the cost of one
// answer can be read with `go tool pprof -top`.
//
// The clients' own cost is in the profile too; their functions are in this
// package (main.client), so they are easy to leave out (-focus or -ignore).
//
// Usage, from the repository root:
//
//	go run ./bench/peers/serveprof -case hit -records 100000 -cpuprofile cpu.prof -memprofile mem.prof
//
// With -heapprofile it only fills a registry (-heapsource local: the
// node's own sets; remote: peers' states merged as gossip merges them) and
// writes a profile of the heap that stays live:
//
//	go run ./bench/peers/serveprof -records 100000 -heapsource remote -heapprofile heap.prof
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/dns"
	"github.com/swarmdns/swarmdns/registry"
)

const zone = "swarm.internal."

func main() {
	kase := flag.String("case", "hit", "queries: hit (in-zone names), nx (unknown in-zone names), fwd (100 forwarded names, cache hits), cold (a new forwarded name every query)")
	records := flag.Int("records", 1000, "records in the zone")
	clients := flag.Int("clients", 8, "client goroutines, each with its own socket")
	inflight := flag.Int("inflight", 8, "queries in flight per client")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	memprofile := flag.String("memprofile", "", "write an allocation profile to `file`")
	heapprofile := flag.String("heapprofile", "", "only fill the registry with -records sets, then write a heap profile of what stays live to `file` and print the bytes per set")
	heapsource := flag.String("heapsource", "local", "with -heapprofile, where the sets come from: local (the node's own, as the watcher writes them) or remote (merged as gossip merges peers' states, 50,000 sets per peer, decoded strings and all)")
	flag.Parse()
	if *heapprofile != "" {
		if err := heap(*records, *heapsource, *heapprofile); err != nil {
			fmt.Fprintf(os.Stderr, "serveprof: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*kase, *records, *clients, *inflight, *duration, *cpuprofile, *memprofile); err != nil {
		fmt.Fprintf(os.Stderr, "serveprof: %v\n", err)
		os.Exit(1)
	}
}

// newRegistry returns a registry holding n record sets shaped like the
// benchmark's feeder publishes them (one name, one IPv4 address).
func newRegistry(n int) (*registry.Registry, error) {
	reg, err := registry.New(registry.Config{Node: "prof", Generation: 1})
	if err != nil {
		return nil, err
	}
	sets := make([]registry.RecordSet, 0, n)
	for i := range n {
		v := uint32(i + 1)
		sets = append(sets, registry.RecordSet{
			ContainerID: fmt.Sprintf("%064x", i+1),
			Name:        fmt.Sprintf("h%d.%s", i, zone),
			Addrs: []registry.Addr{{
				IP: netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)}), Network: "bench",
				Subnet: netip.MustParsePrefix("10.0.0.0/8"),
			}},
		})
	}
	if _, err := reg.ReplaceLocal(sets); err != nil {
		return nil, err
	}
	return reg, nil
}

// remoteRegistry returns a registry holding n record sets of peers, as
// gossip leaves them: each peer's state merged whole, its sets owned by the
// registry, every string its own allocation as the decoder makes it.
func remoteRegistry(n int) (*registry.Registry, error) {
	reg, err := registry.New(registry.Config{Node: "prof", Generation: 1})
	if err != nil {
		return nil, err
	}
	const perPeer = 50000
	for k, lo := 0, 0; lo < n; k, lo = k+1, lo+perPeer {
		hi := min(lo+perPeer, n)
		st := registry.NodeState{Node: fmt.Sprintf("feeder-%d", k), Generation: 1, Version: uint64(hi - lo), Owned: true}
		for i := lo; i < hi; i++ {
			v := uint32(i + 1)
			name := fmt.Sprintf("h%d.%s", i, zone)
			st.Sets = append(st.Sets, registry.RecordSet{
				ContainerID: fmt.Sprintf("%064x", i+1),
				Name:        name,
				Names:       []string{name},
				Addrs: []registry.Addr{{
					IP: netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)}), Network: strings.Clone("bench"),
					Subnet: netip.MustParsePrefix("10.0.0.0/8"),
				}},
				Version: uint64(i - lo + 1),
			})
		}
		if _, err := reg.MergeNode(st); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// heap measures what a registry of n sets from source (local or remote)
// keeps live.
func heap(n int, source, path string) error {
	fill := newRegistry
	switch source {
	case "local":
	case "remote":
		fill = remoteRegistry
	default:
		return fmt.Errorf("unknown -heapsource %q", source)
	}
	runtime.MemProfileRate = 512
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	reg, err := fill(n)
	if err != nil {
		return err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Printf("registry with %d %s sets: %.0f heap bytes and %.1f heap objects per set live (%.1f MiB)\n", n,
		source, float64(after.HeapAlloc-before.HeapAlloc)/float64(n), float64(after.HeapObjects-before.HeapObjects)/float64(n),
		float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return err
	}
	runtime.KeepAlive(reg)
	return nil
}

func run(kase string, records, clients, inflight int, duration time.Duration, cpuprofile, memprofile string) error {
	reg, err := newRegistry(records)
	if err != nil {
		return err
	}

	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.Close()

	srv, err := dns.New(dns.Config{
		Zone:      zone,
		Listen:    "127.0.0.1:0",
		Upstreams: []string{up.LocalAddr().String()},
		Store:     reg,
		Logger:    zerolog.Nop(),
		Metrics:   prometheus.NewRegistry(), // as swarmdns serve runs it
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var names []string
	switch kase {
	case "hit":
		for i := range 1024 {
			names = append(names, fmt.Sprintf("h%d.%s", (i*7919)%records, zone))
		}
	case "nx":
		for i := range 1024 {
			names = append(names, fmt.Sprintf("nx%d.%s", i, zone))
		}
	case "fwd":
		for i := range 100 {
			names = append(names, fmt.Sprintf("w%d.fwd.example.", i))
		}
	case "cold":
		// A unique forwarded name every query: every one misses the cache.
		for i := range 1 << 20 {
			names = append(names, fmt.Sprintf("c%d.cold.example.", i))
		}
	default:
		return fmt.Errorf("unknown -case %q", kase)
	}
	queries := make([][]byte, len(names))
	for i, n := range names {
		m := new(mdns.Msg)
		m.SetQuestion(n, mdns.TypeA)
		if queries[i], err = m.Pack(); err != nil {
			return err
		}
	}
	// Warm up (fills the forward cache) and check the answers.
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.UDPAddr()))
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	warm := queries
	if kase == "cold" {
		warm = queries[len(queries)-1:] // check one, cache none of the others
	}
	for i, q := range warm {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(q); err != nil {
			return err
		}
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("warm-up %s: %w", names[i], err)
		}
		var r mdns.Msg
		if err := r.Unpack(buf[:n]); err != nil {
			return err
		}
		want := mdns.RcodeSuccess
		if kase == "nx" {
			want = mdns.RcodeNameError
		}
		if r.Rcode != want {
			return fmt.Errorf("warm-up %s: rcode %s", names[i], mdns.RcodeToString[r.Rcode])
		}
	}
	c.Close()

	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	runtime.MemProfileRate = 4096
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var answered atomic.Int64
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for k := range clients {
		wg.Go(func() { answered.Add(client(srv.UDPAddr(), queries, k, clients, inflight, deadline)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	n := answered.Load()
	fmt.Printf("case %s, %d records, %d clients x %d in flight, GOMAXPROCS %d: %d answers in %v = %.0f/s; %.1f allocs and %.0f bytes per answer (whole process)\n",
		kase, records, clients, inflight, runtime.GOMAXPROCS(0), n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(),
		float64(ms1.Mallocs-ms0.Mallocs)/float64(n), float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(n))
	if memprofile != "" {
		f, err := os.Create(memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return nil
}

// client keeps inflight queries outstanding on one socket until deadline
// and returns how many were answered; a lost reply is replaced by a new
// query after 100 ms. Client k of n sends queries k, k+n, k+2n… so no two
// clients send the same query until the list wraps.
func client(server netip.AddrPort, queries [][]byte, k, n, inflight int, deadline time.Time) int64 {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return 0
	}
	defer c.Close()
	q := make([]byte, 512)
	send := func(i int) {
		size := copy(q, queries[(k+i*n)%len(queries)])
		binary.BigEndian.PutUint16(q, uint16(i))
		_, _ = c.Write(q[:size])
	}
	next := 0
	for range inflight {
		send(next)
		next++
	}
	buf := make([]byte, 1500)
	var answered int64
	for time.Now().Before(deadline) {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(buf); err != nil {
			send(next) // lost: keep the window full
			next++
			continue
		}
		answered++
		send(next)
		next++
	}
	return answered
}

// startUpstream answers every A query with one address, on 127.0.0.1.
func startUpstream() (net.PacketConn, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m mdns.Msg
			if m.Unpack(buf[:n]) != nil || len(m.Question) != 1 {
				continue
			}
			r := new(mdns.Msg)
			r.SetReply(&m)
			r.RecursionAvailable = true
			r.Answer = []mdns.RR{&mdns.A{
				Hdr: mdns.RR_Header{Name: m.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 3600},
				A:   net.IPv4(198, 18, 0, 1),
			}}
			out, err := r.Pack()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc, nil
}
