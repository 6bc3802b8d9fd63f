package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/adapt"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/width"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// scheduler works out, for each transaction in source order, the last
// ticket it depends on. With one worker, or without decoded rows, every
// transaction simply depends on the one before it.
type scheduler struct {
	cache    Tables
	keyer    *partition.Keyer
	tracker  *partition.Tracker
	newKeyer func() *partition.Keyer
}

func newScheduler(p *Pipeline) *scheduler {
	if !p.parallel() {
		return &scheduler{cache: p.deps.Tables}
	}
	return &scheduler{cache: p.deps.Tables, keyer: p.newKeyer(), tracker: partition.NewTracker(0), newKeyer: p.newKeyer}
}

// depends returns the ticket t depends on, whether it is a barrier, and
// its write set (valid until the next call).
// first is the first ticket of the group t would join (ticket when none):
// the ticket returned is the latest before the group that t depends on
// beyond what the group waits for already (see
// partition.Tracker.AddToGroup); for a barrier, first-1, every transaction
// before the group. alone makes t a barrier whatever its write set.
func (s *scheduler) depends(ctx context.Context, t *txn.Txn, ticket, first uint64, alone bool) (uint64, bool, []partition.Key, string, error) {
	if s.keyer == nil {
		return first - 1, alone || t.Kind != txn.KindRows, nil, "", nil
	}
	if alone {
		s.tracker.Add(ticket, nil, true) // later transactions wait for it
		return first - 1, true, nil, "", nil
	}
	keys, barrier, reason, err := s.keyer.KeysOf(ctx, t)
	if err != nil {
		return 0, false, nil, "", fmt.Errorf("compute write set of transaction #%d at %s: %w", t.Seq, t.Start, err)
	}
	if barrier {
		s.tracker.Add(ticket, keys, true) // later transactions wait for it
		return first - 1, true, nil, reason, nil
	}
	return s.tracker.AddToGroup(ticket, first, keys), false, keys, reason, nil
}

// forget drops what the tracker remembers of the transactions up to the
// ticket committed: nothing later waits for them, and the tracker then
// holds only the keys of the transactions in flight.
func (s *scheduler) forget(committed uint64) {
	if s.tracker != nil {
		s.tracker.Forget(committed)
	}
}

// schemaChanged drops what was learnt of the tables the DDL transaction t
// may have changed: the tables it names, or all of them when it may change
// tables it does not name (see schema.DDLTables).
func (s *scheduler) schemaChanged(t *txn.Txn) {
	if s.cache == nil {
		return
	}
	for _, e := range t.Events {
		if e.Query == nil {
			continue
		}
		names, ok := schema.DDLTables(e.Query.SQL, e.Query.Schema)
		if !ok {
			s.cache.InvalidateAll()
			if s.keyer != nil {
				s.keyer = s.newKeyer()
			}
			return
		}
		for _, n := range names {
			s.cache.Invalidate(n.Schema, n.Table)
		}
	}
}

