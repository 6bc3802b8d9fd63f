// Package adapt adapts the pipeline's dispatch to how serial the binlog
// is as it goes: the size of the groups (GroupSizer) and, in serial
// stretches, whether row images are decoded at all (SerialMode).
package adapt

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
// every sizeWindow groups). Measured on the sysbench write-only workload
// (8 tables x 50k rows, 8 threads, 6 s) through a proxy adding 5 ms of
// round trip, 8 workers, on a loaded 2-core machine: with its default
// distribution (most writes on 1% of the rows) 64-transaction groups
// already form one chain, and fixed sizes of 64, 256 and 1024 took 11.07,
// 5.08 and 5.43 s; with a uniform distribution 64-transaction groups run
// side by side, and larger ones gained nothing there.

// BaseGroupTxns is the size the adaptive group size starts at, and its
// least.
const BaseGroupTxns = baseGroupTxns

const (
	baseGroupTxns = 64
	maxGroupTxns  = 1024
	sizeWindow    = 16
)

// GroupSizer sets how many transactions a group may hold. It is used by
// the dispatcher only.
type GroupSizer struct {
	fixed     bool // a size given by the operator: never changed
	limit     int
	prevFirst uint64 // first ticket of the group observed before
	seen      int    // groups observed in this window
	chained   int    // of which waited for the group just before
}

// NewGroupSizer returns the sizer for a configured limit: fixed when it
// is positive, adaptive (from baseGroupTxns) when it is 0.
func NewGroupSizer(configured int) *GroupSizer {
	if configured > 0 {
		return &GroupSizer{fixed: true, limit: configured}
	}
	return &GroupSizer{limit: baseGroupTxns}
}

// MaxTxns returns the most transactions a group may hold now.
func (s *GroupSizer) MaxTxns() int { return s.limit }

// Observe records the group from ticket first, waiting for ticket
// dependsOn (0: nothing), dispatched after every group before it, and
// adjusts the limit at the end of each window.
func (s *GroupSizer) Observe(first, dependsOn uint64) {
	if s.prevFirst > 0 && dependsOn >= s.prevFirst {
		s.chained++
	}
	s.prevFirst = first
	if s.fixed {
		return
	}
	if s.seen++; s.seen < sizeWindow {
		return
	}
	switch {
	case s.chained >= sizeWindow-2:
		s.limit = min(2*s.limit, maxGroupTxns)
	case 2*s.chained < sizeWindow:
		s.limit = max(s.limit/2, baseGroupTxns)
	}
	s.seen, s.chained = 0, 0
}

// GroupTxnsBound is the most transactions a group may ever hold with the
// configured limit (0: adaptive).
func GroupTxnsBound(configured int) int {
	if configured > 0 {
		return configured
	}
	return maxGroupTxns
}
