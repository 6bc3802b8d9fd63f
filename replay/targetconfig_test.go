package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestTargetGlobalSettings replays statements and rows onto a target whose
// global settings differ from the source's, as a recovery server's own
// configuration may: autocommit off, another isolation level, sql_mode,
// time zone, auto-increment step, lc_time_names and
// explicit_defaults_for_timestamp; its binlog on, so that the replay keeps
// the source's GTIDs and writes its own tables out of the binlog (with
// autocommit off, that failed: "Cannot modify @@session.sql_log_bin
// inside a transaction"). The replay stops half way and resumes. The
// target must end equal to the source.
func TestTargetGlobalSettings(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE g",
			"CREATE TABLE g.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), ts TIMESTAMP NULL) ENGINE=InnoDB",
		)
	}
	work := func(ctx context.Context, db *sql.DB) error {
		var stmts []string
		for i := 0; i < 12; i++ {
			stmts = append(stmts,
				fmt.Sprintf("INSERT INTO g.t (v, ts) VALUES (CONCAT('a', %d, '\\\\', MONTHNAME(NOW())), NOW()), ('b', FROM_UNIXTIME(1765000000))", i),
				fmt.Sprintf("UPDATE g.t SET v = CONCAT(v, '\"x\"') WHERE id %% 5 = %d", i%5))
		}
		stmts = append(stmts, "CREATE TABLE g.d (id INT PRIMARY KEY, ts TIMESTAMP) ENGINE=InnoDB", "INSERT INTO g.d (id) VALUES (1)")
		return replaytest.ExecAll(ctx, db, stmts...)
	}
	for _, format := range []string{"STATEMENT", "ROW"} {
		t.Run(format, func(t *testing.T) {
			sc := replaytest.New(t, format, setup, work)
			txns := scenarioTxns(t, sc)
			tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, BinlogFormat: "MIXED", Args: []string{
				"--autocommit=0", "--transaction-isolation=READ-COMMITTED",
				"--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,ONLY_FULL_GROUP_BY,STRICT_ALL_TABLES",
				"--default-time-zone=+05:30", "--auto-increment-increment=3", "--auto-increment-offset=2",
				"--lc-time-names=de_DE", "--explicit-defaults-for-timestamp=0"}})
			db, err := tgt.Open(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			o := opts(4)
			o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
			o.Select.StopPosition = txns[len(txns)/2].End
			if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
				t.Fatal(err)
			}
			o.Recovery.Resume, o.Select.StartPosition, o.Select.StopPosition, o.Select.ToEnd = true, txn.Position{}, txn.Position{}, true
			if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
				t.Fatalf("resume: %v", err)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "g")
		})
	}
}

// TestTargetEvents replays onto a target whose event scheduler is on while
// an event is enabled in the replayed database: the event would write
// during the replay what the binlogs already hold (its source twin's
// writes are logged), so the replay is refused up front, naming the event
// and what to do; with --databases naming another database only, or the
// scheduler off, it runs.
func TestTargetEvents(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE ev", "CREATE DATABASE other",
			"CREATE TABLE ev.n (id INT PRIMARY KEY, ticks INT NOT NULL)", "INSERT INTO ev.n VALUES (1, 0)",
			"CREATE TABLE other.t (id INT PRIMARY KEY)",
			"CREATE EVENT ev.tick ON SCHEDULE EVERY 1 SECOND DO UPDATE ev.n SET ticks = ticks + 1",
		)
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "UPDATE ev.n SET ticks = ticks + 100", "INSERT INTO other.t VALUES (1)")
	}
	sc := replaytest.New(t, "ROW", setup, work)
	start := func(t *testing.T, scheduler string) (*sandbox.Server, *sql.DB) {
		tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: []string{"--event-scheduler=" + scheduler}})
		db, err := tgt.Open(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return tgt, db
	}
	t.Run("SchedulerOn", func(t *testing.T) {
		tgt, _ := start(t, "ON")
		o := opts(2)
		o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
		_, err := replay.Run(context.Background(), o, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "ev.tick") || !strings.Contains(err.Error(), "event_scheduler = OFF") {
			t.Fatalf("replay: %v, want a refusal naming ev.tick and the scheduler", err)
		}
	})
	t.Run("OtherDatabase", func(t *testing.T) {
		tgt, db := start(t, "ON")
		o := opts(2)
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Select.Databases = sc.Files, tgt.DSN(""), sc.Start, []string{"other"}
		if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
			t.Fatal(err)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "other")
	})
	t.Run("SchedulerOff", func(t *testing.T) {
		tgt, db := start(t, "OFF")
		o := opts(2)
		o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
		if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
			t.Fatal(err)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "ev", "other")
	})
}

// TestTargetColumnOrder replays row events logged with their column names
// (binlog_row_metadata=FULL) onto a target whose table has the same
// columns in another order: the server applies a row image by position,
// so each value would land in the other column, silently. The replay
// refuses it, naming the columns, by passthrough and as SQL.
func TestTargetColumnOrder(t *testing.T) {
	sc := formatScenario(t, "ROW", []string{"--binlog-row-metadata=FULL"},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE co", "CREATE TABLE co.t (id INT PRIMARY KEY, a INT, b INT)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "INSERT INTO co.t VALUES (1, 10, 20), (2, 30, 40)", "UPDATE co.t SET a = a + 1")
		})
	for _, apply := range []replay.ApplyMode{replay.ApplyAuto, replay.ApplySQL} {
		t.Run(fmt.Sprint(apply), func(t *testing.T) {
			tgt, db := sc.Target(t)
			if _, err := db.Exec("ALTER TABLE co.t MODIFY b INT AFTER id"); err != nil {
				t.Fatal(err)
			}
			o := withApply(opts(2), apply)
			o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
			_, err := replay.Run(context.Background(), o, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "column 2 is `a` in the binlog's table map and `b` on the target") {
				t.Fatalf("replay: %v, want a refusal naming columns a and b", err)
			}
		})
	}
}
