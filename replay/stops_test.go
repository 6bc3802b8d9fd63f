package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestStopPoints checks the stop points that are not met as given: the
// replay must stop where a server's START SLAVE UNTIL would, refuse before
// applying anything when the stop point cannot be right, and say when the
// binlogs end before it (a *StopNotReachedError, and the summary), never
// "reached the end of the binlogs" with no error as if all were well.
func TestStopPoints(t *testing.T) {
	sc := counterScenario(t, 20)
	txns := scenarioTxns(t, sc)
	mid := txns[9].GTID // the 10th transaction
	last := txns[len(txns)-1]
	otherServer := mid
	otherServer.Server += 1000 // after a failover: same domain, another server id
	gtid := func(d uint32, s uint32, seq uint64) txn.GTID {
		return txn.GTID{Flavor: txn.FlavorMariaDB, Domain: d, Server: s, Seq: seq}
	}
	lastFile := sc.Files[len(sc.Files)-1]
	fi, err := os.Stat(lastFile)
	if err != nil {
		t.Fatal(err)
	}
	pastEnd := txn.Position{File: filepath.Base(lastFile), Offset: uint64(fi.Size()) + 1000}
	atEnd := txn.Position{File: filepath.Base(lastFile), Offset: uint64(fi.Size())}
	run := func(t *testing.T, set func(o *replay.Options)) (*replay.Summary, error, string) {
		tgt, _ := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
		set(&o)
		var log strings.Builder
		sum, err := replay.Run(context.Background(), o, &log)
		return sum, err, log.String()
	}
	for _, c := range []struct {
		name    string
		set     func(o *replay.Options)
		applied uint64
		want    string // "": no error; "not reached", "passed" or another error's text
	}{
		{"GTID of another server id, same domain", func(o *replay.Options) { o.Select.StopBeforeGTID = otherServer }, 9, ""},
		{"GTID sequence number past the end", func(o *replay.Options) { o.Select.StopBeforeGTID = gtid(0, mid.Server, last.GTID.Seq+5) },
			uint64(len(txns)), "not reached"},
		{"GTID past the end, --stop-never-reached-ok", func(o *replay.Options) {
			o.Select.StopBeforeGTID, o.Select.StopNeverReachedOK = gtid(0, mid.Server, last.GTID.Seq+5), true
		}, uint64(len(txns)), ""},
		{"GTID of a domain never in the binlogs", func(o *replay.Options) { o.Select.StopBeforeGTID = gtid(99, mid.Server, 3) },
			0, "domain 99, which these binlogs never mention"},
		{"GTID before the start point", func(o *replay.Options) {
			o.Select.StopBeforeGTID = txns[2].GTID
			o.Select.StartPosition = txns[5].Start
		}, 0, "passed"},
		{"position past the end", func(o *replay.Options) {
			o.Select.StopPosition = pastEnd
		},
			uint64(len(txns)), "not reached"},
		{"position at the end of the binlogs", func(o *replay.Options) { o.Select.StopPosition = atEnd }, uint64(len(txns)), ""},
		{"position before the start point", func(o *replay.Options) {
			o.Select.StopPosition, o.Select.StartPosition = txns[2].End, txns[5].Start
		}, 0, "passed"},
		{"datetime in the future", func(o *replay.Options) { o.Select.StopDatetime = time.Now().Add(time.Hour) },
			uint64(len(txns)), "not reached"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sum, err, log := run(t, c.set)
			var missed *replay.StopNotReachedError
			var passed *replay.StopPassedError
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("replay: %v\nlog:\n%s", err, log)
			case c.want == "not reached" && (!errors.As(err, &missed) || !sum.StopNotReached ||
				!strings.Contains(sum.StopReason, "BEFORE THE STOP POINT")):
				t.Fatalf("replay: %v, summary %+v: want a *StopNotReachedError and the summary saying so", err, sum)
			case c.want == "passed" && !errors.As(err, &passed):
				t.Fatalf("replay: %v, want a *StopPassedError", err)
			case c.want != "" && c.want != "not reached" && c.want != "passed" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("replay: %v, want an error containing %q", err, c.want)
			}
			if got := uint64(0); sum != nil {
				got = sum.Applied
				if got != c.applied {
					t.Fatalf("%d transactions applied, want %d (stop reason %q)", got, c.applied, sum.StopReason)
				}
			} else if c.applied != 0 {
				t.Fatalf("no summary, want %d transactions applied", c.applied)
			}
		})
	}
}

