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

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/dns"
)

// serveConfig is everything `swarmdns serve` is told on its command line.
type serveConfig struct {
	configFile string

	zone        string
	nodeAddress string
	dnsListen   listFlag
	upstreams   listFlag
	resolvConf  string
	ttl         time.Duration
	hostsFile   string
	maxUDPSize  int
	rateLimit   int
	logQueries  bool

	allowRecursion prefixFlag
	allowTransfer  prefixFlag
	reverseZones   prefixFlag

	transferKey     listFlag
	transferKeyFile string
	notify          listFlag

	dockerHost    string
	dockerTimeout time.Duration
	watchLabel    string
	resync        time.Duration

	nodeName        string
	swarmDiscovery  bool
	stateDir        string
	gossipListen    string
	gossipAdvertise string
	join            listFlag
	gossipKey       string
	gossipKeyFile   string
	lease           time.Duration
	rejoinInterval  time.Duration

	adminListen   string
	adminToken    string
	metricsListen string

	logLevel  string
	logFormat string
}

// newServeFlags declares serve's flags on a new FlagSet bound to c.
func newServeFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	host, _ := os.Hostname()

	fs.StringVar(&c.configFile, configFlag, "", "settings `file`: one \"flag = value\" a line (flags and SWARMDNS_ variables override it)")
	fs.StringVar(&c.zone, "zone", "swarm.internal.", "the DNS zone swarmdns is authoritative for")
	fs.StringVar(&c.nodeAddress, "node-address", "", "node-local DNS `address` (169.254.53.53 in the deploy files) that swarmdns puts on its dummy interface swarmdns0, or on lo, and keeps when it stops (needs CAP_NET_ADMIN; swarmdns uninstall removes it)")
	fs.Var(&c.dnsListen, "dns-listen", "`addresses` to serve DNS on, UDP and TCP, comma-separated or repeated (default: the node address's port 53 and 127.0.0.1:53; \":53\" serves every address)")
	fs.Var(&c.upstreams, "upstream", "upstream resolvers for names outside the zone, `ip[:port]`, comma-separated or repeated (default: the nameservers of --resolv-conf)")
	fs.StringVar(&c.resolvConf, "resolv-conf", "/etc/resolv.conf", "`file` to read upstream resolvers from when --upstream is not set")
	fs.DurationVar(&c.ttl, "ttl", 5*time.Second, "TTL of the zone's records")
	fs.StringVar(&c.hostsFile, "hosts-file", "", "`file` in /etc/hosts format whose names are answered too (reloaded when it changes)")
	fs.IntVar(&c.maxUDPSize, "max-udp-size", 1232, "largest UDP answer, in bytes, a client may ask for with EDNS0 (512 to 4096)")
	fs.IntVar(&c.rateLimit, "rate-limit", 0, "in-zone UDP answers per second to one client container (or, for an address no container of the node holds, one client network: /24, /56), as BIND's response-rate limiting; over it every second answer is an empty truncated reply and the rest are dropped (0: off)")
	fs.BoolVar(&c.logQueries, "log-queries", false, "log every query at info level, with the client's container")
	fs.Var(&c.allowRecursion, "allow-recursion", "clients (`CIDR`s, comma-separated) whose names outside the zone are forwarded, matched against every address of the client's container; \"none\" for no one (default: loopback and the private ranges)")
	fs.Var(&c.allowTransfer, "allow-transfer", "clients (`CIDR`s, comma-separated) that may transfer the zone with AXFR and IXFR (default: no one)")
	fs.Var(&c.reverseZones, "reverse-zone", "`CIDR`s, comma-separated or repeated, whose reverse zones (in-addr.arpa., ip6.arpa.) swarmdns is authoritative for, beside those of the containers' subnets; \"none\" for none at all, not even those")
	fs.Var(&c.transferKey, "transfer-key", "TSIG key, `[ALGORITHM:]NAME:BASE64SECRET` as dig -y takes it (hmac-sha256 by default), repeatable: transfers then need a request signed with one, replies and NOTIFYs are signed")
	fs.StringVar(&c.transferKeyFile, "transfer-key-file", "", "`file` of TSIG keys (e.g. a Swarm secret), one ALGORITHM:NAME:BASE64SECRET a line, as --transfer-key")
	fs.Var(&c.notify, "notify", "secondaries, `host[:port]`, comma-separated or repeated, sent a NOTIFY whenever the zone's serial changes")

	fs.StringVar(&c.dockerHost, "docker-host", "", "Docker Engine `address` (default: $DOCKER_HOST, else the local socket)")
	fs.DurationVar(&c.dockerTimeout, "docker-timeout", 30*time.Second, "how long to keep trying to reach the Docker Engine at start before giving up")
	fs.StringVar(&c.watchLabel, "watch-label", "", "only publish containers that carry this label, `KEY=VALUE` or KEY")
	fs.DurationVar(&c.resync, "resync", 30*time.Second, "interval of full resyncs with the Docker Engine")

	fs.StringVar(&c.nodeName, "node-name", host, "this node's name in the cluster")
	fs.BoolVar(&c.swarmDiscovery, "swarm", false, "find peers through the engine's Swarm (its managers, and on a manager its nodes) and advertise the node's Swarm address: for a sidecar on the host network")
	fs.StringVar(&c.stateDir, "state-dir", "", "`directory` kept across restarts (a volume of the node): the peers last seen, and the socket through which the next run takes over (empty: none)")
	fs.StringVar(&c.gossipListen, "gossip-listen", ":7947", "`address` for cluster gossip, TCP and UDP (7946 is Docker Swarm's own)")
	fs.StringVar(&c.gossipAdvertise, "gossip-advertise", "", "`address` other nodes reach this one at (default: picked from the interfaces)")
	fs.Var(&c.join, "join", "peers to join, `host[:port]` or DNS names (resolved again at every round), comma-separated or repeated")
	fs.StringVar(&c.gossipKey, "gossip-key", "", "gossip encryption key, base64 of 16, 24 or 32 bytes")
	fs.StringVar(&c.gossipKeyFile, "gossip-key-file", "", "`file` holding the gossip keys (e.g. a Swarm secret), one base64 key a line: the first encrypts, all decrypt; read again when it changes and on SIGHUP, so a key can be rotated without a restart")
	fs.DurationVar(&c.rejoinInterval, "rejoin-interval", 10*time.Second, "how often the --join addresses and lost peers are joined again (heals partitions memberlist gave up on)")
	fs.DurationVar(&c.lease, "lease", 60*time.Second, "how long other nodes keep a node's records after it was last seen alive")

	fs.StringVar(&c.adminListen, "admin-listen", "127.0.0.1:8053", "`address` of the admin HTTP API and /metrics, host:port or unix:PATH (empty disables it)")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "`address` serving /metrics only, without a token, for Prometheus (e.g. :9153)")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token the admin API requires (required beyond loopback)")

	fs.StringVar(&c.logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format: json, console, or auto (console on a terminal)")
	setUsage(fs, "serve [flags]")
	return fs
}

