package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/dnswire"
	"github.com/swarmdns/swarmdns/internal/hostsfile"
	"github.com/swarmdns/swarmdns/internal/reuseport"
	"github.com/swarmdns/swarmdns/internal/rrl"
	"github.com/swarmdns/swarmdns/internal/udpsock"
	"github.com/swarmdns/swarmdns/registry"
)

// Defaults of Config.
const (
	DefaultZone           = "swarm.internal."
	DefaultListen         = ":53"
	DefaultTTL            = 5 * time.Second
	DefaultStaleTTL       = 1 * time.Second
	DefaultNegativeTTL    = 5 * time.Second
	DefaultForwardTimeout = 2 * time.Second
	DefaultMaxInflight    = 1024
	DefaultCacheSize      = 10000
	DefaultCacheMaxTTL    = time.Hour
	DefaultMaxUDPSize     = 1232

	// maxQuerySize is the UDP read buffer: the largest query taken. A
	// query is a header, one question and an OPT with its options, far
	// below the 4096-byte EDNS payload that clients offer at most (RFC 6891
	// §6.2.5); a larger datagram is no query and gets FORMERR.
	maxQuerySize          = 4096
	DefaultMaxConcurrent  = 4096
	DefaultMaxTCPConns    = 256
	DefaultTCPIdleTimeout = 8 * time.Second
	DefaultHostsPoll      = 2 * time.Second
)

// readTimeout bounds the reading of one query (a TCP client that sends a
// length and then trickles gets cut off) and the writing of one reply.
const readTimeout = 2 * time.Second

// udpReadBuffer is the receive buffer asked for the UDP socket (the kernel
// caps it at net.core.rmem_max). The default (about 208 KiB, some 250 small
// datagrams) overflows in bursts near saturation: dnsperf at the saturation
// rate lost over 1% of its queries that way, none with 4 MiB.
const udpReadBuffer = 4 << 20

