package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// ddlResumeScenario runs DDL that must not run twice, each between row
// transactions: a rename that swaps two InnoDB tables of one definition,
// an unnamed index, a column renamed, a procedure created, a primary key
// added, an unnamed foreign key, a swap of two MyISAM tables of one
// definition (whose identity the server does not show), and a partition
// exchanged with a table (definitions unchanged; run twice, the rows swap
// back).
func ddlResumeScenario(t *testing.T) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE dd",
				"CREATE TABLE dd.a (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "CREATE TABLE dd.b LIKE dd.a",
				"CREATE TABLE dd.ma (id INT PRIMARY KEY, v INT) ENGINE=MyISAM", "CREATE TABLE dd.mb LIKE dd.ma",
				"CREATE TABLE dd.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"CREATE TABLE dd.u (id INT NOT NULL, v INT) ENGINE=InnoDB",
				"INSERT INTO dd.a VALUES (1, 1), (2, 1)", "INSERT INTO dd.b VALUES (1, 2), (2, 2), (3, 2)",
				"INSERT INTO dd.ma VALUES (1, 3)", "INSERT INTO dd.mb VALUES (1, 4), (2, 4)",
				"INSERT INTO dd.u VALUES (1, 1), (2, 2)",
				"CREATE TABLE dd.tp (id INT PRIMARY KEY, v INT) ENGINE=InnoDB PARTITION BY RANGE (id) "+
					"(PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN (200), PARTITION p2 VALUES LESS THAN MAXVALUE)",
				"CREATE TABLE dd.tpx (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"INSERT INTO dd.tp VALUES (1, 1), (150, 2), (300, 3)", "INSERT INTO dd.tpx VALUES (160, 4), (170, 5)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db,
				"INSERT INTO dd.a VALUES (10, 10)",
				"RENAME TABLE dd.a TO dd.tmp, dd.b TO dd.a, dd.tmp TO dd.b",
				"INSERT INTO dd.a VALUES (11, 11)",
				"ALTER TABLE dd.t ADD INDEX (v)",
				"INSERT INTO dd.t VALUES (1, 1)",
				"ALTER TABLE dd.t CHANGE COLUMN v w INT",
				"INSERT INTO dd.t VALUES (2, 2)",
				"CREATE PROCEDURE dd.p() SELECT 1",
				"ALTER TABLE dd.u ADD PRIMARY KEY (id)",
				"INSERT INTO dd.u VALUES (5, 5)",
				"ALTER TABLE dd.t ADD FOREIGN KEY (w) REFERENCES dd.u (id)",
				"RENAME TABLE dd.ma TO dd.tmp, dd.mb TO dd.ma, dd.tmp TO dd.mb",
				"INSERT INTO dd.ma VALUES (12, 12)",
				"ALTER TABLE dd.tp EXCHANGE PARTITION p1 WITH TABLE dd.tpx",
				"INSERT INTO dd.tp VALUES (180, 6)")
		})
}

// commitPacket returns the number of the commit packet (counted as
// cutProxy counts them, one source transaction per commit) that ends the
// k-th DDL of txns: a DDL and a transaction writing a MyISAM table take two
// (the mark before them, the commit after), others one.
func commitPacket(t *testing.T, txns []*txn.Txn, k int) int {
	t.Helper()
	n, ddls := 0, 0
	for _, tx := range txns {
		switch {
		case tx.Kind == txn.KindDDL:
			n += 2
			if ddls == k {
				return n
			}
			ddls++
		case tx.NonTransactional:
			n += 2
		default:
			n++
		}
	}
	t.Fatalf("no DDL number %d", k)
	return 0
}

