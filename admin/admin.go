package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/reuseport"
	"github.com/swarmdns/swarmdns/registry"
)

// DefaultListen is the admin API's default address: loopback only.
const DefaultListen = "127.0.0.1:8053"

// UnixPrefix starts a listen address that is a unix socket's path
// ("unix:/run/swarmdns/admin.sock"): reachable only from the file system
// (inside the container, with docker exec), never from the network.
const UnixPrefix = "unix:"

// Zone gives the API the node's current view of the zone.
//
// Snapshot must not block and may be called from many goroutines at once;
// the API never modifies what it returns. *registry.Registry satisfies it.
type Zone interface {
	Snapshot() *registry.Snapshot
}

// MemberLister lists the cluster's nodes as the gossip layer sees them.
//
// Members must be safe for concurrent use, must not block for long (it is
// called on every /v1/members request and every Prometheus scrape) and must
// return a slice the caller may keep. The API fills Records, Local, Stale
// and LeaseExpires (and Generation when zero) from the Zone, so a lister
// may leave them zero.
type MemberLister interface {
	Members() []Member
}

// Explainer computes the answer the node gives to one query and explains
// it (which records the zone holds for the name and why any was left out).
//
// name is a canonical FQDN (lower case, trailing dot), qtype a DNS type
// number, client the address to answer for (the zero Addr when the operator
// gave none). It must be safe for concurrent use and honour ctx. An error
// wrapping ErrInvalidQuery is answered 400, any other error 500.
type Explainer interface {
	Explain(ctx context.Context, name string, qtype uint16, client netip.Addr) (Explanation, error)
}

// ErrInvalidQuery marks an Explainer error caused by the query itself.
var ErrInvalidQuery = errors.New("invalid query")

// Check is one readiness condition: /readyz answers 200 only when every
// check's Ready returns nil.
type Check struct {
	// Name names the condition ("docker-sync", "dns", "gossip-join").
	Name string
	// Ready returns nil when the condition holds, or why it does not. It
	// must be cheap, safe for concurrent use and must not block.
	Ready func() error
}

// Config configures a Server.
type Config struct {
	// Listen is the TCP address to serve on, or UnixPrefix and a socket
	// path; empty means DefaultListen. A TCP address beyond loopback
	// requires Token.
	Listen string
	// MetricsListen, if set, is a TCP address that serves /metrics only,
	// without a token (Prometheus on the node's address, as CoreDNS's
	// 9153), bound with SO_REUSEPORT like the DNS sockets.
	MetricsListen string
	// Token, when not empty, is the bearer token every request but the
	// probes (/healthz, /readyz) must carry ("Authorization: Bearer
	// <token>"). The probes say only whether the node lives and which
	// readiness check is pending, and their callers (a load balancer,
	// Docker's HEALTHCHECK, an orchestrator) are not given secrets: as
	// CoreDNS's health and ready plugins, and Kubernetes' own /readyz.
	Token string

	// Zone is the node's registry (required).
	Zone Zone
	// Members lists the cluster's nodes; nil lists only the nodes the Zone
	// holds (a node without gossip).
	Members MemberLister
	// Explainer backs /v1/lookup; nil answers it 501.
	Explainer Explainer
	// Hidden, when set, lists the containers a label hides, so that a
	// lookup can say the label is why a name has no answer.
	Hidden HiddenFinder
	// ZoneName, when set, is the DNS zone ("swarm.internal."); a name
	// without a dot given to /v1/lookup is taken relative to it, so that
	// `swarmdns lookup web` asks for web.<zone>.
	ZoneName string
	// Ready are the readiness checks of /readyz.
	Ready []Check
	// ReadyRule, when set, is the sentence /readyz's reply gives as the
	// rule its checks follow.
	ReadyRule string

	// Gatherer serves /metrics and is where /v1/stats reads its numbers
	// (required).
	Gatherer prometheus.Gatherer
	// Registerer, when set, receives the API's own collector:
	// swarmdns_records{node} and swarmdns_ready{check}, computed from Zone
	// and Ready at scrape time.
	Registerer prometheus.Registerer

	// LogLevel returns the current log level for GET /v1/log-level; nil
	// reports the last level set through the API (or 501 before any).
	LogLevel func() zerolog.Level
	// SetLogLevel changes the log level for PUT /v1/log-level; nil answers
	// it 501.
	SetLogLevel func(zerolog.Level)

	// Version is the build version reported by /v1/version.
	Version string
	// Logger receives the API's own log lines.
	Logger zerolog.Logger
}

// Server is the admin HTTP API. New binds its listener; Run serves it.
type Server struct {
	cfg     Config
	ln      net.Listener
	metrics net.Listener // nil without Config.MetricsListen
	handler http.Handler
	log     zerolog.Logger

	levelMu  sync.Mutex
	levelSet *zerolog.Level // last level set through the API

	runOnce sync.Once
}