// DefaultAllowRecursion are the clients that may use the server as a
// resolver when Config.AllowRecursion is nil: loopback, the private and
// shared ranges (RFC 1918, RFC 6598), link-local, and IPv6 unique local.
var DefaultAllowRecursion = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// Config configures a Server. Zero values take the defaults above.
type Config struct {
	// Zone is the cluster zone the server is authoritative for.
	Zone string
	// Listen is the host:port to serve on, over both UDP and TCP. Port 0
	// picks one free port for both.
	Listen string
	// ExtraListen are more host:port addresses served the same way (the
	// node-local address and loopback, say). On a fixed port every socket
	// is bound with SO_REUSEPORT, so that the next run of the server can
	// bind beside this one before it stops (a start-first update).
	ExtraListen []string
	// TTL is the TTL of cluster records.
	TTL time.Duration
	// StaleTTL is the TTL of records whose node is stale (its engine or
	// the node itself is unreachable); at most TTL.
	StaleTTL time.Duration
	// NegativeTTL is the SOA minimum: how long NXDOMAIN and NODATA answers
	// may be cached (RFC 2308). It must not be zero (consul#4713).
	NegativeTTL time.Duration
	// NSAddrs are the addresses of the zone's name server ns.<zone>, given
	// as glue with the apex NS and as its A/AAAA records. Optional.
	NSAddrs []netip.Addr
	// NodeAddrs, if set, answers <node>.node.<zone>: it returns the
	// addresses of the swarmdns node whose name, as a DNS label (lower
	// case), is node, or nothing when there is no such node. It is called
	// on the query path: it must be fast, safe for concurrent use, and
	// must not block; the server does not modify what it returns.
	NodeAddrs func(node string) []netip.Addr

	// ReverseZones are prefixes whose reverse zones (in-addr.arpa.,
	// ip6.arpa.) the server is authoritative for, beside those of the
	// containers' subnets (reverse.go).
	ReverseZones []netip.Prefix
	// NoNetworkReverseZones turns off the reverse zones of the containers'
	// subnets: only ReverseZones are then the server's.
	NoNetworkReverseZones bool

	// Upstreams are the resolvers (host:port; the port defaults to 53)
	// that names outside the zone are forwarded to, tried in order.
	Upstreams []string
	// ForwardTimeout bounds the whole forwarding of one question, all
	// upstreams included; SERVFAIL when it runs out.
	ForwardTimeout time.Duration
	// MaxInflight bounds the client queries waiting on upstreams; REFUSED
	// beyond it.
	MaxInflight int
	// CacheSize bounds the cached forwarded answers.
	CacheSize int
	// CacheMaxTTL caps how long a forwarded answer is cached.
	CacheMaxTTL time.Duration
	// AllowRecursion lists the clients whose questions outside the zone
	// are forwarded; others get REFUSED. Nil means DefaultAllowRecursion;
	// an empty non-nil slice allows no one.
	AllowRecursion []netip.Prefix
	// AllowTransfer lists the clients that may transfer the zone (AXFR and
	// IXFR, transfer.go), so that BIND, Knot or CoreDNS secondaries can
	// mirror it. Nil or empty allows no one.
	AllowTransfer []netip.Prefix
	// TransferKeys are TSIG keys (RFC 8945): a request signed with one is
	// verified and its replies signed; with any set, AXFR and IXFR need a
	// request signed with one of them, from a client in AllowTransfer. A
	// request signed with another key gets NOTAUTH (BADKEY) with or without
	// keys here. NOTIFYs are signed with the first.
	TransferKeys []TransferKey
	// Notify are secondaries, host[:port] (port 53 by default), sent a
	// NOTIFY (RFC 1996) whenever the serial changes (notify.go).
	Notify []string

	// MaxUDPSize caps the UDP reply size a client may ask for with EDNS0
	// (RFC 6891); also the size the server advertises.
	MaxUDPSize int
	// MaxConcurrent bounds the UDP queries handled at once; beyond it the
	// server stops reading and the socket buffer absorbs the burst.
	MaxConcurrent int
	// MaxTCPConns bounds the open TCP connections; new ones beyond it are
	// closed at once.
	MaxTCPConns int
	// TCPIdleTimeout closes a TCP connection idle between queries (RFC 7766).
	TCPIdleTimeout time.Duration
	// RateLimit, when positive, bounds the in-zone answers sent over UDP
	// to one client network (IPv4 /24, IPv6 /56) per second, as BIND's
	// response-rate limiting does, so the server cannot amplify a flood at
	// a spoofed address. Zero turns it off (the default).
	RateLimit int
	// RateLimitSlip makes every RateLimitSlip-th answer over the limit an
	// empty truncated reply (TC=1), so real clients retry over TCP; the
	// others are dropped. Zero means 2; negative drops them all.
	RateLimitSlip int

	// HostsFile is a file in /etc/hosts format whose names are answered
	// (A, AAAA, PTR; with TTL) before the zone and the upstreams, as
	// dnsmasq does. It is read again when it changes. Optional.
	HostsFile string
	// HostsPoll is how often HostsFile is checked for changes.
	HostsPoll time.Duration

	// Clients, if set, says which local container holds a client address;
	// answers, the rate limit and the recursion ACL then follow that
	// container (see Clients). Nil answers every client by its address.
	Clients Clients
	// LogQueries logs every query at info level (client, its container,
	// name, type, rcode) instead of a sample at debug level; it turns the
	// UDP fast path off.
	LogQueries bool

	// Store is the registry the zone is answered from (required).
	Store Zone
	// Logger receives the server's logs; queries are logged at debug
	// level only, sampled.
	Logger zerolog.Logger
	// Metrics, if not nil, gets the server's Prometheus collectors.
	Metrics prometheus.Registerer
	// Now returns the current time for the cache; nil means time.Now.
	Now func() time.Time
}

// Server is a DNS server for the cluster zone that forwards everything else.
type Server struct {
	cfg            Config
	zone           zoneConfig
	store          Zone
	fwd            *forwarder
	metrics        *metrics
	log            zerolog.Logger
	qlog           zerolog.Logger // sampled, for per-query debug lines
	allowRecursion []netip.Prefix
	rrl            *rrl.Limiter // nil when off
	keys           keyring      // Config.TransferKeys by name
	notifyMetrics  *notifyMetrics

	udp      *net.UDPConn   // the first UDP socket; UDPAddr reports its address
	udpConns []*net.UDPConn // every UDP socket on the address (SO_REUSEPORT), each with its own reader
	pktinfo  bool           // the sockets are bound to a wildcard address: replies set their source
	tcp      net.Listener   // the first TCP listener; TCPAddr reports its address
	tcps     []net.Listener // one per listen address

	soaNames []byte // the SOA's MNAME and RNAME in wire form, for the fast path

	hosts *hostsfile.File // nil without Config.HostsFile

	udpSlots chan struct{} // UDP queries being handled
	tcpSlots chan struct{} // open TCP connections

	base     context.Context // upstream queries run under it; Run cancels it
	stopBase context.CancelFunc
	running  atomic.Bool
	closed   sync.Once
}

