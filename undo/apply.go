package undo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/binlog-replay/binlog-replay/binlog/rowedit"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/pipeline"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/budget"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen/dialect"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/txn"
)

// apply applies the inverses through the pipeline: the spool read
// backward, from the end of the range (or, resuming, from start, the
// checkpoint) to its start. applied is the checkpoint's count.
func (u *undo) apply(ctx context.Context, l *later, start txn.Position, applied uint64, resume bool) error {
	o := &u.opts
	db := u.tgt.DB()
	names, err := dialect.LoadCollations(ctx, db, u.logf)
	if err != nil {
		return err
	}
	gen := &sqlgen.Generator{TargetMariaDB: true, IgnoredModes: sqlgen.IgnoredSQLModes(u.tgt.Version(), true),
		Tables: u.defs.Table, Shapes: u.defs.Shape, Collations: names, Logf: u.logf}
	mem := budget.New(o.Apply.MemoryBudget)
	pipe := pipeline.New(pipeline.Config{Workers: o.Apply.Workers, GroupTxns: o.Apply.GroupTxns, GroupBytes: o.Apply.GroupBytes,
		MaxRetries: o.Apply.MaxRetries, LogValues: o.LogValues, AppliedBefore: applied, Start: start, Channel: target.UndoChannel},
		pipeline.Deps{Target: sessions{u}, Tables: u.defs, Gen: &guard{gen: gen, tables: u.tables, logValues: o.LogValues},
			Mem: mem, Logf: u.logf})
	// Losing the replay lock's connection stops the run: it no longer
	// knows that no other run writes.
	base, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	go func() {
		select {
		case <-u.tgt.LockLost():
			abort(u.tgt.LockErr())
		case <-base.Done():
		}
	}()
	g, gctx := errgroup.WithContext(base)
	// The feed stops at the first cancellation (a graceful stop); the
	// workers finish what was dispatched unless something failed.
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	go func() {
		<-gctx.Done()
		stopFeed()
	}()
	txns := make(chan *txn.Txn, 64)
	g.Go(func() error { return u.feed(feedCtx, txns, l, mem, pipe, start, resume) })
	g.Go(func() error { return pipe.Run(gctx, txns) })
	go u.tgt.WatchStalls(gctx, stallReport, func() (uint64, bool) {
		ps := pipe.Snapshot()
		return ps.Applied, ps.Busy > 0
	})
	go u.reportProgress(gctx, pipe)
	err = g.Wait()
	if lost := u.tgt.LockErr(); lost != nil && err != nil {
		err = lost
	}
	u.summarize(pipe.Snapshot())
	if err != nil || ctx.Err() != nil || !u.sent.fed {
		return err
	}
	// The pool's connections may come from the workers' sessions, with
	// autocommit off: the statement commits itself.
	if _, err := db.ExecContext(ctx, doneSQL()+";\nCOMMIT"); err != nil {
		return fmt.Errorf("record the end of the undo on the target: %w", err)
	}
	u.sum.Finished = true
	return nil
}

// stallReport is how long the undo waits without a commit, while
// transactions are applied, before it logs what its sessions on the
// target are doing (a full disk makes a target wait); progressEvery is
// how often it logs how far it got.
const (
	stallReport   = 30 * time.Second
	progressEvery = 10 * time.Second
)

// reportProgress logs how far the undo got, every progressEvery, until
// ctx is done.
func (u *undo) reportProgress(ctx context.Context, pipe *pipeline.Pipeline) {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			ps := pipe.Snapshot()
			u.logf("undone %d transactions in this run (the range has %d); the range is undone from %s to its end",
				ps.Applied, u.sum.RangeTxns, ps.Position)
		}
	}
}

