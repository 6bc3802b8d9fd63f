package undo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Conflicts. Before writing anything, an undo reads the binlogs after its
// range (to their end, or to --until) and finds every later transaction
// that wrote a row the range wrote: one whose row keys share a key with
// the rows of the range. The keys are the replay's write-set keys (package
// partition): one per primary and unique key value of a row, before and
// after image; those of foreign keys, which key a child row with its
// parent's key, are left out (partition.Keyer.OwnKeysOnly): a later child
// row does not change its parent row, and where undoing the parent's
// change would break the child, the target's foreign key check refuses it
// (an error naming the transaction, never a silent change; cascading
// foreign keys are refused before, see tables.go). Undoing a row a later
// transaction wrote would undo that write too, or fail on it. Where rows
// cannot be told apart, a later write counts for every row of the range it
// may concern:
//   - a table without a primary key or a unique key on NOT NULL columns:
//     any later write to it conflicts with all the range's rows of it;
//   - a later row event that cannot be keyed (images not decoded, a table
//     of another shape): all the range's rows of its table;
//   - a later DDL on a table of the range, or DROP DATABASE of its
//     database: all its rows (the table may no longer take the range's
//     row events); CREATE and ALTER DATABASE change no table;
//   - a later statement-format transaction, or DDL whose tables cannot be
//     told: every row of the range;
//   - a later delete or update of a table whose foreign keys (through a
//     chain of them, or a table referencing itself) carry it to a table of
//     the range with CASCADE, SET NULL or SET DEFAULT: all the range's
//     rows of that table (the server changed child rows without logging
//     them; tables.cascades).
//
// The scan holds the range's keys (8 bytes each, sorted) and the keys of
// the range that later transactions wrote.

// rangeKeys are the write-set keys of the rows of a range.
type rangeKeys struct {
	keys   []partition.Key
	sealed bool
}

// add adds the keys of one row.
func (rk *rangeKeys) add(keys []partition.Key) { rk.keys = append(rk.keys, keys...) }

// seal sorts the keys once all are added.
func (rk *rangeKeys) seal() {
	slices.Sort(rk.keys)
	rk.keys = slices.Compact(rk.keys)
	rk.sealed = true
}

// has reports whether k is a key of the range.
func (rk *rangeKeys) has(k partition.Key) bool {
	_, ok := slices.BinarySearch(rk.keys, k)
	return ok
}

// later is what the scan of the binlogs after the range found.
type later struct {
	// hits are the range's keys that later transactions wrote, each with
	// the first such transaction.
	hits map[partition.Key]*txn.Ref
	// tables are the range's tables later transactions wrote rows of that
	// cannot be told apart, each with the first and why.
	tables map[string]touch
	// moved are, by table of the range, the other tables that later DDL
	// named with it (EXCHANGE PARTITION, RENAME): the range's rows may
	// have gone there.
	moved map[string][]string
	// all, when set, is the first later transaction that may have written
	// any row, and why.
	all *touch
	// end is where the scan stopped; txns counts the transactions read.
	end  txn.Position
	txns int64
}

// touch is a later transaction that wrote rows that cannot be told apart.
type touch struct {
	ref *txn.Ref
	why string
}

// conflict returns the first later transaction that wrote the row of
// table ti whose keys are keys, and why when it is not by its keys; nil
// when none did.
func (l *later) conflict(ti *tableInfo, keys []partition.Key) (*txn.Ref, string) {
	var first *txn.Ref
	why := ""
	consider := func(r *txn.Ref, w string) {
		if r != nil && (first == nil || r.Seq < first.Seq) {
			first, why = r, w
		}
	}
	if l.all != nil {
		consider(l.all.ref, l.all.why)
	}
	if t, ok := l.tables[ti.name]; ok {
		consider(t.ref, t.why)
	}
	for _, k := range keys {
		consider(l.hits[k], "")
	}
	return first, why
}

// scanner reads the binlogs after the range.
type scanner struct {
	files  []string
	opts   binlog.Options
	until  txn.Position
	keys   *rangeKeys
	tables *tables
	// cascades are the tables whose writes foreign keys carry to the
	// range's tables, unlogged (tables.cascades).
	cascades map[string][]cascade
	keyer    *partition.Keyer
	logf     func(format string, args ...any)
	// check, when set, may refuse a later transaction (whole, or its
	// last piece).
	check func(t *txn.Txn) error
}

