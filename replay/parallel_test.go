package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/replay"
)

// hazardProfiles are the workloads of the correctness hazards parallel
// apply must get right: unique values moving between rows and PK updates
// (unique), rows deleted and re-inserted (oltp), FK parent/child with
// cascades (fk), hot rows (hot), gap-lock-prone range deletes (gaplocks),
// tables without keys (nopk), source triggers (triggers) and DDL mid-stream
// (ddl).
var hazardProfiles = []workload.Profile{workload.UniqueChurn, workload.OLTP, workload.ForeignKeys, workload.HotRows,
	workload.GapLocks, workload.NoPK, workload.Triggers, workload.DDL}

// hazardScenario runs every hazard profile with the given seed from 4
// concurrent source sessions, so that the binlog interleaves them as a busy
// server does.
func hazardScenario(t *testing.T, seed int64) *replaytest.Scenario {
	wopts := func(p workload.Profile) workload.Options {
		return workload.Options{Profile: p, Seed: seed, Format: "ROW", Threads: 4, Txns: 400}
	}
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			for _, p := range hazardProfiles {
				if err := workload.Setup(ctx, db, wopts(p)); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
			return nil
		},
		func(ctx context.Context, db *sql.DB) error {
			for _, p := range hazardProfiles {
				if err := workload.Run(ctx, db, wopts(p)); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
			return nil
		})
}

// TestParallelEquivalenceSeeds replays the hazard workloads of several
// seeds with 1, 2, 8 and 32 workers, row events passed through and applied
// as SQL (the target's triggers dropped: see dropTriggers): every table
// must equal the source's. Small groups put conflicting transactions in
// different groups, which then run side by side unless their dependency
// is found.
func TestParallelEquivalenceSeeds(t *testing.T) {
	var aborts, retries atomic.Uint64
	// After the seeds, which run in parallel once this function returns.
	t.Cleanup(func() {
		t.Logf("commit-order deadlocks ended by the monitor: %d; lock conflicts retried: %d", aborts.Load(), retries.Load())
	})
	configs := []struct{ workers, group int }{{1, 64}, {2, 1}, {8, 2}, {32, 64}}
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel() // each seed its own servers: CI's long pole overlaps the rest
			sc := hazardScenario(t, seed)
			for _, c := range configs {
				for _, apply := range applyModes {
					t.Run(fmt.Sprintf("workers=%d,group=%d,apply=%s", c.workers, c.group, apply), func(t *testing.T) {
						o := withApply(opts(c.workers), apply)
						o.Apply.GroupTxns = c.group
						db, sum := replayIntoPrepared(t, sc, o, sqlPrepare(apply, "ROW"))
						if sum.Applied == 0 {
							t.Fatal("nothing applied")
						}
						aborts.Add(sum.OrderAborts)
						retries.Add(sum.Retries)
						replaytest.RequireEqual(t, db, sc.SourceDB)
					})
				}
			}
		})
	}
}

// TestOrderMonitorEndsCommitOrderDeadlocks replays unique-key churn from 8
// concurrent sessions, which causes commit-order deadlocks (a later group,
// waiting for its turn, holds a lock on a unique index that the earliest
// group needs), with a lock wait timeout longer than the test allows: the
// order monitor must have ended them (OrderAborts > 0), not the timeout.
func TestOrderMonitorEndsCommitOrderDeadlocks(t *testing.T) {
	const timeout = 60 * time.Second
	var seen uint64
	// Whether a seed's replay meets a commit-order deadlock depends on
	// timing: on a busy machine three seeds met none (a clean-clone CI
	// run beside a soak, 2026-12-06). The test stops at the first seed
	// that does.
	for _, seed := range []int64{1, 2, 3, 4, 5, 6} {
		wopts := workload.Options{Profile: workload.UniqueChurn, Seed: seed, Format: "ROW", Threads: 8, Txns: 3000, Scale: 2000}
		sc := replaytest.New(t, "ROW",
			func(ctx context.Context, db *sql.DB) error { return workload.Setup(ctx, db, wopts) },
			func(ctx context.Context, db *sql.DB) error { return workload.Run(ctx, db, wopts) })
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
		o.Recovery.LockWaitTimeout = timeout
		start := time.Now()
		sum, err := replay.Run(context.Background(), o, io.Discard)
		if err != nil {
			t.Fatalf("seed %d: replay: %v", seed, err)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB)
		took := time.Since(start)
		t.Logf("seed %d: %d transactions in %v, %d commit-order deadlocks ended, %d retries", seed, sum.Applied, took, sum.OrderAborts, sum.Retries)
		if took >= timeout {
			t.Fatalf("seed %d: the replay took %v: a lock wait ran to its timeout", seed, took)
		}
		if seen += sum.OrderAborts; seen > 0 {
			return
		}
	}
	t.Fatal("no commit-order deadlock in 6 seeds: the test no longer exercises the monitor")
}

