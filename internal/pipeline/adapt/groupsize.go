// Package adapt adapts the pipeline's dispatch to how serial the binlog
// is as it goes: the size of the groups (GroupSizer) and, in serial
// stretches, whether row images are decoded at all (SerialMode).
package adapt

import "time"

// Adaptive group size. A group's commit costs the same whatever it holds:
// a round trip or two, a log flush. Larger groups pay it less often, but a
// group waits for every earlier group any of its transactions depends on,
// so larger groups also run side by side less often. Which matters depends
// on the binlog, and it changes along it:
//
//   - Where each group waits for the one before it (hot rows, a serial
//     stretch), the groups run one after the other whatever their size:
//     larger groups lose nothing and pay fewer commits, which over a
//     network are most of the time (one group at a time, each paying its
//     round trips in full).
//   - Where groups run side by side, they already hide each other's round
//     trips, and larger groups would only make them wait for each other.
//
// So the size limit doubles, up to maxGroupTxns, while nearly every group
// dispatched waits for the group just before it, and halves, down to
// baseGroupTxns, while fewer than half of them do (GroupSizer.Observe,
// every sizeWindow groups).
//
// Groups side by side hide each other's commits only while a worker is
// free to run one: where every worker is busy as the groups are handed
// out (a local target on few cores, the workers' applying the limit),
// more groups at once gain nothing and each commit costs its log flush.
// So the limit also doubles while nearly every group is dispatched with
// every worker busy (saturated), braked as below: on 20,000 uniform
// sysbench transactions on this 2-core machine, fixed groups of 1024
// took 0.91 s where the limit, kept at 64 by the parallel groups, took
// 1.20 s. Measured on the sysbench write-only workload
// (8 tables x 50k rows, 8 threads, 6 s) through a proxy adding 5 ms of
// round trip, 8 workers, on a loaded 2-core machine: with its default
// distribution (most writes on 1% of the rows) 64-transaction groups
// already form one chain, and fixed sizes of 64, 256 and 1024 took 11.07,
// 5.08 and 5.43 s; with a uniform distribution 64-transaction groups run
// side by side, and larger ones gained nothing there.
//
// A chain is not always free to lengthen, though: where many transactions
// of a group write the same few rows (hot rows on a local target), the
// target pays more per write as its transaction grows, and groups of 1024
// were measured 34% slower than groups of 64. So growing is braked by what
// it measures: the commit rate (transactions committed per second, read
// from the sequencer) at each size, from the moment the first group of
// that size committed. A doubling from a size whose rate was known is kept
// only if it raised the rate by minGain or more; otherwise the size goes
// back to the one before and stays there for holdWindows windows before
// trying again (the binlog may change along the way). While no group of a
// size has committed yet (with many groups in flight, over a network, the
// first windows are dispatched before any commit is seen) it grows on the
// chain alone, as before the brake: the brake acts on evidence only.

// BaseGroupTxns is the size the adaptive group size starts at, and its
// least.
const BaseGroupTxns = baseGroupTxns

const (
	baseGroupTxns = 64
	maxGroupTxns  = 1024
	sizeWindow    = 16
	// minGain is how much a doubling must raise the commit rate to be
	// kept: more than the run-to-run noise of one window's measurement.
	minGain = 0.05
	// holdWindows is how many windows a size that a doubling did not
	// improve on is kept before doubling is tried again.
	holdWindows = 32
	// measureGroups is how many groups of the current size must have
	// committed before its rate counts.
	measureGroups = 4
)

// GroupSizer sets how many transactions a group may hold. It is used by
// the dispatcher only.
type GroupSizer struct {
	fixed     bool // a size given by the operator: never changed
	limit     int
	prevFirst uint64 // first ticket of the group observed before
	seen      int    // groups observed in this window
	chained   int    // of which waited for the group just before
	saturated int    // of which were dispatched with every worker busy

	rate    rateMeter // the commit rate at limit
	grownAt float64   // the rate at limit/2 when limit was doubled from it, 0 if it was not
	hold    int       // windows left before doubling is tried again
	restart bool      // the limit changed: measure from the next group observed
}

// rateMeter measures the commit rate at one group size: from the commit
// of the first group of that size (ticket from) on.
type rateMeter struct {
	from      uint64    // first ticket of the first group of the size
	started   bool      // that group has committed
	at        time.Time // when its commit was first seen
	committed uint64    // the last committed ticket then
	perSec    float64   // the rate of the transactions committed since, 0 until enough have
}

