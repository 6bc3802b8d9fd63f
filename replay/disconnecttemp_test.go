package replay_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestDisconnectDropAcrossServerIDs: a connection holding a temporary
// table tmp changes its server id (SET SESSION server_id) and creates a
// tmp of its own there (the server scopes them by server id and thread
// id), then ends. The server logs one drop of both under its last server
// id, "DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `tmp`,`tmp`", which no
// session can run again (error 1066, not unique table): before, the
// replay stopped there, exit 1, and `mariadb-binlog | mariadb` fails the
// same (soak seeds 130522, 130543...). A later session of the same thread
// id (a pseudo_thread_id set, as a mysqlbinlog replay does) then writes
// the permanent tmp: the first server id's tmp must be gone on the target
// too, or it takes the permanent table's place (exit 0, the permanent
// table short of its row), and the replay must not take it for open (a
// resume after the drop would be refused). The target must equal the
// source, logging its GTIDs or not, and a run stopped after the drop
// resumes.
func TestDisconnectDropAcrossServerIDs(t *testing.T) {
	ctx := context.Background()
	sc := replaytest.New(t, "STATEMENT",
		oneSession("CREATE DATABASE dd", "CREATE TABLE dd.tmp (id INT PRIMARY KEY) ENGINE=InnoDB",
			"CREATE TABLE dd.p (id INT PRIMARY KEY) ENGINE=InnoDB"),
		oneSession("INSERT INTO dd.p VALUES (1)"))
	held, id, err := replaytest.ConnWithThread(ctx, sc.SourceDB, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	execOn(t, held, "SET SESSION binlog_format = 'STATEMENT'", "USE dd",
		"CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO tmp VALUES (10)",
		"SET SESSION server_id = 777",
		"CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO tmp VALUES (20)",
		"CREATE TEMPORARY TABLE only777 (id INT) ENGINE=InnoDB",
		"INSERT INTO p SELECT id FROM tmp",
		"SET SESSION server_id = @@GLOBAL.server_id", "INSERT INTO p SELECT id FROM tmp",
		"SET SESSION server_id = 777")
	disconnect(held)
	drop := waitDisconnectDrop(t, sc.SourceDB)
	if !strings.Contains(drop, "`tmp`,`tmp`") {
		t.Fatalf("the server logged %q at the disconnect: want tmp named twice (it scopes temporary tables otherwise?)", drop)
	}
	later, err := sc.SourceDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	execOn(t, later, "SET SESSION binlog_format = 'STATEMENT'", fmt.Sprintf("SET SESSION pseudo_thread_id = %d", id),
		"INSERT INTO dd.tmp VALUES (5)", "INSERT INTO dd.p SELECT id + 100 FROM dd.tmp", "FLUSH BINARY LOGS")
	later.Close()
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	sourcePos, _ := gtidState(t, sc.SourceDB)
	requireRows(t, sc.SourceDB, "dd.tmp", 1)

	db, _ := replayInto(t, sc, opts(4))
	replaytest.RequireEqual(t, db, sc.SourceDB, "dd")
	requireRows(t, db, "dd.tmp", 1)

	// Stopped right after the drop, then resumed: nothing is open there.
	txns := scenarioTxns(t, sc)
	after := -1
	for i, tx := range txns {
		for _, e := range tx.Events {
			if e.Query != nil && strings.HasPrefix(string(e.Query.SQL), "DROP /*!40005 TEMPORARY */") {
				after = i + 1
			}
		}
	}
	if after < 0 || after >= len(txns) {
		t.Fatalf("the disconnect drop's transaction not found among %d, or the last", len(txns))
	}
	tgt, stopped := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Select.StopPosition = sc.Files, tgt.DSN(""), sc.Start, txns[after].Start
	if _, err := replay.Run(ctx, o, io.Discard); err != nil {
		t.Fatalf("replay up to %s: %v", txns[after].Start, err)
	}
	o = opts(4)
	o.Files, o.TargetDSN, o.Recovery.Resume, o.Select.ToEnd = sc.Files, tgt.DSN(""), true, true
	if _, err := replay.Run(ctx, o, io.Discard); err != nil {
		t.Fatalf("resume at %s, after the disconnect drop: %v", txns[after].Start, err)
	}
	replaytest.RequireEqual(t, stopped, sc.SourceDB, "dd")

	// A target logging the source's GTIDs under gtid_strict_mode: both
	// tables live in its session of the domain, under their server ids;
	// the other server id's is dropped out of the binlog.
	keep := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Args: []string{"--gtid-strict-mode=1"}})
	keepDB, err := keep.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer keepDB.Close()
	o = opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, keep.DSN(""), sc.Start
	var log strings.Builder
	sum, err := replay.Run(ctx, o, &log)
	if err != nil || !sum.SourceGTIDs {
		t.Fatalf("replay keeping the source's GTIDs: %v (kept: %v)\nlog:\n%s", err, sum != nil && sum.SourceGTIDs, log.String())
	}
	replaytest.RequireEqual(t, keepDB, sc.SourceDB, "dd")
	if pos, _ := gtidState(t, keepDB); pos != sourcePos {
		t.Fatalf("target GTID position %q, want the source's %q (nothing logged of the target's own)", pos, sourcePos)
	}

	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil || rep.Replay.Fails || rep.Problems.TempBeforeStart != "" || rep.Problems.TempUnsure != "" {
		t.Fatalf("plan: %v, fails %v, %q %q", err, rep.Replay.Fails, rep.Problems.TempBeforeStart, rep.Problems.TempUnsure)
	}
}

