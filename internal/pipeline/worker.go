package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/adapt"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/sequencer"
	"github.com/binlog-replay/binlog-replay/internal/target"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// group is a run of consecutive source transactions that one worker applies
// and commits together in one target transaction.
type group struct {
	txns []*txn.Txn
	// first is the ticket of txns[0]; tickets number the transactions handed
	// to workers from 1, in source order, without gaps.
	first uint64
	// dependsOn is the last ticket that must be committed before the group
	// may start.
	dependsOn uint64
	// ddl groups hold one standalone query, which commits implicitly.
	ddl bool
	// statement groups hold statement-format events (or DDL). They run on
	// the run's statement session, so that temporary tables and session
	// state carry from one to the next as on the source.
	statement bool
	bytes     int64
	// sqlEvents counts the row events of the group applied as SQL
	// (rowsql.go), set by the attempt that commits.
	sqlEvents uint64
	// solo, when set, says why the group's one transaction must be
	// applied once and alone (see solo.go).
	solo string
	// temps names the binlog's temporary tables open after the group, for
	// the checkpoint (see tempTables).
	temps string
	// session names the statement session a statement group runs on, and
	// sessionHolds says it holds temporary tables after the group
	// (followStatements).
	session      stmtKey
	sessionHolds bool
	// refused, when set, refuses the group before anything of it is
	// applied: one of its statements uses a temporary table its source
	// session created before the binlogs read, or is a disconnect drop
	// whose tables cannot be told (followStatements).
	refused error
	// ended are the temporary tables of other source sessions that the
	// group's disconnect drop ended, dropped where they live before the
	// group runs (dropEnded).
	ended []endedDrop
	// reset, set on a statement group, closes the statement sessions
	// holding temporary tables that a restart of the source ended, before
	// the group runs (sourceRestarted).
	reset *stmtReset
	// stream, for a transaction read in pieces, brings the pieces after
	// the first (txns[0]); the dispatcher closes it after the last one, or
	// earlier when the reading stops (stream.go).
	stream chan *txn.Txn
	// late makes the group start only once every ticket up to dependsOn
	// has committed, set after an attempt failed; early says the attempt
	// under way started before they had (see earlyStart).
	late, early bool
	// split sends the group's SQL apply statements one per packet
	// (target.Session.ExecEach), after an attempt with them joined
	// (target.Session.ExecJoined) could not check its rows exactly
	// (sqlgen.ErrRepack) or was refused (the error then names the row
	// event refused, not a packet of several).
	split bool
	// tied marks the transactions that wait for the group sent before
	// this one, and headDependsOn is what the others (the head) depend
	// on; tied is nil when none does (see "Head start" in head.go).
	// tiedKeys holds the keys of the marked ones while the group is built.
	tied          []bool
	headDependsOn uint64
	tiedKeys      map[partition.Key]struct{}
}

func (g *group) last() uint64 { return g.first + uint64(len(g.txns)) - 1 }

// worker applies groups on its own target session.
type worker struct {
	p    *Pipeline
	sess Session
	// stmt is set for a statement session (stmtSession).
	stmt *stmtState
}

// loop applies groups from in until it is closed or an error occurs.
func (w *worker) loop(ctx context.Context, in <-chan *group) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case g, ok := <-in:
			if !ok {
				return nil
			}
			w.p.counts.busy.Add(1)
			err := w.apply(ctx, g)
			w.p.counts.busy.Add(-1)
			if err != nil {
				return err
			}
		}
	}
}

