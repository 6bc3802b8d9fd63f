package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/pipeline"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestNonTransactionalKeepsGTIDs replays, into a target that keeps the
// source's GTIDs in its binlog under gtid_strict_mode, row transactions
// writing MyISAM and Aria tables among InnoDB ones, one rolled back on the
// source (its MyISAM write stays), and one last: each
// non-transactional transaction is logged by the server as soon as its
// statement ends, under the source GTID the replay set, so its checkpoint
// write after it must not be logged under a GTID of the target's own (a
// later source transaction would then find its GTID taken: refused under
// gtid_strict_mode, logged twice without it). The target must end at the
// source's GTID position with the source's tables, with 1 and 4 workers.
func TestNonTransactionalKeepsGTIDs(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE TABLE nt.m (id INT PRIMARY KEY, v INT) ENGINE=MyISAM",
				"CREATE TABLE nt.a (id INT PRIMARY KEY, v INT) ENGINE=Aria TRANSACTIONAL=0")
		},
		func(ctx context.Context, db *sql.DB) error {
			var stmts []string
			for i := 1; i <= 6; i++ {
				stmts = append(stmts,
					fmt.Sprintf("INSERT INTO nt.i VALUES (%d, %d)", i, i),
					fmt.Sprintf("INSERT INTO nt.m VALUES (%d, %d)", i, i),
					fmt.Sprintf("UPDATE nt.i SET v = v + 1 WHERE id = %d", i),
					fmt.Sprintf("INSERT INTO nt.a VALUES (%d, %d)", i, i))
			}
			// Rolled back on the source: the MyISAM write stays (logged on
			// its own), the InnoDB one goes.
			stmts = append(stmts, "BEGIN", "INSERT INTO nt.i VALUES (100, 1)", "INSERT INTO nt.m VALUES (100, 1)", "ROLLBACK",
				"INSERT INTO nt.i VALUES (101, 1)", "UPDATE nt.m SET v = v * 10")
			return replaytest.ExecAll(ctx, db, stmts...)
		})
	srcPos, _ := gtidState(t, sc.SourceDB)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			db, o := binlogTarget(t, sc, "", workers, "--gtid-strict-mode=1")
			replayKeepingGTIDs(t, o, db, sc, srcPos, "nt")
		})
	}
}

// TestStatementsKeepGTIDs is TestNonTransactionalKeepsGTIDs for binlogs
// with statements (MIXED, STATEMENT) and targets logging in ROW and MIXED
// format (MariaDB's default): a non-transactional table's statement (also
// one that fails part way, logged with its error code, and one an InnoDB
// table's trigger makes), which the target logs under the source GTID as
// the statement ends, and temporary tables (InnoDB and Aria), whose CREATE
// and DROP do not commit. Each source transaction must be logged once, under its GTID,
// under gtid_strict_mode, and the target end at the source's position.
func TestStatementsKeepGTIDs(t *testing.T) {
	for _, format := range []string{"MIXED", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			sc := replaytest.New(t, format,
				func(ctx context.Context, db *sql.DB) error {
					return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
						"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
						"CREATE TABLE nt.m (id INT PRIMARY KEY, v INT) ENGINE=MyISAM",
						"CREATE TABLE nt.n (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM",
						"INSERT INTO nt.n VALUES (1, 0)",
						"CREATE TABLE nt.tr (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
						"CREATE TRIGGER nt.tr_ai AFTER INSERT ON nt.tr FOR EACH ROW UPDATE nt.n SET n = n + 1 WHERE id = 1")
				},
				func(ctx context.Context, db *sql.DB) error {
					var stmts []string
					for i := 1; i <= 4; i++ {
						stmts = append(stmts,
							fmt.Sprintf("INSERT INTO nt.i VALUES (%d, %d)", i, i),
							fmt.Sprintf("INSERT INTO nt.m VALUES (%d, %d)", i, i),
							"UPDATE nt.n SET n = n + 1 WHERE id = 1",
							"BEGIN", fmt.Sprintf("UPDATE nt.m SET v = v + 1 WHERE id = %d", i), "COMMIT",
							fmt.Sprintf("INSERT INTO nt.tr VALUES (%d, %d)", i, i),
							fmt.Sprintf("CREATE TEMPORARY TABLE nt.tmp (id INT PRIMARY KEY, v INT) ENGINE=%s", []string{"InnoDB", "Aria"}[i%2]),
							fmt.Sprintf("INSERT INTO nt.tmp VALUES (%d, %d)", 100+i, i),
							"INSERT INTO nt.i SELECT * FROM nt.tmp",
							"DROP TEMPORARY TABLE nt.tmp")
					}
					// Statements the source logged as one group: a MyISAM
					// write after InnoDB ones, a trigger writing MyISAM
					// in a transaction (logged apart, in two groups, by a
					// target logging in row format).
					stmts = append(stmts,
						"BEGIN", "INSERT INTO nt.i VALUES (300, 1)", "UPDATE nt.m SET v = v + 1", "UPDATE nt.n SET n = n + 1",
						"INSERT INTO nt.i VALUES (301, 1)", "COMMIT",
						"BEGIN", "INSERT INTO nt.tr VALUES (300, 1)", "INSERT INTO nt.i VALUES (302, 1)", "COMMIT")
					if err := replaytest.ExecAll(ctx, db, stmts...); err != nil {
						return err
					}
					// Fails part way on the source: row 50 stays, logged
					// with error code 1062.
					err := replaytest.ExecAll(ctx, db, "INSERT INTO nt.m VALUES (50, 1), (1, 1)")
					if err == nil {
						return fmt.Errorf("the duplicate key insert did not fail")
					}
					return replaytest.ExecAll(ctx, db, "INSERT INTO nt.i VALUES (200, 1)", "UPDATE nt.m SET v = v * 10")
				})
			srcPos, _ := gtidState(t, sc.SourceDB)
			for _, target := range []string{"ROW", "MIXED"} {
				for _, workers := range []int{1, 4} {
					t.Run(fmt.Sprintf("%s target, %d workers", target, workers), func(t *testing.T) {
						db, o := binlogTarget(t, sc, target, workers, "--gtid-strict-mode=1")
						replayKeepingGTIDs(t, o, db, sc, srcPos, "nt")
					})
				}
			}
		})
	}
}

