package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Regression tests for bugs the issue-7 tests found: USE sent for events
// flagged LOG_EVENT_SUPPRESS_USE_F, errors naming no event when the format
// description headed the BINLOG statement, and MariaDB compressed row
// events passed through compressed.

// TestSuppressUse replays a MariaDB binlog where one session creates a
// database while its default database is one another session has dropped:
// the CREATE DATABASE event carries the dropped database and
// LOG_EVENT_SUPPRESS_USE_F. mariadb-binlog | mariadb applies it (checked
// here), and so must the replay, which must not send USE of the dropped
// database.
func TestSuppressUse(t *testing.T) {
	noSetup := func(context.Context, *sql.DB) error { return nil }
	work := func(ctx context.Context, db *sql.DB) error {
		a, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer a.Close()
		b, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer b.Close()
		steps := []struct {
			conn *sql.Conn
			sql  string
		}{
			{a, "CREATE DATABASE gone"},
			{b, "USE gone"},
			{a, "DROP DATABASE gone"},
			{b, "CREATE DATABASE fresh"}, // logged with default database `gone`
			{b, "USE fresh"},
			{b, "CREATE TABLE t (id INT PRIMARY KEY)"},
			{b, "INSERT INTO t VALUES (1), (2)"},
		}
		for _, s := range steps {
			if _, err := s.conn.ExecContext(ctx, s.sql); err != nil {
				return fmt.Errorf("%s: %w", s.sql, err)
			}
		}
		return nil
	}
	sc := replaytest.New(t, "ROW", noSetup, work)
	anchor, anchorDB := sc.Target(t)
	if err := reference.ReplayWithMariaDBBinlog(context.Background(), sc.Files, sc.Start.File, sc.Start.Offset, anchor.Socket); err != nil {
		t.Fatalf("anchor: %v", err)
	}
	replaytest.RequireEqual(t, anchorDB, sc.SourceDB)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			db, _ := replayInto(t, sc, opts(workers))
			replaytest.RequireEqual(t, db, sc.SourceDB)
		})
	}
}

// TestFirstErrorNamesEvent makes the first row transaction a worker
// applies fail (the target lacks the row it updates): the error must name
// the event that failed, not the format description sent in the same
// BINLOG statement.
func TestFirstErrorNamesEvent(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE kb", "CREATE TABLE kb.t (id INT PRIMARY KEY, v INT)",
			"INSERT INTO kb.t VALUES (1, 1), (2, 2), (3, 3)")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "UPDATE kb.t SET v = v + 10 WHERE id = 2")
	}
	sc := replaytest.New(t, "ROW", setup, work)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			tgt, db := sc.Target(t)
			if _, err := db.Exec("DELETE FROM kb.t WHERE id = 2"); err != nil {
				t.Fatal(err)
			}
			o := opts(workers)
			o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
			_, err := replay.Run(context.Background(), o, io.Discard)
			var ae *replay.ApplyError
			if !errors.As(err, &ae) {
				t.Fatalf("replay: %v; want an *replay.ApplyError", err)
			}
			if !strings.Contains(ae.Event, "ROWS_EVENT") && !strings.Contains(ae.Event, "TABLE_MAP_EVENT") {
				t.Errorf("error %q: Event = %q, want the table map or rows event of the UPDATE", err, ae.Event)
			}
		})
	}
}

// TestPartialUpdateRowsNamed replays the transaction holding a MySQL 8
// PARTIAL_UPDATE_ROWS event into a target that lacks its table: the error
// must name the event and its position, not only the transaction.
func TestPartialUpdateRowsNamed(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "rust_mysql_common/test-data/binlogs/json.binlog.000001")
	srv := sandbox.ForTest(t, sandbox.Options{})
	o := opts(1)
	o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, srv.DSN(""), 0
	o.Select.StartPosition = txn.Position{File: filepath.Base(path), Offset: scanFixture(t, path).partialAt}
	_, err := replay.Run(context.Background(), o, io.Discard)
	var ae *replay.ApplyError
	if !errors.As(err, &ae) || !strings.Contains(ae.Event, "PARTIAL_UPDATE_ROWS") {
		t.Errorf("replay: %v; want an *replay.ApplyError whose Event names PARTIAL_UPDATE_ROWS", err)
	}
}

// TestCompressedRows replays binlogs written with log_bin_compress=ON:
// mariadb-binlog | mariadb applies them (checked here), and so must the
// replay, which sends the compressed row events decompressed (MariaDB's
// BINLOG statement refuses the compressed types).
func TestCompressedRows(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE kb", "CREATE TABLE kb.t (id INT PRIMARY KEY, body TEXT)")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "INSERT INTO kb.t VALUES (1, REPEAT('a', 500)), (2, REPEAT('b', 500))",
			"UPDATE kb.t SET body = REPEAT('c', 300) WHERE id = 2", "DELETE FROM kb.t WHERE id = 1")
	}
	sc := formatScenario(t, "ROW", compressArgs, setup, work)
	if c := takeCensus(t, sc); c.compressedRows == 0 {
		t.Fatalf("no compressed row event in the binlogs: %+v", c)
	}
	anchor, anchorDB := sc.Target(t)
	if err := reference.ReplayWithMariaDBBinlog(context.Background(), sc.Files, sc.Start.File, sc.Start.Offset, anchor.Socket); err != nil {
		t.Fatalf("anchor: %v", err)
	}
	replaytest.RequireEqual(t, anchorDB, sc.SourceDB, "kb")
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			db, _ := replayInto(t, sc, opts(workers))
			replaytest.RequireEqual(t, db, sc.SourceDB, "kb")
		})
	}
}

// TestSQLErrorNamesEventInTransaction: a transaction of several row events
// applied as SQL, whose third event the target refuses (a duplicate key):
// the error must name that event's table, whether the statements of the
// transaction's events shared a packet or not, with 1 and 4 workers.
func TestSQLErrorNamesEventInTransaction(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE kq", "CREATE TABLE kq.a (id INT PRIMARY KEY, v INT)",
			"CREATE TABLE kq.b (id INT PRIMARY KEY, v INT)", "CREATE TABLE kq.c (id INT PRIMARY KEY, v INT)")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		for i := 0; i < 20; i++ {
			if err := replaytest.ExecAll(ctx, db, "BEGIN", fmt.Sprintf("INSERT INTO kq.a VALUES (%d, 1)", i),
				fmt.Sprintf("INSERT INTO kq.b VALUES (%d, 1)", i), fmt.Sprintf("INSERT INTO kq.c VALUES (%d, 1)", i), "COMMIT"); err != nil {
				return err
			}
		}
		return nil
	}
	sc := replaytest.New(t, "ROW", setup, work)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			tgt, db := sc.Target(t)
			if _, err := db.Exec("INSERT INTO kq.c VALUES (7, 2)"); err != nil {
				t.Fatal(err)
			}
			o := withApply(opts(workers), replay.ApplySQL)
			o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
			_, err := replay.Run(context.Background(), o, io.Discard)
			var ae *replay.ApplyError
			if !errors.As(err, &ae) || ae.Table != "kq.c" {
				t.Fatalf("replay: %v; want an *replay.ApplyError naming table kq.c", err)
			}
		})
	}
}