// apply applies g, retrying on lock conflicts, until it is committed.
func (w *worker) apply(ctx context.Context, g *group) error {
	if g.statement && w.stmt == nil {
		// Statement groups run alone: once everything before one has
		// committed (and everything after waits for it), the statement
		// session is free. Wait first, lock after: an earlier statement
		// group may still need the session.
		if err := w.p.seq.WaitCommitted(ctx, g.first-1); err != nil {
			return err
		}
		if g.refused != nil {
			return g.refused
		}
		w.p.stmt.mu.Lock()
		defer w.p.stmt.mu.Unlock()
		if g.reset != nil {
			w.p.closeStmtSessions(g.reset)
			g.reset = nil
		}
		if err := w.p.dropEnded(ctx, g); err != nil {
			return err
		}
		sw, err := w.p.stmtWorker(ctx, g)
		if err != nil {
			return err
		}
		return sw.applyStatements(ctx, g)
	}
	if g.stream != nil {
		return w.applyStream(ctx, g)
	}
	if g.ddl {
		return w.applyDDL(ctx, g)
	}
	if g.solo != "" {
		return w.applySolo(ctx, g)
	}
	seq := w.p.seq
	for attempt := 0; ; attempt++ {
		err := w.applyOnce(ctx, g)
		if err == nil {
			return nil
		}
		w.rollback()
		seq.RolledBack(g.first)
		early := g.early
		g.early, g.late = false, true
		var aborted sequencer.ErrAborted
		switch {
		case early && !errors.Is(err, errCommit) && (target.IsServerError(err) || sqlgen.IsRowsError(err) || errors.As(err, &aborted)):
			// It started before the groups it depends on had committed,
			// and failed or was told to roll back: whatever the cause,
			// run it again once they have, as without an early start
			// (and after the group that asked, if one did).
			until := g.dependsOn
			if errors.As(err, &aborted) {
				until = max(until, aborted.Until)
			}
			if err := seq.WaitCommitted(ctx, until); err != nil {
				return err
			}
		case errors.Is(err, sqlgen.ErrRepack) && !g.split:
			// A joined packet could not be checked exactly: nothing is
			// wrong, apply the group again with its packets split.
			w.p.counts.repacked.Add(1)
			g.split = true
		case errors.As(err, &aborted):
			// An earlier group needs our locks: let it commit first.
			if err := seq.WaitCommitted(ctx, aborted.Until); err != nil {
				return err
			}
		case isRetryable(err) && attempt < w.p.cfg.MaxRetries:
			w.p.counts.retries.Add(1)
			if seq.CommittedUpTo() == g.first-1 {
				// We are the earliest pending group: whoever holds our
				// locks is a later group waiting for its turn.
				seq.AbortLater(g.first)
			} else if err := seq.WaitCommitted(ctx, g.first-1); err != nil {
				return err
			}
		case isRetryable(err):
			return fmt.Errorf("gave up after %d retries: %w", attempt, err)
		case len(g.txns) == 1 && g.dependsOn < g.first-1 && (target.IsServerError(err) || sqlgen.IsRowsError(err)) && !errors.Is(err, errCommit):
			// It ran beside earlier transactions its write set said it
			// does not touch, and was refused (a duplicate key, a row
			// not found, a foreign key): had the write set missed a
			// dependency, it would see their rows once they commit. Run
			// it again alone, after all of them.
			w.p.logf("transaction at %s was refused while earlier ones were in flight (%v): applying it again after them",
				g.txns[0].Start, err)
			g.dependsOn = g.first - 1
		case len(g.txns) > 1 && (target.IsServerError(err) || sqlgen.IsRowsError(err)) && !errors.Is(err, errCommit):
			// One of the grouped transactions is refused: apply them one
			// at a time, so that those before it commit and the error
			// names the one that fails.
			return w.applyEach(ctx, g)
		case len(g.txns) == 1 && !g.split && g.sqlEvents > 1 && (target.IsServerError(err) || sqlgen.IsRowsError(err)) && !errors.Is(err, errCommit):
			// Refused with its SQL apply statements joined across row
			// events: a server error is about a packet, not one event.
			// Apply it again with one statement per packet, so that the
			// error it stops on names the row event refused.
			g.split = true
		default:
			return err
		}
	}
}

// applyEach applies g's transactions as groups of one, in order.
func (w *worker) applyEach(ctx context.Context, g *group) error {
	for i, t := range g.txns {
		one := &group{txns: g.txns[i : i+1], first: g.first + uint64(i), dependsOn: g.first + uint64(i) - 1,
			statement: g.statement, bytes: t.Bytes, split: g.split}
		if err := w.apply(ctx, one); err != nil {
			return err
		}
	}
	return nil
}

// lead returns the statements that start g's target transaction: the
// GTID it is logged with, when source GTIDs are kept (it may not change
// inside a transaction), and with chain its turn slot.
func (w *worker) lead(g *group, chain bool) []sqlgen.Stmt {
	var stmts []sqlgen.Stmt
	last := g.txns[len(g.txns)-1]
	if w.p.cfg.KeepGTIDs {
		stmts = append(stmts, sqlgen.Stmt{SQL: target.GTIDStatement(last.GTID), Txn: last})
	}
	if chain {
		stmts = append(stmts, sqlgen.Stmt{SQL: target.TurnTakeSQL(g.first, g.last()), Txn: g.txns[0]})
	}
	return stmts
}

