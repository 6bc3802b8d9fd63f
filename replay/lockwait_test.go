package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// lockScenario updates one row a hundred times.
func lockScenario(t *testing.T) *replaytest.Scenario {
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE lk", "CREATE TABLE lk.t (id INT PRIMARY KEY, n INT)",
				"INSERT INTO lk.t VALUES (1, 0), (2, 0)")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 100; i++ {
				if _, err := db.ExecContext(ctx, "UPDATE lk.t SET n = n + 1 WHERE id = 1"); err != nil {
					return err
				}
			}
			return nil
		})
}

// holdLock locks row 1 of lk.t on the target from another session until
// release is called.
func holdLock(t *testing.T, db *sql.DB) (release func()) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT n FROM lk.t WHERE id = 1 FOR UPDATE").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback() }
}

// TestLockHeldByAnotherSession: the replay waits, retries and finishes once
// the other session lets go, and says how many retries it took.
func TestLockHeldByAnotherSession(t *testing.T) {
	sc := lockScenario(t)
	tgt, db := sc.Target(t)
	release := holdLock(t, db)
	time.AfterFunc(3500*time.Millisecond, release)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Recovery.LockWaitTimeout = time.Second
	sum, err := replay.Run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if sum.Retries == 0 {
		t.Error("no retry reported, yet the row was locked for 3.5 s with a 1 s lock wait timeout")
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "lk")
}

// TestLockHeldForever: with the lock never released, the replay stops after
// its bounded retries with an error naming the transaction, and does not hang.
func TestLockHeldForever(t *testing.T) {
	sc := lockScenario(t)
	tgt, db := sc.Target(t)
	defer holdLock(t, db)()
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Recovery.LockWaitTimeout, o.Recovery.MaxRetries = time.Second, 2
	start := time.Now()
	_, err := replay.Run(context.Background(), o, io.Discard)
	var ae *replay.ApplyError
	if !errors.As(err, &ae) || ae.Start.IsZero() {
		t.Fatalf("replay against a row locked forever: %v, want an *ApplyError naming the transaction", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("gave up after %v: the retries are not bounded", d)
	}
	var n int
	if err := db.QueryRow("SELECT n FROM lk.t WHERE id = 2").Scan(&n); err != nil || n != 0 {
		t.Errorf("untouched row changed: n=%d err=%v", n, err)
	}
}
