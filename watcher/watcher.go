// Package watcher follows the local Docker engine and keeps the registry's
// record sets for the local node equal to the containers that run on it.
//
// A Watcher subscribes to the engine's event stream first and then lists and
// inspects the running containers, so nothing falls between the two, and
// replaces the whole local set (Store.ReplaceLocal). It then follows the
// events in order, in one goroutine, and for each container event re-inspects
// the container (a kill is judged before, see below), trusting the inspect
// over the order of events. The stream is lossy by design, so the watcher
// also resyncs in full every Config.Resync; when the stream drops it marks
// the local records stale (they stay served), reconnects with backoff, and
// resyncs again, which removes the records of containers that vanished
// meanwhile.
//
// A container's records go at the kill event that "docker stop" sends (a
// terminating signal: TERM, KILL, INT, QUIT or the container's own stop
// signal), before it dies, so clients stop being sent to it while it drains;
// a kill with another signal (HUP to reload, USR1, WINCH, ...) changes
// nothing. The watcher decides on the kill event itself, from the stop
// signal and start time it kept from the container's last inspect (an
// inspect at that moment can wait while the engine handles the exit, 100 ms
// and more), and inspects the container only afterwards, to confirm. A
// container is inspected again shortly after it is registered, so a
// short-lived one leaves no record even when its die event is lost.
//
// RecordSetFor, a pure function, turns one inspect response into records.
// The names, lower-case and in the zone, are: the container name (dots make
// several labels) and its explicit hostname; each network alias and each of
// the engine's DNSNames; <service>.<project> for Compose; for Swarm tasks the
// service name (underscores become hyphens), tasks.<service>,
// <service>.<stack>, and <slot>.<service> for replicated tasks or
// <node>.<service> for global ones; and the names of the label swarmdns.name.
// A name that is not a valid DNS name is made one and reported; it is never
// dropped silently.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/swarmdns/swarmdns/internal/dnsname"
	"github.com/swarmdns/swarmdns/registry"
)

// Store is what the watcher needs from the registry: the local node's record
// sets. Every method is safe for concurrent use, returns without blocking on
// readers, and is idempotent (writing what is there already changes
// nothing); the store keeps its own copy of what it is given.
//
// The watcher is the only writer of the local sets. ReplaceLocal makes the
// given sets the whole local set, returning what changed; SetLocal writes
// one container's set (reporting whether it changed); RemoveLocal removes
// one (reporting whether there was one); SetLocalStale marks the local sets
// as possibly out of date while the engine cannot be reached.
// *registry.Registry satisfies it.
type Store interface {
	ReplaceLocal(sets []registry.RecordSet) ([]registry.Change, error)
	SetLocal(set registry.RecordSet) (bool, error)
	RemoveLocal(containerID string) bool
	SetLocalStale(stale bool)
}

// Config configures a Watcher.
type Config struct {
	// DockerHost is the engine's address ("unix:///var/run/docker.sock",
	// "tcp://host:2375"); empty means DOCKER_HOST, else the default socket.
	DockerHost string
	// Zone is the zone the names go in, e.g. "swarm.internal." (required).
	Zone string
	// Node is the local node's name, used in the per-replica names of
	// global Swarm tasks.
	Node string
	// WatchLabel limits the watcher to containers with the label KEY or
	// KEY=VALUE; empty means every container.
	WatchLabel string
	// Resync is the period of full resyncs; zero means 30s.
	Resync time.Duration
	// StartTimeout is how long Run keeps trying to make its first
	// connection before it returns an error; zero means 30s.
	StartTimeout time.Duration
	// Store receives the records (required).
	Store Store
	// Clients, if set, receives every running container as a DNS client
	// (ClientStore).
	Clients ClientStore
	// Logger receives the watcher's logs; the zero value discards them.
	Logger zerolog.Logger
	// Metrics, if not nil, is where the watcher registers its metrics.
	Metrics prometheus.Registerer
}

