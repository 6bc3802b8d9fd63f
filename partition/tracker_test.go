package partition

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

type addCase struct {
	seq     uint64
	keys    []Key
	barrier bool
	want    uint64
}

// The worked example of the Tracker doc comment.
func TestTrackerWorkedExample(t *testing.T) {
	const a1, a2, a9, b7, c3 = Key(1), Key(2), Key(9), Key(107), Key(203)
	steps := []addCase{
		{1, []Key{a1}, false, 0},
		{2, []Key{a2}, false, 0},
		{3, []Key{a1, b7}, false, 1},
		{4, []Key{b7, a2}, false, 3},
		{5, []Key{a9}, false, 0},
		{6, nil, true, 5},
		{7, []Key{a9}, false, 6},
		{8, []Key{c3}, false, 6},
		{9, []Key{a9, c3}, false, 8},
	}
	runAdds(t, NewTracker(0), steps)
}

func runAdds(t *testing.T, tr *Tracker, steps []addCase) {
	t.Helper()
	for _, s := range steps {
		if got := tr.Add(s.seq, s.keys, s.barrier); got != s.want {
			t.Errorf("Add(%d, %v, %v) = %d, want %d", s.seq, s.keys, s.barrier, got, s.want)
		}
	}
}

func TestTrackerGapsAndBarrierFirst(t *testing.T) {
	runAdds(t, NewTracker(0), []addCase{
		{3, nil, true, 0}, // a barrier with nothing before it
		{10, []Key{1}, false, 3},
		{12, []Key{2}, false, 3},
		{20, []Key{1, 2}, false, 12},
		{21, nil, false, 3}, // no keys: only the floor
		{30, nil, true, 21},
		{31, []Key{1}, false, 30},
	})
}

func TestTrackerFloorOnOverflow(t *testing.T) {
	tr := NewTracker(2)
	runAdds(t, tr, []addCase{
		{1, []Key{1}, false, 0},
		{2, []Key{2}, false, 0},
		{3, []Key{3}, false, 0}, // forgets (1,1): floor 1
		{4, []Key{4}, false, 1}, // forgets (2,2): floor 2
		{5, []Key{9}, false, 2}, // forgets (3,3): floor 3
		{6, []Key{4}, false, 4}, // still remembers key 4
	})
	if tr.Len() > 2 {
		t.Errorf("remembers %d pairs, max 2", tr.Len())
	}
}

func TestTrackerNonIncreasingSeq(t *testing.T) {
	tr := NewTracker(0)
	tr.Add(5, []Key{1}, false)
	if got := tr.Add(5, []Key{2}, false); got >= 5 {
		t.Errorf("repeated seq: dependsOn %d, want < 5", got)
	}
	if got := tr.Add(6, []Key{3}, false); got != 5 {
		t.Errorf("after the repeated seq: dependsOn %d, want 5 (it was a barrier)", got)
	}
}

// reference computes dependsOn without memory bound, by scanning history.
func reference(history []addCase, cur addCase) uint64 {
	var dep uint64
	for _, h := range history {
		if cur.barrier || h.barrier {
			dep = max(dep, h.seq)
			continue
		}
		for _, k := range cur.keys {
			if slices.Contains(h.keys, k) {
				dep = max(dep, h.seq)
			}
		}
	}
	return dep
}

// Against the reference, an unbounded Tracker is exact and a bounded one
// is never less strict (and never waits for itself or later).
func TestTrackerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxKeys := range []int{math.MaxInt32, 16, 3} {
		tr := NewTracker(maxKeys)
		var history []addCase
		seq := uint64(0)
		for i := 0; i < 3000; i++ {
			seq += 1 + uint64(rng.IntN(3))
			c := addCase{seq: seq, barrier: rng.IntN(50) == 0}
			for j := rng.IntN(4); j > 0; j-- {
				c.keys = append(c.keys, Key(rng.IntN(40)))
			}
			want := reference(history, c)
			got := tr.Add(c.seq, c.keys, c.barrier)
			if got >= c.seq || got < want || (maxKeys == math.MaxInt32 && got != want) {
				t.Fatalf("maxKeys %d, step %d %+v: dependsOn %d, reference %d", maxKeys, i, c, got, want)
			}
			if tr.Len() > maxKeys {
				t.Fatalf("remembers %d pairs, max %d", tr.Len(), maxKeys)
			}
			history = append(history, c)
		}
	}
}

