package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestTargetRestartedMidReplay kills the target server (SIGKILL) during the
// replay and starts it again a second later: the replay must reconnect,
// resume from the checkpoint and end equal to the source, row events
// passed through and applied as SQL.
func TestTargetRestartedMidReplay(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return execAll(ctx, db, "CREATE DATABASE rs", "CREATE TABLE rs.t (id INT PRIMARY KEY, n INT, v VARCHAR(30))")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 8000; i++ {
				q := fmt.Sprintf("INSERT INTO rs.t VALUES (%d, 0, 'v') ON DUPLICATE KEY UPDATE n = n + 1", i%3000)
				if _, err := db.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
	for _, apply := range applyModes {
		t.Run(fmt.Sprint("apply=", apply), func(t *testing.T) { testTargetRestartedMidReplay(t, sc, apply) })
	}
}

func testTargetRestartedMidReplay(t *testing.T, sc *replaytest.Scenario, apply replay.ApplyMode) {
	tgt, db := sc.Target(t)
	o := withApply(opts(4), apply)
	o.Files, o.TargetDSN, o.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.GroupTxns = 2
	var (
		wg      sync.WaitGroup
		restart error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		if err := tgt.Kill(); err != nil {
			restart = err
			return
		}
		time.Sleep(time.Second)
		restart = tgt.Restart(context.Background())
	}()
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	wg.Wait()
	if restart != nil {
		t.Fatalf("kill/restart the target: %v", restart)
	}
	if err != nil {
		t.Fatalf("replay across a target restart: %v\nlog:\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "lost the target") {
		t.Fatalf("the target was never lost (the replay finished in %v, before the kill?): make the workload bigger\nlog:\n%s", sum.Elapsed, log.String())
	}
	checkApplied(t, o, sum, log.String())
	replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
}
