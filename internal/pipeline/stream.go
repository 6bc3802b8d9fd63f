package pipeline

import (
	"context"
	"fmt"

	"github.com/binlog-replay/binlog-replay/internal/target"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Streamed transactions. A transaction larger than the reader's part size
// (a sixteenth of the memory budget) comes in pieces as it is read
// (binlog.Options.StreamAbove, txn.Txn.Part), so that memory stays bounded
// whatever its size. It is applied alone, on the statement session, one
// piece after the other inside one target transaction: each piece is sent
// as it arrives and its memory given back at once, and the last piece
// commits it with the checkpoint. It is never retried: a failure or a lost
// connection rolls it back on the target (nothing of it is committed) and
// stops the run; a resume reads it again from the binlogs and applies it
// whole. A stream that ends without its last piece (the stop point falls
// at its end, the reading failed, the run was cancelled) is rolled back.
//
// Pieces that write non-transactional tables, DDL (CREATE TABLE ... SELECT)
// and the earlier run's pending mark are handled as for a whole
// transaction (solo.go, pending.go), the mark being written before the
// first piece that needs it.

// applyStream applies g, a streamed transaction: g.txns holds its first
// piece, g.stream brings the others.
func (w *worker) applyStream(ctx context.Context, g *group) error {
	st := &streamApply{w: w, g: g, first: g.txns[0]}
	err := st.apply(ctx)
	if err != nil {
		if st.stage != nil {
			w.abortStage()
		}
		w.rollback()
		st.drain()
		return st.failed(err)
	}
	return nil
}

// apply applies the pieces in order (see applyStream); on error the
// caller rolls back.
func (st *streamApply) apply(ctx context.Context) error {
	w, g := st.w, st.g
	first := g.txns[0]
	held := first // the piece whose memory is not given back yet
	defer func() {
		if held != nil {
			w.p.deps.Mem.Release([]*txn.Txn{held})
		}
	}()
	if err := w.p.seq.WaitCommitted(ctx, g.first-1); err != nil {
		return err
	}
	var q *txn.Event
	rowsOnly, skip := false, false
	if g.ddl {
		var err error
		if q, rowsOnly, skip, err = w.settleDDL(ctx, g); err != nil {
			return err
		}
	} else if p := w.p.takePending(first); p != nil && w.p.cfg.Uncertain == OutcomeApplied {
		skip = true
	}
	if skip {
		return st.skip(ctx)
	}
	if g.ddl {
		if !rowsOnly {
			if err := w.markDDL(ctx, first, q, g.solo); err != nil {
				return err
			}
			st.marked = true
		}
		st.bytes += first.Bytes
		if st.stage = w.stageFor(first, q); st.stage != nil {
			if err := st.beginStaged(ctx, first); err != nil {
				return err
			}
		} else if err := w.execDDL(ctx, first, q, rowsOnly); err != nil {
			return err
		}
	} else if err := st.piece(ctx, first); err != nil {
		return err
	}
	w.p.deps.Mem.Release([]*txn.Txn{first})
	held = nil
	part := first
	for !part.Final {
		next, ok, err := st.next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			w.rollback()
			w.p.logf("transaction at %s, read in pieces, ended before its last piece (the stop point, or the end of the reading): rolled back on the target",
				first.Start)
			return nil
		}
		part, held = next, next
		if err := st.piece(ctx, part); err != nil {
			return err
		}
		w.p.deps.Mem.Release([]*txn.Txn{part})
		held = nil
	}
	return st.commit(ctx, part)
}

// streamApply is the state of one streamed transaction being applied.
type streamApply struct {
	w     *worker
	g     *group
	first *txn.Txn // the first piece
	// marked is set once the mark before it is committed; bytes counts the
	// bytes of its pieces.
	marked bool
	bytes  int64
	// stage, for CREATE TABLE ... SELECT with source GTIDs kept, stages
	// its rows (ctas.go).
	stage *ctasStage
}

// beginStaged starts a staged CREATE TABLE ... SELECT with its first
// piece.
func (st *streamApply) beginStaged(ctx context.Context, first *txn.Txn) error {
	w := st.w
	if err := w.beginStage(ctx, first, st.stage); err != nil {
		return err
	}
	if _, rows := splitDDL(first, st.stage.q); rows != nil {
		return st.stagePiece(ctx, rows)
	}
	return nil
}

