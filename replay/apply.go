package replay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/txn"
)

// ApplyMode says how row events are applied to the target (--apply).
//
// Passthrough (ApplyBinlog) sends the row events as they were logged, in
// BINLOG statements, as mysqlbinlog's output does: the server decodes them
// itself, with exact type fidelity, and fires no triggers. It needs BINLOG
// REPLAY (MariaDB 10.5 and later), BINLOG_ADMIN (MySQL 8) or SUPER.
//
// The SQL apply path (ApplySQL, internal/sqlgen) turns each row event's
// decoded images into INSERT, UPDATE and DELETE statements, with every
// row checked to be found and changed as on the source: it needs only the
// data privileges on the tables written, for targets that refuse BINLOG
// statements (managed services, proxies). It fires the target's triggers,
// so row events on tables with triggers are refused unless
// Options.Apply.SQLTriggers says they may fire; system-versioned tables are
// refused. It needs a MariaDB target (its statements use SET STATEMENT).
//
// Statement-format events and DDL run as SQL either way.
type ApplyMode string

// Apply modes.
const (
	// ApplyAuto passes row events through where the target user may run
	// BINLOG statements, and applies them as SQL otherwise (MariaDB
	// targets); the log says which at the start, and why.
	ApplyAuto ApplyMode = "auto"
	// ApplyBinlog passes row events through, or refuses to start.
	ApplyBinlog ApplyMode = "binlog"
	// ApplySQL applies row events as SQL, or refuses to start.
	ApplySQL ApplyMode = "sql"
)

// ParseApplyMode parses the value of --apply.
func ParseApplyMode(s string) (ApplyMode, error) {
	switch m := ApplyMode(strings.ToLower(s)); m {
	case ApplyAuto, ApplyBinlog, ApplySQL:
		return m, nil
	}
	return "", fmt.Errorf("--apply %q: want auto, binlog or sql", s)
}

// TriggerMode says what the SQL apply path does with a row event on a
// table that has triggers on the target (--sql-triggers).
//
// A row-format source logs what its triggers wrote as row events of their
// own: passthrough applies those and fires nothing, as a replica does. A
// statement applying the rows as SQL would fire the target's triggers,
// which would write a second time what the binlog already holds (an audit
// row twice, a total counted twice). MariaDB has no session setting that
// turns triggers off for a client. So by default such a row event stops
// the replay before it is applied, naming the table; the operator may
// drop the triggers on the target for the replay (and create them again
// after), or, for triggers whose effects the binlog does not hold
// (triggers created on the target only), let them fire.
type TriggerMode string

// Trigger modes.
const (
	// TriggersRefuse stops at a row event on a table with triggers.
	TriggersRefuse TriggerMode = "refuse"
	// TriggersFire applies it, and the triggers fire.
	TriggersFire TriggerMode = "fire"
)

// ParseTriggerMode parses the value of --sql-triggers.
func ParseTriggerMode(s string) (TriggerMode, error) {
	switch m := TriggerMode(strings.ToLower(s)); m {
	case TriggersRefuse, TriggersFire:
		return m, nil
	}
	return "", fmt.Errorf("--sql-triggers %q: want refuse or fire", s)
}

// decideApply works out how row events are applied (Options.Apply.Mode), before
// anything is written to the target, sets up the statement generator for
// it, and says in the log which it is and why. A missing BINLOG privilege
// is found here: with --apply binlog it is an error, with auto it makes
// the replay apply rows as SQL (on MariaDB).
func (r *run) decideApply(ctx context.Context, start txn.Position) error {
	mode := r.opts.Apply.Mode
	if mode == "" {
		mode = ApplyAuto
	}
	mariadb := r.tgt.MariaDB()
	switch {
	case mode == ApplySQL && !mariadb:
		return fmt.Errorf("--apply sql: applying row events as SQL needs a MariaDB target (its statements use SET STATEMENT); "+
			"the target is %s: use --apply binlog", r.tgt.Version())
	case mode == ApplySQL:
		return r.useSQL(ctx, "--apply sql")
	}
	checked, err := r.checkBinlogPrivilege(ctx, start)
	switch {
	case err == nil && !checked:
		r.logf("row events: passed through in BINLOG statements (--apply %s; the binlogs' format description could not be read "+
			"to check the BINLOG privilege now: a missing one stops the replay at the first row event)", mode)
		return nil
	case err == nil:
		r.logf("row events: passed through in BINLOG statements (--apply %s; the target user may run them)", mode)
		return nil
	case !errors.Is(err, target.ErrNoBinlogPrivilege):
		return err
	case mode == ApplyBinlog:
		return fmt.Errorf("--apply binlog: %w (or, on a MariaDB target, apply row events as SQL: --apply sql or auto)", err)
	case !mariadb:
		return fmt.Errorf("%w (applying row events as SQL instead, --apply sql, needs a MariaDB target)", err)
	}
	return r.useSQL(ctx, "--apply auto: the target user may not run BINLOG statements (no BINLOG REPLAY, SUPER)")
}

// useSQL sets the generator up to apply every row event as SQL, and says
// so in the log with why, and which tables with triggers on the target
// would stop the replay.
func (r *run) useSQL(ctx context.Context, why string) error {
	limit, err := r.tgt.PacketLimit(ctx)
	if err != nil {
		return err
	}
	threadID, err := r.tgt.MaySetPseudoThreadID(ctx)
	if err != nil {
		return err
	}
	r.gen.ApplySQL = true
	r.gen.MaxStatementBytes = limit
	r.gen.NoPseudoThreadID = !threadID
	r.logf("row events: applied as SQL statements made from their row images (%s)", why)
	if !threadID {
		r.logf("statement events: run without the source session's pseudo_thread_id, which the target user may not set " +
			"(BINLOG REPLAY or SUPER): a statement calling CONNECTION_ID() stops the replay")
	}
	if r.gen.TriggersFire {
		r.logf("row events: tables with triggers on the target are written with their triggers firing (--sql-triggers fire)")
		return nil
	}
	tables, more, err := tablesWithTriggers(ctx, r.tgt.DB())
	if err != nil {
		return err
	}
	if len(tables) > 0 {
		list := strings.Join(tables, ", ")
		if more {
			list += ", ..."
		}
		r.logf("row events: tables with triggers on the target (%s): a row event on one of them stops the replay, "+
			"as SQL would fire its triggers (drop them for the replay, or --sql-triggers fire)", list)
	}
	return nil
}

// tablesWithTriggers returns the first tables that have triggers on the
// target (MariaDB lists those of every table the user has a privilege
// on), and whether there are more.
func tablesWithTriggers(ctx context.Context, db *sql.DB) ([]string, bool, error) {
	const most = 10
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "+
		"ORDER BY 1, 2 LIMIT ?", most+1)
	if err != nil {
		return nil, false, fmt.Errorf("list the target's triggers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, false, fmt.Errorf("list the target's triggers: %w", err)
		}
		out = append(out, s+"."+t)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list the target's triggers: %w", err)
	}
	if len(out) > most {
		return out[:most], true, nil
	}
	return out, false, nil
}