// statements returns the statements that apply txns, g's transactions or
// a part of them (head.go), with
// the format description statements they need, and the format
// description the session has once they are sent.
func (w *worker) statements(ctx context.Context, g *group, txns []*txn.Txn) ([]sqlgen.Stmt, *txn.Format, error) {
	// format is the format description the session will have once the
	// statements are sent: w.sess.Format() changes only when they are.
	format := w.sess.Format()
	if w.p.deps.Compact != nil && !g.statement && g.solo == "" {
		txns = w.p.deps.Compact(ctx, txns)
	}
	// About one statement per two events (a table map and its rows).
	n := 0
	for _, t := range txns {
		n += len(t.Events)
	}
	stmts := make([]sqlgen.Stmt, 0, n/2+1)
	if gg, ok := w.p.deps.Gen.(groupGenerator); ok && w.p.applySQL() && !g.statement && g.solo == "" {
		// Row events as SQL: the group's transactions share statements
		// (no format description statements on this path).
		body, err := gg.AppendGroup(ctx, stmts, txns)
		if err != nil {
			failed := sqlgen.FailedEvent(err)
			return nil, nil, w.p.applyError(txnOf(txns, failed), failed, err)
		}
		return body, format, nil
	}
	for _, t := range txns {
		if t.Format != nil && t.Format != format && w.p.needsFormat(t) {
			f := sqlgen.FormatStatement(t.Format)
			f.Txn = t
			stmts = append(stmts, f)
			format = t.Format
		}
		from := len(stmts)
		var err error
		if stmts, err = w.p.deps.Gen.AppendBody(ctx, stmts, t); err != nil {
			return nil, nil, w.p.applyError(t, sqlgen.FailedEvent(err), err)
		}
		for i := from; i < len(stmts); i++ {
			stmts[i].Txn = t
		}
	}
	return stmts, format, nil
}

// applyOnce runs g's body, waits for its turn and commits.
func (w *worker) applyOnce(ctx context.Context, g *group) error {
	// The session runs with autocommit=0: the group's statements form one
	// target transaction, ended by the COMMIT below. Statement-format
	// groups are not chained: their statements may commit implicitly (a
	// BEGIN, LOCK TABLES...), which would commit the turn slot before
	// the group's own COMMIT; they start once everything before them has
	// committed anyway.
	chain := w.p.cfg.ChainCommits && !g.statement
	if chain {
		// Groups that use the same turn slot must be far apart (see
		// target.TurnSlots): a group and the one chained on it have
		// committed before a later group takes their slot again.
		if err := w.p.seq.WaitCommitted(ctx, turnWindow(g.first, adapt.GroupTxnsBound(w.p.cfg.GroupTxns))); err != nil {
			return err
		}
	}
	// The lead statements go before the wait for the groups g depends
	// on: over a network, their round trip is then not added to the
	// chain of dependent groups.
	lead := w.lead(g, chain)
	if chain {
		if err := w.exec(ctx, lead); err != nil {
			return err
		}
		lead = nil
	}
	var ranGen uint64
	body, tail := g.txns, []*txn.Txn(nil)
	if w.p.earlyStart(g) {
		waitFor := g.dependsOn
		if head, rest, ok := g.parts(); ok {
			// The head first, beside the group before (head.go).
			body, tail, waitFor = head, rest, g.headDependsOn
		}
		gen, _, err := w.p.seq.WaitRan(ctx, waitFor)
		if err != nil {
			return err
		}
		ranGen, g.early = gen, w.p.seq.CommittedUpTo() < g.dependsOn
	} else if err := w.p.seq.WaitCommitted(ctx, g.dependsOn); err != nil {
		return err
	}
	gen := w.p.seq.Generation()
	if g.early {
		w.p.counts.earlyStarts.Add(1)
	}
	g.sqlEvents = 0
	if err := w.runBody(ctx, g, lead, body); err != nil {
		return err
	}
	if tail != nil {
		w.p.counts.headStarts.Add(1)
		w.p.counts.waiting.Add(1)
		err := w.p.seq.WaitRanOrAbort(ctx, g.dependsOn, gen)
		w.p.counts.waiting.Add(-1)
		if err != nil {
			return err
		}
		if err := w.runBody(ctx, g, nil, tail); err != nil {
			return err
		}
	}
	last := g.txns[len(g.txns)-1]
	if chain {
		w.p.seq.Ran(g.first, g.last())
	}
	w.p.counts.waiting.Add(1)
	after, err := w.p.seq.WaitTurn(ctx, g.first, gen, chain)
	w.p.counts.waiting.Add(-1)
	if err != nil {
		return err
	}
	if g.early && !w.p.seq.RanSince(ranGen, g.dependsOn) {
		// A group it started on rolled back: its body may have run on
		// rows without that group's changes.
		return sequencer.ErrAborted{Until: g.dependsOn}
	}
	commit := w.p.checkpointSQL(g) + ";\nCOMMIT"
	if after != 0 {
		commit = target.TurnWaitSQL(after, g.first) + ";\n" + commit
	}
	if chain {
		w.p.seq.Sending(g.first, g.last())
	}
	runCtx := ctx
	if chain {
		c, cancel := graceContext(ctx, w.p.cfg.LockWait+time.Second)
		defer cancel()
		runCtx = c
	}
	if err := w.sess.Run(runCtx, commit); err != nil {
		if after != 0 && target.IsServerError(err) && (target.IsTurnLost(err) || isRetryable(err)) {
			// The group before rolled back (or was slow to commit, or
			// needs a lock this one holds): nothing was committed. Run
			// again once it has committed.
			return sequencer.ErrAborted{Until: g.first - 1}
		}
		if target.IsServerError(err) {
			return w.p.applyError(last, nil, fmt.Errorf("%w: %w", errCommitRefused, err))
		}
		// The commit may or may not have happened: the checkpoint on the
		// target says which, and --resume reads it.
		w.p.commitUncertain(g)
		return w.p.applyError(last, nil, fmt.Errorf("%w; --resume reads the checkpoint to find out: %w", errCommitUnknown, err))
	}
	if after != 0 {
		w.p.counts.chained.Add(1)
	}
	w.p.committed(g)
	return nil
}

