package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/binlog-replay/binlog-replay/internal/target"

	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Transactions applied once, alone.
//
// A write to a non-transactional table (MyISAM, Aria, MEMORY, CSV...)
// survives a ROLLBACK. A transaction holding one must therefore never be
// rolled back and sent again, as a group is after a lock wait, a deadlock,
// an order-monitor abort, the one-at-a-time fallback or a lost connection:
// that would apply its writes twice. Such a transaction (a "solo" one):
//   - runs in a group of its own, once every transaction before it has
//     committed, and every later one waits for it (a barrier);
//   - is bracketed on the target: a mark naming it (state 'nontrans') is
//     committed before it is sent, and the checkpoint moves past it with
//     its COMMIT. If anything fails once the mark is written, the replay
//     stops with an *UncertainError naming it, and a resumed run finding
//     the mark refuses to go on until the operator says what happened
//     (Options.Uncertain): the transaction is never applied twice, nor
//     skipped, without that word.
//
// The same goes for a statement the source logged with an error code (it
// failed part way, its partial effects logged): the target must fail the
// same way, and what it changed before failing stays.

// soloReason returns why t must be applied alone and at most once, or ""
// (see above). The target's engines come from the schema cache; a table
// the target lacks is left to the server to refuse.
func (p *Pipeline) soloReason(ctx context.Context, t *txn.Txn) (string, error) {
	if writesNothing(t) {
		// Nothing of it is left to apply (the filters left out its
		// statements and rows): its commit holds the checkpoint alone,
		// so its outcome is never unknown (soak seed 123082).
		return "", nil
	}
	if t.Kind == txn.KindDDL && !isDDLTxn(t) {
		return "it is a statement the source logged on its own, without BEGIN (auto-committed, " +
			"as old servers log non-transactional tables' statements)", nil
	}
	for i := range t.Events {
		if q := t.Events[i].Query; q != nil && q.ErrorCode != 0 {
			return fmt.Sprintf("its statement at %s failed part way on the source (error %d), and must fail the same way",
				t.Events[i].Pos, q.ErrorCode), nil
		}
	}
	var tables, nonTrans []string
	for i := range t.Events {
		tm := t.Events[i].TableMap
		if tm == nil {
			continue
		}
		name := tm.Schema + "." + tm.Table
		if slices.Contains(tables, name) {
			continue
		}
		tables = append(tables, name)
		tbl, err := p.deps.Tables.Shape(ctx, tm.Schema, tm.Table)
		switch {
		case errors.Is(err, schema.ErrNoTable):
			continue
		case err != nil:
			return "", fmt.Errorf("read the engine of %s on the target: %w", name, err)
		case tbl.Sequence:
			nonTrans = append(nonTrans, fmt.Sprintf("%s (a sequence on the target)", name))
		case !tbl.Transactional:
			nonTrans = append(nonTrans, fmt.Sprintf("%s (%s on the target)", name, tbl.Engine))
		}
	}
	switch {
	case len(nonTrans) > 0:
		return "it writes non-transactional tables: " + strings.Join(nonTrans, ", "), nil
	case t.RolledBack:
		return "the source rolled it back after it had written non-transactional tables" + tableList(tables) +
			statementList(t, p.cfg.LogValues), nil
	case t.NonTransactional:
		return "the binlog marks it as writing non-transactional tables" + tableList(tables) +
			statementList(t, p.cfg.LogValues), nil
	}
	return "", nil
}

// writesNothing reports whether t holds no row event and no statement
// but BEGIN and COMMIT.
func writesNothing(t *txn.Txn) bool {
	for i := range t.Events {
		e := &t.Events[i]
		switch {
		case e.Kind == txn.EventRows:
			return false
		case e.Kind == txn.EventQuery && (e.Query == nil || !beginOrCommit(string(e.Query.SQL))):
			return false
		}
	}
	return true
}

// statementList lists the statements of t (values hidden unless
// logValues), for an operator to see which tables they write: a
// statement-format transaction has no table maps to name them. Tables
// that triggers write are not named by the statements.
func statementList(t *txn.Txn, logValues bool) string {
	const maxLen = 160
	var stmts []string
	for i := range t.Events {
		q := t.Events[i].Query
		if q == nil {
			continue
		}
		sql := strings.TrimSpace(string(q.SQL))
		if beginOrCommit(sql) {
			continue
		}
		if !logValues {
			sql = redact.SQL(sql)
		}
		if len(sql) > maxLen {
			n := maxLen
			for n > 0 && !utf8.RuneStart(sql[n]) {
				n--
			}
			sql = sql[:n] + "..."
		}
		if q.Schema != "" {
			sql = "(in " + q.Schema + ") " + sql
		}
		stmts = append(stmts, sql)
	}
	if len(stmts) == 0 {
		return ""
	}
	return "; its statements: " + strings.Join(stmts, "; ") + " (and the tables their triggers write, if any)"
}

