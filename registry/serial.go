package registry

import "time"

// The zone's SOA serial.
//
// Secondaries (RFC 1996, RFC 1995) compare serials: one that holds a higher
// serial than its primary ignores it, and one that lists two nodes as its
// primaries flips between them when they differ. So the serial must never
// go backwards, across restarts and failovers, and must be the same on
// every node once the cluster has converged. The rule:
//
//   - Every change a node makes to its own records carries its time: the
//     set's (or removal's) Version is a hybrid logical clock in
//     milliseconds since the Unix epoch, the larger of the wall clock and
//     one more than the newest change the node knows of (its own or any
//     other node's). Gossip carries versions already, so every node learns
//     the times of every change.
//   - Each registry keeps the zone's change time: the newest version and
//     generation (a run's start time) it has seen. A change that would not
//     move the serial past the one already given out (a node dropped when
//     its lease ends, a lease starting, a remote change stamped in a
//     second the serial has reached, as when it was made concurrently
//     with a newer one seen here) is stamped on the local node instead:
//     its version moves to the current time, which gossip's push/pull then
//     carries to every node. Once gossip has converged every node holds
//     the same newest time.
//   - The serial is that time in whole seconds, rounded up, but never
//     ahead of the local clock: min(⌊now⌋, ⌈changed⌉), taken modulo 2^32
//     (RFC 1982; Unix seconds fit until 2106). A burst of changes within a
//     second shows as one new serial at the end of that second, so the
//     serial cannot run ahead of the clock, and the first serial of a run
//     (its start time) is above every serial an earlier run gave out.
//
// Clocks must agree to within about a second (NTP) for nodes to give the
// same serial during the second after a change; they agree once it has
// passed. A time more than maxAhead ahead of the local clock is not taken
// as a change time (a badly set clock cannot drag every serial ahead).

// maxAhead bounds how far ahead of the local clock a change time is taken.
const maxAhead = time.Minute

// SerialAt is the serial of a zone whose newest change was at changed
// (milliseconds since the Unix epoch), at time now: ⌈changed⌉ in seconds,
// at most ⌊now⌋. next is when it will grow without any further change (a
// whole second), or zero when it will not.
func SerialAt(changed int64, now time.Time) (serial uint32, next time.Time) {
	due := ceilDiv(changed, 1000)
	sec := now.Unix()
	if due <= sec {
		return uint32(due), time.Time{}
	}
	return uint32(sec), time.Unix(sec+1, 0)
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b > 0 {
		q++
	}
	return q
}

// Serial is the zone's SOA serial at the current time (see SerialAt): it
// grows, within a second, whenever the zone changes. Once the snapshot's
// serial is final (its change time's second is over) it is an atomic load:
// the clock is read only in the second after a change.
func (s *Snapshot) Serial() uint32 {
	if s.final.Load() {
		return uint32(ceilDiv(s.changed, 1000))
	}
	serial, next := SerialAt(s.changed, s.clock())
	if next.IsZero() {
		s.final.Store(true)
	}
	return serial
}

// SerialAt is the zone's serial at now, and when it grows next without a
// change (zero: not before the next snapshot).
func (s *Snapshot) SerialAt(now time.Time) (uint32, time.Time) {
	return SerialAt(s.changed, now)
}

// Changed is the time of the zone's newest change as this registry knows
// it, in milliseconds since the Unix epoch.
func (s *Snapshot) Changed() int64 { return s.changed }

// nextVersionLocked is the version of a change the local node makes now:
// above its last version v, above every change time known here, and after
// now (a millisecond on, so that its second, rounded up, is after the
// current one even on a whole second).
func (r *Registry) nextVersionLocked(v uint64) uint64 {
	return max(v+1, uint64(max(r.now().UnixMilli(), 0))+1, uint64(max(r.changed, 0))+1)
}

// stampLocked moves the zone's change time to cover changes about to be
// published. When they change what the zone answers (content) but would
// not move the serial past the one already given out (their times are in
// a second the serial has reached), the local node stamps them: its
// version moves on to now. That is no change to the local records, so it
// is not fed to subscribers; the snapshot's NodeInfo and LocalState carry
// it, and gossip's push/pull with them.
func (r *Registry) stampLocked(changes []Change, content bool) {
	now := r.now()
	limit := now.Add(maxAhead).UnixMilli()
	newest := r.changed
	for _, c := range changes {
		for _, t := range []int64{int64(min(c.Version, 1<<62)), int64(c.Generation / uint64(time.Millisecond))} {
			if t <= limit {
				newest = max(newest, t)
			}
		}
	}
	// The serial given out so far is at most ceil(changed), and at most
	// the current second: it grows past it unless newest ends in the same
	// second and that second is over.
	due := ceilDiv(newest, 1000)
	if content && due == ceilDiv(r.changed, 1000) && due <= now.Unix() {
		n := r.nodes[r.local]
		n.version = r.nextVersionLocked(n.version)
		newest = int64(n.version)
	}
	r.changed = newest
}