// feed sends the inverse transactions to out, the last of the range
// first, from the checkpoint start when resuming (the transactions that
// start at or after it are undone), and closes out. With OnConflict skip,
// the rows later transactions wrote are left out of them. It counts the
// rows of each transaction it sends (u.counts).
func (u *undo) feed(ctx context.Context, out chan<- *txn.Txn, l *later, mem *budget.Budget, pipe *pipeline.Pipeline,
	start txn.Position, resume bool) error {
	defer close(out)
	b := u.spool.Backward(u.pieceBytes())
	if resume {
		undone := filter.New(filter.Options{Files: u.opts.Files})
		for {
			h, err := b.Peek()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if !undone.Reached(start, h.Start) {
				break
			}
			if _, err := b.Skip(); err != nil {
				return err
			}
		}
	}
	b.Filter = func(f *txn.Format, ev *txn.Event) (*txn.Event, error) { return u.keep(ctx, f, ev, l) }
	for {
		t, err := b.Next()
		if errors.Is(err, io.EOF) {
			u.sent.mu.Lock()
			u.sent.fed = true
			u.sent.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
		applied := pipe.Snapshot().Applied
		u.sent.mu.Lock()
		u.sent.counts.committed(applied)
		u.sent.counts.sent(t.Part <= 1, u.sent.pending)
		u.sent.pending = nil
		u.sent.mu.Unlock()
		if err := mem.Acquire(ctx, t); err != nil {
			return nil // interrupted: a graceful stop
		}
		select {
		case out <- t:
		case <-ctx.Done():
			mem.Release([]*txn.Txn{t})
			return nil
		}
	}
}

// keep returns the inverse row event ev as it is to be applied: without
// the rows later transactions wrote (OnConflict skip), nil when none is
// left. It counts the rows it keeps in u.pending.
func (u *undo) keep(ctx context.Context, f *txn.Format, ev *txn.Event, l *later) (*txn.Event, error) {
	if !l.empty() {
		ti, rowKeys, err := u.rowKeys(ctx, ev)
		if err != nil {
			return nil, err
		}
		ed, err := u.rowEditor(f)
		if err != nil {
			return nil, err
		}
		kept, err := ed.Keep(ev, func(i int) bool {
			var keys []partition.Key
			if rowKeys != nil {
				keys = rowKeys[i]
			}
			ref, _ := l.conflict(ti, keys)
			return ref == nil
		})
		if err != nil || kept == nil {
			return nil, err
		}
		ev = kept
	}
	tm := ev.Rows.Table
	name := tm.Schema + "." + tm.Table
	u.sent.mu.Lock()
	defer u.sent.mu.Unlock()
	if u.sent.pending == nil {
		u.sent.pending = map[string]*TableRows{}
	}
	c := u.sent.pending[name]
	if c == nil {
		c = &TableRows{Table: name}
		u.sent.pending[name] = c
	}
	n := int64(ev.Rows.Count())
	switch ev.Rows.Op {
	case txn.OpInsert:
		c.Inserted += n
	case txn.OpDelete:
		c.Deleted += n
	default:
		c.Updated += n
	}
	return ev, nil
}

// rowEditor returns the editor of the row events of format f.
func (u *undo) rowEditor(f *txn.Format) (*rowedit.Editor, error) {
	if ed := u.editor[f]; ed != nil {
		return ed, nil
	}
	ed, err := rowedit.NewEditor(f)
	if err != nil {
		return nil, err
	}
	u.editor[f] = ed
	return ed, nil
}

// addRows adds the counts from to to.
func addRows(to, from map[string]*TableRows) {
	for name, c := range from {
		t := to[name]
		if t == nil {
			t = &TableRows{Table: name}
			to[name] = t
		}
		t.Inserted += c.Inserted
		t.Deleted += c.Deleted
		t.Updated += c.Updated
	}
}

// rowCounts counts the rows of the inverse transactions the feed sent:
// those the pipeline committed in total, the others, in order, in
// inFlight (the pipeline commits in the order it was sent them; the
// memory budget bounds how many are in flight).
type rowCounts struct {
	total    map[string]*TableRows
	inFlight []map[string]*TableRows
	done     uint64 // transactions counted in total
}

// sent records the rows of a transaction sent, or of a further piece of
// the last one (first false).
func (c *rowCounts) sent(first bool, rows map[string]*TableRows) {
	if first || len(c.inFlight) == 0 {
		c.inFlight = append(c.inFlight, map[string]*TableRows{})
	}
	addRows(c.inFlight[len(c.inFlight)-1], rows)
}

// committed moves to total the rows of the transactions up to the
// applied-th sent.
func (c *rowCounts) committed(applied uint64) {
	if c.total == nil {
		c.total = map[string]*TableRows{}
	}
	for ; c.done < applied && len(c.inFlight) > 0; c.done++ {
		addRows(c.total, c.inFlight[0])
		c.inFlight[0] = nil
		c.inFlight = c.inFlight[1:]
	}
}

// summarize fills the summary from what the pipeline committed.
func (u *undo) summarize(ps pipeline.Snapshot) {
	s := &u.sum
	s.Undone, s.First, s.Last, s.Retries = ps.Applied, ps.First, ps.Last, ps.Retries
	s.Next = ps.Position
	u.sent.mu.Lock()
	u.sent.counts.committed(ps.Applied)
	total := u.sent.counts.total
	u.sent.mu.Unlock()
	s.Tables = nil
	for _, c := range total {
		s.Tables = append(s.Tables, *c)
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Table < s.Tables[j].Table })
}

// sessions is the target as the pipeline sees it.
type sessions struct{ u *undo }

// NewSession opens a target session for a worker.
func (s sessions) NewSession(ctx context.Context) (pipeline.Session, error) {
	return s.u.tgt.NewSession(ctx, s.u.opts.Apply.LockWaitTimeout)
}

// Unlogged is target.Target.Unlogged.
func (s sessions) Unlogged(sql string) string { return s.u.tgt.Unlogged(sql) }

// Exec runs sql on a pooled connection.
func (s sessions) Exec(ctx context.Context, sql string) error {
	_, err := s.u.tgt.DB().ExecContext(ctx, sql)
	return err
}

// LockWaiting is target.Target.LockWaiting.
func (s sessions) LockWaiting(ctx context.Context) (bool, error) { return s.u.tgt.LockWaiting(ctx) }
