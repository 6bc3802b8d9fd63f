package partition

import (
	"cmp"
	"slices"
	"sort"
)

// Step is one transaction of a dependency list, as a Tracker produced it.
type Step struct {
	Seq       uint64
	DependsOn uint64
	// Cost is the time the transaction takes to apply, in any unit (rows,
	// bytes, seconds); 0 counts as 1.
	Cost float64
}

// Result is the outcome of Simulate.
type Result struct {
	// Serial is the total cost: the time one worker needs.
	Serial float64
	// Makespan is the time the simulated workers need.
	Makespan float64
	// SpeedUp is Serial / Makespan: the best speed-up the dependencies allow
	// with that many workers, apply costs being equal.
	SpeedUp float64
}

// Simulate replays steps on n workers (n < 1 counts as 1) under the
// applier's rules, with no overheads: transactions are handed out in Seq
// order; one starts when a worker is free and every transaction up to its
// DependsOn has committed; it commits once it is done and its predecessor
// has committed, and its worker is busy until then. steps are taken in Seq
// order (Simulate sorts a copy if needed).
func Simulate(steps []Step, n int) Result {
	if !slices.IsSortedFunc(steps, func(a, b Step) int { return cmp.Compare(a.Seq, b.Seq) }) {
		steps = slices.Clone(steps)
		slices.SortFunc(steps, func(a, b Step) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	n = max(n, 1)
	commit := make([]float64, len(steps)) // commit time of each step, nondecreasing
	var res Result
	var start float64 // start time of the previous step
	for i, s := range steps {
		cost := s.Cost
		if cost <= 0 {
			cost = 1
		}
		res.Serial += cost
		// Commit time of the last step with Seq <= DependsOn.
		if j := sort.Search(i, func(j int) bool { return steps[j].Seq > s.DependsOn }); j > 0 {
			start = max(start, commit[j-1])
		}
		if i >= n {
			start = max(start, commit[i-n]) // its worker frees up
		}
		commit[i] = start + cost
		if i > 0 {
			commit[i] = max(commit[i], commit[i-1])
		}
	}
	if len(steps) > 0 {
		res.Makespan = commit[len(steps)-1]
		res.SpeedUp = res.Serial / res.Makespan
	}
	return res
}

// CriticalPath returns the makespan with unlimited workers: the cost of the
// longest chain of dependencies (commit order included).
func CriticalPath(steps []Step) float64 {
	return Simulate(steps, len(steps)).Makespan
}

// Stats summarizes a dependency list for reports.
type Stats struct {
	Txns int
	// Parallel counts transactions that may overlap their predecessor
	// (DependsOn is older than it); the first one counts here.
	Parallel int
	// Serialized counts transactions that must wait for their immediate
	// predecessor (barriers among them).
	Serialized   int
	CriticalPath float64
	// SpeedUp maps a worker count to Simulate's speed-up bound.
	SpeedUp map[int]float64
}

// Analyze computes Stats for steps, simulating each worker count given.
func Analyze(steps []Step, workers ...int) Stats {
	st := Stats{Txns: len(steps), CriticalPath: CriticalPath(steps), SpeedUp: map[int]float64{}}
	var prev uint64
	for i, s := range steps {
		if i > 0 && s.DependsOn >= prev {
			st.Serialized++
		} else {
			st.Parallel++
		}
		prev = s.Seq
	}
	for _, n := range workers {
		st.SpeedUp[n] = Simulate(steps, n).SpeedUp
	}
	return st
}
