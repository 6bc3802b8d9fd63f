package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestMixedServersRefused replays binlogs of two servers mixed under the
// same file names (the third file of server A replaced by server B's):
// the replay must stop at B's file with an error naming both files, with
// everything from A's files before it applied and nothing of B's.
func TestMixedServersRefused(t *testing.T) {
	work := func(ctx context.Context, db *sql.DB) error {
		for i := 1; i <= 30; i++ {
			if err := replaytest.ExecAll(ctx, db, fmt.Sprintf("INSERT INTO mx.t VALUES (%d)", i)); err != nil {
				return err
			}
			if i%10 == 0 {
				if err := replaytest.ExecAll(ctx, db, "FLUSH BINARY LOGS"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE mx", "CREATE TABLE mx.t (id INT PRIMARY KEY)")
	}
	a := replaytest.New(t, "ROW", setup, work)
	// Server B: the same history of file names (a restart after setup, as
	// replaytest does), different transactions.
	b := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	bdb, err := b.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := setup(context.Background(), bdb); err != nil {
		t.Fatal(err)
	}
	if err := replaytest.ExecAll(context.Background(), bdb, "FLUSH BINARY LOGS", "INSERT INTO mx.t VALUES (1000)"); err != nil {
		t.Fatal(err)
	}
	if err := work(context.Background(), bdb); err != nil {
		t.Fatal(err)
	}
	bFiles, err := b.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	mixed := append([]string(nil), a.Files...)
	// a.Files: the setup's file, three files of 10 transactions each, then
	// two empty ones. Replace the one holding transactions 21-30.
	k := len(mixed) - 3
	want := 10 * (k - 1)
	if logfile.Name(mixed[k]) != logfile.Name(bFiles[k]) {
		t.Fatalf("file names differ: %s and %s", mixed[k], bFiles[k])
	}
	mixed[k] = bFiles[k]
	tgt, db := a.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = mixed, tgt.DSN(""), a.Start, 0
	sum, err := replay.Run(context.Background(), o, nil)
	var be *event.Error
	if !errors.As(err, &be) || be.File != logfile.Name(bFiles[k]) || !strings.Contains(err.Error(), logfile.Name(mixed[k-1])) {
		t.Fatalf("replay of mixed files: %v; want an *event.Error on %s naming %s", err, logfile.Name(bFiles[k]), logfile.Name(mixed[k-1]))
	}
	t.Logf("error: %v", err)
	var n, foreign int
	if err := db.QueryRow("SELECT COUNT(*), COALESCE(SUM(id >= 1000), 0) FROM mx.t").Scan(&n, &foreign); err != nil {
		t.Fatal(err)
	}
	cp, cerr := replay.ReadCheckpoint(context.Background(), db)
	if n != want || foreign != 0 || cerr != nil || cp == nil || cp.Applied != uint64(want) || sum.Applied != uint64(want) {
		t.Fatalf("target holds %d rows (%d of server B), checkpoint %+v (%v), summary %d; want A's first %d transactions",
			n, foreign, cp, cerr, sum.Applied, want)
	}
}
