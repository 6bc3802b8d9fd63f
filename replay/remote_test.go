package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// sourceSetup creates the tables of sourceWork.
func sourceSetup(ctx context.Context, db *sql.DB) error {
	return replaytest.ExecAll(ctx, db, "CREATE DATABASE rs",
		"CREATE TABLE rs.acct (id INT PRIMARY KEY, owner VARCHAR(30) NOT NULL, balance BIGINT NOT NULL, UNIQUE KEY (owner))",
		"CREATE TABLE rs.ledger (id INT AUTO_INCREMENT PRIMARY KEY, acct INT NOT NULL, amount INT NOT NULL, pad TEXT, KEY (acct))",
		"CREATE TABLE rs.total (id INT PRIMARY KEY, n BIGINT NOT NULL)",
		"INSERT INTO rs.total VALUES (1, 0)")
}

// sourceWork returns a workload of n transactions over three tables, with
// the binlog rotated twice (FLUSH BINARY LOGS), a DDL in the middle and
// statement-format increments (which a transaction applied twice would
// change). pad makes each ledger row that many bytes.
func sourceWork(n, pad int) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		for i := 1; i <= n; i++ {
			acct := i % 40
			stmts := []string{"BEGIN",
				fmt.Sprintf("INSERT INTO rs.acct (id, owner, balance) VALUES (%d, 'owner%d', %d) ON DUPLICATE KEY UPDATE balance = balance + %d", acct, acct, i, i),
				fmt.Sprintf("INSERT INTO rs.ledger (acct, amount, pad) VALUES (%d, %d, REPEAT('p', %d))", acct, i, pad),
				"COMMIT"}
			switch {
			case i == n/3 || i == 2*n/3:
				stmts = append(stmts, "FLUSH BINARY LOGS")
			case i == n/2:
				stmts = append(stmts, "ALTER TABLE rs.acct ADD COLUMN note VARCHAR(10) DEFAULT 'x'")
			case i%10 == 0:
				stmts = []string{"SET SESSION binlog_format = 'STATEMENT'",
					fmt.Sprintf("UPDATE rs.total SET n = n + %d WHERE id = 1", i), "SET SESSION binlog_format = 'ROW'"}
			case i%17 == 0:
				stmts = append(stmts[:1], fmt.Sprintf("DELETE FROM rs.ledger WHERE acct = %d ORDER BY id LIMIT 1", acct), "COMMIT")
			}
			for _, s := range stmts {
				if _, err := conn.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("transaction %d: %s: %w", i, s, err)
				}
			}
		}
		return nil
	}
}

// sourceOpts returns replay options reading from the scenario's source
// over TCP.
func sourceOpts(sc *replaytest.Scenario, workers int) replay.Options {
	o := opts(workers)
	o.Source = replay.Source{DSN: sc.Source.TCPDSN(""), ServerID: 4000002}
	return o
}

// runFrom runs a replay into the target at dsn and returns its summary,
// error and log.
func runFrom(dsn string, o replay.Options) (*replay.Summary, string, error) {
	o.TargetDSN = dsn
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	return sum, log.String(), err
}

