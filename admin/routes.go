package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/registry"
)

// explainTimeout bounds one /v1/lookup (an out-of-zone name is forwarded).
const explainTimeout = 10 * time.Second

// maxBodyBytes bounds request bodies (only PUT /v1/log-level has one).
const maxBodyBytes = 1 << 10

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, methods map[string]http.HandlerFunc) {
		allowed := make([]string, 0, len(methods))
		for m := range methods {
			allowed = append(allowed, m)
		}
		slices.Sort(allowed)
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			m := r.Method
			if m == http.MethodHead {
				m = http.MethodGet
			}
			h, ok := methods[m]
			if !ok {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, path))
				return
			}
			h(w, r)
		})
	}
	get := func(h http.HandlerFunc) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{http.MethodGet: h}
	}
	metrics := s.metricsHandler()
	handle("/healthz", get(s.healthz))
	handle("/readyz", get(s.readyz))
	handle("/metrics", get(metrics.ServeHTTP))
	handle("/v1/members", get(s.members))
	handle("/v1/records", get(s.records))
	handle("/v1/lookup", get(s.lookup))
	handle("/v1/stats", get(s.stats))
	handle("/v1/version", get(s.version))
	handle("/v1/log-level", map[string]http.HandlerFunc{http.MethodGet: s.getLogLevel, http.MethodPut: s.putLogLevel})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s", r.URL.Path))
	})
	return s.auth(mux)
}

// metricsOnly serves /metrics and nothing else, without a token: the
// handler of Config.MetricsListen.
func (s *Server) metricsOnly() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metricsHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "only /metrics is served here")
	})
	return mux
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// auth requires the bearer token on every path but the probes (/healthz,
// /readyz; see Config.Token) when a token is set. Both sides are hashed first so the comparison takes the same time
// whatever the token's length.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		got := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swarmdns"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

// queryParams parses r's query, refusing parameters not in allowed and
// repeated ones, so that a typo is an error rather than an ignored filter.
func queryParams(r *http.Request, allowed ...string) (map[string]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("bad query string: %w", err)
	}
	out := make(map[string]string, len(q))
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, fmt.Errorf("unknown query parameter %q (this endpoint takes none)", k)
			}
			return nil, fmt.Errorf("unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, fmt.Errorf("query parameter %q given %d times", k, len(vs))
		}
		out[k] = strings.TrimSpace(vs[0])
	}
	return out, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	writeReadiness(w, s.readiness())
}

func (s *Server) readiness() Readiness {
	rd := Readiness{Ready: true, Rule: s.cfg.ReadyRule, Checks: make([]CheckResult, 0, len(s.cfg.Ready))}
	for _, c := range s.cfg.Ready {
		res := CheckResult{Name: c.Name, Ready: true}
		if err := c.Ready(); err != nil {
			res.Ready, res.Error = false, err.Error()
			rd.Ready = false
		}
		rd.Checks = append(rd.Checks, res)
	}
	return rd
}

func writeReadiness(w http.ResponseWriter, rd Readiness) {
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	if _, err := queryParams(r); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	snap := s.cfg.Zone.Snapshot()
	writeJSON(w, http.StatusOK, MembersResponse{Node: snap.LocalNode(), Members: s.memberList(snap)})
}

