package cli

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// serveConfig is everything `swarmdns serve` is told on its command line.
type serveConfig struct {
	zone       string
	dnsListen  string
	upstreams  listFlag
	resolvConf string
	ttl        time.Duration
	hostsFile  string
	maxUDPSize int
	rateLimit  int

	allowRecursion prefixFlag
	allowTransfer  prefixFlag

	transferKey     listFlag
	transferKeyFile string
	notify          listFlag

	dockerHost    string
	dockerTimeout time.Duration
	watchLabel    string
	resync        time.Duration

	nodeName        string
	gossipListen    string
	gossipAdvertise string
	join            listFlag
	gossipKey       string
	gossipKeyFile   string
	lease           time.Duration
	rejoinInterval  time.Duration

	adminListen string
	adminToken  string

	logLevel  string
	logFormat string
}

// newServeFlags declares serve's flags on a new FlagSet bound to c.
func newServeFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	host, _ := os.Hostname()

	fs.StringVar(&c.zone, "zone", "swarm.internal.", "the DNS zone swarmdns is authoritative for")
	fs.StringVar(&c.dnsListen, "dns-listen", ":53", "`address` to serve DNS on, UDP and TCP")
	fs.Var(&c.upstreams, "upstream", "upstream resolvers for names outside the zone, `host[:port]`, comma-separated or repeated (default: the nameservers of --resolv-conf)")
	fs.StringVar(&c.resolvConf, "resolv-conf", "/etc/resolv.conf", "`file` to read upstream resolvers from when --upstream is not set")
	fs.DurationVar(&c.ttl, "ttl", 5*time.Second, "TTL of the zone's records")
	fs.StringVar(&c.hostsFile, "hosts-file", "", "`file` in /etc/hosts format whose names are answered too (reloaded when it changes)")
	fs.IntVar(&c.maxUDPSize, "max-udp-size", 1232, "largest UDP answer, in bytes, a client may ask for with EDNS0 (512 to 4096)")
	fs.IntVar(&c.rateLimit, "rate-limit", 0, "in-zone UDP answers per second to one client network (/24, /56), as BIND's response-rate limiting; over it every second answer is an empty truncated reply and the rest are dropped (0: off)")
	fs.Var(&c.allowRecursion, "allow-recursion", "clients (`CIDR`s, comma-separated) whose names outside the zone are forwarded; \"none\" for no one (default: loopback and the private ranges)")
	fs.Var(&c.allowTransfer, "allow-transfer", "clients (`CIDR`s, comma-separated) that may transfer the zone with AXFR and IXFR (default: no one)")
	fs.Var(&c.transferKey, "transfer-key", "TSIG key, `[ALGORITHM:]NAME:BASE64SECRET` as dig -y takes it (hmac-sha256 by default), repeatable: transfers then need a request signed with one, replies and NOTIFYs are signed")
	fs.StringVar(&c.transferKeyFile, "transfer-key-file", "", "`file` of TSIG keys (e.g. a Swarm secret), one ALGORITHM:NAME:BASE64SECRET a line, as --transfer-key")
	fs.Var(&c.notify, "notify", "secondaries, `host[:port]`, comma-separated or repeated, sent a NOTIFY whenever the zone's serial changes")

	fs.StringVar(&c.dockerHost, "docker-host", "", "Docker Engine `address` (default: $DOCKER_HOST, else the local socket)")
	fs.DurationVar(&c.dockerTimeout, "docker-timeout", 30*time.Second, "how long to keep trying to reach the Docker Engine at start before giving up")
	fs.StringVar(&c.watchLabel, "watch-label", "", "only publish containers that carry this label, `KEY=VALUE` or KEY")
	fs.DurationVar(&c.resync, "resync", 30*time.Second, "interval of full resyncs with the Docker Engine")

	fs.StringVar(&c.nodeName, "node-name", host, "this node's name in the cluster")
	fs.StringVar(&c.gossipListen, "gossip-listen", ":7947", "`address` for cluster gossip, TCP and UDP (7946 is Docker Swarm's own)")
	fs.StringVar(&c.gossipAdvertise, "gossip-advertise", "", "`address` other nodes reach this one at (default: picked from the interfaces)")
	fs.Var(&c.join, "join", "peers to join, `host[:port]` or DNS names (e.g. tasks.swarmdns), comma-separated or repeated")
	fs.StringVar(&c.gossipKey, "gossip-key", "", "gossip encryption key, base64 of 16, 24 or 32 bytes")
	fs.StringVar(&c.gossipKeyFile, "gossip-key-file", "", "`file` holding the gossip key (e.g. a Swarm secret)")
	fs.DurationVar(&c.rejoinInterval, "rejoin-interval", 10*time.Second, "how often the --join addresses and lost peers are joined again (heals partitions memberlist gave up on)")
	fs.DurationVar(&c.lease, "lease", 60*time.Second, "how long other nodes keep a node's records after it was last seen alive")

	fs.StringVar(&c.adminListen, "admin-listen", "127.0.0.1:8053", "`address` of the admin HTTP API and /metrics (empty disables it)")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token the admin API requires (required beyond loopback)")

	fs.StringVar(&c.logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format: json, console, or auto (console on a terminal)")
	setUsage(fs, "serve [flags]")
	return fs
}

