package gossip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/registry"
)

// Defaults.
const (
	// DefaultPort is the gossip port. Docker Swarm's own memberlist holds
	// 7946, so swarmdns uses the next one.
	DefaultPort = 7947
	// DefaultLabel is the memberlist label: packets and streams of another
	// memberlist cluster on the same hosts (Swarm's) are refused.
	DefaultLabel = "swarmdns"
	// DefaultLease is how long peers keep a failed node's records.
	DefaultLease = 60 * time.Second
	// DefaultRejoinInterval is how often lost peers and the join
	// addresses are joined again.
	DefaultRejoinInterval = 10 * time.Second
	// DefaultLeaveTimeout bounds the graceful leave at shutdown.
	DefaultLeaveTimeout = 5 * time.Second
)

// Store is what gossip needs from the registry; *registry.Registry
// satisfies it. All methods are safe for concurrent use and return
// quickly (they never wait on the network); what they return is shared
// and is not modified.
//
// Gossip writes other nodes' records only (ApplyDelta, MergeNode,
// RemoveNode, SetLease, ExpireLeases): the store refuses an update that
// claims the local node (registry.ErrOwnNode) and ignores stale ones
// (an older generation, a version it already has, a generation it has
// seen leave). It reads the zone through Snapshot, follows local changes
// through SubscribeLocal, and asks RenewGeneration to move the local node to a
// newer generation when the cluster still holds its name at one at least
// as new (a restart with a clock that went backwards, or a run the peers
// dropped while it was cut off).
type Store interface {
	Snapshot() *registry.Snapshot
	SubscribeLocal(ctx context.Context) (*registry.Snapshot, *registry.Subscription)
	Generation(node string) (uint64, bool)
	ApplyDelta(d registry.Delta) (bool, error)
	MergeNode(st registry.NodeState) (bool, error)
	RemoveNode(node string) bool
	SetLease(node string, expires time.Time)
	ExpireLeases() []string
	RenewGeneration(above uint64) (uint64, bool)
}

var _ Store = (*registry.Registry)(nil)

// Config configures a Node.
type Config struct {
	// Node is the local node's name, unique in the cluster (required). It
	// must be the registry's local node.
	Node string
	// Generation identifies this run (swarmdns passes its start time in
	// nanoseconds); it must equal the registry's. Zero takes the
	// registry's.
	Generation uint64
	// BindAddr is the host:port to listen on, UDP and TCP; default ":7947".
	BindAddr string
	// AdvertiseAddr is the host:port or host that peers use to reach this
	// node; by default the bound address, or a private address of the host
	// when bound to all addresses.
	AdvertiseAddr string
	// Join lists peers to join: host:port, or a DNS name resolved again at
	// every attempt (a Swarm service's tasks.<service>). Without a port,
	// the local node's port is used.
	Join []string
	// Seeds, if set, gives more peers to join, in the form of Join; it is
	// called again at every round of joins (the engine's Swarm managers
	// and nodes, the peers last seen). It must honour ctx.
	Seeds func(ctx context.Context) []string
	// Keys are the gossip encryption keys (16, 24 or 32 bytes each, AES-
	// 128/192/256): the first encrypts, every one decrypts, so that a key
	// can be rotated without downtime (SetKeys changes them at run time).
	// None disables encryption, and New logs a warning: anyone who can
	// reach the port can then join and publish records.
	Keys [][]byte
	// Label is the memberlist label; default "swarmdns". Nodes with
	// another label never talk to each other.
	Label string
	// Lease is how long a failed or unreachable node's records are kept
	// after it was last seen alive; default 60s.
	Lease time.Duration
	// RejoinInterval is how often the join addresses and lost peers are
	// joined again; default 10s.
	RejoinInterval time.Duration
	// LeaveTimeout bounds the graceful leave when Run ends; default 5s.
	LeaveTimeout time.Duration
	// Store is the registry (required).
	Store Store
	// Logger receives gossip's logs and memberlist's (component=memberlist).
	Logger zerolog.Logger
	// Metrics registers gossip's metrics when non-nil.
	Metrics prometheus.Registerer
	// PerContainerDeltas sends every local change as its own delta, as
	// swarmdns did before an owner's changes travelled together in one
	// batch; for comparisons (bench/cluster). Nodes also fall back to it
	// while a member does not read batches.
	PerContainerDeltas bool
	// MemberlistConfig, when set, can adjust the memberlist configuration
	// just before it is created (tests: shorter intervals, a transport).
	MemberlistConfig func(*memberlist.Config)
}

// splitHostPort splits host:port, host, :port or [v6]:port, with def as the
// port when there is none.
func splitHostPort(s string, def int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare host or IPv6 address.
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(s, "[]"), def, nil
		}
		return "", 0, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port in %q", s)
	}
	return host, int(port), nil
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Node == "" {
		return cfg, errors.New("gossip: node name is empty")
	}
	if cfg.Store == nil {
		return cfg, errors.New("gossip: no store")
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = ":" + strconv.Itoa(DefaultPort)
	}
	if cfg.Label == "" {
		cfg.Label = DefaultLabel
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.RejoinInterval <= 0 {
		cfg.RejoinInterval = DefaultRejoinInterval
	}
	if cfg.LeaveTimeout <= 0 {
		cfg.LeaveTimeout = DefaultLeaveTimeout
	}
	if err := checkKeys(cfg.Keys); err != nil {
		return cfg, fmt.Errorf("gossip: %w", err)
	}
	return cfg, nil
}
