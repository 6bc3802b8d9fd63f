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
	// Txn is what was read of the transaction the file ends inside, as
	// CutError.Partial; nil when the file ends before its first event.
	Txn *txn.Txn
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

// PartialTxn returns what was read of the transaction a read error is
// about: the one the last file ends inside (TruncatedError.Txn) or the one
// a crash cut that the reader cannot leave out (CutError.Partial); nil for
// any other error. A stop point before it is honoured, as before the
// transaction whole.
func PartialTxn(err error) *txn.Txn {
	var cut *CutError
	var trunc *TruncatedError
	switch {
	case errors.As(err, &cut):
		return cut.Partial
	case errors.As(err, &trunc):
		return trunc.Txn
	}
	return nil
}
