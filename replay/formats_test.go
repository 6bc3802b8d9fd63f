package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/klauspost/compress/zstd"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// formatScenario is replaytest.New with extra mariadbd arguments for the
// source: it starts the source, runs setup, snapshots the base, runs work
// and flushes the binlogs.
func formatScenario(t *testing.T, format string, args []string, setup, work func(context.Context, *sql.DB) error) *replaytest.Scenario {
	t.Helper()
	ctx := context.Background()
	src := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format, Args: args})
	sc := &replaytest.Scenario{Source: src, Base: filepath.Join(t.TempDir(), "base")}
	db := openServer(t, src)
	if err := setup(ctx, db); err != nil {
		t.Fatalf("setup: %v", err)
	}
	db.Close()
	if err := src.Snapshot(ctx, sc.Base); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	sc.SourceDB = openServer(t, src)
	file, pos, err := reference.BinlogPosition(ctx, sc.SourceDB)
	if err != nil {
		t.Fatal(err)
	}
	sc.Start = txn.Position{File: file, Offset: pos}
	if err := work(ctx, sc.SourceDB); err != nil {
		t.Fatalf("workload: %v", err)
	}
	if _, err := sc.SourceDB.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		t.Fatalf("flush binary logs: %v", err)
	}
	if sc.Files, err = src.BinlogFiles(); err != nil {
		t.Fatalf("binlog files: %v", err)
	}
	return sc
}

// formatProfiles are the workload profiles whose binlogs the row image,
// compression and metadata options change most: partial updates, BLOB and
// TEXT columns, generated and invisible columns, tables without a primary
// key, unique keys moving between rows, deletes.
var formatProfiles = []workload.Profile{workload.Types, workload.UniqueChurn, workload.NoPK, workload.OLTP}

func formatWorkloadOptions(p workload.Profile) workload.Options {
	return workload.Options{Profile: p, Seed: 7, Scale: 50, Txns: 150, Format: "ROW"}
}

// fmtSetup creates the hand-written tables: BLOB and TEXT columns, STORED
// and VIRTUAL generated columns (one indexed), a table with a primary key,
// one with no key at all holding duplicate rows, and one whose only key is
// a NOT NULL unique key.
func fmtSetup(ctx context.Context, db *sql.DB) error {
	stmts := []string{
		"CREATE DATABASE fmt",
		`CREATE TABLE fmt.docs (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40), body TEXT, img BLOB, big LONGBLOB,
			a2 INT AS (a * 2) STORED, blen INT AS (LENGTH(body)) VIRTUAL, KEY k_a2 (a2), KEY k_blen (blen)) ENGINE=InnoDB`,
		"CREATE TABLE fmt.heap (a INT, b VARCHAR(20), body TEXT, img BLOB, n INT AS (a + 1) VIRTUAL) ENGINE=InnoDB",
		`CREATE TABLE fmt.uk (u INT NOT NULL, body MEDIUMTEXT, v INT, s VARCHAR(10) AS (CONCAT('u', u)) STORED,
			UNIQUE KEY uk_u (u)) ENGINE=InnoDB`,
	}
	for i := 1; i <= 30; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO fmt.docs (id, a, b, body, img, big) VALUES "+
			"(%d, %d, 'b%d', REPEAT('text%d ', 50), UNHEX(REPEAT('ab00', %d)), REPEAT('z', 20000))", i, i, i, i, i))
	}
	for a := 0; a < 10; a++ {
		for range 2 { // identical rows
			stmts = append(stmts, fmt.Sprintf("INSERT INTO fmt.heap (a, b, body, img) VALUES (%d, 'h%d', REPEAT('h', %d), X'00ff')", a, a, a*100))
		}
	}
	for u := 1; u <= 20; u++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO fmt.uk (u, body, v) VALUES (%d, REPEAT('m', %d), %d)", u, 1000+u, u))
	}
	return replaytest.ExecAll(ctx, db, stmts...)
}

