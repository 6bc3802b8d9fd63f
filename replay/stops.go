package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/startcheck"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Stop points. A replay given --stop-position, --stop-datetime or
// --stop-before-gtid must stop there, or say plainly that it did not:
//   - a stop point already behind where the replay starts (the checkpoint
//     passed it, or the start point is after it) is refused before
//     anything is applied (StopPassedError);
//   - a --stop-before-gtid whose domain (MySQL source UUID) never occurs
//     in the binlog files is refused before anything is applied: a typo,
//     or binlogs of another server;
//   - binlogs that end before any stop point given is met are applied
//     whole, and Run returns a *StopNotReachedError with the summary
//     (Options.StopNeverReachedOK returns nil instead).

// StopNotReachedError is returned by Run when the binlogs ended before the
// stop point given was met: every transaction in them was applied, and
// the target may lack what the operator meant to restore.
type StopNotReachedError struct {
	// Stops are the stop options given, as flags.
	Stops string
	// Why says what was read to its end.
	Why string
}

// Error says so.
func (e *StopNotReachedError) Error() string {
	return fmt.Sprintf("the stop point was never reached (%s): %s", e.Stops, e.Why)
}

// StopPassedError refuses a replay whose stop point lies before its start
// point: nothing was applied.
type StopPassedError struct {
	Why string
}

// Error says why.
func (e *StopPassedError) Error() string {
	return "nothing applied: the stop point is already behind the start point: " + e.Why +
		" (check the stop option, or the target: it may already hold more than the stop point allows)"
}

// checkStops refuses, before anything is applied, a stop point behind the
// start point (as far as the position and the checkpoint's time tell:
// GTIDs are checked when reading starts), and, reading binlog files, a
// --stop-before-gtid whose domain never occurs in them. It warns when the
// files end before the GTID stop point.
func (r *run) checkStops(ctx context.Context, start txn.Position) error {
	f := filter.New(r.opts.Filter(r.opts.Files))
	if why := f.StopPassed(start, txn.GTIDSet{}, r.start.lastTime); why != "" {
		return &StopPassedError{Why: why}
	}
	if why := r.stopBeforeStart(ctx, start, f); why != "" {
		return &StopPassedError{Why: why}
	}
	if r.opts.Select.StopBeforeGTID.IsZero() {
		return nil
	}
	if r.opts.Source.DSN != "" {
		return r.checkRemoteStop(ctx, start, f)
	}
	a := r.ahead(ctx, start)
	if a.err != nil {
		// The replay stops where reading fails too (bad input, a crash
		// cut it cannot leave out): a GTID of a domain the binlogs do not
		// mention up to there is never met by this run (soak seeds 128015,
		// 128108: a typo applied every transaction up to the cut).
		if why := filter.StopUnknown(r.opts.Select.StopBeforeGTID, a.end); why != "" {
			return fmt.Errorf("nothing applied: %s up to where they can be read, and the replay cannot read past that (%v): "+
				"check the GTID (a typo, or binlogs of another server?)", why, a.err)
		}
		r.logf("could not read the binlogs ahead to check --stop-before-gtid (%v): checked while replaying instead", a.err)
		return nil
	}
	if why := f.StopPassed(start, a.atStart, r.start.lastTime); why != "" {
		return &StopPassedError{Why: why}
	}
	if why := filter.StopUnknown(r.opts.Select.StopBeforeGTID, a.end); why != "" {
		return fmt.Errorf("nothing applied: %s: check the GTID (a typo, or binlogs of another server?)", why)
	}
	if a.stopOrder != nil {
		return a.stopOrder
	}
	if a.met == nil {
		r.logf("warning: these binlogs end before --stop-before-gtid %s (they reach %s): the replay applies them all, then exits with the stop point not reached",
			r.opts.Select.StopBeforeGTID, a.end)
	}
	return nil
}

