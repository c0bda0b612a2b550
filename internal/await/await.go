// Package await waits for a condition in tests, polling it with a deadline
// instead of sleeping.
package await

import (
	"testing"
	"time"
)

// Interval is how often Until polls its condition.
const Interval = 15 * time.Millisecond

// Until calls cond at once and then every Interval until it returns nil. If
// cond still fails after timeout, Until fails t with cond's last error
// (t.Fatalf), so it must be called from the test's own goroutine.
func Until(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	if err := Check(timeout, cond); err != nil {
		t.Fatalf("after %v: %v", timeout, err)
	}
}

// Check is Until without a test: it polls cond every Interval until it
// returns nil (Check returns nil) or timeout passes (Check returns cond's
// last error).
func Check(timeout time.Duration, cond func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-deadline.C:
			// One last try, so a condition that became true while we
			// waited is not reported as failed.
			if err := cond(); err != nil {
				return err
			}
			return nil
		case <-tick.C:
		}
	}
}