// fmtWork changes some columns only (a plain one, a TEXT, a BLOB, one with
// a generated column depending on it), deletes and inserts, on all three
// hand-written tables, alone and in one transaction; then DDL, a
// statement-format update and a table created during the workload.
func fmtWork(ctx context.Context, db *sql.DB) error {
	return replaytest.ExecAll(ctx, db,
		"UPDATE fmt.docs SET a = a + 1 WHERE id % 3 = 0",
		"UPDATE fmt.docs SET body = CONCAT(body, '!') WHERE id IN (2, 5, 8)",
		"UPDATE fmt.docs SET img = NULL WHERE id = 7",
		"UPDATE fmt.docs SET big = REPEAT('y', 30000) WHERE id = 9",
		"UPDATE fmt.docs SET b = 'z' WHERE id BETWEEN 10 AND 20",
		"DELETE FROM fmt.docs WHERE id IN (3, 4)",
		"INSERT INTO fmt.docs (id, a, b, body) VALUES (100, 1, NULL, 'new')",
		"BEGIN",
		"UPDATE fmt.docs SET a = 0 WHERE id = 100",
		"UPDATE fmt.heap SET b = 'tx' WHERE a = 2",
		"DELETE FROM fmt.uk WHERE u = 3",
		"COMMIT",
		"UPDATE fmt.heap SET a = a + 10 WHERE a < 3",
		"UPDATE fmt.heap SET body = 'q' WHERE a = 5",
		"UPDATE fmt.heap SET img = X'01' WHERE a = 6",
		"DELETE FROM fmt.heap WHERE a = 4 LIMIT 1",
		"UPDATE fmt.uk SET v = v + 1 WHERE u > 10",
		"UPDATE fmt.uk SET u = u + 100 WHERE u <= 5",
		"UPDATE fmt.uk SET body = REPEAT('n', 5000) WHERE u = 7",
		"DELETE FROM fmt.uk WHERE u = 8",
		// DDL and a statement-format session: query events long enough
		// to be compressed.
		"ALTER TABLE fmt.docs ADD COLUMN note VARCHAR(64) NOT NULL DEFAULT 'a default long enough to compress'",
		"UPDATE fmt.docs SET note = 'changed after the ALTER' WHERE id < 6",
		"SET SESSION binlog_format = 'STATEMENT'",
		"UPDATE fmt.uk SET v = v * 2 WHERE u BETWEEN 12 AND 15",
		"SET SESSION binlog_format = 'ROW'",
		"CREATE TABLE fmt.later (id INT PRIMARY KEY, t TEXT) ENGINE=InnoDB",
		"INSERT INTO fmt.later VALUES (1, REPEAT('l', 3000)), (2, NULL)",
		"UPDATE fmt.later SET t = 'short' WHERE id = 1",
	)
}

// binlogCensus counts what the workload's binlogs hold, to check that a
// source option really changed them.
type binlogCensus struct {
	rowsEvents      int
	compressedRows  int // MariaDB *_ROWS_COMPRESSED_EVENT_V1
	compressedQuery int // QUERY_COMPRESSED_EVENT
	partialBefore   int // update/delete events whose before image lacks columns
	partialAfter    int // update events whose after image lacks columns
	namedTableMaps  int // table maps carrying column names (row metadata FULL)
	annotate        int // ANNOTATE_ROWS events (SHOW BINLOG EVENTS)
}

// takeCensus reads the scenario's binlogs from its start.
func takeCensus(t *testing.T, sc *replaytest.Scenario) binlogCensus {
	t.Helper()
	var c binlogCensus
	for _, tx := range scenarioTxns(t, sc) {
		for _, e := range tx.Events {
			c.add(e)
		}
	}
	for _, f := range sc.Files {
		if filepath.Base(f) < sc.Start.File {
			continue
		}
		c.annotate += countAnnotate(t, sc.SourceDB, filepath.Base(f))
	}
	return c
}