func TestReplayFromSource(t *testing.T) {
	t.Parallel()
	sc := replaytest.New(t, "ROW", sourceSetup, sourceWork(600, 50))
	txns := scenarioTxns(t, sc)
	if len(sc.Files) < 4 {
		t.Fatalf("%d binlog files, want at least 4", len(sc.Files))
	}
	last := txns[len(txns)-1]

	t.Run("Whole", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := sourceOpts(sc, 4)
		o.Select.StartPosition = sc.Start
		sum, log, err := runFrom(tgt.DSN(""), o)
		if err != nil {
			t.Fatalf("replay: %v\n%s", err, log)
		}
		// Positions and the checkpoint name the source's own files.
		if sum.Applied != uint64(len(txns)) || sum.Next != last.End || sum.Last.Start != last.Start ||
			!strings.Contains(sum.StopReason, "end of the source's binlog") {
			t.Fatalf("applied %d, next %s, stop %q; want %d transactions up to %s", sum.Applied, sum.Next, sum.StopReason, len(txns), last.End)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
	})

	// Mid-way: the target first replays the files up to transaction k,
	// then forgets its checkpoint and reads the rest from the source.
	k := len(txns) / 2
	midway := func(t *testing.T, set func(*replay.Options)) {
		tgt, db := holdingFirst(t, sc, txns, k)
		o := sourceOpts(sc, 4)
		set(&o)
		sum, log, err := runFrom(tgt.DSN(""), o)
		if err != nil {
			t.Fatalf("replay from the source: %v\n%s", err, log)
		}
		if sum.First == nil || sum.First.Start != txns[k].Start || sum.Next != last.End {
			t.Fatalf("first applied %+v, next %s; want %s up to %s", sum.First, sum.Next, txns[k].Start, last.End)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
	}
	t.Run("FromPosition", func(t *testing.T) {
		midway(t, func(o *replay.Options) { o.Select.StartPosition = txns[k].Start })
	})
	t.Run("FromGTID", func(t *testing.T) {
		midway(t, func(o *replay.Options) {
			o.Source.StartGTID = txns[k-1].GTID.String()
			o.Select.StartGTIDs, _ = txn.ParseGTIDSet(o.Source.StartGTID)
		})
	})

	t.Run("StopAndResume", func(t *testing.T) {
		tgt, db := sc.Target(t)
		stop := txns[2*len(txns)/3+5]
		o := sourceOpts(sc, 4)
		o.Select.StartPosition, o.Select.StopPosition = sc.Start, stop.End
		sum, log, err := runFrom(tgt.DSN(""), o)
		if err != nil {
			t.Fatalf("replay: %v\n%s", err, log)
		}
		if sum.Next != stop.End || !strings.Contains(sum.StopReason, "--stop-position") {
			t.Fatalf("next %s, stop %q; want a stop at %s", sum.Next, sum.StopReason, stop.End)
		}
		first := sum.Applied
		o = sourceOpts(sc, 4)
		o.Recovery.Resume, o.Select.ToEnd = true, true
		sum, log, err = runFrom(tgt.DSN(""), o)
		if err != nil {
			t.Fatalf("resume: %v\n%s", err, log)
		}
		if first+sum.Applied != uint64(len(txns)) || sum.First.Start != stop.End || sum.Next != last.End {
			t.Fatalf("applied %d then %d from %s; want %d in all, the second run from %s", first, sum.Applied, sum.First.Start, len(txns), stop.End)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
	})

	t.Run("MissingPrivilege", func(t *testing.T) {
		if err := replaytest.ExecAll(context.Background(), sc.SourceDB, "CREATE USER 'noslave'@'%'", "GRANT SELECT ON *.* TO 'noslave'@'%'"); err != nil {
			t.Fatal(err)
		}
		tgt, db := sc.Target(t)
		o := sourceOpts(sc, 2)
		o.Source.DSN = strings.Replace(o.Source.DSN, "root@", "noslave@", 1)
		o.Select.StartPosition = sc.Start
		_, _, err := runFrom(tgt.DSN(""), o)
		if err == nil || !strings.Contains(err.Error(), "REPLICATION SLAVE") {
			t.Fatalf("got %v, want an error naming REPLICATION SLAVE", err)
		}
		if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp != nil {
			t.Fatalf("checkpoint %+v (%v): want nothing written on the target", cp, err)
		}
	})
}

// TestSourceKilledMidStream kills the source while the replay reads from
// it: the replay stops with an error naming the source and the position
// reached, the target holds whole transactions up to its checkpoint, and
// --resume against the restarted source ends equal to it.
func TestSourceKilledMidStream(t *testing.T) {
	t.Parallel()
	const n = 4000
	sc := replaytest.New(t, "ROW", sourceSetup, sourceWork(n, 4000)) // about 16 MB of binlog, more than socket buffers hold
	txns := scenarioTxns(t, sc)
	tgt, db := sc.Target(t)
	o := sourceOpts(sc, 1)
	o.Select.StartPosition = sc.Start
	o.Apply.MemoryBudget = 1 << 20 // the reader waits for the workers, so the stream is still running when it is killed
	o.Report.ProgressInterval = 20 * time.Millisecond
	var once sync.Once
	o.Report.Progress = func(s replay.Stats) {
		if s.Applied >= 100 {
			once.Do(func() {
				if err := sc.Source.Kill(); err != nil {
					t.Errorf("kill the source: %v", err)
				}
			})
		}
	}
	sum, log, err := runFrom(tgt.DSN(""), o)
	var be *event.Error
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "lost the connection to source 127.0.0.1:") {
		t.Fatalf("got %v, want a lost source\n%s", err, log)
	}
	if sum == nil || sum.Applied == 0 || sum.Applied >= uint64(len(txns)) {
		t.Fatalf("summary %+v: want some transactions applied before the loss", sum)
	}
	t.Logf("%v; applied %d, checkpoint %s", err, sum.Applied, sum.Next)
	cp, cerr := replay.ReadCheckpoint(context.Background(), db)
	if cerr != nil || cp == nil || cp.Next != sum.Next || cp.Next != txns[cp.Applied-1].End {
		t.Fatalf("checkpoint %+v (%v): want the end of applied transaction %d, %s", cp, cerr, sum.Applied, sum.Next)
	}
	if err := sc.Source.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	o = sourceOpts(sc, 4)
	o.Recovery.Resume = true
	sum, log, err = runFrom(tgt.DSN(""), o)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, log)
	}
	if cp.Applied+sum.Applied != uint64(len(txns)) {
		t.Fatalf("applied %d then %d, want %d in all", cp.Applied, sum.Applied, len(txns))
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
}