// runBody sends lead and the statements that apply txns (g's
// transactions, or a part of them) on the session.
func (w *worker) runBody(ctx context.Context, g *group, lead []sqlgen.Stmt, txns []*txn.Txn) error {
	// The statements are made once the groups before have run: a DDL
	// among them may change the tables they read.
	stmts, format, err := w.statements(ctx, g, txns)
	if err != nil {
		return err
	}
	g.sqlEvents += sqlgen.SQLRowEvents(stmts)
	stmts = append(lead, stmts...)
	w.p.bodies.start(g.first)
	if g.split {
		err = w.stmtError(w.sess.ExecEach(ctx, stmts))
	} else {
		err = w.execJoined(ctx, stmts)
	}
	w.p.bodies.end(g.first)
	if err != nil {
		return err
	}
	w.sess.SetFormat(format)
	return nil
}

// earlyStart reports whether g may run its body once the groups it
// depends on have run theirs, before they commit (see the sequencer's
// "Early start"): with chained commits, for groups of row events applied
// in one target transaction that no attempt has failed. A group it
// depends on then holds its row locks until it commits, and the server
// holds g's statements on them until it has; should it roll back
// instead, g runs again (Sequencer.RanSince). Statement groups, DDL and
// the transactions applied alone wait for every commit before them, and
// so does every group when the SQL apply path fires the target's
// triggers: a trigger may read rows without locking them, and would then
// not see what the group before changed.
func (p *Pipeline) earlyStart(g *group) bool {
	if !p.cfg.ChainCommits || g.late || g.statement || g.ddl || g.solo != "" || g.stream != nil {
		return false
	}
	if p.deps.Gen != nil {
		if applySQL, triggersFire := p.deps.Gen.Modes(); applySQL && triggersFire {
			return false
		}
	}
	return true
}

// graceContext returns a context that ends d after ctx ends.
func graceContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(d, cancel)
		context.AfterFunc(gctx, func() { timer.Stop() })
	})
	return gctx, func() { stop(); cancel() }
}

// turnWindow returns the ticket that must be committed before the group
// starting at first takes its turn slot: the groups that used the slot
// before, and those chained on them, hold at most 2*groupTxns tickets from
// first-TurnSlots on.
func turnWindow(first uint64, groupTxns int) uint64 {
	span := 2 * uint64(max(groupTxns, 1))
	if span >= target.TurnSlots {
		return first - 1 // groups too large to share the slots: one at a time
	}
	reach := target.TurnSlots - span
	if first <= reach {
		return 0
	}
	return first - reach
}

