package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/budget"

	"github.com/binlog-replay/binlog-replay/txn"
)

// These tests run the pipeline against a fake target (fake_test.go): no
// server is needed. Each checks the order of the commits, which must
// always be the source order, and what was applied how often.

// TestLaterGroupFinishesFirst: transaction 1 is slow, 2 and 3 are
// independent of it and quick: their bodies run beside it, but they
// commit after it.
func TestLaterGroupFinishesFirst(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{1: {delay: 200 * time.Millisecond}})
		p, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 3}, rowTxn(1, 1), rowTxn(2, 2), rowTxn(3, 3))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Snapshot().ChainedCommits; got != uint64(f.chained) {
			t.Fatalf("the snapshot counts %d chained commits, the target %d", got, f.chained)
		}
		if got := f.result(); !slices.Equal(got, seqs(3)) {
			t.Fatalf("committed %v, want 1 2 3", got)
		}
		if !slices.Equal(f.commits, []uint64{1, 2, 3}) {
			t.Fatalf("checkpoint counts %v, want 1 2 3", f.commits)
		}
	})
}

// TestCommitOrderDeadlock: transaction 2, independent of 1 by its write
// set, takes a lock (a gap lock, say) that 1 needs, then waits for its
// turn to commit, after 1: neither can go on. The earlier group's lock
// wait must make the later one roll back, so that 1 commits, then 2 runs
// again; the commits stay in order.
func TestCommitOrderDeadlock(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{
			1: {delay: 100 * time.Millisecond, locks: []string{"gap"}},
			2: {locks: []string{"gap"}},
		})
		p, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 2}, rowTxn(1, 1), rowTxn(2, 2))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(2)) {
			t.Fatalf("committed %v, want 1 2", got)
		}
		s := p.Snapshot()
		if s.OrderAborts+s.Retries == 0 || f.applied[2] < 2 {
			t.Fatalf("order aborts %d, retries %d, transaction 2 applied %d times: the deadlock was not broken by rolling 2 back",
				s.OrderAborts, s.Retries, f.applied[2])
		}
	})
}

// TestOrderMonitorEndsWithRun: the commit-order monitor's query of the
// target's lock waits is slow; the run ends while one is running. Run
// returns only once the monitor has stopped, so that nothing it aborts
// or counts comes after the run's summary (a count once missed this
// test's sibling above) and it never queries a target the caller has
// closed.
func TestOrderMonitorEndsWithRun(t *testing.T) {
	f := newFakeTarget(t, map[uint64]*fakeTxn{1: {delay: 100 * time.Millisecond}})
	f.slowLockQuery = 300 * time.Millisecond
	if _, err := runPipeline(t, context.Background(), f, Config{Workers: 2}, rowTxn(1, 1), rowTxn(2, 2)); err != nil {
		t.Fatal(err)
	}
	if n := f.lockQueries.Load(); n != 0 {
		t.Fatalf("%d lock-wait queries of the order monitor still running after Run returned", n)
	}
	if got := f.result(); !slices.Equal(got, seqs(2)) {
		t.Fatalf("committed %v, want 1 2", got)
	}
}

// TestLostCommitOutcome: the COMMIT of transaction 2 is sent and its
// answer lost (the server committed it): the pipeline stops with the
// commit's outcome unknown, naming the group, and does not go on.
func TestLostCommitOutcome(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		for _, committed := range []bool{true, false} {
			f := newFakeTarget(t, nil)
			f.loseCommit, f.commitLost = 2, committed
			p, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 1}, rowTxn(1, 1), rowTxn(2, 2), rowTxn(3, 3))
			if !errors.Is(err, errCommitUnknown) {
				t.Fatalf("lost commit: %v, want the outcome unknown", err)
			}
			want := []uint64{1}
			if committed {
				want = seqs(2)
			}
			if got := f.result(); !slices.Equal(got, want) {
				t.Fatalf("committed %v, want %v", got, want)
			}
			if u := p.Snapshot().Uncertain; u == nil || u.Txns != 1 || u.First.Seq != 2 {
				t.Fatalf("uncertain group %+v, want transaction 2", u)
			}
		}
	})
}

// TestRetryAfterPartialBatch: a group of three fails on its second
// transaction with a deadlock, after the first was applied: the group is
// rolled back and applied again whole, and commits once.
func TestRetryAfterPartialBatch(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{2: {failOnce: serverError(1213)}})
		p, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 1, GroupTxns: 3}, rowTxn(1, 1), rowTxn(2, 2), rowTxn(3, 3))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(3)) {
			t.Fatalf("committed %v, want 1 2 3", got)
		}
		if len(f.commits) != 1 || f.commits[0] != 3 || f.applied[1] != 2 || p.Snapshot().Retries != 1 {
			t.Fatalf("commits %v, transaction 1 applied %d times, %d retries: want one commit of the group after one retry",
				f.commits, f.applied[1], p.Snapshot().Retries)
		}
	})
}

