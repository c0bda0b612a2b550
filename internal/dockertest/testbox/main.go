// Command testbox is the one program inside swarmdns's test image (built
// FROM scratch by dockertest.TestboxImage). Its first argument picks what it
// does:
//
//	sleep                      run until SIGTERM, SIGINT or SIGQUIT (exit 0);
//	                           other signals (SIGHUP, SIGUSR1, ...) are
//	                           printed and otherwise ignored
//	exit-after DURATION [CODE] exit with CODE (default 0) after DURATION
//	lookup NAME SERVER [TYPE]  resolve NAME (TYPE A, AAAA or ip: both) through
//	                           the DNS server SERVER (host or host:port, port
//	                           53 by default) and print one address a line;
//	                           exit 1 when it fails
//	check-file PATH            exit 0 when PATH exists, 1 otherwise (a
//	                           healthcheck a test flips through a bind mount)
//	probe INTERVAL NAME...     every INTERVAL, resolve each NAME (type A)
//	                           through the system's resolver (/etc/resolv.conf,
//	                           as an application does), each lookup on its own
//	                           so a stalled one delays no other, and print one
//	                           line per lookup: "probe START_UNIX_NANO NAME
//	                           ok|fail MILLISECONDS ADDRS|ERROR"; until SIGTERM
//
// Without arguments it sleeps.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		args = []string{"sleep"}
	}
	switch args[0] {
	case "sleep":
		return sleep()
	case "exit-after":
		return exitAfter(args[1:])
	case "lookup":
		return lookup(args[1:])
	case "check-file":
		return checkFile(args[1:])
	case "probe":
		return probe(args[1:])
	default:
		fmt.Fprintf(os.Stderr, "testbox: unknown command %q (want sleep, exit-after, lookup, check-file or probe)\n", args[0])
		return 2
	}
}

func sleep() int {
	sigs := make(chan os.Signal, 8)
	// Catching every signal keeps the runtime from exiting on SIGHUP and
	// friends; as PID 1 the kernel would drop uncaught ones anyway.
	signal.Notify(sigs)
	fmt.Println("testbox: sleeping")
	for s := range sigs {
		switch s {
		case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
			fmt.Printf("testbox: %v, exiting\n", s)
			return 0
		case syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPIPE:
			// Runtime noise.
		default:
			fmt.Printf("testbox: %v, ignored\n", s)
		}
	}
	return 0
}

func exitAfter(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: testbox exit-after DURATION [CODE]")
		return 2
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbox: bad duration: %v\n", err)
		return 2
	}
	code := 0
	if len(args) == 2 {
		if code, err = strconv.Atoi(args[1]); err != nil {
			fmt.Fprintf(os.Stderr, "testbox: bad exit code: %v\n", err)
			return 2
		}
	}
	time.Sleep(d)
	return code
}

func lookup(args []string) int {
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: testbox lookup NAME SERVER [A|AAAA|ip]")
		return 2
	}
	name, server := args[0], args[1]
	network := "ip"
	if len(args) == 3 {
		switch args[2] {
		case "A", "a":
			network = "ip4"
		case "AAAA", "aaaa":
			network = "ip6"
		case "ip":
		default:
			fmt.Fprintf(os.Stderr, "testbox: bad type %q (want A, AAAA or ip)\n", args[2])
			return 2
		}
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, proto, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, proto, server)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := r.LookupIP(ctx, network, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbox: %v\n", err)
		return 1
	}
	for _, ip := range ips {
		fmt.Println(ip)
	}
	return 0
}

func checkFile(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: testbox check-file PATH")
		return 2
	}
	if _, err := os.Stat(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "testbox: %v\n", err)
		return 1
	}
	return 0
}

// probeTimeout bounds one probe lookup: longer than any resolver's own
// retries (glibc and Go: 5 s, twice), so a stall shows as its real length.
const probeTimeout = 30 * time.Second

func probe(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testbox probe INTERVAL NAME...")
		return 2
	}
	every, err := time.ParseDuration(args[0])
	if err != nil || every <= 0 {
		fmt.Fprintf(os.Stderr, "testbox: bad interval %q\n", args[0])
		return 2
	}
	names := args[1:]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	lines := make(chan string, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range lines {
			fmt.Println(l)
		}
	}()
	r := &net.Resolver{PreferGo: true}
	t := time.NewTicker(every)
	defer t.Stop()
	var wg sync.WaitGroup
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			close(lines)
			<-done
			return 0
		case <-t.C:
		}
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				lctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
				ips, err := r.LookupNetIP(lctx, "ip4", name)
				cancel()
				ms := time.Since(start).Milliseconds()
				if err != nil {
					lines <- fmt.Sprintf("probe %d %s fail %d %v", start.UnixNano(), name, ms, strings.ReplaceAll(err.Error(), " ", "_"))
					return
				}
				addrs := make([]string, len(ips))
				for i, ip := range ips {
					addrs[i] = ip.String()
				}
				lines <- fmt.Sprintf("probe %d %s ok %d %s", start.UnixNano(), name, ms, strings.Join(addrs, ","))
			}()
		}
	}
}