// TestSplitStatementStops: a STATEMENT-format source logs a transaction
// whose statement writes an InnoDB table and, through a trigger, a MyISAM
// one as one group; a target logging in ROW format, whose sessions run at
// READ COMMITTED (at which the replay cannot log the source's statements
// as statements: InnoDB refuses), logs the MyISAM rows as the statement
// ends and the InnoDB ones at the commit: two groups, the second under a
// GTID of the target's own, which the next source transaction finds
// taken. The replay must stop there, the transaction applied and
// checkpointed, saying so (never go on to a duplicate GTID, or a refusal
// that leaves the operator guessing); --resume --target-gtids own then
// replays the rest.
func TestSplitStatementStops(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE TABLE nt.n (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM",
				"INSERT INTO nt.n VALUES (1, 0)",
				"CREATE TABLE nt.tr (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE TRIGGER nt.tr_ai AFTER INSERT ON nt.tr FOR EACH ROW UPDATE nt.n SET n = n + 1 WHERE id = 1")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "INSERT INTO nt.i VALUES (1, 1)",
				"BEGIN", "INSERT INTO nt.tr VALUES (1, 1)", "INSERT INTO nt.i VALUES (2, 2)", "COMMIT",
				"INSERT INTO nt.i VALUES (3, 3)", "INSERT INTO nt.i VALUES (4, 4)")
		})
	// With 4 workers, the transactions after it run beside it: none may
	// be applied, nor its error be the run's.
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			db, o := binlogTarget(t, sc, "ROW", workers, "--gtid-strict-mode=1", "--transaction-isolation=READ-COMMITTED")
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			var applied *replay.AppliedError
			if !errors.As(err, &applied) || !strings.Contains(err.Error(), "in parts") || !strings.Contains(log.String(), "READ-COMMITTED") {
				t.Fatalf("replay: %v, want it to stop after the transaction the target logged in parts (at READ-COMMITTED)\nlog:\n%s", err, log.String())
			}
			if sum == nil || sum.Applied != 2 || !strings.Contains(sum.StopReason, "holds the transaction it names") {
				t.Fatalf("summary %+v, want 2 transactions applied, the stop after the second\nlog:\n%s", sum, log.String())
			}
			var n int
			if err := db.QueryRow("SELECT n FROM nt.n WHERE id = 1").Scan(&n); err != nil || n != 1 {
				t.Fatalf("the trigger's MyISAM count is %d (%v), want 1: the transaction applied once", n, err)
			}
			o.Select.StartPosition, o.Recovery.Resume, o.Apply.TargetGTIDs = txn.Position{}, true, replay.GTIDsOwn
			log.Reset()
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("resume with --target-gtids own: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
		})
	}
}

// TestMemoryTablesKeepGTIDs: a target restored from a base and started
// has its MEMORY tables empty, and the first open of each logs "TRUNCATE
// TABLE ... generated by server for memory table after a restart" under
// the session's GTID: the source GTID the replay set for its next
// transaction (which then finds it taken: refused under
// gtid_strict_mode), or one of the target's own. The replay opens them
// out of the binlog first; the source's own such TRUNCATE is in the
// binlogs and replayed. The target must end at the source's GTID
// position, under gtid_strict_mode, in ROW and MIXED format.
func TestMemoryTablesKeepGTIDs(t *testing.T) {
	sc := replaytest.New(t, "MIXED",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE TABLE nt.mem (id INT PRIMARY KEY, v INT) ENGINE=MEMORY",
				"CREATE TABLE nt.mem2 (id INT PRIMARY KEY, v INT) ENGINE=MEMORY",
				"INSERT INTO nt.mem VALUES (1, 1), (2, 2)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "INSERT INTO nt.i VALUES (1, 1)",
				"REPLACE INTO nt.mem VALUES (3, 3)", "INSERT INTO nt.i VALUES (2, 2)",
				"INSERT INTO nt.mem2 VALUES (1, 1)", "INSERT INTO nt.i VALUES (3, 3)")
		})
	srcPos, _ := gtidState(t, sc.SourceDB)
	for _, format := range []string{"ROW", "MIXED"} {
		t.Run(format, func(t *testing.T) {
			db, o := binlogTarget(t, sc, format, 2, "--gtid-strict-mode=1")
			replayKeepingGTIDs(t, o, db, sc, srcPos, "nt")
		})
	}
}