// New checks cfg, fills in the defaults and binds the UDP and TCP sockets,
// so that errors such as an address in use surface here. Serve with Run.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("dns: config has no store")
	}
	if cfg.Zone == "" {
		cfg.Zone = DefaultZone
	}
	origin := registry.CanonicalName(cfg.Zone)
	if _, ok := mdns.IsDomainName(origin); !ok || origin == "." {
		return nil, fmt.Errorf("dns: invalid zone %q", cfg.Zone)
	}
	cfg.Zone = origin
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ttl", &cfg.TTL, DefaultTTL},
		{"stale ttl", &cfg.StaleTTL, DefaultStaleTTL},
		{"negative ttl", &cfg.NegativeTTL, DefaultNegativeTTL},
		{"forward timeout", &cfg.ForwardTimeout, DefaultForwardTimeout},
		{"cache max ttl", &cfg.CacheMaxTTL, DefaultCacheMaxTTL},
		{"tcp idle timeout", &cfg.TCPIdleTimeout, DefaultTCPIdleTimeout},
		{"hosts poll", &cfg.HostsPoll, DefaultHostsPoll},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return nil, fmt.Errorf("dns: negative %s %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.TTL < time.Second || cfg.NegativeTTL < time.Second {
		return nil, fmt.Errorf("dns: ttl %v and negative ttl %v must be at least 1s", cfg.TTL, cfg.NegativeTTL)
	}
	cfg.StaleTTL = min(cfg.StaleTTL, cfg.TTL)
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"max inflight", &cfg.MaxInflight, DefaultMaxInflight},
		{"cache size", &cfg.CacheSize, DefaultCacheSize},
		{"max udp size", &cfg.MaxUDPSize, DefaultMaxUDPSize},
		{"max concurrent", &cfg.MaxConcurrent, DefaultMaxConcurrent},
		{"max tcp conns", &cfg.MaxTCPConns, DefaultMaxTCPConns},
	}
	for _, n := range ints {
		if *n.v < 0 {
			return nil, fmt.Errorf("dns: negative %s %d", n.name, *n.v)
		}
		if *n.v == 0 {
			*n.v = n.def
		}
	}
	cfg.MaxUDPSize = min(max(cfg.MaxUDPSize, mdns.MinMsgSize), mdns.MaxMsgSize)
	ups := make([]string, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		hp, err := normalizeUpstream(u)
		if err != nil {
			return nil, fmt.Errorf("dns: %w", err)
		}
		ups = append(ups, hp)
	}
	cfg.Upstreams = ups
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	allow := slices.Clone(cfg.AllowRecursion)
	if allow == nil {
		allow = slices.Clone(DefaultAllowRecursion)
	}
	cfg.AllowTransfer = slices.Clone(cfg.AllowTransfer)
	keys, err := newKeyring(cfg.TransferKeys)
	if err != nil {
		return nil, fmt.Errorf("dns: transfer key: %w", err)
	}
	cfg.TransferKeys = slices.Clone(cfg.TransferKeys)
	notify := make([]string, 0, len(cfg.Notify))
	for _, t := range cfg.Notify {
		hp, err := ParseNotifyTarget(t)
		if err != nil {
			return nil, fmt.Errorf("dns: %w", err)
		}
		notify = append(notify, hp)
	}
	cfg.Notify = notify
	cfg.NSAddrs = slices.Clone(cfg.NSAddrs)
	var fwdCache *cache // set below, read at scrape time
	m, err := newMetrics(cfg.Metrics, origin, cfg.Upstreams, func() int {
		if fwdCache == nil {
			return 0
		}
		return fwdCache.len()
	})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	nm, err := newNotifyMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}

	s := &Server{
		cfg: cfg,
		zone: zoneConfig{
			origin:    origin,
			ttl:       seconds(cfg.TTL),
			staleTTL:  seconds(cfg.StaleTTL),
			negTTL:    seconds(cfg.NegativeTTL),
			nsName:    registry.NSName(origin),
			nsAddrs:   cfg.NSAddrs,
			mbox:      "hostmaster." + origin,
			nodeAddrs: cfg.NodeAddrs,
			nodeZone:  registry.NodeZone(origin),
			clients:   cfg.Clients,
			reverse:   newReverseZones(cfg.ReverseZones, !cfg.NoNetworkReverseZones),
		},
		store:          cfg.Store,
		metrics:        m,
		log:            cfg.Logger,
		qlog:           cfg.Logger.Sample(&zerolog.BasicSampler{N: 100}),
		allowRecursion: allow,
		keys:           keys,
		notifyMetrics:  nm,
		udpSlots:       make(chan struct{}, cfg.MaxConcurrent),
		tcpSlots:       make(chan struct{}, cfg.MaxTCPConns),
	}
	if cfg.RateLimitSlip == 0 {
		cfg.RateLimitSlip = 2
	}
	s.rrl = rrl.New(rrl.Config{PerSecond: cfg.RateLimit, Slip: cfg.RateLimitSlip, Now: cfg.Now})
	fwdCache = newCache(cfg.CacheSize, cfg.CacheMaxTTL, cfg.Now)
	s.fwd = &forwarder{
		upstreams:   cfg.Upstreams,
		timeout:     cfg.ForwardTimeout,
		maxInflight: int64(cfg.MaxInflight),
		udpSize:     uint16(cfg.MaxUDPSize),
		cache:       fwdCache,
		metrics:     m,
		log:         s.qlog,
		flights:     make(map[cacheKey]*flight),
		failed:      make([]atomic.Int64, len(cfg.Upstreams)),
		looping:     make([]atomic.Bool, len(cfg.Upstreams)),
		loopLog:     cfg.Logger,
		report:      newUpstreamReport(cfg.Logger),
		probes:      make(map[string]*loopProbe),
	}
	soaNames := make([]byte, 2*dnswire.MaxNameLen+2)
	off, err := mdns.PackDomainName(s.zone.nsName, soaNames, 0, nil, false)
	if err == nil {
		off, err = mdns.PackDomainName(s.zone.mbox, soaNames, off, nil, false)
	}
	if err != nil {
		return nil, fmt.Errorf("dns: zone %q: SOA names: %w", origin, err)
	}
	s.soaNames = soaNames[:off]
	if cfg.HostsFile != "" {
		hosts, err := hostsfile.Open(hostsfile.Config{Path: cfg.HostsFile, Poll: cfg.HostsPoll, Logger: s.log})
		if err != nil {
			return nil, fmt.Errorf("dns: %w", err)
		}
		s.hosts = hosts
	}
	s.base, s.stopBase = context.WithCancel(context.Background())
	for _, addr := range append([]string{cfg.Listen}, cfg.ExtraListen...) {
		udp, pktinfo, tcp, err := listen(addr)
		if err != nil {
			s.stopBase()
			_ = s.closeSockets()
			return nil, fmt.Errorf("dns: %w", err)
		}
		s.udpConns = append(s.udpConns, udp...)
		s.pktinfo = s.pktinfo || pktinfo
		s.tcps = append(s.tcps, tcp)
	}
	s.udp, s.tcp = s.udpConns[0], s.tcps[0]
	return s, nil
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

