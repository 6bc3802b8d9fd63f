package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// twoTableScenario writes 50 one-row transactions into tf.a, one into tf.b,
// then 50 more into tf.a.
func twoTableScenario(t *testing.T) *replaytest.Scenario {
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE tf", "CREATE TABLE tf.a (id INT PRIMARY KEY)",
				"CREATE TABLE tf.b (id INT PRIMARY KEY, v INT)")
		},
		func(ctx context.Context, db *sql.DB) error {
			var stmts []string
			for i := 1; i <= 101; i++ {
				if i == 51 {
					stmts = append(stmts, "INSERT INTO tf.b VALUES (1, 1)")
					continue
				}
				stmts = append(stmts, fmt.Sprintf("INSERT INTO tf.a VALUES (%d)", i))
			}
			return replaytest.ExecAll(ctx, db, stmts...)
		})
}

// requireStoppedAt checks that the target holds exactly the first n
// transactions (rows of tf.a) and a checkpoint saying so.
func requireStoppedAt(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	var rows int
	if err := db.QueryRow("SELECT COUNT(*) FROM tf.a").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	cp, err := replay.ReadCheckpoint(context.Background(), db)
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %+v, %v", cp, err)
	}
	if rows != n || cp.Applied != uint64(n) {
		t.Fatalf("target holds %d rows of tf.a, checkpoint says %d transactions applied; want %d and %d", rows, cp.Applied, n, n)
	}
}

// TestTargetMissingTable replays into a target that lacks a table the 51st
// transaction writes: the replay must stop there, naming the table and the
// transaction, with the 50 before it applied and checkpointed.
func TestTargetMissingTable(t *testing.T) {
	sc := twoTableScenario(t)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			tgt, db := sc.Target(t)
			if _, err := db.Exec("DROP TABLE tf.b"); err != nil {
				t.Fatal(err)
			}
			o := opts(workers)
			o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
			_, err := replay.Run(context.Background(), o, io.Discard)
			var ae *replay.ApplyError
			if !errors.As(err, &ae) || ae.Seq != 51 || ae.Event == "" || !strings.Contains(err.Error(), "tf.b") {
				t.Fatalf("replay: %v; want an ApplyError for transaction #51 naming table tf.b", err)
			}
			t.Logf("error: %v", err)
			requireStoppedAt(t, db, 50)
		})
	}
}

// TestTargetTableDiffers replays into targets whose tf.b, which the 51st
// transaction writes, differs from the source's: a column fewer, a column
// more, a column of another type. The server refuses the row event, and
// the replay must stop at that transaction naming the table, with the 50
// before it applied and checkpointed and nothing of it.
func TestTargetTableDiffers(t *testing.T) {
	sc := twoTableScenario(t)
	for name, alter := range map[string]string{
		"column fewer": "ALTER TABLE tf.b DROP COLUMN v",
		"column more":  "ALTER TABLE tf.b ADD COLUMN w INT NOT NULL",
		"other type":   "ALTER TABLE tf.b MODIFY v VARCHAR(10)",
	} {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(t *testing.T) {
				tgt, db := sc.Target(t)
				if _, err := db.Exec(alter); err != nil {
					t.Fatal(err)
				}
				o := opts(workers)
				o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
				_, err := replay.Run(context.Background(), o, io.Discard)
				var ae *replay.ApplyError
				if !errors.As(err, &ae) || ae.Seq != 51 || !strings.Contains(err.Error(), "tf.b") {
					t.Fatalf("replay: %v; want an ApplyError for transaction #51 naming table tf.b", err)
				}
				t.Logf("error: %v", err)
				requireStoppedAt(t, db, 50)
				var n int
				if err := db.QueryRow("SELECT COUNT(*) FROM tf.b").Scan(&n); err != nil || n != 0 {
					t.Fatalf("tf.b holds %d rows (%v): the refused transaction was applied in part", n, err)
				}
			})
		}
	}
}

// TestReadOnlyTarget resumes a replay on a target that went read-only
// (error 1290): the replay must stop with the server's reason, and the
// checkpoint must still name the transactions applied before.
func TestReadOnlyTarget(t *testing.T) {
	sc := twoTableScenario(t)
	tgt, db := sc.Target(t)
	if err := replaytest.ExecAll(context.Background(), db,
		"CREATE USER 'app'@'localhost' IDENTIFIED BY 'pw'",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, BINLOG REPLAY ON *.* TO 'app'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, strings.Replace(tgt.DSN(""), "root@", "app:pw@", 1), sc.Start, 0
	o.Select.StopBeforeGTID = gtidOf(t, sc, 31)
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	requireStoppedAt(t, db, 30)
	if _, err := db.Exec("SET GLOBAL read_only = ON"); err != nil {
		t.Fatal(err)
	}
	// Resume: from the checkpoint, to the end.
	o.Select.StopBeforeGTID, o.Select.StartPosition, o.Recovery.Resume, o.Select.ToEnd = txn.GTID{}, txn.Position{}, true, true
	_, err := replay.Run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "read-only") && !strings.Contains(err.Error(), "1290") {
		t.Fatalf("replay on a read-only target: %v; want the server's read-only error", err)
	}
	t.Logf("error: %v", err)
	if _, err := db.Exec("SET GLOBAL read_only = OFF"); err != nil {
		t.Fatal(err)
	}
	requireStoppedAt(t, db, 30)
	// Writable again: the resume finishes the job.
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("resume on the writable target: %v", err)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "tf")
}

// gtidOf returns the GTID of the n-th transaction (from 1) of the
// scenario's workload.
func gtidOf(t *testing.T, sc *replaytest.Scenario, n int) txn.GTID {
	t.Helper()
	txns := scenarioTxns(t, sc)
	if n < 1 || n > len(txns) {
		t.Fatalf("transaction %d of %d", n, len(txns))
	}
	return txns[n-1].GTID
}

// TestUnknownDatabaseNamesTheUse replays a statement-format transaction
// whose default database the target lacks: the error must quote the USE
// that failed, not the SET sent before it in the same packet.
func TestUnknownDatabaseNamesTheUse(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE gone", "CREATE TABLE gone.t (id INT PRIMARY KEY)")
	}, func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "USE gone", "INSERT INTO t VALUES (1)")
	})
	tgt, db := sc.Target(t)
	if _, err := db.Exec("DROP DATABASE gone"); err != nil {
		t.Fatal(err)
	}
	o := opts(1)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
	_, err := replay.Run(context.Background(), o, io.Discard)
	var ae *replay.ApplyError
	if !errors.As(err, &ae) || !strings.HasPrefix(ae.Statement, "USE `gone`") || !strings.Contains(err.Error(), "1049") {
		t.Fatalf("replay: %v; want error 1049 quoting the USE statement", err)
	}
}
