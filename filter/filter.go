// Package filter decides, in source order, what a replay does with each
// transaction: stop before it (--stop-before-gtid, --stop-datetime,
// --stop-position, checked in that order), skip it (--start-gtid,
// --exclude-gtids), or apply it with the events --databases and --tables
// keep. The replay applies these rules and plan predicts with the same code.
package filter

import (
	"fmt"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/binlog/rowedit"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Options are the start, stop and include settings of a replay.
type Options struct {
	// Files are the binlog files read, in order: positions in different
	// files compare by the files' order (by the binlog sequence number when
	// a file is not among them).
	Files []string
	// StartGTIDs are skipped (a MariaDB d-s-n: every transaction of domain
	// d up to n).
	StartGTIDs txn.GTIDSet
	// ExcludeGTIDs are skipped: a GTID set, or ranges naming exactly some
	// MariaDB transactions (see GTIDs).
	ExcludeGTIDs GTIDs
	// StopPosition stops before the first transaction that does not end at
	// or before it.
	StopPosition txn.Position
	// StopDatetime stops before the first transaction committed at or
	// after it.
	StopDatetime time.Time
	// StopBeforeGTID stops before the first transaction of its MariaDB
	// domain (MySQL source UUID) at or beyond its sequence number, as a
	// server's START SLAVE UNTIL does: the transaction with this GTID, or
	// the next one of its domain when it does not occur as such (another
	// server id after a failover, a gap).
	StopBeforeGTID txn.GTID
	// Databases and Tables ("db.table") keep only what they name; empty
	// keeps everything. A statement or DDL is kept when its default
	// database is kept (as mysqlbinlog --database does).
	Databases, Tables []string
	// FoldCase compares the names of databases and tables in lower case,
	// as a server whose lower_case_table_names is 1 or 2 does: its
	// statements may name a table in another case than its row events
	// and --tables do (TRUNCATE TABLE T1 of table t1).
	FoldCase bool
}

// Filter applies Options to transactions. It is not safe for concurrent use.
type Filter struct {
	o         Options
	fileIndex map[string]int // binlog base name -> order
	databases map[string]bool
	tables    map[string]bool
	// pastStart says, per MariaDB domain of --start-gtid, where the
	// reading passed the position (the first transaction read past it or
	// the position's own, where a source starts sending, the history
	// before the start): CheckStartOrder, StartPassed, StartHistory.
	pastStart map[uint32]string
}

// New returns a Filter for o.
func New(o Options) *Filter {
	f := &Filter{o: o, fileIndex: map[string]int{}}
	for i, name := range o.Files {
		f.fileIndex[logfile.Name(name)] = i
	}
	f.databases = set(o.Databases, o.FoldCase)
	f.tables = set(o.Tables, o.FoldCase)
	return f
}

// set returns names as a set, in lower case when fold is set; nil when
// there are none.
func set(names []string, fold bool) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, n := range names {
		if fold {
			n = strings.ToLower(n)
		}
		m[n] = true
	}
	return m
}

// name returns a database or table name as the sets hold it.
func (f *Filter) name(n string) string {
	if f.o.FoldCase {
		return strings.ToLower(n)
	}
	return n
}

// before reports whether position a comes before b in the input files, or
// in the binlog sequence when a file is not among them (reading from a
// server).
func (f *Filter) before(a, b txn.Position) bool {
	if a.File == b.File {
		return a.Offset < b.Offset
	}
	ia, okA := f.fileIndex[a.File]
	ib, okB := f.fileIndex[b.File]
	if okA && okB {
		return ia < ib
	}
	return logfile.Before(a.File, b.File)
}

// Stop returns why the replay stops before t, or "" to go on.
func (f *Filter) Stop(t *txn.Txn) string {
	o := &f.o
	switch {
	case !o.StopBeforeGTID.IsZero() && t.GTID == o.StopBeforeGTID:
		return fmt.Sprintf("stopped before GTID %s at %s (--stop-before-gtid)", t.GTID, t.Start)
	case !o.StopBeforeGTID.IsZero() && AtOrBeyond(t.GTID, o.StopBeforeGTID):
		return fmt.Sprintf("stopped before GTID %s at %s, the first of its %s at or beyond --stop-before-gtid %s",
			t.GTID, t.Start, stream(o.StopBeforeGTID), o.StopBeforeGTID)
	case !o.StopDatetime.IsZero() && !t.Time.Before(o.StopDatetime):
		return fmt.Sprintf("stopped before transaction #%d at %s committed %s (--stop-datetime %s)",
			t.Seq, t.Start, t.Time.UTC().Format("2006-01-02 15:04:05"), o.StopDatetime.UTC().Format("2006-01-02 15:04:05 MST"))
	case !o.StopPosition.IsZero() && f.before(o.StopPosition, t.End):
		return fmt.Sprintf("stopped before transaction #%d at %s, which ends at %s, after --stop-position %s",
			t.Seq, t.Start, t.End, o.StopPosition)
	}
	return ""
}

