// Package budget bounds the memory a replay holds in transactions read but
// not yet committed: the read stage takes a share for each transaction and
// the apply stage gives it back when the transaction's group commits.
package budget

import (
	"context"

	"golang.org/x/sync/semaphore"

	"github.com/binlog-replay/binlog-replay/txn"
)

// The memory budget (Options.MemoryBudget) bounds what the replay holds,
// whatever the size of the binlogs: every transaction read takes a share of
// the budget, which it gives back when its group commits. A transaction's
// share is memoryFactor times its binlog bytes (its raw events, its decoded
// row images, the BINLOG statements built from them), at most the whole
// budget: a transaction larger than the budget waits until everything
// before it has committed, then is read and applied alone. The reader's
// own read-ahead and the largest transaction it decodes are bounded by
// fractions of the budget (see ReaderLimits).

// memoryFactor is the memory a transaction in flight takes per binlog byte,
// an upper estimate: raw bytes, decoded images, BINLOG text.
const memoryFactor = 4

// Budget hands out shares of the memory budget.
type Budget struct {
	sem *semaphore.Weighted
	max int64
}

// New returns a budget of max bytes.
func New(max int64) *Budget {
	return &Budget{sem: semaphore.NewWeighted(max), max: max}
}

// share returns t's share of the budget.
func (b *Budget) share(t *txn.Txn) int64 {
	return min(max(t.Bytes*memoryFactor, 1), b.max)
}

// Acquire waits until t's share is free, or ctx is done.
func (b *Budget) Acquire(ctx context.Context, t *txn.Txn) error {
	return b.sem.Acquire(ctx, b.share(t))
}

// Release gives back the shares of committed transactions.
func (b *Budget) Release(ts []*txn.Txn) {
	for _, t := range ts {
		b.sem.Release(b.share(t))
	}
}

// ReaderLimits returns how many binlog bytes the reader may read ahead and
// the largest transaction whose row images it decodes (a larger one is a
// barrier: it cannot be keyed without its images), for a budget of max.
func ReaderLimits(max int64) (readAhead, decodeMax int64) {
	return max / 8, max / 16
}