// Status describes the watcher's connection to the engine.
type Status struct {
	// Host is the engine's address.
	Host string
	// Connected is true while the event stream is up and synced.
	Connected bool
	// Reconnects counts the connection attempts after the first.
	Reconnects uint64
	// Resyncs counts completed full resyncs.
	Resyncs uint64
	// LastSync is when the last full resync completed (zero before the
	// first).
	LastSync time.Time
	// LastEvent is when the last event was received.
	LastEvent time.Time
	// Containers is the number of containers published.
	Containers int
}

// Defaults and limits.
const (
	defaultResync       = 30 * time.Second
	defaultStartTimeout = 30 * time.Second
	// requestTimeout bounds each list and inspect call and the opening of
	// the event stream.
	requestTimeout = 10 * time.Second
	// inspectWorkers bounds the inspects a resync runs at once.
	inspectWorkers = 8
)

// Watcher follows one Docker engine. Create it with New and run it with Run
// (once).
type Watcher struct {
	cfg   Config
	cli   *client.Client
	host  string
	opts  NameOptions
	log   zerolog.Logger
	store Store
	m     *metrics

	synced   chan struct{}
	syncOnce sync.Once

	// Timing, adjustable by tests in this package.
	backoffMin, backoffMax time.Duration
	recheckDelay           time.Duration
	drainHold              time.Duration

	mu     sync.Mutex
	status Status

	// Owned by Run's goroutine.
	lastEvent   time.Time // engine time of the last event, for "since"
	lastEventAt time.Time // local time the last event arrived
	draining    map[string]drain
	known       map[string]runInfo
	published   map[string]registry.RecordSet
	rechecks    []recheck
	// renamedSinceStart counts the containers published under a respelt
	// Docker name until the first sync's summary line.
	renamedSinceStart int
	// groups notes which local containers answer to a Compose or stack
	// service name, and collided the names already reported.
	groups   map[string]map[string]bool // fqdn -> container ID -> compose
	collided map[string]bool
	// hidden are the running containers a label hides, under mu.
	hidden map[string]Hidden
	// lostAt is when the engine was lost after a sync (zero while
	// connected), for the line that says it is back.
	lostAt       time.Time
	recheckTimer *time.Timer
	nets         networkInfo
}

// drain remembers a container whose records went at a terminating kill
// while it still runs.
type drain struct {
	killed time.Time // engine time of the kill event
	at     time.Time // local time it was handled
}

// runInfo is what a kill event is judged by, kept from a container's last
// inspect so that the kill needs none.
type runInfo struct {
	stopSignal string    // Config.StopSignal; "" for the default (TERM)
	started    time.Time // State.StartedAt; zero when unknown
}

// infoOf takes a container's runInfo from its inspect response.
func infoOf(c container.InspectResponse) runInfo {
	var k runInfo
	if c.Config != nil {
		k.stopSignal = c.Config.StopSignal
	}
	if c.State != nil {
		k.started, _ = time.Parse(time.RFC3339Nano, c.State.StartedAt)
	}
	return k
}

type recheck struct {
	id  string
	due time.Time
}

// New checks cfg and returns a Watcher. It does not contact the engine.
func New(cfg Config) (*Watcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("watcher: no store")
	}
	if strings.Trim(cfg.Zone, ".") == "" {
		return nil, errors.New("watcher: zone is empty")
	}
	if zone := strings.TrimSuffix(cfg.Zone, "."); dnsname.SanitizeName(zone, dnsname.MaxNameLen) != strings.ToLower(zone) {
		return nil, fmt.Errorf("watcher: zone %q is not a valid DNS name", cfg.Zone)
	}
	if err := parseWatchLabel(cfg.WatchLabel); err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	if cfg.Resync < 0 || cfg.StartTimeout < 0 {
		return nil, errors.New("watcher: negative resync period or start timeout")
	}
	if cfg.Resync == 0 {
		cfg.Resync = defaultResync
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.DockerHost != "" {
		opts = append(opts, client.WithHost(cfg.DockerHost))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("watcher: docker client for %q: %w", cfg.DockerHost, err)
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("watcher: %w", err)
	}
	w := &Watcher{
		cfg:          cfg,
		cli:          cli,
		host:         cli.DaemonHost(),
		opts:         NameOptions{Zone: cfg.Zone, Node: cfg.Node, WatchLabel: cfg.WatchLabel},
		log:          cfg.Logger,
		store:        cfg.Store,
		m:            m,
		synced:       make(chan struct{}),
		backoffMin:   time.Second,
		backoffMax:   20 * time.Second,
		recheckDelay: time.Second,
		drainHold:    time.Minute,
		draining:     make(map[string]drain),
		known:        make(map[string]runInfo),
		published:    make(map[string]registry.RecordSet),
		hidden:       make(map[string]Hidden),
		groups:       make(map[string]map[string]bool),
		collided:     make(map[string]bool),
	}
	w.status.Host = w.host
	return w, nil
}