// TestDDLResumeExactlyOnce loses the target just after each DDL ran and
// before its end was recorded (the replay reconnects and resumes from the
// checkpoint, which names the DDL as started): the resumed run must find
// out that it ran and not run it again. Run twice, the swap swaps back, the
// index and the foreign key are made twice, the others fail. Lost just
// before a DDL ran, the resumed run must run it. For two MyISAM tables of
// one definition swapped, nothing tells: the replay stops and says so, and
// goes on once told (--uncertain applied).
func TestDDLResumeExactlyOnce(t *testing.T) {
	sc := ddlResumeScenario(t)
	txns := scenarioTxns(t, sc)
	for _, c := range []struct {
		name      string
		ddl       int
		match     func([]byte) bool
		uncertain bool
	}{
		{name: "InnoDB swap ran", ddl: 0},
		{name: "unnamed index ran", ddl: 1},
		{name: "CHANGE COLUMN ran", ddl: 2},
		{name: "CREATE PROCEDURE ran", ddl: 3},
		{name: "ADD PRIMARY KEY ran", ddl: 4},
		{name: "unnamed foreign key ran", ddl: 5},
		{name: "InnoDB swap did not run", match: func(b []byte) bool { return bytes.HasPrefix(b, []byte("RENAME TABLE dd.a")) }},
		{name: "MyISAM swap ran", ddl: 6, uncertain: true},
		{name: "EXCHANGE PARTITION ran", ddl: 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			n := 1
			if c.match == nil {
				n = commitPacket(t, txns, c.ddl)
			}
			cutReplay(t, sc, tgt, 30*time.Second, n, c.match).
				requireResumed(t, c.uncertain, "same definition")
			replaytest.RequireEqual(t, db, sc.SourceDB, "dd")
			var procs int
			if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'dd'").Scan(&procs); err != nil || procs != 1 {
				t.Fatalf("%d procedures in dd (%v), want 1", procs, err)
			}
			var fks int
			if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = 'dd'").Scan(&fks); err != nil || fks != 1 {
				t.Fatalf("%d foreign keys in dd (%v), want 1", fks, err)
			}
		})
	}
}

// TestCreateSelectNonTransactionalResume loses the target just after a
// statement-format CREATE TABLE ... SELECT into a MyISAM table ran and
// before its end was recorded. The table exists, so the fingerprint says
// the statement ran, but a MyISAM table cut in the middle of the SELECT
// holds only some of its rows: the replay must not take it as applied. It
// stops naming the table; told the statement ran whole (--uncertain
// applied), it goes on to a target equal to the source. Into an InnoDB
// table (atomic), it goes on by itself.
func TestCreateSelectNonTransactionalResume(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE cs",
				"CREATE TABLE cs.src (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
				"INSERT INTO cs.src SELECT seq, seq FROM cs.seq_1_to_500",
				"CREATE TABLE cs.r (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO cs.r VALUES (1)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db,
				"INSERT INTO cs.src VALUES (1000, 1)",
				"CREATE TABLE cs.m (PRIMARY KEY (id)) ENGINE=MyISAM SELECT id, v FROM cs.src",
				"INSERT INTO cs.src VALUES (1001, 1)",
				"CREATE TABLE cs.i (PRIMARY KEY (id)) ENGINE=InnoDB SELECT id, v FROM cs.src",
				"INSERT INTO cs.src VALUES (1002, 1)",
				"CREATE OR REPLACE TABLE cs.r (PRIMARY KEY (id)) SELECT id, v FROM cs.src",
				"INSERT INTO cs.src VALUES (1003, 1)")
		})
	t.Run("CREATE OR REPLACE cut between its drop and its create", func(t *testing.T) {
		// Before MariaDB 11.2 CREATE OR REPLACE TABLE drops, then
		// creates. The replay is cut just before it sends the statement
		// (its DDL mark committed), and the table is dropped by hand, as
		// a restart between the two steps leaves it: the fingerprint
		// differs, but the statement must run again, not be skipped.
		tgt, db := sc.Target(t)
		match := func(b []byte) bool { return bytes.Contains(b, []byte("CREATE OR REPLACE TABLE cs.r")) }
		cut := cutReplay(t, sc, tgt, 0, 1, match)
		if cut.err == nil {
			t.Fatal("the replay went through the cut")
		}
		if _, err := db.Exec("DROP TABLE cs.r"); err != nil {
			t.Fatal(err)
		}
		o := cut.opts
		o.TargetDSN, o.Recovery.Resume, o.Select.StartPosition = tgt.DSN(""), true, txn.Position{}
		var log strings.Builder
		if _, err := replay.Run(context.Background(), o, &log); err != nil {
			t.Fatalf("resume: %v\nlog:\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), "running it again") {
			t.Errorf("the resume did not say it runs the statement again:\n%s", log.String())
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "cs")
	})
	txns := scenarioTxns(t, sc)
	for _, c := range []struct {
		name      string
		ddl       int
		uncertain bool
	}{
		{name: "MyISAM", ddl: 0, uncertain: true},
		{name: "InnoDB", ddl: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			n := commitPacket(t, txns, c.ddl)
			cutReplay(t, sc, tgt, 30*time.Second, n, nil).
				requireResumed(t, c.uncertain, "CREATE TABLE ... SELECT", "cs.m")
			replaytest.RequireEqual(t, db, sc.SourceDB, "cs")
		})
	}
}