// TestRepackSplitsPackets: the bodies of row groups are sent with their
// SQL apply packets joined (ExecJoined); a group whose joined packets
// cannot be checked exactly (sqlgen.ErrRepack, from transaction 2) is
// rolled back and applied again with them split (Exec), whole, and
// commits once, in order; the other groups stay joined.
func TestRepackSplitsPackets(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{2: {repack: true}})
		p, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 1, GroupTxns: 3},
			rowTxn(1, 1), rowTxn(2, 2), rowTxn(3, 3), rowTxn(4, 4), rowTxn(5, 5), rowTxn(6, 6))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(6)) {
			t.Fatalf("committed %v, want 1 to 6", got)
		}
		if !slices.Equal(f.commits, []uint64{3, 6}) {
			t.Fatalf("checkpoint counts %v, want 3 6 (two groups, each committed once)", f.commits)
		}
		if got := p.Snapshot().Repacked; got != 1 {
			t.Fatalf("%d groups repacked, want 1", got)
		}
		if f.applied[1] != 1 || f.applied[2] != 1 || f.applied[4] != 1 || f.joined != 2 {
			t.Fatalf("transactions 1, 2, 4 applied %d, %d, %d times, %d joined sends: want each applied once, "+
				"the first group split after its joined send failed, the second joined",
				f.applied[1], f.applied[2], f.applied[4], f.joined)
		}
	})
}

// TestFallbackOneAtATime: in a group of three, the target refuses the
// second (a duplicate key): the transactions are applied one at a time,
// the first commits, and the error names the second.
func TestFallbackOneAtATime(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{2: {fail: serverError(1062)}})
		_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 1, GroupTxns: 3}, rowTxn(1, 1), rowTxn(2, 2), rowTxn(3, 3))
		ae, ok := errorsAs[*ApplyError](err)
		if !ok || ae.Seq != 2 {
			t.Fatalf("error %v, want an *ApplyError naming transaction 2", err)
		}
		if got := f.result(); !slices.Equal(got, []uint64{1}) || !slices.Equal(f.commits, []uint64{1}) {
			t.Fatalf("committed %v (counts %v), want 1 alone", got, f.commits)
		}
	})
}

// TestSingleTransactionRetriedAlone: transaction 2's write set says it is
// independent of 1, but the target refuses it until 1 has committed (a
// dependency the write set missed): it is applied again alone, after 1.
func TestSingleTransactionRetriedAlone(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{1: {delay: 100 * time.Millisecond}, 2: {needs: 1}})
		_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 2}, rowTxn(1, 1), rowTxn(2, 2))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(2)) || f.applied[2] != 2 {
			t.Fatalf("committed %v, transaction 2 applied %d times: want 1 2, 2 applied twice", got, f.applied[2])
		}
	})
}

// TestDependentTransactionsWait: transactions sharing a key never run
// side by side: 2 writes the row 1 writes, so it starts only once 1 has
// committed, or (with chained commits) once 1 has run its body and holds
// the row's lock, whatever the workers; either way it finds 1's row.
func TestDependentTransactionsWait(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		row := []string{"row 7"}
		f := newFakeTarget(t, map[uint64]*fakeTxn{1: {delay: 100 * time.Millisecond, locks: row}, 2: {needs: 1, locks: row}})
		_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 4}, rowTxn(1, 7), rowTxn(2, 7), rowTxn(3, 8))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(3)) || f.applied[2] != 1 {
			t.Fatalf("committed %v, transaction 2 applied %d times: it ran before 1 committed", got, f.applied[2])
		}
	})
}

// TestEarlyStart: 2 writes the row 1 writes, and 1's body and COMMIT are
// slow (a slow disk). With chained commits 2's statements are sent once 1
// has run its body (and holds the row's lock), before 1 commits, and the
// target holds them on the lock until it has: 2 finds 1's row, and they
// commit in order. Without, 2 starts once 1 has committed.
func TestEarlyStart(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		row := []string{"row 1"}
		f := newFakeTarget(t, map[uint64]*fakeTxn{
			1: {delay: 100 * time.Millisecond, commitDelay: 200 * time.Millisecond, locks: row},
			2: {needs: 1, locks: row}})
		_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 2}, rowTxn(1, 1), rowTxn(2, 1))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(2)) || f.applied[2] != 1 || !slices.Equal(f.saw[2], []uint64{1}) {
			t.Fatalf("committed %v, 2 applied %d times on %v: want 1 2, 2 applied once on 1", got, f.applied[2], f.saw[2])
		}
		if f.started[2].Before(f.ran[1]) {
			t.Fatalf("2 was sent before 1 had run its body")
		}
		if early := f.started[2].Before(f.committedAt[1]); early != chain {
			t.Fatalf("2 sent before 1 committed: %v, with chained commits %v", early, chain)
		}
	})
}