// normalizeUpstream checks an upstream address and adds the default port.
func normalizeUpstream(u string) (string, error) {
	if ip, err := netip.ParseAddr(u); err == nil {
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	host, port, err := net.SplitHostPort(u)
	if err != nil {
		return "", fmt.Errorf("upstream %q: %w", u, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("upstream %q: bad port", u)
	}
	if host == "" {
		return "", fmt.Errorf("upstream %q: no host", u)
	}
	return net.JoinHostPort(host, port), nil
}

// listen binds the UDP sockets (one per core) and the TCP listener on
// addr. With port 0 both get the same port.
func listen(addr string) (udp []*net.UDPConn, pktinfo bool, tcp net.Listener, err error) {
	return listenSockets(addr, udpsock.SocketCount())
}

// listenSockets is listen with udpCount UDP sockets.
func listenSockets(addr string, udpCount int) (udp []*net.UDPConn, pktinfo bool, tcp net.Listener, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, false, nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		udp, pktinfo, err := udpsock.Listen(addr, udpCount, udpReadBuffer)
		if err != nil {
			return nil, false, nil, err
		}
		tcpAddr := addr
		if port == "0" {
			tcpAddr = net.JoinHostPort(host, strconv.Itoa(udp[0].LocalAddr().(*net.UDPAddr).Port))
		}
		var lc net.ListenConfig
		if reuseport.Available && port != "0" {
			lc.Control = reuseport.Control
		}
		tcp, err := lc.Listen(context.Background(), "tcp", tcpAddr)
		if err != nil {
			for _, c := range udp {
				_ = c.Close()
			}
			if port == "0" && attempt < 10 {
				continue // the TCP side of that port is taken: pick another
			}
			return nil, false, nil, fmt.Errorf("listen tcp %s: %w", tcpAddr, err)
		}
		return udp, pktinfo, tcp, nil
	}
}

// closeSockets closes every socket of the server.
func (s *Server) closeSockets() error {
	var errs []error
	for _, l := range s.tcps {
		errs = append(errs, l.Close())
	}
	for _, c := range s.udpConns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// listenAddrs returns every address the server is bound to, TCP and UDP
// alike.
func (s *Server) listenAddrs() []string {
	out := make([]string, len(s.tcps))
	for i, l := range s.tcps {
		out[i] = l.Addr().String()
	}
	return out
}

// UDPAddr returns the address the server receives UDP queries on.
func (s *Server) UDPAddr() netip.AddrPort { return s.udp.LocalAddr().(*net.UDPAddr).AddrPort() }

// TCPAddr returns the address the server accepts TCP connections on.
func (s *Server) TCPAddr() netip.AddrPort { return s.tcp.Addr().(*net.TCPAddr).AddrPort() }

// Zone returns the canonical name of the zone the server is authoritative for.
func (s *Server) Zone() string { return s.zone.origin }

// Close releases the sockets of a server that is not running (Run releases
// them itself when it returns). It is idempotent.
func (s *Server) Close() error {
	if s.running.Load() {
		return nil
	}
	var err error
	s.closed.Do(func() {
		s.stopBase()
		err = s.closeSockets()
	})
	return err
}

// Run serves DNS until ctx ends, then shuts the server down: it stops
// reading, cancels forwarded queries, and returns once every query being
// handled has finished. It returns nil after ctx ends, or the error that
// stopped a listener. Run may be called only once.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("dns: server already running")
	}
	served := false
	s.closed.Do(func() { served = true })
	if !served {
		return errors.New("dns: server closed")
	}
	defer s.stopBase()

	// One TCP server per listener; tcpDone gets what each accept loop
	// returns (nil once its listener is closed).
	tcps := make([]*tcpServer, len(s.tcps))
	tcpDone := make(chan error, len(s.tcps))
	for i, l := range s.tcps {
		tcps[i] = newTCPServer(s, &limitListener{Listener: l, slots: s.tcpSlots, metrics: s.metrics})
		go func() { tcpDone <- tcps[i].serve() }()
	}

	// One reader per UDP socket; each returns when its socket is closed.
	// udpHandlers counts the full-path queries they started.
	var udpHandlers sync.WaitGroup
	udpDone := make(chan error, len(s.udpConns))
	for _, conn := range s.udpConns {
		go func() {
			err := s.serveUDP(conn, &udpHandlers)
			if err != nil {
				err = fmt.Errorf("serve udp: %w", err)
			}
			udpDone <- err
		}()
	}

	var runErr error
	s.log.Info().Stringer("udp", s.UDPAddr()).Int("udp_sockets", len(s.udpConns)).Stringer("tcp", s.TCPAddr()).Strs("listen", s.listenAddrs()).
		Str("zone", s.zone.origin).Strs("upstreams", s.cfg.Upstreams).Msg("dns server listening")
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		s.fwd.probeLoops(s.base)
	}()
	defer func() { <-probing }() // s.base ends before Run returns
	notifying := make(chan struct{})
	go func() {
		defer close(notifying)
		s.runNotify(s.base)
	}()
	defer func() { <-notifying }()
	if s.hosts != nil {
		watching := make(chan struct{})
		go func() {
			defer close(watching)
			s.hosts.Run(s.base)
		}()
		defer func() { <-watching }()
	}
	select {
	case <-ctx.Done():
	case err := <-udpDone:
		udpDone <- err
		if runErr = err; runErr == nil {
			runErr = errors.New("udp socket closed")
		}
	case err := <-tcpDone:
		tcpDone <- err
		if runErr = err; runErr == nil {
			runErr = errors.New("tcp listener closed")
		}
	}

	s.stopBase() // cancel forwarded queries so handlers finish
	for _, c := range s.udpConns {
		_ = c.Close() // the readers return
	}
	for range s.udpConns {
		if err := <-udpDone; err != nil && runErr == nil {
			runErr = err
		}
	}
	udpHandlers.Wait()
	for _, l := range s.tcps {
		_ = l.Close() // the accept loops return
	}
	for range s.tcps {
		if err := <-tcpDone; err != nil && runErr == nil {
			runErr = err
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, t := range tcps {
		t.shutdown(deadline)
	}
	if runErr != nil {
		return fmt.Errorf("dns: %w", runErr)
	}
	return nil
}

// acceptMsg decides from the header alone what to do with a message:
// responses are ignored (no reflection), messages whose counts no query
// has get FORMERR (NOTIMP for opcodes other than QUERY and UPDATE), every
// other message goes to the handler. miekg's own replies carry no OPT, so
// the handler answers whatever may carry one: RFC 6891 §6.1.1 wants an OPT
// in every reply to a query with one, and dig and BIND's resolver take a
// FORMERR or NOTIMP without it for a server that does not speak EDNS.
func acceptMsg(dh mdns.Header) mdns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return mdns.MsgIgnore
	}
	switch int(dh.Bits>>11) & 0xF {
	case mdns.OpcodeQuery:
	case mdns.OpcodeUpdate:
		if dh.Qdcount != 1 {
			return mdns.MsgReject
		}
		return mdns.MsgAccept
	default:
		// A message of a plausible shape (NOTIFY carries an SOA in its
		// answer section) goes to the handler, whose NOTIMP echoes the OPT.
		if dh.Qdcount > 1 || dh.Ancount > 1 || dh.Nscount > 1 || dh.Arcount > 2 {
			return mdns.MsgRejectNotImplemented
		}
		return mdns.MsgAccept
	}
	// No question at all (dig +header-only) goes to the handler too, for
	// the same reason.
	if dh.Qdcount > 1 || dh.Ancount != 0 || dh.Nscount > 1 || dh.Arcount > 2 {
		return mdns.MsgReject
	}
	return mdns.MsgAccept
}

