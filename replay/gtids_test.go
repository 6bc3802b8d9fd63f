package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// gtidScenario writes a workload in two GTID domains and from two server
// ids, with DDL and statement-format transactions among row ones.
func gtidScenario(t *testing.T) *replaytest.Scenario {
	return replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE g",
			"CREATE TABLE g.a (id INT PRIMARY KEY, n INT NOT NULL)",
			"CREATE TABLE g.b (id INT PRIMARY KEY, v VARCHAR(20))")
	}, func(ctx context.Context, db *sql.DB) error {
		conns := make([]*sql.Conn, 3)
		for i := range conns {
			c, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			conns[i] = c
		}
		// conns[0] logs in domain 0, conns[1] in domain 5, conns[2] in
		// domain 0 as server 77 (as after a failover), in statement format.
		// Domain 5's last transaction is followed by row transactions of
		// domain 0 only, which may join its group.
		if _, err := conns[1].ExecContext(ctx, "SET SESSION gtid_domain_id=5"); err != nil {
			return err
		}
		if _, err := conns[2].ExecContext(ctx, "SET SESSION server_id=77, SESSION binlog_format=STATEMENT"); err != nil {
			return err
		}
		rng := rand.New(rand.NewSource(7))
		for i := 0; i < 400; i++ {
			var q string
			c := conns[0]
			switch {
			case i%37 == 5:
				c = conns[1]
				q = fmt.Sprintf("INSERT INTO g.b (id, v) VALUES (%d, 'd5-%d') ON DUPLICATE KEY UPDATE v=VALUES(v)", rng.Intn(50), i)
			case i%41 == 7 && i < 300:
				c = conns[2]
				q = fmt.Sprintf("UPDATE g.a SET n=n+1 WHERE id < %d", rng.Intn(20))
			case i == 200:
				q = "ALTER TABLE g.b ADD COLUMN w INT NOT NULL DEFAULT 3"
			default:
				q = fmt.Sprintf("INSERT INTO g.a VALUES (%d, %d) ON DUPLICATE KEY UPDATE n=n+VALUES(n)", rng.Intn(100), i)
			}
			if _, err := c.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
}

// gtidState returns the server's @@gtid_binlog_pos and @@gtid_binlog_state.
func gtidState(t *testing.T, db *sql.DB) (pos, state string) {
	t.Helper()
	if err := db.QueryRow("SELECT @@gtid_binlog_pos, @@gtid_binlog_state").Scan(&pos, &state); err != nil {
		t.Fatal(err)
	}
	return pos, state
}

// TestTargetKeepsSourceGTIDs replays into targets with their binlog on: by
// default every target commit is logged with its last source transaction's
// GTID, so the target ends at the source's GTID position, also under
// gtid_strict_mode; with --target-gtids=own the target logs its own.
func TestTargetKeepsSourceGTIDs(t *testing.T) {
	sc := gtidScenario(t)
	srcPos, srcState := gtidState(t, sc.SourceDB)
	if !strings.Contains(srcPos, "5-") || !strings.Contains(srcState, "-77-") {
		t.Fatalf("source GTID state %q (position %q) lacks domain 5 or server 77", srcState, srcPos)
	}
	run := func(t *testing.T, o replay.Options, dsn func(*sandbox.Server) string) (*sandbox.Server, *sql.DB, *replay.Summary, error) {
		tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Args: []string{"--gtid-strict-mode=1"}})
		db, err := tgt.Open(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := replaytest.ExecAll(context.Background(), db, "SET SESSION sql_log_bin=0",
			"CREATE USER 'app'@'localhost' IDENTIFIED BY 'pw'",
			"GRANT ALL ON *.* TO 'app'@'localhost'",
			"REVOKE SUPER, BINLOG ADMIN ON *.* FROM 'app'@'localhost'"); err != nil {
			t.Fatal(err)
		}
		o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, dsn(tgt), sc.Start
		// Block the replay's first transaction for a while, so that the
		// transactions after it gather in large groups.
		lock, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		if _, err := lock.ExecContext(context.Background(), "LOCK TABLES g.a WRITE, g.b WRITE"); err != nil {
			t.Fatal(err)
		}
		unlock := time.AfterFunc(time.Second, func() { lock.ExecContext(context.Background(), "UNLOCK TABLES") })
		defer unlock.Stop()
		var log strings.Builder
		sum, err := replay.Run(context.Background(), o, &log)
		t.Logf("log:\n%s", log.String())
		return tgt, db, sum, err
	}
	root := func(s *sandbox.Server) string { return s.DSN("") }
	app := func(s *sandbox.Server) string { return strings.Replace(s.DSN(""), "root@", "app:pw@", 1) }
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("source/workers=%d", workers), func(t *testing.T) {
			_, db, sum, err := run(t, opts(workers), root)
			if err != nil {
				t.Fatal(err)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "g")
			pos, state := gtidState(t, db)
			if !sum.SourceGTIDs || pos != srcPos || state != srcState {
				t.Fatalf("target GTID position %q state %q (source GTIDs kept: %v); want the source's %q, %q",
					pos, state, sum.SourceGTIDs, srcPos, srcState)
			}
		})
	}
	t.Run("own", func(t *testing.T) {
		o := opts(4)
		o.Apply.TargetGTIDs = replay.GTIDsOwn
		tgt, db, sum, err := run(t, o, root)
		if err != nil {
			t.Fatal(err)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "g")
		if pos, _ := gtidState(t, db); sum.SourceGTIDs || !strings.Contains(pos, fmt.Sprintf("-%d-", tgt.ServerID)) {
			t.Fatalf("target GTID position %q (source GTIDs kept: %v); want the target's own server id %d", pos, sum.SourceGTIDs, tgt.ServerID)
		}
	})
	t.Run("auto without BINLOG ADMIN", func(t *testing.T) {
		_, db, sum, err := run(t, opts(4), app)
		if err != nil {
			t.Fatal(err)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "g")
		if sum.SourceGTIDs {
			t.Fatal("source GTIDs kept by a user who may not set sql_log_bin")
		}
	})
	t.Run("source without BINLOG ADMIN", func(t *testing.T) {
		o := opts(4)
		o.Apply.TargetGTIDs = replay.GTIDsSource
		_, db, _, err := run(t, o, app)
		if err == nil || !strings.Contains(err.Error(), "BINLOG ADMIN") {
			t.Fatalf("replay: %v; want a refusal naming BINLOG ADMIN", err)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", replay.CheckpointSchema).Scan(&n); err != nil || n != 0 {
			t.Fatalf("checkpoint schema created before the refusal (%d, %v)", n, err)
		}
	})
}

