package replay

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

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
	// stream, for a transaction read in pieces, brings the pieces after
	// the first (txns[0]); the dispatcher closes it after the last one, or
	// earlier when the reading stops (stream.go).
	stream chan *txn.Txn
}

func (g *group) last() uint64 { return g.first + uint64(len(g.txns)) - 1 }

// worker applies groups on its own target connection.
type worker struct {
	r         *run
	conn      *sql.Conn
	format    *txn.Format // format description installed on conn, if any
	maxPacket int
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
			w.r.busy.Add(1)
			err := w.apply(ctx, g)
			w.r.busy.Add(-1)
			if err != nil {
				return err
			}
		}
	}
}

// apply applies g, retrying on lock conflicts, until it is committed.
func (w *worker) apply(ctx context.Context, g *group) error {
	if g.statement && w != w.r.stmtWorker {
		// Statement groups run alone: once everything before one has
		// committed (and everything after waits for it), the statement
		// session is free. Wait first, lock after: an earlier statement
		// group may still need the session.
		if err := w.r.seq.waitCommitted(ctx, g.first-1); err != nil {
			return err
		}
		w.r.stmtMu.Lock()
		defer w.r.stmtMu.Unlock()
		return w.r.stmtWorker.apply(ctx, g)
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
	seq := w.r.seq
	for attempt := 0; ; attempt++ {
		if err := seq.waitCommitted(ctx, g.dependsOn); err != nil {
			return err
		}
		err := w.applyOnce(ctx, g, seq.generation())
		if err == nil {
			return nil
		}
		w.rollback()
		var aborted errAborted
		switch {
		case errors.As(err, &aborted):
			// An earlier group needs our locks: let it commit first.
			if err := seq.waitCommitted(ctx, aborted.until); err != nil {
				return err
			}
		case isRetryable(err) && attempt < w.r.opts.MaxRetries:
			w.r.retries.Add(1)
			if seq.committedUpTo() == g.first-1 {
				// We are the earliest pending group: whoever holds our
				// locks is a later group waiting for its turn.
				seq.abortLater(g.first)
			} else if err := seq.waitCommitted(ctx, g.first-1); err != nil {
				return err
			}
		case isRetryable(err):
			return fmt.Errorf("gave up after %d retries: %w", attempt, err)
		case len(g.txns) == 1 && g.dependsOn < g.first-1 && (isServerError(err) || isRowsError(err)) && !errors.Is(err, errCommitUnknown):
			// It ran beside earlier transactions its write set said it
			// does not touch, and was refused (a duplicate key, a row
			// not found, a foreign key): had the write set missed a
			// dependency, it would see their rows once they commit. Run
			// it again alone, after all of them.
			w.r.logf("transaction at %s was refused while earlier ones were in flight (%v): applying it again after them",
				g.txns[0].Start, err)
			g.dependsOn = g.first - 1
		case len(g.txns) > 1 && (isServerError(err) || isRowsError(err)) && !errors.Is(err, errCommitUnknown):
			// One of the grouped transactions is refused: apply them one
			// at a time, so that those before it commit and the error
			// names the one that fails.
			return w.applyEach(ctx, g)
		default:
			return err
		}
	}
}

// applyEach applies g's transactions as groups of one, in order.
func (w *worker) applyEach(ctx context.Context, g *group) error {
	for i, t := range g.txns {
		one := &group{txns: g.txns[i : i+1], first: g.first + uint64(i), dependsOn: g.first + uint64(i) - 1,
			statement: g.statement, bytes: t.Bytes}
		if err := w.apply(ctx, one); err != nil {
			return err
		}
	}
	return nil
}

// statements returns the statements that apply g's transactions, with
// the GTID and format description statements they need first, and the
// format description the session has once they are sent.
func (w *worker) statements(ctx context.Context, g *group) ([]stmt, *txn.Format, error) {
	var stmts []stmt
	last := g.txns[len(g.txns)-1]
	if w.r.keepGTIDs {
		stmts = append(stmts, stmt{sql: gtidStatement(last.GTID), txn: last})
	}
	// format is the format description the session will have once the
	// statements are sent: w.format changes only when they are.
	format := w.format
	for _, t := range g.txns {
		if t.Format != nil && t.Format != format && hasRowEvents(t) {
			f := formatStatement(t.Format)
			f.txn = t
			stmts = append(stmts, f)
			format = t.Format
		}
		body, err := bodyStatements(ctx, t, w.r.collations, w.r.sqlApply)
		if err != nil {
			return nil, nil, w.r.applyError(t, failedEvent(err), err)
		}
		for i := range body {
			body[i].txn = t
		}
		stmts = append(stmts, body...)
	}
	return stmts, format, nil
}

// applyOnce runs g's body, waits for its turn and commits.
func (w *worker) applyOnce(ctx context.Context, g *group, gen uint64) error {
	// The session runs with autocommit=0: the group's statements form one
	// target transaction, ended by the COMMIT below.
	stmts, format, err := w.statements(ctx, g)
	if err != nil {
		return err
	}
	last := g.txns[len(g.txns)-1]
	g.sqlEvents = countSQLEvents(stmts)
	w.r.bodies.start(g.first)
	err = w.exec(ctx, stmts)
	w.r.bodies.end(g.first)
	if err != nil {
		return err
	}
	w.format = format
	w.r.waiting.Add(1)
	err = w.r.seq.waitTurn(ctx, g.first, gen)
	w.r.waiting.Add(-1)
	if err != nil {
		return err
	}
	commit := checkpointSQL(last, w.r.appliedBefore+g.last(), g.temps) + ";\nCOMMIT"
	if _, err := w.conn.ExecContext(ctx, commit); err != nil {
		// The commit may or may not have happened: the checkpoint on the
		// target says which, and --resume reads it.
		if !isServerError(err) {
			w.r.commitUncertain(g)
		}
		return w.r.applyError(last, nil, fmt.Errorf("%w; --resume reads the checkpoint to find out: %w", errCommitUnknown, err))
	}
	w.r.committed(g)
	return nil
}

// applyDDL applies a DDL transaction (a standalone DDL statement, or a
// group holding one and the rows it wrote: CREATE TABLE ... SELECT in row
// format), bracketed by checkpoint marks because DDL commits implicitly
// (see CheckpointSchema). The mark before it holds a fingerprint of the
// objects it changes: a resumed run that finds the mark (the DDL may or
// may not have run) takes the fingerprint again to tell, and never runs a
// DDL a second time.
func (w *worker) applyDDL(ctx context.Context, g *group) error {
	t := g.txns[0]
	if err := w.r.seq.waitCommitted(ctx, g.first-1); err != nil {
		return err
	}
	q, rowsOnly, skip, err := w.settleDDL(ctx, g)
	switch {
	case err != nil:
		return err
	case skip:
		return w.skipApplied(ctx, g)
	}
	if !rowsOnly {
		if err := w.markDDL(ctx, t, q, g.solo); err != nil {
			return err
		}
	}
	if err := w.execDDL(ctx, t, q, rowsOnly); err != nil {
		return err
	}
	if err := w.execUnlogged(ctx, checkpointSQL(t, w.r.appliedBefore+g.last(), g.temps)+";\nCOMMIT"); err != nil {
		if !isServerError(err) {
			w.r.commitUncertain(g)
		}
		return w.r.applyError(t, nil, fmt.Errorf("record DDL end: %w", err))
	}
	w.r.committed(g)
	return nil
}

// settleDDL returns the DDL statement of g's transaction and, when an
// earlier run left it pending, what became of it: skip when it ran,
// rowsOnly when it is CREATE TABLE ... SELECT whose CREATE ran and whose
// rows (committed with the checkpoint) did not.
func (w *worker) settleDDL(ctx context.Context, g *group) (q *txn.Event, rowsOnly, skip bool, err error) {
	t := g.txns[0]
	if q = ddlEvent(t); q == nil {
		return nil, false, false, w.r.applyError(t, nil, errors.New("a DDL transaction without its statement"))
	}
	p := w.r.takePending(t)
	if p == nil {
		return q, false, false, nil
	}
	applied, err := w.ddlApplied(ctx, t, q, p)
	switch {
	case err != nil:
		return nil, false, false, err
	case applied && hasRowEvents(t) && g.solo != "":
		return nil, false, false, &UncertainError{Start: t.Start, GTID: t.GTID.String(),
			What: "its DDL ran before the stop, and the rows it writes go to non-transactional tables, which may hold some of them: " + g.solo}
	case applied && hasRowEvents(t) && w.stageFor(t, q) == nil:
		// CREATE TABLE ... SELECT: the table was created, its rows
		// were not committed (they commit with the checkpoint). Staged
		// (ctas.go), it ran whole.
		w.r.logf("DDL at %s: applying the rows it writes", t.Start)
		return q, true, false, nil
	}
	return q, false, applied, nil
}

// markDDL commits the mark before the DDL statement q of t, with the
// fingerprint of the objects it changes.
func (w *worker) markDDL(ctx context.Context, t *txn.Txn, q *txn.Event, solo string) error {
	print, err := schema.Fingerprint(ctx, w.conn, q.Query.SQL, q.Query.Schema)
	if err != nil {
		return w.r.applyError(t, nil, fmt.Errorf("read the state of the objects the DDL changes: %w", err))
	}
	mark := print.Digest
	if print.Ambiguous != "" {
		mark = "ambiguous: " + print.Ambiguous
	}
	if err := w.execUnlogged(ctx, pendingSQL(t, stateDDL, mark, solo)+";\nCOMMIT"); err != nil {
		return w.r.applyError(t, nil, fmt.Errorf("record DDL start: %w", err))
	}
	return nil
}

// execDDL sends the DDL statement q of t (unless rowsOnly), then the rows
// t holds after it, if any, checked against the table it made. With source
// GTIDs kept, the GTID statement goes first.
func (w *worker) execDDL(ctx context.Context, t *txn.Txn, q *txn.Event, rowsOnly bool) error {
	if s := w.stageFor(t, q); s != nil {
		return w.execStaged(ctx, t, s)
	}
	statement, rows := splitDDL(t, q)
	var body []stmt
	if w.r.keepGTIDs {
		body = append(body, stmt{sql: gtidStatement(t.GTID), txn: t})
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
	w.r.invalidateTables(statement)
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
	if part.Format != nil && part.Format != w.format && hasRowEvents(part) {
		body = append([]stmt{{events: formatStatement(part.Format).events, txn: t}}, body...)
	}
	if err := w.exec(ctx, body); err != nil {
		return err
	}
	if hasRowEvents(part) {
		w.format = part.Format
	}
	return nil
}

// bodyOf returns the statements that apply part, a part of t, marked as
// t's.
func (w *worker) bodyOf(ctx context.Context, t, part *txn.Txn) ([]stmt, error) {
	body, err := bodyStatements(ctx, part, w.r.collations, w.r.sqlApply)
	if err != nil {
		return nil, w.r.applyError(t, failedEvent(err), err)
	}
	for i := range body {
		body[i].txn = t
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

// execUnlogged runs sql, statements ending in a COMMIT, kept out of the
// target's binlog when source GTIDs are kept (run.unlogged). When the
// server refuses one of them, the statements after it in the packet do not
// run: the session's sql_log_bin is then set back, so that nothing else
// run on it is left out of the binlog.
func (w *worker) execUnlogged(ctx context.Context, sql string) error {
	_, err := w.conn.ExecContext(ctx, w.r.unlogged(sql))
	if err != nil && w.r.keepGTIDs && isServerError(err) {
		if _, rerr := w.conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_log_bin=1"); rerr != nil {
			w.r.logf("could not set sql_log_bin back to 1 on a target session after %v: %v", err, rerr)
		}
	}
	return err
}

// exec sends stmts, several per round trip where allowed, within the
// target's packet limit: consecutive SQL statements share a multi-statement
// packet, consecutive row events share one BINLOG statement sent alone. The
// error names the transaction, event and statement that failed.
func (w *worker) exec(ctx context.Context, stmts []stmt) error {
	limit := max(w.maxPacket/2, 64<<10)
	var (
		batch   []string // SQL statements for one packet
		batched []*stmt  // the statements of batch
		events  []*txn.Event
		checked []*stmt // statements of the SQL apply path for one packet
		blame   *stmt   // first statement of what is pending that names an event
		size    int
	)
	send := func(sql string) error {
		_, err := w.conn.ExecContext(ctx, sql)
		if len(batched) == 1 && batched[0].expectErr != 0 {
			err = w.expected(batched[0], err)
		}
		if err != nil {
			w.format = nil // the session may have lost what it was told
			if s := culprit(batched, err); s != nil && s.txn != nil {
				blame = s
			}
			if blame == nil || blame.txn == nil {
				return err
			}
			return w.r.applyError(blame.txn, blame, err)
		}
		return nil
	}
	flush := func() error {
		var err error
		switch {
		case len(events) > 0:
			err = send(binlogStatement(events))
		case len(checked) > 0:
			err = w.execChecked(ctx, checked)
		case len(batch) > 0:
			err = send(strings.Join(batch, ";\n"))
		}
		batch, batched, events, checked, blame, size = batch[:0], batched[:0], nil, nil, nil, 0
		return err
	}
	for i := range stmts {
		s := &stmts[i]
		n := len(s.sql) + 2
		if s.events != nil {
			n = binlogSize(s.events)
		}
		// A change of kind, a statement that must go alone, or a full
		// packet ends what is pending.
		// Statements of the SQL apply path go one row event per packet,
		// so that an error names the event that failed.
		if (s.events != nil) != (len(events) > 0) || (s.check != nil) != (len(checked) > 0) ||
			len(checked) > 0 && checked[0].event != s.event || s.alone || size+n > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		if blame == nil || blame.event == nil && s.event != nil {
			blame = s // the format description names no event: the statement after it does
		}
		size += n
		if s.events != nil {
			if n > limit {
				// One source statement too large for a packet: send it
				// in pieces (nothing else is pending here).
				if err := w.sendSplit(ctx, s, limit); err != nil {
					return err
				}
				size, blame = 0, nil
				continue
			}
			events = append(events, s.events...)
			continue
		}
		if s.check != nil {
			checked = append(checked, s)
			continue
		}
		batch, batched = append(batch, s.sql), append(batched, s)
		if s.alone {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// expected checks the outcome err of the statement s, which the source
// logged as failing with error s.expectErr, as a replica does: the same
// error is success (what the statement changed before failing stays, as
// on the source), anything else stops the replay.
func (w *worker) expected(s *stmt, err error) error {
	var me *mysql.MySQLError
	switch {
	case isMySQLError(err, s.expectErr):
		w.r.expectedErrors.Add(1)
		w.r.logf("%s at %s failed with error %d, as on the source (what it changed before failing stays)",
			s.event.TypeName, s.event.Pos, s.expectErr)
		return nil
	case err == nil:
		return fmt.Errorf("the source logged this statement as failing with error %d part way; the target ran it "+
			"without error, so the two now differ (a replica stops here too)", s.expectErr)
	case errors.As(err, &me):
		return fmt.Errorf("the source logged this statement as failing with error %d; the target failed with another: %w", s.expectErr, err)
	}
	return err
}

// execChecked sends statements of the SQL apply path, those of one row
// event, in one packet and checks that each changed the rows it must (see
// rowCheck). A server error names the event and its first statement: the
// driver does not say which statement failed.
func (w *worker) execChecked(ctx context.Context, stmts []*stmt) error {
	sqls := make([]string, len(stmts))
	for i, s := range stmts {
		sqls[i] = s.sql
	}
	var affected []int64
	err := w.conn.Raw(func(dc any) error {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("the target's driver connection %T cannot run statements", dc)
		}
		res, err := ex.ExecContext(ctx, strings.Join(sqls, ";\n"), nil)
		if err != nil {
			return err
		}
		mr, ok := res.(mysql.Result)
		if !ok {
			return fmt.Errorf("the target's driver result %T does not count rows per statement", res)
		}
		affected = mr.AllRowsAffected()
		return nil
	})
	if err == nil && len(affected) != len(stmts) {
		err = fmt.Errorf("the target reported %d results for %d statements", len(affected), len(stmts))
	}
	if err != nil {
		w.format = nil
		return w.r.applyError(stmts[0].txn, stmts[0], &rowsError{event: stmts[0].event, err: err})
	}
	for i, s := range stmts {
		if err := w.checkRows(ctx, s, affected[i]); err != nil {
			return w.r.applyError(s.txn, s, &rowsError{event: s.event, err: err})
		}
	}
	return nil
}

// checkRows checks that s changed the rows it must: n rows reported, or,
// for an UPDATE that changed nothing, a row that holds its after image.
func (w *worker) checkRows(ctx context.Context, s *stmt, n int64) error {
	if n == s.check.rows {
		return nil
	}
	if n == 0 && s.check.found != "" {
		var found int64
		if err := w.conn.QueryRowContext(ctx, s.check.found).Scan(&found); err != nil {
			return fmt.Errorf("look for the updated row: %w", err)
		}
		if found > 0 {
			return nil // the row already held the after image
		}
	}
	if n < s.check.rows {
		return fmt.Errorf("%w: the statement changed %d of %d rows (the target lacks a row the source had)", errRowNotFound, n, s.check.rows)
	}
	return fmt.Errorf("the statement changed %d rows, want %d", n, s.check.rows)
}

// culprit returns, among the statements of a multi-statement packet that
// failed with err, the one the error is about where its code tells (the
// driver does not say which statement of a packet failed), or nil: an
// unknown database is the USE's, not the SET's before it.
func culprit(batched []*stmt, err error) *stmt {
	if !isMySQLError(err, errBadDB) {
		return nil
	}
	for _, s := range batched {
		if strings.HasPrefix(s.sql, "USE ") {
			return s
		}
	}
	return nil
}

// sendSplit sends the row events of one source statement in several BINLOG
// statements of at most limit bytes each, repeating the statement's table
// maps at the head of every piece so that each piece can be applied on its
// own; the server keeps the statement open until the row event flagged as
// its end.
func (w *worker) sendSplit(ctx context.Context, s *stmt, limit int) error {
	var maps, piece []*txn.Event
	for _, e := range s.events {
		if e.Kind == txn.EventTableMap {
			maps = append(maps, e)
		}
	}
	piece = append(piece, maps...)
	for _, e := range s.events {
		if e.Kind == txn.EventTableMap {
			continue
		}
		if len(piece) > len(maps) && binlogSize(append(piece, e)) > limit {
			if err := w.sendBinlog(ctx, s, piece); err != nil {
				return err
			}
			piece = append(piece[:0], maps...)
		}
		piece = append(piece, e)
	}
	return w.sendBinlog(ctx, s, piece)
}

// sendBinlog sends one BINLOG statement made of events, on behalf of s.
func (w *worker) sendBinlog(ctx context.Context, s *stmt, events []*txn.Event) error {
	if _, err := w.conn.ExecContext(ctx, binlogStatement(events)); err != nil {
		w.format = nil
		if s.txn == nil {
			return err
		}
		return w.r.applyError(s.txn, s, err)
	}
	return nil
}

// rollback ends the open target transaction, if any. Errors are ignored:
// a broken connection rolls back on its own.
func (w *worker) rollback() {
	_, _ = w.conn.ExecContext(context.Background(), "ROLLBACK")
}

func hasRowEvents(t *txn.Txn) bool {
	for i := range t.Events {
		if k := t.Events[i].Kind; k == txn.EventRows || k == txn.EventTableMap {
			return true
		}
	}
	return false
}

// countSQLEvents counts the row events that stmts apply as SQL.
func countSQLEvents(stmts []stmt) uint64 {
	var n uint64
	var last *txn.Event
	for i := range stmts {
		if s := &stmts[i]; s.check != nil && s.event != last {
			n++
			last = s.event
		}
	}
	return n
}