// Timeouts of the HTTP server.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 5 * time.Second
	maxHeaderBytes    = 64 << 10
)

// New checks cfg, registers the API's collectors and binds the listener.
// It refuses a listen address beyond loopback without a Token.
func New(cfg Config) (*Server, error) {
	if cfg.Zone == nil {
		return nil, errors.New("admin: no zone")
	}
	if cfg.Gatherer == nil {
		return nil, errors.New("admin: no metrics gatherer")
	}
	for i, c := range cfg.Ready {
		if c.Name == "" || c.Ready == nil {
			return nil, fmt.Errorf("admin: readiness check %d has no name or no func", i)
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ZoneName != "" {
		cfg.ZoneName = registry.CanonicalName(cfg.ZoneName)
	}
	if cfg.Token == "" && !isUnix(cfg.Listen) && !maybeLoopback(cfg.Listen) {
		return nil, fmt.Errorf("admin: refusing to listen on %s without a token: the address is not loopback; set an admin token (--admin-token) or listen on 127.0.0.1", cfg.Listen)
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.handler = s.routes()
	ln, err := listen(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Listen, err)
	}
	if cfg.Token == "" && !isLocal(ln.Addr()) {
		// A host name that resolved beyond loopback.
		ln.Close()
		return nil, fmt.Errorf("admin: refusing to listen on %s (%s) without a token: the address is not loopback; set an admin token (--admin-token) or listen on 127.0.0.1", cfg.Listen, ln.Addr())
	}
	if cfg.MetricsListen != "" {
		if s.metrics, err = reuseport.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin: metrics listener on %s: %w", cfg.MetricsListen, err)
		}
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(&collector{s: s}); err != nil {
			ln.Close()
			if s.metrics != nil {
				s.metrics.Close()
			}
			return nil, fmt.Errorf("admin: register metrics: %w", err)
		}
	}
	s.ln = ln
	return s, nil
}

// maybeLoopback reports whether addr's host could be loopback: a loopback
// IP literal or a name (checked again once bound). An empty host or an
// unspecified address listens everywhere.
func maybeLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true // net.Listen reports the error
	}
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	return true
}

func isUnix(addr string) bool { return strings.HasPrefix(addr, UnixPrefix) }

// listen binds a TCP address, or a unix socket (replacing a stale socket
// file nobody answers on; refusing one another server answers on).
func listen(addr string) (net.Listener, error) {
	if !isUnix(addr) {
		return net.Listen("tcp", addr)
	}
	path := strings.TrimPrefix(addr, UnixPrefix)
	if path == "" {
		return nil, errors.New("empty socket path")
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another server answers on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// isLocal reports whether a listener's address is reachable from this host
// only: loopback, or a unix socket.
func isLocal(a net.Addr) bool {
	if _, ok := a.(*net.UnixAddr); ok {
		return true
	}
	return isLoopback(a)
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ok && ip.Unmap().IsLoopback()
}

// Addr returns the address the API listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Handler returns the API's HTTP handler (authentication included), for
// tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves the API until ctx ends, then shuts the server down gracefully
// (in-flight requests get a few seconds) and returns nil. It returns an
// error only if serving fails. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	err := errors.New("admin: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Server) run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          newStdLogger(s.log),
	}
	ev := s.log.Info().Str("addr", s.ln.Addr().String()).Bool("token", s.cfg.Token != "")
	if !isLocal(s.ln.Addr()) {
		ev = s.log.Warn().Str("addr", s.ln.Addr().String()).Bool("token", true)
		ev.Msg("admin API listening beyond loopback; every request but /healthz needs the bearer token")
	} else {
		ev.Msg("admin API listening")
	}
	servers := []*http.Server{srv}
	listeners := []net.Listener{s.ln}
	if s.metrics != nil {
		msrv := &http.Server{
			Handler:           s.metricsOnly(),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          newStdLogger(s.log),
		}
		servers, listeners = append(servers, msrv), append(listeners, s.metrics)
		s.log.Info().Str("addr", s.metrics.Addr().String()).Msg("metrics listening (/metrics only)")
	}
	done := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { done <- hs.Serve(listeners[i]) }()
	}
	var runErr error
	returned := 0
	select {
	case err := <-done:
		returned++
		runErr = fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	}
	for ; returned < len(servers); returned++ {
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
			runErr = fmt.Errorf("admin: serve: %w", err)
		}
	}
	return runErr
}

// MetricsAddr returns the address of the metrics listener, nil without one.
func (s *Server) MetricsAddr() net.Addr {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.Addr()
}

// Close releases the listeners of a Server whose Run was never called.
func (s *Server) Close() error {
	if s.metrics != nil {
		_ = s.metrics.Close()
	}
	err := s.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
