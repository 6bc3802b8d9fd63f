package replay_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestSourceCrashCut replays the binlogs of a source that crashed while it
// wrote a transaction to its binlog, and restarted: the file it was
// writing ends inside the transaction (cut here after a kill, as such a
// crash leaves it), which its crash recovery rolled back, and the
// restarted server logged its next transaction under the same GTID. Before,
// the replay refused the files ("file ends inside the transaction ...,
// and more files follow"): recovering from such a source was not possible
// without cutting the binlogs by hand. It must now apply every other
// transaction, leave the cut one out and say so, as `mariadb-binlog |
// mariadb` does (it prints a ROLLBACK where the restarted server's first
// file starts), reading the files or the source (which, before, stopped
// at the cut with exit 0: "the last binlog ends inside a transaction"),
// and plan must say the same.
func TestSourceCrashCut(t *testing.T) {
	ctx := context.Background()
	sc := replaytest.New(t, "ROW",
		oneSession("CREATE DATABASE cc", "CREATE TABLE cc.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"INSERT INTO cc.t VALUES (1, 1), (2, 2), (3, 3)"),
		oneSession("UPDATE cc.t SET v = v + 1 WHERE id = 1", "INSERT INTO cc.t VALUES (4, 4)"))
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "BEGIN", "UPDATE cc.t SET v = v + 100",
		"INSERT INTO cc.t VALUES (100, 100)", "COMMIT"); err != nil {
		t.Fatal(err)
	}
	// Before its XID event (19 bytes of header, 8 of XID, 4 of checksum).
	// A cut inside an event makes the source refuse to send the file
	// (error 1236, "binlog truncated in the middle of event"), as it
	// would to a replica: binlog's TestCrashCutTransaction reads such a
	// file.
	cut, end, files := crashWhileWriting(t, sc, func(cut *txn.Txn) uint64 { return cut.End.Offset - 31 })
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "UPDATE cc.t SET v = v + 1000 WHERE id <= 2",
		"INSERT INTO cc.t VALUES (5, 5)", "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	var err error
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	restarted := filepath.Base(sc.Files[len(files)])

	anchor, anchorDB := sc.Target(t)
	if err := reference.ReplayWithMariaDBBinlog(ctx, sc.Files, sc.Start.File, sc.Start.Offset, anchor.Socket); err != nil {
		t.Fatalf("anchor: %v", err)
	}
	db, sum := replayInto(t, sc, opts(4))
	want := binlog.CutTxn{Start: cut.Start, FileEnd: end, GTID: cut.GTID.String(), Next: restarted}
	if len(sum.CutByCrash) != 1 || sum.CutByCrash[0] != want {
		t.Fatalf("summary lists %+v as cut; want %+v", sum.CutByCrash, want)
	}
	replaytest.RequireEqual(t, db, anchorDB, "cc")
	// The kill came after the cut transaction committed, so the source
	// holds it (a crash while it was written to the binlog would have
	// left it prepared, and rolled back), and the full row images the
	// restarted source logged for ids 1 and 2 carry its +100: id 3, which
	// nothing wrote after it, and row 100 show it left out.
	var n100, v3 int
	if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM cc.t WHERE id = 100), (SELECT v FROM cc.t WHERE id = 3)").Scan(&n100, &v3); err != nil {
		t.Fatal(err)
	}
	if n100 != 0 || v3 != 3 {
		t.Fatalf("rows with id 100: %d, id 3's v: %d; want the cut transaction left out (0, 3)", n100, v3)
	}
	requireRows(t, db, "cc.t", 5)

	// Read from the source: it sends the cut file's format description
	// without the flag that says the file was not closed.
	remoteTgt, remoteDB := sc.Target(t)
	o := sourceOpts(sc, 4)
	o.Select.StartPosition = sc.Start
	remoteSum, log, err := runFrom(remoteTgt.DSN(""), o)
	if err != nil {
		t.Fatalf("replay from the source: %v\n%s", err, log)
	}
	if len(remoteSum.CutByCrash) != 1 || remoteSum.CutByCrash[0] != want || remoteSum.Applied != sum.Applied ||
		!strings.Contains(remoteSum.StopReason, "end of the source's binlog") {
		t.Fatalf("from the source: applied %d, cut %+v, stop %q; want %d, %+v, the end of the source's binlog",
			remoteSum.Applied, remoteSum.CutByCrash, remoteSum.StopReason, sum.Applied, want)
	}
	replaytest.RequireEqual(t, remoteDB, anchorDB, "cc")

	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems.CutByCrash) != 1 || rep.Problems.CutByCrash[0] != want || rep.Replay.Applied != sum.Applied || rep.Replay.Fails {
		t.Fatalf("plan: cut %+v, %d transactions; want %+v and the replay's %d", rep.Problems.CutByCrash, rep.Replay.Applied, want, sum.Applied)
	}
}