// scan reads the binlogs from where the range ends (from) to their end or
// s.until, and returns what later transactions wrote of the range.
func (s *scanner) scan(ctx context.Context, from txn.Position) (*later, error) {
	l := &later{hits: map[partition.Key]*txn.Ref{}, tables: map[string]touch{}, moved: map[string][]string{}, end: from}
	opts := s.opts
	opts.Start, opts.DecodeRows = from, true
	rd, err := binlog.NewReader(s.files, opts)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	stop := filter.New(filter.Options{Files: s.files, StopPosition: s.until})
	for {
		t, err := rd.Next(ctx)
		var trunc *binlog.TruncatedError
		switch {
		case errors.Is(err, io.EOF):
			return l, nil
		case errors.As(err, &trunc):
			s.logf("the binlogs end inside a transaction (%v): the scan for later writes stops before it", err)
			return l, nil
		case err != nil:
			return nil, fmt.Errorf("scan the binlogs after the range: %w", err)
		}
		if !s.until.IsZero() && (t.Part == 0 || t.Final) && stop.Stop(t) != "" {
			return l, nil
		}
		if s.check != nil && (t.Part == 0 || t.Final) {
			if err := s.check(t); err != nil {
				return nil, err
			}
		}
		if err := s.txn(ctx, t, l); err != nil {
			return nil, err
		}
		if t.Part == 0 || t.Final {
			l.txns++
			l.end = t.End
		}
	}
}

// txn records what the later transaction t (or piece) wrote of the range.
func (s *scanner) txn(ctx context.Context, t *txn.Txn, l *later) error {
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case txn.EventRows:
			if err := s.rows(ctx, t, e, l); err != nil {
				return err
			}
		case txn.EventQuery:
			s.query(t, e, l)
		}
	}
	return nil
}

// rows records what the later row event e wrote of the range.
func (s *scanner) rows(ctx context.Context, t *txn.Txn, e *txn.Event, l *later) error {
	name := e.Rows.Table.Schema + "." + e.Rows.Table.Table
	for _, c := range s.cascades[name] {
		if e.Rows.Op == txn.OpDelete && c.onDelete || e.Rows.Op == txn.OpUpdate && c.onUpdate {
			l.touch(c.child, t, fmt.Sprintf("it %ss rows of %s (%s at %s), which foreign key %s carries to %s without logging it",
				e.Rows.Op, name, e.TypeName, e.Pos, c.fk, c.child))
		}
	}
	ti := s.tables.byKey[name]
	switch {
	case ti == nil:
		return nil // not a table of the range: no key of its rows is the range's
	case ti.unkeyed != "":
		l.touch(name, t, "it writes "+name+", whose rows cannot be told apart ("+ti.unkeyed+")")
		return nil
	}
	keys, reason, err := s.keyer.RowKeys(ctx, e)
	if err != nil {
		return err
	}
	if reason != "" {
		l.touch(name, t, fmt.Sprintf("its rows of %s cannot be told apart (%s)", name, reason))
		return nil
	}
	for _, rk := range keys {
		for _, k := range rk {
			if _, seen := l.hits[k]; !seen && s.keys.has(k) {
				l.hits[k] = t.Ref()
			}
		}
	}
	return nil
}

// query records what the later statement e may have written of the range:
// the tables a DDL names (none for statements on users, grants, views,
// routines, or ANALYZE and the like), the range's tables in a database
// dropped (none for CREATE or ALTER DATABASE), every table for a DDL whose
// tables cannot be told (CREATE OR REPLACE DATABASE...) or a
// statement-format DML.
func (s *scanner) query(t *txn.Txn, e *txn.Event, l *later) {
	q := e.Query
	if verb, db, ok := databaseDDL(q.SQL); ok {
		// CREATE and ALTER DATABASE change no table (an undo creates
		// the binlog_replay database this way); DROP DATABASE drops
		// the tables of the range in it.
		if verb == "DROP" {
			for name, ti := range s.tables.byKey {
				if ti.def != nil && strings.EqualFold(ti.def.Schema, db) || strings.HasPrefix(name, db+".") {
					l.touch(name, t, fmt.Sprintf("it drops the database of %s (DDL at %s)", name, e.Pos))
				}
			}
		}
		return
	}
	names, ok := schema.DDLTables(q.SQL, q.Schema)
	switch {
	case !ok && schema.IsDDL(q.SQL):
		l.touchAll(t, fmt.Sprintf("it holds DDL (%s at %s) whose tables cannot be told", e.TypeName, e.Pos))
		return
	case !ok:
		l.touchAll(t, fmt.Sprintf("it holds statement-format DML (%s at %s), whose rows the binlog does not hold", e.TypeName, e.Pos))
		return
	}
	// The other tables the DDL names may now hold the range's rows (ALTER
	// TABLE ... EXCHANGE PARTITION ... WITH TABLE, RENAME TABLE a TO b):
	// the operator is told where to look (later.moved).
	var others []string
	for _, n := range names {
		if name := n.Schema + "." + n.Table; s.tables.byKey[name] == nil && !slices.Contains(others, name) {
			others = append(others, name)
		}
	}
	for _, n := range names {
		name := n.Schema + "." + n.Table
		if s.tables.byKey[name] != nil {
			l.touch(name, t, fmt.Sprintf("it changes the definition of %s (DDL at %s)", name, e.Pos))
			for _, o := range others {
				if !slices.Contains(l.moved[name], o) {
					l.moved[name] = append(l.moved[name], o)
				}
			}
		}
	}
}