// releaseUDP frees the slot a full-path UDP query took. It never blocks,
// so a release without an acquire cannot wedge the server.
func (s *Server) releaseUDP() {
	select {
	case <-s.udpSlots:
	default:
	}
}

// limitListener bounds the open TCP connections: when all slots are taken,
// a new connection is closed at once rather than queued behind slow ones.
type limitListener struct {
	net.Listener
	slots   chan struct{}
	metrics *metrics
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, slots: l.slots}, nil
		default:
			_ = c.Close()
			l.metrics.drop("tcp_conns")
		}
	}
}

type limitConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}

// serveDNS is the handler behind both transports.
func (s *Server) serveDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	start := time.Now()
	tcp := isTCP(w.RemoteAddr())
	client := remoteIP(w.RemoteAddr())
	if isTransfer(req) {
		s.serveTransfer(w, req, client, tcp)
		return
	}
	resp, source := s.respond(s.base, req, client, tcp, nil)
	if !tcp && s.rrl != nil && source == SourceZone {
		switch s.rrl.Allow(s.rateKey(client)) {
		case rrl.Drop:
			s.metrics.drop("ratelimit")
			return
		case rrl.Slip:
			s.metrics.drop("ratelimit")
			resp = slipReply(req, resp)
		}
	}
	size := mdns.MaxMsgSize
	if !tcp {
		size = udpSize(req, s.cfg.MaxUDPSize)
	}
	if tw, ok := w.(*tsigWriter); ok {
		size -= tsigOverhead(tw.key) // the signature is added when it is written
	}
	if source == SourceZone {
		dropAdditional(resp, size)
	}
	resp.Truncate(size)
	if tcp {
		resp.Compress = true
	}
	if err := w.WriteMsg(resp); err != nil {
		s.qlog.Debug().Err(err).Stringer("client", client).Msg("write reply")
	}
	var qtype uint16
	if len(req.Question) > 0 {
		qtype = req.Question[0].Qtype
	}
	d := time.Since(start)
	s.metrics.request(s.servedOf(req, resp.Rcode, source, tcp, client), d)
	if e := s.queryLog(client); e.Enabled() {
		q := ""
		if len(req.Question) > 0 {
			q = req.Question[0].Name
		}
		e.Str("name", q).Str("type", mdns.Type(qtype).String()).Str("rcode", rcodeLabel(resp.Rcode)).
			Stringer("client", client).Bool("tcp", tcp).Int("answers", len(resp.Answer)).Bool("tc", resp.Truncated).
			Dur("took_ms", d).Msg("query")
	}
}

