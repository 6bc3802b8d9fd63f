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
}

// Add counts r.
func (t *Tally) Add(r *Result) {
	if t.Classes == nil {
		t.Classes = map[string][]uint64{}
	}
	t.Ran++
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
	classes := make([]string, 0, len(t.Classes))
	for c := range t.Classes {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool {
		a, b := len(t.Classes[classes[i]]), len(t.Classes[classes[j]])
		if a != b {
			return a > b
		}
		return classes[i] < classes[j]
	})
	for _, c := range classes {
		seeds := t.Classes[c]
		shown := seeds
		if len(shown) > 12 {
			shown = shown[:12]
		}
		fmt.Fprintf(&b, "  %4d x %s (seeds %s", len(seeds), c, strings.Trim(fmt.Sprint(shown), "[]"))
		if len(seeds) > len(shown) {
			b.WriteString(" ...")
		}
		b.WriteString(")\n")
	}
	return b.String()
}
