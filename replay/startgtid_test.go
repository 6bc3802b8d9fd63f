package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestStartGTIDNotInBinlogs replays with --start-gtid sets that do not fit
// the binlogs: older than their start (refused before anything is
// written), past their end (refused), exactly at their end (nothing to
// apply, said so), and with a domain the binlogs never mention (a warning;
// the replay goes on).
func TestStartGTIDNotInBinlogs(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg", "CREATE TABLE sg.t (id INT PRIMARY KEY)")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 1; i <= 30; i++ {
				if err := replaytest.ExecAll(ctx, db, fmt.Sprintf("INSERT INTO sg.t VALUES (%d)", i)); err != nil {
					return err
				}
				if i == 10 {
					if err := replaytest.ExecAll(ctx, db, "FLUSH BINARY LOGS"); err != nil {
						return err
					}
				}
			}
			return nil
		})
	txns := scenarioTxns(t, sc)
	if len(txns) != 30 {
		t.Fatalf("%d transactions in the workload, want 30", len(txns))
	}
	first, last := txns[0].GTID, txns[29].GTID
	at := func(seq uint64) string { return fmt.Sprintf("%d-%d-%d", first.Domain, first.Server, seq) }
	base := at(first.Seq - 1) // the base backup's position
	run := func(t *testing.T, files []string, set string) (*sql.DB, *replay.Summary, string, error) {
		t.Helper()
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Recovery.Reconnect = files, tgt.DSN(""), 0
		var err error
		if o.Select.StartGTIDs, err = txn.ParseGTIDSet(set); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		sum, err := replay.Run(context.Background(), o, &log)
		return db, sum, log.String(), err
	}

	t.Run("at the base, with an unknown domain", func(t *testing.T) {
		db, sum, log, err := run(t, sc.Files, base+",9-1-5")
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if sum.Applied != 30 || !strings.Contains(log, "--start-gtid names domain 9, which these binlogs never mention") {
			t.Fatalf("applied %d (want 30), log:\n%s", sum.Applied, log)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "sg")
	})

	t.Run("binlogs begin after it", func(t *testing.T) {
		// The file holding transactions 1 to 10 is left out.
		files := sc.Files[len(sc.Files)-2:]
		db, _, _, err := run(t, files, base)
		want := fmt.Sprintf("domain %d sequence numbers %d to %d", first.Domain, first.Seq, txns[9].GTID.Seq)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "older than the first binlog") {
			t.Fatalf("replay: %v; want an error naming %q", err, want)
		}
		t.Logf("error: %v", err)
		if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp != nil {
			t.Fatalf("checkpoint %+v, %v: want nothing written", cp, err)
		}
	})

	t.Run("past the end", func(t *testing.T) {
		db, sum, _, err := run(t, sc.Files, at(last.Seq+5))
		if err == nil || !strings.Contains(err.Error(), "past the end of the binlogs") ||
			!strings.Contains(err.Error(), fmt.Sprintf("the binlogs end at %d", last.Seq)) {
			t.Fatalf("replay: %v; want an error saying the set is past the end", err)
		}
		t.Logf("error: %v", err)
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM sg.t").Scan(&n); err != nil || n != 0 || sum != nil && sum.Applied != 0 {
			t.Fatalf("target holds %d rows (%v), summary %+v: want nothing applied", n, err, sum)
		}
	})

	t.Run("at the end", func(t *testing.T) {
		_, sum, _, err := run(t, sc.Files, at(last.Seq))
		if err != nil || sum.Applied != 0 || !strings.Contains(sum.StopReason, "nothing to apply") {
			t.Fatalf("replay: %v, summary %+v; want success, nothing applied, and a stop reason saying so", err, sum)
		}
		t.Logf("stop: %s", sum.StopReason)
	})
}

