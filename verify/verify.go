// Package verify compares the data of two MySQL/MariaDB servers table by
// table, without loading tables into memory.
//
// Method (after pt-table-checksum): for each table both schemas are read
// from information_schema and compared (columns with position, type,
// nullability, collation and generation expression; table collation; every
// index). When they match, the table is walked along its primary key (or
// first NOT NULL unique key) in chunks of Options.ChunkSize rows whose
// bounds are read from the reference; on both servers each chunk yields
// COUNT(*), BIT_XOR and SUM of a per-row CRC32 of all stored columns. A
// differing chunk is then diffed row by row (key and row CRC from both
// sides, bounded by the chunk) to name sample rows.
//
// Limits: the row hash is CRC32, so two different rows collide with
// probability about 2^-32 (any change of up to 32 consecutive bits is always
// caught); -0 and 0 in FLOAT/DOUBLE columns compare equal; VIRTUAL generated
// and system-versioning period columns are not hashed; views, sequences and
// history rows of system-versioned tables are not compared; a table whose
// schema differs is reported as SchemaDiffers without a data comparison.
// Tables without a usable key are compared whole: COUNT(*), BIT_XOR and SUM
// of the row CRC32s, which is order independent and counts duplicate rows
// (BIT_XOR alone cancels pairs; SUM does not), but names no sample rows.
// Both servers should be quiescent: chunks are read at different moments.
package verify

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultChunkSize is the number of rows per chunk when Options.ChunkSize is 0.
const DefaultChunkSize = 10000

// DefaultSampleRows is the number of differing rows named per table when
// Options.SampleRows is 0.
const DefaultSampleRows = 10

// Options selects what Compare and Checksum look at.
type Options struct {
	// Databases to compare; empty: every database on either server except
	// mysql, information_schema, performance_schema, sys and binlog_replay.
	Databases []string
	// Tables, as "db.table", restricts the comparison to these tables.
	Tables []string
	// TargetNames maps a database of the reference to its name on the
	// target, where they differ (a replay with --rewrite-db): the
	// reference's database d is compared with the target's TargetNames[d].
	// Databases, Tables and the report name the reference's databases.
	// It needs Databases or Tables.
	TargetNames map[string]string
	// ChunkSize is the number of rows per chunk (default DefaultChunkSize).
	ChunkSize int
	// SampleRows is the number of differing rows named per table
	// (default DefaultSampleRows; negative: none).
	SampleRows int
	// HideValues replaces the key values in the report and in errors
	// (chunk bounds, sample rows) by ?, for reports that are printed or
	// logged where data values must not appear; names and counts remain.
	HideValues bool
	// Progress, if set, is called after each chunk with the number of
	// reference rows of the table compared so far.
	Progress func(db, table string, rowsDone int64)
	// TablesOnly leaves out the databases' stored objects (routines,
	// triggers, views, events), which are compared when whole databases
	// are (no Tables).
	TablesOnly bool
}

func (o Options) chunkSize() int {
	if o.ChunkSize > 0 {
		return o.ChunkSize
	}
	return DefaultChunkSize
}

func (o Options) sampleRows() int {
	switch {
	case o.SampleRows < 0:
		return 0
	case o.SampleRows == 0:
		return DefaultSampleRows
	}
	return o.SampleRows
}

// Status is the outcome of comparing one table.
type Status int

// The outcomes of comparing a table.
const (
	Equal              Status = iota // same schema and same data
	MissingInTarget                  // the table exists only on the reference
	MissingInReference               // the table exists only on the target
	SchemaDiffers                    // columns, collation or indexes differ; data not compared
	DataDiffers                      // same schema, different rows
)

var statusNames = [...]string{"equal", "missing_in_target", "missing_in_reference", "schema_differs", "data_differs"}

// String returns the status as a snake_case word, e.g. "data_differs".
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return statusNames[s]
}

// MarshalText renders the status as String does, for JSON reports.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Report is the result of Compare.
type Report struct {
	// Tables holds one entry per compared table, sorted by schema and name.
	Tables []TableReport `json:"tables"`
}

// TableReport is the result of comparing one table.
type TableReport struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// TargetSchema is the table's database on the target when it differs
	// from Schema (Options.TargetNames).
	TargetSchema string `json:"target_schema,omitempty"`
	Status       Status `json:"status"`
	// RowsTarget and RowsReference are the rows counted on each side; 0
	// when the data was not compared.
	RowsTarget    int64 `json:"rows_target"`
	RowsReference int64 `json:"rows_reference"`
	// Key is the key the table was walked by ("" for a whole-table check).
	Key string `json:"key,omitempty"`
	// Chunks are the chunks whose checksums differ.
	Chunks []ChunkDiff `json:"chunks,omitempty"`
	// SampleRows are some of the differing rows, from the first differing
	// chunks, at most Options.SampleRows.
	SampleRows []RowDiff `json:"sample_rows,omitempty"`
	// Detail explains the status: schema differences, or how the data was
	// compared.
	Detail string `json:"detail,omitempty"`
}

