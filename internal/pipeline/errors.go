package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/txn"
)

// MySQL/MariaDB server error numbers the applier branches on.
const (
	errLockWaitTimeout = 1205
	errLockDeadlock    = 1213
	// errGTIDStrictOrder: with gtid_strict_mode on, the server refuses
	// to log a GTID whose sequence number is not above its domain's last.
	errGTIDStrictOrder = 1950
)

// errCommit marks a failed commit packet, which is not run again:
// errCommitUnknown one whose outcome is unknown (the connection failed),
// errCommitRefused one the server answered with an error (the packet
// stops at the failing statement; the checkpoint on the target says what
// committed).
var (
	errCommit        = errors.New("commit")
	errCommitUnknown = fmt.Errorf("%w (outcome unknown)", errCommit)
	errCommitRefused = fmt.Errorf("%w refused by the server", errCommit)
)

// isRetryable reports whether err is a lock conflict worth retrying.
func isRetryable(err error) bool {
	return target.IsMySQLError(err, errLockWaitTimeout, errLockDeadlock)
}

// ApplyError is returned when a source transaction could not be applied. The
// target holds every transaction before it and nothing of it.
//
// Unless LogValues is set, it carries no data values: Statement is the SQL
// with its literals replaced by ?, or the size of a BINLOG statement, and
// Error replaces the values the server's message quotes (see package
// redact), keeping the error code and the names of tables and keys.
type ApplyError struct {
	// Txn is the source transaction that failed.
	Seq   uint64
	Start txn.Position
	GTID  string
	// Event is the event being applied, when known.
	Event string
	// Table is the table of the failing row event ("db.table"), when known.
	Table string
	// Statement is the start of the statement that failed.
	Statement string
	// LogValues makes Error quote the server's message whole.
	LogValues bool
	Err       error
}

// Error names the transaction, its position and the failing statement.
func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("apply transaction #%d at %s", e.Seq, e.Start.Named(e.GTID))
	if e.Event != "" {
		msg += ", " + e.Event
	}
	if e.Table != "" {
		msg += " on table " + e.Table
	}
	if e.Statement != "" {
		msg += ", statement " + e.Statement
	}
	msg += ": " + errorText(e.Err, e.LogValues)
	if target.IsMySQLError(e.Err, errGTIDStrictOrder) {
		msg += "; the source's binlogs have this domain's sequence numbers out of order (gtid_strict_mode was off there), " +
			"which the target's gtid_strict_mode refuses to log: run SET GLOBAL gtid_strict_mode=OFF on the target, " +
			"or replay with --target-gtids own, then --resume"
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ApplyError) Unwrap() error { return e.Err }

// errorText returns err's message; unless logValues is set, with the
// values quoted by the server's message in it replaced.
func errorText(err error, logValues bool) string {
	text := err.Error()
	var me *mysql.MySQLError
	if logValues || !errors.As(err, &me) || me.Message == "" {
		return text
	}
	return strings.ReplaceAll(text, me.Message, redact.ServerMessage(me.Number, me.Message))
}

// AppliedError stops a run after a transaction the target holds whole,
// with its checkpoint: something about it needs the operator before the
// run goes on (see commitRest). Resuming goes on after it.
type AppliedError struct {
	// Start and GTID identify the transaction.
	Start txn.Position
	GTID  string
	Err   error
}

func (e *AppliedError) Error() string {
	return fmt.Sprintf("after the transaction at %s, applied and checkpointed: %v", e.Start.Named(e.GTID), e.Err)
}

// Unwrap returns the error.
func (e *AppliedError) Unwrap() error { return e.Err }
