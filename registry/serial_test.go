package registry

import (
	"fmt"
	"testing"
	"time"
)

func TestSerialAt(t *testing.T) {
	at := func(sec, ms int64) time.Time { return time.Unix(sec, ms*int64(time.Millisecond)) }
	for _, tc := range []struct {
		changed int64
		now     time.Time
		serial  uint32
		next    time.Time
	}{
		{10_000, at(10, 0), 10, time.Time{}},  // a change on the second: that second
		{10_200, at(10, 500), 10, at(11, 0)},  // within its second: the one before, until it is over
		{10_200, at(11, 0), 11, time.Time{}},  // then the second it ends
		{10_200, at(500, 0), 11, time.Time{}}, // and no later
		{15_000, at(10, 0), 10, at(11, 0)},    // ahead of the clock: the clock, a second at a time
		{0, at(10, 0), 0, time.Time{}},
	} {
		serial, next := SerialAt(tc.changed, tc.now)
		if serial != tc.serial || !next.Equal(tc.next) {
			t.Errorf("SerialAt(%d, %v): got %d, %v; want %d, %v", tc.changed, tc.now.UnixMilli(), serial, next, tc.serial, tc.next)
		}
	}
}

// TestSerialNotAheadOfTheClock: a burst of changes within one second (the
// old serial, start time plus one per change, ran ahead of the clock by
// one per change) gives one new serial, at the end of that second.
func TestSerialNotAheadOfTheClock(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	start := r.Snapshot().Serial()
	for i := range 500 {
		mustSetLocal(t, r, rs(fmt.Sprint("c", i), "web", "10.0.0.1"))
		clk.Advance(time.Millisecond)
		if got, now := r.Snapshot().Serial(), uint32(clk.Now().Unix()); int32(got-now) > 0 {
			t.Fatalf("change %d: serial %d ahead of the clock %d", i, got, now)
		}
	}
	clk.Advance(time.Second)
	if got := r.Snapshot().Serial(); got != start+1 {
		t.Errorf("a second after 500 changes within one: serial %d; want %d (one more)", got, start+1)
	}
}