// applyDDL applies a DDL transaction (a standalone DDL statement, or a
// group holding one and the rows it wrote: CREATE TABLE ... SELECT in row
// format), bracketed by checkpoint marks because DDL commits implicitly
// (see target.CheckpointSchema). The mark before it holds a fingerprint of the
// objects it changes: a resumed run that finds the mark (the DDL may or
// may not have run) takes the fingerprint again to tell, and never runs a
// DDL a second time.
func (w *worker) applyDDL(ctx context.Context, g *group) error {
	t := g.txns[0]
	if err := w.p.seq.WaitCommitted(ctx, g.first-1); err != nil {
		return err
	}
	q, rowsOnly, skip, err := w.settleDDL(ctx, g)
	switch {
	case err != nil:
		return err
	case skip:
		return w.skipAppliedDDL(ctx, g)
	}
	if !rowsOnly {
		if err := w.markDDL(ctx, t, q, g.solo); err != nil {
			return err
		}
	}
	if err := w.execDDL(ctx, t, q, rowsOnly); err != nil {
		return err
	}
	logged, err := w.ddlLogged(ctx, t)
	if err != nil {
		return w.p.applyError(t, nil, err)
	}
	commit := w.p.checkpointSQL(g) + ";\nCOMMIT"
	var split error
	switch logged {
	case notLogged:
		err = w.sess.Run(ctx, commit)
	case loggedStatements:
		// Logged as it ran: a DDL that does not commit (CREATE
		// TEMPORARY TABLE ... ENGINE=Aria, say) leaves a transaction
		// open, in which sql_log_bin cannot change. Commit it first.
		if split, err = w.commitRest(ctx, t, false); err == nil {
			err = w.execUnlogged(ctx, commit)
		}
	default:
		err = w.execUnlogged(ctx, commit)
	}
	if err != nil {
		if !target.IsServerError(err) {
			w.p.commitUncertain(g)
		}
		return w.p.applyError(t, nil, fmt.Errorf("record DDL end: %w", err))
	}
	if split != nil {
		return w.p.stopAfter(g, &AppliedError{Start: t.Start, GTID: t.GTID.String(), Err: split})
	}
	w.p.committed(g)
	return nil
}

// ddlLogged returns how the target logged the DDL transaction t, with
// source GTIDs kept: loggedStatements when it logged t under its GTID as
// it ran (the checkpoint then commits out of the binlog), notLogged when
// it did not: a DDL that does not commit (CREATE or DROP TEMPORARY TABLE
// ... ENGINE=InnoDB) is then logged, in MIXED or STATEMENT format, at the
// commit of the transaction it opened, which the checkpoint joins under
// t's GTID (sql_log_bin cannot change inside it); or the target did not
// log it at all (a temporary table in ROW format), and the checkpoint
// takes t's GTID instead of nothing. notChecked: source GTIDs not kept,
// not MariaDB, or row events after the DDL (CREATE TABLE ... SELECT),
// which commit with a checkpoint out of the binlog, as before.
func (w *worker) ddlLogged(ctx context.Context, t *txn.Txn) (loggedAs, error) {
	if !w.p.cfg.KeepGTIDs || t.GTID.IsZero() || hasRowEvents(t) || w.sess.Conn() == nil {
		return notChecked, nil
	}
	last, ok, err := w.lastGTID(ctx)
	switch {
	case err != nil || !ok:
		return notChecked, err
	case last == t.GTID.String():
		return loggedStatements, nil
	}
	return notLogged, nil
}

// settleDDL returns the DDL statement of g's transaction and, when an
// earlier run left it pending, what became of it: skip when it ran,
// rowsOnly when it is CREATE TABLE ... SELECT whose CREATE ran and whose
// rows (committed with the checkpoint) did not.
func (w *worker) settleDDL(ctx context.Context, g *group) (q *txn.Event, rowsOnly, skip bool, err error) {
	t := g.txns[0]
	if q = ddlEvent(t); q == nil {
		return nil, false, false, w.p.applyError(t, nil, errors.New("a DDL transaction without its statement"))
	}
	p := w.p.takePending(t)
	if p == nil {
		return q, false, false, nil
	}
	if logged, err := w.pendingLogged(ctx, t); err != nil || logged {
		// The target's binlog holds it: it committed (a DDL is logged
		// as it commits, whole), and run again it would be logged twice.
		if err == nil {
			err = w.loggedCreateMissing(ctx, t, q)
		}
		if err == nil {
			w.p.logf("DDL at %s: the target's binlog holds its GTID %s: the earlier run committed it, not run again", t.Start, t.GTID)
		}
		return q, false, err == nil, err
	}
	if w.p.cfg.Uncertain == "" && w.rerunnable(t, q) {
		// CREATE OR REPLACE TABLE drops the table, then creates it (in
		// two steps before MariaDB 11.2): cut between them, the table is
		// gone, which the fingerprint reads as "ran"; cut after the
		// CREATE of a CREATE OR REPLACE TABLE ... SELECT logged in row
		// format, the new table is there without its rows (they commit
		// with the checkpoint, or, in a non-transactional table, some of
		// them may be there); and a table the server shows no identity
		// of (MyISAM, Aria) may look the same replaced. Run again on the
		// state the transactions before it left, it makes the same
		// table, with its rows, whether or not the earlier run did it, in
		// part or whole.
		w.p.logf("DDL at %s: CREATE OR REPLACE TABLE, which the earlier run may have run in part or whole: running it again "+
			"(it makes the same table either way)", t.Start)
		return q, false, false, nil
	}
	applied, err := w.ddlApplied(ctx, t, q, p)
	switch {
	case err != nil:
		return nil, false, false, err
	case applied && hasRowEvents(t) && g.solo != "":
		return nil, false, false, &UncertainError{Start: t.Start, GTID: t.GTID.String(),
			What: "its DDL ran before the stop, and the rows it writes go to non-transactional tables, which may hold some of them: " + g.solo +
				"; if they hold all of them, --uncertain applied; if not, drop the table it created, then --uncertain not-applied " +
				"(which creates it again with its rows)"}
	case applied && !hasRowEvents(t) && w.p.cfg.Uncertain == "":
		// A CREATE TABLE ... SELECT logged as a statement is one
		// statement, atomic only in a transactional engine: cut into a
		// MyISAM or Aria table, it leaves the table created with some of
		// its rows, which the fingerprint reads as "ran" (unless the
		// operator said what happened: --uncertain).
		if what, err := w.partialCreateSelect(ctx, t, q); err != nil || what != "" {
			if err != nil {
				return nil, false, false, err
			}
			return nil, false, false, &UncertainError{Start: t.Start, GTID: t.GTID.String(), What: what}
		}
	case applied && hasRowEvents(t) && w.stageFor(t, q) == nil:
		// CREATE TABLE ... SELECT: the table was created, its rows
		// were not committed (they commit with the checkpoint). Staged
		// (ctas.go), it ran whole.
		w.p.logf("DDL at %s: applying the rows it writes", t.Start)
		return q, true, false, nil
	}
	return q, false, applied, nil
}