func tableList(tables []string) string {
	if len(tables) == 0 {
		return ""
	}
	return " (" + strings.Join(tables, ", ") + ")"
}

// applySolo applies g, one transaction that must be applied once and
// alone (see above).
func (w *worker) applySolo(ctx context.Context, g *group) error {
	t := g.txns[0]
	if err := w.p.seq.WaitCommitted(ctx, g.first-1); err != nil {
		return err
	}
	if p := w.p.takePending(t); p != nil && w.p.cfg.Uncertain == OutcomeApplied {
		return w.skipApplied(ctx, g)
	}
	if err := w.checkSequenceSplit(ctx, t); err != nil {
		return err
	}
	if err := w.execUnlogged(ctx, w.p.pendingSQL(t, target.StateNonTrans, "", g.solo)+";\nCOMMIT"); err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("record the start of a transaction that must not be applied twice: %w", err))
	}
	uncertain := func(err error) error {
		return &UncertainError{Start: t.Start, GTID: t.GTID.String(), What: g.solo, Err: err}
	}
	stmts, format, err := w.statements(ctx, g, g.txns)
	if err != nil {
		w.rollback()
		return uncertain(err)
	}
	lg, err := w.startSoloLog(ctx, t)
	if err != nil {
		w.rollback()
		return uncertain(err)
	}
	err = w.exec(ctx, append(w.lead(g, false), stmts...))
	if lg.autocommit {
		if rerr := w.sess.Run(context.WithoutCancel(ctx), "SET SESSION autocommit=0"); rerr != nil && err == nil {
			err = fmt.Errorf("set autocommit off again: %w", rerr)
		}
	}
	if err != nil {
		w.rollback()
		return uncertain(err)
	}
	w.sess.SetFormat(format)
	last := g.txns[len(g.txns)-1]
	commit := w.p.checkpointSQL(g) + ";\nCOMMIT"
	logged, err := w.loggedDuring(ctx, t, lg)
	if err != nil {
		w.rollback()
		return uncertain(err)
	}
	var split error
	switch {
	case t.RolledBack || logged == loggedRows:
		// Rolled back on the source: the transactional changes go, the
		// others stay, as there. Logged: the server logged the
		// transaction's writes, under its source GTID, as each statement
		// ended (non-transactional tables, row format), and the open
		// transaction holds nothing of the source's (loggedDuring);
		// logged, the checkpoint's commit would take a GTID of the
		// target's own, one a later source transaction then finds taken.
		// Either way: end the open transaction, and commit the checkpoint
		// out of the binlog.
		if err := w.sess.Run(ctx, "ROLLBACK"); err != nil {
			return uncertain(fmt.Errorf("end the transaction before its checkpoint: %w", err))
		}
		err = w.execUnlogged(ctx, commit)
	case logged == loggedStatements || logged == loggedSplit:
		// The server logged the transaction, under its source GTID, as a
		// statement ended; what the open transaction may still hold
		// cannot be seen: commit it alone (it logs nothing, usually),
		// then the checkpoint out of the binlog. Logged in two parts or
		// more, the later ones under GTIDs of the target's own: say so
		// once the checkpoint is written.
		if split, err = w.commitRest(ctx, t, logged == loggedSplit); err != nil {
			return uncertain(err)
		}
		err = w.execUnlogged(ctx, commit)
	default:
		err = w.sess.Run(ctx, commit)
	}
	if err != nil {
		if !target.IsServerError(err) {
			w.p.commitUncertain(g)
		}
		return w.p.applyError(last, nil, fmt.Errorf("%w; --resume reads the checkpoint to find out: %w", errCommitUnknown, err))
	}
	if split != nil {
		return w.p.stopAfter(g, &AppliedError{Start: t.Start, GTID: t.GTID.String(), Err: split})
	}
	w.p.committed(g)
	return nil
}

