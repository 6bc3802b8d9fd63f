package binlog

import (
	"errors"
	"fmt"

	"github.com/binlog-replay/binlog-replay/txn"
)

// ErrTruncated is matched (errors.Is) by the *TruncatedError that Next
// returns when the last file ends inside an event or inside a transaction.
var ErrTruncated = errors.New("binlog truncated")

// TruncatedError is returned by Next when the last file ends inside an event
// or a transaction, as a binlog does after a crash or while it is still being
// written. Every complete transaction before it was returned normally.
type TruncatedError struct {
	// File and Size say where the data ends (base name, file size).
	File string
	Size uint64
	// Partial is where the incomplete event or transaction starts.
	Partial txn.Position
	// LastEnd is the End of the last complete transaction the reader
	// returned (zero if none): where a later run resumes.
	LastEnd txn.Position
	// InEvent is true when the file ends inside an event (not only inside a
	// transaction).
	InEvent bool
}

// Error describes the truncation and where to resume.
func (e *TruncatedError) Error() string {
	what := "transaction"
	if e.InEvent {
		what = "event"
	}
	last := "no complete transaction was read"
	if !e.LastEnd.IsZero() {
		last = "last complete transaction ends at " + e.LastEnd.String()
	}
	return fmt.Sprintf("binlog %s truncated at %d inside the %s starting at %s; %s",
		e.File, e.Size, what, e.Partial, last)
}

// Is reports whether target is ErrTruncated.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }
