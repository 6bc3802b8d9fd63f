package replay

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/txn"
)

// MySQL/MariaDB server error numbers the applier branches on.
const (
	errBadDB            = 1049
	errNoSuchTable      = 1146
	errLockWaitTimeout  = 1205
	errLockDeadlock     = 1213
	errTableExists      = 1050
	errBadTable         = 1051
	errDupFieldName     = 1060
	errDupKeyName       = 1061
	errCantDropField    = 1091
	errDBCreateExists   = 1007
	errDBDropExists     = 1008
	errSPDoesNotExist   = 1305
	errTrgDoesNotExist  = 1360
	errTrgAlreadyExists = 1359
)

// isMySQLError reports whether err is a server error with one of codes.
func isMySQLError(err error, codes ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, c := range codes {
		if me.Number == c {
			return true
		}
	}
	return false
}

// isServerError reports whether err is an error the target server
// returned for a statement (not a lost connection or a cancelled context).
func isServerError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me)
}

// errCommitUnknown marks a failed COMMIT, whose outcome is unknown.
var errCommitUnknown = errors.New("commit (outcome unknown)")

// isRetryable reports whether err is a lock conflict worth retrying.
func isRetryable(err error) bool {
	return isMySQLError(err, errLockWaitTimeout, errLockDeadlock)
}

// ApplyError is returned when a source transaction could not be applied. The
// target holds every transaction before it and nothing of it.
type ApplyError struct {
	// Txn is the source transaction that failed.
	Seq   uint64
	Start txn.Position
	GTID  string
	// Event is the event being applied, when known.
	Event string
	// Statement is the start of the statement that failed.
	Statement string
	Err       error
}

// Error names the transaction, its position and the failing statement.
func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("apply transaction #%d at %s", e.Seq, e.Start)
	if e.GTID != "" {
		msg += " (GTID " + e.GTID + ")"
	}
	if e.Event != "" {
		msg += ", " + e.Event
	}
	if e.Statement != "" {
		msg += ", statement " + e.Statement
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ApplyError) Unwrap() error { return e.Err }