// TestEarlyStartRandom applies random transactions that share a few rows,
// with slow bodies and COMMITs, failed statements, deadlocks and COMMITs
// that fail, with early starts, and checks that they commit in source
// order (each commit holding a prefix of them: fakeTarget.prefixes)
// and that each was applied on every earlier one it shares a row
// with (what it saw when its statements took their locks): the row locks
// and the commit order together never let a transaction commit what it
// applied on rows an earlier one had not committed, whatever fails.
func TestEarlyStartRandom(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rnd := rand.New(rand.NewPCG(uint64(seed), 0))
			const n = 40
			w := newRandomWork(rnd, n, func() int64 { return rnd.Int64N(4) + 1 }, nil)
			f := newFakeTarget(t, w.scripts)
			cfg := Config{ChainCommits: true, Workers: 4, GroupTxns: 1 + rnd.IntN(3), MaxRetries: 20}
			if _, err := runPipeline(t, context.Background(), f, cfg, w.txns...); err != nil {
				t.Fatal(err)
			}
			w.check(t, f)
		})
	}
}

// randomWork is n transactions, each writing one row (rows, by sequence
// number), and the fake target's scripts for them: one time in eight
// each, a slow body, a slow commit, a deadlock, a commit that fails once.
type randomWork struct {
	txns    []*txn.Txn
	scripts map[uint64]*fakeTxn
	rows    map[uint64]string
}

// newRandomWork returns n transactions on the rows id draws; extra, when
// set, may add to each script.
func newRandomWork(rnd *rand.Rand, n int, id func() int64, extra func(*fakeTxn)) randomWork {
	w := randomWork{scripts: map[uint64]*fakeTxn{}, rows: map[uint64]string{}}
	for i := range uint64(n) {
		seq, id := i+1, id()
		w.rows[seq] = fmt.Sprint("row ", id)
		ft := &fakeTxn{locks: []string{w.rows[seq]}}
		if extra != nil {
			extra(ft)
		}
		switch rnd.IntN(8) {
		case 0:
			ft.delay = time.Duration(rnd.IntN(30)) * time.Millisecond
		case 1:
			ft.commitDelay = time.Duration(rnd.IntN(30)) * time.Millisecond
		case 2:
			ft.failOnce = serverError(1213)
		case 3:
			ft.commitDelay, ft.failCommitOnce = 10*time.Millisecond, serverError(1213)
		}
		w.scripts[seq] = ft
		w.txns = append(w.txns, rowTxn(seq, id))
	}
	return w
}

// check fails t unless f committed every transaction, each commit holding
// a prefix of them, and each was applied on every earlier one that wrote
// its row (what it saw when its statements took their locks).
func (w randomWork) check(t *testing.T, f *fakeTarget) {
	t.Helper()
	if err := f.prefixes(len(w.txns)); err != nil {
		t.Fatal(err)
	}
	for j := uint64(1); j <= uint64(len(w.txns)); j++ {
		for i := uint64(1); i < j; i++ {
			if w.rows[i] == w.rows[j] && !slices.Contains(f.saw[j], i) {
				t.Fatalf("%d (%s) was applied on %v, without %d, which wrote the row before it", j, w.rows[j], f.saw[j], i)
			}
		}
	}
}

// TestCancellation cancels the pipeline at every stage: while a body is
// applied, while groups wait for their turn, while the dispatcher waits
// for more transactions. Run returns the cancellation at once, and what
// was committed is a prefix of the source order.
func TestCancellation(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		for _, c := range []struct {
			name string
			txns map[uint64]*fakeTxn
			open bool // the input stays open: the dispatcher waits for more
		}{
			{"in a body", map[uint64]*fakeTxn{2: {delay: 5 * time.Second}}, false},
			{"waiting for the turn", map[uint64]*fakeTxn{1: {delay: 5 * time.Second}}, false},
			{"waiting for input", nil, true},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := newFakeTarget(t, c.txns)
				p := New(Config{ChainCommits: chain, Workers: 3, GroupTxns: 1, GroupBytes: 1 << 20, MaxRetries: 5},
					Deps{Target: f, Tables: fakeTables{}, Gen: sqlgenGenerator(), Mem: budget.New(64 << 20), Logf: t.Logf})
				in := make(chan *txn.Txn, 3)
				for i := uint64(1); i <= 3; i++ {
					tx := rowTxn(i, int64(i))
					if err := p.deps.Mem.Acquire(context.Background(), tx); err != nil {
						t.Fatal(err)
					}
					in <- tx
				}
				if !c.open {
					close(in)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx, in) }()
				time.Sleep(300 * time.Millisecond)
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("cancelled: %v, want context.Canceled", err)
					}
				case <-time.After(3 * time.Second):
					t.Fatal("the pipeline did not return within 3 s of its cancellation")
				}
				if got := f.result(); !slices.Equal(got, seqs(len(got))) {
					t.Fatalf("committed %v: not a prefix of the source order", got)
				}
			})
		}
	})
}

