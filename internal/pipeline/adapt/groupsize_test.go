package adapt

import (
	"testing"
	"time"
)

// sim is a target for the sizer: each group, dispatched when the one
// before has committed, takes cost(its size) to commit.
type sim struct {
	s         *GroupSizer
	next      uint64 // the next ticket
	committed uint64 // the last committed ticket
	now       time.Time
	cost      func(txns int) time.Duration
	saturated bool // every group is dispatched with every worker busy
}

func newSim(s *GroupSizer, cost func(int) time.Duration) *sim {
	return &sim{s: s, next: 1, now: time.Unix(0, 0), cost: cost}
}

// feed dispatches n groups of the sizer's size; chained says whether
// each depends on the group just before it.
func (m *sim) feed(n int, chained bool) {
	for i := 0; i < n; i++ {
		txns := m.s.MaxTxns()
		first, dependsOn := m.next, uint64(0)
		if chained && first > 1 {
			dependsOn = first - 1
		}
		m.next += uint64(txns)
		m.s.Observe(first, dependsOn, m.committed, m.saturated, m.now)
		m.now = m.now.Add(m.cost(txns))
		m.committed = m.next - 1
	}
}

// overhead is a target where a commit costs a round trip of 5 ms and
// each transaction 20 µs: larger groups always commit more per second.
func overhead(txns int) time.Duration {
	return 5*time.Millisecond + time.Duration(txns)*20*time.Microsecond
}

// hotRows is a target where each transaction costs more as its group
// grows (writes to the same rows piling up in one target transaction):
// the rate is best at 64 transactions a group.
func hotRows(txns int) time.Duration {
	per := 100 * time.Microsecond
	if txns > 64 {
		per = per * time.Duration(txns) / 64 / 2
		per = max(per, 100*time.Microsecond)
	}
	return 200*time.Microsecond + time.Duration(txns)*per
}

func TestGroupSizerGrowsOnChainsAndShrinksWhenParallel(t *testing.T) {
	s := NewGroupSizer(0, 0)
	m := newSim(s, overhead)
	if got := s.MaxTxns(); got != baseGroupTxns {
		t.Fatalf("initial limit %d, want %d", got, baseGroupTxns)
	}
	// One chain on a target where commits cost: the limit doubles up to
	// the maximum (it waits a window for each rate to be measured).
	grown := false
	for i := 0; i < 20; i++ {
		m.feed(sizeWindow, true)
		grown = grown || s.MaxTxns() > baseGroupTxns
	}
	if !grown {
		t.Fatalf("the limit never grew on a chain")
	}
	if got := s.MaxTxns(); got != maxGroupTxns {
		t.Fatalf("after many chained windows: limit %d, want %d", got, maxGroupTxns)
	}
	// Groups that run side by side: it halves back to the base.
	m.feed(sizeWindow, false)
	if got := s.MaxTxns(); got != maxGroupTxns/2 {
		t.Fatalf("after one parallel window: limit %d, want %d", got, maxGroupTxns/2)
	}
	for i := 0; i < 10; i++ {
		m.feed(sizeWindow, false)
	}
	if got := s.MaxTxns(); got != baseGroupTxns {
		t.Fatalf("after many parallel windows: limit %d, want %d", got, baseGroupTxns)
	}
}

// TestGroupSizerBrakes: on a chain where larger groups commit fewer
// transactions per second, a doubling is tried, measured, undone, and
// held off for holdWindows windows; then tried once more.
func TestGroupSizerBrakes(t *testing.T) {
	s := NewGroupSizer(0, 0)
	m := newSim(s, hotRows)
	sizes := map[int]int{} // windows spent at each size
	tried := 0
	for w := 0; w < 3*holdWindows; w++ {
		before := s.MaxTxns()
		m.feed(sizeWindow, true)
		sizes[before]++
		if s.MaxTxns() > before {
			tried++
		}
	}
	if sizes[baseGroupTxns] < 3*holdWindows-8 || sizes[4*baseGroupTxns] > 0 {
		t.Fatalf("windows at each size %v: want nearly all at %d, none beyond %d", sizes, baseGroupTxns, 2*baseGroupTxns)
	}
	if tried < 2 || tried > 3 {
		t.Fatalf("doubling tried %d times in %d windows, want it tried again after each hold of %d", tried, 3*holdWindows, holdWindows)
	}
}