// stopBeforeStart returns why --stop-datetime lies behind the start
// position of a fresh run given a start point (startcheck.StopDatetimeBehind:
// the start's file from its beginning, or the file before when none comes
// before the start in it), from the files or the source; "" when no
// transaction there was committed at or after it, or it cannot be read
// (logged). A source server asked to start at a GTID position starts at
// the first transaction it sends. A resume checks the checkpoint's time
// instead, and a start by GTID from files (reading every file) meets such
// a transaction itself (filter.StopHeld).
func (r *run) stopBeforeStart(ctx context.Context, start txn.Position, f *filter.Filter) string {
	if r.opts.Select.StopDatetime.IsZero() || r.start.resumed {
		return ""
	}
	if start.IsZero() && r.opts.Source.DSN != "" && r.opts.Source.StartGTID != "" {
		first, err := startcheck.SourceStart(ctx, r.scanOpener())
		if err != nil {
			r.logf("warning: could not read where the source starts sending (%v): whether the base is already past --stop-datetime is not checked", err)
			return ""
		}
		start = first
	}
	if start.File == "" || start.Offset <= 4 && r.opts.Select.StartPosition.IsZero() && r.opts.Source.StartGTID == "" {
		return "" // the default start, the first file's beginning: nothing before it is given
	}
	prev := startcheck.PreviousFile(start.File, r.opts.Files, logfile.Name)
	why, notChecked := startcheck.StopDatetimeBehind(ctx, r.scanOpener(), f, start, prev)
	if notChecked != "" {
		r.logf("warning: %s: whether the base is already past --stop-datetime is not checked", notChecked)
	}
	return why
}

// scanOpener opens the run's binlogs, its files or its source, for the
// checks that read them without row images.
func (r *run) scanOpener() startcheck.Opener {
	return func(ctx context.Context, from txn.Position) (*binlog.Reader, error) {
		if r.opts.Source.DSN == "" {
			return binlog.NewReader(r.opts.Files, r.opts.scanOptions(from))
		}
		src, err := r.opts.Source.Remote()
		if err != nil {
			return nil, err
		}
		rd, err := binlog.NewRemoteReader(ctx, src, r.opts.scanOptions(from))
		if err != nil {
			return nil, sourceError{err}
		}
		return rd, nil
	}
}

// checkRemoteStop refuses a --stop-before-gtid that the source's binlogs
// already reach before start (a resume's checkpoint, or --source-start
// FILE:POS), as checkStops does for files: it reads start's file from its
// beginning up to start; or that a --source-start GTID set already
// reaches. Without it, with several GTID domains, a stop
// behind the start was met at the stop domain's next transaction, after
// the other domains' transactions up to it were applied.
func (r *run) checkRemoteStop(ctx context.Context, start txn.Position, f *filter.Filter) error {
	if start.File == "" && r.opts.Source.StartGTID != "" {
		// A start by GTID: the source finds it, and sends nothing the
		// set holds, so a --stop-before-gtid the set already reaches
		// (a sequence number of its domain at or below the set's) would
		// be met at the first transaction after it, exit 0 with the
		// target past the stop point (soak seed 125288).
		set, err := txn.ParseGTIDSet(r.opts.Source.StartGTID)
		if err != nil {
			return fmt.Errorf("--source-start %s: %w", r.opts.Source.StartGTID, err)
		}
		if why := f.StopPassed(start, set, r.start.lastTime); why != "" {
			return &StopPassedError{Why: why}
		}
		return nil
	}
	if start.File == "" || start.Offset <= 4 {
		return nil // the file's beginning: nothing before it
	}
	all, err := r.historyBefore(ctx, start)
	if err != nil {
		return err
	}
	if why := f.StopPassed(start, all, r.start.lastTime); why != "" {
		return &StopPassedError{Why: why}
	}
	return nil
}

