package replay_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/sandbox"
	"github.com/binlog-replay/binlog-replay/workload"
)

func TestZZPerf(t *testing.T) {
	if os.Getenv("BR_PERF") == "" {
		t.Skip()
	}
	ctx := context.Background()
	wo := workload.Options{Profile: workload.Profile(os.Getenv("BR_PROFILE")), Seed: 1, Scale: 20000, Txns: 20000, Tables: 8, Threads: 8, Format: "ROW"}
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error { return workload.Setup(ctx, db, wo) },
		func(ctx context.Context, db *sql.DB) error { return workload.Run(ctx, db, wo) })
	var size int64
	for _, f := range sc.Files {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	t.Logf("binlog %d files %d bytes", len(sc.Files), size)
	{
		tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true})
		start := time.Now()
		if err := workload.ReplayWithMariaDBBinlog(ctx, sc.Files, sc.Start.File, sc.Start.Offset, tgt.Socket); err != nil {
			t.Fatal(err)
		}
		t.Logf("anchor: %v", time.Since(start))
	}
	for _, w := range []int{1, 4, 8, 16} {
		tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true})
		o := replay.DefaultOptions()
		o.Workers = w
		o.Files, o.TargetDSN, o.StartPosition = sc.Files, tgt.DSN(""), sc.Start
		var log strings.Builder
		sum, err := replay.Run(ctx, o, &log)
		if err != nil {
			t.Fatal(err, log.String())
		}
		db, _ := tgt.Open(ctx, "")
		replaytest.RequireEqual(t, db, sc.SourceDB)
		t.Logf("workers=%d: %v applied=%d retries=%d barriers=%v", w, sum.Elapsed, sum.Applied, sum.Retries, sum.BarrierReasons)
	}
	_ = filepath.Join
}