// pendingLogged reports whether, keeping the source's GTIDs, the target's
// binlog holds the GTID of t, a transaction an earlier run left pending.
// When that cannot be told (target.ErrLoggedUnknown), the operator's
// --uncertain settles it, and without it the outcome is unknown.
func (w *worker) pendingLogged(ctx context.Context, t *txn.Txn) (bool, error) {
	if !w.p.cfg.KeepGTIDs || t.GTID.IsZero() || w.sess.Conn() == nil {
		return false, nil
	}
	logged, err := target.LoggedGTID(ctx, w.sess.Conn(), t.GTID.String())
	switch {
	case errors.Is(err, target.ErrLoggedUnknown) && w.p.cfg.Uncertain != "":
		w.p.logf("DDL at %s: %v: settled by --uncertain %s", t.Start, err, w.p.cfg.Uncertain)
		return false, nil
	case errors.Is(err, target.ErrLoggedUnknown):
		return false, &UncertainError{Start: t.Start, GTID: t.GTID.String(),
			What: "a DDL the earlier run stopped while applying, keeping the source's GTIDs: " + err.Error()}
	case err != nil:
		return false, w.p.applyError(t, nil, err)
	}
	return logged, nil
}

// loggedCreateMissing returns an error when the pending DDL q of t, whose
// GTID the target's binlog holds, is CREATE [OR REPLACE] TABLE and the
// table is not on the target: the GTID is then not the statement's but
// that of the DROP TABLE the server logs when a CREATE OR REPLACE TABLE
// fails after dropping the table it replaces ("Generated to handle failed
// CREATE OR REPLACE": an earlier run's statement cut by a lost target,
// soak seed 31426). Run again keeping the source's GTIDs, the statement
// would log that GTID twice; skipped, the table would be missing.
func (w *worker) loggedCreateMissing(ctx context.Context, t *txn.Txn, q *txn.Event) error {
	name, _, ok, err := w.createdTable(ctx, q)
	switch {
	case !ok || err == nil:
		return nil
	case !errors.Is(err, schema.ErrNoTable):
		return w.p.applyError(t, nil, fmt.Errorf("read the table the pending DDL creates: %w", err))
	}
	return w.p.applyError(t, nil, fmt.Errorf("%w: the target's binlog holds this transaction's GTID %s, but the table %s.%s it creates "+
		"is not on the target: the earlier run's statement failed after dropping the table it replaces, and the target logged that "+
		"DROP under the GTID (\"Generated to handle failed CREATE OR REPLACE\"). Run again keeping the source's GTIDs, the statement "+
		"would log the GTID twice. Resume with --resume --target-gtids own (it runs again, logged with a GTID of the target's), "+
		"or replay again from the base backup", ErrLoggedCreateMissing, t.GTID, name.Schema, name.Table))
}