// TestStopBeforeCrashCut replays the binlogs of a source that crashed
// while it wrote a MyISAM transaction, which the replay cannot leave out
// (the source changed the table whatever its binlog kept): a stop point
// before that transaction (its GTID, or its start position) must stop the
// replay there, exit 0, as it would before the transaction whole. Before,
// the replay refused the files there whatever the stop point (seed
// 120027: a stop GTID of the cut transaction, exit 1), and so did plan.
// Without a stop point before it, it is still refused, naming the file.
func TestStopBeforeCrashCut(t *testing.T) {
	ctx := context.Background()
	sc := replaytest.New(t, "ROW",
		oneSession("CREATE DATABASE sc", "CREATE TABLE sc.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"CREATE TABLE sc.m (id INT PRIMARY KEY, v INT) ENGINE=MyISAM"),
		oneSession("INSERT INTO sc.t VALUES (1, 1)", "INSERT INTO sc.t VALUES (2, 2)"))
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "INSERT INTO sc.m VALUES (1, 1), (2, 2)"); err != nil {
		t.Fatal(err)
	}
	cut, _, _ := crashWhileWriting(t, sc, func(cut *txn.Txn) uint64 { return (cut.Start.Offset + cut.End.Offset) / 2 })
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "INSERT INTO sc.t VALUES (3, 3)", "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	var err error
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}

	for _, stop := range []string{"gtid", "position"} {
		t.Run(stop, func(t *testing.T) {
			o := opts(4)
			if stop == "gtid" {
				o.Select.StopBeforeGTID = cut.GTID
			} else {
				o.Select.StopPosition = cut.Start
			}
			db, sum := replayInto(t, sc, o)
			if sum.Applied != 2 || !strings.Contains(sum.StopReason, "--stop-") {
				t.Fatalf("applied %d, stop %q; want 2, stopped before the cut transaction at %s", sum.Applied, sum.StopReason, cut.Start)
			}
			requireRows(t, db, "sc.t", 2)
			requireRows(t, db, "sc.m", 0)

			popts := plan.Options{Files: sc.Files, StartPosition: sc.Start}
			popts.StopBeforeGTID, popts.StopPosition = o.Select.StopBeforeGTID, o.Select.StopPosition
			rep, err := plan.Run(ctx, popts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Replay.Fails || rep.Replay.Applied != 2 || rep.Replay.StoppedBefore == nil || rep.Replay.StoppedBefore.Start != cut.Start {
				t.Fatalf("plan: fails %v, %d applied, stops before %+v; want 2 applied, stopped before %s",
					rep.Replay.Fails, rep.Replay.Applied, rep.Replay.StoppedBefore, cut.Start)
			}
		})
	}

	t.Run("stop GTID of an unknown domain", func(t *testing.T) {
		// Reading ahead stops at the cut, as the replay does: a domain not
		// mentioned up to it is refused before anything is applied, as
		// without the cut. Before (soak seeds 128015, 128108), the check
		// was left to the replay, which applied every transaction up to
		// the cut, past where a typo'd stop meant to stop.
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.Select.StartPosition = sc.Files, sc.Start
		o.Select.StopBeforeGTID = cut.GTID
		o.Select.StopBeforeGTID.Domain += 7
		sum, log, err := runFrom(tgt.DSN(""), o)
		if err == nil || !strings.Contains(err.Error(), "nothing applied: --stop-before-gtid") ||
			!strings.Contains(err.Error(), "which these binlogs never mention") || sum != nil && sum.Applied != 0 {
			t.Fatalf("replay: %v (summary %+v)\n%s; want the unknown domain refused, nothing applied", err, sum, log)
		}
		requireRows(t, db, "sc.t", 0)
	})
	t.Run("no stop point", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.Select.StartPosition = sc.Files, sc.Start
		sum, log, err := runFrom(tgt.DSN(""), o)
		var cutErr *binlog.CutError
		if !errors.As(err, &cutErr) || cutErr.Partial.Start != cut.Start || sum == nil || sum.Applied != 2 {
			t.Fatalf("replay: %v (summary %+v)\n%s; want the cut transaction at %s refused after 2", err, sum, log, cut.Start)
		}
		requireRows(t, db, "sc.t", 2)
	})
}

