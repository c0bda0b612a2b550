package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/dns"
	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/internal/handoff"
	"github.com/swarmdns/swarmdns/internal/metric"
	"github.com/swarmdns/swarmdns/internal/peers"
	"github.com/swarmdns/swarmdns/internal/resolvconf"
	"github.com/swarmdns/swarmdns/registry"
	"github.com/swarmdns/swarmdns/watcher"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	var c serveConfig
	fs := newServeFlags(&c)
	unknown, code, ok := parseServeFlags(fs, args, os.Getenv, os.Environ(), stderr)
	if !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swarmdns serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := c.validate(); err != nil {
		fmt.Fprintf(stderr, "swarmdns serve: %v\n", err)
		return exitUsage
	}
	log, err := newLogger(stderr, c.logFormat, c.logLevel, c.nodeName)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdns serve: %v\n", err)
		return exitUsage
	}
	if c.configFile != "" {
		log.Info().Str("file", c.configFile).Msg("settings read from the file (flags and SWARMDNS_ variables override it)")
	}
	if len(unknown) > 0 {
		log.Warn().Strs("variables", unknown).Msg("unknown SWARMDNS_ variables: no setting has these names (a typo?); they are ignored")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log); err != nil {
		// The log goes to stderr: one line says it (not a second copy).
		log.Error().Err(err).Msg("swarmdns stopped")
		return exitError
	}
	log.Info().Msg("swarmdns stopped")
	return exitOK
}

// Timeouts of a takeover from the previous run on the node.
const (
	// takeoverReadyWait bounds the wait for the first Docker sync and the
	// join before the new run binds DNS beside the old one anyway.
	takeoverReadyWait = 60 * time.Second
	// takeoverStep bounds each request to the previous run.
	takeoverStep = 20 * time.Second
	// gossipBindWait bounds the wait for the gossip port the previous run
	// holds.
	gossipBindWait = 30 * time.Second
	// peersEvery is how often the alive peers are compared with those
	// the state directory keeps (written when they differ).
	peersEvery = time.Second
)

// readyRule is /readyz's rule, as the README states it.
const readyRule = "ready once the first Docker sync is done, the node has joined its gossip cluster or found no other node to join (a one-node Swarm, the first node of a cluster), and DNS is served"