// movedTo returns what Conflict.Why adds for table: the other tables later
// DDL named with it, where the range's rows may be now ("" for none).
func (l *later) movedTo(table string) string {
	if len(l.moved[table]) == 0 {
		return ""
	}
	return fmt.Sprintf("a later DDL also names %s: the range's rows may be there now", strings.Join(l.moved[table], ", "))
}

// databaseDDL returns the verb (CREATE, ALTER or DROP) and the database
// of a CREATE, ALTER or DROP DATABASE (or SCHEMA) statement; ok is false
// for other statements.
func databaseDDL(sql []byte) (verb, db string, ok bool) {
	toks := sqlscan.Tokens(sql, 8)
	if len(toks) < 3 || !toks[1].Is("DATABASE") && !toks[1].Is("SCHEMA") {
		return "", "", false
	}
	verb = toks[0].Upper()
	if verb != "CREATE" && verb != "ALTER" && verb != "DROP" {
		return "", "", false
	}
	rest := toks[2:]
	for len(rest) > 0 && (rest[0].Is("IF") || rest[0].Is("NOT") || rest[0].Is("EXISTS")) {
		rest = rest[1:]
	}
	if len(rest) == 0 || rest[0].Kind != sqlscan.Word && rest[0].Kind != sqlscan.Ident {
		return "", "", false
	}
	return verb, rest[0].Text, true
}

func (l *later) touch(name string, t *txn.Txn, why string) {
	if _, ok := l.tables[name]; !ok {
		l.tables[name] = touch{ref: t.Ref(), why: why}
	}
}

func (l *later) touchAll(t *txn.Txn, why string) {
	if l.all == nil {
		l.all = &touch{ref: t.Ref(), why: why}
	}
}

// empty reports whether no later transaction wrote anything of the range.
func (l *later) empty() bool { return len(l.hits) == 0 && len(l.tables) == 0 && l.all == nil }

// Conflict is what later transactions wrote of one table of the range.
type Conflict struct {
	// Table is "db.table"; Rows counts its rows in the range that a later
	// transaction wrote, of Total.
	Table       string `json:"table"`
	Rows, Total int64
	// First is the first later transaction that wrote one, and Why says
	// how, when it is not by the rows' keys.
	First *txn.Ref `json:"first"`
	Why   string   `json:"why,omitempty"`
	// Samples name a few of the rows by their key (values redacted unless
	// --log-values).
	Samples []string `json:"samples,omitempty"`
}

// ConflictError refuses an undo whose range has rows that later
// transactions wrote (Options.Range.OnConflict is refuse): nothing was written.
type ConflictError struct {
	Conflicts []Conflict
	// ScannedTo is where the scan of the later binlogs stopped.
	ScannedTo txn.Position
}

// Error lists the tables, their rows, and the first later transaction of
// each.
func (e *ConflictError) Error() string {
	return "nothing undone: later transactions wrote rows of the range (--on-conflict skip undoes the others):\n" +
		FormatConflicts(e.Conflicts, "  ")
}

// FormatConflicts lists conflicts, one table a line, each line starting
// with indent.
func FormatConflicts(cs []Conflict, indent string) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s%s: %d of the range's %d rows written again later, first by %s", indent, c.Table, c.Rows, c.Total, describeRef(c.First))
		if c.Why != "" {
			b.WriteString(" (" + c.Why + ")")
		}
		if len(c.Samples) > 0 {
			b.WriteString("; rows " + strings.Join(c.Samples, ", "))
			if int64(len(c.Samples)) < c.Rows {
				b.WriteString(", ...")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// describeRef names a transaction in a report.
func describeRef(r *txn.Ref) string {
	s := "the transaction at " + r.Start.String()
	if r.GTID != "" {
		s += " (GTID " + r.GTID + ")"
	}
	return s + ", committed " + r.Time.UTC().Format("2006-01-02 15:04:05 MST")
}