// replayKeepingGTIDs replays with o into target, which keeps the source's
// GTIDs in its binlog, and fails unless the replay ends well with them
// kept, the databases dbs equal the source's, and the target's GTID
// position is the source's (srcPos). It returns the summary and the log.
func replayKeepingGTIDs(t *testing.T, o replay.Options, target *sql.DB, sc *replaytest.Scenario, srcPos string, dbs ...string) (*replay.Summary, string) {
	t.Helper()
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	if !sum.SourceGTIDs {
		t.Fatalf("source GTIDs not kept\nlog:\n%s", log.String())
	}
	replaytest.RequireEqual(t, target, sc.SourceDB, dbs...)
	if pos, _ := gtidState(t, target); pos != srcPos {
		t.Fatalf("target GTID position %q, want the source's %q", pos, srcPos)
	}
	return sum, log.String()
}

// TestTemporaryTablesInDomains: statement-format sessions of four GTID
// domains each use a temporary table, interleaved. A session holding a
// temporary table may not change its gtid_domain_id (error 1953, on the
// source as on the target), so with the source's GTIDs kept a single
// statement session for the replay could not log the next domain's
// statement while another domain's table is open: each domain's
// statements get a session of their own, and the connection pool keeps
// room for the run's other reads however many there are (a table created
// once they are all open needs its definition read: with the pool taken
// by sessions, the run waited for ever). The target must end at the
// source's state and GTID position, whatever the workers.
func TestTemporaryTablesInDomains(t *testing.T) {
	const domains = 4
	sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE tt",
			"CREATE TABLE tt.p (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
	}, func(ctx context.Context, db *sql.DB) error {
		conns, err := domainConns(ctx, db, 0, 3, 6, 9)
		if err != nil {
			return err
		}
		for i, c := range conns {
			defer c.Close()
			if _, err := c.ExecContext(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE tt.tmp%d (id INT PRIMARY KEY) ENGINE=InnoDB", i)); err != nil {
				return err
			}
		}
		exec := func(i int, q string) error {
			if _, err := conns[i].ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			return nil
		}
		for n := 0; n < 40; n++ {
			i := n % domains
			if err := exec(i, fmt.Sprintf("INSERT INTO tt.tmp%d VALUES (%d)", i, n)); err != nil {
				return err
			}
			if err := exec(i, fmt.Sprintf("INSERT INTO tt.p SELECT id, 'from tmp%d' FROM tt.tmp%d WHERE id = %d", i, i, n)); err != nil {
				return err
			}
		}
		if err := exec(0, "CREATE TABLE tt.q (id INT PRIMARY KEY, d INT) ENGINE=InnoDB"); err != nil {
			return err
		}
		for i := range conns {
			if err := exec(i, fmt.Sprintf("INSERT INTO tt.q SELECT id, %d FROM tt.tmp%d", i, i)); err != nil {
				return err
			}
		}
		for i := range conns {
			if err := exec(i, fmt.Sprintf("DROP TEMPORARY TABLE tt.tmp%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	srcPos, _ := gtidState(t, sc.SourceDB)
	if strings.Count(srcPos, ",") != domains-1 {
		t.Fatalf("source GTID position %q: the workload did not log in %d domains", srcPos, domains)
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			db, o := binlogTarget(t, sc, "MIXED", workers, "--gtid-strict-mode=1")
			var log strings.Builder
			done := make(chan error, 1)
			go func() {
				_, err := replay.Run(context.Background(), o, &log)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
				}
			case <-time.After(90 * time.Second):
				t.Fatal("the replay still runs after 90 s: it waits for ever (for a connection its pool cannot give)")
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "tt")
			if pos, _ := gtidState(t, db); pos != srcPos {
				t.Fatalf("target GTID position %q, want the source's %q", pos, srcPos)
			}
		})
	}
}