// udpSize is the largest UDP reply the client of req takes
// (dnswire.ClientUDPSize).
func udpSize(req *mdns.Msg, maxSize int) int {
	opt := req.IsEdns0()
	if opt == nil {
		return dnswire.ClientUDPSize(false, 0, maxSize)
	}
	return dnswire.ClientUDPSize(true, opt.UDPSize(), maxSize)
}

func isTCP(a net.Addr) bool {
	_, ok := a.(*net.TCPAddr)
	return ok
}

func remoteIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// Sources of a reply, reported by Lookup.
const (
	// SourceZone: answered from the registry.
	SourceZone = "zone"
	// SourceHosts: answered from Config.HostsFile.
	SourceHosts = "hosts"
	// SourceForward: answered by an upstream.
	SourceForward = "forward"
	// SourceCache: answered from the forwarding cache.
	SourceCache = "cache"
	// SourceServer: answered by the server itself (an error, a refusal).
	SourceServer = "server"
)

// respond builds the reply to req for client: the protocol checks, then the
// zone, then the forwarder. The reply carries an OPT when req did; it is
// not truncated.
func (s *Server) respond(ctx context.Context, req *mdns.Msg, client netip.Addr, tcp bool, ex *explain) (*mdns.Msg, string) {
	for _, rr := range req.Ns {
		if rr.Header().Rrtype == mdns.TypeOPT {
			return s.fail(req, mdns.RcodeFormatError, nil), SourceServer // OPT only in the additional section
		}
	}
	var opt *mdns.OPT
	for _, rr := range req.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			if opt != nil || o.Hdr.Name != "." {
				return s.fail(req, mdns.RcodeFormatError, nil), SourceServer // RFC 6891 §6.1.1
			}
			opt = o
		}
	}
	if opt != nil && opt.Version() != 0 {
		return s.fail(req, mdns.RcodeBadVers, opt), SourceServer
	}
	if opt != nil && malformedCookie(opt) {
		return s.fail(req, mdns.RcodeFormatError, opt), SourceServer
	}
	switch req.Opcode {
	case mdns.OpcodeQuery:
	case mdns.OpcodeUpdate:
		return s.fail(req, mdns.RcodeRefused, opt), SourceServer
	default:
		return s.fail(req, mdns.RcodeNotImplemented, opt), SourceServer
	}
	if len(req.Question) != 1 {
		return s.fail(req, mdns.RcodeFormatError, opt), SourceServer
	}
	q := req.Question[0]
	if q.Qclass != mdns.ClassINET {
		// CHAOS (version.bind), HESIOD, ANY and unknown classes.
		return s.fail(req, mdns.RcodeRefused, opt), SourceServer
	}
	switch q.Qtype {
	case mdns.TypeOPT:
		return s.fail(req, mdns.RcodeFormatError, opt), SourceServer
	case mdns.TypeAXFR, mdns.TypeIXFR:
		return s.fail(req, mdns.RcodeRefused, opt), SourceServer
	case mdns.TypeTKEY, mdns.TypeTSIG, mdns.TypeMAILA, mdns.TypeMAILB:
		return s.fail(req, mdns.RcodeNotImplemented, opt), SourceServer
	}
	recursion := s.recursionAllowed(client)
	if m, ok := answerHosts(s.hostsTable(), req, s.zone.ttl); ok {
		m.RecursionAvailable = recursion
		return s.finish(m, opt), SourceHosts
	}
	if m, ok := s.zone.answer(s.store.Snapshot(), req, client, ex); ok {
		m.RecursionAvailable = recursion
		return s.finish(m, opt), SourceZone
	}
	if s.fwd.probeHit(registry.CanonicalName(q.Name)) {
		// Our own loop probe came back: refuse it, which ends the loop.
		return s.fail(req, mdns.RcodeRefused, opt), SourceServer
	}
	if !recursion {
		ex.refuse("the name is outside the zone and the client may not recurse (--allow-recursion)")
		return s.fail(req, mdns.RcodeRefused, opt), SourceServer
	}
	return s.forward(ctx, req, opt)
}

