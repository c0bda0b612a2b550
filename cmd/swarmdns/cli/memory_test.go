package cli

import (
	"context"
	"math"
	"runtime/debug"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, nonHeap uint64
		min, max      int64
	}{
		// Small heaps get the minimum headroom, large ones an eighth.
		{0, 0, 8 * mib, 9 * mib},
		{10 * mib, 3 * mib, 21 * mib, 23 * mib},
		{40 * mib, 4 * mib, 53 * mib, 57 * mib},
		{80 * mib, 4 * mib, 99 * mib, 101 * mib},
		{400 * mib, 8 * mib, 450 * mib, 490 * mib},
		{math.MaxUint64 - 1, 0, math.MaxInt64, math.MaxInt64},
	} {
		got := memoryLimit(c.live, c.nonHeap)
		if got < c.min || got > c.max {
			t.Errorf("memoryLimit(%d MiB, %d MiB) = %.1f MiB; want %.1f-%.1f", c.live/mib, c.nonHeap/mib, float64(got)/mib, float64(c.min)/mib, float64(c.max)/mib)
		}
		if c.live < math.MaxInt64/2 && got < int64(c.live+c.nonHeap)+memoryHeadroomMin {
			t.Errorf("memoryLimit(%d, %d) = %d leaves less than the minimum headroom", c.live, c.nonHeap, got)
		}
	}
}

// currentLimit reads the soft memory limit without changing it.
func currentLimit() int64 { return debug.SetMemoryLimit(-1) }

// With GOGC or GOMEMLIMIT in the environment the runtime's own policy
// stays; without, the limit follows the live heap while serving and is
// lifted afterwards.
func TestRunMemoryPolicy(t *testing.T) {
	defer debug.SetMemoryLimit(currentLimit())
	debug.SetMemoryLimit(math.MaxInt64)
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		lookup := func(k string) (string, bool) { return "50", k == env }
		if err := runMemoryPolicy(context.Background(), zerolog.Nop(), lookup); err != nil {
			t.Fatal(err)
		}
		if got := currentLimit(); got != math.MaxInt64 {
			t.Errorf("with %s set, the limit became %d; want it left alone", env, got)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runMemoryPolicy(ctx, zerolog.Nop(), func(string) (string, bool) { return "", false }) }()
	deadline := time.Now().Add(5 * time.Second)
	for currentLimit() == math.MaxInt64 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := currentLimit()
	if got == math.MaxInt64 || got < memoryHeadroomMin {
		t.Errorf("while serving, the limit is %d; want one above the live heap", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := currentLimit(); got != math.MaxInt64 {
		t.Errorf("after serving, the limit is %d; want it lifted", got)
	}
}