func TestSimulate(t *testing.T) {
	indep := make([]Step, 8)
	chain := make([]Step, 8)
	for i := range indep {
		indep[i] = Step{Seq: uint64(i + 1)}
		chain[i] = Step{Seq: uint64(i + 1), DependsOn: uint64(i)}
	}
	tests := []struct {
		name     string
		steps    []Step
		workers  int
		makespan float64
	}{
		{"independent, 4 workers", indep, 4, 2},
		{"independent, 1 worker", indep, 1, 8},
		{"independent, unlimited", indep, 100, 1},
		{"chain", chain, 4, 8},
		// A long first transaction holds back the commits of the others,
		// and their workers: 1 [0,10]; 2 [0,1] commits at 10; 3 and 4
		// start at 10; 5 when 3's worker frees at 11.
		{"commit order", []Step{{Seq: 1, Cost: 10}, {Seq: 2}, {Seq: 3}, {Seq: 4}, {Seq: 5}}, 2, 12},
		{"worked example", []Step{{1, 0, 0}, {2, 0, 0}, {3, 1, 0}, {4, 3, 0}, {5, 0, 0},
			{6, 5, 0}, {7, 6, 0}, {8, 6, 0}, {9, 8, 0}}, 100, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Simulate(tc.steps, tc.workers)
			if r.Makespan != tc.makespan {
				t.Errorf("makespan %v, want %v", r.Makespan, tc.makespan)
			}
			if r.SpeedUp != r.Serial/r.Makespan {
				t.Errorf("speed-up %v, serial %v", r.SpeedUp, r.Serial)
			}
		})
	}
	if cp := CriticalPath(chain); cp != 8 {
		t.Errorf("critical path of a chain of 8: %v", cp)
	}
	st := Analyze(chain, 1, 4)
	if st.Serialized != 7 || st.Parallel != 1 || st.SpeedUp[4] != 1 {
		t.Errorf("Analyze(chain) = %+v", st)
	}
	if st := Analyze(indep, 4); st.Parallel != 8 || st.SpeedUp[4] != 4 {
		t.Errorf("Analyze(independent) = %+v", st)
	}
}

// The worked example of AddToGroup's doc comment.
func TestTrackerAddToGroupExample(t *testing.T) {
	const a1, b1, c1 = Key(1), Key(101), Key(201)
	tr := NewTracker(0)
	for _, c := range []addCase{{1, []Key{a1}, false, 0}, {2, []Key{b1}, false, 0}, {3, []Key{c1}, false, 0}} {
		if got := tr.Add(c.seq, c.keys, false); got != c.want {
			t.Fatalf("Add(%d) = %d, want %d", c.seq, got, c.want)
		}
	}
	for _, c := range []struct {
		seq, first uint64
		keys       []Key
		want       uint64
	}{{4, 4, []Key{a1}, 1}, {5, 4, []Key{a1}, 0}, {6, 4, []Key{a1, b1}, 2}} {
		if got := tr.AddToGroup(c.seq, c.first, c.keys); got != c.want {
			t.Errorf("AddToGroup(%d, %d, %v) = %d, want %d", c.seq, c.first, c.keys, got, c.want)
		}
	}
}

// A group waits for the largest AddToGroup result of its members: that
// must cover every earlier transaction outside the group that any member
// shares a key with, also when the tracker forgets keys.
func TestTrackerAddToGroupCoversConflicts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		maxKeys int
		forget  bool
	}{{math.MaxInt32, false}, {16, false}, {3, false}, {math.MaxInt32, true}, {16, true}} {
		maxKeys := tc.maxKeys
		tr := NewTracker(maxKeys)
		var history []addCase
		seq, first, groupDep := uint64(0), uint64(0), uint64(0)
		committed := uint64(0) // with forget: what has committed, told to the tracker
		for i := 0; i < 5000; i++ {
			if tc.forget && first > 0 && rng.IntN(3) == 0 {
				// Commits go by in order, never into the group being built.
				committed = max(committed, committed+uint64(rng.IntN(int(first-committed))))
				tr.Forget(committed)
			}
			seq++
			c := addCase{seq: seq, barrier: rng.IntN(80) == 0}
			for j := rng.IntN(4); j > 0; j-- {
				c.keys = append(c.keys, Key(rng.IntN(30)))
			}
			if c.barrier || first == 0 || rng.IntN(6) == 0 {
				first, groupDep = seq, 0 // a new group
			}
			var got uint64
			if c.barrier {
				got = tr.Add(seq, c.keys, true)
				first = 0 // a barrier runs alone
			} else {
				got = tr.AddToGroup(seq, first, c.keys)
				if got >= first {
					t.Fatalf("maxKeys %d, step %d: AddToGroup(%d, %d) = %d, inside the group", maxKeys, i, seq, first, got)
				}
				groupDep = max(groupDep, got)
				// Every earlier transaction outside the group sharing a key,
				// and every barrier, must be covered, unless committed.
				for _, h := range history {
					if h.seq >= first || h.seq <= committed {
						continue
					}
					if (h.barrier || shares(h.keys, c.keys)) && h.seq > groupDep {
						t.Fatalf("maxKeys %d, step %d: transaction %d (group from %d) shares a key with %d, the group waits only for %d",
							maxKeys, i, seq, first, h.seq, groupDep)
					}
				}
			}
			history = append(history, c)
		}
	}
}

func shares(a, b []Key) bool {
	for _, k := range a {
		if slices.Contains(b, k) {
			return true
		}
	}
	return false
}