// Host is the address of the engine the watcher talks to.
func (w *Watcher) Host() string { return w.host }

// Synced is closed once the first full sync has completed.
func (w *Watcher) Synced() <-chan struct{} { return w.synced }

// Status returns the state of the connection to the engine.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Run follows the engine until ctx ends, then returns nil; call it once. It
// returns an error only when the engine cannot be reached at all within
// Config.StartTimeout; after the first sync it retries for ever, keeping the
// records it has (marked stale) while the engine is away.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.cli.Close()
	w.recheckTimer = time.NewTimer(time.Hour)
	w.recheckTimer.Stop()
	defer w.recheckTimer.Stop()

	start := time.Now()
	backoff := w.backoffMin
	everSynced := false
	for {
		synced, err := w.session(ctx)
		w.setConnected(false)
		if ctx.Err() != nil {
			return nil
		}
		if synced {
			everSynced = true
			backoff = w.backoffMin
		}
		wait := backoff
		if everSynced {
			w.store.SetLocalStale(true)
			if w.lostAt.IsZero() {
				w.lostAt = time.Now()
			}
			w.log.Warn().Err(err).Str("host", w.host).Dur("retry_in_ms", wait).Msg("lost the docker engine; serving the last known records as stale")
		} else {
			left := w.cfg.StartTimeout - time.Since(start)
			if left <= 0 {
				return fmt.Errorf("docker engine at %s is unreachable (tried for %v): %w", w.host, w.cfg.StartTimeout.Round(time.Millisecond), err)
			}
			wait = min(wait, left)
			w.log.Warn().Err(err).Str("host", w.host).Dur("retry_in_ms", wait).Msg("cannot reach the docker engine")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*3/2, w.backoffMax)
		w.mu.Lock()
		w.status.Reconnects++
		w.mu.Unlock()
		w.m.reconnect()
	}
}

// errStalled ends a session whose event stream seems to have stopped.
var errStalled = errors.New("event stream stalled: a resync found changes no event announced")

// session subscribes to the events, syncs in full and follows the events
// until the stream fails or ctx ends. synced reports whether the sync
// completed.
func (w *Watcher) session(ctx context.Context) (synced bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, errs, err := w.subscribe(sctx, cancel)
	if err != nil {
		return false, err
	}
	w.learnNodeHost(ctx)
	if _, err := w.resync(ctx); err != nil {
		return false, err
	}
	// The full sync supersedes the rechecks a failed session left.
	w.rechecks = nil
	w.recheckTimer.Stop()
	w.markSynced()
	sessionStart := time.Now()

	resync := time.NewTicker(w.cfg.Resync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case m := <-msgs:
			if err := w.handle(ctx, m); err != nil {
				return true, err
			}
		case err := <-errs:
			if errors.Is(err, io.EOF) {
				return true, errors.New("event stream closed by the engine")
			}
			return true, fmt.Errorf("event stream: %w", err)
		case <-resync.C:
			changes, err := w.resync(ctx)
			if err != nil {
				return true, err
			}
			lastHeard := sessionStart
			if w.lastEventAt.After(lastHeard) {
				lastHeard = w.lastEventAt
			}
			if len(changes) > 0 && time.Since(lastHeard) > w.cfg.Resync {
				return true, errStalled
			}
		case <-w.recheckTimer.C:
			if err := w.runRechecks(ctx); err != nil {
				return true, err
			}
		}
	}
}

