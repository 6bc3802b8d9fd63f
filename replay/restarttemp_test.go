package replay_test

import (
	"context"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
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
	execOn(t, lost, "SET SESSION binlog_format = 'STATEMENT'", "CREATE TEMPORARY TABLE rt.tt (id INT)",
		"INSERT INTO rt.tt VALUES (1)", "INSERT INTO rt.p VALUES (2)")
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
	execOn(t, later, "SET SESSION binlog_format = 'STATEMENT'", "CREATE TABLE rt.tt (id INT) ENGINE=InnoDB",
		"INSERT INTO rt.tt VALUES (42)", "INSERT INTO rt.p VALUES (3)", "FLUSH BINARY LOGS")
	later.Close()
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	sourcePos, _ := gtidState(t, sc.SourceDB)
	db, _ := replayInto(t, sc, opts(4))
	replaytest.RequireEqual(t, db, sc.SourceDB, "rt")
	requireRows(t, db, "rt.tt", 1)

	// A target logging the source's GTIDs under gtid_strict_mode: the
	// session holding the lost table is closed out of the binlog (its
	// drop, logged, would take the source's next GTID of the domain,
	// which the strict target then refuses).
	keep := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Args: []string{"--gtid-strict-mode=1"}})
	keepDB, err := keep.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer keepDB.Close()
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, keep.DSN(""), sc.Start
	var log strings.Builder
	sum, err := replay.Run(ctx, o, &log)
	if err != nil || !sum.SourceGTIDs {
		t.Fatalf("replay keeping the source's GTIDs: %v (kept: %v)\nlog:\n%s", err, sum != nil && sum.SourceGTIDs, log.String())
	}
	replaytest.RequireEqual(t, keepDB, sc.SourceDB, "rt")
	if pos, _ := gtidState(t, keepDB); pos != sourcePos {
		t.Fatalf("target GTID position %q, want the source's %q (nothing logged of the target's own)", pos, sourcePos)
	}

	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil || rep.Replay.Fails || rep.Problems.TempBeforeStart != "" {
		t.Fatalf("plan: %v, fails %v, %q", err, rep.Replay.Fails, rep.Problems.TempBeforeStart)
	}
}
