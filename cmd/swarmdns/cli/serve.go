package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/dns"
	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/registry"
	"github.com/swarmdns/swarmdns/watcher"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	var c serveConfig
	fs := newServeFlags(&c)
	if code, ok := parseFlags(fs, args, os.Getenv, stderr); !ok {
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
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log); err != nil {
		log.Error().Err(err).Msg("swarmdns stopped")
		fmt.Fprintf(stderr, "swarmdns serve: %v\n", err)
		return exitError
	}
	log.Info().Msg("swarmdns stopped")
	return exitOK
}

// serve builds every component, binds their sockets, then runs them until
// ctx ends or one of them fails.
func serve(ctx context.Context, c serveConfig, log zerolog.Logger) error {
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	generation := uint64(time.Now().UnixNano())
	reg, err := registry.New(registry.Config{Node: c.nodeName, Generation: generation})
	if err != nil {
		return err
	}
	log.Info().Str("zone", c.zone).Uint64("generation", generation).Str("version", Version).Msg("swarmdns starting")

	upstreams := []string(c.upstreams)
	if len(upstreams) == 0 {
		var exclude []netip.AddrPort
		if ap, err := netip.ParseAddrPort(c.dnsListen); err == nil {
			exclude = append(exclude, ap)
		} else if ap, err := netip.ParseAddrPort("0.0.0.0" + c.dnsListen); err == nil {
			exclude = append(exclude, ap)
		}
		upstreams, err = dns.UpstreamsFromResolvConf(c.resolvConf, exclude...)
		if err != nil {
			log.Warn().Err(err).Msg("no upstream resolvers: names outside the zone will get SERVFAIL (set --upstream)")
		}
	}
	var nsAddrs []netip.Addr // ns.<zone>: the address DNS listens on, if it is one
	if ap, err := netip.ParseAddrPort(c.dnsListen); err == nil && !ap.Addr().IsUnspecified() {
		nsAddrs = []netip.Addr{ap.Addr()}
	}
	transferKeys, err := c.transferKeys()
	if err != nil {
		return err
	}
	dnsCfg := dns.Config{
		NSAddrs:        nsAddrs,
		Zone:           c.zone,
		Listen:         c.dnsListen,
		TTL:            c.ttl,
		Upstreams:      upstreams,
		AllowRecursion: c.allowRecursion.value(),
		AllowTransfer:  c.allowTransfer.value(),
		TransferKeys:   transferKeys,
		Notify:         c.notify,
		MaxUDPSize:     c.maxUDPSize,
		HostsFile:      c.hostsFile,
		RateLimit:      c.rateLimit,
		Store:          reg,
		Logger:         log.With().Str("component", "dns").Logger(),
		Metrics:        metrics,
	}

	w, err := watcher.New(watcher.Config{
		DockerHost:   c.dockerHost,
		Zone:         c.zone,
		Node:         c.nodeName,
		WatchLabel:   c.watchLabel,
		Resync:       c.resync,
		StartTimeout: c.dockerTimeout,
		Store:        reg,
		Logger:       log.With().Str("component", "watcher").Logger(),
		Metrics:      metrics,
	})
	if err != nil {
		return err // already says which component
	}

	// Gossip binds before DNS so that DNS can answer <node>.node.<zone> from
	// its member list.
	var node *gossip.Node
	if c.gossipListen != "" {
		key, err := c.loadGossipKey()
		if err != nil {
			return err
		}
		node, err = gossip.New(gossip.Config{
			Node:           c.nodeName,
			Generation:     generation,
			BindAddr:       c.gossipListen,
			AdvertiseAddr:  c.gossipAdvertise,
			Join:           c.join,
			Key:            key,
			Lease:          c.lease,
			RejoinInterval: c.rejoinInterval,
			Store:          reg,
			Logger:         log.With().Str("component", "gossip").Logger(),
			Metrics:        metrics,
		})
		if err != nil {
			return err // already says which component
		}
		defer node.Close()
		log.Info().Str("addr", node.LocalAddr().String()).Strs("join", c.join).Msg("gossip listening")
		dnsCfg.NodeAddrs = memberAddrs(node)
		if a := node.LocalAddr().Addr(); a.IsValid() && !a.IsUnspecified() && len(dnsCfg.NSAddrs) == 0 {
			dnsCfg.NSAddrs = []netip.Addr{a}
		}
	} else {
		log.Warn().Msg("gossip disabled (--gossip-listen is empty): this node serves its own containers only")
	}

	dnsSrv, err := dns.New(dnsCfg)
	if err != nil {
		return err // already says which component
	}
	defer dnsSrv.Close()

	var adminSrv *admin.Server
	if c.adminListen != "" {
		cfg := admin.Config{
			Listen:      c.adminListen,
			Token:       c.adminToken,
			Zone:        reg,
			ZoneName:    c.zone,
			Explainer:   dnsExplainer{dnsSrv},
			Ready:       readiness(w, node, len(c.join) > 0),
			Gatherer:    metrics,
			Registerer:  metrics,
			LogLevel:    zerolog.GlobalLevel,
			SetLogLevel: zerolog.SetGlobalLevel,
			Version:     Version,
			Logger:      log.With().Str("component", "admin").Logger(),
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

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return named("dns", dnsSrv.Run(ctx)) })
	g.Go(func() error { return named("watcher", w.Run(ctx)) })
	if node != nil {
		g.Go(func() error { return named("gossip", node.Run(ctx)) })
	}
	if adminSrv != nil {
		g.Go(func() error { return named("admin", adminSrv.Run(ctx)) })
	}
	g.Go(func() error { return logSyncs(ctx, log, w) })
	g.Go(func() error { return handleHangups(ctx, log) })
	g.Go(func() error {
		return runMemoryPolicy(ctx, log.With().Str("component", "memory").Logger(), os.LookupEnv)
	})
	return g.Wait()
}

// named wraps a component's error with its name; a nil error stays nil.
func named(component string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", component, err)
}

// loadGossipKey returns the gossip key from --gossip-key or
// --gossip-key-file, or nil when neither is set.
func (c *serveConfig) loadGossipKey() ([]byte, error) {
	switch {
	case c.gossipKey != "":
		key, err := gossip.ParseKey(c.gossipKey)
		if err != nil {
			return nil, fmt.Errorf("-gossip-key: %w", err)
		}
		return key, nil
	case c.gossipKeyFile != "":
		key, err := gossip.LoadKeyFile(c.gossipKeyFile)
		if err != nil {
			return nil, fmt.Errorf("-gossip-key-file: %w", err)
		}
		return key, nil
	}
	return nil, nil
}

// readiness lists what /readyz waits for: the first Docker sync, and the
// first join when there are peers to join. DNS is bound before the admin API
// starts, so it is ready from the start.
func readiness(w *watcher.Watcher, node *gossip.Node, joining bool) []admin.Check {
	checks := []admin.Check{{Name: "docker-sync", Ready: closed(w.Synced(), "the first Docker sync has not finished")}}
	if node != nil && joining {
		checks = append(checks, admin.Check{Name: "gossip-join", Ready: closed(node.Joined(), "no peer joined yet")})
	}
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

// handleHangups keeps SIGHUP from killing the process (its default) and
// says where the run-time settings are changed.
func handleHangups(ctx context.Context, log zerolog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			log.Info().Msg("SIGHUP: nothing to reload; change the log level with PUT /v1/log-level on the admin API")
		}
	}
}