// TestSourceStopBehindStart: reading from a source, a --stop-before-gtid
// that the binlogs reach before the start point (a resume's checkpoint)
// is refused, as it is for files: two GTID domains interleave, and the
// stop names domain 0's 5th transaction while the checkpoint is past
// domain 0's 10th. It was met at domain 0's next transaction instead,
// after applying domain 1's transactions up to it (exit 0).
func TestSourceStopBehindStart(t *testing.T) {
	sc := replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE sb", "CREATE TABLE sb.t (id INT PRIMARY KEY, d INT)")
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
				if _, err := c.ExecContext(ctx, fmt.Sprintf("INSERT INTO sb.t VALUES (%d, %d)", 2*n+i, i)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	txns := scenarioTxns(t, sc)
	var domain0 []*txn.Txn
	for _, tx := range txns {
		if tx.GTID.Domain == 0 {
			domain0 = append(domain0, tx)
		}
	}
	tgt, db := sc.Target(t)
	o := sourceOpts(sc, 2)
	o.Select.StartPosition, o.Select.StopPosition = sc.Start, domain0[len(domain0)-10].End
	if _, log, err := runFrom(tgt.DSN(""), o); err != nil {
		t.Fatalf("first run: %v\n%s", err, log)
	}
	var before int
	if err := db.QueryRow("SELECT COUNT(*) FROM sb.t").Scan(&before); err != nil {
		t.Fatal(err)
	}
	o = sourceOpts(sc, 2)
	o.Recovery.Resume, o.Select.StopBeforeGTID = true, domain0[len(domain0)-15].GTID
	_, log, err := runFrom(tgt.DSN(""), o)
	var passed *replay.StopPassedError
	if !errors.As(err, &passed) {
		t.Fatalf("resume with --stop-before-gtid %s behind the checkpoint: %v, want it refused\n%s", o.Select.StopBeforeGTID, err, log)
	}
	var after int
	if err := db.QueryRow("SELECT COUNT(*) FROM sb.t").Scan(&after); err != nil || after != before {
		t.Fatalf("the target holds %d rows after the refusal, %d before (%v)", after, before, err)
	}
	// A fresh run from a GTID position (--source-start SET): the source
	// sends nothing the set holds, so a stop the set already reaches was
	// met at the domain's next transaction, exit 0, the target past the
	// stop point (soak seed 125288, a stop GTID of another server id).
	behind := domain0[len(domain0)-15].GTID
	other := behind
	other.Server++
	for _, stop := range []txn.GTID{behind, other} {
		tgt, _ := sc.Target(t)
		o := sourceOpts(sc, 2)
		o.Select.StartPosition, o.Source.StartGTID = txn.Position{}, domain0[len(domain0)-10].GTID.String()
		o.Select.StartGTIDs, _ = txn.ParseGTIDSet(o.Source.StartGTID)
		o.Select.StopBeforeGTID = stop
		sum, log, err := runFrom(tgt.DSN(""), o)
		if !errors.As(err, &passed) {
			t.Fatalf("--source-start %s --stop-before-gtid %s: %v (summary %+v), want it refused\n%s", o.Source.StartGTID, stop, err, sum, log)
		}
	}
}

// TestSourceGTIDStartResume: a run reading from a source after a GTID
// position, then a resume that reads the rest from the source.
//   - The first run commits nothing (its stop point comes first, as a kill
//     would): its checkpoint has no position, and the resume reads from
//     the source at the same GTID position (the checkpoint keeps the set)
//     instead of refusing, and applies the rest once.
//   - The first run commits part of the binlogs: the resume reads the GTID
//     history before its checkpoint from the source first (for
//     --start-gtid's order check), then opens its own dump. Opened in the
//     other order, the second dump connection of the run's server id made
//     the source end the first: "ERROR 4052: A slave with the same
//     server_uuid/server_id is already connected" once the replay read on
//     (soak seed 90208; 3 runs of 6).
func TestSourceGTIDStartResume(t *testing.T) {
	sc := replaytest.New(t, "ROW", sourceSetup, sourceWork(600, 2000))
	txns := scenarioTxns(t, sc)
	k := len(txns) / 10
	for _, c := range []struct {
		name    string
		stop    func(o *replay.Options)
		applied uint64
	}{
		{"nothing committed", func(o *replay.Options) { o.Select.StopBeforeGTID = txns[k].GTID }, 0},
		{"midway", func(o *replay.Options) { o.Select.StopPosition = txns[2*k].End }, uint64(k + 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := holdingFirst(t, sc, txns, k)
			o := sourceOpts(sc, 2)
			o.Source.StartGTID = txns[k-1].GTID.String()
			o.Select.StartGTIDs, _ = txn.ParseGTIDSet(o.Source.StartGTID)
			c.stop(&o)
			if sum, log, err := runFrom(tgt.DSN(""), o); err != nil || sum.Applied != c.applied {
				t.Fatalf("first run: applied %v, %v; want %d\n%s", sum, err, c.applied, log)
			}
			o = sourceOpts(sc, 2)
			o.Recovery.Resume, o.Select.ToEnd = true, true
			if _, log, err := runFrom(tgt.DSN(""), o); err != nil {
				t.Fatalf("resume: %v\n%s", err, log)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
		})
	}
}

// holdingFirst returns a target restored from sc's base that holds its
// first k transactions, replayed from the files, and no checkpoint.
func holdingFirst(t *testing.T, sc *replaytest.Scenario, txns []*txn.Txn, k int) (*sandbox.Server, *sql.DB) {
	t.Helper()
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Files, o.Select.StartPosition, o.Select.StopPosition = sc.Files, sc.Start, txns[k-1].End
	if sum, log, err := runFrom(tgt.DSN(""), o); err != nil || sum.Applied != uint64(k) {
		t.Fatalf("replay the files up to %s: %v\n%s", txns[k-1].End, err, log)
	}
	if _, err := db.Exec("DROP DATABASE " + replay.CheckpointSchema); err != nil {
		t.Fatal(err)
	}
	return tgt, db
}