// reset starts measuring anew from the group that starts at ticket from.
func (m *rateMeter) reset(from uint64) { *m = rateMeter{from: from} }

// observe records that tickets up to committed had committed at now; a
// group holds limit transactions.
func (m *rateMeter) observe(committed uint64, now time.Time, limit int) {
	switch {
	case m.from == 0 || committed < m.from:
		return
	case !m.started:
		m.started, m.at, m.committed = true, now, committed
		return
	}
	txns := float64(committed - m.committed)
	if secs := now.Sub(m.at).Seconds(); secs > 0 && txns >= float64(measureGroups*limit) {
		m.perSec = txns / secs
	}
}

// NewGroupSizer returns the sizer for a configured limit: fixed when it
// is positive, adaptive when it is 0, starting at start (StartGroupTxns;
// 0 or less: baseGroupTxns).
func NewGroupSizer(configured, start int) *GroupSizer {
	if configured > 0 {
		return &GroupSizer{fixed: true, limit: configured}
	}
	return &GroupSizer{limit: min(max(start, baseGroupTxns), maxGroupTxns), restart: true}
}

// StartGroupTxns returns the size the adaptive group size starts at for
// a target rtt away: baseGroupTxns on a local target, doubled for every
// doubling of the round trip from 250 µs on (512 at 1 ms, 1024 from
// 2 ms). Over a network every step of a chain of groups pays its round
// trips, and growing from 64 on evidence takes tens of thousands of
// transactions; where the groups turn out independent the size halves
// every window down to 64, and starting large cost less than it gained
// on the workloads measured
// (docs/design.md, "Where it starts", and docs/benchmarks.md).
func StartGroupTxns(rtt time.Duration) int {
	n := baseGroupTxns
	for step := 250 * time.Microsecond; n < maxGroupTxns && rtt >= step; step *= 2 {
		n *= 2
	}
	return n
}

// MaxTxns returns the most transactions a group may hold now.
func (s *GroupSizer) MaxTxns() int { return s.limit }

// Observe records the group from ticket first, waiting for ticket
// dependsOn (0: nothing), dispatched at now after every group before it,
// when every ticket up to committed had committed and, if saturated,
// every worker was busy; it adjusts the limit at the end of each window.
func (s *GroupSizer) Observe(first, dependsOn, committed uint64, saturated bool, now time.Time) {
	if s.prevFirst > 0 && dependsOn >= s.prevFirst {
		s.chained++
	}
	if saturated {
		s.saturated++
	}
	s.prevFirst = first
	if s.fixed {
		return
	}
	if s.restart {
		s.rate.reset(first) // the first group made at the limit
		s.restart = false
	}
	s.rate.observe(committed, now, s.limit)
	if s.seen++; s.seen < sizeWindow {
		return
	}
	chained, busy := s.chained, s.saturated
	s.seen, s.chained, s.saturated = 0, 0, 0
	switch {
	case chained >= sizeWindow-2 || busy >= sizeWindow-2:
		s.lengthen()
	case 2*chained < sizeWindow && s.limit > baseGroupTxns:
		s.setLimit(max(s.limit/2, baseGroupTxns), 0)
		s.hold = 0
	}
}

// lengthen doubles the limit of a chain of groups, or of groups that
// found every worker busy, unless a hold is on,
// or the last doubling was measured not to raise the commit rate (then it
// goes back, and holds), or the rate at the limit is being measured: after
// a doubling from a known rate, or once a group of the limit committed.
// Before that (no commit seen yet: many groups in flight, over a network)
// it doubles on the chain alone.
func (s *GroupSizer) lengthen() {
	rate := s.rate.perSec
	switch {
	case s.hold > 0:
		s.hold--
	case rate == 0 && (s.grownAt > 0 || s.rate.started):
		// being measured: wait for it
	case s.grownAt > 0 && rate < s.grownAt*(1+minGain):
		s.setLimit(s.limit/2, 0)
		s.hold = holdWindows
	case s.limit < maxGroupTxns:
		s.setLimit(2*s.limit, rate)
	}
}

// setLimit changes the limit, grownAt being the rate at the old one when
// this is a doubling (0 otherwise), and starts measuring the new one from
// the next group observed.
func (s *GroupSizer) setLimit(limit int, grownAt float64) {
	s.limit, s.grownAt = limit, grownAt
	s.rate.reset(0)
	s.restart = true
}

// GroupTxnsBound is the most transactions a group may ever hold with the
// configured limit (0: adaptive).
func GroupTxnsBound(configured int) int {
	if configured > 0 {
		return configured
	}
	return maxGroupTxns
}
