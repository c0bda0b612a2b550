// Package peers finds the gossip peers of a swarmdns node that runs on the
// host network, where no overlay network (and no tasks.<service> name)
// links the sidecars:
//
//   - the engine's Swarm: GET /info gives this node's own address
//     (Swarm.NodeAddr, what Swarm advertises, which gossip advertises too)
//     and the managers' addresses (Swarm.RemoteManagers, on workers as on
//     managers); on a manager, the node list gives every node's address;
//   - the peers last seen alive, kept in a file on the host (a volume of
//     the node), so that a node whose managers run no swarmdns (drained
//     managers run no tasks) still finds the others after a restart.
//
// Static --join addresses are gossip's own.
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/rs/zerolog"
)

// Engine is what the Finder asks the Docker engine; *client.Client
// satisfies it.
type Engine interface {
	Info(ctx context.Context) (system.Info, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
}

// Defaults.
const (
	// Forget is how long a peer is remembered after it was last seen alive.
	Forget = 24 * time.Hour
	// requestTimeout bounds one call to the engine.
	requestTimeout = 5 * time.Second
)

// Config configures a Finder.
type Config struct {
	// Engine is the local Docker engine; nil finds no Swarm peers.
	Engine Engine
	// Port is the gossip port of the peers (every node uses the same).
	Port int
	// File is where the peers last seen are kept; empty keeps none.
	File string
	// Logger receives the Finder's logs.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Finder gives gossip its seeds. Its methods are safe for concurrent use.
type Finder struct {
	cfg Config
	log zerolog.Logger

	mu        sync.Mutex
	seen      map[netip.AddrPort]time.Time // remembered peers and when last seen alive
	lastWrite time.Time
	warned    map[string]bool
}

// rewriteEvery refreshes the file's times even when no peer came or went.
const rewriteEvery = time.Hour

// New returns a Finder, with the peers the file remembers (a missing file
// remembers none; an unreadable one is logged and ignored).
func New(cfg Config) *Finder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Finder{cfg: cfg, log: cfg.Logger, seen: make(map[netip.AddrPort]time.Time), warned: make(map[string]bool)}
	if cfg.File != "" {
		seen, err := load(cfg.File)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			f.log.Warn().Err(err).Str("file", cfg.File).Msg("cannot read the peers last seen; starting without them")
		default:
			now := cfg.Now()
			for a, t := range seen {
				if now.Sub(t) < Forget {
					f.seen[a] = t
				}
			}
			addrs := make([]string, 0, len(f.seen))
			for a := range f.seen {
				addrs = append(addrs, a.String())
			}
			slices.Sort(addrs)
			f.log.Info().Strs("peers", addrs).Str("file", cfg.File).Msg("peers last seen")
		}
	}
	return f
}

// SwarmAddr returns this node's address in its Swarm (Swarm.NodeAddr),
// and false when the engine is in no Swarm (or cannot be asked).
func (f *Finder) SwarmAddr(ctx context.Context) (netip.Addr, bool, error) {
	if f.cfg.Engine == nil {
		return netip.Addr{}, false, nil
	}
	info, err := f.info(ctx)
	if err != nil {
		return netip.Addr{}, false, err
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		return netip.Addr{}, false, nil
	}
	a, err := netip.ParseAddr(info.Swarm.NodeAddr)
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("peers: the engine's Swarm.NodeAddr %q: %w", info.Swarm.NodeAddr, err)
	}
	return a.Unmap(), true, nil
}

func (f *Finder) info(ctx context.Context) (system.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	info, err := f.cfg.Engine.Info(ctx)
	if err != nil {
		return info, fmt.Errorf("peers: docker info: %w", err)
	}
	return info, nil
}