// TestStopWithTemporaryTableKeepsGTIDs: the replay stops at a stop point
// while a temporary table of the binlog is open in its statement
// session. At a disconnect, the server logs a DROP of a session's
// temporary tables under the session's domain and server id, the
// source's: the next GTID of the source's, which a later resume (or the
// source) then finds taken. The target must end at the GTID of the last
// transaction applied, in ROW and MIXED format.
func TestStopWithTemporaryTableKeepsGTIDs(t *testing.T) {
	var stop, before string
	sc := replaytest.New(t, "STATEMENT",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
		},
		func(ctx context.Context, db *sql.DB) error {
			gtids, err := execLogging(ctx, db, "CREATE TEMPORARY TABLE nt.tmp (id INT PRIMARY KEY) ENGINE=InnoDB",
				"INSERT INTO nt.tmp VALUES (1)", "INSERT INTO nt.i SELECT id, 1 FROM nt.tmp",
				"INSERT INTO nt.i VALUES (2, 2)", "DROP TEMPORARY TABLE nt.tmp")
			if err == nil {
				before, stop = gtids[2], gtids[3]
			}
			return err
		})
	stopAt := mustParseGTID(t, stop)
	for _, format := range []string{"ROW", "MIXED"} {
		t.Run(format, func(t *testing.T) {
			db, o := binlogTarget(t, sc, format, 2, "--gtid-strict-mode=1")
			o.Select.StopBeforeGTID = stopAt
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil || !sum.SourceGTIDs {
				t.Fatalf("replay: %v (source GTIDs kept: %v)\nlog:\n%s", err, sum != nil && sum.SourceGTIDs, log.String())
			}
			if pos, state := gtidState(t, db); pos != before {
				t.Fatalf("target GTID position %q (state %q), want %q, the last transaction applied: the target logged "+
					"GTIDs of its own past it", pos, state, before)
			}
		})
	}
}

// TestCreateTableSelectWithTemporaryTableKeepsGTIDs: a MIXED-format source
// logs an unsafe CREATE TABLE ... SELECT (LIMIT) in row format while its
// session has a temporary table open. Kept under its source GTID, it runs
// in row format; the replay's statement session, which holds the
// temporary table, logs in STATEMENT format, and the server lets such a
// session switch to row format but not back ("Cannot switch out of the
// row-based binary log format when the session has open temporary
// tables"). The target must end at the source's GTID position with the
// source's tables.
func TestCreateTableSelectWithTemporaryTableKeepsGTIDs(t *testing.T) {
	sc := replaytest.New(t, "MIXED",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"INSERT INTO nt.i VALUES (1, 1), (2, 2), (3, 3)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE TEMPORARY TABLE nt.tmp (id INT PRIMARY KEY) ENGINE=InnoDB",
				"INSERT INTO nt.tmp VALUES (10)",
				"CREATE TABLE nt.cs (PRIMARY KEY (id)) SELECT id, v FROM nt.i LIMIT 2",
				"INSERT INTO nt.i SELECT id, 1 FROM nt.tmp", "DROP TEMPORARY TABLE nt.tmp",
				"INSERT INTO nt.i VALUES (20, 2)")
		})
	srcPos, _ := gtidState(t, sc.SourceDB)
	db, o := binlogTarget(t, sc, "ROW", 2, "--gtid-strict-mode=1")
	replayKeepingGTIDs(t, o, db, sc, srcPos, "nt")
}

// TestResumeRefusesGTIDsPastCheckpoint: the target's binlog holds a GTID
// of the source's domain past the checkpoint (the server logs one itself,
// the DROP of a killed replay session's temporary tables, under the
// session's domain and server id): resuming with the source's GTIDs kept
// would log the next source transactions out of order, or twice without
// gtid_strict_mode. The resume must refuse, naming it; with
// --target-gtids own it goes on.
func TestResumeRefusesGTIDsPastCheckpoint(t *testing.T) {
	var stop string
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt", "CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
		},
		func(ctx context.Context, db *sql.DB) error {
			var stmts []string
			for i := 1; i <= 6; i++ {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO nt.i VALUES (%d, %d)", i, i))
			}
			gtids, err := execLogging(ctx, db, stmts...)
			if err == nil {
				stop = gtids[3]
			}
			return err
		})
	stopAt := mustParseGTID(t, stop)
	db, o := binlogTarget(t, sc, "", 1)
	o.Select.StopBeforeGTID = stopAt
	var log strings.Builder
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	// What a killed session's DROP of its temporary tables logs: the
	// next sequence number of the source's domain, as the source's server.
	if err := replaytest.ExecAll(context.Background(), db, fmt.Sprintf("SET SESSION server_id=%d", stopAt.Server),
		"CREATE DATABASE scratch"); err != nil {
		t.Fatal(err)
	}
	o.Select.StartPosition, o.Select.StopBeforeGTID, o.Recovery.Resume, o.Select.ToEnd = txn.Position{}, txn.GTID{}, true, true
	log.Reset()
	if _, err := replay.Run(context.Background(), o, &log); err == nil || !strings.Contains(err.Error(), "past the checkpoint") {
		t.Fatalf("resume: %v, want a refusal naming the GTID past the checkpoint\nlog:\n%s", err, log.String())
	}
	o.Apply.TargetGTIDs = replay.GTIDsOwn
	log.Reset()
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("resume with --target-gtids own: %v\nlog:\n%s", err, log.String())
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
}