// createdTable reads afresh, when the DDL q is CREATE [OR REPLACE] TABLE
// (ok), the definition of the table it creates as the target has it now;
// err is the schema cache's (wrapping schema.ErrNoTable for a missing
// table).
func (w *worker) createdTable(ctx context.Context, q *txn.Event) (name schema.Name, def *schema.Table, ok bool, err error) {
	if name, _, _, ok = schema.CreateTableName(q.Query.SQL, q.Query.Schema); !ok {
		return name, nil, false, nil
	}
	w.p.deps.Tables.Invalidate(name.Schema, name.Table)
	def, err = w.p.deps.Tables.Table(ctx, name.Schema, name.Table)
	return name, def, true, err
}

// ErrLoggedCreateMissing marks the stop before a pending CREATE [OR
// REPLACE] TABLE whose GTID the target's binlog holds while the table is
// missing (see loggedCreateMissing).
var ErrLoggedCreateMissing = errors.New("a pending CREATE TABLE's GTID is logged, its table missing")

// partialCreateSelect returns, when the DDL q of t is CREATE TABLE ...
// SELECT and the table it made is in an engine without transactions, why
// the rows it holds may be only some of them (the statement ran, but may
// have been cut); "" otherwise.
func (w *worker) partialCreateSelect(ctx context.Context, t *txn.Txn, q *txn.Event) (string, error) {
	if !schema.IsCreateSelect(q.Query.SQL) {
		return "", nil
	}
	name, def, ok, err := w.createdTable(ctx, q)
	if !ok {
		return "", nil
	}
	if err != nil {
		return "", w.p.applyError(t, nil, fmt.Errorf("read the table the pending CREATE TABLE ... SELECT made: %w", err))
	}
	if def == nil || def.Transactional {
		return "", nil
	}
	return fmt.Sprintf("its CREATE TABLE ... SELECT ran before the stop, into %s.%s, a %s table, which has no transactions: "+
		"the table may hold only some of the rows the SELECT read. If it does, drop the table before --uncertain not-applied "+
		"(which runs the statement again)", name.Schema, name.Table, def.Engine), nil
}

// rerunnable reports whether the DDL q of t, left pending by an earlier
// run, is run again on resume whatever became of it (settleDDL): CREATE OR
// REPLACE TABLE, logged as a statement or with its rows. Not with its rows
// when source GTIDs are kept: they then go through a staging table
// (ctas.go), settled from the fingerprint.
func (w *worker) rerunnable(t *txn.Txn, q *txn.Event) bool {
	return schema.IsCreateOrReplaceTable(q.Query.SQL) && (!hasRowEvents(t) || !w.p.cfg.KeepGTIDs)
}

// markDDL commits the mark before the DDL statement q of t, with the
// fingerprint of the objects it changes. A fingerprint that cannot tell
// whether the DDL ran is marked ambiguous (a resume then refuses it),
// unless the DDL is run again on resume whatever became of it and source
// GTIDs are not kept (run again after the earlier run committed it, it
// would be logged under its GTID a second time).
func (w *worker) markDDL(ctx context.Context, t *txn.Txn, q *txn.Event, solo string) error {
	print, err := schema.Fingerprint(ctx, w.sess.Conn(), q.Query.SQL, q.Query.Schema)
	if err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("read the state of the objects the DDL changes: %w", err))
	}
	mark := print.Digest
	if print.Ambiguous != "" && (w.p.cfg.KeepGTIDs || !w.rerunnable(t, q)) {
		mark = target.AmbiguousPrint + print.Ambiguous
	}
	if err := w.execUnlogged(ctx, w.p.pendingSQL(t, target.StateDDL, mark, solo)+";\nCOMMIT"); err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("record DDL start: %w", err))
	}
	return nil
}

// execDDL sends the DDL statement q of t (unless rowsOnly), then the rows
// t holds after it, if any, checked against the table it made. With source
// GTIDs kept, the GTID statement goes first.
func (w *worker) execDDL(ctx context.Context, t *txn.Txn, q *txn.Event, rowsOnly bool) (err error) {
	if s := w.stageFor(t, q); s != nil {
		return w.execStaged(ctx, t, s)
	}
	if !rowsOnly && schema.ChecksPartitionRows(q.Query.SQL) {
		// It would wait on the session's own locks with autocommit off
		// (see schema.ChecksPartitionRows); it commits on its own anyway.
		if err := w.sess.Run(ctx, "SET SESSION autocommit=1"); err != nil {
			return w.p.applyError(t, nil, fmt.Errorf("run the DDL with autocommit: %w", err))
		}
		defer func() {
			if rerr := w.sess.Run(context.WithoutCancel(ctx), "SET SESSION autocommit=0"); rerr != nil && err == nil {
				err = w.p.applyError(t, nil, fmt.Errorf("set autocommit off again after the DDL: %w", rerr))
			}
		}()
	}
	statement, rows := splitDDL(t, q)
	var body []sqlgen.Stmt
	if w.p.cfg.KeepGTIDs {
		body = append(body, sqlgen.Stmt{SQL: target.GTIDStatement(t.GTID), Txn: t})
	}
	if !rowsOnly {
		s, err := w.bodyOf(ctx, t, statement)
		if err != nil {
			return err
		}
		body = append(body, s...)
	}
	if err := w.exec(ctx, body); err != nil {
		return err
	}
	if rows == nil {
		return nil
	}
	w.p.invalidateTables(statement)
	return w.execPiece(ctx, t, rows)
}

