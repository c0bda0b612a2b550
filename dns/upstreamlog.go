package dns

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// upstreamReportEvery bounds how often one failing upstream is logged.
const upstreamReportEvery = 30 * time.Second

// upstreamReport tells the operator about failing upstreams without a line
// per query: the first failure after an upstream answered is a warning, then
// at most one line per period says how many queries failed since, and one
// info line says when it answers again.
type upstreamReport struct {
	log   zerolog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	state map[string]*upstreamFailures
}

// upstreamFailures is one upstream's failures since it last answered.
type upstreamFailures struct {
	logged   time.Time // when the last line about it was written
	unlogged int       // failures since that line
	total    int       // failures since it last answered
}

func newUpstreamReport(log zerolog.Logger) *upstreamReport {
	return &upstreamReport{log: log, every: upstreamReportEvery, now: time.Now, state: make(map[string]*upstreamFailures)}
}

// failed notes a failed query to upstream.
func (r *upstreamReport) failed(upstream string, err error) {
	now := r.now()
	r.mu.Lock()
	st, ok := r.state[upstream]
	if !ok {
		st = &upstreamFailures{}
		r.state[upstream] = st
	}
	st.total++
	st.unlogged++
	if ok && now.Sub(st.logged) < r.every {
		r.mu.Unlock()
		return
	}
	n, total := st.unlogged, st.total
	st.logged, st.unlogged = now, 0
	r.mu.Unlock()
	r.log.Warn().Err(err).Str("upstream", upstream).Int("failed", n).Int("failed_since_last_answer", total).
		Str("next_report_in", r.every.String()).Msg("upstream query failed")
}

// answered notes that upstream answered after failing.
func (r *upstreamReport) answered(upstream string) {
	r.mu.Lock()
	st, ok := r.state[upstream]
	delete(r.state, upstream)
	r.mu.Unlock()
	if ok {
		r.log.Info().Str("upstream", upstream).Int("failed_before", st.total).Msg("upstream answers again")
	}
}
