package replay

import (
	"context"
	"fmt"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// scheduler works out, for each transaction in source order, the last
// ticket it depends on. With one worker, or without decoded rows, every
// transaction simply depends on the one before it.
type scheduler struct {
	cache   *schema.Cache
	keyer   *partition.Keyer
	tracker *partition.Tracker
}

func newScheduler(r *run) *scheduler {
	if !r.parallel() {
		return &scheduler{}
	}
	cache := schema.NewCache(r.db)
	return &scheduler{cache: cache, keyer: partition.NewKeyer(cache), tracker: partition.NewTracker(0)}
}

// depends returns the ticket t depends on and whether it must run alone.
func (s *scheduler) depends(ctx context.Context, t *txn.Txn, ticket uint64) (uint64, bool, string, error) {
	if s.keyer == nil {
		return ticket - 1, t.Kind != txn.KindRows, "", nil
	}
	keys, barrier, reason, err := s.keyer.KeysOf(ctx, t)
	if err != nil {
		return 0, false, "", fmt.Errorf("compute write set of transaction #%d at %s: %w", t.Seq, t.Start, err)
	}
	return s.tracker.Add(ticket, keys, barrier), barrier, reason, nil
}

// schemaChanged drops what was learnt of the target's tables.
func (s *scheduler) schemaChanged() {
	if s.cache != nil {
		s.cache.InvalidateAll()
		s.keyer = partition.NewKeyer(s.cache)
	}
}

// dispatch numbers transactions with tickets, works out what each depends
// on, and hands them to the workers in groups. A group takes what is
// already queued, up to the group limits: under load it grows and saves
// commits, when idle it goes out at once. It closes out when in is drained.
//
// The tracker gives each transaction only the latest earlier transaction it
// depends on. When that one is in the group being built, the transaction's
// other dependencies (on earlier groups) are hidden behind it, so the group
// then waits for every earlier group to commit.
func (r *run) dispatch(ctx context.Context, in <-chan *txn.Txn, out chan<- *group) error {
	defer close(out)
	sched := newScheduler(r)
	var (
		cur    *group
		ticket uint64
	)
	send := func(g *group) error {
		select {
		case out <- g:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	flush := func() error {
		if cur == nil {
			return nil
		}
		g := cur
		cur = nil
		return send(g)
	}
	for {
		t, ok, err := r.next(ctx, in, cur != nil, flush)
		if err != nil || !ok {
			if err == nil {
				err = flush()
			}
			return err
		}
		ticket++
		dependsOn, barrier, reason, err := sched.depends(ctx, t, ticket)
		if err != nil {
			return err
		}
		if barrier {
			r.noteBarrier(t, reason)
			if err := flush(); err != nil {
				return err
			}
			g := &group{txns: []*txn.Txn{t}, first: ticket, dependsOn: ticket - 1,
				ddl: t.Kind == txn.KindDDL, statement: t.Kind != txn.KindRows, bytes: t.Bytes}
			if err := send(g); err != nil {
				return err
			}
			if g.ddl {
				// Later transactions are keyed against the new schema.
				if err := r.seq.waitCommitted(ctx, ticket); err != nil {
					return err
				}
				sched.schemaChanged()
			}
			continue
		}
		if cur != nil && (len(cur.txns) >= r.opts.GroupTxns || cur.bytes+t.Bytes > r.opts.GroupBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		switch {
		case cur == nil:
			cur = &group{first: ticket, dependsOn: dependsOn}
		case dependsOn >= cur.first:
			cur.dependsOn = cur.first - 1 // see the function comment
		default:
			cur.dependsOn = max(cur.dependsOn, dependsOn)
		}
		cur.txns = append(cur.txns, t)
		cur.bytes += t.Bytes
	}
}

// next receives the next transaction. While a group is being built and
// nothing more is queued, it first sends the group (flush): batching takes
// only what is already there.
func (r *run) next(ctx context.Context, in <-chan *txn.Txn, building bool, flush func() error) (*txn.Txn, bool, error) {
	if building {
		select {
		case t, ok := <-in:
			return t, ok, nil
		default:
			if err := flush(); err != nil {
				return nil, false, err
			}
		}
	}
	select {
	case t, ok := <-in:
		return t, ok, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}
