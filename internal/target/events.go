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
	args := make([]any, len(schemas))
	if len(schemas) > 0 {
		q += " AND EVENT_SCHEMA IN (?" + strings.Repeat(", ?", len(schemas)-1) + ")"
		for i, s := range schemas {
			args[i] = s
		}
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