// binlogTarget starts a target from sc's base with its binlog on, in
// format ("": the sandbox's default), with args, and returns it open,
// with the options that replay sc into it with workers.
func binlogTarget(t *testing.T, sc *replaytest.Scenario, format string, workers int, args ...string) (*sql.DB, replay.Options) {
	t.Helper()
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, BinlogFormat: format, Args: args})
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := opts(workers)
	o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
	return db, o
}

// TestPendingLoggedRefusesNotApplied: a kill left a transaction writing
// MyISAM pending, after the target logged it under its source GTID (its
// write done). Keeping the source's GTIDs, --uncertain not-applied would
// apply it again and log its GTID twice (silently, without
// gtid_strict_mode): the resume must refuse, saying the target logged it;
// --uncertain applied goes on, and the target ends at the source's state
// and GTID position.
func TestPendingLoggedRefusesNotApplied(t *testing.T) {
	var pending string
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE TABLE nt.m (id INT PRIMARY KEY, v INT) ENGINE=MyISAM")
		},
		func(ctx context.Context, db *sql.DB) error {
			gtids, err := execLogging(ctx, db, "INSERT INTO nt.i VALUES (1, 1)", "INSERT INTO nt.m VALUES (1, 1)",
				"INSERT INTO nt.i VALUES (2, 2)")
			if err == nil {
				pending = gtids[1]
			}
			return err
		})
	srcPos, _ := gtidState(t, sc.SourceDB)
	db, o := binlogTarget(t, sc, "", 1)
	o.Select.StopBeforeGTID = mustParseGTID(t, pending)
	var log strings.Builder
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	// What a run killed after the target logged the MyISAM write leaves.
	leavePending(t, sc, db, pending, "INSERT INTO nt.m VALUES (1, 1)", "nontrans")
	o.Select.StartPosition, o.Select.StopBeforeGTID, o.Recovery.Resume, o.Select.ToEnd = txn.Position{}, txn.GTID{}, true, true
	o.Recovery.Uncertain = replay.OutcomeNotApplied
	log.Reset()
	if _, err := replay.Run(context.Background(), o, &log); err == nil || !strings.Contains(err.Error(), "binlog holds GTID "+pending) {
		t.Fatalf("resume --uncertain not-applied: %v, want a refusal: the target logged the pending transaction\nlog:\n%s", err, log.String())
	}
	o.Recovery.Uncertain = replay.OutcomeApplied
	log.Reset()
	replayKeepingGTIDs(t, o, db, sc, srcPos, "nt")
}

// TestPendingDDLLoggedNotRunAgain: a kill left a CREATE OR REPLACE TABLE
// ... SELECT pending (run again on resume whatever became of it, without
// source GTIDs), after the target committed and logged it under its
// source GTID. Keeping the source's GTIDs, the target's binlog says it
// committed (a DDL is logged as it commits, whole): run again, it would
// be logged twice (refused under gtid_strict_mode, silently without).
// The resume must skip it, and the target end at the source's state and
// GTID position.
func TestPendingDDLLoggedNotRunAgain(t *testing.T) {
	const ddl = "CREATE OR REPLACE TABLE nt.c (PRIMARY KEY (id)) SELECT id, v FROM nt.i"
	sc, pending := ntScenario(t, nil, []string{"INSERT INTO nt.i VALUES (3, 3)", ddl, "INSERT INTO nt.i VALUES (4, 4)"}, 1)
	srcPos, _ := gtidState(t, sc.SourceDB)
	db, o := resumeAfterLoggedDDL(t, sc, "", ddl, pending)
	if _, out := replayKeepingGTIDs(t, o, db, sc, srcPos, "nt"); !strings.Contains(out, "not run again") {
		t.Fatalf("the resume did not say it skipped the DDL the target had logged\nlog:\n%s", out)
	}
}