// dispatch numbers transactions with tickets, works out what each depends
// on, and hands them to the workers in groups. A group takes what is
// already queued, up to the group limits: under load it grows and saves
// commits, when idle it goes out at once. It closes out when in is drained.
//
// A transaction joining the group adds to what the group waits for only
// its dependencies on transactions before the group (see
// partition.Tracker.AddToGroup): within the group, one connection applies
// the transactions in order.
func (p *Pipeline) dispatch(ctx context.Context, in <-chan *txn.Txn, out chan<- *group) error {
	defer close(out)
	sched := newScheduler(p)
	sizer := adapt.NewGroupSizer(p.cfg.GroupTxns, p.cfg.StartGroupTxns)
	var (
		cur    *group
		ticket uint64
		wide   width.Meter
		// prevFirst is the first ticket of the group sent last, which
		// the group being built may start its head beside (head.go).
		prevFirst uint64
	)
	send := func(g *group) error {
		g.sealed()
		prevFirst = g.first
		saturated := p.counts.busy.Load() >= int64(p.cfg.Workers)
		sizer.Observe(g.first, g.dependsOn, p.seq.CommittedUpTo(), saturated, time.Now())
		if sched.keyer != nil {
			width := wide.Add(g.last(), g.dependsOn)
			p.mu.Lock()
			p.prog.parallelism = width
			p.mu.Unlock()
			p.serial.Dispatched(g.first, g.dependsOn, len(g.txns))
		}
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
		t, ok, err := p.next(ctx, in, cur, flush)
		if err != nil || !ok {
			if err == nil {
				err = flush()
			}
			return err
		}
		if t.ServerRestarted {
			p.sourceRestarted(t)
		}
		ticket++
		if t.Part > 0 {
			// A transaction read in pieces runs alone, the pieces
			// following the first.
			if err := flush(); err != nil {
				return err
			}
			if err := p.dispatchStream(ctx, in, t, ticket, sched, send); err != nil {
				return err
			}
			continue
		}
		solo, err := p.soloReason(ctx, t)
		if err != nil {
			return err
		}
		ddl := isDDLTxn(t)
		var stmts group // where t's statements run, for a statement group
		if t.Kind != txn.KindRows {
			p.followStatements(&stmts, t)
		}
		// Close a full group first (or, keeping source GTIDs, one of
		// another domain or server: see GTIDMode), or the group before a
		// transaction that runs alone: t's dependencies are worked out
		// against the group it will join.
		alone := solo != "" || ddl || t.Kind != txn.KindRows
		if cur != nil && (alone || len(cur.txns) >= sizer.MaxTxns() || cur.bytes+t.Bytes > p.cfg.GroupBytes ||
			p.cfg.KeepGTIDs && target.GTIDOrigin(cur.txns[len(cur.txns)-1].GTID) != target.GTIDOrigin(t.GTID)) {
			if err := flush(); err != nil {
				return err
			}
		}
		first := ticket
		if cur != nil {
			first = cur.first
		}
		sched.forget(p.seq.CommittedUpTo())
		dependsOn, barrier, keys, reason, err := sched.depends(ctx, t, ticket, first, solo != "" || ddl)
		if err != nil {
			return err
		}
		switch {
		case solo != "":
			p.noteBarrier(t, "non-transactional or failed on the source")
		case barrier && t.Kind == txn.KindRows && !rowsDecoded(t) && p.serial.Active():
			p.counts.serialTxns.Add(1) // not decoded in a serial stretch: no barrier to report
		case barrier:
			p.noteBarrier(t, reason)
		}
		// A row transaction that cannot be keyed (no usable key, a
		// cascade, a trigger...) joins the group like any other: its
		// dependency, every transaction before the group, makes the group
		// wait for every earlier group, and later transactions wait for it
		// (the tracker's floor). Statement-format and DDL transactions,
		// and those that must be applied once (solo.go), run alone.
		if alone {
			g := &group{txns: []*txn.Txn{t}, first: ticket, dependsOn: ticket - 1,
				ddl: ddl, statement: t.Kind != txn.KindRows, bytes: t.Bytes, solo: solo, temps: p.temps.String(),
				session: stmts.session, sessionHolds: stmts.sessionHolds, refused: stmts.refused, ended: stmts.ended}
			if g.statement {
				g.reset, p.reset = p.reset, nil
			}
			if err := send(g); err != nil {
				return err
			}
			if g.ddl {
				// Later transactions are keyed against the new schema.
				if err := p.seq.WaitCommitted(ctx, ticket); err != nil {
					return err
				}
				sched.schemaChanged(t)
			}
			continue
		}
		if cur == nil {
			cur = &group{first: ticket}
		}
		cur.temps = p.temps.String()
		cur.join(t, dependsOn, keys, barrier || sched.keyer == nil, prevFirst)
		cur.bytes += t.Bytes
	}
}

