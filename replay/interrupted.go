package replay

import (
	"context"
	"errors"
)

// InterruptedError is a replay cancelled (SIGINT, SIGTERM) where it could
// not stop at a transaction boundary of its own: while starting (reading
// the checkpoint, settling a transaction an earlier run left pending,
// preparing the target) or while waiting to reconnect to a lost target.
// Nothing is half-applied: every transaction on the target was committed
// whole with its checkpoint, and --resume continues from there, settling a
// statement the checkpoint names as pending as it does after a kill.
//
// A cancelled replay that did stop at a boundary returns no error (Run's
// doc); one whose outcome it cannot know returns an *UncertainError, never
// this.
type InterruptedError struct {
	// Err is what the cancellation cut short.
	Err error
}

// Error says what was interrupted and what holds.
func (e *InterruptedError) Error() string {
	return "interrupted (" + e.Err.Error() + "): the target holds whole transactions up to the checkpoint it holds; " +
		"--resume continues from it, settling any statement it names as pending as after a kill"
}

// Unwrap returns what the cancellation cut short.
func (e *InterruptedError) Unwrap() error { return e.Err }

// asInterrupted returns err as an *InterruptedError when ctx was cancelled
// and err is that cancellation reaching the replay's work, and err as it
// is otherwise: an error of its own, or an *UncertainError, whose outcome
// the cancellation does not settle. The cancellation reaches the work as
// context.Canceled, or as a lost connection: go-sql-driver closes a
// connection whose query a cancel cut, and the next statement on it fails
// with "driver: bad connection" (soak seed 9350: SIGTERM while the replay
// started, then "reset the recorded target sessions: driver: bad
// connection", exit 1). A target lost while the replay was being
// interrupted is not reconnected to either: the interrupt wins.
func asInterrupted(ctx context.Context, err error) error {
	var ue *UncertainError
	if err == nil || ctx.Err() == nil || !errors.Is(err, context.Canceled) && !isConnectionLoss(err) || errors.As(err, &ue) {
		return err
	}
	var ie *InterruptedError
	if errors.As(err, &ie) {
		return err
	}
	return &InterruptedError{Err: err}
}