// watchedActions are the events the watcher asks the engine for.
var watchedActions = []events.Action{
	events.ActionStart, events.ActionRestart, events.ActionDie, events.ActionStop, events.ActionKill,
	events.ActionDestroy, events.ActionRename, events.ActionPause, events.ActionUnPause,
	events.ActionHealthStatus, events.ActionConnect, events.ActionDisconnect,
}

// subscribe opens the event stream (container and network events), from the
// last event seen when there was one. The stream lives as long as ctx;
// cancel cancels ctx, and subscribe calls it when the engine does not
// answer in time.
func (w *Watcher) subscribe(ctx context.Context, cancel context.CancelFunc) (<-chan events.Message, <-chan error, error) {
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("type", string(events.NetworkEventType)))
	for _, a := range watchedActions {
		f.Add("event", string(a))
	}
	opts := events.ListOptions{Filters: f}
	if !w.lastEvent.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", w.lastEvent.Unix(), w.lastEvent.Nanosecond())
	}
	// Events returns once the engine has answered (the subscription is in
	// place) or failed; a hung engine must not hold it for ever.
	timer := time.AfterFunc(requestTimeout, cancel)
	msgs, errs := w.cli.Events(ctx, opts)
	if !timer.Stop() {
		return nil, nil, fmt.Errorf("opening the event stream: no answer within %v", requestTimeout)
	}
	return msgs, errs, nil
}

// handle applies one event.
func (w *Watcher) handle(ctx context.Context, m events.Message) error {
	action := string(m.Action)
	if i := strings.IndexByte(action, ':'); i >= 0 {
		action = action[:i] // "health_status: healthy"
	}
	w.lastEventAt = time.Now()
	if t := eventTime(m); t.After(w.lastEvent) {
		w.lastEvent = t
	}
	w.mu.Lock()
	w.status.LastEvent = w.lastEventAt
	w.mu.Unlock()
	w.m.event(m.Type, action)

	var id string
	switch m.Type {
	case events.ContainerEventType:
		id = m.Actor.ID
	case events.NetworkEventType:
		if action != string(events.ActionConnect) && action != string(events.ActionDisconnect) {
			return nil
		}
		id = m.Actor.Attributes["container"]
		if w.cfg.Clients != nil && m.Actor.Attributes["name"] == gatewayBridge {
			if err := w.loadGateways(ctx); err != nil {
				return err
			}
		}
	}
	if id == "" {
		return nil
	}
	w.log.Debug().Str("container", short(id)).Str("type", string(m.Type)).Str("action", string(m.Action)).Msg("event")
	switch events.Action(action) {
	case events.ActionDestroy:
		w.forget(id)
		w.remove(id, "destroyed")
		w.removeClient(id)
		return nil
	case events.ActionKill:
		return w.kill(ctx, id, m)
	case events.ActionStart, events.ActionRestart, events.ActionDie, events.ActionStop, events.ActionRename,
		events.ActionPause, events.ActionUnPause, events.ActionHealthStatus, events.ActionConnect, events.ActionDisconnect:
		return w.refresh(ctx, id)
	}
	return nil
}

// kill handles a kill event: a terminating signal removes the container's
// records at once (it is draining); another signal only refreshes them.
//
// The decision needs the container's stop signal and start time; when the
// watcher has them from an earlier inspect, it decides without inspecting
// (an inspect then can wait while the engine handles the exit: 100 ms and
// more after a "docker stop" in bench/events), and a recheck inspects the
// container afterwards. Otherwise it inspects first.
func (w *Watcher) kill(ctx context.Context, id string, m events.Message) error {
	k, known := w.known[id]
	var inspected *container.InspectResponse
	if !known {
		c, found, err := w.inspectNoted(ctx, id)
		if err != nil || !found {
			return err
		}
		inspected, k = &c, infoOf(c)
	}
	killed := eventTime(m)
	sig := m.Actor.Attributes["signal"]
	if (!killed.IsZero() && k.started.After(killed)) || !terminating(sig, k.stopSignal) {
		// A kill from before the container's last start (replayed after a
		// reconnect), or a reload signal.
		if inspected != nil {
			w.apply(ctx, *inspected)
			return nil
		}
		return w.refresh(ctx, id)
	}
	if inspected == nil || (inspected.State != nil && inspected.State.Running) {
		w.draining[id] = drain{killed: killed, at: time.Now()}
	}
	w.remove(id, "killed with signal "+sig)
	if inspected == nil {
		// Confirm: the recheck's inspect ends the drain of a container
		// that is gone, no longer runs or was started again meanwhile.
		w.scheduleRecheck(id)
	}
	return nil
}