// TestStartGTIDFromTarget takes the start GTID set from the target: a
// target holding the first 30 transactions, its gtid_slave_pos set to the
// 30th's GTID as from a base backup, gets the rest and ends equal to the
// source; a target without a GTID position, or whose position it wrote
// itself, is refused before anything is written.
func TestStartGTIDFromTarget(t *testing.T) {
	sc := twoTableScenario(t)
	g30 := gtidOf(t, sc, 30)
	t.Run("from gtid_slave_pos", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
		o.Select.StopBeforeGTID = gtidOf(t, sc, 31)
		if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
			t.Fatal(err)
		}
		// As a restored backup: the data of 1..30, the GTID position, no
		// checkpoint.
		if err := replaytest.ExecAll(context.Background(), db, "DROP DATABASE "+replay.CheckpointSchema,
			"SET GLOBAL gtid_slave_pos = '"+g30.String()+"'"); err != nil {
			t.Fatal(err)
		}
		o = opts(4)
		o.Files, o.TargetDSN, o.Recovery.Reconnect, o.Select.StartGTIDsFromTarget = sc.Files, tgt.DSN(""), 0, true
		var log strings.Builder
		sum, err := replay.Run(context.Background(), o, &log)
		if err != nil {
			t.Fatalf("replay: %v\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), "start GTID set read from the target: "+g30.String()) || sum.Applied != 71 {
			t.Fatalf("applied %d (want 71); log:\n%s", sum.Applied, log.String())
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "tf")
	})
	t.Run("no position", func(t *testing.T) {
		tgt, _ := sc.Target(t)
		o := opts(1)
		o.Files, o.TargetDSN, o.Recovery.Reconnect, o.Select.StartGTIDsFromTarget = sc.Files, tgt.DSN(""), 0, true
		if _, err := replay.Run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "holds no GTID position") {
			t.Fatalf("replay: %v; want a refusal: no GTID position", err)
		}
	})
	t.Run("own position", func(t *testing.T) {
		tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true})
		db, err := tgt.Open(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE DATABASE target_own"); err != nil { // logged with the target's server id
			t.Fatal(err)
		}
		o := opts(1)
		o.Files, o.TargetDSN, o.Recovery.Reconnect, o.Select.StartGTIDsFromTarget = sc.Files, tgt.DSN(""), 0, true
		if _, err := replay.Run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "written by the target itself") {
			t.Fatalf("replay: %v; want a refusal: the position is the target's own", err)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", replay.CheckpointSchema).Scan(&n); err != nil || n != 0 {
			t.Fatalf("checkpoint schema created before the refusal (%d, %v)", n, err)
		}
	})
}

