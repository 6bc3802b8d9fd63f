package replay_test

import (
	"context"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/plan"
)

// TestSourceRestartEndsTemporaryTables: a source session holding a
// temporary table (statement format) is lost in a crash of the source,
// which logs no drop of it; the restarted server gives a later session the
// same thread id, and that session creates a permanent table of the same
// name and writes it. A replica drops every temporary table where the
// binlog shows its master started again; before, the replay kept the
// lost session's table open on its statement session, the later
// session's INSERT (same pseudo_thread_id) wrote it instead of the
// permanent table, and the replay exited 0 with the permanent table empty
// (`mariadb-binlog | mariadb` does the same). The target must equal the
// source.
func TestSourceRestartEndsTemporaryTables(t *testing.T) {
	ctx := context.Background()
	sc := replaytest.New(t, "MIXED",
		oneSession("CREATE DATABASE rt", "CREATE TABLE rt.p (id INT PRIMARY KEY) ENGINE=InnoDB"),
		oneSession("INSERT INTO rt.p VALUES (1)"))
	// A session of a known thread id, at least 20: the restarted server's
	// first sessions get lower ones.
	lost, id, err := replaytest.ConnWithThread(ctx, sc.SourceDB, 20, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET SESSION binlog_format = 'STATEMENT'", "CREATE TEMPORARY TABLE rt.tt (id INT)",
		"INSERT INTO rt.tt VALUES (1)", "INSERT INTO rt.p VALUES (2)"} {
		if _, err := lost.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := sc.Source.Kill(); err != nil {
		t.Fatal(err)
	}
	lost.Close()
	if err := sc.Source.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	later, _, err := replaytest.ConnWithThread(ctx, sc.SourceDB, id, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET SESSION binlog_format = 'STATEMENT'", "CREATE TABLE rt.tt (id INT) ENGINE=InnoDB",
		"INSERT INTO rt.tt VALUES (42)", "INSERT INTO rt.p VALUES (3)", "FLUSH BINARY LOGS"} {
		if _, err := later.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	later.Close()
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	db, _ := replayInto(t, sc, opts(4))
	replaytest.RequireEqual(t, db, sc.SourceDB, "rt")
	requireRows(t, db, "rt.tt", 1)
	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil || rep.Replay.Fails || rep.Problems.TempBeforeStart != "" {
		t.Fatalf("plan: %v, fails %v, %q", err, rep.Replay.Fails, rep.Problems.TempBeforeStart)
	}
}