// StopAt is Stop for a piece of a transaction read in pieces
// (txn.Txn.Part): the GTID stop is decided on the first piece, the
// others, which need the transaction's end and commit time, on the last.
func (f *Filter) StopAt(t *txn.Txn) string {
	switch {
	case t.Final:
		return f.Stop(t)
	case t.Part == 1 && !f.o.StopBeforeGTID.IsZero():
		g := f.o
		g.StopDatetime, g.StopPosition = time.Time{}, txn.Position{}
		return (&Filter{o: g, fileIndex: f.fileIndex}).Stop(t)
	}
	return ""
}

// Skips reports whether the GTID filters pass over t.
func (f *Filter) Skips(t *txn.Txn) bool {
	return f.o.StartGTIDs.Contains(t.GTID) || f.o.ExcludeGTIDs.Contains(t.GTID)
}

// Include removes from t the events the include filters do not keep. A
// transaction left empty is still applied, so that the checkpoint moves past
// it; a statement or DDL transaction left empty no longer runs alone. It
// fails only where a row event must be edited (see IncludeWith) and
// cannot be.
func (f *Filter) Include(t *txn.Txn) error {
	if f.databases == nil && f.tables == nil {
		return nil
	}
	return f.IncludeWith(t, func(e *txn.Event) bool { return f.keepSchema(e.Query.Schema) })
}

// IncludeWith is Include with keepQuery deciding which statement events
// stay, instead of their default database (--rewrite-db keeps statements
// by the databases they name). Table maps and row events are kept by
// their table. Statements that control the transaction (SAVEPOINT,
// ROLLBACK [TO SAVEPOINT], RELEASE SAVEPOINT, BEGIN, COMMIT) always stay:
// they belong to no database, and without a ROLLBACK TO SAVEPOINT the
// row events before it would be applied, though the source undid them.
//
// A statement's row events end with one flagged STMT_END_F: when that one
// is left out (a trigger's write to a table left out, say), the last one
// kept is flagged in its place, or the server would keep the statement's
// table maps open into the next statement (soak seed 52070: the next
// statement's rows were applied wrong, in silence); a statement with no
// row event kept loses its table maps too.
func (f *Filter) IncludeWith(t *txn.Txn, keepQuery func(e *txn.Event) bool) error {
	kept := t.Events[:0]
	keepTable := map[uint64]bool{}
	start, last := 0, -1 // the statement under way: where it starts in kept, its last row event kept
	var ends []int       // row events kept that must end their statement
	first := true        // the statement under way is t's first (t.MidStatement: begun in the piece before)
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case txn.EventTableMap:
			keepTable[e.TableMap.ID] = f.KeepsTable(e.TableMap.Schema, e.TableMap.Table)
			if keepTable[e.TableMap.ID] {
				kept = append(kept, *e)
			}
		case txn.EventRows:
			keep := e.Rows == nil || e.Rows.Table == nil || keepTable[e.Rows.Table.ID]
			if keep {
				kept, last = append(kept, *e), len(kept)
			}
			if e.Rows == nil || e.Rows.Flags&txn.RowsFlagStmtEnd == 0 {
				continue
			}
			switch {
			case last < 0 && first && t.MidStatement && hasTableMap(kept[start:]):
				// Its rows kept were in the piece before, handed out.
				return fmt.Errorf("transaction at %s, piece %d (a transaction too large to hold whole): a statement begun in the "+
					"piece before ends here with no row event the filters keep, and the last one they kept, in that piece, "+
					"cannot be flagged as its end now; give the replay more memory (--memory) so that it holds the transaction "+
					"whole, or keep the tables this statement writes", t.Start, t.Part)
			case last < 0:
				kept = withoutTableMaps(kept, start)
			case !keep:
				ends = append(ends, last)
			}
			start, last, first = len(kept), -1, false
		case txn.EventQuery:
			if controlsTransaction(e.Query.SQL) || keepQuery(e) {
				kept = append(kept, *e)
			}
			if last < 0 {
				start = len(kept)
			}
		default:
			kept = append(kept, *e)
		}
	}
	t.Events = kept
	if t.Kind != txn.KindRows && len(kept) == 0 {
		t.Kind = txn.KindRows
	}
	if len(ends) == 0 {
		return nil
	}
	if t.Format == nil {
		return fmt.Errorf("transaction at %s: a row event that ends its statement is left out, and the transaction has no format description to flag the one before it with", t.Start)
	}
	ed, err := rowedit.NewEditor(t.Format)
	if err != nil {
		return err
	}
	for _, i := range ends {
		e, err := ed.SetStmtEnd(&kept[i])
		if err != nil {
			return fmt.Errorf("end the statement at the last row event kept: %w", err)
		}
		kept[i] = *e
	}
	return nil
}

