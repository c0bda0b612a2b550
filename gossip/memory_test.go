package gossip

import (
	"sync/atomic"
	"testing"
	"time"
)

// Large decodes in a row release memory once, after they stop; small ones
// never do; after close nothing runs.
func TestReleaserAfterLargeDecodes(t *testing.T) {
	var calls atomic.Int32
	r := &releaser{free: func() { calls.Add(1) }}
	r.decoded(largeDecode - 1)
	if r.timer != nil {
		t.Fatal("a small decode scheduled a release")
	}
	start := time.Now()
	for range 3 {
		r.decoded(largeDecode)
		time.Sleep(releaseQuiet / 4)
	}
	if calls.Load() != 0 {
		t.Fatal("released while large decodes were still coming")
	}
	deadline := time.Now().Add(5 * releaseQuiet)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("%d releases; want 1", got)
	}
	if d := time.Since(start); d < releaseQuiet {
		t.Errorf("released %v after the first large decode; want at least %v after the last", d, releaseQuiet)
	}
	// The next one waits for releaseEvery; close cancels it.
	r.decoded(largeDecode)
	r.close()
	time.Sleep(releaseQuiet + releaseQuiet/2)
	if got := calls.Load(); got != 1 {
		t.Errorf("%d releases after close; want still 1", got)
	}
	r.decoded(largeDecode) // closed: no timer restarted
}