// execOn runs stmts on conn, failing t on the first error.
func execOn(t *testing.T, conn *sql.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// disconnect closes conn's connection to the server: Close alone would
// give it back to the pool, open.
func disconnect(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// waitDisconnectDrop waits for the server behind db to log the drop of a
// disconnected session's temporary tables (it does so after the client is
// gone) and returns it.
func waitDisconnectDrop(t *testing.T, db *sql.DB) string {
	t.Helper()
	var file string
	var pos any
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rows, err := db.Query("SHOW BINLOG EVENTS IN '" + file + "'")
		if err != nil {
			t.Fatal(err)
		}
		var found string
		for rows.Next() {
			var log, typ, info string
			var pos, server, end any
			if err := rows.Scan(&log, &pos, &typ, &server, &end, &info); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(info, "DROP /*!40005 TEMPORARY */ TABLE IF EXISTS") {
				found = info
			}
		}
		rows.Close()
		if found != "" {
			return found
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the server logged no drop of the disconnected session's temporary tables in 10 s")
	return ""
}

// TestDisconnectDropUnsure: two connections of one thread id (one sets
// pseudo_thread_id) hold a temporary table tmp under server ids 1 and 3;
// the first also holds one under 777, where it ends. Its drop names tmp
// twice under 777: its own and one of the other two, which cannot be told
// apart. The replay refuses it, exit 1, naming it, with every transaction
// before it applied; plan says so.
func TestDisconnectDropUnsure(t *testing.T) {
	ctx := context.Background()
	sc := replaytest.New(t, "STATEMENT",
		oneSession("CREATE DATABASE du", "CREATE TABLE du.p (id INT PRIMARY KEY) ENGINE=InnoDB"),
		oneSession("INSERT INTO du.p VALUES (1)"))
	held, id, err := replaytest.ConnWithThread(ctx, sc.SourceDB, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sc.SourceDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	execOn(t, held, "SET SESSION binlog_format = 'STATEMENT'", "USE du",
		"CREATE TEMPORARY TABLE tmp (id INT) ENGINE=InnoDB", "SET SESSION server_id = 777",
		"CREATE TEMPORARY TABLE tmp (id INT) ENGINE=InnoDB")
	execOn(t, other, "SET SESSION binlog_format = 'STATEMENT'", "USE du", fmt.Sprintf("SET SESSION pseudo_thread_id = %d", id),
		"SET SESSION server_id = 3", "CREATE TEMPORARY TABLE tmp (id INT) ENGINE=InnoDB", "INSERT INTO p VALUES (2)")
	disconnect(held)
	waitDisconnectDrop(t, sc.SourceDB)
	execOn(t, other, "SET SESSION server_id = @@GLOBAL.server_id", "INSERT INTO p VALUES (3)", "FLUSH BINARY LOGS")
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	_, err = replay.Run(ctx, o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "which of them it ended cannot be told") ||
		!strings.Contains(err.Error(), "DROP /*!40005 TEMPORARY */ TABLE IF EXISTS") {
		t.Fatalf("replay: %v, want the disconnect drop refused", err)
	}
	if got := strings.Join(queryStrings(t, db, "SELECT id FROM du.p ORDER BY id"), " "); got != "1 2" {
		t.Fatalf("du.p holds %s, want 1 2 (every transaction before the drop, none after)", got)
	}
	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil || rep.Problems.TempUnsure == "" {
		t.Fatalf("plan: %v, problems %+v: want the drop named", err, rep.Problems)
	}
}