// TestTemporaryTableFollowsItsSession: a source session creates a
// temporary table in STATEMENT format in one GTID domain, switches to ROW
// format (where MariaDB lets a session holding temporary tables change its
// domain), writes and drops the table in another domain, then creates a
// table of the same name again in the first. Its statements are the one
// source session's: they must run on the target session that holds its
// temporary tables, whichever domain logs them, or the DROP misses the
// table (another domain's session does not hold it) and the second
// CREATE fails (error 1050; soak seed 48357). A second session keeps a
// temporary table of its own open on the first domain's session while the
// first one switches, and a third uses the second domain as before.
func TestTemporaryTableFollowsItsSession(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE tt",
			"CREATE TABLE tt.p (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
	}, func(ctx context.Context, db *sql.DB) error {
		conns, err := domainConns(ctx, db, 0, 0, 2)
		if err != nil {
			return err
		}
		for _, c := range conns {
			defer c.Close()
		}
		steps := []struct {
			conn int
			sql  string
		}{
			{0, "CREATE TEMPORARY TABLE tt.tmp (id INT PRIMARY KEY) ENGINE=InnoDB"},
			{1, "CREATE TEMPORARY TABLE tt.other (id INT PRIMARY KEY) ENGINE=InnoDB"},
			{0, "INSERT INTO tt.tmp VALUES (1), (2)"},
			{1, "INSERT INTO tt.other VALUES (10)"},
			{0, "INSERT INTO tt.p SELECT id, 'first' FROM tt.tmp"},
			{2, "INSERT INTO tt.p VALUES (100, 'domain 2')"},
			{0, "SET SESSION binlog_format='ROW'"},
			{0, "SET SESSION gtid_domain_id=2"},
			{0, "INSERT INTO tt.p SELECT id + 2, 'row' FROM tt.tmp"},
			{1, "INSERT INTO tt.p SELECT id, 'other' FROM tt.other"},
			{0, "DROP TEMPORARY TABLE tt.tmp"},
			{2, "INSERT INTO tt.p VALUES (101, 'domain 2')"},
			{0, "SET SESSION binlog_format='STATEMENT'"},
			{0, "SET SESSION gtid_domain_id=0"},
			{0, "CREATE TEMPORARY TABLE tt.tmp (id INT PRIMARY KEY) ENGINE=InnoDB"},
			{0, "INSERT INTO tt.tmp VALUES (5)"},
			{0, "INSERT INTO tt.p SELECT id, 'second' FROM tt.tmp"},
			{1, "DROP TEMPORARY TABLE tt.other"},
			{0, "DROP TEMPORARY TABLE tt.tmp"},
		}
		for _, s := range steps {
			if _, err := conns[s.conn].ExecContext(ctx, s.sql); err != nil {
				return fmt.Errorf("session %d: %s: %w", s.conn, s.sql, err)
			}
		}
		return nil
	})
	srcPos, _ := gtidState(t, sc.SourceDB)
	if strings.Count(srcPos, ",") != 1 {
		t.Fatalf("source GTID position %q: the workload did not log in 2 domains", srcPos)
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			db, o := binlogTarget(t, sc, "MIXED", workers, "--gtid-strict-mode=1")
			var log strings.Builder
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "tt")
			if pos, _ := gtidState(t, db); pos != srcPos {
				t.Fatalf("target GTID position %q, want the source's %q", pos, srcPos)
			}
		})
	}
}