// TestStartGTIDResume: a resume goes on skipping the --start-gtid set of
// the run that made the checkpoint. Two GTID domains interleave; the
// target holds the set {domain 0 up to its 5th transaction, domain 1 up
// to its 15th}, which is no prefix of the binlog: domain 1's 11th to
// 15th come after domain 0's 6th to 10th. A first run stops after domain
// 0's 10th, a resume goes to the end: it must skip domain 1's 11th to
// 15th (they are in the target), which a resume from the checkpoint's
// position alone applied again (each adds 1 to a row: exit 0, the target
// 6 off, domain 1's 10th with them). And a run stopped before its first commit has its checkpoint
// where its reading started: the resume must skip the set's transactions
// there too.
func TestStartGTIDResume(t *testing.T) {
	var g0, g1 []string
	// Statement format: a statement applied twice adds twice (a row
	// image applied again may set the same value).
	sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg",
			"CREATE TABLE sg.t (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB", "INSERT INTO sg.t VALUES (1, 0), (2, 0)")
	}, func(ctx context.Context, db *sql.DB) error {
		conns, err := domainConns(ctx, db, 0, 1)
		if err != nil {
			return err
		}
		for _, c := range conns {
			defer c.Close()
		}
		for n := 0; n < 20; n++ {
			for i, c := range conns {
				if _, err := c.ExecContext(ctx, fmt.Sprintf("UPDATE sg.t SET n = n + 1 WHERE id = %d", i+1)); err != nil {
					return err
				}
				var g string
				if err := c.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&g); err != nil {
					return err
				}
				if i == 0 {
					g0 = append(g0, g)
				} else {
					g1 = append(g1, g)
				}
			}
		}
		return nil
	})
	end := map[string]txn.Position{}
	for _, tx := range scenarioTxns(t, sc) {
		end[tx.GTID.String()] = tx.End
	}
	set := g0[4] + "," + g1[14]
	first := mustParseGTID(t, g0[5])
	for _, c := range []struct {
		name string
		stop txn.Position // of the first run
	}{
		{"stopped after commits", end[g0[9]]},
		{"stopped before the first commit", end[g1[4]]},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			tgt, db := sc.Target(t)
			// The target holds the set: everything up to domain 1's 15th
			// but domain 0's 6th to 20th.
			o := opts(2)
			o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
			o.Select.StopPosition = end[g1[14]]
			var err error
			o.Select.ExcludeGTIDs, err = filter.ParseGTIDs(fmt.Sprintf("%d-%d-%d..%d", first.Domain, first.Server, first.Seq, first.Seq+14))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := replay.Run(ctx, o, io.Discard); err != nil {
				t.Fatalf("make the target hold %s: %v", set, err)
			}
			if _, err := db.Exec("DROP DATABASE " + replay.CheckpointSchema); err != nil {
				t.Fatal(err)
			}
			o = opts(2)
			o.Files, o.TargetDSN = sc.Files, tgt.DSN("")
			if o.Select.StartGTIDs, err = txn.ParseGTIDSet(set); err != nil {
				t.Fatal(err)
			}
			o.Select.StopPosition = c.stop
			var log strings.Builder
			if _, err := replay.Run(ctx, o, &log); err != nil {
				t.Fatalf("first run: %v\nlog:\n%s", err, log.String())
			}
			o.Select.StartGTIDs, o.Select.StopPosition, o.Recovery.Resume, o.Select.ToEnd = txn.GTIDSet{}, txn.Position{}, true, true
			if _, err := replay.Run(ctx, o, &log); err != nil {
				t.Fatalf("resume: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "sg")
		})
	}
}

// TestStartGTIDPastEndInOneDomain: a --start-gtid set past the end of the
// binlogs in one domain of two (the target is newer than these binlogs
// there: binlogs of another server, or newer files missing) was found at
// the end of the binlogs, once the other domain's transactions were
// applied. Reading files, it is refused before anything is applied.
func TestStartGTIDPastEndInOneDomain(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg", "CREATE TABLE sg.t (id INT PRIMARY KEY)")
		},
		func(ctx context.Context, db *sql.DB) error {
			conns, err := domainConns(ctx, db, 0, 1)
			if err != nil {
				return err
			}
			for _, c := range conns {
				defer c.Close()
			}
			for i := 1; i <= 20; i++ {
				if _, err := conns[i%2].ExecContext(ctx, fmt.Sprintf("INSERT INTO sg.t VALUES (%d)", i)); err != nil {
					return err
				}
			}
			return nil
		})
	var zero, one []txn.GTID
	for _, tx := range scenarioTxns(t, sc) {
		if tx.GTID.Domain == 0 {
			zero = append(zero, tx.GTID)
		} else {
			one = append(one, tx.GTID)
		}
	}
	if len(zero) != 10 || len(one) != 10 {
		t.Fatalf("%d transactions in domain 0 and %d in domain 1, want 10 each", len(zero), len(one))
	}
	set := fmt.Sprintf("0-%d-%d,1-%d-%d", zero[0].Server, zero[0].Seq-1, one[0].Server, one[9].Seq+5)
	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), 0
	var err error
	if o.Select.StartGTIDs, err = txn.ParseGTIDSet(set); err != nil {
		t.Fatal(err)
	}
	sum, err := replay.Run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "past the end of the binlogs") ||
		!strings.Contains(err.Error(), fmt.Sprintf("domain 1 is at sequence number %d, the binlogs end at %d", one[9].Seq+5, one[9].Seq)) {
		t.Fatalf("replay: %v; want an error saying domain 1 of the set is past the end", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sg.t").Scan(&n); err != nil || n != 0 || sum != nil && sum.Applied != 0 {
		t.Fatalf("target holds %d rows (%v), summary %+v: want nothing applied", n, err, sum)
	}
}

