package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// TestReplayEquivalence replays every workload profile, in every binlog
// format, with 1 and 4 workers, row events passed through and applied as
// SQL, and compares every table with the source.
func TestReplayEquivalence(t *testing.T) {
	for _, format := range []string{"ROW", "MIXED", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel() // each format its own servers: CI's long pole overlaps the rest
			profiles := workload.Profiles()
			wopts := func(p workload.Profile) workload.Options {
				return workload.Options{Profile: p, Seed: 42, Format: format}
			}
			sc := replaytest.New(t, format,
				func(ctx context.Context, db *sql.DB) error {
					for _, p := range profiles {
						if err := workload.Setup(ctx, db, wopts(p)); err != nil {
							return fmt.Errorf("%s: %w", p, err)
						}
					}
					return nil
				},
				func(ctx context.Context, db *sql.DB) error {
					for _, p := range profiles {
						if err := workload.Run(ctx, db, wopts(p)); err != nil {
							return fmt.Errorf("%s: %w", p, err)
						}
					}
					return nil
				})
			for _, workers := range []int{1, 4} {
				for _, apply := range applyModes {
					t.Run(fmt.Sprintf("workers=%d,apply=%s", workers, apply), func(t *testing.T) {
						db, sum := replayIntoPrepared(t, sc, withApply(opts(workers), apply), sqlPrepare(apply, format))
						if sum.Applied == 0 {
							t.Fatal("nothing applied")
						}
						replaytest.RequireEqual(t, db, sc.SourceDB)
					})
				}
			}
		})
	}
}

// TestStopBeforeDrop stops just before a destructive DROP TABLE found by
// datetime, by position and by GTID; the target must equal the source as
// it was just before the DROP.
func TestStopBeforeDrop(t *testing.T) {
	ctx := context.Background()
	var before map[string]string
	var dropTime time.Time
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "CREATE DATABASE app")
			if err == nil {
				_, err = db.ExecContext(ctx, "CREATE TABLE app.orders (id INT PRIMARY KEY, v VARCHAR(20))")
			}
			return err
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 50; i++ {
				if _, err := db.ExecContext(ctx, "INSERT INTO app.orders VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
					return err
				}
			}
			var err error
			if before, err = verify.Checksum(ctx, db, verify.Options{Databases: []string{"app"}}); err != nil {
				return err
			}
			time.Sleep(1100 * time.Millisecond) // the DROP gets a later second than the inserts
			dropTime = time.Now().UTC().Truncate(time.Second)
			_, err = db.ExecContext(ctx, "DROP TABLE app.orders")
			return err
		})
	drop := findDrop(t, sc.Files, sc.Start)
	cases := map[string]func(*replay.Options){
		"datetime": func(o *replay.Options) { o.Select.StopDatetime = dropTime },
		"position": func(o *replay.Options) { o.Select.StopPosition = drop.Start },
		"gtid":     func(o *replay.Options) { o.Select.StopBeforeGTID = drop.GTID },
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			o := opts(4)
			set(&o)
			db, sum := replayInto(t, sc, o)
			if !strings.Contains(sum.StopReason, "stopped before") {
				t.Errorf("stop reason %q", sum.StopReason)
			}
			got, err := verify.Checksum(ctx, db, verify.Options{Databases: []string{"app"}})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(before) {
				t.Fatalf("target %v, want the source before the DROP %v", got, before)
			}
		})
	}
}

// findDrop returns the transaction of the first DROP TABLE after start.
func findDrop(t *testing.T, files []string, start txn.Position) *txn.Txn {
	t.Helper()
	r, err := binlog.NewReader(files, binlog.Options{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		tx, err := r.Next(context.Background())
		if err != nil {
			t.Fatalf("no DROP TABLE found in the binlogs: %v", err)
		}
		if tx.Kind == txn.KindDDL && strings.HasPrefix(strings.ToUpper(string(tx.Begin.SQL)), "DROP TABLE") {
			return tx
		}
	}
}