// TestTemporaryTablesOfTwoServerIDs replays one source session that writes
// under two server ids (SET SESSION server_id; on a multi-source replica
// logging what it applies, two masters' sessions of one thread id), each
// with a temporary table tt.tmp of its own: a server keys temporary tables
// by server id and thread id, so the two are different tables on the
// source, and a statement under one id does not see the other's. The
// second CREATE has IF NOT EXISTS: applied in one target session keyed by
// the thread id alone, it found the first id's table, the INSERT ...
// SELECT copied both ids' rows (a replay stopped just after it: exit 0,
// tt.p holding 1 and 2 where the source had 2), and the first id's later
// INSERT ... SELECT failed, its table dropped (the target's own GTIDs, 1
// and 4 workers). With the source's GTIDs kept, each transaction sets its
// server id on the target session, as a replica's SQL thread does.
func TestTemporaryTablesOfTwoServerIDs(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE tt",
			"CREATE TABLE tt.p (id INT PRIMARY KEY) ENGINE=InnoDB")
	}, oneSession(
		"SET @id = @@server_id", "SET SESSION server_id = 77",
		"CREATE TEMPORARY TABLE tt.tmp (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO tt.tmp VALUES (1)",
		"SET SESSION server_id = @id",
		"CREATE TEMPORARY TABLE IF NOT EXISTS tt.tmp (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO tt.tmp VALUES (2)",
		"INSERT INTO tt.p SELECT id FROM tt.tmp",
		"DROP TEMPORARY TABLE tt.tmp",
		"SET SESSION server_id = 77",
		"INSERT INTO tt.p SELECT id + 10 FROM tt.tmp",
		"DROP TEMPORARY TABLE tt.tmp",
		"SET SESSION server_id = @id",
		"INSERT INTO tt.p VALUES (100)"))
	var want string
	if err := sc.SourceDB.QueryRow("SELECT GROUP_CONCAT(id ORDER BY id) FROM tt.p").Scan(&want); err != nil || want != "2,11,100" {
		t.Fatalf("source: tt.p holds %q (%v), want 2,11,100", want, err)
	}
	for _, c := range []struct {
		name    string
		workers int
		keep    bool
	}{{"own GTIDs, 1 worker", 1, false}, {"own GTIDs, 4 workers", 4, false}, {"source GTIDs", 4, true}} {
		t.Run(c.name, func(t *testing.T) {
			var db *sql.DB
			o := opts(c.workers)
			if c.keep {
				db, o = binlogTarget(t, sc, "MIXED", c.workers)
			} else {
				var tgt *sandbox.Server
				tgt, db = sc.Target(t)
				o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
			}
			var log strings.Builder
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "tt")
		})
	}
	t.Run("stopped after the copy", func(t *testing.T) {
		var copied *txn.Txn
		for _, tx := range scenarioTxns(t, sc) {
			if q := tx.Events[0].Query; q != nil && strings.Contains(string(q.SQL), "SELECT id FROM") {
				copied = tx
			}
		}
		if copied == nil {
			t.Fatal("no INSERT ... SELECT id FROM tt.tmp in the binlogs")
		}
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.Select.StartPosition, o.Select.StopPosition, o.TargetDSN = sc.Files, sc.Start, copied.End, tgt.DSN("")
		if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
			t.Fatalf("replay to %s: %v", copied.End, err)
		}
		var got string
		if err := db.QueryRow("SELECT GROUP_CONCAT(id ORDER BY id) FROM tt.p").Scan(&got); err != nil || got != "2" {
			t.Fatalf("tt.p holds %q (%v), want 2 as on the source then", got, err)
		}
	})
}

// TestStrictTargetOutOfOrderGTIDs keeps the source's GTIDs on a target with
// gtid_strict_mode on, from binlogs whose domain 0 logs 0-77-1 after
// higher sequence numbers (gtid_strict_mode off on the source): the target
// refuses to log it (error 1950). The replay stops there, the target
// holding every transaction before it, and says what to do; with 4
// workers the refusal came at the chained COMMIT, which it called of
// unknown outcome. Then --resume finishes equal to the source, with
// gtid_strict_mode off on the target, or with --target-gtids own.
func TestStrictTargetOutOfOrderGTIDs(t *testing.T) {
	sc := lowerSeqNoScenario(t)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			strictOff := workers == 1 // else the resume takes --target-gtids own
			db, o := binlogTarget(t, sc, "ROW", workers, "--gtid-strict-mode=1")
			_, err := replay.Run(context.Background(), o, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "0-77-1") || !strings.Contains(err.Error(), "gtid_strict_mode=OFF") ||
				strings.Contains(err.Error(), "outcome unknown") {
				t.Fatalf("replay: %v; want the strict target's refusal of 0-77-1, with what to do", err)
			}
			t.Logf("error: %v", err)
			requireRows(t, db, "tt.p", 3)
			if strictOff {
				if _, err := db.Exec("SET GLOBAL gtid_strict_mode = OFF"); err != nil {
					t.Fatal(err)
				}
			} else {
				o.Apply.TargetGTIDs = replay.GTIDsOwn
			}
			o.Recovery.Resume, o.Select.StartPosition = true, txn.Position{}
			if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
				t.Fatalf("resume: %v", err)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "tt")
		})
	}
}