// TestGroupSizerGrowsBeforeARate: with nothing committed yet (every group
// in flight), a chain grows the limit as before the brake; once a doubling
// from a known rate is being measured, it waits for that measurement.
func TestGroupSizerGrowsBeforeARate(t *testing.T) {
	s := NewGroupSizer(0, 0)
	next := uint64(1)
	now := time.Unix(0, 0)
	for i := 0; i < 5*sizeWindow; i++ {
		first := next
		next += uint64(s.MaxTxns())
		s.Observe(first, first-1, 0, false, now)
		now = now.Add(time.Millisecond)
	}
	if got := s.MaxTxns(); got != maxGroupTxns {
		t.Fatalf("limit %d with no commit seen, want %d: doubled on the chain alone", got, maxGroupTxns)
	}
	s = NewGroupSizer(0, 0)
	m := newSim(s, overhead)
	m.feed(sizeWindow, true) // 64 measured (commits come at once here): doubles from a known rate
	if got := s.MaxTxns(); got != 2*baseGroupTxns || s.grownAt == 0 {
		t.Fatalf("limit %d (grown from a rate of %.0f/s), want %d grown from a measured rate", got, s.grownAt, 2*baseGroupTxns)
	}
	m.feed(sizeWindow, true) // 128 measured, faster: doubles
	if got := s.MaxTxns(); got != 4*baseGroupTxns {
		t.Fatalf("limit %d, want %d", got, 4*baseGroupTxns)
	}
	for i := 0; i < 3*sizeWindow; i++ { // nothing commits: 256 is not measured
		first := m.next
		m.next += uint64(s.MaxTxns())
		s.Observe(first, first-1, m.committed, false, m.now)
		m.now = m.now.Add(time.Millisecond)
	}
	if got := s.MaxTxns(); got != 4*baseGroupTxns {
		t.Fatalf("limit %d while the doubling to %d was not measured, want it kept", got, 4*baseGroupTxns)
	}
}

func TestGroupSizerHoldsInBetween(t *testing.T) {
	s := NewGroupSizer(0, 0)
	m := newSim(s, overhead)
	for s.MaxTxns() == baseGroupTxns {
		m.feed(sizeWindow, true)
	}
	// 10 of 16 chained: neither nearly all nor under half.
	m.feed(10, true)
	m.feed(sizeWindow-10, false)
	if got := s.MaxTxns(); got != 2*baseGroupTxns {
		t.Fatalf("limit %d, want %d kept", got, 2*baseGroupTxns)
	}
}

func TestGroupSizerFixed(t *testing.T) {
	s := NewGroupSizer(16, 0)
	m := newSim(s, hotRows)
	m.feed(5*sizeWindow, true)
	if got := s.MaxTxns(); got != 16 {
		t.Fatalf("a configured size changed to %d", got)
	}
	if GroupTxnsBound(16) != 16 || GroupTxnsBound(0) != maxGroupTxns {
		t.Fatalf("groupTxnsBound: %d, %d", GroupTxnsBound(16), GroupTxnsBound(0))
	}
}

// TestStartGroupTxns: the start doubles with each doubling of the round
// trip from 250 µs, and a large start halves back to the least where the
// groups are independent.
func TestStartGroupTxns(t *testing.T) {
	for rtt, want := range map[time.Duration]int{
		0: 64, 100 * time.Microsecond: 64, 250 * time.Microsecond: 128, 600 * time.Microsecond: 256,
		time.Millisecond: 512, 1500 * time.Microsecond: 512, 2 * time.Millisecond: 1024, 5 * time.Millisecond: 1024,
	} {
		if got := StartGroupTxns(rtt); got != want {
			t.Errorf("StartGroupTxns(%s) = %d, want %d", rtt, got, want)
		}
	}
	s := NewGroupSizer(0, StartGroupTxns(5*time.Millisecond))
	if got := s.MaxTxns(); got != maxGroupTxns {
		t.Fatalf("initial limit %d, want %d", got, maxGroupTxns)
	}
	m := newSim(s, overhead)
	m.feed(4*sizeWindow, false)
	if got := s.MaxTxns(); got != baseGroupTxns {
		t.Fatalf("after 4 windows of independent groups the limit is %d, want %d", got, baseGroupTxns)
	}
	if got := NewGroupSizer(16, 1024).MaxTxns(); got != 16 {
		t.Fatalf("a configured size %d started at %d", 16, got)
	}
}

// TestGroupSizerGrowsWhenWorkersAreBusy: groups that run side by side but
// find every worker busy (saturated) gain nothing from running at once,
// and grow while larger groups raise the commit rate (a target where a
// commit costs), not where they do not (each transaction costing the
// same, whatever its group): the brake takes the size back to the base.
func TestGroupSizerGrowsWhenWorkersAreBusy(t *testing.T) {
	s := NewGroupSizer(0, 0)
	m := newSim(s, overhead)
	m.saturated = true
	for i := 0; i < 20; i++ {
		m.feed(sizeWindow, false)
	}
	if got := s.MaxTxns(); got != maxGroupTxns {
		t.Fatalf("saturated, where commits cost: limit %d, want %d", got, maxGroupTxns)
	}

	flat := func(txns int) time.Duration { return time.Duration(txns) * 20 * time.Microsecond }
	s = NewGroupSizer(0, 0)
	m = newSim(s, flat)
	m.saturated = true
	most := 0
	for i := 0; i < 20; i++ {
		m.feed(sizeWindow, false)
		most = max(most, s.MaxTxns())
	}
	if got := s.MaxTxns(); got != baseGroupTxns || most > 2*baseGroupTxns {
		t.Fatalf("saturated, where a group's size changes nothing: limit %d (at most %d), want %d (at most %d)",
			got, most, baseGroupTxns, 2*baseGroupTxns)
	}

	// Not saturated: side by side, it stays at the base.
	s = NewGroupSizer(0, 0)
	m = newSim(s, overhead)
	for i := 0; i < 20; i++ {
		m.feed(sizeWindow, false)
	}
	if got := s.MaxTxns(); got != baseGroupTxns {
		t.Fatalf("parallel, workers free: limit %d, want %d", got, baseGroupTxns)
	}
}