// add counts one event.
func (c *binlogCensus) add(e txn.Event) {
	switch e.Type {
	case 165:
		c.compressedQuery++
	case 166, 167, 168:
		c.compressedRows++
	}
	if e.TableMap != nil && e.TableMap.ColumnNames != nil {
		c.namedTableMaps++
	}
	if e.Rows == nil {
		return
	}
	c.rowsEvents++
	if e.Rows.Op != txn.OpInsert && !allTrue(e.Rows.Columns) {
		c.partialBefore++
	}
	if e.Rows.Op == txn.OpUpdate && !allTrue(e.Rows.ColumnsAfter) {
		c.partialAfter++
	}
}

func allTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

// countAnnotate counts the Annotate_rows events of one binlog file.
func countAnnotate(t *testing.T, db *sql.DB, file string) int {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf("SHOW BINLOG EVENTS IN '%s'", file))
	if err != nil {
		t.Fatalf("show binlog events in %s: %v", file, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var log, typ, info string
		var pos, server, end uint64
		if err := rows.Scan(&log, &pos, &typ, &server, &end, &info); err != nil {
			t.Fatalf("show binlog events in %s: %v", file, err)
		}
		if typ == "Annotate_rows" {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("show binlog events in %s: %v", file, err)
	}
	return n
}

// formatCase is one source configuration and what it must change in the
// binlogs.
type formatCase struct {
	name  string
	args  []string
	check func(c binlogCensus) string // "" when the binlogs show the option
}

var (
	compressArgs    = []string{"--log-bin-compress=ON", "--log-bin-compress-min-len=10"}
	checkCompressed = func(c binlogCensus) string {
		if c.compressedRows == 0 || c.compressedQuery == 0 {
			return "no compressed row or query event"
		}
		return ""
	}
	checkPartial = func(c binlogCensus) string {
		if c.partialBefore == 0 || c.partialAfter == 0 {
			return "no row event with a partial image"
		}
		return ""
	}
	checkNamed = func(c binlogCensus) string {
		if c.namedTableMaps == 0 {
			return "no table map with column names"
		}
		return ""
	}
)

// formatCases are the source options a user's binlogs may have been
// written with.
var formatCases = []formatCase{
	{name: "compressed", args: compressArgs, check: checkCompressed},
	{name: "minimal", args: []string{"--binlog-row-image=MINIMAL"}, check: checkPartial},
	{name: "noblob", args: []string{"--binlog-row-image=NOBLOB"}, check: func(c binlogCensus) string {
		if c.partialAfter == 0 {
			return "no update whose after image lacks a BLOB column"
		}
		return ""
	}},
	{name: "metadata-full", args: []string{"--binlog-row-metadata=FULL"}, check: checkNamed},
	{name: "minimal+full-metadata", args: []string{"--binlog-row-image=MINIMAL", "--binlog-row-metadata=FULL",
		"--binlog-annotate-row-events=ON"}, check: func(c binlogCensus) string {
		return checkPartial(c) + checkNamed(c)
	}},
	{name: "all", args: append([]string{"--binlog-row-image=MINIMAL", "--binlog-row-metadata=FULL",
		"--binlog-annotate-row-events=ON"}, compressArgs...), check: func(c binlogCensus) string {
		return checkCompressed(c) + checkPartial(c) + checkNamed(c)
	}},
}

// TestFormatsRowOptions replays, with 1 and 4 workers, binlogs written
// under each source option (compression, MINIMAL and NOBLOB row images,
// full row metadata, all together; annotate rows events are on in all) and
// compares every table with the source.
func TestFormatsRowOptions(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		for _, p := range formatProfiles {
			if err := workload.Setup(ctx, db, formatWorkloadOptions(p)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return fmtSetup(ctx, db)
	}
	work := func(ctx context.Context, db *sql.DB) error {
		for _, p := range formatProfiles {
			if err := workload.Run(ctx, db, formatWorkloadOptions(p)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return fmtWork(ctx, db)
	}
	for _, fc := range formatCases {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel() // each case its own servers: CI's long pole overlaps the rest
			sc := formatScenario(t, "ROW", fc.args, setup, work)
			c := takeCensus(t, sc)
			if msg := fc.check(c); msg != "" {
				t.Fatalf("the source options %v did not show in the binlogs: %s (%+v)", fc.args, msg, c)
			}
			if c.annotate == 0 {
				t.Fatalf("no ANNOTATE_ROWS event in the binlogs (%+v)", c)
			}
			t.Logf("binlogs: %+v", c)
			for _, workers := range []int{1, 4} {
				t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
					tgt, db := sc.Target(t)
					o := opts(workers)
					o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
					sum, err := replay.Run(context.Background(), o, io.Discard)
					if err != nil {
						t.Fatalf("replay: %v", err)
					}
					if sum.Applied == 0 {
						t.Fatal("nothing applied")
					}
					replaytest.RequireEqual(t, db, sc.SourceDB)
				})
			}
		})
	}
}

