// Package testrun runs a component's Run(ctx) for the length of a test: it
// starts it in a goroutine, and at cleanup ends its context and waits for it
// to return nil, so that every goroutine a test starts has an owner.
package testrun

import (
	"context"
	"testing"
	"time"
)

// StopTimeout bounds the wait for Run to return after its context ended.
const StopTimeout = 10 * time.Second

// Runner is a Run(ctx) in progress.
type Runner struct {
	done chan struct{}
	err  error
}

// Start runs run(ctx) in a goroutine. At the end of the test it cancels ctx
// and fails the test unless run returns nil within StopTimeout.
func Start(t testing.TB, run func(context.Context) error) *Runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
			if r.err != nil {
				t.Errorf("Run: got %v; want nil after its context ended", r.err)
			}
		case <-time.After(StopTimeout):
			t.Errorf("Run did not return within %v of its context ending", StopTimeout)
		}
	})
	return r
}

// Done is closed when run has returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Err is what run returned; valid once Done is closed.
func (r *Runner) Err() error { return r.err }
