package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
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
	if err := w.execUnlogged(ctx, w.p.pendingSQL(t, target.StateNonTrans, "", g.solo)+";\nCOMMIT"); err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("record the start of a transaction that must not be applied twice: %w", err))
	}
	uncertain := func(err error) error {
		return &UncertainError{Start: t.Start, GTID: t.GTID.String(), What: g.solo, Err: err}
	}
	stmts, format, err := w.statements(ctx, g)
	if err != nil {
		w.rollback()
		return uncertain(err)
	}
	if err := w.execSolo(ctx, t, append(w.lead(g, false), stmts...)); err != nil {
		w.rollback()
		return uncertain(err)
	}
	w.sess.SetFormat(format)
	last := g.txns[len(g.txns)-1]
	commit := w.p.checkpointSQL(last, w.p.cfg.AppliedBefore+g.last(), g.temps) + ";\nCOMMIT"
	var logged loggedAs
	if !t.RolledBack {
		if logged, err = w.loggedAlready(ctx, t); err != nil {
			w.rollback()
			return uncertain(err)
		}
	}
	var split error
	switch {
	case t.RolledBack || logged == loggedRows:
		// Rolled back on the source: the transactional changes go, the
		// others stay, as there. Logged: the server logged the
		// transaction's writes, under its source GTID, as each statement
		// ended (non-transactional tables, row format), and the open
		// transaction holds nothing of the source's (loggedAlready);
		// logged, the checkpoint's commit would take a GTID of the
		// target's own, one a later source transaction then finds taken.
		// Either way: end the open transaction, and commit the checkpoint
		// out of the binlog.
		if err := w.sess.Run(ctx, "ROLLBACK"); err != nil {
			return uncertain(fmt.Errorf("end the transaction before its checkpoint: %w", err))
		}
		err = w.execUnlogged(ctx, commit)
	case logged == loggedStatements:
		// The server logged the transaction under its source GTID as a
		// statement ended; what the open transaction may still hold (a
		// statement's transactional writes, which the server logs apart
		// when its engines or binlog format differ from the source's)
		// cannot be seen: commit it alone, then the checkpoint out of
		// the binlog. A commit that logged something took a GTID of the
		// target's own: say so once the checkpoint is written.
		if split, err = w.commitRest(ctx, t); err != nil {
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
		w.p.committed(g)
		return &AppliedError{Start: t.Start, GTID: t.GTID.String(), Err: split}
	}
	w.p.committed(g)
	return nil
}

// execSolo sends the statements of the solo transaction t. With source
// GTIDs kept, a transaction that is one statement is run with autocommit
// on, as the source ran it: a statement that writes transactional and
// non-transactional tables (through a trigger, say) is then logged as one
// group, under t's GTID, as on the source; in a transaction, the server
// would log its non-transactional writes (in row format) as the statement
// ends, apart from the others, which its commit logs later under a GTID
// of the target's own (see commitRest). The checkpoint then commits out
// of the binlog (loggedAlready).
func (w *worker) execSolo(ctx context.Context, t *txn.Txn, stmts []sqlgen.Stmt) error {
	if !w.p.cfg.KeepGTIDs || t.GTID.IsZero() || t.RolledBack || !oneStatement(t) {
		return w.exec(ctx, stmts)
	}
	if err := w.sess.Run(ctx, "SET SESSION autocommit=1"); err != nil {
		return fmt.Errorf("run a one-statement transaction with autocommit: %w", err)
	}
	err := w.exec(ctx, stmts)
	if rerr := w.sess.Run(context.WithoutCancel(ctx), "SET SESSION autocommit=0"); rerr != nil && err == nil {
		err = fmt.Errorf("set autocommit off again: %w", rerr)
	}
	return err
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
// loggedAlready).
type loggedAs int

const (
	notLogged        loggedAs = iota
	loggedRows                // its rows, of non-transactional tables only
	loggedStatements          // a statement of it, at the statement's end
)

// loggedAlready reports whether, with source GTIDs kept, the target has
// already logged t under its source GTID: the session's last logged GTID
// (@@last_gtid, MariaDB) is t's, which happens when t writes
// non-transactional tables (the server logs them as each statement ends).
// loggedRows: t is rows of non-transactional tables only (its table maps
// name no table that is transactional on the target, and it holds no
// statement), so the open transaction holds nothing of t's.
// loggedStatements: t holds statements, which may write any table (through
// triggers too): the open transaction may hold more of it (see
// commitRest). A transaction with anything else is left as before: its
// COMMIT logs what it holds.
func (w *worker) loggedAlready(ctx context.Context, t *txn.Txn) (loggedAs, error) {
	conn := w.sess.Conn()
	if !w.p.cfg.KeepGTIDs || t.GTID.IsZero() || conn == nil {
		return notLogged, nil
	}
	rows, statements, transactional := false, false, false
	for i := range t.Events {
		e := &t.Events[i]
		switch {
		case e.Kind == txn.EventRows:
			rows = true
		case e.TableMap != nil:
			tbl, err := w.p.deps.Tables.Shape(ctx, e.TableMap.Schema, e.TableMap.Table)
			if err != nil || tbl == nil || tbl.Transactional {
				transactional = true
			}
		case e.Query != nil && !beginOrCommit(string(e.Query.SQL)):
			statements = true
		}
	}
	if !statements && (!rows || transactional) {
		return notLogged, nil
	}
	last, err := w.lastGTID(ctx)
	switch {
	case err != nil || last != t.GTID.String():
		return notLogged, err
	case statements:
		return loggedStatements, nil
	}
	return loggedRows, nil
}

// lastGTID returns the GTID the worker's session last logged (@@last_gtid),
// "" on a server without it (not MariaDB).
func (w *worker) lastGTID(ctx context.Context) (string, error) {
	var last string
	if err := w.sess.Conn().QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&last); err != nil {
		if target.IsServerError(err) {
			return "", nil
		}
		return "", fmt.Errorf("read the GTID the target last logged: %w", err)
	}
	return last, nil
}

// commitRest commits what the open transaction holds of t, which the
// target has logged under its source GTID (loggedStatements): nothing,
// usually, and the commit logs nothing. When it logged something (the
// target logged t in two parts, the second under a GTID of its own, which
// a later source transaction will find taken), split says so; err is an
// error of the commit itself.
func (w *worker) commitRest(ctx context.Context, t *txn.Txn) (split, err error) {
	if err := w.sess.Run(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit the transaction the target logged as a statement ended: %w", err)
	}
	last, err := w.lastGTID(ctx)
	if err != nil || last == t.GTID.String() {
		return nil, err
	}
	return fmt.Errorf("the target logged this transaction in two parts: its non-transactional writes under the source GTID %s "+
		"as a statement ended, and the rest (transactional writes of the same statements) as %s, a GTID of its own, which a "+
		"later source transaction may find taken; its engines or binlog format differ from the source's, which logged them "+
		"together. The transaction and its checkpoint are committed: to go on, --resume with --target-gtids own, "+
		"or with the target's binlog_format set as the source's", t.GTID, last), nil
}

// beginOrCommit reports whether sql is the BEGIN or COMMIT of a group.
func beginOrCommit(sql string) bool {
	sql = strings.TrimSpace(sql)
	return strings.EqualFold(sql, "BEGIN") || strings.EqualFold(sql, "COMMIT")
}
