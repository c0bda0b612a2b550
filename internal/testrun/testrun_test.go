package testrun

import (
	"context"
	"errors"
	"testing"
)

func TestStartStopsAtCleanup(t *testing.T) {
	var r *Runner
	t.Run("inner", func(t *testing.T) {
		r = Start(t, func(ctx context.Context) error {
			<-ctx.Done()
			return nil
		})
		select {
		case <-r.Done():
			t.Fatal("Run returned before its context ended")
		default:
		}
	})
	select {
	case <-r.Done():
	default:
		t.Fatal("Run still running after the test's cleanup")
	}
	if r.Err() != nil {
		t.Errorf("Err: got %v; want nil", r.Err())
	}
}

func TestDoneAndErrWhenRunEndsEarly(t *testing.T) {
	want := errors.New("boom")
	r := Start(&quiet{T: t}, func(context.Context) error { return want })
	<-r.Done()
	if !errors.Is(r.Err(), want) {
		t.Errorf("Err: got %v; want %v", r.Err(), want)
	}
}

// quiet keeps the expected cleanup failure of the test above from failing
// the real test, while still running the cleanup.
type quiet struct {
	*testing.T
}

func (q *quiet) Errorf(string, ...any) {}