// seqSetup creates a sequence and a table in the base.
func seqSetup(ctx context.Context, db *sql.DB) error {
	return replaytest.ExecAll(ctx, db,
		"CREATE DATABASE sq",
		"CREATE SEQUENCE sq.base_seq START WITH 1 INCREMENT BY 1 CACHE 5",
		"CREATE TABLE sq.t (id INT PRIMARY KEY, v INT)",
	)
}

// seqWork returns a workload that advances the base sequence past its
// cache several times, creates sequences (one cycling, one used as a column
// default), inserts NEXTVAL into tables, SETVALs, ALTERs, drops one, uses
// NEXTVAL inside a transaction, then runs plain DML and sequence DDL in the
// server's format. MariaDB refuses NEXTVAL and SETVAL under
// binlog_format=STATEMENT (error 1665: sequences are logged as rows only),
// so with format STATEMENT the workload checks that refusal and runs the
// sequence part with the session in MIXED, as a user of such a server must.
func seqWork(format string) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		var stmts []string
		if format == "STATEMENT" {
			_, err := db.ExecContext(ctx, "SELECT NEXTVAL(sq.base_seq)")
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1665 {
				return fmt.Errorf("NEXTVAL under binlog_format=STATEMENT: %v, want error 1665", err)
			}
			stmts = append(stmts, "SET SESSION binlog_format = 'MIXED'")
		}
		for range 12 {
			stmts = append(stmts, "SELECT NEXTVAL(sq.base_seq)")
		}
		stmts = append(stmts,
			"CREATE SEQUENCE sq.s2 START WITH 100 INCREMENT BY 7 MINVALUE 100 MAXVALUE 200 CACHE 3 CYCLE")
		for i := range 20 { // cycles past MAXVALUE
			stmts = append(stmts, fmt.Sprintf("INSERT INTO sq.t VALUES (NEXTVAL(sq.s2) + 1000 * %d, %d)", i, i))
		}
		stmts = append(stmts,
			"SELECT SETVAL(sq.base_seq, 500)",
			"INSERT INTO sq.t VALUES (NEXTVAL(sq.base_seq), -1)",
			"ALTER SEQUENCE sq.s2 RESTART WITH 150 INCREMENT BY 3",
			"CREATE TABLE sq.t2 (id INT PRIMARY KEY DEFAULT NEXTVAL(sq.s2), v INT)",
			"INSERT INTO sq.t2 (v) VALUES (1), (2), (3)",
			"CREATE SEQUENCE sq.gone",
			"SELECT NEXTVAL(sq.gone)",
			"DROP SEQUENCE sq.gone",
			"BEGIN",
			"INSERT INTO sq.t VALUES (NEXTVAL(sq.base_seq), -2)",
			"UPDATE sq.t2 SET v = NEXTVAL(sq.base_seq) WHERE id = (SELECT MIN(id) FROM sq.t2)",
			"COMMIT",
			"SELECT NEXTVAL(sq.s2)",
			"SET SESSION binlog_format = @@GLOBAL.binlog_format",
			"UPDATE sq.t SET v = v + 100 WHERE v >= 0",
			"DELETE FROM sq.t WHERE v = 105",
			"ALTER SEQUENCE sq.base_seq INCREMENT BY 2",
			"CREATE SEQUENCE sq.unused START WITH 9 CACHE 0",
		)
		return replaytest.ExecAll(ctx, db, stmts...)
	}
}