// TestSerialAcrossRestart replays what issue 13 saw (40 changes in 23 s,
// then a restart moved the serial down by 18): the serial after a restart,
// on the restarted node and on its peer, is not below any serial given
// out before it, even when the restart comes within the same second.
func TestSerialAcrossRestart(t *testing.T) {
	clk := newFakeClock()
	gen := func() uint64 { return uint64(clk.Now().UnixNano()) }
	a, err := New(Config{Node: "a", Generation: gen(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Node: "b", Generation: gen() + 1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var highest uint32
	seen := func(r *Registry) {
		if s := r.Snapshot().Serial(); int32(s-highest) > 0 {
			highest = s
		}
	}
	for i := range 40 {
		mustSetLocal(t, a, rs(fmt.Sprint("c", i), fmt.Sprint("web", i), "10.0.0.1"))
		mustMerge(t, b, a.LocalState())
		seen(a)
		seen(b)
		clk.Advance(575 * time.Millisecond) // 40 changes in 23 s
	}
	clk.Advance(100 * time.Millisecond)
	seen(a)
	seen(b)

	a2, err := New(Config{Node: "a", Generation: gen(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if s := a2.Snapshot().Serial(); int32(s-highest) < 0 {
		t.Errorf("restarted node: serial %d; want at least %d", s, highest)
	}
	// b takes the new run (which drops the old one's records) and a2 b's
	// state, as gossip does at the join.
	mustMerge(t, b, a2.LocalState())
	mustMerge(t, a2, b.LocalState())
	for _, r := range []*Registry{a2, b} {
		if s := r.Snapshot().Serial(); int32(s-highest) < 0 {
			t.Errorf("%s after the restart: serial %d; want at least %d", r.LocalNode(), s, highest)
		}
	}
	// The new run's records come back: the serial grows on both.
	before := b.Snapshot().Serial()
	for i := range 40 {
		mustSetLocal(t, a2, rs(fmt.Sprint("c", i), fmt.Sprint("web", i), "10.0.0.1"))
	}
	mustMerge(t, b, a2.LocalState())
	clk.Advance(time.Second)
	for _, r := range []*Registry{a2, b} {
		if s := r.Snapshot().Serial(); int32(s-before) <= 0 {
			t.Errorf("%s after the new run's records: serial %d; want above %d", r.LocalNode(), s, before)
		}
	}
}

// peers is a cluster of registries whose push/pull a test runs by hand:
// every registry merges every other's own state.
type peers []*Registry

func (p peers) exchange(t *testing.T) {
	t.Helper()
	for _, from := range p {
		st := from.LocalState()
		for _, to := range p {
			if to != from {
				mustMerge(t, to, st)
			}
		}
	}
}

func (p peers) serials() []uint32 {
	out := make([]uint32, len(p))
	for i, r := range p {
		out[i] = r.Snapshot().Serial()
	}
	return out
}

func (p peers) sameSerial(t *testing.T, what string) uint32 {
	t.Helper()
	s := p.serials()
	for _, v := range s[1:] {
		if v != s[0] {
			t.Errorf("%s: serials %v; want the same on every node", what, s)
		}
	}
	return s[0]
}

// TestSerialConverges: nodes with clocks 400 ms apart that change their
// records concurrently, see each other's changes in different orders, and
// drop a lost node at different times serve one serial once they have
// exchanged their states (and their clocks have passed the newest change:
// a second and the skew), and it grows with each of those changes.
func TestSerialConverges(t *testing.T) {
	clkA, clkB := newFakeClock(), newFakeClock()
	clkA.Advance(400 * time.Millisecond)
	clocks := []*fakeClock{clkA, clkB, newFakeClock()}
	var p peers
	for i, name := range []string{"a", "b", "c"} {
		r, err := New(Config{Node: name, Generation: uint64(clocks[i].Now().UnixNano()), Now: clocks[i].Now})
		if err != nil {
			t.Fatal(err)
		}
		p = append(p, r)
	}
	advance := func(d time.Duration) {
		for _, c := range clocks {
			c.Advance(d)
		}
	}
	settle := func() { advance(1400 * time.Millisecond) }
	p.exchange(t)
	settle()
	s := p.sameSerial(t, "after the first exchange")

	// a and b change at once; each sees its own change first.
	mustSetLocal(t, p[0], rs("a1", "one", "10.0.0.1"))
	mustSetLocal(t, p[1], rs("b1", "two", "10.0.0.2"))
	p.exchange(t)
	settle()
	s2 := p.sameSerial(t, "after concurrent changes")
	if int32(s2-s) <= 0 {
		t.Errorf("serial after concurrent changes: %d; want above %d", s2, s)
	}

	// b's change arrives at a after a newer one of a's own: a's serial
	// still moves past it.
	// b's change is made at the same time as a's (b's clock is 400 ms
	// behind a's) and reaches a only once a's serial has moved past its own.
	mustSetLocal(t, p[0], rs("a2", "three", "10.0.0.3"))
	mustSetLocal(t, p[1], rs("b2", "four", "10.0.0.4"))
	if v, _ := p[1].Snapshot().NodeSet("b", "b2"); int64(v.Version) >= p[0].Snapshot().Changed() {
		t.Fatalf("b's change at %d is not older than a's newest at %d", v.Version, p[0].Snapshot().Changed())
	}
	settle()
	before := p[0].Snapshot().Serial()
	mustMerge(t, p[0], p[1].LocalState())
	advance(time.Second)
	if got := p[0].Snapshot().Serial(); int32(got-before) <= 0 {
		t.Errorf("a after b's older-stamped change: serial %d; want above %d", got, before)
	}
	p.exchange(t)
	settle()
	s3 := p.sameSerial(t, "after the older-stamped change")

	// c is lost: a and b drop it when their leases end, 700 ms apart.
	p[0].SetLease("c", clkA.Now())
	p[0].ExpireLeases()
	advance(700 * time.Millisecond)
	p[1].SetLease("c", clkB.Now())
	p[1].ExpireLeases()
	p = p[:2]
	p.exchange(t)
	settle()
	s4 := p.sameSerial(t, "after dropping a lost node")
	if int32(s4-s3) <= 0 {
		t.Errorf("serial after dropping a lost node: %d; want above %d", s4, s3)
	}

	// Exchanging again changes nothing.
	p.exchange(t)
	settle()
	if got := p.sameSerial(t, "after an idle exchange"); got != s4 {
		t.Errorf("serial after an idle exchange: %d; want %d", got, s4)
	}
}

// TestSerialIgnoresFarFuture: a version stamped a day ahead (a badly set
// clock) does not drag the serial ahead; the change still moves it.
func TestSerialIgnoresFarFuture(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	s := r.Snapshot().Serial()
	future := uint64(clk.Now().Add(24 * time.Hour).UnixMilli())
	mustApply(t, r, setDelta(1, future, "x"))
	if got := r.Snapshot().Changed(); got > clk.Now().Add(maxAhead).UnixMilli() {
		t.Errorf("change time %d taken from a version a day ahead", got)
	}
	serialGrows(t, r, clk, s, "a change stamped a day ahead")
	if got, now := r.Snapshot().Serial(), uint32(clk.Now().Unix()); got != now {
		t.Errorf("serial %d; want the clock's %d", got, now)
	}
}

// TestSerialStampedOnlyWhenNeeded: a remote change stamped within the
// second the serial has already reached (its origin's clock behind) still
// moves the serial, stamped on the local node; one that comes while the
// newest change's second is not over needs no stamp (the serial grows at
// its end anyway), and the local version stays.
func TestSerialStampedOnlyWhenNeeded(t *testing.T) {
	r, clk := newTestRegistry(t, "a", 1)
	mustSetLocal(t, r, rs("c1", "one", "10.0.0.1")) // at .000 of second S
	clk.Advance(1500 * time.Millisecond)            // S+1.5: serial S+1 given out
	before := r.Snapshot().Serial()
	local := r.LocalState().Version
	late := uint64(clk.Now().Add(-1200 * time.Millisecond).UnixMilli()) // S+0.3: newer than c1, same second
	mustApply(t, r, setDelta(1, late, "x"))
	if r.LocalState().Version == local {
		t.Error("a change in a second the serial has reached: the local version did not move")
	}
	serialGrows(t, r, clk, before, "a remote change stamped in a second the serial had reached")

	// Within the newest change's second: no stamp.
	mustSetLocal(t, r, rs("c2", "two", "10.0.0.2"))
	clk.Advance(200 * time.Millisecond)
	local = r.LocalState().Version
	mustApply(t, r, setDelta(1, late+1, "y")) // older than c2, its second not over
	if got := r.LocalState().Version; got != local {
		t.Errorf("a change while the newest change's second is not over: the local version moved from %d to %d", local, got)
	}
}