// TestMemoryBudgetSmallerThanATransaction replays a workload holding a
// 100k-row transaction with the smallest memory budget (1 MiB) and 4
// workers: transactions larger than the budget are applied alone, and the
// result must equal the source.
func TestMemoryBudgetSmallerThanATransaction(t *testing.T) {
	wopts := workload.Options{Profile: workload.BigTxn, Seed: 5, Format: "ROW"}
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error { return workload.Setup(ctx, db, wopts) },
		func(ctx context.Context, db *sql.DB) error { return workload.Run(ctx, db, wopts) })
	const budget = 1 << 20
	var largest int64
	for _, tx := range scenarioTxns(t, sc) {
		largest = max(largest, tx.Bytes)
	}
	if largest < 4*budget {
		t.Fatalf("the largest transaction has %d bytes: not several times the budget", largest)
	}
	t.Logf("largest transaction: %d bytes, budget %d", largest, budget)
	o := opts(4)
	o.Apply.MemoryBudget = budget
	db, sum := replayInto(t, sc, o)
	if sum.Applied == 0 {
		t.Fatal("nothing applied")
	}
	replaytest.RequireEqual(t, db, sc.SourceDB)
}

// TestSerialStretch replays hot rows (every group waits for the one
// before), then independent OLTP transactions, with 4 workers: the hot
// stretch must have been applied without decoding (Summary.SerialTxns),
// the decoding then off for the OLTP part too (the probe comes after
// serialProbe transactions), and the target must equal the source.
func TestSerialStretch(t *testing.T) {
	wopts := func(p workload.Profile, txns int) workload.Options {
		return workload.Options{Profile: p, Seed: 5, Format: "ROW", Threads: 2, Txns: txns, Tables: 1, Scale: 20}
	}
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			if err := workload.Setup(ctx, db, wopts(workload.HotRows, 0)); err != nil {
				return err
			}
			return workload.Setup(ctx, db, wopts(workload.OLTP, 0))
		},
		func(ctx context.Context, db *sql.DB) error {
			if err := workload.Run(ctx, db, wopts(workload.HotRows, 4000)); err != nil {
				return err
			}
			return workload.Run(ctx, db, wopts(workload.OLTP, 1000))
		})
	o := opts(4)
	o.Apply.GroupTxns = 8 // many groups: the stretch is found early
	// A serial stretch stops decoding row images, which compaction (on by
	// default) reads: the stretch is counted by the transactions it left
	// undecoded.
	o.Apply.Compact = false
	db, sum := replayInto(t, sc, o)
	if sum.SerialTxns == 0 || sum.Parallelism > 1.5 {
		t.Errorf("serial transactions %d, parallelism %.2f: want a serial stretch found", sum.SerialTxns, sum.Parallelism)
	}
	t.Logf("applied %d, %d in serial stretches, parallelism %.2f", sum.Applied, sum.SerialTxns, sum.Parallelism)
	replaytest.RequireEqual(t, db, sc.SourceDB)
}