// stagePiece sends a piece's rows to the staging table.
func (st *streamApply) stagePiece(ctx context.Context, part *txn.Txn) error {
	staged, err := st.stage.retarget(part)
	if err != nil {
		return st.w.p.applyError(part, nil, err)
	}
	return st.w.execPiece(ctx, st.g.txns[0], staged)
}

// next returns the next piece, false when the stream ended without the
// last one.
func (st *streamApply) next(ctx context.Context) (*txn.Txn, bool, error) {
	select {
	case t, ok := <-st.g.stream:
		return t, ok, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// piece sends a piece, after the mark before it when it is the first that
// writes non-transactional tables.
func (st *streamApply) piece(ctx context.Context, t *txn.Txn) error {
	w, first := st.w, st.g.txns[0]
	st.bytes += t.Bytes
	if st.stage != nil {
		return st.stagePiece(ctx, t)
	}
	if !st.marked {
		solo, err := w.p.soloReason(ctx, t)
		if err != nil {
			return w.p.applyError(t, nil, err)
		}
		if solo != "" {
			// Marked from another session: this one's transaction is open.
			if err := w.p.markApart(ctx, first, target.StateNonTrans, "", solo); err != nil {
				return w.p.applyError(t, nil, err)
			}
			st.g.solo, st.marked = solo, true
		}
	}
	if t == first && w.p.cfg.KeepGTIDs {
		if err := w.exec(ctx, []sqlgen.Stmt{{SQL: target.GTIDStatement(first.GTID), Txn: first}}); err != nil {
			return err
		}
	}
	return w.execPiece(ctx, first, t)
}

// drain gives back the memory of the pieces not applied.
func (st *streamApply) drain() {
	go func() {
		for t := range st.g.stream {
			st.w.p.deps.Mem.Release([]*txn.Txn{t})
		}
	}()
}

// failed is the error a failure of the stream ends the run with: an
// *UncertainError when non-transactional tables were written.
func (st *streamApply) failed(err error) error {
	first := st.g.txns[0]
	if st.g.solo != "" && st.marked {
		return &UncertainError{Start: first.Start, GTID: first.GTID.String(), What: st.g.solo, Err: err}
	}
	return err
}

// whole returns the transaction the pieces make, for the checkpoint and
// the summary, last being its last piece.
func (st *streamApply) whole(last *txn.Txn) *txn.Txn {
	t := *last
	t.Start, t.Part, t.Events = st.g.txns[0].Start, 0, nil
	t.Bytes = st.bytes
	return &t
}

// commit commits the stream, last being its last piece, with the
// checkpoint (after a ROLLBACK of the transactional part, when the source
// rolled it back).
func (st *streamApply) commit(ctx context.Context, last *txn.Txn) error {
	w, g := st.w, st.g
	g.txns = []*txn.Txn{st.whole(last)}
	commit := w.p.checkpointSQL(g) + ";\nCOMMIT"
	var err error
	if st.stage != nil {
		if err := w.finishStage(ctx, st.first, st.stage); err != nil {
			w.abortStage()
			return err
		}
		err = w.execUnlogged(ctx, commit)
	} else if last.RolledBack {
		if err = w.sess.Run(ctx, "ROLLBACK"); err == nil {
			err = w.execUnlogged(ctx, commit)
		}
	} else {
		err = w.sess.Run(ctx, commit)
	}
	if err != nil {
		if !target.IsServerError(err) {
			w.p.commitUncertain(g)
		}
		return w.p.applyError(last, nil, fmt.Errorf("%w; --resume reads the checkpoint to find out: %w", errCommitUnknown, err))
	}
	w.p.committed(g)
	return nil
}

// skip reads the stream to its last piece without applying it (an earlier
// run applied it) and moves the checkpoint past it.
func (st *streamApply) skip(ctx context.Context) error {
	part := st.g.txns[0]
	st.bytes += part.Bytes
	for !part.Final {
		t, ok, err := st.next(ctx)
		if err != nil || !ok {
			return err
		}
		st.w.p.deps.Mem.Release([]*txn.Txn{t})
		st.bytes += t.Bytes
		part = t
	}
	st.g.txns = []*txn.Txn{st.whole(part)}
	if st.g.ddl {
		return st.w.skipAppliedDDL(ctx, st.g)
	}
	return st.w.skipApplied(ctx, st.g)
}
