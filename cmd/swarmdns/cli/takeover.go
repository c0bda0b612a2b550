package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/swarmdns/swarmdns/gossip"
	"github.com/swarmdns/swarmdns/internal/handoff"
	"github.com/swarmdns/swarmdns/internal/nodeaddr"
	"github.com/swarmdns/swarmdns/internal/peers"
	"github.com/swarmdns/swarmdns/registry"
)

// ownNodeAddress puts the node-local DNS address on swarmdns0 (or lo) and
// says where.
func ownNodeAddress(log zerolog.Logger, addr netip.Addr) error {
	m, err := nodeaddr.New()
	if err != nil {
		return err
	}
	defer m.Close()
	res, err := m.Ensure(addr)
	if err != nil {
		return fmt.Errorf("%w (the node address needs CAP_NET_ADMIN in the host's network namespace: a service on the host network with cap_add NET_ADMIN)", err)
	}
	ev := log.Info()
	if res.Fallback {
		ev = log.Warn().Str("why", res.Reason)
	}
	ev.Stringer("addr", addr).Str("interface", res.Link).Bool("added", res.Added).Msg("node-local DNS address in place (it stays when swarmdns stops; swarmdns uninstall removes it)")
	return nil
}

// findPredecessor connects to the run of swarmdns that still serves this
// node (a start-first update) and has it release gossip; nil when there is
// none.
func findPredecessor(ctx context.Context, log zerolog.Logger, sock string) *handoff.Predecessor {
	dctx, cancel := context.WithTimeout(ctx, takeoverStep)
	defer cancel()
	pred, err := handoff.Dial(dctx, sock)
	if err != nil {
		log.Warn().Err(err).Msg("cannot reach the previous run on this node: starting without a handoff")
		return nil
	}
	if pred == nil {
		return nil
	}
	log.Info().Str("socket", sock).Msg("the previous run of swarmdns serves this node: taking over from it")
	if err := pred.ReleaseGossip(dctx); err != nil {
		log.Warn().Err(err).Msg("the previous run did not release gossip; waiting for its port")
	}
	return pred
}

// startGossip creates the gossip node: its advertise address from the
// engine's Swarm with --swarm, its seeds from finder, and its port once the
// previous run (if any) has let it go.
func (c *serveConfig) startGossip(ctx context.Context, reg *registry.Registry, finder *peers.Finder, generation uint64, metrics prometheus.Registerer, log zerolog.Logger) (*gossip.Node, error) {
	keys, err := c.loadGossipKeys()
	if err != nil {
		return nil, err
	}
	advertise := c.gossipAdvertise
	if advertise == "" && c.swarmDiscovery {
		addr, err := swarmAddr(ctx, finder, c.dockerTimeout)
		if err != nil {
			return nil, err
		}
		if addr.IsValid() {
			advertise = addr.String()
			log.Info().Stringer("addr", addr).Msg("advertising the node's Swarm address for gossip")
		} else {
			log.Warn().Msg("--swarm: the engine is in no Swarm; gossip advertises an address of the host's own choosing")
		}
	}
	cfg := gossip.Config{
		Node:           c.nodeName,
		Generation:     generation,
		BindAddr:       c.gossipListen,
		AdvertiseAddr:  advertise,
		Join:           c.join,
		Keys:           keys,
		Lease:          c.lease,
		RejoinInterval: c.rejoinInterval,
		Store:          reg,
		Logger:         log.With().Str("component", "gossip").Logger(),
		Metrics:        metrics,
	}
	if finder != nil {
		cfg.Seeds = finder.Seeds
	}
	deadline := time.Now().Add(gossipBindWait)
	for logged := false; ; {
		node, err := gossip.New(cfg)
		if !errors.Is(err, gossip.ErrAddrInUse) || time.Now().After(deadline) {
			return node, err
		}
		if !logged {
			log.Info().Str("addr", c.gossipListen).Msg("the gossip port is held (by the previous run on this node?): waiting for it")
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// swarmAddr asks the engine for the node's Swarm address, retrying for
// timeout while the engine cannot be reached; the zero Addr when the
// engine is in no Swarm.
func swarmAddr(ctx context.Context, finder *peers.Finder, timeout time.Duration) (netip.Addr, error) {
	deadline := time.Now().Add(timeout)
	for {
		addr, ok, err := finder.SwarmAddr(ctx)
		if err == nil {
			if !ok {
				return netip.Addr{}, nil
			}
			return addr, nil
		}
		if time.Now().After(deadline) {
			return netip.Addr{}, fmt.Errorf("--swarm: %w", err)
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// awaitReady waits until the first Docker sync is done and gossip has
// joined (or found no one to join), or takeoverReadyWait has passed.
func awaitReady(ctx context.Context, log zerolog.Logger, w interface{ Synced() <-chan struct{} }, node *gossip.Node) {
	ctx, cancel := context.WithTimeout(ctx, takeoverReadyWait)
	defer cancel()
	start := time.Now()
	select {
	case <-w.Synced():
	case <-ctx.Done():
	}
	if node != nil {
		select {
		case <-node.Joined():
		case <-ctx.Done():
		}
	}
	if ctx.Err() != nil {
		log.Warn().Dur("waited_ms", time.Since(start)).Msg("not ready in time: taking DNS over anyway")
		return
	}
	log.Info().Dur("took_ms", time.Since(start)).Msg("ready: taking DNS over")
}

// components runs serve's components in one errgroup; a component can be
// stopped alone (for a handoff) and awaited.
type components struct {
	g   *errgroup.Group
	ctx context.Context
}

type component struct {
	g       *errgroup.Group
	name    string
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	started atomic.Bool
}

func (cs components) start(name string) *component {
	ctx, cancel := context.WithCancel(cs.ctx)
	return &component{g: cs.g, name: name, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// run runs f in the group under the component's context.
func (c *component) run(f func(context.Context) error) {
	c.started.Store(true)
	c.g.Go(func() error {
		defer close(c.done)
		return named(c.name, f(c.ctx))
	})
}

// stop ends the component and waits for it to return.
func (c *component) stop() {
	c.cancel()
	if c.started.Load() {
		<-c.done
	}
}

// takeover lets the next run on the node take over from this one.
type takeover struct {
	log       zerolog.Logger
	sock      string
	dns       *component
	gossip    *component
	node      *gossip.Node
	handedOff *atomic.Bool
}

// listen serves the handoff socket (take: replacing the previous run's).
func (t *takeover) listen(g *errgroup.Group, ctx context.Context, take bool) {
	listen := handoff.Listen
	if take {
		listen = handoff.Take
	}
	l, err := listen(t.sock)
	if err != nil {
		t.log.Warn().Err(err).Msg("no handoff socket: the next run on this node will start beside this one without taking over")
		return
	}
	aborted := make(chan error, 1)
	g.Go(func() error {
		return l.Run(ctx, handoff.Hooks{
			ReleaseGossip: func(context.Context) error {
				if t.node == nil {
					return nil
				}
				t.node.HandOff()
				t.gossip.stop()
				t.log.Info().Msg("released gossip to the next run on this node (without leaving the cluster)")
				return nil
			},
			ReleaseDNS: func(context.Context) error {
				t.handedOff.Store(true)
				t.dns.stop()
				t.log.Info().Msg("released DNS to the next run on this node; idle until stopped")
				return nil
			},
			Abort: func(err error) { aborted <- err },
		})
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
			return nil
		case err := <-aborted:
			return fmt.Errorf("handoff: %w; exiting so that a fresh run starts", err)
		}
	})
}