// TestPendingCreateLoggedAsDropStops: an earlier run's CREATE OR REPLACE
// TABLE ... SELECT failed after dropping the table it replaces (a lost
// target, soak seed 31426): the target logged the DROP it generates for
// that under the transaction's GTID, and the table is gone. Resuming
// keeping the source's GTIDs must stop before the DDL, naming the missing
// table and --target-gtids own, with nothing applied (on main it skipped
// the DDL as committed: the table stayed missing); --resume --target-gtids
// own then runs it again, to the source's tables.
func TestPendingCreateLoggedAsDropStops(t *testing.T) {
	const ddl = "CREATE OR REPLACE TABLE nt.c (PRIMARY KEY (id)) SELECT id, v FROM nt.i"
	sc, pending := ntScenario(t, []string{"CREATE TABLE nt.c (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "INSERT INTO nt.c VALUES (9, 9)"},
		[]string{"INSERT INTO nt.i VALUES (3, 3)", ddl, "INSERT INTO nt.i VALUES (4, 4)", "INSERT INTO nt.c VALUES (5, 5)"}, 1)
	db, o := resumeAfterLoggedDDL(t, sc, "", "DROP TABLE IF EXISTS nt.c /* Generated to handle failed CREATE OR REPLACE */", pending)
	var log strings.Builder
	_, err := replay.Run(context.Background(), o, &log)
	if err == nil || !errors.Is(err, pipeline.ErrLoggedCreateMissing) || !strings.Contains(err.Error(), "nt.c") ||
		!strings.Contains(err.Error(), "--target-gtids own") {
		t.Fatalf("resume: %v, want a stop before the DDL naming nt.c and --target-gtids own\nlog:\n%s", err, log.String())
	}
	if pos, _ := gtidState(t, db); pos != pending {
		t.Fatalf("target GTID position %q, want %q: nothing after the DROP the failed statement logged", pos, pending)
	}
	o.Apply.TargetGTIDs = replay.GTIDsOwn
	log.Reset()
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("--resume --target-gtids own: %v\nlog:\n%s", err, log.String())
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
}

// ntScenario is a STATEMENT-format source whose base holds database nt
// with table nt.i (rows 1 and 2) and the tables of setup; work runs after
// the base on one session. It returns the scenario and the GTID
// work[pending] was logged under.
func ntScenario(t *testing.T, setup, work []string, pending int) (*replaytest.Scenario, string) {
	t.Helper()
	var gtid string
	sc := replaytest.New(t, "STATEMENT",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, append([]string{"CREATE DATABASE nt",
				"CREATE TABLE nt.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "INSERT INTO nt.i VALUES (1, 1), (2, 2)"}, setup...)...)
		},
		func(ctx context.Context, db *sql.DB) error {
			gtids, err := execLogging(ctx, db, work...)
			if err == nil {
				gtid = gtids[pending]
			}
			return err
		})
	return sc, gtid
}

// resumeAfterLoggedDDL replays sc into a target logging its binlog in
// format (under gtid_strict_mode) up to the DDL ddl, whose source GTID is
// pending, then leaves the target as a run killed right after the target
// committed and logged that DDL (leavePending), and returns the target
// and the options of the resume.
func resumeAfterLoggedDDL(t *testing.T, sc *replaytest.Scenario, format, ddl, pending string) (*sql.DB, replay.Options) {
	t.Helper()
	db, o := binlogTarget(t, sc, format, 1, "--gtid-strict-mode=1")
	o.Select.StopBeforeGTID = mustParseGTID(t, pending)
	var log strings.Builder
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	leavePending(t, sc, db, pending, ddl, "ddl")
	o.Select.StartPosition, o.Select.StopBeforeGTID, o.Recovery.Resume, o.Select.ToEnd = txn.Position{}, txn.GTID{}, true, true
	return db, o
}

// execLogging runs stmts on one connection of db and returns, after each,
// the GTID the session last logged (@@last_gtid).
func execLogging(ctx context.Context, db *sql.DB, stmts ...string) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	gtids := make([]string, len(stmts))
	for i, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtids[i]); err != nil {
			return nil, err
		}
	}
	return gtids, nil
}

