package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/target"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// CREATE TABLE ... SELECT with source GTIDs kept.
//
// In row format the source logs CREATE TABLE ... SELECT as one GTID group:
// the CREATE statement (the table's definition, without the SELECT), then
// the rows. A client cannot apply that as one target transaction: the
// CREATE commits on its own, and the rows would get a GTID of their own in
// the target's binlog, one the source gives a later transaction (which
// gtid_strict_mode then refuses). A server's own replica applies it under
// one GTID with an option no client can set.
//
// So, keeping source GTIDs, the replay makes the target log it as the
// source did: the rows go first, out of the binlog, into a staging table
// of the same definition (binlog_replay.ctas_stage, their table maps
// pointed at it); then the logged CREATE statement with a SELECT of the
// staging table appended runs under the source's GTID, in row format, and
// the target logs the CREATE and the rows in one group, as the source did.
// That statement is one atomic DDL, so the DDL mark's fingerprint tells a
// resumed run whether it ran.

// stageTable is the staging table, in target.CheckpointSchema.
const stageTable = "ctas_stage"

// ctasStage is a CREATE TABLE ... SELECT being applied through the
// staging table.
type ctasStage struct {
	q     *txn.Event  // its CREATE statement
	table schema.Name // the table it creates
	start int         // the span of q's SQL that names it
	end   int
}

// stageFor returns the staging of t, whose DDL statement is q, when t is
// CREATE TABLE ... SELECT in row format and source GTIDs are kept; nil
// otherwise.
func (w *worker) stageFor(t *txn.Txn, q *txn.Event) *ctasStage {
	if !w.p.cfg.KeepGTIDs || !hasRowEvents(t) {
		return nil
	}
	name, start, end, ok := schema.CreateTableName(q.Query.SQL, q.Query.Schema)
	if !ok {
		return nil
	}
	return &ctasStage{q: q, table: name, start: start, end: end}
}

// statement returns a copy of the part of t holding its CREATE statement,
// with the CREATE's text made by edit.
func (s *ctasStage) statement(t *txn.Txn, edit func(sql []byte) []byte) *txn.Txn {
	part, _ := splitDDL(t, s.q)
	cp := *part
	cp.Events = append([]txn.Event(nil), part.Events...)
	last := &cp.Events[len(cp.Events)-1]
	q := *last.Query
	q.SQL = edit(q.SQL)
	last.Query = &q
	return &cp
}

// retarget returns a copy of part with the table maps of the created table
// pointed at the staging table, raw (for passthrough) and decoded, in the
// table map events and in the row events' images (for the SQL apply path,
// which finds a row event's table there).
func (s *ctasStage) retarget(part *txn.Txn) (*txn.Txn, error) {
	cp := *part
	cp.Events = append([]txn.Event(nil), part.Events...)
	staged := map[*txn.TableMap]*txn.TableMap{}
	stage := func(tm *txn.TableMap) *txn.TableMap {
		if staged[tm] == nil {
			c := *tm
			c.Schema, c.Table = target.CheckpointSchema, stageTable
			staged[tm] = &c
		}
		return staged[tm]
	}
	created := func(tm *txn.TableMap) bool {
		return tm != nil && tm.Schema == s.table.Schema && tm.Table == s.table.Table
	}
	for i := range cp.Events {
		e := &cp.Events[i]
		switch {
		case e.Kind == txn.EventRows && e.Rows != nil && created(e.Rows.Table):
			rows := *e.Rows
			rows.Table = stage(e.Rows.Table)
			e.Rows = &rows
		case e.Kind == txn.EventTableMap && created(e.TableMap):
			raw, err := event.RetargetTableMap(e.Raw, part.Format, target.CheckpointSchema, stageTable)
			if err != nil {
				return nil, fmt.Errorf("%s at %s: %w", e.TypeName, e.Pos, err)
			}
			e.Raw, e.TableMap = raw, stage(e.TableMap)
		}
	}
	return &cp, nil
}

// begin creates the staging table, out of the target's binlog, and leaves
// the session logging nothing until finish or abort.
func (w *worker) beginStage(ctx context.Context, t *txn.Txn, s *ctasStage) error {
	if _, err := w.sess.Conn().ExecContext(ctx, "SET SESSION sql_log_bin=0;\nDROP TABLE IF EXISTS "+stageName()); err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("prepare the staging table of CREATE TABLE ... SELECT: %w", err))
	}
	defaults, err := w.databaseDefaults(ctx, s.table.Schema)
	if err != nil {
		return w.p.applyError(t, nil, err)
	}
	create := s.statement(t, func(sql []byte) []byte {
		out := []byte(string(sql[:s.start]) + stageName() + string(sql[s.end:]))
		// Columns without a character set take the database's: the
		// created table's, not binlog_replay's (the logged CREATE names
		// none the source session did not write). Later table options,
		// the statement's own, win over this one.
		if i := sqlscan.ClosingParen(out, s.start+len(stageName())); i >= 0 && defaults != "" {
			out = append(out[:i:i], append([]byte(defaults), out[i:]...)...)
		}
		return out
	})
	body, err := w.bodyOf(ctx, t, create)
	if err != nil {
		return err
	}
	err = w.exec(ctx, body)
	w.p.deps.Tables.Invalidate(target.CheckpointSchema, stageTable) // made anew for each statement
	return err
}