// ChunkDiff is one key range whose rows differ.
type ChunkDiff struct {
	// Lower (exclusive) and Upper (inclusive) bound the range, rendered as
	// "a=1, b=\"x\""; empty means open.
	Lower string `json:"lower,omitempty"`
	Upper string `json:"upper,omitempty"`
	// RowsTarget and RowsReference are the rows in the range on each side.
	RowsTarget    int64 `json:"rows_target"`
	RowsReference int64 `json:"rows_reference"`
	// Diffed tells whether the range was diffed row by row; only then are
	// Missing, Extra and Changed set.
	Diffed  bool  `json:"diffed"`
	Missing int64 `json:"missing_in_target,omitempty"`
	Extra   int64 `json:"extra_in_target,omitempty"`
	Changed int64 `json:"changed,omitempty"`
}

// RowDiffKind says how one row differs.
type RowDiffKind string

// The ways a row can differ.
const (
	RowMissing RowDiffKind = "missing_in_target" // on the reference only
	RowExtra   RowDiffKind = "extra_in_target"   // on the target only
	RowChanged RowDiffKind = "changed"           // same key, other values
)

// RowDiff names one differing row by its key.
type RowDiff struct {
	Kind RowDiffKind `json:"kind"`
	Key  string      `json:"key"`
}

// Equal reports whether every compared table is Equal.
func (r *Report) Equal() bool {
	for _, t := range r.Tables {
		if t.Status != Equal {
			return false
		}
	}
	return true
}

// Differences returns the tables that are not Equal.
func (r *Report) Differences() []TableReport {
	var out []TableReport
	for _, t := range r.Tables {
		if t.Status != Equal {
			out = append(out, t)
		}
	}
	return out
}

// maxChunksShown bounds the chunks String lists per table.
const maxChunksShown = 10

