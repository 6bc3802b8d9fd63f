package soak

import (
	"fmt"
	"sort"
	"strings"
)

// Tally counts the results of a soak run and groups failures by class.
type Tally struct {
	Ran, Passed, Refused, Failed, Harness, Inconclusive int
	// Classes maps a failure class to the seeds that showed it.
	Classes map[string][]uint64
	// Settled counts the transactions whose outcome a run refused to
	// guess and the soak settled, by decision; SettledSeeds the seeds.
	Settled      map[string]int
	SettledSeeds []uint64
	// TempRefused are the seeds refused where temporary tables were open;
	// SplitStopped the seeds stopped after a transaction the target
	// logged in parts (its GTIDs no longer the source's).
	TempRefused, SplitStopped []uint64
	// Notes maps observations that are not failures to their seeds.
	Notes map[string][]uint64
}

// Add counts r.
func (t *Tally) Add(r *Result) {
	if t.Classes == nil {
		t.Classes = map[string][]uint64{}
	}
	t.Ran++
	if t.Settled == nil {
		t.Settled, t.Notes = map[string]int{}, map[string][]uint64{}
	}
	if r.Outcome != nil {
		for _, s := range r.Outcome.Settled {
			d := s.Kind + " " + s.Decision
			if s.Undone {
				d += " (undone first)"
			}
			t.Settled[d]++
		}
		if len(r.Outcome.Settled) > 0 {
			t.SettledSeeds = append(t.SettledSeeds, r.Seed)
		}
		if r.Outcome.TempRefused != nil && r.Status == Refused {
			t.TempRefused = append(t.TempRefused, r.Seed)
		}
		if (r.Expect.Refusal == splitRefusal || r.Expect.Refusal == pastRefusal || r.Expect.Refusal == ownRefusal) && r.Status == Refused {
			t.SplitStopped = append(t.SplitStopped, r.Seed)
		}
		seen := map[string]bool{}
		for _, n := range r.Outcome.Notes {
			n = reNumbers.ReplaceAllString(n, "N")
			if len(n) > 140 {
				n = n[:140]
			}
			if !seen[n] {
				seen[n] = true
				t.Notes[n] = append(t.Notes[n], r.Seed)
			}
		}
	}
	switch r.Status {
	case Pass:
		t.Passed++
	case Refused:
		t.Refused++
	case Fail:
		t.Failed++
		t.addClasses(r, "")
	case Inconclusive:
		t.Inconclusive++
		t.addClasses(r, "inconclusive (the anchor failed too): ")
	default:
		t.Harness++
		t.Classes["harness: "+errorText(r.Err)] = append(t.Classes["harness: "+errorText(r.Err)], r.Seed)
	}
}

// addClasses records r's failure classes, each once.
func (t *Tally) addClasses(r *Result, prefix string) {
	seen := map[string]bool{}
	for _, f := range r.Failures {
		c := prefix + f.Class
		if !seen[c] {
			seen[c] = true
			t.Classes[c] = append(t.Classes[c], r.Seed)
		}
	}
}

func errorText(err error) string {
	if err == nil {
		return "?"
	}
	s := reNumbers.ReplaceAllString(err.Error(), "N")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// String is the end-of-run summary: counts, then each failure class with
// its seeds, most frequent first.
func (t *Tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d seeds ran, %d passed, %d refused on purpose (counted as passed), %d failed, "+
		"%d inconclusive (the anchor failed), %d could not run\n",
		t.Ran, t.Passed, t.Refused, t.Failed, t.Inconclusive, t.Harness)
	writeClasses(&b, t.Classes)
	if len(t.SettledSeeds) > 0 {
		keys := make([]string, 0, len(t.Settled))
		for k := range t.Settled {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s x%d", k, t.Settled[k])
		}
		fmt.Fprintf(&b, "uncertain transactions settled with --uncertain in %d seeds: %s (seeds %s)\n",
			len(t.SettledSeeds), strings.Join(parts, ", "), seedList(t.SettledSeeds))
	}
	if len(t.TempRefused) > 0 {
		fmt.Fprintf(&b, "refused where temporary tables were open, after a kill or a restart: %d seeds (%s)\n",
			len(t.TempRefused), seedList(t.TempRefused))
	}
	if len(t.SplitStopped) > 0 {
		fmt.Fprintf(&b, "stopped where the target's GTIDs can no longer be the source's (logged in parts, or past the checkpoint): %d seeds (%s)\n",
			len(t.SplitStopped), seedList(t.SplitStopped))
	}
	if len(t.Notes) > 0 {
		b.WriteString("notes (not failures):\n")
		writeClasses(&b, t.Notes)
	}
	return b.String()
}

// writeClasses writes each class with its seeds, most frequent first.
func writeClasses(b *strings.Builder, m map[string][]uint64) {
	classes := make([]string, 0, len(m))
	for c := range m {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool {
		a, b := len(m[classes[i]]), len(m[classes[j]])
		if a != b {
			return a > b
		}
		return classes[i] < classes[j]
	})
	for _, c := range classes {
		fmt.Fprintf(b, "  %4d x %s (seeds %s)\n", len(m[c]), c, seedList(m[c]))
	}
}

// seedList shows up to 12 seeds.
func seedList(seeds []uint64) string {
	shown := seeds
	if len(shown) > 12 {
		shown = shown[:12]
	}
	s := strings.Trim(fmt.Sprint(shown), "[]")
	if len(seeds) > len(shown) {
		s += " ..."
	}
	return s
}