// finishStage commits the rows in the staging table, then runs the CREATE
// statement with a SELECT of them under t's GTID, logged in row format (on
// a session of its own), and drops the staging table.
func (w *worker) finishStage(ctx context.Context, t *txn.Txn, s *ctasStage) error {
	if _, err := w.sess.Conn().ExecContext(ctx, "COMMIT;\nSET SESSION sql_log_bin=1"); err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("commit the staged rows of CREATE TABLE ... SELECT: %w", err))
	}
	cols, err := w.stageColumns(ctx)
	if err != nil {
		return w.p.applyError(t, nil, err)
	}
	ctas := s.statement(t, func(sql []byte) []byte {
		return []byte(string(sql) + " SELECT " + cols + " FROM " + stageName())
	})
	body, err := w.bodyOf(ctx, t, ctas)
	if err != nil {
		return err
	}
	// On a session of its own, in row format: the worker's session may
	// have temporary tables open, with which the server lets a session
	// switch to row format but not back.
	sess, err := w.p.deps.Target.NewSession(ctx)
	if err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("open a session for CREATE TABLE ... SELECT: %w", err))
	}
	body = append([]sqlgen.Stmt{{SQL: "SET SESSION binlog_format='ROW'", Txn: t}, {SQL: target.GTIDStatement(t.GTID), Txn: t}}, body...)
	err = w.stmtError(sess.Exec(ctx, body))
	sess.Close()
	if err != nil {
		return err
	}
	if _, err := w.sess.Conn().ExecContext(ctx, "SET SESSION sql_log_bin=0;\nDROP TABLE IF EXISTS "+stageName()+";\n"+
		"SET SESSION sql_log_bin=1"); err != nil {
		return w.p.applyError(t, nil, fmt.Errorf("drop the staging table of CREATE TABLE ... SELECT: %w", err))
	}
	return nil
}

// abortStage rolls back what is open and makes the session log again,
// after a failure between beginStage and finishStage.
func (w *worker) abortStage() {
	w.rollback()
	if _, err := w.sess.Conn().ExecContext(context.Background(), "SET SESSION sql_log_bin=1"); err != nil {
		w.p.logf("could not set sql_log_bin back to 1 on a target session: %v", err)
	}
}

// stageColumns returns the staging table's columns that can be written,
// quoted, comma-separated.
func (w *worker) stageColumns(ctx context.Context) (string, error) {
	rows, err := w.sess.Conn().QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND IS_GENERATED = 'NEVER' ORDER BY ORDINAL_POSITION",
		target.CheckpointSchema, stageTable)
	if err != nil {
		return "", fmt.Errorf("read the staging table's columns: %w", err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", fmt.Errorf("read the staging table's columns: %w", err)
		}
		cols = append(cols, sqlgen.QuoteIdent(c))
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read the staging table's columns: %w", err)
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("the staging table %s has no columns", stageName())
	}
	return strings.Join(cols, ", "), nil
}

// databaseDefaults returns the table options giving a table the default
// character set and collation of database db on the target
// (" DEFAULT CHARACTER SET x COLLATE y"), "" when it has none.
func (w *worker) databaseDefaults(ctx context.Context, db string) (string, error) {
	var cs, coll string
	err := w.sess.Conn().QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "+
		"FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db).Scan(&cs, &coll)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // the CREATE says so itself
	}
	if err != nil {
		return "", fmt.Errorf("read the default character set of database %s: %w", sqlgen.QuoteIdent(db), err)
	}
	return " DEFAULT CHARACTER SET " + cs + " COLLATE " + coll, nil
}

func stageName() string {
	return sqlgen.QuoteIdent(target.CheckpointSchema) + "." + sqlgen.QuoteIdent(stageTable)
}

// execStaged applies t, CREATE TABLE ... SELECT, through the staging
// table (see above).
func (w *worker) execStaged(ctx context.Context, t *txn.Txn, s *ctasStage) error {
	_, rows := splitDDL(t, s.q)
	if err := w.beginStage(ctx, t, s); err != nil {
		w.abortStage()
		return err
	}
	if rows != nil {
		staged, err := s.retarget(rows)
		if err == nil {
			err = w.execPiece(ctx, t, staged)
		}
		if err != nil {
			w.abortStage()
			return w.p.applyError(t, nil, err)
		}
	}
	if err := w.finishStage(ctx, t, s); err != nil {
		w.abortStage()
		return err
	}
	return nil
}
