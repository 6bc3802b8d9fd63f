package replay

import (
	"reflect"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/pipeline"
)

// TestMergeSummariesAddsEveryCount: the summary of a replay that
// reconnected adds up every count of its runs, each counter field
// (found by reflection, so a counter added later is checked too) and the
// per-reason and per-event-type counts.
func TestMergeSummariesAddsEveryCount(t *testing.T) {
	a, b := &Summary{}, &Summary{}
	setCounters(reflect.ValueOf(a).Elem(), 1)
	setCounters(reflect.ValueOf(b).Elem(), 2)
	a.BarrierReasons = map[string]uint64{"DDL": 1, "no key": 4}
	b.BarrierReasons = map[string]uint64{"DDL": 2}
	a.SkippedEvents = map[string]uint64{"IGNORABLE": 1}
	b.base = a.Applied // b resumed where a stopped
	m := mergeSummaries(a, b)
	checkCounters(t, reflect.ValueOf(m).Elem(), "Summary", 3)
	if want := map[string]uint64{"DDL": 3, "no key": 4}; !reflect.DeepEqual(m.BarrierReasons, want) {
		t.Errorf("BarrierReasons %v, want %v", m.BarrierReasons, want)
	}
	if want := map[string]uint64{"IGNORABLE": 1}; !reflect.DeepEqual(m.SkippedEvents, want) {
		t.Errorf("SkippedEvents %v, want %v", m.SkippedEvents, want)
	}
	if a.BarrierReasons["DDL"] != 1 || b.BarrierReasons["DDL"] != 2 {
		t.Errorf("merging changed its inputs' maps: %v, %v", a.BarrierReasons, b.BarrierReasons)
	}
}

// additive reports whether a counter field of a Summary adds up across
// runs: BytesTotal is the input's size, the same for every run.
func additive(name string) bool { return name != "BytesTotal" }

// setCounters sets every exported uint64 and int64 field of v (a struct,
// its embedded structs included) to n.
func setCounters(v reflect.Value, n int) {
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		switch {
		case !sf.IsExported():
		case sf.Anonymous && f.Kind() == reflect.Struct:
			setCounters(f, n)
		case f.Kind() == reflect.Uint64:
			f.SetUint(uint64(n))
		case f.Kind() == reflect.Int64 && f.Type() == reflect.TypeOf(int64(0)):
			f.SetInt(int64(n))
		}
	}
}

// checkCounters fails for each counter field of v that is not want.
func checkCounters(t *testing.T, v reflect.Value, path string, want int) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		name := path + "." + sf.Name
		switch {
		case !sf.IsExported() || !additive(sf.Name):
		case sf.Anonymous && f.Kind() == reflect.Struct:
			checkCounters(t, f, name, want)
		case f.Kind() == reflect.Uint64 && f.Uint() != uint64(want):
			t.Errorf("%s = %d, want %d (the runs' counts added)", name, f.Uint(), want)
		case f.Kind() == reflect.Int64 && f.Type() == reflect.TypeOf(int64(0)) && f.Int() != int64(want):
			t.Errorf("%s = %d, want %d (the runs' counts added)", name, f.Int(), want)
		}
	}
}

// TestMergeSummariesCountsWhatTheCheckpointHolds: a run cut off counts
// what it saw committed; the run that resumed started from a checkpoint
// holding more (the group whose commit was cut, and one chained after it
// that committed on the server while the first run ended, its answer never
// read). The merged summary counts every transaction the checkpoint
// holds, once.
func TestMergeSummariesCountsWhatTheCheckpointHolds(t *testing.T) {
	run := func(base, applied uint64) *Summary {
		s := &Summary{base: base}
		s.Applied = applied
		return s
	}
	a := run(10, 48)
	a.uncertain = &pipeline.UncertainGroup{Txns: 16}
	if m := mergeSummaries(a, run(10+48+16+16, 320)); m.Applied != 48+16+16+320 {
		t.Errorf("applied %d, want %d", m.Applied, 48+16+16+320)
	}
	// Resumed where the first run's count says: nothing added.
	if m := mergeSummaries(run(10, 48), run(58, 5)); m.Applied != 53 {
		t.Errorf("applied %d, want 53", m.Applied)
	}
}