// refresh re-inspects a container and applies what the inspect says.
func (w *Watcher) refresh(ctx context.Context, id string) error {
	c, found, err := w.inspectNoted(ctx, id)
	if err != nil || !found {
		return err
	}
	w.apply(ctx, c)
	return nil
}

// inspectNoted inspects a container: one that is gone is forgotten and its
// names removed (found is false); one that is there is noted (its stop
// signal and start time kept for its kill).
func (w *Watcher) inspectNoted(ctx context.Context, id string) (c container.InspectResponse, found bool, err error) {
	c, found, err = w.inspect(ctx, id)
	if err != nil {
		return c, false, err
	}
	if !found {
		w.forget(id)
		w.remove(id, "gone")
		w.removeClient(id)
		return c, false, nil
	}
	w.note(c)
	return c, true, nil
}

// note keeps what a kill event of the container will be judged by.
func (w *Watcher) note(c container.InspectResponse) {
	w.known[c.ID] = infoOf(c)
}

// forget drops what the watcher keeps about a container that is gone.
func (w *Watcher) forget(id string) {
	delete(w.draining, id)
	delete(w.known, id)
}

// apply publishes a container as its inspect response says, or removes it,
// and updates it as a client.
func (w *Watcher) apply(ctx context.Context, c container.InspectResponse) {
	w.updateClient(ctx, c)
	if reason := w.held(c); reason != "" {
		w.remove(c.ID, reason)
		return
	}
	set, notes, reason := translate(c, w.opts)
	w.noteHidden(c, hiddenBy(containerLabels(c), w.opts))
	if reason != "" {
		w.remove(c.ID, reason)
		return
	}
	changed, err := w.store.SetLocal(set)
	if err != nil {
		w.log.Error().Err(err).Str("container", short(c.ID)).Msg("cannot store records")
		return
	}
	if changed && w.registered(set, notes) {
		// Look again soon: a short-lived container must not leave its
		// records behind if its die event is lost.
		w.scheduleRecheck(c.ID)
	}
}

// held says why a running container stays unpublished while it drains after
// a terminating kill; "" lets it be published (the drain is over, it was
// restarted since, or it is no longer running).
func (w *Watcher) held(c container.InspectResponse) string {
	if c.ContainerJSONBase == nil {
		return ""
	}
	d, ok := w.draining[c.ID]
	if !ok {
		return ""
	}
	if c.State != nil && c.State.Running && !startedAfter(c, d.killed) && time.Since(d.at) < w.drainHold {
		return "draining"
	}
	delete(w.draining, c.ID)
	return ""
}

// remove removes a container's records, if it has any.
func (w *Watcher) remove(id, reason string) {
	if reason == "destroyed" || reason == "gone" {
		w.forgetHidden(id)
	}
	if !w.store.RemoveLocal(id) {
		return
	}
	w.removed(id, reason)
}

// registered notes and logs a set written to the store; it reports whether
// the container is new.
func (w *Watcher) registered(set registry.RecordSet, notes Notes) bool {
	_, existed := w.published[set.ContainerID]
	w.published[set.ContainerID] = set
	w.setCount()
	msg := "registered"
	if existed {
		msg = "updated"
	}
	w.log.Info().Str("container", short(set.ContainerID)).Strs("names", set.Names).Strs("addrs", addrStrings(set.Addrs)).
		Str("health", set.Health.String()).Msg(msg)
	for _, warning := range notes.Warnings {
		w.log.Warn().Str("container", short(set.ContainerID)).Msg(warning)
	}
	for _, r := range notes.Renamed {
		w.log.Debug().Str("container", short(set.ContainerID)).Msg(r)
	}
	if len(notes.Renamed) > 0 && !existed {
		w.renamedSinceStart++
	}
	w.reportCollisions(set.ContainerID, notes.Grouped)
	return !existed
}