func mustParseGTID(t *testing.T, s string) txn.GTID {
	t.Helper()
	g, err := txn.ParseGTID(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// leavePending makes the target db look as a run killed right after the
// target committed stmt leaves it: stmt, the statement of sc's
// transaction with GTID gtid, run and logged under that GTID, and the
// checkpoint naming the transaction pending in state ("nontrans" or
// "ddl").
func leavePending(t *testing.T, sc *replaytest.Scenario, db *sql.DB, gtid, stmt, state string) {
	t.Helper()
	g := mustParseGTID(t, gtid)
	// A print of this version that matches nothing: a DDL reads as run.
	leaveMarked(t, db, fmt.Sprintf("SET SESSION gtid_domain_id=%d, SESSION server_id=%d, SESSION gtid_seq_no=%d", g.Domain, g.Server, g.Seq),
		stmt, markPendingSQL(state, txnStart(t, sc, g), gtid, schema.DigestVersion+"x", "it writes non-transactional tables"))
}

// leaveMarked runs stmts on one connection of db, the last ones out of
// the binlog from the mark on (the checkpoint's, markPendingSQL).
func leaveMarked(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	last := len(stmts) - 1
	stmts = append(stmts[:last:last], "SET SESSION sql_log_bin=0", stmts[last])
	if err := replaytest.ExecAll(context.Background(), db, stmts...); err != nil {
		t.Fatal(err)
	}
}

// markPendingSQL is the statement that makes the checkpoint name the
// transaction starting at start, with GTID gtid, pending in state ("ddl",
// "nontrans"), with the print and what given.
func markPendingSQL(state string, start txn.Position, gtid, print, what string) string {
	return fmt.Sprintf("UPDATE binlog_replay.checkpoint SET state='%s', ddl_file='%s', ddl_pos=%d, pending_gtid='%s', "+
		"pending_print='%s', pending_what='%s'", state, start.File, start.Offset, gtid, print, what)
}

// txnStart returns where sc's transaction with GTID g starts.
func txnStart(t *testing.T, sc *replaytest.Scenario, g txn.GTID) txn.Position {
	t.Helper()
	for _, tx := range scenarioTxns(t, sc) {
		if tx.GTID == g {
			return tx.Start
		}
	}
	t.Fatalf("no transaction with GTID %s", g)
	return txn.Position{}
}

// replayUpTo replays sc, keeping the source's GTIDs, onto a target
// writing its binlog up to the transaction starting at start, and returns
// the target and the options that resume from there to the end.
func replayUpTo(t *testing.T, sc *replaytest.Scenario, start txn.Position) (*sql.DB, replay.Options) {
	t.Helper()
	db, o := binlogTarget(t, sc, "", 1)
	o.Select.StopPosition = start
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("replay up to %s: %v", start, err)
	}
	o.Select.StartPosition, o.Select.StopPosition, o.Recovery.Resume, o.Select.ToEnd = txn.Position{}, txn.Position{}, true, true
	return db, o
}

// TestSequencesKeepGTIDs: a sequence's change survives a ROLLBACK, and a
// target logging its binlog logs it as a transaction of its own, whatever
// the transaction around it. A source transaction that only changes a
// sequence (SELECT NEXTVAL, SETVAL) is kept under its source GTID; one
// that also writes a table (INSERT ... NEXTVAL) would be logged in two
// parts, the second under a GTID of the target's own: the replay must
// stop before it, nothing of it applied, the target at the GTID and the
// sequence state of the transaction before, and --resume --target-gtids
// own goes on to the source's state (the sequence's included). Without
// the target's binlog, every one of them is applied.
func TestSequencesKeepGTIDs(t *testing.T) {
	var before, mixed string // the GTIDs of the last sequence-only transaction and of the mixed one
	var seqBefore int64      // the sequence's next_not_cached_value after the first
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sq",
				"CREATE TABLE sq.i (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE SEQUENCE sq.s START WITH 1 INCREMENT BY 1 NOCACHE")
		},
		func(ctx context.Context, db *sql.DB) error {
			gtids, err := execLogging(ctx, db, "INSERT INTO sq.i VALUES (1, 1)", "SELECT NEXTVAL(sq.s)",
				"INSERT INTO sq.i VALUES (2, 2)", "SELECT SETVAL(sq.s, 100)")
			if err != nil {
				return err
			}
			before = gtids[3]
			if err := db.QueryRowContext(ctx, "SELECT next_not_cached_value FROM sq.s").Scan(&seqBefore); err != nil {
				return err
			}
			if gtids, err = execLogging(ctx, db, "INSERT INTO sq.i VALUES (NEXTVAL(sq.s), 3)"); err != nil {
				return err
			}
			mixed = gtids[0]
			return replaytest.ExecAll(ctx, db, "INSERT INTO sq.i VALUES (500, 5)", "SELECT NEXTVAL(sq.s)")
		})
	if before == "" || before == mixed {
		t.Fatalf("the source did not log the sequence's changes as expected: GTIDs %q, then %q", before, mixed)
	}
	t.Run("binlog off", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
		if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
			t.Fatal(err)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "sq")
	})
	srcPos, _ := gtidState(t, sc.SourceDB)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			db, o := binlogTarget(t, sc, "ROW", workers, "--gtid-strict-mode=1")
			var log strings.Builder
			_, err := replay.Run(context.Background(), o, &log)
			var ae *replay.ApplyError
			if !errors.As(err, &ae) || ae.GTID != mixed || !strings.Contains(err.Error(), "changes the sequence sq.s and other tables") {
				t.Fatalf("replay: %v, want it stopped before %s, which changes the sequence and a table\nlog:\n%s", err, mixed, log.String())
			}
			var seq int64
			if err := db.QueryRow("SELECT next_not_cached_value FROM sq.s").Scan(&seq); err != nil {
				t.Fatal(err)
			}
			if pos, state := gtidState(t, db); pos != before || seq != seqBefore {
				t.Fatalf("target GTID position %q (state %q), sequence at %d, want %q and %d: the transaction before the refused one",
					pos, state, seq, before, seqBefore)
			}
			o.Select.StartPosition, o.Recovery.Resume, o.Apply.TargetGTIDs = txn.Position{}, true, replay.GTIDsOwn
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("resume with --target-gtids own: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "sq")
			if pos, _ := gtidState(t, db); pos == srcPos {
				t.Fatalf("target GTID position %q is the source's: own GTIDs were asked for", pos)
			}
		})
	}
}