// TestStopPassedOnResume resumes a replay that stopped at a GTID with a
// stop point the checkpoint already passed (a GTID, a datetime): refused,
// nothing more applied.
func TestStopPassedOnResume(t *testing.T) {
	sc := counterScenario(t, 10)
	txns := scenarioTxns(t, sc)
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Select.StopBeforeGTID = txns[12].GTID
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("replay to %s: %v", o.Select.StopBeforeGTID, err)
	}
	for _, c := range []struct {
		name string
		set  func(o *replay.Options)
	}{
		{"GTID", func(o *replay.Options) { o.Select.StopBeforeGTID = txns[6].GTID }},
		{"datetime", func(o *replay.Options) { o.Select.StopDatetime = txns[11].Time.Add(-time.Hour) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts(2)
			o.Files, o.TargetDSN, o.Recovery.Resume = sc.Files, tgt.DSN(""), true
			c.set(&o)
			sum, err := replay.Run(context.Background(), o, io.Discard)
			var passed *replay.StopPassedError
			if !errors.As(err, &passed) {
				t.Fatalf("resume: %v, want a *StopPassedError", err)
			}
			if sum != nil && sum.Applied != 0 {
				t.Fatalf("%d transactions applied after the refusal", sum.Applied)
			}
		})
	}
	if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp == nil || cp.Applied != 12 {
		t.Fatalf("checkpoint %+v (%v), want 12 transactions applied", cp, err)
	}
}