// memberList merges the gossip layer's members with the nodes the zone
// holds, ordered by name.
func (s *Server) memberList(snap *registry.Snapshot) []Member {
	var ms []Member
	if s.cfg.Members != nil {
		ms = slices.Clone(s.cfg.Members.Members())
	}
	at := make(map[string]int, len(ms))
	for i, m := range ms {
		at[m.Name] = i
	}
	for _, n := range snap.Nodes() {
		i, ok := at[n.Name]
		if !ok {
			state := "unknown"
			if n.Local {
				state = "alive"
			}
			ms = append(ms, Member{Name: n.Name, State: state})
			i = len(ms) - 1
			at[n.Name] = i
		}
		m := &ms[i]
		m.Records, m.Stale, m.LeaseExpires = n.Records, n.Stale, n.Expires
		if m.Generation == 0 {
			m.Generation = n.Generation
		}
	}
	local := snap.LocalNode()
	for i := range ms {
		ms[i].Local = ms[i].Name == local
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

func (s *Server) records(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "node", "name", "container")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := RecordFilter{Node: q["node"], Name: q["name"], Container: q["container"]}
	snap := s.cfg.Zone.Snapshot()
	out := RecordsResponse{Node: snap.LocalNode(), Serial: snap.Serial(), Records: []Record{}}
	for _, set := range snap.Sets() {
		if f.match(set) {
			out.Records = append(out.Records, recordOf(set))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// RecordFilter selects record sets for GET /v1/records; empty fields match
// everything.
type RecordFilter struct {
	// Node is a node name, matched exactly.
	Node string
	// Name matches a set one of whose names (or alias names) is Name or
	// lies under it, label-aligned and case-insensitively: "web" matches
	// web.swarm.internal.; a trailing dot anchors it ("web.swarm.internal.").
	Name string
	// Container is a container ID prefix (as Docker's short IDs).
	Container string
}

func (f RecordFilter) match(set *registry.RecordSet) bool {
	if f.Node != "" && set.Node != f.Node {
		return false
	}
	if f.Container != "" && !strings.HasPrefix(set.ContainerID, strings.ToLower(f.Container)) {
		return false
	}
	if f.Name == "" {
		return true
	}
	want := registry.CanonicalName(f.Name)
	hit := func(n string) bool {
		return n == want || (!strings.HasSuffix(f.Name, ".") && strings.HasPrefix(n, want))
	}
	if slices.ContainsFunc(set.Names, hit) {
		return true
	}
	for _, a := range set.Aliases {
		if hit(a.Name) {
			return true
		}
	}
	return false
}

func recordOf(set *registry.RecordSet) Record {
	rec := Record{
		Node: set.Node, ContainerID: set.ContainerID, Name: set.Name,
		Names: slices.Clone(set.Names), Addrs: make([]RecordAddr, 0, len(set.Addrs)),
		Health: set.Health.String(), Serving: set.Health.Serving(), Image: set.Image, Version: set.Version,
	}
	if rec.Names == nil {
		rec.Names = []string{}
	}
	for _, a := range set.Addrs {
		ra := RecordAddr{IP: a.IP.String(), Network: a.Network}
		if a.Subnet.IsValid() {
			ra.Subnet = a.Subnet.String()
		}
		rec.Addrs = append(rec.Addrs, ra)
	}
	for _, p := range set.Ports {
		rec.Ports = append(rec.Ports, RecordPort{Service: p.Service, Proto: p.Proto, Port: p.Port})
	}
	for _, a := range set.Aliases {
		rec.Aliases = append(rec.Aliases, RecordAlias{Name: a.Name, Target: a.Target})
	}
	return rec
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "name", "type", "client")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name, err := s.queryName(q["name"])
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	qtype, err := parseType(q["type"])
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var client netip.Addr
	if c := q["client"]; c != "" {
		if client, err = netip.ParseAddr(c); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("client %q is not an IP address", c))
			return
		}
		client = client.Unmap()
	}
	if s.cfg.Explainer == nil {
		writeError(w, http.StatusNotImplemented, "this node has no explainer for lookups")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), explainTimeout)
	defer cancel()
	ex, err := s.cfg.Explainer.Explain(ctx, name, qtype, client)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrInvalidQuery) {
			status = http.StatusBadRequest
		}
		writeError(w, status, fmt.Sprintf("lookup %s %s: %v", name, mdns.TypeToString[qtype], err))
		return
	}
	ex.Name, ex.Type = name, typeString(qtype)
	ex.Client = ""
	if client.IsValid() {
		ex.Client = client.String()
	}
	if ex.Answer == nil {
		ex.Answer = []string{}
	}
	if ex.Candidates == nil {
		ex.Candidates = []Candidate{}
	}
	if s.cfg.Hidden != nil && !ex.Forwarded {
		ex.Hidden = s.cfg.Hidden.HiddenNamed(name)
	}
	classify(&ex, ex.Refused)
	writeJSON(w, http.StatusOK, ex)
}

// queryName validates a name to look up and makes it a canonical FQDN; a
// name without a dot is taken relative to the zone, when one is known.
func (s *Server) queryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("missing query parameter \"name\"")
	}
	if _, ok := mdns.IsDomainName(name); !ok {
		return "", fmt.Errorf("%q is not a valid domain name", name)
	}
	if s.cfg.ZoneName != "" && !strings.HasSuffix(name, ".") {
		rel := registry.CanonicalName(name + "." + s.cfg.ZoneName)
		if !strings.Contains(name, ".") || !mdns.IsSubDomain(s.cfg.ZoneName, name) && s.existsInZone(rel) {
			return rel, nil
		}
	}
	return registry.CanonicalName(name), nil
}