// cutRun is a replay cut by a proxy: its options (the proxy's DSN), log
// and error, and the target to resume on.
type cutRun struct {
	opts replay.Options
	log  string
	err  error
	tgt  *sandbox.Server
}

// cutReplay replays sc's binlogs into tgt, one source transaction per
// commit, through a proxy that cuts the connection before the nth packet
// match accepts (every packet when match is nil), and fails t unless the
// cut happened.
func cutReplay(t *testing.T, sc *replaytest.Scenario, tgt *sandbox.Server, reconnect time.Duration, n int, match func([]byte) bool) cutRun {
	t.Helper()
	proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutBefore, n, match)
	o := opts(4)
	o.Apply.GroupTxns = 1
	o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, reconnect
	o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
	var log strings.Builder
	_, err := replay.Run(context.Background(), o, &log)
	if cut, _ := proxy.state(); !cut || reconnect > 0 && !strings.Contains(log.String(), "lost the target") {
		t.Fatalf("the connection was not cut (packet %d)\nlog:\n%s", n, log.String())
	}
	return cutRun{opts: o, log: log.String(), err: err, tgt: tgt}
}

// requireResumed fails t unless the cut replay finished, or, when
// uncertain, stopped with an *UncertainError whose text holds every one
// of want and then finished with --resume --uncertain applied.
func (c cutRun) requireResumed(t *testing.T, uncertain bool, want ...string) {
	t.Helper()
	if !uncertain {
		if c.err != nil {
			t.Fatalf("replay: %v\nlog:\n%s", c.err, c.log)
		}
		return
	}
	var ue *replay.UncertainError
	if !errors.As(c.err, &ue) {
		t.Fatalf("replay: %v, want an *UncertainError\nlog:\n%s", c.err, c.log)
	}
	for _, w := range want {
		if !strings.Contains(c.err.Error(), w) {
			t.Fatalf("replay: %v, want an *UncertainError saying %q\nlog:\n%s", c.err, w, c.log)
		}
	}
	o := c.opts
	o.TargetDSN, o.Recovery.Resume, o.Select.StartPosition, o.Recovery.Uncertain = c.tgt.DSN(""), true, txn.Position{}, replay.OutcomeApplied
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("resume --uncertain applied: %v", err)
	}
}

// TestDDLMarkOfEarlierVersion resumes where an earlier version left a DDL
// pending with a fingerprint taken its own way (a digest without
// schema.DigestVersion): the digests cannot be compared, so the replay
// stops and asks (--uncertain) rather than take the difference for "ran".
func TestDDLMarkOfEarlierVersion(t *testing.T) {
	sc := ddlResumeScenario(t)
	txns := scenarioTxns(t, sc)
	tgt, db := sc.Target(t)
	c := cutReplay(t, sc, tgt, 0, commitPacket(t, txns, 0), nil)
	if c.err == nil {
		t.Fatalf("the cut replay finished\nlog:\n%s", c.log)
	}
	res, err := db.Exec("UPDATE binlog_replay.checkpoint SET pending_print = SUBSTRING(pending_print, ?) "+
		"WHERE state = 'ddl' AND pending_print LIKE ?", len(schema.DigestVersion)+1, schema.DigestVersion+"%")
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("make the mark an earlier version's: %d rows (%v)\nlog:\n%s", n, err, c.log)
	}
	c.opts.TargetDSN, c.opts.Recovery.Resume, c.opts.Select.StartPosition = tgt.DSN(""), true, txn.Position{}
	_, c.err = replay.Run(context.Background(), c.opts, io.Discard)
	c.requireResumed(t, true, "earlier version")
	replaytest.RequireEqual(t, db, sc.SourceDB, "dd")
}
