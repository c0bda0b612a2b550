package await

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckSucceedsOnceConditionHolds(t *testing.T) {
	var calls atomic.Int32
	err := Check(5*time.Second, func() error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("got %v; want nil", err)
	}
	if got := calls.Load(); got != 3 {
		t.Fatalf("got %d calls; want 3", got)
	}
}

func TestCheckReturnsLastError(t *testing.T) {
	var calls atomic.Int32
	err := Check(50*time.Millisecond, func() error {
		n := calls.Add(1)
		return errors.New("attempt " + strings.Repeat("x", int(n)))
	})
	if err == nil {
		t.Fatal("got nil; want the last error")
	}
	if want := "attempt " + strings.Repeat("x", int(calls.Load())); err.Error() != want {
		t.Fatalf("got %q; want %q (the last error)", err, want)
	}
}