// validate checks the flags that the components do not check themselves
// and puts them in canonical form.
func (c *serveConfig) validate() error {
	var errs []error
	if _, ok := mdns.IsDomainName(c.zone); !ok || c.zone == "" || c.zone == "." {
		errs = append(errs, fmt.Errorf("-zone: %q is not a domain name", c.zone))
	} else {
		c.zone = mdns.CanonicalName(c.zone)
	}
	if err := checkHostPort(c.dnsListen); err != nil {
		errs = append(errs, fmt.Errorf("-dns-listen: %w", err))
	}
	for i, u := range c.upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(strings.Trim(u, "[]"), "53")
		}
		if _, err := netip.ParseAddrPort(u); err != nil {
			errs = append(errs, fmt.Errorf("-upstream: %q is not an IP address with an optional port", c.upstreams[i]))
			continue
		}
		c.upstreams[i] = u
	}
	if c.ttl < time.Second || c.ttl > 24*time.Hour {
		errs = append(errs, fmt.Errorf("-ttl: %v is out of range (1s to 24h)", c.ttl))
	}
	if c.maxUDPSize < 512 || c.maxUDPSize > 4096 {
		errs = append(errs, fmt.Errorf("-max-udp-size: %d is out of range (512 to 4096)", c.maxUDPSize))
	}
	if _, err := c.transferKeys(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkNotify(); err != nil {
		errs = append(errs, err)
	}
	if c.rateLimit < 0 {
		errs = append(errs, fmt.Errorf("-rate-limit: %d is negative", c.rateLimit))
	}
	if c.resync < time.Second {
		errs = append(errs, fmt.Errorf("-resync: %v is too short (at least 1s)", c.resync))
	}
	if c.dockerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-docker-timeout: must be positive"))
	}
	if c.lease < time.Second {
		errs = append(errs, fmt.Errorf("-lease: %v is too short (at least 1s)", c.lease))
	}
	if c.rejoinInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("-rejoin-interval: %v is too short (at least 100ms)", c.rejoinInterval))
	}
	if strings.TrimSpace(c.nodeName) == "" {
		errs = append(errs, errors.New("-node-name: empty (and the host name is unknown)"))
	}
	if c.gossipListen != "" {
		if err := checkHostPort(c.gossipListen); err != nil {
			errs = append(errs, fmt.Errorf("-gossip-listen: %w", err))
		}
	}
	if c.gossipKey != "" && c.gossipKeyFile != "" {
		errs = append(errs, errors.New("-gossip-key and -gossip-key-file: give one, not both"))
	}
	if c.adminListen != "" {
		if err := checkHostPort(c.adminListen); err != nil {
			errs = append(errs, fmt.Errorf("-admin-listen: %w", err))
		}
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		errs = append(errs, fmt.Errorf("-log-level: %w", err))
	}
	switch c.logFormat {
	case "json", "console", "auto":
	default:
		errs = append(errs, fmt.Errorf("-log-format: %q is not json, console or auto", c.logFormat))
	}
	return errors.Join(errs...)
}

// checkHostPort checks that s is host:port with a valid port.
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", s, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q has a bad port: %w", s, err)
	}
	return nil
}
