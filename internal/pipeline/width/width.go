// Package width measures how much parallelism a binlog allows as the
// pipeline dispatches it: groups handed out over the longest chain of groups
// each waiting for the one before.
package width

import "sort"

// widthWindow is about how many recent groups width keeps to look
// dependencies up; a dependency on an older group counts as one on the
// newest group no longer kept.
const widthWindow = 4096

// Meter measures how much parallelism the binlog allows, as dispatched:
// the groups handed out so far divided by the length of the longest chain
// of groups each waiting for the one before (the critical path). With
// enough workers and groups of equal cost, that is how many groups run at
// once on average; 1 means the binlog is serial.
type Meter struct {
	lasts  []uint64 // last ticket of each kept group, increasing
	depths []uint64 // its depth: the length of the longest chain it ends
	// dropped is the last ticket of the newest group no longer kept, and
	// droppedDepth its depth.
	dropped, droppedDepth uint64
	groups, chain         uint64 // groups so far, longest chain so far
}

// Add records the group whose last ticket is last and which waits for the
// ticket dependsOn (0: nothing), and returns the parallelism so far.
func (w *Meter) Add(last, dependsOn uint64) float64 {
	depth := uint64(1)
	switch {
	case dependsOn == 0:
	case dependsOn <= w.dropped:
		depth = w.droppedDepth + 1
	default:
		i := sort.Search(len(w.lasts), func(i int) bool { return w.lasts[i] >= dependsOn })
		if i < len(w.lasts) {
			depth = w.depths[i] + 1
		}
	}
	if len(w.lasts) == 2*widthWindow {
		w.dropped, w.droppedDepth = w.lasts[widthWindow-1], w.depths[widthWindow-1]
		w.lasts = append(w.lasts[:0], w.lasts[widthWindow:]...)
		w.depths = append(w.depths[:0], w.depths[widthWindow:]...)
	}
	w.lasts, w.depths = append(w.lasts, last), append(w.depths, depth)
	w.groups++
	w.chain = max(w.chain, depth)
	return float64(w.groups) / float64(w.chain)
}
