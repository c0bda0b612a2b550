package gossip

import (
	"runtime/debug"
	"sync"
	"time"
)

// Loading a large zone (a join, or a peer with many containers) decodes
// and merges tens of megabytes that are garbage a moment later; the
// runtime returns freed memory to the system slowly, so the process kept
// that peak resident for minutes. After a state message with many sets
// decoded from the wire (not taken from what the node held), and once such
// messages stop coming, the node runs debug.FreeOSMemory: one collection
// and the free memory handed back. Unchanged anti-entropy states do not
// count, so in a steady cluster it never runs.
const (
	// largeDecode is how many decoded sets make a state message large.
	largeDecode = 10_000
	// releaseQuiet is how long after the last large state the memory is
	// released: a join brings several in a row.
	releaseQuiet = 2 * time.Second
	// releaseEvery is the least time between two releases (each is a full
	// collection: about 100 ms of CPU at 100,000 sets).
	releaseEvery = 30 * time.Second
)

// releaser runs free once large decodes have stopped for releaseQuiet,
// at most once per releaseEvery.
type releaser struct {
	free func() // debug.FreeOSMemory; tests count calls instead

	mu     sync.Mutex
	timer  *time.Timer
	last   time.Time // of the last release
	closed bool
}

func newReleaser() *releaser { return &releaser{free: debug.FreeOSMemory} }

// decoded notes a state message that decoded n sets.
func (r *releaser) decoded(n int) {
	if n < largeDecode {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	delay := releaseQuiet
	if !r.last.IsZero() {
		delay = max(delay, releaseEvery-time.Since(r.last))
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(delay, r.release)
		return
	}
	r.timer.Reset(delay)
}

func (r *releaser) release() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.last = time.Now()
	r.mu.Unlock()
	r.free()
}

// close cancels a pending release.
func (r *releaser) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
}