// dispatchStream hands out first, the first piece of a transaction read
// in pieces (see stream.go), as a group of its own with ticket, then
// forwards the pieces that follow it on in to the group's stream, which it
// closes after the last one or when in ends first (the worker then rolls
// the transaction back).
func (p *Pipeline) dispatchStream(ctx context.Context, in <-chan *txn.Txn, first *txn.Txn, ticket uint64,
	sched *scheduler, send func(*group) error) error {
	solo, err := p.soloReason(ctx, first)
	if err != nil {
		return err
	}
	p.noteBarrier(first, "a transaction too large to hold whole")
	if _, _, _, _, err := sched.depends(ctx, first, ticket, ticket, true); err != nil {
		return err
	}
	g := &group{txns: []*txn.Txn{first}, first: ticket, dependsOn: ticket - 1, ddl: isDDLTxn(first),
		statement: true, bytes: first.Bytes, solo: solo, stream: make(chan *txn.Txn, 1)}
	p.followStatements(g, first)
	g.temps = p.temps.String()
	g.reset, p.reset = p.reset, nil
	defer close(g.stream)
	if err := send(g); err != nil {
		return err
	}
	for {
		var t *txn.Txn
		var ok bool
		select {
		case t, ok = <-in:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil // the reading stopped before the last piece
		}
		// g.sessionHolds is read by the worker once it has the last
		// piece, like g.temps. A disconnect drop, which may end other
		// sessions' tables (dropEnded), is never a piece: the server
		// logs it alone.
		p.followPiece(g, t)
		if t.Final {
			g.temps = p.temps.String()
		}
		select {
		case g.stream <- t:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !t.Final {
			continue
		}
		if g.ddl {
			if err := p.seq.WaitCommitted(ctx, ticket); err != nil {
				return err
			}
			sched.schemaChanged(first)
		}
		return nil
	}
}

// next receives the next transaction. While a group is being built and
// nothing more is queued, it sends the group (flush) as soon as the group
// could start, that is once what it depends on has committed (or, for an
// early start, run its body: Pipeline.earlyStart): until then,
// the group keeps taking transactions as they arrive. A serial stream (hot
// rows) thus gets groups as large as the wait for the previous commit
// allows, whatever the number of workers, and an independent one is sent
// at once.
func (p *Pipeline) next(ctx context.Context, in <-chan *txn.Txn, cur *group, flush func() error) (*txn.Txn, bool, error) {
	for cur != nil {
		committed, changed := p.seq.Progress()
		if committed >= cur.dependsOn || p.earlyStart(cur) && p.seq.RanUpTo(cur.dependsOn) {
			select {
			case t, ok := <-in:
				return t, ok, nil
			default:
				if err := flush(); err != nil {
					return nil, false, err
				}
			}
			break
		}
		select {
		case t, ok := <-in:
			return t, ok, nil
		case <-changed:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	select {
	case t, ok := <-in:
		return t, ok, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// rowsDecoded reports whether t's row images were decoded.
func rowsDecoded(t *txn.Txn) bool {
	for i := range t.Events {
		if rows := t.Events[i].Rows; rows != nil && !rows.Decoded {
			return false
		}
	}
	return true
}

// invalidateTables drops what the schema cache knows of the tables the
// DDL statements of t may have changed (all of them when it cannot tell),
// so that the rows written after them are checked against the new
// definitions.
func (p *Pipeline) invalidateTables(t *txn.Txn) {
	for _, e := range t.Events {
		if e.Query == nil {
			continue
		}
		names, ok := schema.DDLTables(e.Query.SQL, e.Query.Schema)
		if !ok {
			p.deps.Tables.InvalidateAll()
			return
		}
		for _, n := range names {
			p.deps.Tables.Invalidate(n.Schema, n.Table)
		}
	}
}

// isDDLTxn reports whether t holds a DDL statement, which commits
// implicitly: a standalone DDL, or a group with one and the rows it wrote
// (CREATE TABLE ... SELECT in row format).
func isDDLTxn(t *txn.Txn) bool {
	if t.Kind == txn.KindDDL {
		return t.Begin == nil || !isDML(t.Begin.SQL)
	}
	if t.Kind != txn.KindStatement {
		return false
	}
	for i := range t.Events {
		if q := t.Events[i].Query; q != nil && schema.IsDDL(q.SQL) {
			return true
		}
	}
	return false
}

// isDML reports whether sql is a data statement (INSERT, UPDATE, DELETE,
// REPLACE, LOAD DATA, CALL...) rather than DDL.
func isDML(sql []byte) bool {
	toks := sqlscan.Tokens(sql, 1)
	if len(toks) == 0 {
		return false
	}
	switch strings.ToUpper(toks[0].Text) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", "CALL", "DO", "SELECT", "WITH", "SET":
		return toks[0].Kind == sqlscan.Word
	}
	return false
}
