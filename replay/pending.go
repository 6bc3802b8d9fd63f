package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/pipeline"
	"github.com/binlog-replay/binlog-replay/internal/target"
)

// Outcome is what the operator says of a transaction whose outcome the
// checkpoint leaves unknown (see Options.Recovery.Uncertain).
type Outcome = pipeline.Outcome

// Outcomes.
const (
	// OutcomeApplied: the transaction took effect; go on after it.
	OutcomeApplied = pipeline.OutcomeApplied
	// OutcomeNotApplied: it did not (or its effects were undone by hand);
	// apply it.
	OutcomeNotApplied = pipeline.OutcomeNotApplied
)

// ParseOutcome parses the value of --uncertain.
func ParseOutcome(s string) (Outcome, error) { return pipeline.ParseOutcome(s) }

// UncertainError stops a replay at a transaction that an earlier run (or
// this one) started and whose outcome cannot be known: applying it again
// could apply it twice, skipping it could lose it. The target holds every
// transaction before it.
type UncertainError = pipeline.UncertainError

// AppliedError stops a replay after a transaction the target holds, with
// its checkpoint, because something about it needs the operator (the
// target logged it in two parts, say: see its message); --resume goes on
// after it.
type AppliedError = pipeline.AppliedError

// ApplyError is returned when a source transaction could not be applied.
// The target holds every transaction before it and nothing of it.
type ApplyError = pipeline.ApplyError

// checkPending refuses, at the start of a resumed run, a checkpoint that
// names a transaction whose outcome is unknown and cannot be found out
// (written to non-transactional tables, or a DDL whose fingerprint cannot
// tell), unless the operator said what it was (Options.Recovery.Uncertain); and
// --uncertain when there is no such transaction. The pipeline settles the
// one it may find out (a DDL's fingerprint) when it reaches it.
func (r *run) checkPending(cp *Checkpoint) error {
	switch {
	case cp == nil || cp.State == target.StateRunning || cp.State == "":
		if r.opts.Recovery.Uncertain != "" {
			return fmt.Errorf("--uncertain %s: the target's checkpoint names no transaction whose outcome is unknown", r.opts.Recovery.Uncertain)
		}
		return nil
	case cp.State != target.StateDDL && cp.State != target.StateNonTrans:
		return fmt.Errorf("the target's checkpoint is in state %q, which this version does not know: use the version that wrote it", cp.State)
	}
	r.start.pending = &cp.Pending
	uncertain := &UncertainError{Start: cp.Pending.Start, GTID: cp.Pending.GTID}
	switch {
	case r.opts.Recovery.Uncertain != "":
		r.logf("the transaction at %s was started by an earlier run and its outcome is unknown (%s): taken as %s (--uncertain)",
			cp.Pending.Start, cp.Pending.What, r.opts.Recovery.Uncertain)
		return nil
	case cp.State == target.StateNonTrans:
		uncertain.What = cp.Pending.What + "; the earlier run stopped while applying it, and writes to such tables " +
			"survive a rollback, so they may have been made in part or in whole"
		return uncertain
	case strings.HasPrefix(cp.Pending.Print, target.AmbiguousPrint):
		uncertain.What = "a DDL the earlier run stopped while applying; whether it ran cannot be told from the catalog: " +
			strings.TrimPrefix(cp.Pending.Print, target.AmbiguousPrint)
		return uncertain
	}
	return nil
}

// checkPendingLogged refuses, keeping the source's GTIDs, to apply again
// (--uncertain not-applied) a pending transaction whose GTID the target's
// binlog holds: the target logged it as it ran (its writes to
// non-transactional tables, at least), and would log it twice.
func (r *run) checkPendingLogged(ctx context.Context, cp *Checkpoint) error {
	if r.start.pending == nil || r.opts.Recovery.Uncertain != OutcomeNotApplied || cp.Pending.GTID == "" {
		return nil
	}
	logged, err := target.LoggedGTID(ctx, r.tgt.DB(), cp.Pending.GTID)
	if errors.Is(err, target.ErrLoggedUnknown) {
		r.logf("--uncertain not-applied: %v: applying the transaction at %s again, as told (if the target did log it, its "+
			"binlog will hold the GTID twice)", err, cp.Pending.Start)
		return nil
	}
	if err != nil || !logged {
		return err
	}
	return fmt.Errorf("--uncertain not-applied: the target's binlog holds GTID %s of the transaction at %s: the target logged it "+
		"as it ran (its writes to non-transactional tables, at least), and applying it again keeping the source's GTIDs would "+
		"log it twice. If its writes are on the target, resume with --uncertain applied; if you undid them by hand, with "+
		"--uncertain not-applied --target-gtids own", cp.Pending.GTID, cp.Pending.Start)
}