// TestNonTransactionalAlone: a transaction that writes a
// non-transactional table (the binlog says so) runs alone, after a mark,
// and is never sent twice: its failure after it was sent is an
// *UncertainError, even for an error that is retried for others.
func TestNonTransactionalAlone(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		solo := rowTxn(2, 2)
		solo.NonTransactional = true
		f := newFakeTarget(t, nil)
		if _, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 2, GroupTxns: 3}, rowTxn(1, 1), solo, rowTxn(3, 3)); err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(3)) || !slices.Equal(f.commits, seqs(3)) {
			t.Fatalf("committed %v in commits %v: want 2 committed alone", got, f.commits)
		}
		if len(f.marks) != 1 || !strings.Contains(f.marks[0], "'nontrans'") {
			t.Fatalf("marks %q, want one 'nontrans' mark", f.marks)
		}

		f = newFakeTarget(t, map[uint64]*fakeTxn{2: {failOnce: serverError(1213)}})
		_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 2}, rowTxn(1, 1), solo, rowTxn(3, 3))
		if _, ok := errorsAs[*UncertainError](err); !ok || f.applied[2] != 1 {
			t.Fatalf("error %v, transaction 2 sent %d times: want an *UncertainError, sent once", err, f.applied[2])
		}
		if got := f.result(); !slices.Equal(got, []uint64{1}) {
			t.Fatalf("committed %v, want 1 alone", got)
		}
	})
}

// bothCommitModes runs test with commits sent in turn and chained.
func bothCommitModes(t *testing.T, test func(t *testing.T, chain bool)) {
	t.Helper()
	for _, chain := range []bool{false, true} {
		t.Run(map[bool]string{false: "in turn", true: "chained"}[chain], func(t *testing.T) { test(t, chain) })
	}
}

// TestChainedCommits: transaction 1's COMMIT is slow (a slow disk). With
// chained commits, 2 and 3 send theirs while it runs, and the target
// holds them until 1 has committed; without, they wait in the client.
// Either way they commit in source order.
func TestChainedCommits(t *testing.T) {
	bothCommitModes(t, func(t *testing.T, chain bool) {
		f := newFakeTarget(t, map[uint64]*fakeTxn{1: {commitDelay: 200 * time.Millisecond}})
		_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: chain, Workers: 3}, rowTxn(1, 1), rowTxn(2, 2), rowTxn(3, 3))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.result(); !slices.Equal(got, seqs(3)) || !slices.Equal(f.commits, seqs(3)) {
			t.Fatalf("committed %v (checkpoint counts %v), want 1 2 3", got, f.commits)
		}
		if chain != (f.chained > 0) {
			t.Fatalf("%d COMMITs chained on the target, with chaining %v", f.chained, chain)
		}
	})
}

// TestChainedCommitAfterRollback: transaction 1's COMMIT fails (a
// deadlock) after 2 has sent its COMMIT chained on it. The target must
// not commit 2: the turn 2 waits for was not committed. 2 runs again
// after 1 is applied again and commits.
func TestChainedCommitAfterRollback(t *testing.T) {
	f := newFakeTarget(t, map[uint64]*fakeTxn{1: {commitDelay: 200 * time.Millisecond, failCommitOnce: serverError(1213)}})
	_, err := runPipeline(t, context.Background(), f, Config{ChainCommits: true, Workers: 2}, rowTxn(1, 1), rowTxn(2, 2))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.result(); !slices.Equal(got, seqs(2)) || !slices.Equal(f.commits, seqs(2)) {
		t.Fatalf("committed %v (checkpoint counts %v), want 1 2", got, f.commits)
	}
	if f.chained == 0 || f.applied[1] != 2 || f.applied[2] != 2 {
		t.Fatalf("%d chained COMMITs, transactions applied %v: want 2 chained on 1, both applied twice", f.chained, f.applied)
	}
}