// checkSequenceSplit refuses, with source GTIDs kept, a transaction that
// writes a sequence and something else, before anything of it is sent: a
// target that logs its binlog logs a sequence's change as a transaction of
// its own, whatever the transaction around it (row format, autocommit or
// not), so the rest would be logged under a GTID of the target's own,
// which a later source transaction then finds taken. A transaction that
// only changes sequences is logged whole under its source GTID.
func (w *worker) checkSequenceSplit(ctx context.Context, t *txn.Txn) error {
	if !w.p.cfg.KeepGTIDs || t.GTID.IsZero() {
		return nil
	}
	var seqs []string
	other := hasStatements(t)
	for i := range t.Events {
		tm := t.Events[i].TableMap
		if tm == nil {
			continue
		}
		name := tm.Schema + "." + tm.Table
		tbl, err := w.p.deps.Tables.Shape(ctx, tm.Schema, tm.Table)
		switch {
		case err != nil || tbl == nil || !tbl.Sequence:
			other = true
		case !slices.Contains(seqs, name):
			seqs = append(seqs, name)
		}
	}
	if len(seqs) == 0 || !other {
		return nil
	}
	return w.p.applyError(t, nil, fmt.Errorf("it changes the sequence %s and other tables, and the target, which logs "+
		"its binlog, logs a sequence's change as a transaction of its own: the rest of it would be logged under a GTID "+
		"of the target's own, not its source GTID %s, which a later source transaction would then find taken. Nothing "+
		"of it was applied: to go on, --resume --target-gtids own", strings.Join(seqs, ", "), t.GTID))
}

// soloLog is how the body of a solo transaction is logged by a target
// that keeps the source's GTIDs (see startSoloLog).
type soloLog struct {
	// on: source GTIDs are kept on a MariaDB target; before is the GTID
	// the session last logged before the body (@@last_gtid).
	on     bool
	before string
	// autocommit: the body runs with autocommit on (turned off after it).
	autocommit bool
}

// startSoloLog prepares the session for the body of the solo transaction
// t, with source GTIDs kept. The server logs a write to a
// non-transactional table as its statement ends when nothing
// transactional is pending in the transaction (always, in row format):
// the target must log t as the source did, one group under t's GTID
// (statements are logged as statements: logStatementsAsSource), and the
// replay must know when it did not.
//   - A transaction that is one statement runs with autocommit on, as the
//     source ran it: its writes of both kinds are logged together.
//   - The GTID the session last logged is read first, to tell afterwards
//     whether the body logged anything (loggedDuring).
func (w *worker) startSoloLog(ctx context.Context, t *txn.Txn) (soloLog, error) {
	var lg soloLog
	if !w.p.cfg.KeepGTIDs || t.GTID.IsZero() || w.sess.Conn() == nil {
		return lg, nil
	}
	before, ok, err := w.lastGTID(ctx)
	if err != nil || !ok {
		return lg, err
	}
	lg.on, lg.before = true, before
	if oneStatement(t) && !t.RolledBack {
		if err := w.sess.Run(ctx, "SET SESSION autocommit=1"); err != nil {
			return soloLog{}, fmt.Errorf("run a one-statement transaction with autocommit: %w", err)
		}
		lg.autocommit = true
	}
	return lg, nil
}

// logStatementsAsSource sets, with source GTIDs kept, the statement
// session (which applies the source's statements, and holds their
// temporary tables) to log them in STATEMENT format, as the source logged
// them, from its start: in ROW format (and in MIXED once a row event was
// applied while temporary tables are open, when the server no longer lets
// the session switch), the target logs a statement's non-transactional
// writes as it ends, apart from the transaction's others, which its
// commit then logs under a GTID of the target's own (see startSoloLog).
// Row events are logged as rows whatever the format. Not at the
// READ COMMITTED or READ UNCOMMITTED isolation levels, at which InnoDB
// refuses statement logging (the source, which logged statements, did
// not run at them): the format then stays, and loggedDuring tells what
// came of it (logged when first is set: once a run).
func (w *worker) logStatementsAsSource(ctx context.Context, first bool) error {
	conn := w.sess.Conn()
	if !w.p.cfg.KeepGTIDs || conn == nil {
		return nil
	}
	var isolation string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.tx_isolation").Scan(&isolation); err != nil {
		return fmt.Errorf("read the statement session's isolation level: %w", err)
	}
	if strings.HasPrefix(strings.ToUpper(isolation), "READ-") {
		if !first {
			return nil
		}
		w.p.logf("the statement session runs at %s: the source's statements are logged in the target's binlog format", isolation)
		return nil
	}
	if err := w.sess.Run(ctx, "SET SESSION binlog_format='STATEMENT'"); err != nil {
		return fmt.Errorf("log the source's statements as statements: %w", err)
	}
	return nil
}

