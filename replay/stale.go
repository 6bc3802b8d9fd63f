package replay

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// When the connection to the target is lost without the server noticing
// (a network partition), the server keeps the lost run's sessions, each
// idle in its open transaction and holding its row locks, until it drops
// them (wait_timeout, hours by default). The resumed run would wait on
// those locks and give up. So before resuming after a loss, the run ends
// the lost run's sessions that are still there and idle: their work was
// not committed and is applied again. Sessions still running a statement
// (a COMMIT in progress) are left to finish: the checkpoint is read with a
// locking read, which waits for them (readCheckpointSettled). Connection
// ids are only compared on the same run of the server, recognized by its
// start time.

// staleSessions are the target sessions of a lost run.
type staleSessions struct {
	ids         []uint64
	serverStart int64 // the target's start time (Unix seconds) when they were opened
}

// serverStart returns when the target server started, in Unix seconds
// (within a second).
func serverStart(ctx context.Context, db *sql.DB) (int64, error) {
	var start int64
	err := db.QueryRowContext(ctx, "SELECT CAST(UNIX_TIMESTAMP() AS SIGNED) - CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.GLOBAL_STATUS "+
		"WHERE VARIABLE_NAME = 'UPTIME'").Scan(&start)
	if err != nil {
		return 0, fmt.Errorf("read the target's uptime: %w", err)
	}
	return start, nil
}

// endStaleSessions ends the sessions of the lost run that the target still
// holds idle (see above). Errors are logged: at worst the resumed run waits
// on their locks.
func (r *run) endStaleSessions(ctx context.Context) {
	stale := r.opts.stale
	if len(stale.ids) == 0 || r.serverStart == 0 || abs(r.serverStart-stale.serverStart) > 2 {
		return // nothing known, or the server restarted: they are gone
	}
	ids := make([]string, len(stale.ids))
	for i, id := range stale.ids {
		ids[i] = fmt.Sprint(id)
	}
	rows, err := r.db.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep' AND ID IN ("+
		strings.Join(ids, ",")+")")
	if err != nil {
		r.logf("could not look for the lost run's sessions on the target: %v", err)
		return
	}
	var idle []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			break
		}
		idle = append(idle, id)
	}
	rows.Close()
	for _, id := range idle {
		if _, err := r.db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil && !isMySQLError(err, errNoSuchThread) {
			r.logf("could not end session %d of the lost run on the target: %v", id, err)
			continue
		}
		r.logf("ended session %d of the lost run, left idle on the target in its transaction", id)
	}
}

// errNoSuchThread: KILL of a connection that is already gone.
const errNoSuchThread = 1094

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
