package replay_test

import (
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
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/verify"
)

// nonTransScenario writes, per unit, an insert into a MyISAM table
// without a key and one into an Aria table (a row applied twice is a row
// too many), then an update of InnoDB row nt.k 5 (a row another session
// can hold locked on the target), then, in statement format, a transaction writing an
// InnoDB and a MyISAM table, then one the source rolls back after writing
// both (the MyISAM row stays).
func nonTransScenario(t *testing.T, units int) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
				"CREATE TABLE nt.k (id INT PRIMARY KEY, n INT) ENGINE=InnoDB",
				"CREATE TABLE nt.m (v INT) ENGINE=MyISAM",
				"CREATE TABLE nt.a (v INT) ENGINE=Aria",
				"INSERT INTO nt.k VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)")
		},
		func(ctx context.Context, db *sql.DB) error {
			var stmts []string
			for i := 1; i <= units; i++ {
				stmts = append(stmts,
					"SET SESSION binlog_format = 'ROW'",
					fmt.Sprintf("INSERT INTO nt.m VALUES (%d)", i),
					fmt.Sprintf("INSERT INTO nt.a VALUES (%d)", i),
					"UPDATE nt.k SET n = n + 1 WHERE id = 5",
					"SET SESSION binlog_format = 'STATEMENT'",
					"BEGIN", fmt.Sprintf("UPDATE nt.k SET n = n + 1 WHERE id = %d", i%4+1),
					fmt.Sprintf("INSERT INTO nt.m VALUES (%d)", 1000+i), "COMMIT",
					"BEGIN", "UPDATE nt.k SET n = n + 100 WHERE id = 1",
					fmt.Sprintf("INSERT INTO nt.m VALUES (%d)", 2000+i), "ROLLBACK")
			}
			return replaytest.ExecAll(ctx, db, stmts...)
		})
}

// TestNonTransactionalLockWait replays writes to MyISAM and Aria tables
// grouped with InnoDB ones while another session holds the InnoDB row the
// group after each of them needs, for longer than the lock wait timeout:
// the groups are rolled back and sent again. A non-transactional write
// must not be sent again with them (it survives the rollback): the target
// must end equal to the source, with as many rows in the keyless tables.
func TestNonTransactionalLockWait(t *testing.T) {
	sc := nonTransScenario(t, 20)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			tgt, db := sc.Target(t)
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := tx.QueryRow("SELECT n FROM nt.k WHERE id = 5 FOR UPDATE").Scan(&n); err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(3500*time.Millisecond, func() { _ = tx.Rollback() })
			o := opts(workers)
			o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
			o.Recovery.LockWaitTimeout = time.Second
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			if sum.Retries+sum.OrderAborts == 0 {
				t.Errorf("no retry reported, yet a row was locked for 3.5 s with a 1 s lock wait timeout: %+v\nlog:\n%s", sum, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
		})
	}
}

// TestNonTransactionalCommitCut cuts the replay's connection at the
// commit of the first transaction that writes the MyISAM table: just
// before the server gets it (the MyISAM row is there, the checkpoint does
// not move past it), just after (both happened), or at the mark written
// before it (nothing of it happened). The replay reconnects and resumes.
// Where the outcome is unknown it must stop, naming the transaction and
// the table, rather than apply it again; told it was applied
// (--uncertain applied), it goes on and ends equal to the source.
func TestNonTransactionalCommitCut(t *testing.T) {
	sc := nonTransScenario(t, 6)
	// Commit packets, one source transaction per commit: for the MyISAM
	// insert the mark before it (1) and its commit (2), then the same for
	// the Aria insert (3, 4), then the InnoDB update (5).
	for _, c := range []struct {
		name      string
		mode      cutMode
		nth       int
		uncertain bool
	}{
		{"before its commit", cutBefore, 2, true},
		{"after its commit", cutAfter, 2, false},
		{"at the mark before it", cutBefore, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), c.mode, c.nth)
			o := opts(4)
			o.Apply.GroupTxns = 1
			o.Recovery.MaxRetries = 2
			o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
			o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
			var log strings.Builder
			_, err := replay.Run(context.Background(), o, &log)
			if cut, _ := proxy.state(); !cut {
				t.Fatalf("the connection was not cut at commit %d\nlog:\n%s", c.nth, log.String())
			}
			var ue *replay.UncertainError
			if !c.uncertain {
				if err != nil {
					t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
				}
				replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
				return
			}
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "nt.m") || !strings.Contains(err.Error(), "--uncertain") {
				t.Fatalf("replay: %v, want an *UncertainError naming nt.m and --uncertain\nlog:\n%s", err, log.String())
			}
			// Resumed without saying what happened: refused again, nothing applied.
			o.TargetDSN, o.Recovery.Resume, o.Select.StartPosition = tgt.DSN(""), true, replay.DefaultOptions().Select.StartPosition
			if _, err := replay.Run(context.Background(), o, io.Discard); !errors.As(err, &ue) {
				t.Fatalf("resume without --uncertain: %v, want an *UncertainError", err)
			}
			// The row did land: told so, the replay goes on after it.
			o.Recovery.Uncertain = replay.OutcomeApplied
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("resume --uncertain applied: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "nt")
		})
	}
}

// TestNonTransactionalLeftOut: a statement-format transaction that writes
// a MyISAM table left out by --tables keeps nothing to apply. It must not
// be applied apart with a mark before it (as one writing a
// non-transactional table is): its commit holds the checkpoint alone,
// so a connection cut at the commit after it is retried, not refused as
// a transaction of unknown outcome (soak seed 123082, where a lost target
// stopped a run at such a transaction).
func TestNonTransactionalLeftOut(t *testing.T) {
	sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE nt",
			"CREATE TABLE nt.k (id INT PRIMARY KEY, n INT) ENGINE=InnoDB",
			"CREATE TABLE nt.m (v INT) ENGINE=MyISAM",
			"INSERT INTO nt.k VALUES (1, 0)")
	}, func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "INSERT INTO nt.m VALUES (1)",
			"UPDATE nt.k SET n = n + 1 WHERE id = 1", "UPDATE nt.k SET n = n + 1 WHERE id = 1")
	})
	tgt, db := sc.Target(t)
	// Commits: the MyISAM transaction's (nothing left of it), then the
	// first update's, cut before the server gets it.
	proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutBefore, 2)
	o := opts(2)
	o.Apply.GroupTxns = 1
	o.Recovery.MaxRetries = 2
	o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
	o.Select.Tables = []string{"nt.k"}
	o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
	var log strings.Builder
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	if cut, _ := proxy.state(); !cut {
		t.Fatalf("the connection was not cut at the second commit\nlog:\n%s", log.String())
	}
	rep, err := verify.Compare(context.Background(), db, sc.SourceDB, verify.Options{Tables: o.Select.Tables})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal() || len(rep.Tables) != 1 {
		t.Fatalf("nt.k differs from the source's:\n%s", rep)
	}
}
