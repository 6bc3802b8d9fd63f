package replay

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/pipeline"
	"github.com/binlog-replay/binlog-replay/internal/target"

	"github.com/go-sql-driver/mysql"
)

// Server errors that mean the connection is gone rather than the statement
// refused: the server is shutting down, or killed the connection.
const (
	errServerShutdown   = 1053
	errConnectionKilled = 1927
)

// isConnectionLoss reports whether err means the target went away (a
// restart, a network cut), as opposed to the target refusing a statement.
func isConnectionLoss(err error) bool {
	var netErr net.Error
	switch {
	case err == nil, errors.As(err, new(sourceError)):
		return false
	case errors.As(err, new(target.LockLostError)):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &netErr):
		return true
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == errServerShutdown || me.Number == errConnectionKilled) ||
		isBadConnNoWrite(err)
}

// isBadConnNoWrite reports whether err holds go-sql-driver's error for a
// connection found broken before anything was sent on it (unexported
// there, and not driver.ErrBadConn: its text is all that names it). It
// reaches the replay from a connection taken from the pool while the
// target restarts (soak seed 6007: "connect to target: bad connection").
func isBadConnNoWrite(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "bad connection" {
			return true
		}
	}
	return false
}

// sourceError is an error reading from the source server (Options.Source):
// the replay stops on it, whatever it wraps, rather than reconnecting to
// the target; --resume continues from the checkpoint.
type sourceError struct{ error }

// Unwrap returns the error.
func (e sourceError) Unwrap() error { return e.error }

// runResilient runs the replay, and when the target is lost, reconnects
// with backoff for up to opts.Reconnect and continues from the checkpoint
// the target holds: the transactions committed there are exactly those
// applied, whatever happened to the ones in flight. A target never
// connected to is an error at once: it was never there to be lost (a wrong
// address, a server not started). One lost while the run starts is
// reconnected to like one lost later: the next attempt starts as the first
// did, or, once the start point was decided against the target's
// checkpoint (attemptResult.decided), from that checkpoint.
func runResilient(ctx context.Context, opts Options, logw io.Writer) (*Summary, error) {
	var (
		total   *Summary
		lostAt  time.Time
		backoff = 250 * time.Millisecond
		again   attempt
		reached bool
	)
	for {
		res, err := runOnce(ctx, opts, again, logw)
		sum := res.sum
		total = mergeSummaries(total, sum)
		reached = reached || res.reached
		if err := asInterrupted(ctx, err); err != nil && errors.As(err, new(*InterruptedError)) {
			return total, err
		}
		if !reached && isConnectionLoss(err) {
			// Lost (or refused) before this process ever reached it:
			// an address or a server to check, not an outage to wait
			// out; nothing was applied.
			return total, fmt.Errorf("cannot connect to the target: %w. Nothing was applied", err)
		}
		if !isConnectionLoss(err) || opts.Recovery.Reconnect <= 0 || ctx.Err() != nil || !reached {
			return total, err
		}
		if lostAt.IsZero() || sum != nil && sum.Applied > 0 {
			lostAt = time.Now() // progress was made: the outage clock restarts
		}
		if time.Since(lostAt) > opts.Recovery.Reconnect {
			return total, fmt.Errorf("target unreachable for %s, giving up (the checkpoint on the target names where --resume continues): %w",
				opts.Recovery.Reconnect, err)
		}
		fmt.Fprintf(logw, "lost the target (%v): retrying in %s, then resuming from its checkpoint\n", err, backoff)
		select {
		case <-ctx.Done():
			return total, &InterruptedError{Err: fmt.Errorf("waiting to reconnect to the target, lost on: %w", err)}
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		// Once an attempt decided where to start, the checkpoint on the
		// target says where to go on (if it had not saved one yet, start
		// as asked). Before that, a checkpoint there is an earlier run's,
		// which the next attempt must judge as the first would have.
		again.reconnected = again.reconnected || res.decided
		again.stale = again.stale.Add(res.stale)
	}
}

// attempt is what a reconnection carries from the lost attempt of a run
// to the next.
type attempt struct {
	// reconnected: resume from the checkpoint if the target has one, and
	// start from the start point given otherwise.
	reconnected bool
	// stale are the lost attempts' target sessions (see target.Stale).
	stale target.Stale
}

// withGroup returns s with the uncertain group u counted as applied.
func withGroup(s *Summary, u *pipeline.UncertainGroup) *Summary {
	c := *s
	c.Applied += u.Txns
	c.BytesApplied += u.Bytes
	c.Last = u.Last
	if c.First == nil {
		c.First = u.First
	}
	c.uncertain = nil
	return &c
}

// addCounts returns the sum of two counts by name, in a new map (nil
// when both are empty).
func addCounts(a, b map[string]uint64) map[string]uint64 {
	if len(a)+len(b) == 0 {
		return nil
	}
	m := make(map[string]uint64, len(a)+len(b))
	for k, v := range a {
		m[k] += v
	}
	for k, v := range b {
		m[k] += v
	}
	return m
}

// mergeSummaries adds b, a later run's summary, to a. A group whose commit
// was cut off in a's run (its outcome unknown) is counted when b's
// checkpoint shows it committed, and so is any other transaction the
// checkpoint b resumed from holds beyond what a counted (a group chained
// after the cut one, committed on the server while a's run was ending,
// its answer never read: seen in a CI run of TestCompactCutAtCommit, one
// group short).
func mergeSummaries(a, b *Summary) *Summary {
	switch {
	case b == nil:
		return a
	case a == nil:
		return b
	}
	m := *b
	m.base = a.base
	if u := a.uncertain; u != nil && b.base >= a.base+a.Applied+u.Txns {
		// The commit cut off in a's run did happen: b resumed after it.
		a = withGroup(a, u)
	}
	if held := b.base - a.base; b.base > a.base && held > a.Applied {
		c := *a
		c.Applied = held
		a = &c
	}
	m.Applied += a.Applied
	m.Skipped += a.Skipped
	m.BytesApplied += a.BytesApplied
	m.Retries += a.Retries
	m.Barriers += a.Barriers
	m.SerialTxns += a.SerialTxns
	m.OrderAborts += a.OrderAborts
	m.ChainedCommits += a.ChainedCommits
	m.EarlyStarts += a.EarlyStarts
	m.HeadStarts += a.HeadStarts
	m.Repacked += a.Repacked
	m.ExpectedErrors += a.ExpectedErrors
	m.SQLRowEvents += a.SQLRowEvents
	m.Elapsed += a.Elapsed
	m.BarrierReasons = addCounts(a.BarrierReasons, b.BarrierReasons)
	m.SkippedEvents = addCounts(a.SkippedEvents, b.SkippedEvents)
	m.CutByCrash = joinCuts(a.CutByCrash, b.CutByCrash)
	if a.First != nil {
		m.First = a.First
	}
	if m.Last == nil {
		m.Last = a.Last
	}
	return &m
}

// joinCuts returns the transactions of a then those of b not in a: a
// resumed attempt may read again the file of one a crash cut.
func joinCuts(a, b []binlog.CutTxn) []binlog.CutTxn {
	out := slices.Clone(a)
	for _, c := range b {
		if !slices.ContainsFunc(a, func(x binlog.CutTxn) bool { return x.Start == c.Start }) {
			out = append(out, c)
		}
	}
	return out
}
