package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/temptables"
	"github.com/binlog-replay/binlog-replay/internal/target"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Outcome is what the operator says of a transaction whose outcome the
// checkpoint leaves unknown (see Options.Uncertain).
type Outcome string

// Outcomes.
const (
	// OutcomeApplied: the transaction took effect; go on after it.
	OutcomeApplied Outcome = "applied"
	// OutcomeNotApplied: it did not (or its effects were undone by hand);
	// apply it.
	OutcomeNotApplied Outcome = "not-applied"
)

// ParseOutcome parses the value of --uncertain.
func ParseOutcome(s string) (Outcome, error) {
	switch o := Outcome(strings.ToLower(s)); o {
	case OutcomeApplied, OutcomeNotApplied:
		return o, nil
	}
	return "", fmt.Errorf("--uncertain %q: want applied or not-applied", s)
}

// UncertainError stops a replay at a transaction that an earlier run (or
// this one) started and whose outcome cannot be known: applying it again
// could apply it twice, skipping it could lose it. The target holds every
// transaction before it.
type UncertainError struct {
	// Start and GTID identify the transaction.
	Start txn.Position
	GTID  string
	// What says what it writes and why that makes its outcome unknown.
	What string
	// Err, when set, is the error that interrupted it in this run.
	Err error
}

// Error explains what is unknown and how to continue.
func (e *UncertainError) Error() string {
	msg := fmt.Sprintf("the outcome of the transaction at %s is unknown: %s", e.Start.Named(e.GTID), e.What)
	if e.Err != nil {
		msg += fmt.Sprintf("; it was interrupted: %v", e.Err)
	}
	if strings.Contains(e.What, "(MEMORY on the target)") && target.IsMySQLError(e.Err, 1032) {
		msg += ". A MEMORY table's rows live in the server's memory: a base backup holds none, so after a restore " +
			"the table is empty where the binlogs change rows the source had (and the source empties it on a restart too)"
	}
	return msg + ". Check the objects it writes on the target against the source (or the binlog), " +
		"then run again with --resume --uncertain applied (it took effect: continue after it) " +
		"or --resume --uncertain not-applied (apply it again)"
}

// Unwrap returns the interrupting error.
func (e *UncertainError) Unwrap() error { return e.Err }

// takePending returns the transaction an earlier run left pending when t
// is it (and forgets it: it is settled once), else nil.
func (p *Pipeline) takePending(t *txn.Txn) *target.Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prog.pending == nil || t.Start != p.prog.pending.Start {
		return nil
	}
	pending := p.prog.pending
	p.prog.pending = nil
	return pending
}

// ddlApplied works out whether the DDL t, which an earlier run left
// pending (p), ran: from the operator's word (Options.Uncertain), else by
// comparing the fingerprint of the objects it changes with the one taken
// before it ran. q is its DDL statement; conn is the session that would
// run it.
func (w *worker) ddlApplied(ctx context.Context, t *txn.Txn, q *txn.Event, p *target.Pending) (bool, error) {
	switch w.p.cfg.Uncertain {
	case OutcomeApplied:
		return true, nil
	case OutcomeNotApplied:
		return false, nil
	}
	now, err := schema.Fingerprint(ctx, w.sess.Conn(), q.Query.SQL, q.Query.Schema)
	if err != nil {
		return false, w.p.applyError(t, nil, fmt.Errorf("read the state of the objects the pending DDL changes: %w", err))
	}
	w.rollback() // end the read's transaction: it holds metadata locks
	if now.Digest == p.Print {
		w.p.logf("DDL at %s: the earlier run stopped before it ran (the objects it changes are as they were): running it", t.Start)
		return false, nil
	}
	w.p.logf("DDL at %s: the earlier run stopped after it ran (the objects it changes are no longer as they were before it): not run again", t.Start)
	return true, nil
}

// skipApplied records g, which an earlier run applied, as applied without
// applying it again.
func (w *worker) skipApplied(ctx context.Context, g *group) error {
	if err := w.recordApplied(ctx, g); err != nil {
		return err
	}
	w.p.committed(g)
	return nil
}

// skipAppliedDDL is skipApplied for a pending DDL the earlier run ran
// (settleDDL). When temporary tables are open after it, it opened them
// (a resume refuses where any were open before it: Lost): in the earlier
// run's session, which ended with them. The replay then stops after it,
// as a resume there would (the statements after it that use them cannot
// be applied as on the source).
func (w *worker) skipAppliedDDL(ctx context.Context, g *group) error {
	if g.temps == "" {
		return w.skipApplied(ctx, g)
	}
	if err := w.recordApplied(ctx, g); err != nil {
		return err
	}
	t := g.txns[len(g.txns)-1]
	return w.p.stopAfter(g, temptables.Lost(&target.Checkpoint{Next: t.End, TempTables: g.temps}))
}

// recordApplied writes the checkpoint past g, which an earlier run
// applied, without applying it again.
func (w *worker) recordApplied(ctx context.Context, g *group) error {
	t := g.txns[len(g.txns)-1]
	if err := w.execUnlogged(ctx, w.p.checkpointSQL(g)+";\nCOMMIT"); err != nil {
		if !target.IsServerError(err) {
			w.p.commitUncertain(g)
		}
		return w.p.applyError(t, nil, fmt.Errorf("record the transaction an earlier run applied: %w", err))
	}
	return nil
}

// markApart commits, from a session of its own, the mark that says t is
// being applied apart (see target.CheckpointSchema): for a transaction
// whose own session has its target transaction open (a streamed one).
func (p *Pipeline) markApart(ctx context.Context, t *txn.Txn, state, print, what string) error {
	q := p.deps.Target.Unlogged(p.pendingSQL(t, state, print, what) + ";\nCOMMIT")
	if err := p.deps.Target.Exec(ctx, q); err != nil {
		return fmt.Errorf("record the start of a transaction applied apart: %w", err)
	}
	return nil
}