// existsInZone reports whether a published name is fqdn or lies under it
// (an empty non-terminal such as v2.<zone> under backend.v2.<zone>), so
// that `swarmdns lookup backend.v2` asks for the zone's name rather than
// the top-level domain "v2".
func (s *Server) existsInZone(fqdn string) bool {
	under := "." + fqdn
	has := func(n string) bool { return n == fqdn || strings.HasSuffix(n, under) }
	for _, set := range s.cfg.Zone.Snapshot().Sets() {
		if slices.ContainsFunc(set.Names, has) {
			return true
		}
		for _, a := range set.Aliases {
			if has(a.Name) {
				return true
			}
		}
	}
	return s.cfg.Hidden != nil && len(s.cfg.Hidden.HiddenNamed(fqdn)) > 0
}

// parseType parses a DNS type mnemonic ("AAAA") or RFC 3597 form
// ("TYPE65"); empty means A.
func parseType(s string) (uint16, error) {
	if s == "" {
		return mdns.TypeA, nil
	}
	u := strings.ToUpper(s)
	if t, ok := mdns.StringToType[u]; ok && t != mdns.TypeNone {
		return t, nil
	}
	if rest, ok := strings.CutPrefix(u, "TYPE"); ok {
		if n, err := strconv.ParseUint(rest, 10, 16); err == nil && n != 0 {
			return uint16(n), nil
		}
	}
	return 0, fmt.Errorf("unknown DNS type %q", s)
}

func typeString(t uint16) string {
	if s, ok := mdns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if _, err := queryParams(r); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := s.readStats()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, VersionInfo{Version: s.cfg.Version, Go: runtime.Version(), Node: s.cfg.Zone.Snapshot().LocalNode()})
}

func (s *Server) getLogLevel(w http.ResponseWriter, r *http.Request) {
	if s.cfg.LogLevel != nil {
		writeJSON(w, http.StatusOK, LogLevel{Level: s.cfg.LogLevel().String()})
		return
	}
	s.levelMu.Lock()
	set := s.levelSet
	s.levelMu.Unlock()
	if set == nil {
		writeError(w, http.StatusNotImplemented, "this node does not report its log level")
		return
	}
	writeJSON(w, http.StatusOK, LogLevel{Level: set.String()})
}

func (s *Server) putLogLevel(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "level")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.cfg.SetLogLevel == nil {
		writeError(w, http.StatusNotImplemented, "this node cannot change its log level")
		return
	}
	word := q["level"]
	if word == "" {
		if word, err = levelFromBody(w, r); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	lvl, err := ParseLevel(word)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.levelMu.Lock()
	s.levelSet = &lvl
	s.cfg.SetLogLevel(lvl)
	s.levelMu.Unlock()
	s.log.WithLevel(zerolog.NoLevel).Str("new_level", lvl.String()).Str("remote", r.RemoteAddr).Msg("log level changed through the admin API")
	writeJSON(w, http.StatusOK, LogLevel{Level: lvl.String()})
}

// levelFromBody reads a level from a JSON body ({"level":"debug"}) or a
// plain one ("debug").
func levelFromBody(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		return "", errors.New("no level given: use ?level=debug or a body {\"level\":\"debug\"}")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || strings.HasPrefix(text, "{") {
		var ll LogLevel
		if err := json.Unmarshal(body, &ll); err != nil {
			return "", fmt.Errorf("bad JSON body: %w", err)
		}
		if ll.Level == "" {
			return "", errors.New("JSON body without \"level\"")
		}
		return ll.Level, nil
	}
	return text, nil
}

// ParseLevel parses a zerolog level name (trace, debug, info, warn, error,
// fatal, panic, disabled), case-insensitively. Unlike zerolog.ParseLevel it
// refuses the empty string and numbers.
func ParseLevel(s string) (zerolog.Level, error) {
	for _, l := range []zerolog.Level{zerolog.TraceLevel, zerolog.DebugLevel, zerolog.InfoLevel, zerolog.WarnLevel,
		zerolog.ErrorLevel, zerolog.FatalLevel, zerolog.PanicLevel, zerolog.Disabled} {
		if strings.EqualFold(s, l.String()) {
			return l, nil
		}
	}
	return zerolog.NoLevel, fmt.Errorf("unknown log level %q (want trace, debug, info, warn, error, fatal, panic or disabled)", s)
}

// promLogger bridges promhttp's error log into zerolog.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn().Msg(strings.TrimSpace(fmt.Sprintln(v...))) }

// newStdLogger bridges net/http's error log into zerolog.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(stdWriter{l}, "", 0)
}

type stdWriter struct{ log zerolog.Logger }

func (w stdWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