// hasStatements reports whether t holds a statement other than its BEGIN
// and COMMIT.
func hasStatements(t *txn.Txn) bool {
	for i := range t.Events {
		if q := t.Events[i].Query; q != nil && !beginOrCommit(string(q.SQL)) {
			return true
		}
	}
	return false
}

// oneStatement reports whether t is one statement (between its BEGIN and
// COMMIT, if any), with no row events.
func oneStatement(t *txn.Txn) bool {
	n := 0
	for i := range t.Events {
		e := &t.Events[i]
		switch {
		case e.Kind == txn.EventRows || e.TableMap != nil:
			return false
		case e.Query != nil && !beginOrCommit(string(e.Query.SQL)):
			n++
		}
	}
	return n == 1
}

// loggedAs is how the target logged a transaction before its COMMIT (see
// loggedDuring).
type loggedAs int

const (
	notLogged        loggedAs = iota
	loggedRows                // its rows, of non-transactional tables only, under its GTID
	loggedStatements          // a statement of it, as it ended, under its GTID
	loggedSplit               // two parts or more: the later under GTIDs of the target's own
	notChecked                // not looked at (source GTIDs not kept, not MariaDB): as before
)

// loggedDuring reports what the target logged of t while its body ran
// (startSoloLog read the GTID the session last logged before it):
// nothing (its COMMIT logs it), or t under its GTID, as statements ended
// (non-transactional tables) — loggedRows when t is rows of
// non-transactional tables only (its table maps name no table that is
// transactional on the target, and it holds no statement), so the open
// transaction holds nothing of it; loggedStatements when it may (see
// commitRest) — or, when the session's last GTID is another, t in parts.
func (w *worker) loggedDuring(ctx context.Context, t *txn.Txn, lg soloLog) (loggedAs, error) {
	if !lg.on || t.RolledBack {
		return notLogged, nil
	}
	last, _, err := w.lastGTID(ctx)
	switch {
	case err != nil || last == lg.before:
		return notLogged, err
	case last != t.GTID.String():
		return loggedSplit, nil
	case hasStatements(t):
		return loggedStatements, nil
	}
	for i := range t.Events {
		if tm := t.Events[i].TableMap; tm != nil {
			tbl, err := w.p.deps.Tables.Shape(ctx, tm.Schema, tm.Table)
			if err != nil || tbl == nil || tbl.Transactional {
				return loggedStatements, nil // whatever else it holds, commitRest commits it
			}
		}
	}
	return loggedRows, nil
}

// lastGTID returns the GTID the worker's session last logged
// (@@last_gtid: "" when it logged none); ok is false on a server without
// it (not MariaDB).
func (w *worker) lastGTID(ctx context.Context) (last string, ok bool, err error) {
	if err := w.sess.Conn().QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&last); err != nil {
		if target.IsServerError(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read the GTID the target last logged: %w", err)
	}
	return last, true, nil
}

// commitRest commits what the open transaction holds of t, which the
// target has logged, in part at least, as statements ended (loggedDuring;
// split: in parts already): usually nothing, and the commit logs nothing.
// When t was logged in parts, or the commit logged something (under a
// GTID of the target's own, which a later source transaction will find
// taken), splitErr says so; err is an error of the commit itself.
func (w *worker) commitRest(ctx context.Context, t *txn.Txn, split bool) (splitErr, err error) {
	if err := w.sess.Run(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit the transaction the target logged as a statement ended: %w", err)
	}
	last, _, err := w.lastGTID(ctx)
	if err != nil || (last == t.GTID.String() && !split) {
		return nil, err
	}
	return fmt.Errorf("the target logged this transaction in parts: under its source GTID %s as a statement ended, "+
		"then up to %s, GTIDs of its own, which later source transactions may find taken: in row format, the target "+
		"logs non-transactional writes (a sequence's change too) apart from the others, where the source logged them as one (the replay logs "+
		"the source's statements as statements, unless its sessions run at READ COMMITTED, or tables' engines differ "+
		"from the source's). The transaction and its checkpoint are committed: to go on, --resume --target-gtids own "+
		"(refused where temporary tables are open: then replay again from the base backup with --target-gtids own, "+
		"or at REPEATABLE READ)", t.GTID, last), nil
}

// beginOrCommit reports whether sql is the BEGIN or COMMIT of a group.
func beginOrCommit(sql string) bool {
	sql = strings.TrimSpace(sql)
	return strings.EqualFold(sql, "BEGIN") || strings.EqualFold(sql, "COMMIT")
}