// TestResumeAfterLowerSequenceNumber keeps the source's GTIDs on a target
// whose gtid_strict_mode is off, stops just after 0-77-1, logged after
// higher sequence numbers of its domain, and resumes: the target's binlog
// holds those higher numbers, which the replay logged itself. The resume
// was refused ("the target's binlog holds GTID 0-S-3, past the checkpoint's
// last transaction 0-77-1"); it reads how high the domain went before the
// checkpoint and goes on.
func TestResumeAfterLowerSequenceNumber(t *testing.T) {
	sc := lowerSeqNoScenario(t)
	txns := scenarioTxns(t, sc)
	db, o := binlogTarget(t, sc, "ROW", 1)
	o.Select.StopPosition = txns[3].End
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	o.Recovery.Resume, o.Select.StartPosition, o.Select.StopPosition, o.Select.ToEnd = true, txn.Position{}, txn.Position{}, true
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("resume: %v", err)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "tt")
}

// lowerSeqNoScenario returns a scenario of five one-row inserts into tt.p,
// the 4th logged as 0-77-1, below the domain's earlier sequence numbers
// (gtid_strict_mode off).
func lowerSeqNoScenario(t *testing.T) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE tt", "CREATE TABLE tt.p (id INT PRIMARY KEY) ENGINE=InnoDB")
	}, oneSession("INSERT INTO tt.p VALUES (1)", "INSERT INTO tt.p VALUES (2)", "INSERT INTO tt.p VALUES (3)",
		"SET @id = @@server_id", "SET SESSION server_id = 77", "SET SESSION gtid_seq_no = 1",
		"INSERT INTO tt.p VALUES (4)", "SET SESSION server_id = @id", "INSERT INTO tt.p VALUES (5)"))
}

// TestStopGTIDReachedBeforeStart gives --stop-before-gtid 0-77-1, a
// transaction after the start whose sequence number the binlogs before the
// start already reach (the base's own transactions): the replay refuses
// once reading starts, and plan foresees it (it predicted no refusal: soak
// seed 92771).
func TestStopGTIDReachedBeforeStart(t *testing.T) {
	sc := lowerSeqNoScenario(t)
	txns := scenarioTxns(t, sc)
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Files, o.Select.StartPosition, o.TargetDSN, o.Select.StopBeforeGTID = sc.Files, sc.Start, tgt.DSN(""), txns[3].GTID
	_, err := replay.Run(context.Background(), o, io.Discard)
	var passed *replay.StopPassedError
	if !errors.As(err, &passed) || !strings.Contains(err.Error(), "already reach sequence number") {
		t.Fatalf("replay: %v; want a *StopPassedError: the binlogs before the start reach %s", err, txns[3].GTID)
	}
	requireRows(t, db, "tt.p", 0)
	rep, err := plan.Run(context.Background(), plan.Options{Files: sc.Files, StartPosition: sc.Start, StopBeforeGTID: txns[3].GTID})
	if err != nil || !strings.Contains(rep.Problems.Refusal, "already reach sequence number") {
		t.Fatalf("plan: %v, refusal %q; want the replay's", err, rep.Problems.Refusal)
	}
}

// TestAnchorLowerSequenceNumber: the anchor of the tests and of bench
// (mariadb-binlog | mariadb) applies binlogs whose sequence numbers do not
// rise in a domain; mariadb-binlog refuses them by default ("Found out of
// order GTID"), which made bench --binlogs fail on them.
func TestAnchorLowerSequenceNumber(t *testing.T) {
	sc := lowerSeqNoScenario(t)
	tgt, db := sc.Target(t)
	if err := reference.ReplayWithMariaDBBinlog(context.Background(), sc.Files, sc.Start.File, sc.Start.Offset, tgt.Socket); err != nil {
		t.Fatalf("anchor: %v", err)
	}
	requireRows(t, db, "tt.p", 5)
}