// hasTableMap reports whether events hold a table map.
func hasTableMap(events []txn.Event) bool {
	for i := range events {
		if events[i].Kind == txn.EventTableMap {
			return true
		}
	}
	return false
}

// withoutTableMaps returns events with the table maps from index from on
// removed: those of a statement none of whose row events is kept.
func withoutTableMaps(events []txn.Event, from int) []txn.Event {
	out := events[:from]
	for _, e := range events[from:] {
		if e.Kind != txn.EventTableMap {
			out = append(out, e)
		}
	}
	return out
}

// Databases returns the databases of --databases, as given.
func (f *Filter) Databases() []string { return append([]string(nil), f.o.Databases...) }

// Tables returns the tables of --tables ("db.table"), as given.
func (f *Filter) Tables() []string { return append([]string(nil), f.o.Tables...) }

// Filtering reports whether --databases or --tables is set.
func (f *Filter) Filtering() bool { return f.databases != nil || f.tables != nil }

// FiltersTables reports whether --tables is set.
func (f *Filter) FiltersTables() bool { return f.tables != nil }

// KeepsSchema reports whether Include keeps the statements whose default
// database is db: every database when no include filter is set, else
// those of --databases, or those holding a table of --tables.
func (f *Filter) KeepsSchema(db string) bool { return !f.Filtering() || f.keepSchema(db) }

// KeepsTable reports whether Include keeps the row events of db.table.
func (f *Filter) KeepsTable(db, table string) bool { return !f.Filtering() || f.keepTable(db, table) }

func (f *Filter) keepSchema(db string) bool {
	db = f.name(db)
	if f.databases == nil {
		return f.tables == nil || f.tablesInSchema(db)
	}
	return f.databases[db]
}

func (f *Filter) tablesInSchema(db string) bool {
	for t := range f.tables {
		if strings.HasPrefix(t, db+".") {
			return true
		}
	}
	return false
}

func (f *Filter) keepTable(db, table string) bool {
	db, table = f.name(db), f.name(table)
	if f.tables != nil {
		return f.tables[db+"."+table]
	}
	return f.databases[db]
}

// AtOrBeyond reports whether g is at or beyond stop in stop's stream: the
// same MariaDB domain (whatever the server id) or the same MySQL source
// UUID (and tag), with a sequence number at least stop's.
func AtOrBeyond(g, stop txn.GTID) bool {
	if g.IsZero() || g.Flavor != stop.Flavor || g.Seq < stop.Seq {
		return false
	}
	if g.Flavor == txn.FlavorMariaDB {
		return g.Domain == stop.Domain
	}
	return g.Source == stop.Source
}

// stream names the GTID stream of g: "domain 0" or "source UUID".
func stream(g txn.GTID) string {
	if g.Flavor == txn.FlavorMariaDB {
		return fmt.Sprintf("domain %d", g.Domain)
	}
	return "source " + g.Source
}

// controlsTransaction reports whether sql is SAVEPOINT, ROLLBACK (TO
// SAVEPOINT or whole), RELEASE SAVEPOINT, BEGIN [WORK], START TRANSACTION
// or COMMIT.
func controlsTransaction(sql []byte) bool {
	toks := sqlscan.Tokens(sql, 2)
	if len(toks) == 0 {
		return false
	}
	switch t := toks[0]; {
	case t.Is("SAVEPOINT"), t.Is("ROLLBACK"), t.Is("COMMIT"):
		return true
	case t.Is("BEGIN"): // not BEGIN NOT ATOMIC, a compound statement
		return len(toks) == 1 || toks[1].Is("WORK")
	case t.Is("RELEASE"), t.Is("START"):
		return len(toks) > 1 && (toks[1].Is("SAVEPOINT") || toks[1].Is("TRANSACTION"))
	}
	return false
}
