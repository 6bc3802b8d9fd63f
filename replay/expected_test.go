package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestExpectedError replays statements the source logged with an error
// code: a multi-row INSERT into a MyISAM table that hit a duplicate key
// part way (its first rows stay), in MIXED format. A replica expects the
// same error; so must the replay, and the target must end equal to the
// source. Where the target does not fail the same way (the conflicting row
// is missing there), the replay must stop and say so.
func TestExpectedError(t *testing.T) {
	sc := replaytest.New(t, "MIXED",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE ee", "CREATE TABLE ee.m (id INT PRIMARY KEY) ENGINE=MyISAM",
				"CREATE TABLE ee.i (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO ee.m VALUES (1)")
		},
		func(ctx context.Context, db *sql.DB) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "INSERT INTO ee.m VALUES (2), (1), (3)"); err == nil {
				return fmt.Errorf("the duplicate key did not fail on the source")
			}
			return replaytest.ExecAll(ctx, db, "INSERT INTO ee.i VALUES (1)", "INSERT INTO ee.m VALUES (4)")
		})
	t.Run("the same error", func(t *testing.T) {
		db, sum := replayInto(t, sc, opts(4))
		replaytest.RequireEqual(t, db, sc.SourceDB, "ee")
		if sum.ExpectedErrors != 1 {
			t.Fatalf("summary counts %d expected errors, want 1", sum.ExpectedErrors)
		}
	})
	t.Run("no error on the target", func(t *testing.T) {
		tgt, db := sc.Target(t)
		if _, err := db.Exec("DELETE FROM ee.m WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
		_, err := replay.Run(context.Background(), o, nil)
		if err == nil || !strings.Contains(err.Error(), "failing with error 1062") {
			t.Fatalf("replay: %v, want an error saying the source failed with 1062 and the target did not", err)
		}
	})
}

// TestTemporaryTablesLost replays, in statement format, a temporary table
// that has the name of a permanent one (statements on that name write the
// temporary table while it exists), and loses the target while it is
// open: the temporary table is gone with the session, so the resumed run
// would write the permanent table instead. It must refuse to go on, naming
// the temporary table.
func TestTemporaryTablesLost(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE tt", "CREATE TABLE tt.t (id INT PRIMARY KEY, v INT)",
				"INSERT INTO tt.t VALUES (1, 1)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE TEMPORARY TABLE tt.t (id INT PRIMARY KEY, v INT)",
				"INSERT INTO tt.t VALUES (2, 2)", "UPDATE tt.t SET v = 20", "INSERT INTO tt.t VALUES (3, 3)",
				"DROP TEMPORARY TABLE tt.t", "UPDATE tt.t SET v = 10")
		})
	tgt, db := sc.Target(t)
	// Cut at the commit of the UPDATE of the temporary table.
	match := func(b []byte) bool { return bytes.Contains(b, []byte("UPDATE tt.t SET v = 20")) }
	proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutBefore, 1, match)
	o := opts(4)
	o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
	o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
	var log strings.Builder
	_, err := replay.Run(context.Background(), o, &log)
	if cut, _ := proxy.state(); !cut {
		t.Fatalf("the connection was not cut\nlog:\n%s", log.String())
	}
	if err == nil || !strings.Contains(err.Error(), "temporary tables open there (tt.t") {
		t.Fatalf("replay: %v, want a refusal naming the temporary table tt.t\nlog:\n%s", err, log.String())
	}
	var v int
	if err := db.QueryRow("SELECT v FROM tt.t WHERE id = 1").Scan(&v); err != nil || v != 1 {
		t.Fatalf("the permanent table's row holds %d (%v), want 1: written in the temporary table's place", v, err)
	}
}

// TestLoadData replays LOAD DATA INFILE logged as a statement (STATEMENT
// and MIXED formats: the file's content in BEGIN_LOAD_QUERY and
// APPEND_BLOCK events, the statement in EXECUTE_LOAD_QUERY): plain, with
// REPLACE over existing rows, with IGNORE, and a file of several blocks.
// The target must end equal to the source.
func TestLoadData(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.csv")
	big := filepath.Join(dir, "big.csv")
	var b strings.Builder
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&b, "%d,row %d with some text to make the file longer than one block\n", 1000+i, i)
	}
	if err := os.WriteFile(small, []byte("1,a\n2,b\n3,'quoted' \\\\ c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"STATEMENT", "MIXED"} {
		t.Run(format, func(t *testing.T) {
			sc := replaytest.New(t, format,
				func(ctx context.Context, db *sql.DB) error {
					return replaytest.ExecAll(ctx, db, "CREATE DATABASE ld", "CREATE TABLE ld.t (id INT PRIMARY KEY, v VARCHAR(100))")
				},
				func(ctx context.Context, db *sql.DB) error {
					load := func(mode, file string) string {
						return fmt.Sprintf("LOAD DATA INFILE %s %s INTO TABLE ld.t FIELDS TERMINATED BY ','", quoteLit(file), mode)
					}
					return replaytest.ExecAll(ctx, db, load("", small), "UPDATE ld.t SET v = 'changed' WHERE id = 2",
						load("REPLACE", small), load("IGNORE", small), load("", big))
				})
			db, _ := replayInto(t, sc, opts(4))
			replaytest.RequireEqual(t, db, sc.SourceDB, "ld")
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM ld.t").Scan(&n); err != nil || n != 20003 {
				t.Fatalf("%d rows (%v), want 20003", n, err)
			}
		})
	}
}

// quoteLit quotes s as an SQL string literal.
func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestTemporaryTablesLostAfterUnknownCommit cuts the connection after the
// target committed a transaction and before the replay heard of it, while
// a temporary table is open: the reconnected attempt reads the checkpoint
// and refuses to go on. The summary must say where the target is (the
// checkpoint, the cut commit counted), not where the lost attempt last
// knew it to be (soak seed 3229).
func TestTemporaryTablesLostAfterUnknownCommit(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE tu", "CREATE TABLE tu.p (id INT PRIMARY KEY, v INT)")
		},
		func(ctx context.Context, db *sql.DB) error {
			stmts := []string{"CREATE TEMPORARY TABLE tu.tmp (id INT PRIMARY KEY)"}
			for i := 1; i <= 6; i++ {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO tu.tmp VALUES (%d)", i), fmt.Sprintf("INSERT INTO tu.p SELECT id, %d FROM tu.tmp WHERE id = %d", i, i))
			}
			return replaytest.ExecAll(ctx, db, append(stmts, "DROP TEMPORARY TABLE tu.tmp")...)
		})
	hit := false
	for n := 2; n <= 6 && !hit; n++ {
		tgt, db := sc.Target(t)
		proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutAfter, n)
		o := opts(1)
		o.Apply.GroupTxns = 1
		o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
		o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
		var log strings.Builder
		sum, err := replay.Run(context.Background(), o, &log)
		if err == nil || !strings.Contains(err.Error(), "temporary tables open there") || !strings.Contains(log.String(), "outcome unknown") {
			continue // the cut fell where no temporary table was open: try the next commit
		}
		hit = true
		cp, cerr := target.ReadCheckpoint(context.Background(), db)
		if cerr != nil || cp == nil {
			t.Fatalf("read the target's checkpoint: %v, %v", cp, cerr)
		}
		if sum == nil || sum.Next != cp.Next || sum.Applied != cp.Applied {
			t.Fatalf("cut at commit %d: summary %+v; the target's checkpoint says %d applied, next %s\nlog:\n%s", n, sum, cp.Applied, cp.Next, log.String())
		}
	}
	if !hit {
		t.Fatal("no cut fell on a commit while the temporary table was open")
	}
}
