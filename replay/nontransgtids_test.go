package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
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
			tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Args: []string{"--gtid-strict-mode=1"}})
			db, err := tgt.Open(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			o := opts(workers)
			o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
			replayKeepingGTIDs(t, o, db, sc, srcPos, "nt")
		})
	}
}
