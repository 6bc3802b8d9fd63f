package target

import (
	"context"
	"errors"
	"fmt"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Privileges the replay needs on the target, checked before anything is
// written where they can be:
//   - BINLOG REPLAY (MariaDB 10.5 and later), BINLOG_ADMIN (MySQL 8) or
//     SUPER, for the BINLOG statements that pass row events through:
//     checked by sending the binlogs' format description in one. Not
//     needed when row events are applied as SQL (sqlgen.Generator.ApplySQL,
//     MariaDB targets), which needs the data privileges on their tables
//     instead; without it, a statement event's context cannot set
//     pseudo_thread_id (MaySetPseudoThreadID);
//   - CREATE, INSERT, UPDATE, SELECT on the binlog_replay database, for the
//     checkpoint: its creation fails with the server's message otherwise;
//   - whatever the logged statements and DDL need (as for mysqlbinlog | mysql);
//   - PROCESS, optional: without it the order monitor stops (see
//     ordermonitor.go) and commit-order deadlocks last a lock wait timeout,
//     and a replay lock held by another user's session is refused without
//     telling whether it is a lost run's (runlock.go);
//   - CONNECTION ADMIN or SUPER, optional: to end the sessions a lost run
//     of another user left on the target (stale.go).

// errSpecificAccessDenied is the server's error 1227 (access denied; you
// need some privilege).
const errSpecificAccessDenied = 1227

// ErrNoBinlogPrivilege is wrapped by the error of CheckBinlogPrivilege
// when the target user may not run BINLOG statements.
var ErrNoBinlogPrivilege = errors.New("the target user may not run BINLOG statements, which pass row events through")

// CheckBinlogPrivilege sends f, the format description of the binlog
// where the replay starts, in a BINLOG statement, on a session of its own:
// it fails when the target user may not run BINLOG statements.
func (t *Target) CheckBinlogPrivilege(ctx context.Context, f *txn.Format) error {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, sqlgen.BinlogStatement([]*txn.Event{{Raw: f.Raw}}))
	switch {
	case err == nil:
		return nil
	case IsMySQLError(err, errSpecificAccessDenied):
		return fmt.Errorf("%w: grant it BINLOG REPLAY (MariaDB 10.5 and later), BINLOG_ADMIN (MySQL 8) or SUPER: %w",
			ErrNoBinlogPrivilege, err)
	default:
		return fmt.Errorf("check that the target accepts BINLOG statements: %w", err)
	}
}

// MaySetPseudoThreadID reports whether the target user may set the
// session's pseudo_thread_id, which a statement event's context sets so
// that CONNECTION_ID() returns the source session's id (MariaDB: BINLOG
// REPLAY or SUPER). It tries on a pooled connection with the connection's
// own id, which changes nothing.
func (t *Target) MaySetPseudoThreadID(ctx context.Context) (bool, error) {
	_, err := t.db.ExecContext(ctx, "SET @@session.pseudo_thread_id=CONNECTION_ID()")
	switch {
	case err == nil:
		return true, nil
	case IsMySQLError(err, errSpecificAccessDenied):
		return false, nil
	}
	return false, fmt.Errorf("check that the target user may set pseudo_thread_id: %w", err)
}