// crashWhileWriting makes sc's source look as if it crashed while it wrote
// its last transaction to its binlog: it kills the source, cuts the file
// at the offset at returns for that transaction, and restarts it. It
// returns the transaction cut, the size the file was cut to, and the
// binlog files before the restart.
func crashWhileWriting(t *testing.T, sc *replaytest.Scenario, at func(cut *txn.Txn) uint64) (*txn.Txn, uint64, []string) {
	t.Helper()
	files, err := sc.Source.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	cur := files[len(files)-1]
	written := readTxns(t, []string{cur}, binlog.Options{})
	cut := written[len(written)-1]
	if err := sc.Source.Kill(); err != nil {
		t.Fatal(err)
	}
	end := at(cut)
	if err := os.Truncate(cur, int64(end)); err != nil {
		t.Fatal(err)
	}
	if err := sc.Source.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cut, end, files
}

// TestStopBeforeCrashCutFirstEvent: the crash cut the file inside the
// first event of its last transaction, so nothing of it can be read
// (whether it wrote non-transactional tables cannot be told): it is
// refused, but a stop position at its start is honoured, exit 0, by the
// replay and plan. Before (soak seed 124233), the refusal carried no
// position, and a stop point there did not help.
func TestStopBeforeCrashCutFirstEvent(t *testing.T) {
	ctx := context.Background()
	sc := replaytest.New(t, "ROW",
		oneSession("CREATE DATABASE sf", "CREATE TABLE sf.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"),
		oneSession("INSERT INTO sf.t VALUES (1, 1)", "INSERT INTO sf.t VALUES (2, 2)"))
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "INSERT INTO sf.t VALUES (3, 3)"); err != nil {
		t.Fatal(err)
	}
	cut, _, _ := crashWhileWriting(t, sc, func(cut *txn.Txn) uint64 { return cut.Start.Offset + 5 })
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "INSERT INTO sf.t VALUES (4, 4)", "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	var err error
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	o := opts(4)
	o.Select.StopPosition = cut.Start
	db, sum := replayInto(t, sc, o)
	if sum.Applied != 2 || !strings.Contains(sum.StopReason, "--stop-position") {
		t.Fatalf("applied %d, stop %q; want 2, stopped before the cut at %s", sum.Applied, sum.StopReason, cut.Start)
	}
	requireRows(t, db, "sf.t", 2)
	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start, StopPosition: cut.Start})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Replay.Fails || rep.Replay.Applied != 2 || rep.Replay.StoppedBefore == nil || rep.Replay.StoppedBefore.Start != cut.Start {
		t.Fatalf("plan: fails %v, %d applied, stops before %+v; want 2 applied, stopped before %s",
			rep.Replay.Fails, rep.Replay.Applied, rep.Replay.StoppedBefore, cut.Start)
	}
	tgt, _ := sc.Target(t)
	o = opts(4)
	o.Files, o.Select.StartPosition = sc.Files, sc.Start
	sum, log, err := runFrom(tgt.DSN(""), o)
	var cutErr *binlog.CutError
	if !errors.As(err, &cutErr) || cutErr.Partial.Start != cut.Start || sum == nil || sum.Applied != 2 ||
		!strings.Contains(err.Error(), "nothing of what it starts can be read") {
		t.Fatalf("replay: %v (summary %+v)\n%s; want the cut at %s refused after 2", err, sum, log, cut.Start)
	}
}