// TestResumeKeepsStopPoint: a resume given no stop point keeps the one of
// the run that made the checkpoint, reached or not (killed before it, or
// right after its last commit before it: the resume must not apply past
// the point the operator asked for, the DROP after it), and says so;
// another stop point given replaces it, and --to-end drops it. It keeps
// --databases too, and refuses others. A run killed before its stop point
// is simulated by rewriting the stop point its checkpoint keeps.
func TestResumeKeepsStopPoint(t *testing.T) {
	sc := replaytest.New(t, "ROW", excludeSetup, excludeWork(nil))
	txns := scenarioTxns(t, sc)
	ctx := context.Background()
	tgt, db := sc.Target(t)
	count := func() (n int) {
		t.Helper()
		if err := db.QueryRow("SELECT COUNT(*) FROM ex.r").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	run := func(what string, resume bool, set func(o *replay.Options), want int) string {
		t.Helper()
		o := opts(2)
		o.Files, o.TargetDSN, o.Recovery.Resume = sc.Files, tgt.DSN(""), resume
		if !resume {
			o.Select.StartPosition = sc.Start
		}
		set(&o)
		var log strings.Builder
		if _, err := replay.Run(ctx, o, &log); err != nil {
			t.Fatalf("%s: %v\nlog:\n%s", what, err, log.String())
		}
		if n := count(); n != want {
			t.Fatalf("%s: the target holds %d of the transactions, want %d\nlog:\n%s", what, n, want, log.String())
		}
		return log.String()
	}
	killedBefore := func(i int) {
		t.Helper()
		sel := fmt.Sprintf(`{"stop_before_gtid":%q,"databases":["ex"]}`, txns[i].GTID.String())
		if _, err := db.Exec("UPDATE binlog_replay.checkpoint SET selection = ? WHERE channel = 'default'", sel); err != nil {
			t.Fatal(err)
		}
	}
	run("first run, --stop-before-gtid #11, --databases ex", false, func(o *replay.Options) {
		o.Select.StopBeforeGTID, o.Select.Databases = txns[10].GTID, []string{"ex"}
	}, 10)
	killedBefore(20)
	log := run("resume with no stop point after a run killed before #21", true, func(*replay.Options) {}, 20)
	if !strings.Contains(log, "stop point kept from the checkpoint: --stop-before-gtid "+txns[20].GTID.String()) {
		t.Errorf("the resume does not say it kept the stop point:\n%s", log)
	}
	killedBefore(25)
	run("resume with --stop-position after #23", true, func(o *replay.Options) { o.Select.StopPosition = txns[22].End }, 23)
	// Killed right after its last commit before its stop point: the
	// checkpoint is at the transaction the stop point names, and the run
	// did not say it reached it.
	killedBefore(23)
	run("resume with no stop point after a run killed at #24, its stop point", true, func(*replay.Options) {}, 23)
	killedBefore(25)
	o := opts(2)
	o.Files, o.TargetDSN, o.Recovery.Resume, o.Select.Databases = sc.Files, tgt.DSN(""), true, []string{"other"}
	if _, err := replay.Run(ctx, o, io.Discard); err == nil || !strings.Contains(err.Error(), "a resume keeps them") {
		t.Fatalf("a resume with other --databases: %v, want it refused", err)
	}
	run("resume --to-end", true, func(o *replay.Options) { o.Select.ToEnd = true }, 30)
	replaytest.RequireEqual(t, db, sc.SourceDB, "ex")

	// A stop point reached is kept too: a bare resume applies nothing
	// (an interrupted run may have reached it just before its Ctrl-C).
	tgt, db = sc.Target(t)
	run("a run stopped before #11", false, func(o *replay.Options) { o.Select.StopBeforeGTID = txns[10].GTID }, 10)
	run("resume with no stop point after it", true, func(*replay.Options) {}, 10)
	run("resume --to-end", true, func(o *replay.Options) { o.Select.ToEnd = true }, 30)
}

// TestStopDatetimePassedOutOfOrder resumes, with a --stop-datetime, a
// replay whose checkpoint is past a transaction logged at or after that
// time but whose last applied transaction was logged before it (commit
// times need not rise in a binlog: SET TIMESTAMP, a statement that ran
// long). The stop point, the first transaction at or after the time, is
// behind the checkpoint: refused, nothing more applied.
func TestStopDatetimePassedOutOfOrder(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE od", "CREATE TABLE od.r (id INT PRIMARY KEY)")
		},
		oneSession("INSERT INTO od.r VALUES (1)", "INSERT INTO od.r VALUES (2)", "INSERT INTO od.r VALUES (3)",
			"INSERT INTO od.r VALUES (4)", "SET TIMESTAMP = UNIX_TIMESTAMP() + 3600", "INSERT INTO od.r VALUES (5)",
			"SET TIMESTAMP = DEFAULT", "INSERT INTO od.r VALUES (6)", "INSERT INTO od.r VALUES (7)",
			"INSERT INTO od.r VALUES (8)", "INSERT INTO od.r VALUES (9)", "INSERT INTO od.r VALUES (10)"))
	txns := scenarioTxns(t, sc)
	if len(txns) != 10 || !txns[4].Time.After(txns[6].Time) {
		t.Fatalf("want 10 transactions, the 5th logged an hour later: %d", len(txns))
	}
	ctx := context.Background()
	tgt, db := sc.Target(t)
	for _, workers := range []int{1, 4} {
		o := opts(workers)
		o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
		o.Select.StopPosition = txns[6].End
		if workers > 1 {
			o.Files, o.Select.StartPosition, o.Recovery.Resume = sc.Files, txn.Position{}, true
			o.Select.StopPosition = txns[7].End
		}
		if _, err := replay.Run(ctx, o, io.Discard); err != nil {
			t.Fatalf("replay to %s: %v", o.Select.StopPosition, err)
		}
		o = opts(workers)
		o.Files, o.TargetDSN, o.Recovery.Resume = sc.Files, tgt.DSN(""), true
		o.Select.StopDatetime = txns[4].Time.Add(-30 * time.Minute)
		sum, err := replay.Run(ctx, o, io.Discard)
		var passed *replay.StopPassedError
		if !errors.As(err, &passed) {
			t.Fatalf("resume with --stop-datetime %s: %v, want a *StopPassedError", o.Select.StopDatetime, err)
		}
		if sum != nil && sum.Applied != 0 {
			t.Fatalf("%d transactions applied after the refusal", sum.Applied)
		}
	}
	requireRows(t, db, "od.r", 8) // those applied before the refusals
}