// historyBefore returns the GTID history before start, a position inside a
// file: the GTID list at the file's beginning and the transactions before
// start in it, read from the files or the source (which, asked to start
// there, sends neither), once per position (run.start.before).
func (r *run) historyBefore(ctx context.Context, start txn.Position) (txn.GTIDSet, error) {
	if h := r.start.before; h != nil && h.pos == start {
		return h.set, nil
	}
	var before txn.GTIDSet
	atFile, err := r.scanBeforeStart(ctx, start, func(t *txn.Txn) bool {
		if !t.GTID.IsZero() {
			before.Add(t.GTID)
		}
		return true
	})
	if err != nil {
		return txn.GTIDSet{}, err
	}
	set, err := txn.ParseGTIDSet(atFile.String() + "," + before.String())
	if err != nil {
		return txn.GTIDSet{}, err
	}
	r.start.before = &historyAt{pos: start, set: set}
	return set, nil
}

// scanBeforeStart reads start's file from its beginning, from the source
// or the files, and hands each whole transaction before start to each
// until it returns false; it returns the GTID history at the file's
// beginning. Errors reading from the source are sourceErrors.
func (r *run) scanBeforeStart(ctx context.Context, start txn.Position, each func(t *txn.Txn) bool) (txn.GTIDSet, error) {
	atFile, err := startcheck.Before(ctx, r.scanOpener(), start, each)
	var se sourceError
	if err != nil && r.opts.Source.DSN != "" && !errors.As(err, &se) {
		err = sourceError{err}
	}
	return atFile, err
}

// aheadScan is what scanAhead found from a start point, kept for the
// checks of one run's start that need it (start GTIDs, stop GTID): the
// binlogs are read ahead once.
type aheadScan struct {
	from txn.Position
	// atStart and end are the binlogs' GTID history before from and at
	// the end of what was read.
	atStart, end txn.GTIDSet
	// met is the first transaction where the filters stop (nil when none),
	// metHeld why that lies behind what the target holds when no
	// transaction before it is applied (filter.StopHeld), "" otherwise.
	met     *txn.Ref
	metHeld string
	// startOrder is a --start-gtid that cannot place a transaction before
	// met (filter.CheckStartOrder); stopOrder a *StopOrderError, when met
	// is at or beyond --stop-before-gtid without being it and the GTID
	// itself comes later.
	startOrder, stopOrder error
	// excludeWide is the first transaction before met that a MariaDB
	// position of --exclude-gtids skips beside its own (filter.ExcludeWide).
	excludeWide error
	err         error
}

// ahead returns what scanAhead found in the run's binlog files from
// start, with the run's filters, reading them the first time only.
func (r *run) ahead(ctx context.Context, start txn.Position) *aheadScan {
	if a := r.start.ahead; a == nil || a.from != start {
		r.start.ahead = scanAhead(ctx, r.opts, start, filter.New(r.opts.Filter(r.opts.Files)))
	}
	return r.start.ahead
}

// scanAhead reads the binlog files from start without decoding row
// images, up to the first transaction where f stops or, when that one is
// at or beyond --stop-before-gtid without being it, to the GTID itself or
// the end of the binlogs.
func scanAhead(ctx context.Context, o Options, start txn.Position, f *filter.Filter) *aheadScan {
	a := &aheadScan{from: start}
	rd, err := binlog.NewReader(o.Files, o.scanOptions(start))
	if err != nil {
		a.err = err
		return a
	}
	defer rd.Close()
	stopGTID := o.Select.StopBeforeGTID
	lookLater := false // met is at or beyond stopGTID, not stopGTID itself
	applies := false   // a transaction before met is applied (the filters do not skip it)
	first := true
	a.err = scan(ctx, rd, func(t *txn.Txn) (bool, error) {
		if first {
			atStart, _, _ := rd.GTIDHistory()
			f.StartHistory(atStart)
			first = false
		}
		if a.met != nil {
			if t.Part <= 1 && t.GTID == stopGTID {
				a.stopOrder = &StopOrderError{Stop: stopGTID, Met: a.met, Later: t.Ref()}
				return false, nil
			}
			return true, nil
		}
		stop := f.Stop(t)
		if t.Part > 0 {
			stop = f.StopAt(t)
		}
		if stop != "" {
			a.met = t.Ref()
			if !applies {
				a.metHeld = f.StopHeld(t)
			}
			lookLater = !stopGTID.IsZero() && t.GTID != stopGTID && filter.AtOrBeyond(t.GTID, stopGTID)
			return lookLater, nil
		}
		if a.startOrder == nil && t.Part <= 1 {
			a.startOrder = f.CheckStartOrder(t)
		}
		if a.excludeWide == nil && t.Part <= 1 {
			a.excludeWide = f.ExcludeWide(t)
		}
		applies = applies || t.Part <= 1 && !f.Skips(t)
		return true, nil
	})
	a.atStart, a.end, _ = rd.GTIDHistory() // up to a.err, when reading failed
	return a
}

