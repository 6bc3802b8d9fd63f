package replay

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// filter applies the start, stop and include options to the transactions
// in source order.
type filter struct {
	opts      *Options
	fileIndex map[string]int // binlog base name -> order
	databases map[string]bool
	tables    map[string]bool
}

func newFilter(o *Options) *filter {
	f := &filter{opts: o, fileIndex: map[string]int{}}
	for i, name := range o.Files {
		f.fileIndex[filepath.Base(name)] = i
	}
	if len(o.Databases) > 0 {
		f.databases = map[string]bool{}
		for _, d := range o.Databases {
			f.databases[d] = true
		}
	}
	if len(o.Tables) > 0 {
		f.tables = map[string]bool{}
		for _, t := range o.Tables {
			f.tables[t] = true
		}
	}
	return f
}

// before reports whether position a comes before b in the input files.
func (f *filter) before(a, b txn.Position) bool {
	ia, ib := f.fileIndex[a.File], f.fileIndex[b.File]
	if ia != ib {
		return ia < ib
	}
	return a.Offset < b.Offset
}

// apply decides what happens to t: keep it (possibly with events removed by
// the include filters), skip it, or stop before it (stop is the reason).
func (f *filter) apply(t *txn.Txn) (keep bool, stop string) {
	o := f.opts
	switch {
	case !o.StopBeforeGTID.IsZero() && t.GTID == o.StopBeforeGTID:
		return false, fmt.Sprintf("stopped before GTID %s at %s (--stop-before-gtid)", t.GTID, t.Start)
	case !o.StopDatetime.IsZero() && !t.Time.Before(o.StopDatetime):
		return false, fmt.Sprintf("stopped before transaction #%d at %s committed %s (--stop-datetime %s)",
			t.Seq, t.Start, t.Time.UTC().Format("2006-01-02 15:04:05"), o.StopDatetime.UTC().Format("2006-01-02 15:04:05 MST"))
	case !o.StopPosition.IsZero() && f.before(o.StopPosition, t.End):
		return false, fmt.Sprintf("stopped before transaction #%d at %s, which ends at %s, after --stop-position %s",
			t.Seq, t.Start, t.End, o.StopPosition)
	case o.StartGTIDs.Contains(t.GTID) || o.ExcludeGTIDs.Contains(t.GTID):
		return false, ""
	}
	if f.databases != nil || f.tables != nil {
		f.include(t)
	}
	return true, ""
}

// include removes from t the events the include filters do not keep. A
// transaction left empty is still applied, so that the checkpoint moves
// past it.
func (f *filter) include(t *txn.Txn) {
	kept := t.Events[:0]
	keepTable := map[uint64]bool{}
	for _, e := range t.Events {
		switch e.Kind {
		case txn.EventTableMap:
			keepTable[e.TableMap.ID] = f.keepTable(e.TableMap.Schema, e.TableMap.Table)
			if !keepTable[e.TableMap.ID] {
				continue
			}
		case txn.EventRows:
			if e.Rows != nil && e.Rows.Table != nil && !keepTable[e.Rows.Table.ID] {
				continue
			}
		case txn.EventQuery:
			if !f.keepSchema(e.Query.Schema) {
				continue
			}
		}
		kept = append(kept, e)
	}
	t.Events = kept
	if t.Kind != txn.KindRows && len(kept) == 0 {
		t.Kind = txn.KindRows // nothing left to run alone
	}
}

func (f *filter) keepSchema(db string) bool {
	if f.databases == nil {
		return f.tables == nil || f.tablesInSchema(db)
	}
	return f.databases[db]
}

func (f *filter) tablesInSchema(db string) bool {
	for t := range f.tables {
		if strings.HasPrefix(t, db+".") {
			return true
		}
	}
	return false
}

func (f *filter) keepTable(db, table string) bool {
	if f.tables != nil {
		return f.tables[db+"."+table]
	}
	return f.databases[db]
}