// execPiece sends the statements that apply part, a part of t (a piece
// of a streamed transaction, the rows after a DDL), the format
// description first where the session lacks it.
func (w *worker) execPiece(ctx context.Context, t, part *txn.Txn) error {
	body, err := w.bodyOf(ctx, t, part)
	if err != nil {
		return err
	}
	if part.Format != nil && part.Format != w.sess.Format() && w.p.needsFormat(part) {
		body = append([]sqlgen.Stmt{{Events: sqlgen.FormatStatement(part.Format).Events, Txn: t}}, body...)
	}
	if err := w.exec(ctx, body); err != nil {
		return err
	}
	if hasRowEvents(part) {
		w.sess.SetFormat(part.Format)
	}
	return nil
}

// bodyOf returns the statements that apply part, a part of t, marked as
// t's.
func (w *worker) bodyOf(ctx context.Context, t, part *txn.Txn) ([]sqlgen.Stmt, error) {
	body, err := w.p.deps.Gen.AppendBody(ctx, nil, part)
	if err != nil {
		return nil, w.p.applyError(t, sqlgen.FailedEvent(err), err)
	}
	for i := range body {
		body[i].Txn = t
	}
	return body, nil
}

// splitDDL splits the DDL transaction t at its DDL statement q: the events
// up to q, and those after it (nil when there are none: a standalone DDL).
// Both are shallow copies of t.
func splitDDL(t *txn.Txn, q *txn.Event) (statement, rest *txn.Txn) {
	for i := range t.Events {
		if &t.Events[i] != q {
			continue
		}
		head := *t
		head.Events = t.Events[:i+1]
		if i+1 == len(t.Events) {
			return &head, nil
		}
		tail := *t
		tail.Events = t.Events[i+1:]
		return &head, &tail
	}
	return t, nil
}

// ddlEvent returns the query event of t that is its DDL statement: the
// only query of a standalone one, the CREATE of a CREATE TABLE ... SELECT.
func ddlEvent(t *txn.Txn) *txn.Event {
	var first *txn.Event
	for i := range t.Events {
		e := &t.Events[i]
		if e.Kind != txn.EventQuery {
			continue
		}
		if t.Kind == txn.KindDDL || schema.IsDDL(e.Query.SQL) {
			return e
		}
		if first == nil {
			first = e
		}
	}
	return first
}

// execUnlogged runs sql (statements ending in a COMMIT) out of the
// target's binlog when source GTIDs are kept (target.Session.RunUnlogged).
func (w *worker) execUnlogged(ctx context.Context, sql string) error {
	return w.sess.RunUnlogged(ctx, sql)
}

// exec sends stmts on the worker's session (target.Session.Exec); an error
// about one statement names its transaction, event and statement.
func (w *worker) exec(ctx context.Context, stmts []sqlgen.Stmt) error {
	return w.stmtError(w.sess.Exec(ctx, stmts))
}

// execJoined is exec with the SQL apply path's statements of several row
// events and transactions sharing packets (target.Session.ExecJoined): an
// error may then wrap sqlgen.ErrRepack.
func (w *worker) execJoined(ctx context.Context, stmts []sqlgen.Stmt) error {
	return w.stmtError(w.sess.ExecJoined(ctx, stmts))
}

// stmtError returns err, an error of the worker's session, naming the
// transaction, event and statement it is about.
func (w *worker) stmtError(err error) error {
	var se *target.StmtError
	if errors.As(err, &se) && se.Stmt != nil && se.Stmt.Txn != nil {
		return w.p.applyError(se.Stmt.Txn, se.Stmt, se.Err)
	}
	return err
}

// rollback ends the open target transaction, if any. Errors are ignored:
// a broken connection rolls back on its own.
func (w *worker) rollback() { w.sess.Rollback() }

func hasRowEvents(t *txn.Txn) bool {
	for i := range t.Events {
		if k := t.Events[i].Kind; k == txn.EventRows || k == txn.EventTableMap {
			return true
		}
	}
	return false
}