// serve builds every component, binds their sockets, then runs them until
// ctx ends or one of them fails.
func serve(ctx context.Context, c serveConfig, log zerolog.Logger) error {
	if c.nodeAddress != "" {
		if err := ownNodeAddress(log, netip.MustParseAddr(c.nodeAddress)); err != nil {
			return err
		}
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := currentBuild()
	buildInfo := metric.BuildInfo.GaugeVec()
	buildInfo.WithLabelValues(build.Version, build.Revision, build.Go).Set(1)
	metrics.MustRegister(buildInfo)

	generation := uint64(time.Now().UnixNano())
	reg, err := registry.New(registry.Config{Node: c.nodeName, Generation: generation})
	if err != nil {
		return err
	}
	clients := registry.NewClientTable()
	log.Info().Str("zone", c.zone).Uint64("generation", generation).Str("version", Version).Msg("swarmdns starting")

	dnsCfg, err := c.dnsConfig(reg, clients, metrics, log)
	if err != nil {
		return err
	}
	w, err := watcher.New(watcher.Config{
		DockerHost:   c.dockerHost,
		Zone:         c.zone,
		Node:         c.nodeName,
		WatchLabel:   c.watchLabel,
		Resync:       c.resync,
		StartTimeout: c.dockerTimeout,
		Store:        reg,
		Clients:      clients,
		Logger:       log.With().Str("component", "watcher").Logger(),
		Metrics:      metrics,
	})
	if err != nil {
		return err // already says which component
	}

	finder, err := c.peerFinder(log)
	if err != nil {
		return err
	}
	var pred *handoff.Predecessor
	sock := ""
	if c.stateDir != "" {
		sock = filepath.Join(c.stateDir, "handoff.sock")
		pred = findPredecessor(ctx, log, sock)
		if pred != nil {
			defer pred.Close()
		}
	}

	// Gossip binds before DNS so that DNS can answer <node>.node.<zone> from
	// its member list.
	var node *gossip.Node
	if c.gossipListen != "" {
		if node, err = c.startGossip(ctx, reg, finder, generation, metrics, log); err != nil {
			return err
		}
		defer node.Close()
		log.Info().Str("addr", node.LocalAddr().String()).Strs("join", c.join).Bool("swarm", c.swarmDiscovery).Msg("gossip listening")
		dnsCfg.NodeAddrs = memberAddrs(node)
		if a := node.LocalAddr().Addr(); a.IsValid() && !a.IsUnspecified() && len(dnsCfg.NSAddrs) == 0 {
			dnsCfg.NSAddrs = []netip.Addr{a}
		}
	} else {
		log.Info().Msg("gossip disabled (--gossip-listen is empty): this node serves its own containers only")
	}
	if len(dnsCfg.NSAddrs) == 0 {
		dnsCfg.NSAddrs = outboundAddrs()
		log.Info().Strs("addrs", addrStrings(dnsCfg.NSAddrs)).Msg("DNS listens on a wildcard address: the zone's name server ns.<zone> answers with the host's outbound addresses")
	}

	// DNS binds now, unless the previous run still serves it: then once
	// this run is ready, beside it.
	var explain lateExplainer
	var dnsSrv *dns.Server
	if pred == nil {
		if dnsSrv, err = dns.New(dnsCfg); err != nil {
			return err // already says which component
		}
		defer dnsSrv.Close()
		explain.set(dnsSrv)
	}

	var handedOff atomic.Bool
	var adminSrv *admin.Server
	if c.adminListen != "" {
		cfg := admin.Config{
			Listen:        c.adminListen,
			MetricsListen: c.metricsListen,
			Token:         c.adminToken,
			Zone:          reg,
			ZoneName:      c.zone,
			Explainer:     &explain,
			Hidden:        watcherHidden{w},
			Ready:         readiness(w, node, &explain, &handedOff),
			ReadyRule:     readyRule,
			Gatherer:      metrics,
			Registerer:    metrics,
			LogLevel:      zerolog.GlobalLevel,
			SetLogLevel:   zerolog.SetGlobalLevel,
			Version:       Version,
			Logger:        log.With().Str("component", "admin").Logger(),
		}
		if node != nil {
			cfg.Members = gossipMembers{node}
		}
		adminSrv, err = admin.New(cfg)
		if err != nil {
			return err // already says which component
		}
		defer adminSrv.Close()
	}

	g, gctx := errgroup.WithContext(ctx)
	run := components{g: g, ctx: gctx}
	dnsRun := run.start("dns")
	gossipRun := run.start("gossip")
	g.Go(func() error { return named("watcher", w.Run(gctx)) })
	if node != nil {
		gossipRun.run(node.Run)
		if finder != nil {
			g.Go(func() error { return finder.Run(gctx, peersEvery, alivePeers(node)) })
		}
	}
	if adminSrv != nil {
		g.Go(func() error { return named("admin", adminSrv.Run(gctx)) })
	}
	g.Go(func() error { return logSyncs(gctx, log, w) })
	var reloads []func()
	if node != nil && c.gossipKeyFile != "" {
		keyFile := newGossipKeyFile(c.gossipKeyFile, node, log.With().Str("component", "gossip").Logger())
		reloads = append(reloads, keyFile.reload)
		g.Go(func() error { return keyFile.Run(gctx) })
	}
	g.Go(func() error { return handleHangups(gctx, log, reloads...) })
	g.Go(func() error {
		return runMemoryPolicy(gctx, log.With().Str("component", "memory").Logger(), os.LookupEnv)
	})

	takeOver := &takeover{log: log, sock: sock, dns: dnsRun, gossip: gossipRun, node: node, handedOff: &handedOff}
	if dnsSrv != nil {
		dnsRun.run(dnsSrv.Run)
		if sock != "" {
			takeOver.listen(g, gctx, false)
		}
	} else {
		g.Go(func() error {
			awaitReady(gctx, log, w, node)
			srv, err := dns.New(dnsCfg)
			if err != nil {
				return err
			}
			explain.set(srv)
			dnsRun.run(srv.Run)
			rctx, cancel := context.WithTimeout(gctx, takeoverStep)
			err = pred.ReleaseDNS(rctx)
			cancel()
			if err != nil {
				log.Warn().Err(err).Msg("the previous run did not release DNS; both serve until it stops")
			} else {
				log.Info().Msg("took over DNS from the previous run on this node")
			}
			pred.Close()
			takeOver.listen(g, gctx, true)
			return nil
		})
	}
	return g.Wait()
}

// dnsConfig is the DNS server's configuration from the flags.
func (c *serveConfig) dnsConfig(reg *registry.Registry, clients *registry.ClientTable, metrics prometheus.Registerer, log zerolog.Logger) (dns.Config, error) {
	var listen []netip.AddrPort
	for _, l := range c.dnsListen {
		if ap, err := netip.ParseAddrPort(l); err == nil {
			listen = append(listen, ap)
		} else if host, port, err := net.SplitHostPort(l); err == nil && host == "" {
			if ap, err := netip.ParseAddrPort("0.0.0.0:" + port); err == nil {
				listen = append(listen, ap)
			}
		}
	}
	upstreams := []string(c.upstreams)
	if len(upstreams) == 0 {
		var err error
		upstreams, err = resolvconf.Upstreams(c.resolvConf, listen...)
		if err != nil {
			log.Warn().Err(err).Msg("no upstream resolvers: names outside the zone will get SERVFAIL (set --upstream)")
		}
	}
	// ns.<zone>: the node address, or the first address DNS listens on; on
	// a wildcard address, serve picks one.
	var nsAddrs []netip.Addr
	if c.nodeAddress != "" {
		nsAddrs = []netip.Addr{netip.MustParseAddr(c.nodeAddress)}
	} else if len(listen) > 0 && !listen[0].Addr().IsUnspecified() {
		nsAddrs = []netip.Addr{listen[0].Addr()}
	}
	transferKeys, err := c.transferKeys()
	if err != nil {
		return dns.Config{}, err
	}
	return dns.Config{
		NSAddrs:        nsAddrs,
		Zone:           c.zone,
		Listen:         c.dnsListen[0],
		ExtraListen:    c.dnsListen[1:],
		TTL:            c.ttl,
		Upstreams:      upstreams,
		AllowRecursion: c.allowRecursion.value(),
		AllowTransfer:  c.allowTransfer.value(),
		ReverseZones:   c.reverseZones.prefixes,
		// "none" sets the flag to an empty list: no reverse zones at all.
		NoNetworkReverseZones: c.reverseZones.set && len(c.reverseZones.prefixes) == 0,
		TransferKeys:          transferKeys,
		Notify:                c.notify,
		MaxUDPSize:            c.maxUDPSize,
		HostsFile:             c.hostsFile,
		RateLimit:             c.rateLimit,
		LogQueries:            c.logQueries,
		Clients:               clients,
		Store:                 reg,
		Logger:                log.With().Str("component", "dns").Logger(),
		Metrics:               metrics,
	}, nil
}

// peerFinder returns the seed finder the flags ask for: the engine's Swarm
// (--swarm) and the peers last seen (--state-dir); nil for neither.
func (c *serveConfig) peerFinder(log zerolog.Logger) (*peers.Finder, error) {
	if !c.swarmDiscovery && c.stateDir == "" {
		return nil, nil
	}
	cfg := peers.Config{Port: gossip.DefaultPort, Logger: log.With().Str("component", "peers").Logger()}
	if _, port, err := net.SplitHostPort(c.gossipListen); err == nil {
		if p, err := net.LookupPort("tcp", port); err == nil && p != 0 {
			cfg.Port = p
		}
	}
	if c.stateDir != "" {
		if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("--state-dir: %w", err)
		}
		cfg.File = filepath.Join(c.stateDir, "peers.json")
	}
	if c.swarmDiscovery {
		opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
		if c.dockerHost != "" {
			opts = append(opts, client.WithHost(c.dockerHost))
		}
		cli, err := client.NewClientWithOpts(opts...)
		if err != nil {
			return nil, fmt.Errorf("peers: docker client: %w", err)
		}
		cfg.Engine = cli
	}
	return peers.New(cfg), nil
}