// String returns a human readable summary: a count line, then every table
// that differs with its chunks (up to 10) and sample rows.
func (r *Report) String() string {
	var b strings.Builder
	diffs := r.Differences()
	if len(diffs) == 0 {
		fmt.Fprintf(&b, "%d tables compared, all equal\n", len(r.Tables))
		return b.String()
	}
	fmt.Fprintf(&b, "%d tables compared, %d differ\n", len(r.Tables), len(diffs))
	for _, t := range diffs {
		fmt.Fprintf(&b, "%s.%s", quoteIdent(t.Schema), quoteIdent(t.Table))
		if t.TargetSchema != "" {
			fmt.Fprintf(&b, " (on the target %s.%s)", quoteIdent(t.TargetSchema), quoteIdent(t.Table))
		}
		fmt.Fprintf(&b, ": %s", strings.ReplaceAll(t.Status.String(), "_", " "))
		if t.Status == DataDiffers {
			fmt.Fprintf(&b, " (rows: target %d, reference %d)", t.RowsTarget, t.RowsReference)
		}
		b.WriteString("\n")
		if t.Detail != "" {
			for _, line := range strings.Split(t.Detail, "\n") {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
		for i, c := range t.Chunks {
			if i == maxChunksShown {
				fmt.Fprintf(&b, "  ... and %d more differing chunks\n", len(t.Chunks)-i)
				break
			}
			fmt.Fprintf(&b, "  chunk %s: rows target %d, reference %d", c.describeRange(), c.RowsTarget, c.RowsReference)
			if c.Diffed {
				fmt.Fprintf(&b, "; %d missing in target, %d extra in target, %d changed", c.Missing, c.Extra, c.Changed)
			}
			b.WriteString("\n")
		}
		for _, s := range t.SampleRows {
			fmt.Fprintf(&b, "  row %s: %s\n", s.Key, strings.ReplaceAll(string(s.Kind), "_", " "))
		}
	}
	return b.String()
}

func (c ChunkDiff) describeRange() string {
	lo, hi := "-inf", "+inf"
	if c.Lower != "" {
		lo = c.Lower
	}
	if c.Upper != "" {
		hi = c.Upper
	}
	return "(" + lo + " .. " + hi + "]"
}

// Compare compares the data of target against reference. It holds one
// connection of each *sql.DB while it runs, with the session time_zone set
// to +00:00 and sql_mode empty (restored, or the connection discarded,
// before returning). It returns an error only when it could not compare
// (connection, query, cancelled ctx, a table of opts.Tables on neither
// server); differences are in the Report.
func Compare(ctx context.Context, target, reference *sql.DB, opts Options) (*Report, error) {
	if len(opts.TargetNames) > 0 && len(opts.Databases) == 0 && len(opts.Tables) == 0 {
		return nil, fmt.Errorf("compare databases under other names on the target (%s): name the databases or tables to compare",
			describeNames(opts.TargetNames))
	}
	tconn, err := openSession(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("open target session: %w", err)
	}
	defer tconn.close()
	rconn, err := openSession(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("open reference session: %w", err)
	}
	defer rconn.close()

	c := &comparer{target: tconn.conn, ref: rconn.conn, opts: opts}
	dbs, err := databases(ctx, opts, tconn.conn, rconn.conn)
	if err != nil {
		return nil, err
	}
	report := &Report{}
	seen := make(map[string]bool)
	for _, db := range dbs {
		tables, err := c.compareDatabase(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, t := range tables {
			seen[t.Schema+"."+t.Table] = true
		}
		report.Tables = append(report.Tables, tables...)
	}
	for _, name := range opts.Tables {
		if !seen[name] {
			return nil, fmt.Errorf("compare table %s: not found on either server", name)
		}
	}
	return report, nil
}

// databases returns the databases to look at: opts.Databases, else those
// named in opts.Tables, else every non-system database on either server.
func databases(ctx context.Context, opts Options, qs ...querier) ([]string, error) {
	set := make(map[string]bool)
	switch {
	case len(opts.Databases) > 0:
		for _, db := range opts.Databases {
			set[db] = true
		}
	case len(opts.Tables) > 0:
		for _, t := range opts.Tables {
			db, _, ok := strings.Cut(t, ".")
			if !ok {
				return nil, fmt.Errorf("parse table %q: want db.table", t)
			}
			set[db] = true
		}
	default:
		for _, q := range qs {
			dbs, err := listDatabases(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, db := range dbs {
				set[db] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for db := range set {
		out = append(out, db)
	}
	sort.Strings(out)
	return out, nil
}

// targetDB returns the name on the target of the reference's database db.
func (o Options) targetDB(db string) string {
	if name, ok := o.TargetNames[db]; ok {
		return name
	}
	return db
}

// describeNames lists TargetNames as "ref=target", sorted.
func describeNames(names map[string]string) string {
	parts := make([]string, 0, len(names))
	for ref, tgt := range names {
		parts = append(parts, ref+"="+tgt)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// wanted reports whether opts selects table db.name.
func (o Options) wanted(db, name string) bool {
	if len(o.Tables) == 0 {
		return true
	}
	for _, t := range o.Tables {
		if t == db+"."+name {
			return true
		}
	}
	return false
}

// comparer holds the two sessions of one Compare call.
type comparer struct {
	target, ref querier
	opts        Options
}

// compareDatabase compares every selected table of database db.
func (c *comparer) compareDatabase(ctx context.Context, db string) ([]TableReport, error) {
	var tschemas, rschemas map[string]*tableSchema
	g, gctx := errgroup.WithContext(ctx)
	tdb := c.opts.targetDB(db)
	g.Go(func() (err error) { tschemas, err = loadDatabase(gctx, c.target, tdb); return err })
	g.Go(func() (err error) { rschemas, err = loadDatabase(gctx, c.ref, db); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	names := make(map[string]bool)
	for n := range tschemas {
		names[n] = true
	}
	for n := range rschemas {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		if c.opts.wanted(db, n) {
			sorted = append(sorted, n)
		}
	}
	sort.Strings(sorted)

	var out []TableReport
	for _, name := range sorted {
		tr := TableReport{Schema: db, Table: name}
		if tdb != db {
			tr.TargetSchema = tdb
		}
		ts, rs := tschemas[name], rschemas[name]
		switch {
		case ts == nil:
			tr.Status = MissingInTarget
		case rs == nil:
			tr.Status = MissingInReference
		default:
			if diffs := schemaDiff(ts, rs); len(diffs) > 0 {
				tr.Status = SchemaDiffers
				tr.Detail = strings.Join(diffs, "\n")
			} else if err := c.compareData(ctx, rs, tdb, &tr); err != nil {
				return nil, err
			}
		}
		out = append(out, tr)
	}
	if len(c.opts.Tables) == 0 && !c.opts.TablesOnly {
		tr, err := c.compareObjects(ctx, db)
		if err != nil {
			return nil, err
		}
		if tr != nil {
			out = append(out, *tr)
		}
	}
	return out, nil
}

// session is a connection with the settings the hash expressions need.
type session struct {
	conn     *sql.Conn
	tz, mode string
}

// openSession takes a connection from db and sets time_zone (TIMESTAMP
// values print in UTC) and sql_mode (no PAD_CHAR_TO_FULL_LENGTH, no
// ANSI_QUOTES) so both servers render values alike.
func openSession(ctx context.Context, db *sql.DB) (*session, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{conn: conn}
	err = conn.QueryRowContext(ctx, "SELECT @@session.time_zone, @@session.sql_mode").Scan(&s.tz, &s.mode)
	if err == nil {
		_, err = conn.ExecContext(ctx, "SET SESSION time_zone = '+00:00', sql_mode = ''")
	}
	if err != nil {
		s.discard()
		return nil, fmt.Errorf("set session: %w", err)
	}
	return s, nil
}

// close restores the session settings and returns the connection to its
// pool, or discards it when they cannot be restored.
func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.conn.ExecContext(ctx, "SET SESSION time_zone = ?, sql_mode = ?", s.tz, s.mode); err != nil {
		s.discard()
		return
	}
	s.conn.Close()
}

// discard closes the connection instead of returning it to the pool:
// database/sql drops a connection whose Raw callback returns ErrBadConn.
func (s *session) discard() {
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	s.conn.Close()
}