// TestStopBeforeGTIDOutOfOrder stops before a GTID that occurs in the
// binlogs after another transaction of its domain with a higher sequence
// number (another server id: gtid_strict_mode off). The stop would be met
// at that one, before the GTID named: refused, naming both, nothing
// applied. Without the check the replay stopped there, exit 0, short of
// the transaction between.
func TestStopBeforeGTIDOutOfOrder(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE so", "CREATE TABLE so.r (id INT PRIMARY KEY)")
		},
		func(ctx context.Context, db *sql.DB) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			for i := 1; i <= 5; i++ {
				if _, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO so.r VALUES (%d)", i)); err != nil {
					return err
				}
			}
			var pos string
			if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
				return err
			}
			g, err := txn.ParseGTID(pos)
			if err != nil {
				return err
			}
			for _, q := range []string{
				"SET @id = @@server_id",
				fmt.Sprintf("SET SESSION server_id = 77, SESSION gtid_seq_no = %d", g.Seq+20), "INSERT INTO so.r VALUES (6)",
				"SET SESSION server_id = @id", fmt.Sprintf("SET SESSION gtid_seq_no = %d", g.Seq+1), "INSERT INTO so.r VALUES (7)",
				"INSERT INTO so.r VALUES (8)",
			} {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			return nil
		})
	txns := scenarioTxns(t, sc)
	if len(txns) != 8 || txns[5].GTID.Server != 77 || txns[6].GTID.Seq >= txns[5].GTID.Seq {
		t.Fatalf("want 8 transactions, the 6th of server id 77 ahead of the 7th: %d", len(txns))
	}
	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Select.StopBeforeGTID = sc.Files, tgt.DSN(""), sc.Start, txns[6].GTID
	sum, err := replay.Run(context.Background(), o, io.Discard)
	var oe *replay.StopOrderError
	if !errors.As(err, &oe) || oe.Met.GTID != txns[5].GTID.String() || oe.Later.Start != txns[6].Start {
		t.Fatalf("replay: %v (summary %+v); want a *replay.StopOrderError naming %s before %s", err, sum, txns[5].GTID, txns[6].GTID)
	}
	t.Logf("error: %v", err)
	requireRows(t, db, "so.r", 0)
}

// TestStopDatetimeBeforeStart starts at a position inside a binlog file
// (a base backup taken there) with a --stop-datetime that a transaction
// before the start, which the base holds, already reached: refused,
// nothing applied, reading files and reading from the source. It stopped
// before the first transaction read, exit 0, the target past the stop.
func TestStopDatetimeBeforeStart(t *testing.T) {
	sc, txns := tenInsertsSecondApart(t, false)
	if len(txns) != 10 || txns[7].Start.File != txns[0].Start.File || !txns[4].Time.Before(txns[5].Time) {
		t.Fatalf("want 10 transactions in one file, a second between the 5th and the 6th: %d", len(txns))
	}
	for _, from := range []string{"files", "source", "source by GTID"} {
		t.Run(from, func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(4)
			o.Files = sc.Files
			if from != "files" {
				o = sourceOpts(sc, 4)
			}
			o.TargetDSN = tgt.DSN("")
			// The base holds the first 7; the stop is the first second.
			o.Select.StartPosition, o.Select.StopDatetime = txns[7].Start, txns[0].Time
			if from == "source by GTID" {
				// Where the source starts sending is the start: read
				// with a dump of its own (it stopped before the first
				// transaction, nothing applied, exit 0, until
				// 2026-12-06).
				o.Select.StartPosition, o.Source.StartGTID = txn.Position{}, txns[6].GTID.String()
				o.Select.StartGTIDs, _ = txn.ParseGTIDSet(o.Source.StartGTID)
			}
			sum, err := replay.Run(context.Background(), o, io.Discard)
			var passed *replay.StopPassedError
			if !errors.As(err, &passed) || !strings.Contains(err.Error(), "before the start point") {
				t.Fatalf("replay: %v (summary %+v); want a *StopPassedError naming a transaction before the start", err, sum)
			}
			t.Logf("error: %v", err)
			requireRows(t, db, "sb.r", 0)
		})
	}
}

