package plan

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// filter decides, as the replay command does, what happens to each
// transaction read from the start position: the stop points are checked
// first (--stop-before-gtid, then --stop-datetime, then --stop-position),
// then the GTID skips (--start-gtid, --exclude-gtids), then the include
// filters (--databases, --tables) remove events from what is kept. The
// rules are those replay.Options documents; replay's own filter is not
// exported, so they are implemented again here and checked by tests.
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

// stopBefore returns why the replay would stop before t, or "".
func (f *filter) stopBefore(t *txn.Txn) string {
	o := f.opts
	switch {
	case !o.StopBeforeGTID.IsZero() && t.GTID == o.StopBeforeGTID:
		return fmt.Sprintf("--stop-before-gtid %s", o.StopBeforeGTID)
	case !o.StopDatetime.IsZero() && !t.Time.Before(o.StopDatetime):
		return fmt.Sprintf("--stop-datetime %s: committed %s", o.StopDatetime.Format(time3339), t.Time.Format(time3339))
	case !o.StopPosition.IsZero() && f.before(o.StopPosition, t.End):
		return fmt.Sprintf("--stop-position %s: it ends at %s", o.StopPosition, t.End)
	}
	return ""
}

const time3339 = "2006-01-02T15:04:05Z07:00"

// skips reports whether the GTID filters skip t.
func (f *filter) skips(t *txn.Txn) bool {
	return f.opts.StartGTIDs.Contains(t.GTID) || f.opts.ExcludeGTIDs.Contains(t.GTID)
}

// include removes from t the events the include filters do not keep, as
// the replay does; it changes nothing without --databases or --tables.
func (f *filter) include(t *txn.Txn) {
	if f.databases == nil && f.tables == nil {
		return
	}
	kept := make([]txn.Event, 0, len(t.Events))
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