// TestStartGTIDOutOfOrder replays, with the base's --start-gtid position,
// binlogs where a transaction of the position's domain comes with a
// sequence number at or below it after later ones (another server id,
// gtid_seq_no set lower: gtid_strict_mode off): a position cannot say
// whether the base holds it. Reading the files ahead, the replay refuses
// before anything is applied; resumed (no reading ahead), it applies what
// comes before that transaction and stops there, naming it. Without the
// check it was skipped: exit 0, its row missing.
func TestStartGTIDOutOfOrder(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg", "CREATE TABLE sg.t (id INT PRIMARY KEY)")
		},
		oneSession("INSERT INTO sg.t VALUES (1)", "INSERT INTO sg.t VALUES (2)", "INSERT INTO sg.t VALUES (3)",
			"INSERT INTO sg.t VALUES (4)", "INSERT INTO sg.t VALUES (5)", "INSERT INTO sg.t VALUES (6)",
			"INSERT INTO sg.t VALUES (7)", "INSERT INTO sg.t VALUES (8)", "INSERT INTO sg.t VALUES (9)",
			"INSERT INTO sg.t VALUES (10)", "SET @id = @@server_id", "SET SESSION server_id = 77", "SET SESSION gtid_seq_no = 1",
			"INSERT INTO sg.t VALUES (11)", "SET SESSION server_id = @id", "INSERT INTO sg.t VALUES (12)"))
	txns := scenarioTxns(t, sc)
	if len(txns) != 12 || txns[10].GTID.Server != 77 || txns[10].GTID.Seq != 1 {
		t.Fatalf("want 12 transactions, the 11th 0-77-1: %d", len(txns))
	}
	first := txns[0].GTID
	base, err := txn.ParseGTIDSet(fmt.Sprintf("%d-%d-%d", first.Domain, first.Server, first.Seq-1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wantOrder := func(t *testing.T, err error) {
		t.Helper()
		requireStartOrder(t, err, txns[10].GTID)
	}

	t.Run("files read ahead", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartGTIDs = sc.Files, tgt.DSN(""), base
		sum, err := replay.Run(ctx, o, io.Discard)
		wantOrder(t, err)
		if sum != nil && sum.Applied != 0 {
			t.Fatalf("summary %+v: want nothing applied", sum)
		}
		requireRows(t, db, "sg.t", 0)
	})

	t.Run("resumed", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartGTIDs, o.Select.StopPosition = sc.Files, tgt.DSN(""), base, txns[9].End
		if _, err := replay.Run(ctx, o, io.Discard); err != nil {
			t.Fatalf("replay to %s: %v", txns[9].End, err)
		}
		o = opts(4)
		o.Files, o.TargetDSN, o.Recovery.Resume, o.Select.ToEnd = sc.Files, tgt.DSN(""), true, true
		_, err := replay.Run(ctx, o, io.Discard)
		wantOrder(t, err)
		requireRows(t, db, "sg.t", 10) // those before the transaction refused
	})

	t.Run("from the source", func(t *testing.T) {
		// The source sends what follows the position; the replay finds
		// the transaction as it comes.
		tgt, db := sc.Target(t)
		o := sourceOpts(sc, 4)
		o.Source.StartGTID, o.Select.StartGTIDs = base.String(), base
		_, _, err := runFrom(tgt.DSN(""), o)
		wantOrder(t, err)
		requireRows(t, db, "sg.t", 10) // those before the transaction refused
	})

	t.Run("from the source, resumed", func(t *testing.T) {
		// The resumed run reads from the checkpoint: the source sends
		// nothing of what came before it, which passed the position. It
		// skipped 0-77-1 (row 11 lost) and applied row 12, exit 0.
		tgt, db := sc.Target(t)
		o := sourceOpts(sc, 4)
		o.Source.StartGTID, o.Select.StartGTIDs, o.Select.StopPosition = base.String(), base, txns[9].End
		if _, _, err := runFrom(tgt.DSN(""), o); err != nil {
			t.Fatalf("replay to %s: %v", txns[9].End, err)
		}
		o = sourceOpts(sc, 4)
		o.Recovery.Resume, o.Select.ToEnd = true, true
		sum, _, err := runFrom(tgt.DSN(""), o)
		if err == nil {
			t.Fatalf("resumed: no error (summary %+v)", sum)
		}
		wantOrder(t, err)
		requireRows(t, db, "sg.t", 10)
	})
}