// Seeds returns the addresses (host:port) to join: the Swarm's managers
// and, on a manager, its nodes, then the peers remembered. It is gossip's
// Config.Seeds. An engine that cannot be asked gives only the remembered
// peers (and is logged once).
func (f *Finder) Seeds(ctx context.Context) []string {
	var out []string
	add := func(host string) {
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			if s := netip.AddrPortFrom(ip.Unmap(), uint16(f.cfg.Port)).String(); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if f.cfg.Engine != nil {
		if info, err := f.info(ctx); err != nil {
			f.warnOnce("info", err)
		} else if info.Swarm.LocalNodeState == swarm.LocalNodeStateActive {
			for _, m := range info.Swarm.RemoteManagers {
				host, _, err := net.SplitHostPort(m.Addr)
				if err != nil {
					host = m.Addr
				}
				add(host)
			}
			if info.Swarm.ControlAvailable {
				lctx, cancel := context.WithTimeout(ctx, requestTimeout)
				nodes, err := f.cfg.Engine.NodeList(lctx, swarm.NodeListOptions{})
				cancel()
				if err != nil {
					f.warnOnce("nodes", err)
				}
				for _, n := range nodes {
					if n.Status.State != swarm.NodeStateDown {
						add(n.Status.Addr)
					}
				}
			}
		}
	}
	f.mu.Lock()
	remembered := make([]netip.AddrPort, 0, len(f.seen))
	for a := range f.seen {
		remembered = append(remembered, a)
	}
	f.mu.Unlock()
	slices.SortFunc(remembered, netip.AddrPort.Compare)
	for _, a := range remembered {
		if s := a.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (f *Finder) warnOnce(what string, err error) {
	f.mu.Lock()
	first := !f.warned[what]
	f.warned[what] = true
	f.mu.Unlock()
	if first {
		f.log.Warn().Err(err).Msg("cannot ask the engine for Swarm peers; using the remembered ones")
	}
}

// Seen records the peers alive now and writes the file when what it
// remembers changed (a new peer, or one forgotten: not seen for Forget),
// or its times are an hour old.
func (f *Finder) Seen(alive []netip.AddrPort) error {
	now := f.cfg.Now()
	f.mu.Lock()
	changed := false
	for _, a := range alive {
		if _, ok := f.seen[a]; !ok {
			changed = true
		}
		f.seen[a] = now
	}
	for a, t := range f.seen {
		if now.Sub(t) >= Forget {
			delete(f.seen, a)
			changed = true
		}
	}
	if now.Sub(f.lastWrite) >= rewriteEvery {
		changed = true
	}
	if !changed || f.cfg.File == "" {
		f.mu.Unlock()
		return nil
	}
	f.lastWrite = now
	snapshot := make(map[netip.AddrPort]time.Time, len(f.seen))
	for a, t := range f.seen {
		snapshot[a] = t
	}
	f.mu.Unlock()
	return save(f.cfg.File, snapshot)
}

// Run records the alive peers every interval (and once more when ctx
// ends), until ctx ends; alive lists them.
func (f *Finder) Run(ctx context.Context, interval time.Duration, alive func() []netip.AddrPort) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := f.Seen(alive()); err != nil {
				f.log.Warn().Err(err).Msg("cannot keep the peers last seen")
			}
			return nil
		case <-t.C:
			if err := f.Seen(alive()); err != nil {
				f.log.Warn().Err(err).Msg("cannot keep the peers last seen")
			}
		}
	}
}

// fileFormat is the peers file: each peer's gossip address and when it
// was last seen alive.
type fileFormat struct {
	Peers []filePeer `json:"peers"`
}

type filePeer struct {
	Addr     string    `json:"addr"`
	LastSeen time.Time `json:"last_seen"`
}

func load(path string) (map[netip.AddrPort]time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ff fileFormat
	if err := json.Unmarshal(b, &ff); err != nil {
		return nil, fmt.Errorf("peers file %s: %w", path, err)
	}
	out := make(map[netip.AddrPort]time.Time, len(ff.Peers))
	for _, p := range ff.Peers {
		a, err := netip.ParseAddrPort(p.Addr)
		if err != nil {
			return nil, fmt.Errorf("peers file %s: %q: %w", path, p.Addr, err)
		}
		out[a] = p.LastSeen
	}
	return out, nil
}

// save writes the file whole, through a temporary file and a rename, so a
// crash leaves the old or the new one.
func save(path string, seen map[netip.AddrPort]time.Time) error {
	ff := fileFormat{Peers: make([]filePeer, 0, len(seen))}
	for a, t := range seen {
		ff.Peers = append(ff.Peers, filePeer{Addr: a.String(), LastSeen: t.UTC()})
	}
	slices.SortFunc(ff.Peers, func(a, b filePeer) int {
		x, _ := netip.ParseAddrPort(a.Addr)
		y, _ := netip.ParseAddrPort(b.Addr)
		return x.Compare(y)
	})
	b, err := json.MarshalIndent(ff, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-"+strconv.Itoa(os.Getpid()))
	if err != nil {
		return fmt.Errorf("peers file: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("peers file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("peers file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("peers file: %w", err)
	}
	return nil
}
