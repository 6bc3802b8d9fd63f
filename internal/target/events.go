package target

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// CheckEvents refuses a target whose event scheduler is on while events
// are enabled in the databases the replay writes (schemas; nil: every
// database): they would run during the replay and write again what the
// binlogs hold (the source logged what its own events did), and go on
// writing between the replay's transactions. With the scheduler on and no
// such event enabled, it returns a note for the log: an event the binlogs
// create would run on the target too.
func CheckEvents(ctx context.Context, db *sql.DB, schemas []string) (note string, err error) {
	var scheduler string
	var enabled sql.NullString
	q := "SELECT @@GLOBAL.event_scheduler, (SELECT GROUP_CONCAT(CONCAT(EVENT_SCHEMA, '.', EVENT_NAME) " +
		"ORDER BY EVENT_SCHEMA, EVENT_NAME SEPARATOR ', ') FROM information_schema.EVENTS WHERE STATUS = 'ENABLED'"
	in, args := inList(schemas)
	if len(schemas) > 0 {
		q += " AND EVENT_SCHEMA " + in
	}
	err = db.QueryRowContext(ctx, q+")", args...).Scan(&scheduler, &enabled)
	if err != nil {
		return "", fmt.Errorf("read the target's event scheduler: %w", err)
	}
	if !strings.EqualFold(scheduler, "ON") && scheduler != "1" {
		return "", nil
	}
	if enabled.Valid && enabled.String != "" {
		return "", fmt.Errorf("the target's event scheduler is on and events are enabled (%s): they would run during the replay "+
			"and write again what the binlogs hold, which logged what the source's events did: "+
			"SET GLOBAL event_scheduler = OFF on the target for the recovery (back ON once it is done), then run again", enabled.String)
	}
	return "the target's event scheduler is on: an event the binlogs create would run on the target as it ran on the source " +
		"(SET GLOBAL event_scheduler = OFF for the recovery to be sure)", nil
}

// ConnectionIDObjects returns the triggers, stored routines and views of
// the target whose definitions call CONNECTION_ID() (as the replay's
// account sees them; not those of the server's own schemas, such as
// sys), "db.name" sorted: the triggers of the databases the replay writes
// (schemas; nil: every database), which fire on its writes, and every
// routine and view, which a statement may call or read from anywhere. A statement firing one is flagged
// by its source as depending on its session (LOG_EVENT_THREAD_SPECIFIC_F)
// as one using a temporary table is, so the replay cannot tell from the
// flag that a statement uses a temporary table created before the start
// point (see temptables).
func ConnectionIDObjects(ctx context.Context, db *sql.DB, schemas []string) ([]string, error) {
	const system = "NOT IN ('sys', 'mysql', 'information_schema', 'performance_schema')"
	triggers := "TRIGGER_SCHEMA " + system
	in, args := inList(schemas)
	if len(schemas) > 0 {
		// Scanning every table's triggers opens every table: only the
		// databases written.
		triggers = "TRIGGER_SCHEMA " + in
	}
	q := "SELECT CONCAT(TRIGGER_SCHEMA, '.', TRIGGER_NAME) FROM information_schema.TRIGGERS " +
		"WHERE ACTION_STATEMENT LIKE '%CONNECTION_ID%' AND " + triggers +
		" UNION ALL SELECT CONCAT(ROUTINE_SCHEMA, '.', ROUTINE_NAME) FROM information_schema.ROUTINES " +
		"WHERE ROUTINE_DEFINITION LIKE '%CONNECTION_ID%' AND ROUTINE_SCHEMA " + system +
		" UNION ALL SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.VIEWS " +
		"WHERE VIEW_DEFINITION LIKE '%CONNECTION_ID%' AND TABLE_SCHEMA " + system + " ORDER BY 1"
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read the target's triggers, routines and views calling CONNECTION_ID(): %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read the target's triggers, routines and views calling CONNECTION_ID(): %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// inList returns "IN (?, ?...)" for values and the arguments it takes.
func inList(values []string) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return "IN (" + strings.TrimPrefix(strings.Repeat(", ?", len(values)), ", ") + ")", args
}
