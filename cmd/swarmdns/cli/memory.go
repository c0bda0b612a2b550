package cli

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/rs/zerolog"
)

// The runtime's default memory policy (GOGC=100, no limit) lets the heap
// grow to twice what is live before collecting, and returns freed memory to
// the system slowly: a node holding 100,000 record sets (40-50 MB live)
// sat at 150-250 MiB resident, most of it garbage from loading the zone
// over gossip. serve instead keeps a soft memory limit a little above the
// live heap, raised and lowered as the live heap changes. GOGC=100 still
// applies below it, so a small zone is collected as rarely as before. An
// operator who sets GOGC or GOMEMLIMIT gets exactly that instead.
const (
	// memoryHeadroomMin is the least room left above the live heap; with
	// answers that allocate little, it is mostly gossip's garbage (an
	// unchanged 50,000-set push/pull makes about 8 MB, most of it
	// memberlist's buffers) that fills it, so a collection every push/pull
	// or two.
	memoryHeadroomMin = 8 << 20
	// memoryHeadroomShare is the share of the live heap left as room
	// above it, when that is more than memoryHeadroomMin.
	memoryHeadroomShare = 8 // 1/8
	// memoryPolicyEvery is how often the limit follows the live heap.
	memoryPolicyEvery = time.Second
)

// memoryLimit is the soft limit for a live heap of live bytes when the
// runtime's own memory outside the heap (stacks, GC metadata, free pages it
// has not returned yet) takes nonHeap bytes: the limit counts all of it,
// and the runtime keeps about 3% of it as a margin, so the heap itself may
// grow by the headroom before it is collected.
func memoryLimit(live, nonHeap uint64) int64 {
	heap := live + max(live/memoryHeadroomShare, memoryHeadroomMin)
	limit := heap + heap/16 + nonHeap
	if limit > math.MaxInt64 || limit < live {
		return math.MaxInt64
	}
	return int64(limit)
}

// memoryMetrics are the runtime/metrics samples memoryLimit needs.
var memoryMetrics = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/objects:bytes",
}

// readMemory returns the live heap (as of the last collection) and the
// runtime's memory outside the heap; ok is false if the runtime does not
// report them.
func readMemory(sample []metrics.Sample) (live, nonHeap uint64, ok bool) {
	metrics.Read(sample)
	var v [5]uint64
	for i := range sample {
		if sample[i].Value.Kind() != metrics.KindUint64 {
			return 0, 0, false
		}
		v[i] = sample[i].Value.Uint64()
	}
	live = v[0]
	// Mapped and not released, less the free pages and the objects: the
	// runtime counts the rest (stacks, metadata, the unused tails of the
	// heap's spans) as overhead the heap goal leaves room for.
	nonHeap = v[1] - v[2] - v[3] - v[4]
	if nonHeap > v[1] { // the classes are read at once; never negative
		nonHeap = 0
	}
	return live, nonHeap, true
}

// runMemoryPolicy keeps the runtime's soft memory limit at memoryLimit of
// the live heap (as of the last collection) until ctx ends, then lifts it.
// It does nothing when the environment (lookupEnv) sets GOGC or
// GOMEMLIMIT: the runtime already follows those.
func runMemoryPolicy(ctx context.Context, log zerolog.Logger, lookupEnv func(string) (string, bool)) error {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := lookupEnv(env); ok {
			log.Info().Str(env, v).Msg("memory policy from the environment")
			return nil
		}
	}
	sample := make([]metrics.Sample, len(memoryMetrics))
	for i, name := range memoryMetrics {
		sample[i].Name = name
	}
	set := func() bool {
		live, nonHeap, ok := readMemory(sample)
		if ok {
			debug.SetMemoryLimit(memoryLimit(live, nonHeap))
		}
		return ok
	}
	if !set() {
		log.Warn().Msg("the runtime does not report its memory use: no memory limit set (set GOMEMLIMIT)")
		return nil
	}
	defer debug.SetMemoryLimit(math.MaxInt64)
	log.Debug().Msg("memory policy: soft limit follows the live heap (GOGC or GOMEMLIMIT override it)")
	t := time.NewTicker(memoryPolicyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			set()
		}
	}
}
