package dns

import (
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/logtest"
)

// TestUpstreamReportIsRateLimited: a failing upstream is a warning at once,
// then at most one line per period counting the failures since, and one
// info line when it answers again.
func TestUpstreamReportIsRateLimited(t *testing.T) {
	var logs logtest.Buffer
	now := time.Unix(1000, 0)
	r := newUpstreamReport(zerolog.New(&logs))
	r.now = func() time.Time { return now }
	boom := errors.New("i/o timeout")

	for range 50 {
		r.failed("10.0.0.2:53", boom)
	}
	if got := len(logs.AtLevel("warn")); got != 1 {
		t.Fatalf("50 failures in one period: got %d warnings; want 1\n%s", got, logs.String())
	}
	now = now.Add(upstreamReportEvery)
	r.failed("10.0.0.2:53", boom)
	r.failed("10.0.0.3:53", boom) // another upstream has its own budget
	warns := logs.AtLevel("warn")
	if len(warns) != 3 || warns[1]["failed"] != float64(50) || warns[1]["failed_since_last_answer"] != float64(51) {
		t.Fatalf("after a period: got %v; want a second line counting the 50 failures since the first", warns)
	}
	r.answered("10.0.0.2:53")
	r.answered("10.0.0.2:53") // once only
	infos := logs.AtLevel("info")
	if len(infos) != 1 || infos[0]["upstream"] != "10.0.0.2:53" || infos[0]["failed_before"] != float64(51) {
		t.Fatalf("got %v; want one line saying 10.0.0.2:53 answers again after 51 failures", infos)
	}
	r.failed("10.0.0.2:53", boom)
	if got := len(logs.AtLevel("warn")); got != 4 {
		t.Fatalf("a failure after it answered again: got %d warnings; want a new one at once", got)
	}
}