// TestSequenceMinimalImage: with binlog_row_image=MINIMAL a source logs,
// for NEXTVAL and SETVAL, a sequence's row with only the columns they
// change. A target logging its binlog refuses such a row by passthrough
// (error 4085: it checks the sequence's options, the missing columns
// among them, before it fills them in; MDEV-37366), and so does
// mariadb-binlog | mariadb. The replay must apply them (as SQL that
// keeps the sequence's other columns) and end at the source's state,
// with the target's binlog on or off, whatever the workers.
func TestSequenceMinimalImage(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sq",
				"CREATE TABLE sq.i (id INT PRIMARY KEY, v BIGINT) ENGINE=InnoDB",
				"CREATE SEQUENCE sq.s START WITH 1000 INCREMENT BY 3 NOCACHE",
				"CREATE SEQUENCE sq.c START WITH 1 INCREMENT BY 1 CACHE 5")
		},
		func(ctx context.Context, db *sql.DB) error {
			_, err := execLogging(ctx, db, "SET SESSION binlog_row_image = MINIMAL",
				"SELECT NEXTVAL(sq.s)", "INSERT INTO sq.i VALUES (1, NEXTVAL(sq.s))",
				"BEGIN", "INSERT INTO sq.i VALUES (2, NEXTVAL(sq.s)), (3, NEXTVAL(sq.c))", "UPDATE sq.i SET v = v + 1 WHERE id = 1", "COMMIT",
				"SELECT SETVAL(sq.s, 5000)", "INSERT INTO sq.i SELECT seq + 10, NEXTVAL(sq.c) FROM sq.seq_1_to_12",
				"INSERT INTO sq.i VALUES (100, NEXTVAL(sq.s))")
			return err
		})
	partial := 0
	for _, tx := range scenarioTxns(t, sc) {
		for _, e := range tx.Events {
			if e.Kind == txn.EventRows && e.Rows.Table.SequenceShaped() && slices.Contains(e.Rows.Columns, false) {
				partial++
			}
		}
	}
	if partial < 4 {
		t.Fatalf("the source logged %d sequence rows with a partial image, want at least 4", partial)
	}
	for _, workers := range []int{1, 4} {
		for _, binlogOn := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d workers, target binlog %v", workers, binlogOn), func(t *testing.T) {
				var db *sql.DB
				var o replay.Options
				if binlogOn {
					db, o = binlogTarget(t, sc, "ROW", workers)
					o.Apply.TargetGTIDs = replay.GTIDsOwn
				} else {
					var tgt *sandbox.Server
					tgt, db = sc.Target(t)
					o = opts(workers)
					o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
				}
				// One worker without compaction decodes no row images
				// but these (binlog.Options.DecodeSequences).
				o.Apply.Compact = workers > 1
				var log strings.Builder
				if _, err := replay.Run(context.Background(), o, &log); err != nil {
					t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
				}
				replaytest.RequireEqual(t, db, sc.SourceDB, "sq")
			})
		}
	}
}

// TestPendingTemporaryTableLoggedStops: a kill (or a restart of the
// target) left a CREATE TEMPORARY TABLE pending after the target logged
// it under its source GTID. The resume takes it as run (run again, its
// GTID would be logged twice), but the table it created lived in the
// earlier run's session and ended with it: the statements after it that
// use it cannot be applied as on the source. The resume must record it
// and stop there, as a resume refuses where temporary tables are open,
// instead of failing on the next statement (1146) with its outcome
// unknown.
func TestPendingTemporaryTableLoggedStops(t *testing.T) {
	const ddl = "CREATE TEMPORARY TABLE nt.tmp (id INT PRIMARY KEY) ENGINE=MyISAM"
	sc, pending := ntScenario(t, nil, []string{"INSERT INTO nt.i VALUES (3, 3)", ddl, "INSERT INTO nt.tmp VALUES (1), (2)",
		"INSERT INTO nt.i SELECT id + 10, 1 FROM nt.tmp", "DROP TEMPORARY TABLE nt.tmp", "INSERT INTO nt.i VALUES (4, 4)"}, 1)
	// MIXED: the target logs a CREATE TEMPORARY TABLE (ROW does not).
	db, o := resumeAfterLoggedDDL(t, sc, "MIXED", ddl, pending)
	var log strings.Builder
	_, err := replay.Run(context.Background(), o, &log)
	if err == nil || !strings.Contains(err.Error(), "the binlog has temporary tables open there (nt.tmp") {
		t.Fatalf("resume: %v, want it stopped after the CREATE TEMPORARY TABLE, naming the table lost with the earlier session\nlog:\n%s",
			err, log.String())
	}
	if pos, _ := gtidState(t, db); pos != pending {
		t.Fatalf("target GTID position %q, want %q: the CREATE TEMPORARY TABLE's, nothing after it", pos, pending)
	}
	cp, err := replay.ReadCheckpoint(context.Background(), db)
	if err != nil || cp == nil || cp.Applied != 2 || !strings.Contains(cp.TempTables, "nt.tmp") {
		t.Fatalf("checkpoint %+v (%v), want 2 transactions applied, the CREATE TEMPORARY TABLE recorded with nt.tmp open", cp, err)
	}
	if _, err := replay.Run(context.Background(), o, &log); err == nil || !strings.Contains(err.Error(), "temporary tables open there") {
		t.Fatalf("a second resume: %v, want it refused where nt.tmp is open", err)
	}
}