func (w *Watcher) removed(id, reason string) {
	old := w.published[id]
	delete(w.published, id)
	w.forgetGroups(id)
	w.setCount()
	w.log.Info().Str("container", short(id)).Strs("names", old.Names).Strs("addrs", addrStrings(old.Addrs)).
		Str("reason", reason).Msg("removed")
}

// resync lists and inspects the running containers and makes them the whole
// local set.
func (w *Watcher) resync(ctx context.Context) ([]registry.Change, error) {
	f := filters.NewArgs(filters.Arg("status", "running"))
	if w.cfg.WatchLabel != "" && w.cfg.Clients == nil {
		f.Add("label", w.cfg.WatchLabel) // every container is a client: list them all then
	}
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	list, err := w.cli.ContainerList(lctx, container.ListOptions{Filters: f})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	inspected := make([]*container.InspectResponse, len(list))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(inspectWorkers)
	for i, s := range list {
		g.Go(func() error {
			c, found, err := w.inspect(gctx, s.ID)
			if found {
				inspected[i] = &c
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var clients []registry.Client
	if w.cfg.Clients != nil {
		if err := w.loadNetworks(ctx); err != nil {
			return nil, err
		}
	}

	var sets []registry.RecordSet
	notesOf := make(map[string]Notes)
	running := make(map[string]bool, len(list))
	hidden := make(map[string]Hidden)
	known := make(map[string]runInfo, len(list))
	for _, c := range inspected {
		if c == nil {
			continue // gone between the list and the inspect
		}
		running[c.ID] = true
		known[c.ID] = infoOf(*c)
		if w.cfg.Clients != nil {
			if cl, ok := w.clientOf(ctx, *c); ok {
				clients = append(clients, cl)
			}
		}
		if w.held(*c) != "" {
			continue
		}
		set, notes, reason := translate(*c, w.opts)
		if h, ok := w.hiddenEntry(*c, hiddenBy(containerLabels(*c), w.opts)); ok {
			hidden[c.ID] = h
		}
		if reason != "" {
			w.log.Debug().Str("container", short(c.ID)).Str("reason", reason).Msg("not published")
			continue
		}
		sets = append(sets, set)
		notesOf[c.ID] = notes
	}
	for id := range w.draining {
		if !running[id] {
			delete(w.draining, id)
		}
	}
	// The containers that do not run (or are not watched) are inspected
	// again at their next kill; their next start event notes them anyway.
	w.known = known
	w.mu.Lock()
	w.hidden = hidden
	w.mu.Unlock()
	if w.cfg.Clients != nil {
		w.cfg.Clients.ReplaceClients(clients)
	}
	changes, err := w.store.ReplaceLocal(sets)
	if err != nil {
		return nil, fmt.Errorf("storing records: %w", err)
	}
	for _, ch := range changes {
		if ch.Set != nil {
			w.registered(*ch.Set, notesOf[ch.ContainerID])
		} else {
			w.removed(ch.ContainerID, "not running at resync")
		}
	}
	now := time.Now()
	w.mu.Lock()
	w.status.Resyncs++
	w.status.LastSync = now
	w.mu.Unlock()
	w.m.resynced(now)
	w.log.Debug().Int("containers", len(sets)).Int("changes", len(changes)).Msg("resynced")
	return changes, nil
}

// inspect inspects a container; found is false when it no longer exists.
func (w *Watcher) inspect(ctx context.Context, id string) (c container.InspectResponse, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	c, err = w.cli.ContainerInspect(ctx, id)
	switch {
	case cerrdefs.IsNotFound(err):
		return c, false, nil
	case err != nil:
		return c, false, fmt.Errorf("inspecting container %s: %w", short(id), err)
	case c.ContainerJSONBase == nil:
		return c, false, fmt.Errorf("inspecting container %s: empty response", short(id))
	}
	return c, true, nil
}

// scheduleRecheck inspects id again after recheckDelay.
func (w *Watcher) scheduleRecheck(id string) {
	w.rechecks = append(w.rechecks, recheck{id: id, due: time.Now().Add(w.recheckDelay)})
	if len(w.rechecks) == 1 {
		w.recheckTimer.Reset(w.recheckDelay)
	}
}

// runRechecks runs the rechecks that are due and re-arms the timer for the
// next one.
func (w *Watcher) runRechecks(ctx context.Context) error {
	now := time.Now()
	for len(w.rechecks) > 0 && !w.rechecks[0].due.After(now) {
		r := w.rechecks[0]
		w.rechecks = w.rechecks[1:]
		if err := w.refresh(ctx, r.id); err != nil {
			return err
		}
	}
	if len(w.rechecks) > 0 {
		w.recheckTimer.Reset(time.Until(w.rechecks[0].due))
	} else {
		w.rechecks = nil
	}
	return nil
}

// learnNodeHost takes the engine's host name (the Swarm node's hostname)
// for the <node>.<service> names of global tasks, once; until it is known
// (or when the engine does not say) the node name stands in.
func (w *Watcher) learnNodeHost(ctx context.Context) {
	if w.opts.NodeHost != "" {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	info, err := w.cli.Info(ictx)
	if err != nil {
		w.log.Debug().Err(err).Msg("engine info: the node name stands for the host name in <node>.<service>")
		return
	}
	w.opts.NodeHost = info.Name
}

func (w *Watcher) markSynced() {
	w.store.SetLocalStale(false)
	w.setConnected(true)
	if !w.lostAt.IsZero() {
		w.log.Info().Str("host", w.host).Str("away", time.Since(w.lostAt).Round(time.Millisecond).String()).
			Msg("the docker engine is back; the local records are fresh again")
		w.lostAt = time.Time{}
	}
	w.syncOnce.Do(func() {
		if w.renamedSinceStart > 0 {
			w.log.Info().Int("containers", w.renamedSinceStart).
				Msg("containers with Docker names that are not DNS names ('_' and '.' in them) are published with '-' instead; --log-level debug lists them")
		}
		close(w.synced)
	})
}

func (w *Watcher) setConnected(up bool) {
	w.mu.Lock()
	w.status.Connected = up
	w.mu.Unlock()
	w.m.setConnected(up)
}

func (w *Watcher) setCount() {
	w.mu.Lock()
	w.status.Containers = len(w.published)
	w.mu.Unlock()
}

// eventTime is when the engine says an event happened.
func eventTime(m events.Message) time.Time {
	if m.TimeNano != 0 {
		return time.Unix(0, m.TimeNano)
	}
	return time.Unix(m.Time, 0)
}

// startedAfter reports whether the container's current run started after t.
func startedAfter(c container.InspectResponse, t time.Time) bool {
	if c.State == nil || t.IsZero() {
		return false
	}
	started, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
	return err == nil && started.After(t)
}

// linuxSignals maps signal names to their numbers on Linux, the numbering
// the engine reports in kill events.
var linuxSignals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
	"CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
	"VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
}

// parseSignal reads "15", "TERM" or "SIGTERM"; -1 when it cannot.
func parseSignal(s string) int {
	s = strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if n, ok := linuxSignals[strings.TrimPrefix(s, "SIG")]; ok {
		return n
	}
	return -1
}

// terminating reports whether a kill with signal sig ends the container:
// TERM, KILL, INT, QUIT, the container's own stop signal, or no signal.
func terminating(sig, stopSignal string) bool {
	if strings.TrimSpace(sig) == "" {
		return true
	}
	n := parseSignal(sig)
	switch n {
	case 15, 9, 2, 3:
		return true
	case -1:
		return false
	}
	return stopSignal != "" && parseSignal(stopSignal) == n
}

func short(id string) string { return id[:min(12, len(id))] }

func addrStrings(addrs []registry.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.IP.String() + "@" + a.Network
	}
	return out
}