// forward answers req from the cache or the upstreams.
func (s *Server) forward(ctx context.Context, req *mdns.Msg, opt *mdns.OPT) (*mdns.Msg, string) {
	q := req.Question[0]
	k := cacheKey{
		name: registry.CanonicalName(q.Name), qtype: q.Qtype, qclass: q.Qclass,
		do: opt != nil && opt.Do(), cd: req.CheckingDisabled,
	}
	up, cached, err := s.fwd.resolve(ctx, k, !req.RecursionDesired)
	if err != nil {
		rcode := mdns.RcodeServerFailure
		if errors.Is(err, errBusy) || errors.Is(err, errNotCached) {
			rcode = mdns.RcodeRefused
			if errors.Is(err, errBusy) {
				s.metrics.drop("forward_inflight")
			}
		}
		s.qlog.Debug().Err(err).Str("name", q.Name).Msg("forward failed")
		m := s.fail(req, rcode, opt)
		m.RecursionAvailable = true
		return m, SourceServer
	}
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Rcode = up.Rcode
	m.RecursionAvailable = true
	m.AuthenticatedData = up.AuthenticatedData && (k.do || req.AuthenticatedData)
	m.Answer, m.Ns = up.Answer, up.Ns
	for _, rr := range up.Extra {
		if rr.Header().Rrtype != mdns.TypeOPT {
			m.Extra = append(m.Extra, rr)
		}
	}
	// Echo the client's case (0x20) in the owner names that are the question.
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			if h := rr.Header(); h.Name != q.Name && len(h.Name) == len(q.Name) && registry.CanonicalName(h.Name) == k.name {
				h.Name = q.Name
			}
		}
	}
	if cached {
		return s.finish(m, opt), SourceCache
	}
	return s.finish(m, opt), SourceForward
}

// fail returns an empty reply to req with rcode.
func (s *Server) fail(req *mdns.Msg, rcode int, opt *mdns.OPT) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(req)
	if len(req.Question) > 1 {
		m.Question = nil
	}
	m.Rcode = rcode
	return s.finish(m, opt)
}

// finish adds the server's OPT when the client sent one (RFC 6891): version
// 0, our payload size, the client's DO bit, no options.
func (s *Server) finish(m *mdns.Msg, opt *mdns.OPT) *mdns.Msg {
	if opt == nil {
		return m
	}
	o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
	o.SetUDPSize(uint16(s.cfg.MaxUDPSize))
	if opt.Do() {
		o.SetDo()
	}
	m.Extra = append(m.Extra, o)
	return m
}

// recursionAllowed reports whether client, or any address of the
// container that holds it, is in the recursion ACL.
func (s *Server) recursionAllowed(client netip.Addr) bool {
	if containsAddr(s.allowRecursion, client) {
		return true
	}
	if c := s.zone.clientOf(client); c != nil {
		for _, a := range c.Addrs {
			if containsAddr(s.allowRecursion, a) {
				return true
			}
		}
	}
	return false
}

func containsAddr(prefixes []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
