package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestGroupHead builds a group after one that starts at ticket 10 and
// checks which transactions form its head.
func TestGroupHead(t *testing.T) {
	type add struct {
		dependsOn uint64
		keys      []partition.Key
		barrier   bool
		tied      bool
	}
	steps := []add{
		{dependsOn: 5, keys: []partition.Key{1}},                // 20: on a group before the last: head
		{dependsOn: 12, keys: []partition.Key{2}, tied: true},   // 21: on the last group
		{dependsOn: 0, keys: []partition.Key{2, 3}, tied: true}, // 22: after 21 (key 2)
		{dependsOn: 0, keys: []partition.Key{3}, tied: true},    // 23: after 22 (key 3, marked with it)
		{dependsOn: 7, keys: []partition.Key{1, 4}},             // 24: key 1 is the head's own: head
		{barrier: true, dependsOn: 19, tied: true},              // 25: write set unknown
	}
	g := &group{first: 20}
	for i, s := range steps {
		g.join(&txn.Txn{Seq: uint64(20 + i)}, s.dependsOn, s.keys, s.barrier, 10)
	}
	for i, s := range steps {
		if g.tied[i] != s.tied {
			t.Errorf("transaction %d: tied %v, want %v", 20+i, g.tied[i], s.tied)
		}
	}
	if g.dependsOn != 19 || g.headDependsOn != 7 {
		t.Errorf("dependsOn %d, head's %d: want 19 and 7", g.dependsOn, g.headDependsOn)
	}
	head, tail, ok := g.parts()
	seqsOf := func(txns []*txn.Txn) (out []uint64) {
		for _, t := range txns {
			out = append(out, t.Seq)
		}
		return out
	}
	if !ok || !slices.Equal(seqsOf(head), []uint64{20, 24}) || !slices.Equal(seqsOf(tail), []uint64{21, 22, 23, 25}) {
		t.Errorf("head %v, tail %v (%v): want 20 24, 21 22 23 25", seqsOf(head), seqsOf(tail), ok)
	}
	g.sealed()
	if g.tiedKeys != nil {
		t.Error("sealed group keeps its keys")
	}

	// Without a transaction on the group before, or with only such
	// transactions, a group runs whole.
	free := &group{first: 20}
	free.join(&txn.Txn{Seq: 20}, 3, []partition.Key{1}, false, 10)
	free.join(&txn.Txn{Seq: 21}, 0, []partition.Key{2}, false, 10)
	tied := &group{first: 20}
	tied.join(&txn.Txn{Seq: 20}, 10, []partition.Key{1}, false, 10)
	tied.join(&txn.Txn{Seq: 21}, 0, []partition.Key{1}, false, 10)
	first := &group{first: 1} // the first group: nothing sent before it
	first.join(&txn.Txn{Seq: 1}, 0, []partition.Key{1}, false, 0)
	for name, g := range map[string]*group{"independent": free, "dependent": tied, "first": first} {
		if _, _, ok := g.parts(); ok {
			t.Errorf("%s group has a head and a tail", name)
		}
	}
}

// TestHeadStartRandom is TestEarlyStartRandom with larger groups on more
// rows, so that groups run heads, and with locks the write sets do not
// know (gap locks) shared now and then by transactions that share no row:
// a head may then hold one the group before it needs. The transactions
// commit in source order (a target commit holds a prefix of them, in which
// a head comes first), each applied on every earlier one that wrote its
// row, and heads run.
func TestHeadStartRandom(t *testing.T) {
	var heads atomic.Uint64
	t.Run("seeds", func(t *testing.T) {
		for seed := int64(1); seed <= 16; seed++ {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				t.Parallel()
				rnd := rand.New(rand.NewPCG(uint64(seed), 1))
				hotOrNot := func() int64 {
					if rnd.IntN(2) == 0 {
						return 1 // a hot row: the groups chain
					}
					return rnd.Int64N(10) + 1
				}
				gapLock := func(ft *fakeTxn) {
					if rnd.IntN(10) == 0 {
						ft.locks = append(ft.locks, fmt.Sprint("gap ", rnd.IntN(2)))
					}
				}
				w := newRandomWork(rnd, 80, hotOrNot, gapLock)
				f := newFakeTarget(t, w.scripts)
				cfg := Config{ChainCommits: true, Workers: 4, GroupTxns: 2 + rnd.IntN(7), MaxRetries: 20}
				p, err := runPipeline(t, context.Background(), f, cfg, w.txns...)
				if err != nil {
					t.Fatal(err)
				}
				w.check(t, f)
				heads.Add(p.Snapshot().HeadStarts)
			})
		}
	})
	if heads.Load() == 0 {
		t.Error("no group ran a head: the test tests nothing")
	}
}

// prefixes returns an error unless the target committed transactions 1..n
// and held a prefix of them after each commit: within one commit, the
// order they were applied in may differ from the source's (head.go).
func (f *fakeTarget) prefixes(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := slices.Sorted(slices.Values(f.committed)); !slices.Equal(got, seqs(n)) {
		return fmt.Errorf("committed %v, want 1..%d", f.committed, n)
	}
	for _, count := range f.commits {
		if got := slices.Sorted(slices.Values(f.committed[:count])); !slices.Equal(got, seqs(int(count))) {
			return fmt.Errorf("after the commit with checkpoint count %d the target held %v: not a prefix", count, got)
		}
	}
	return nil
}