// StopOrderError refuses a --stop-before-gtid whose transaction occurs in
// the binlogs after another of its MariaDB domain at or beyond its
// sequence number: the sequence numbers are out of order, and the stop
// cannot say which of the two the operator meant to stop before.
type StopOrderError struct {
	Stop       txn.GTID
	Met, Later *txn.Ref
}

// Error says which transactions, and what to do.
func (e *StopOrderError) Error() string {
	return fmt.Sprintf("nothing applied: --stop-before-gtid %s: transaction %s at %s, at or beyond its sequence number in domain %d, "+
		"comes before %s itself at %s: the domain's sequence numbers are out of order in these binlogs (gtid_strict_mode off), "+
		"so the stop would be met at the first and not before the second; give the stop as --stop-position "+
		"(%s:%d stops before the first, %s:%d before the second)",
		e.Stop, e.Met.GTID, e.Met.Start, e.Stop.Domain, e.Stop, e.Later.Start,
		e.Met.Start.File, e.Met.Start.Offset, e.Later.Start.File, e.Later.Start.Offset)
}

// checkStopPassedAtStart refuses, once reading has started (rd has
// returned its first transaction, or ended), a --stop-before-gtid that the
// binlogs before the start point already reach.
func (r *run) checkStopPassedAtStart(f *filter.Filter, rd *binlog.Reader, start txn.Position) error {
	if r.opts.Select.StopBeforeGTID.IsZero() {
		return nil
	}
	atStart, _, _ := rd.GTIDHistory()
	if why := f.StopPassed(start, atStart, r.start.lastTime); why != "" {
		return &StopPassedError{Why: why}
	}
	return nil
}

// stopNotReached records that reading ended (why) before the stop point
// given, if one was: the stop reason says so, and Run returns a
// *StopNotReachedError unless Options.StopNeverReachedOK.
func (r *run) stopNotReached(f *filter.Filter, rd *binlog.Reader, why string) {
	stops := f.Stops()
	if stops == "" {
		r.setStop(why)
		return
	}
	if p := r.opts.Select.StopPosition; !p.IsZero() && f.Reached(p, rd.ReadTo()) {
		// Everything up to the stop position was read and applied.
		r.setStop(fmt.Sprintf("%s, which is at or after --stop-position %s", why, p))
		return
	}
	if !r.opts.Select.StopBeforeGTID.IsZero() {
		_, end, _ := rd.GTIDHistory()
		if unknown := filter.StopUnknown(r.opts.Select.StopBeforeGTID, end); unknown != "" {
			why += "; " + unknown
		}
	}
	r.mu.Lock()
	r.read.missed = &StopNotReachedError{Stops: stops, Why: why + ": every transaction read was applied"}
	r.mu.Unlock()
	r.setStop(fmt.Sprintf("%s BEFORE THE STOP POINT (%s): every transaction read was applied, the stop point was never reached", why, stops))
}