// TestStartGTIDOutOfOrderAfterRotation gives --start-gtid the base's
// position and only the binlogs written after it, from a rotation right
// after the base (a backup taken at FLUSH BINARY LOGS): their first file's
// GTID list already reaches the position, so a transaction it covers
// logged in them (0-77-1) comes after the position's own. Refused reading
// the files, and by plan; the replay skipped it (row 1 lost) and applied
// row 2, exit 0, and plan predicted that.
func TestStartGTIDOutOfOrderAfterRotation(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg", "CREATE TABLE sg.t (id INT PRIMARY KEY)", "FLUSH BINARY LOGS")
		},
		oneSession("SET @id = @@server_id", "SET SESSION server_id = 77", "SET SESSION gtid_seq_no = 1",
			"INSERT INTO sg.t VALUES (1)", "SET SESSION server_id = @id", "INSERT INTO sg.t VALUES (2)"))
	txns := scenarioTxns(t, sc)
	all := readTxns(t, sc.Files, binlog.Options{})
	if len(txns) != 2 || txns[0].GTID.Server != 77 || len(all) < 4 {
		t.Fatalf("want 2 transactions, the first 0-77-1: %d of %d", len(txns), len(all))
	}
	held := all[len(all)-3].GTID // the base's last
	base, err := txn.ParseGTIDSet(held.String())
	if err != nil || txns[0].GTID.Seq > held.Seq || txns[0].Start.File == all[0].Start.File {
		t.Fatalf("base %s (%v), first %s at %s", held, err, txns[0].GTID, txns[0].Start)
	}
	var after []string // the files from the rotation on
	for _, f := range sc.Files {
		if logfile.Name(f) >= txns[0].Start.File {
			after = append(after, f)
		}
	}
	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartGTIDs = after, tgt.DSN(""), base
	_, err = replay.Run(context.Background(), o, io.Discard)
	requireStartOrder(t, err, txns[0].GTID)
	requireRows(t, db, "sg.t", 0)

	rep, err := plan.Run(context.Background(), plan.Options{Files: after, StartGTIDs: base})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Problems.Refusal, "out of order") {
		t.Fatalf("plan: refusal %q, want the start order's", rep.Problems.Refusal)
	}
}

