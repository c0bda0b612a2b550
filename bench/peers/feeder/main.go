// Command feeder puts N synthetic records into a running `swarmdns serve`
// through the real gossip path, so the benchmark measures the real binary
// with a big zone and no containers. It runs one or more gossip nodes (the
// swarmdns gossip and registry packages, as a peer swarmdns would), each
// publishing its share of the records h<i>.<zone> → 10.x.y.z, joins the
// swarmdns under test, and waits until that swarmdns holds every record
// (its admin API's /v1/stats). It then prints "ready" and keeps serving the
// records until SIGINT or SIGTERM, when it leaves the cluster.
//
// The addresses are only data in DNS answers: nothing is ever sent to them.
//
// With -hosts or -zonefile it also (or only, with -records-only) writes the
// same records as a hosts file (dnsmasq's addn-hosts, CoreDNS's hosts) and
// an RFC 1035 zone file (CoreDNS's file plugin), so every server in the
// benchmark serves the same zone.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/registry"
)

// perNodeMax is how many records one feeder node publishes at most: the
// gossip wire format bounds one node's state to 65,536 record sets.
const perNodeMax = 50000

type config struct {
	records   int
	zone      string
	join      string
	bind      string
	basePort  int
	admin     string
	timeout   time.Duration
	hosts     string
	zonefile  string
	filesOnly bool
	waitDNS   string
}

func main() {
	var c config
	flag.IntVar(&c.records, "records", 1000, "number of records h0..h<N-1> to publish")
	flag.StringVar(&c.zone, "zone", "swarm.internal.", "the zone of the records")
	flag.StringVar(&c.join, "join", "", "gossip `address` of the swarmdns under test")
	flag.StringVar(&c.bind, "bind", "127.0.0.1", "loopback `address` the feeder's gossip nodes bind")
	flag.IntVar(&c.basePort, "port", 17950, "first gossip port of the feeder's nodes (one node per 50,000 records)")
	flag.StringVar(&c.admin, "admin", "", "admin API `URL` of the swarmdns under test, polled until it holds every record")
	flag.DurationVar(&c.timeout, "timeout", 2*time.Minute, "how long to wait for the swarmdns under test to hold every record")
	flag.StringVar(&c.hosts, "hosts", "", "also write the records as a hosts `file`")
	flag.StringVar(&c.zonefile, "zonefile", "", "also write the records as a zone `file`")
	flag.BoolVar(&c.filesOnly, "files-only", false, "write -hosts/-zonefile and exit")
	flag.StringVar(&c.waitDNS, "wait-dns", "", "only wait until the DNS server at `address` answers the last record (h<N-1>) over UDP, then exit")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "feeder: %v\n", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.records < 0 {
		return errors.New("-records must not be negative")
	}
	c.zone = registry.CanonicalName(c.zone)
	if c.hosts != "" {
		if err := writeHosts(c.hosts, c.records, c.zone); err != nil {
			return err
		}
	}
	if c.zonefile != "" {
		if err := writeZone(c.zonefile, c.records, c.zone); err != nil {
			return err
		}
	}
	if c.waitDNS != "" {
		return waitAnswer(c.waitDNS, fmt.Sprintf("h%d.%s", max(c.records-1, 0), c.zone), addrOf(max(c.records-1, 0)), c.timeout)
	}
	if c.filesOnly {
		return nil
	}
	if c.join == "" {
		return errors.New("-join is required (or -files-only)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel).With().Timestamp().Str("component", "feeder").Logger()

	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for k, lo := 0, 0; lo < c.records || (k == 0 && c.records == 0); k, lo = k+1, lo+perNodeMax {
		hi := min(lo+perNodeMax, c.records)
		name := fmt.Sprintf("feeder-%d", k)
		gen := uint64(time.Now().UnixNano())
		reg, err := registry.New(registry.Config{Node: name, Generation: gen})
		if err != nil {
			return err
		}
		sets := make([]registry.RecordSet, 0, hi-lo)
		for i := lo; i < hi; i++ {
			sets = append(sets, recordSet(i, c.zone))
		}
		if _, err := reg.ReplaceLocal(sets); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		addr := c.bind + ":" + strconv.Itoa(c.basePort+k)
		node, err := gossip.New(gossip.Config{
			Node:          name,
			Generation:    gen,
			BindAddr:      addr,
			AdvertiseAddr: addr,
			Join:          []string{c.join},
			Store:         reg,
			Logger:        log.With().Str("node", name).Logger(),
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		g.Go(func() error { return node.Run(gctx) })
	}
	if c.admin != "" {
		g.Go(func() error {
			n, err := waitRecords(gctx, c.admin, c.records, c.timeout)
			if err != nil {
				return err
			}
			fmt.Printf("ready: %d records held by the swarmdns under test after %v\n", n, time.Since(start).Round(time.Millisecond))
			return nil
		})
	} else {
		fmt.Println("ready: publishing (no -admin to wait on)")
	}
	return g.Wait()
}

// recordSet is record i: one container with one IPv4 address.
func recordSet(i int, zone string) registry.RecordSet {
	return registry.RecordSet{
		ContainerID: fmt.Sprintf("%064x", i+1),
		Name:        fmt.Sprintf("h%d.%s", i, zone),
		Addrs: []registry.Addr{{
			IP:      addrOf(i),
			Network: "bench",
			Subnet:  netip.MustParsePrefix("10.0.0.0/8"),
		}},
	}
}

// addrOf is record i's address, in 10.0.0.0/8.
func addrOf(i int) netip.Addr {
	v := uint32(i + 1)
	return netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
}

// waitAnswer queries server for name until it answers with want.
func waitAnswer(server, name string, want netip.Addr, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &dns.Client{Timeout: 500 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	var last string
	for time.Now().Before(deadline) {
		r, _, err := client.Exchange(q, server)
		switch {
		case err != nil:
			last = err.Error()
		case len(r.Answer) == 1:
			if a, ok := r.Answer[0].(*dns.A); ok {
				if got, _ := netip.AddrFromSlice(a.A.To4()); got == want {
					return nil
				}
			}
			last = r.Answer[0].String()
		default:
			last = dns.RcodeToString[r.Rcode] + " without the answer"
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %s with %s within %v (last: %s)", server, name, want, timeout, last)
}

// waitRecords polls the admin API's /v1/stats until it counts at least
// want record sets.
func waitRecords(ctx context.Context, base string, want int, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	got := -1
	for {
		if n, err := records(ctx, client, base); err == nil {
			got = n
			if n >= want {
				return n, nil
			}
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("the swarmdns under test holds %d records after %v; want %d", got, timeout, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func records(ctx context.Context, client *http.Client, base string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/stats", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	var st struct {
		Records int `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	return st.Records, nil
}

func writeHosts(path string, n int, zone string) error {
	return writeFile(path, func(w *bufio.Writer) {
		for i := range n {
			fmt.Fprintf(w, "%s h%d.%s\n", addrOf(i), i, zone[:len(zone)-1])
		}
	})
}

func writeZone(path string, n int, zone string) error {
	return writeFile(path, func(w *bufio.Writer) {
		fmt.Fprintf(w, "$ORIGIN %s\n$TTL 5\n", zone)
		fmt.Fprintf(w, "@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 5\n", zone, zone)
		fmt.Fprintf(w, "@ IN NS ns.%s\nns IN A 127.0.0.1\n", zone)
		for i := range n {
			fmt.Fprintf(w, "h%d IN A %s\n", i, addrOf(i))
		}
	})
}

func writeFile(path string, body func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	body(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
