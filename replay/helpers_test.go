package replay_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// replayInto replays the scenario's binlogs into a fresh target restored
// from the base and returns the target.
func replayInto(t *testing.T, sc *replaytest.Scenario, o replay.Options) (*sql.DB, *replay.Summary) {
	t.Helper()
	tgt, db := sc.Target(t)
	o.Files = sc.Files
	o.TargetDSN = tgt.DSN("")
	if o.StartPosition.IsZero() {
		o.StartPosition = sc.Start
	}
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	return db, sum
}

func opts(workers int) replay.Options {
	o := replay.DefaultOptions()
	o.Workers = workers
	return o
}