// alivePeers lists the gossip addresses of the alive peers, for the state
// directory.
func alivePeers(n *gossip.Node) func() []netip.AddrPort {
	return func() []netip.AddrPort {
		var out []netip.AddrPort
		for _, m := range n.Members() {
			if !m.Local && m.State == gossip.StateAlive && m.Addr.IsValid() {
				out = append(out, m.Addr)
			}
		}
		return out
	}
}

// named wraps a component's error with its name; a nil error stays nil.
func named(component string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", component, err)
}

// loadGossipKeys returns the gossip keys from --gossip-key or
// --gossip-key-file (the first encrypts), or nil when neither is set.
func (c *serveConfig) loadGossipKeys() ([][]byte, error) {
	switch {
	case c.gossipKey != "":
		key, err := gossip.ParseKey(c.gossipKey)
		if err != nil {
			return nil, fmt.Errorf("--gossip-key: %w", err)
		}
		return [][]byte{key}, nil
	case c.gossipKeyFile != "":
		keys, err := gossip.LoadKeyFile(c.gossipKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--gossip-key-file: %w", err)
		}
		return keys, nil
	}
	return nil, nil
}

// readiness lists what /readyz waits for (readyRule): the first Docker
// sync, the join (or finding no one to join), and DNS served by this run.
func readiness(w *watcher.Watcher, node *gossip.Node, explain *lateExplainer, handedOff *atomic.Bool) []admin.Check {
	checks := []admin.Check{{Name: "docker-sync", Ready: closed(w.Synced(), "the first Docker sync has not finished")}}
	if node != nil {
		checks = append(checks, admin.Check{Name: "gossip-join", Ready: closed(node.Joined(), "no peer joined yet, and not every seed has been tried")})
	}
	checks = append(checks, admin.Check{Name: "dns", Ready: func() error {
		switch {
		case handedOff.Load():
			return errors.New("handed off to the next run of swarmdns on this node")
		case explain.get() == nil:
			return errors.New("waiting to take DNS over from the previous run on this node")
		}
		return nil
	}})
	return checks
}

func closed(ch <-chan struct{}, why string) func() error {
	return func() error {
		select {
		case <-ch:
			return nil
		default:
			return errors.New(why)
		}
	}
}

// logSyncs logs when the first Docker sync is done.
func logSyncs(ctx context.Context, log zerolog.Logger, w *watcher.Watcher) error {
	select {
	case <-ctx.Done():
	case <-w.Synced():
		st := w.Status()
		log.Info().Int("containers", st.Containers).Str("docker", st.Host).Msg("first docker sync done")
	}
	return nil
}

// handleHangups keeps SIGHUP from killing the process (its default),
// calls each of reloads on it, and says where the other run-time settings
// are changed.
func handleHangups(ctx context.Context, log zerolog.Logger, reloads ...func()) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			if len(reloads) == 0 {
				log.Info().Msg("SIGHUP: nothing to reload; change the log level with `swarmdns log-level LEVEL` (PUT /v1/log-level on the admin API)")
			}
			for _, reload := range reloads {
				reload()
			}
		}
	}
}