// TestStopHeldByStartGTID gives --start-gtid the base's position and a stop
// point met on a transaction the position holds (a --stop-before-gtid of
// the base, a --stop-datetime at the second of the base's last
// transactions): the target is already past the stop point. Refused,
// nothing applied, reading files ahead and reading from the source; it
// stopped there with exit 0, nothing applied, the target past the stop.
func TestStopHeldByStartGTID(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg", "CREATE TABLE sg.t (id INT PRIMARY KEY)", "DO SLEEP(1.1)")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 1; i <= 10; i++ {
				if err := replaytest.ExecAll(ctx, db, fmt.Sprintf("INSERT INTO sg.t VALUES (%d)", i)); err != nil {
					return err
				}
			}
			return nil
		})
	txns := scenarioTxns(t, sc)
	all := readTxns(t, sc.Files, binlog.Options{})
	var held *txn.Txn // the base's last transaction
	for _, tx := range all {
		if tx.Start == txns[0].Start {
			break
		}
		held = tx
	}
	if held == nil || held.GTID.Seq != txns[0].GTID.Seq-1 || !held.Time.Before(txns[0].Time) {
		t.Fatalf("the base's last transaction %+v, the workload's first %+v", held, txns[0])
	}
	base, err := txn.ParseGTIDSet(held.GTID.String())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		set  func(o *replay.Options)
	}{
		{"gtid, files", func(o *replay.Options) { o.Select.StopBeforeGTID = held.GTID }},
		{"datetime, files", func(o *replay.Options) { o.Select.StopDatetime = held.Time }},
		{"datetime, source", func(o *replay.Options) {
			*o = sourceOpts(sc, 4)
			o.Select.StartPosition, o.Select.StopDatetime = txn.Position{File: held.Start.File, Offset: 4}, held.Time
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(4)
			o.Files = sc.Files
			c.set(&o)
			o.TargetDSN, o.Select.StartGTIDs = tgt.DSN(""), base
			sum, err := replay.Run(ctx, o, io.Discard)
			var passed *replay.StopPassedError
			if !errors.As(err, &passed) || !strings.Contains(err.Error(), "already holds") {
				t.Fatalf("replay: %v (summary %+v); want a *StopPassedError: the stop is met on a transaction the target holds", err, sum)
			}
			t.Logf("error: %v", err)
			requireRows(t, db, "sg.t", 0)
		})
	}
}

// TestStartGTIDOutOfOrderFirst: the first transaction after the base's
// GTID position has a sequence number below it (another server id,
// gtid_strict_mode off). Reading the files, it comes after the position's
// own transaction; from the source, after the position the source starts
// at: refused both ways, nothing applied. It was skipped, exit 0.
func TestStartGTIDOutOfOrderFirst(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE sg", "CREATE TABLE sg.t (id INT PRIMARY KEY)")
		},
		oneSession("SET @id = @@server_id", "SET SESSION server_id = 77", "SET SESSION gtid_seq_no = 1",
			"INSERT INTO sg.t VALUES (1)", "SET SESSION server_id = @id", "INSERT INTO sg.t VALUES (2)"))
	txns := scenarioTxns(t, sc)
	all := readTxns(t, sc.Files, binlog.Options{})
	if len(txns) != 2 || txns[0].GTID.Server != 77 || len(all) < 3 {
		t.Fatalf("want 2 transactions, the first 0-77-1: %d", len(txns))
	}
	held := all[len(all)-3].GTID // the base's last
	base, err := txn.ParseGTIDSet(held.String())
	if err != nil || txns[0].GTID.Seq > held.Seq {
		t.Fatalf("base %s (%v), first %s", held, err, txns[0].GTID)
	}
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "files", true: "source"}[remote], func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(4)
			o.Files = sc.Files
			if remote {
				o = sourceOpts(sc, 4)
				o.Source.StartGTID = base.String()
			}
			o.TargetDSN, o.Select.StartGTIDs = tgt.DSN(""), base
			_, err := replay.Run(context.Background(), o, io.Discard)
			requireStartOrder(t, err, txns[0].GTID)
			requireRows(t, db, "sg.t", 0)
		})
	}
}

// requireStartOrder fails t unless err is a *filter.StartOrderError naming
// skipped, the transaction --start-gtid cannot place.
func requireStartOrder(t *testing.T, err error, skipped txn.GTID) {
	t.Helper()
	var oe *filter.StartOrderError
	if !errors.As(err, &oe) || oe.Skipped.GTID != skipped.String() {
		t.Fatalf("replay: %v; want a *filter.StartOrderError naming %s", err, skipped)
	}
	t.Logf("error: %v", err)
}