// TestStopDatetimeBeforeRotation starts right after a rotation (a base
// backup taken at FLUSH BINARY LOGS, as mysqldump --flush-logs takes it),
// with a --stop-datetime that transactions the base holds, all in the file
// before, already reach: the base is past the stop point. Refused, reading
// that file whole, from the files or the source; until 2026-12-06 the
// replay stopped before its first transaction, nothing applied, exit 0.
// Given only the files from the rotation on, it cannot tell: it says so.
func TestStopDatetimeBeforeRotation(t *testing.T) {
	sc, txns := tenInsertsSecondApart(t, true)
	if len(txns) != 10 || txns[5].Start.File == txns[4].Start.File || txns[6].Start.File != txns[5].Start.File {
		t.Fatalf("want 10 transactions, the 6th the first of a new file: %d", len(txns))
	}
	var fromRotation []string
	for _, f := range sc.Files {
		if logfile.Name(f) >= txns[5].Start.File {
			fromRotation = append(fromRotation, f)
		}
	}
	for _, from := range []string{"files", "source", "files from the rotation"} {
		t.Run(from, func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(4)
			o.Files = sc.Files
			switch from {
			case "source":
				o = sourceOpts(sc, 4)
			case "files from the rotation":
				o.Files = fromRotation
			}
			o.TargetDSN = tgt.DSN("")
			// The base holds the first 5, in the file before; the stop
			// is the first second.
			o.Select.StartPosition, o.Select.StopDatetime = txns[5].Start, txns[0].Time
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if from == "files from the rotation" {
				if err != nil || !strings.Contains(log.String(), "the file before it is not given") {
					t.Fatalf("replay: %v; want a warning that the file before the start is not given\n%s", err, log.String())
				}
				requireRows(t, db, "sb.r", 0)
				return
			}
			var passed *replay.StopPassedError
			if !errors.As(err, &passed) || !strings.Contains(err.Error(), "before the start point") {
				t.Fatalf("replay: %v (summary %+v); want a *StopPassedError naming a transaction before the start\n%s", err, sum, log.String())
			}
			t.Logf("error: %v", err)
			requireRows(t, db, "sb.r", 0)
			if from == "files" {
				rep, err := plan.Run(context.Background(), plan.Options{Files: sc.Files, StartPosition: txns[5].Start, StopDatetime: txns[0].Time})
				if err != nil || !strings.Contains(rep.Problems.Refusal, "before the start point") {
					t.Fatalf("plan: %v, refusal %q; want the same refusal", err, rep.Problems.Refusal)
				}
			}
		})
	}
}

// tenInsertsSecondApart returns a scenario of ten one-row inserts into
// sb.r, a second between the 5th and the 6th, and, with rotate, the binlog
// rotated (FLUSH BINARY LOGS) just before the 6th; and its transactions.
func tenInsertsSecondApart(t *testing.T, rotate bool) (*replaytest.Scenario, []*txn.Txn) {
	t.Helper()
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sb", "CREATE TABLE sb.r (id INT PRIMARY KEY)")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 1; i <= 10; i++ {
				if i == 6 {
					time.Sleep(1100 * time.Millisecond)
					if rotate {
						if err := replaytest.ExecAll(ctx, db, "FLUSH BINARY LOGS"); err != nil {
							return err
						}
					}
				}
				if err := replaytest.ExecAll(ctx, db, fmt.Sprintf("INSERT INTO sb.r VALUES (%d)", i)); err != nil {
					return err
				}
			}
			return nil
		})
	return sc, scenarioTxns(t, sc)
}