// validate checks the flags and puts them in canonical form; the DNS
// server's own settings are checked by dns's rules (dnsFlagErrors).
func (c *serveConfig) validate() error {
	var errs []error
	if _, ok := mdns.IsDomainName(c.zone); !ok || c.zone == "" || c.zone == "." || !hostnameLabels(c.zone) {
		errs = append(errs, fmt.Errorf("--zone: %q is not a domain name (letters, digits and hyphens, labels separated by dots)", c.zone))
	} else {
		c.zone = mdns.CanonicalName(c.zone)
	}
	if c.nodeAddress != "" {
		if a, err := netip.ParseAddr(c.nodeAddress); err != nil || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() {
			errs = append(errs, fmt.Errorf("--node-address: %q is not an address a node can own", c.nodeAddress))
		} else {
			c.nodeAddress = a.Unmap().String()
		}
	}
	if len(c.dnsListen) == 0 {
		if c.nodeAddress != "" {
			c.dnsListen = append(c.dnsListen, net.JoinHostPort(c.nodeAddress, "53"))
		}
		c.dnsListen = append(c.dnsListen, "127.0.0.1:53")
	}
	for _, l := range c.dnsListen {
		if err := checkHostPort(l); err != nil {
			errs = append(errs, fmt.Errorf("--dns-listen: %w", err))
		}
	}
	// Every DNS flag has a non-zero default, so a zero here is a value the
	// user gave (--ttl 0), not dns.Config's "unset, take the default".
	if c.ttl == 0 {
		errs = append(errs, fmt.Errorf("--ttl 0s: out of range (%v to %v)", dns.MinTTL, dns.MaxTTL))
	}
	if c.maxUDPSize == 0 {
		errs = append(errs, fmt.Errorf("--max-udp-size 0: out of range (%d to %d)", dns.MinUDPSize, dns.MaxUDPSize))
	}
	errs = append(errs, dnsFlagErrors(c.dnsConfigToCheck())...)
	if _, err := c.transferKeys(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkNotify(); err != nil {
		errs = append(errs, err)
	}
	if c.rateLimit < 0 {
		errs = append(errs, fmt.Errorf("--rate-limit: %d is negative", c.rateLimit))
	}
	if c.resync < time.Second {
		errs = append(errs, fmt.Errorf("--resync: %v is too short (at least 1s)", c.resync))
	}
	if c.dockerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--docker-timeout: must be positive"))
	}
	if c.lease < time.Second {
		errs = append(errs, fmt.Errorf("--lease: %v is too short (at least 1s)", c.lease))
	}
	if c.rejoinInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--rejoin-interval: %v is too short (at least 100ms)", c.rejoinInterval))
	}
	if strings.TrimSpace(c.nodeName) == "" {
		errs = append(errs, errors.New("--node-name: empty (and the host name is unknown)"))
	}
	if c.gossipListen != "" {
		if err := checkHostPort(c.gossipListen); err != nil {
			errs = append(errs, fmt.Errorf("--gossip-listen: %w", err))
		}
	}
	if c.gossipKey != "" && c.gossipKeyFile != "" {
		errs = append(errs, errors.New("--gossip-key and --gossip-key-file: give one, not both"))
	} else if _, err := c.loadGossipKeys(); err != nil {
		errs = append(errs, err)
	}
	if c.adminListen != "" && !strings.HasPrefix(c.adminListen, admin.UnixPrefix) {
		if err := checkHostPort(c.adminListen); err != nil {
			errs = append(errs, fmt.Errorf("--admin-listen: %w", err))
		}
	}
	if c.metricsListen != "" && c.adminListen == "" {
		errs = append(errs, errors.New("--metrics-listen: needs the admin API (--admin-listen is empty)"))
	} else if c.metricsListen != "" {
		if err := checkHostPort(c.metricsListen); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen: %w", err))
		}
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	switch c.logFormat {
	case "json", "console", "auto":
	default:
		errs = append(errs, fmt.Errorf("--log-format: %q is not json, console or auto", c.logFormat))
	}
	return errors.Join(errs...)
}

// hostnameLabels reports whether every label of name is a hostname label
// (letters, digits, hyphens inside; '_' too, as in _tcp): a zone clients
// can type.
func hostnameLabels(name string) bool {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
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