// sequenceStates returns the stored state of every sequence of schema
// (verify does not compare sequences): its one row, as text.
func sequenceStates(t *testing.T, db *sql.DB, schema string) map[string]string {
	t.Helper()
	names := queryStrings(t, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'SEQUENCE'", schema)
	out := map[string]string{}
	for _, n := range names {
		var next, minv, maxv, start, inc, cache, cycle, round sql.NullString
		q := fmt.Sprintf("SELECT next_not_cached_value, minimum_value, maximum_value, start_value, increment, "+
			"cache_size, cycle_option, cycle_count FROM %s.%s", quoteName(schema), quoteName(n))
		if err := db.QueryRow(q).Scan(&next, &minv, &maxv, &start, &inc, &cache, &cycle, &round); err != nil {
			t.Fatalf("read sequence %s: %v", n, err)
		}
		out[n] = fmt.Sprintf("next=%s min=%s max=%s start=%s inc=%s cache=%s cycle=%s round=%s",
			next.String, minv.String, maxv.String, start.String, inc.String, cache.String, cycle.String, round.String)
	}
	return out
}

// TestFormatsSequences replays MariaDB sequences (CREATE, NEXTVAL in
// SELECT, INSERT, UPDATE and a column default, SETVAL, ALTER, DROP) written
// by a server in each binlog format (see seqWork for STATEMENT), with 1 and
// 4 workers: tables and every sequence's stored state must equal the
// source's.
func TestFormatsSequences(t *testing.T) {
	for _, format := range []string{"ROW", "STATEMENT", "MIXED"} {
		t.Run(format, func(t *testing.T) {
			sc := formatScenario(t, format, nil, seqSetup, seqWork(format))
			want := sequenceStates(t, sc.SourceDB, "sq")
			if len(want) != 3 {
				t.Fatalf("source sequences %v, want base_seq, s2 and unused", want)
			}
			_, baseDB := sc.Target(t)
			if base := sequenceStates(t, baseDB, "sq"); fmt.Sprint(base) == fmt.Sprint(want) {
				t.Fatalf("the workload left the sequences as in the base: %v", base)
			}
			for _, workers := range []int{1, 4} {
				t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
					db, sum := replayInto(t, sc, opts(workers))
					if sum.Applied == 0 {
						t.Fatal("nothing applied")
					}
					replaytest.RequireEqual(t, db, sc.SourceDB, "sq")
					got := sequenceStates(t, db, "sq")
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("sequences on the target:\n%v\nsource:\n%v", got, want)
					}
				})
			}
		})
	}
}

// TestCompressedBinlogFiles replays binlogs archived as .gz and .zst files,
// from a start position named as the server names it: the target must equal
// the source.
func TestCompressedBinlogFiles(t *testing.T) {
	wo := workload.Options{Profile: workload.OLTP, Seed: 3, Scale: 100, Txns: 300, Format: "ROW"}
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error { return workload.Setup(ctx, db, wo) },
		func(ctx context.Context, db *sql.DB) error {
			if err := workload.Run(ctx, db, wo); err != nil {
				return err
			}
			if _, err := db.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
				return err
			}
			return workload.Run(ctx, db, workload.Options{Profile: workload.OLTP, Seed: 4, Scale: 100, Txns: 300, Format: "ROW"})
		})
	dir := t.TempDir()
	var files []string
	for i, f := range sc.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		name := filepath.Base(f)
		if i%2 == 0 {
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			name += ".gz"
		} else {
			w, _ := zstd.NewWriter(&b)
			w.Write(data)
			w.Close()
			name += ".zst"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	resolved, err := logfile.Resolve([]string{dir})
	if err != nil || len(resolved) != len(files) {
		t.Fatalf("logfile.Resolve: %v, %v", resolved, err)
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(workers)
			o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = resolved, tgt.DSN(""), sc.Start, 0
			sum, err := replay.Run(context.Background(), o, io.Discard)
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if sum.Applied < 600 {
				t.Fatalf("applied %d transactions, want 600", sum.Applied)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB)
		})
	}
}