// TestPendingDDLBelowServerSequence: the source logged a DDL under a
// sequence number below one its server id had logged before (SET
// gtid_seq_no, gtid_strict_mode off). An earlier run stopped with the DDL
// marked pending and not run, so the target's GTID state holds the higher
// number for that server id. The resume must run the DDL: the target's
// binlog does not hold its GTID. It took the higher number for its GTID
// logged and skipped the DDL, exit 0, the column missing.
func TestPendingDDLBelowServerSequence(t *testing.T) {
	sc, db, o := leaveBelowServerSequence(t)
	var log strings.Builder
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("resume: %v\nlog:\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "not run again") {
		t.Fatalf("the resume skipped the DDL as logged\nlog:\n%s", log.String())
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
}

// TestPendingDDLBelowServerSequenceRotated is
// TestPendingDDLBelowServerSequence with the target's binlog rotated five
// times since the run stopped: its newest files, which the resume reads
// for the DDL's GTID, do not hold it, and the older ones were not read.
// The resume must say that it cannot tell (it said "not logged", and a
// DDL the target had logged there would have run twice), and go on when
// the operator settles it.
func TestPendingDDLBelowServerSequenceRotated(t *testing.T) {
	const flush = "FLUSH NO_WRITE_TO_BINLOG BINARY LOGS"
	sc, db, o := leaveBelowServerSequence(t, flush, flush, flush, flush, flush)
	var log strings.Builder
	_, err := replay.Run(context.Background(), o, &log)
	var ue *replay.UncertainError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "the older ones were not read") {
		t.Fatalf("resume: %v; want an *UncertainError saying the older binlog files were not read\nlog:\n%s", err, log.String())
	}
	o.Recovery.Uncertain = replay.OutcomeNotApplied
	log.Reset()
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("resume --uncertain not-applied: %v\nlog:\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "settled by --uncertain not-applied") {
		t.Fatalf("the resume did not say what settled the DDL\nlog:\n%s", log.String())
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
}

// leaveBelowServerSequence makes the scenario of
// TestPendingDDLBelowServerSequence: a DDL logged with a number below its
// server id's last, replayed up to it and marked pending, not run (its
// mark holds the print of the table as it is before it), after running
// stmts on the target. It returns the resume's options.
func leaveBelowServerSequence(t *testing.T, stmts ...string) (*replaytest.Scenario, *sql.DB, replay.Options) {
	t.Helper()
	const ddl = "ALTER TABLE nt.i ADD COLUMN w INT NOT NULL DEFAULT 7"
	sc, pending := ntScenario(t, nil, []string{"SET SESSION server_id = 77", "SET SESSION gtid_seq_no = 100",
		"INSERT INTO nt.i VALUES (3, 3)", "SET SESSION gtid_seq_no = 50", ddl, "INSERT INTO nt.i (id, v) VALUES (4, 4)"}, 4)
	if !strings.HasSuffix(pending, "-77-50") {
		t.Fatalf("the DDL was logged as %s, want 0-77-50", pending)
	}
	start := txnStart(t, sc, mustParseGTID(t, pending))
	db, o := replayUpTo(t, sc, start)
	print, err := schema.Fingerprint(context.Background(), db, []byte(ddl), "nt")
	if err != nil {
		t.Fatal(err)
	}
	leaveMarked(t, db, append(stmts, markPendingSQL("ddl", start, pending, print.Digest, ""))...)
	return sc, db, o
}

// TestPendingDDLLoggedAsOwnInAnotherDomain: the target was lost while it
// ran a DDL of domain 0, after a transaction of domain 1; its crash
// recovery completed the DDL and logged it under its own server id and
// the domain's next number. Resuming keeping the source's GTIDs must
// refuse, as when the domains are one: the check read only the last
// transaction's domain, and the resume went on, exit 0, the target's
// binlog holding its own GTID for the source's DDL (soak seed 93641).
func TestPendingDDLLoggedAsOwnInAnotherDomain(t *testing.T) {
	const ddl = "ALTER TABLE nt.i ADD COLUMN w INT NOT NULL DEFAULT 7"
	sc, pending := ntScenario(t, nil, []string{"INSERT INTO nt.i VALUES (3, 3)", "SET SESSION gtid_domain_id = 1",
		"INSERT INTO nt.i VALUES (4, 4)", "SET SESSION gtid_domain_id = 0", ddl, "INSERT INTO nt.i (id, v) VALUES (5, 5)"}, 4)
	g := mustParseGTID(t, pending)
	start := txnStart(t, sc, g)
	db, o := replayUpTo(t, sc, start)
	// As the crash recovery: the DDL run and logged under the target's
	// own server id, the checkpoint naming it pending.
	leaveMarked(t, db, fmt.Sprintf("SET SESSION gtid_domain_id=%d, SESSION gtid_seq_no=%d", g.Domain, g.Seq), ddl,
		markPendingSQL("ddl", start, pending, schema.DigestVersion+"x", ""))
	_, err := replay.Run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), target.LoggedPendingAsOwn) {
		t.Fatalf("resume keeping the source's GTIDs: %v; want a refusal: %s", err, target.LoggedPendingAsOwn)
	}
	o.Apply.TargetGTIDs = replay.GTIDsOwn
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("--resume --target-gtids own: %v", err)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
}
