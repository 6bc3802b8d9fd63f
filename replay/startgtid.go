package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/binlog/remote"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/txn"
)

// checkStartGap refuses a --start-gtid set that lacks transactions written
// before the binlogs' start (see filter.StartGap), before anything is
// written to the target. It reads the binlogs from start up to their first
// transaction; a run resuming from a checkpoint skips it, and so does bad
// input there (the replay reports it where it comes).
func (r *run) checkStartGap(ctx context.Context, start txn.Position) error {
	if r.opts.Select.StartGTIDs.IsEmpty() || r.start.resumed || r.opts.Source.DSN != "" {
		return nil // a source finds where a GTID start is itself
	}
	rd, err := binlog.NewReader(r.opts.Files, binlog.Options{Start: start, SkipUnknown: r.opts.Recovery.SkipUnknown,
		NoContinuityCheck: r.opts.Recovery.NoContinuityCheck, StreamAbove: scanPiece})
	if err != nil {
		return err
	}
	defer rd.Close()
	if _, err := rd.Next(ctx); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	before, _, known := rd.GTIDHistory()
	if !known {
		return nil
	}
	return filter.StartGap(r.opts.Select.StartGTIDs, before, start.File)
}

// checkStartBeyond refuses, reading binlog files, a --start-gtid set past
// the end of the binlogs in a domain or source they follow (see
// filter.StartBeyond), or one that cannot place a transaction (see
// filter.CheckStartOrder), before anything is written: found at the end, it
// came after every other domain's transactions were applied. It reads the
// binlogs ahead from start, without row images, up to the stop point: a
// run that stops before the end does not reach the end either. A resume
// skips it (its set was checked when it started), and so does bad input
// (the replay reports it where it comes).
func (r *run) checkStartBeyond(ctx context.Context, start txn.Position) error {
	if r.opts.Select.StartGTIDs.IsEmpty() || r.start.resumed || r.opts.Source.DSN != "" {
		return nil
	}
	a := r.ahead(ctx, start)
	if a.startOrder != nil {
		return fmt.Errorf("nothing applied: %w", a.startOrder)
	}
	if a.err == nil && a.met != nil && a.metHeld != "" {
		return &StopPassedError{Why: a.metHeld}
	}
	if a.err != nil || a.met != nil {
		return nil
	}
	if err := filter.StartBeyond(r.opts.Select.StartGTIDs, a.end); err != nil {
		return fmt.Errorf("nothing applied: %w", err)
	}
	return nil
}

// checkStartOrderResumed refuses, resuming with a --start-gtid set from
// binlog files, a transaction the set cannot place (see
// filter.CheckStartOrder) before anything more is applied. The run that
// made the checkpoint read ahead only to its own stop point: this one
// reads ahead from the checkpoint to its stop point (the reading the other
// checks of its start share, run.ahead), without row images; which domains
// the set passed before the checkpoint, the GTID history there says
// (filter.StartHistory). Bad input is left to the replay to report where
// it comes.
func (r *run) checkStartOrderResumed(ctx context.Context, start txn.Position) error {
	if r.opts.Select.StartGTIDs.IsEmpty() || !r.start.resumed || r.opts.Source.DSN != "" || len(r.opts.Files) == 0 {
		return nil
	}
	if a := r.ahead(ctx, start); a.startOrder != nil {
		return fmt.Errorf("nothing applied: %w", a.startOrder)
	}
	return nil
}

// checkExcludeWide refuses, reading binlog files, a MariaDB position in
// --exclude-gtids that skips transactions beside its own (see
// filter.ExcludeWide) between the start and the stop point, before
// anything is written. Reading from a source server, the replay stops at
// the first such transaction instead.
func (r *run) checkExcludeWide(ctx context.Context, start txn.Position) error {
	if len(r.opts.Select.ExcludeGTIDs.Set.Domains()) == 0 || r.opts.Source.DSN != "" {
		return nil
	}
	if a := r.ahead(ctx, start); a.excludeWide != nil {
		return fmt.Errorf("nothing applied: %w", a.excludeWide)
	}
	return nil
}

// resumeStartGTIDs takes, resuming from cp, the --start-gtid set of the
// run that made it: its transactions are skipped wherever they come (see
// target.Checkpoint.StartGTIDs). A run cut before its first commit has its
// checkpoint where its reading started, before the transactions the set
// skips; without the set, the resume would apply them again.
func (r *run) resumeStartGTIDs(cp *Checkpoint) error {
	if cp.StartGTIDs == "" {
		return nil
	}
	set, err := txn.ParseGTIDSet(cp.StartGTIDs)
	if err != nil {
		return fmt.Errorf("the checkpoint's --start-gtid set: %w", err)
	}
	r.opts.Select.StartGTIDs = set
	r.logf("--start-gtid %s (the checkpoint's): its transactions are skipped", cp.StartGTIDs)
	return nil
}

// resumeExcludeGTIDs takes, resuming from cp, the --exclude-gtids of the
// runs that made it, with those given now: a resume that forgot them would
// apply the very transactions the operator meant to skip (the accident's
// DROP or DELETE). Those given now that the checkpoint lacks are recorded
// in it (createCheckpoint).
func (r *run) resumeExcludeGTIDs(cp *Checkpoint) error {
	if cp.ExcludeGTIDs == "" {
		r.start.excludeAdded = !r.opts.Select.ExcludeGTIDs.IsEmpty()
		return nil
	}
	all, err := filter.ParseGTIDs(cp.ExcludeGTIDs + "," + r.opts.Select.ExcludeGTIDs.String())
	if err != nil {
		return fmt.Errorf("the checkpoint's --exclude-gtids: %w", err)
	}
	r.start.excludeAdded = all.String() != cp.ExcludeGTIDs
	r.opts.Select.ExcludeGTIDs = all
	r.logf("--exclude-gtids %s (the checkpoint's%s): their transactions are skipped", all,
		map[bool]string{true: ", with those given", false: ""}[r.start.excludeAdded])
	return nil
}

// endOfBinlogs records why the reading ended at the end of the binlogs,
// sent transactions having been passed on to be applied. A --start-gtid
// set past the end of the binlogs is an error (after what was read is
// applied); one that skipped everything says so.
func (r *run) endOfBinlogs(f *filter.Filter, rd *binlog.Reader, sent int) {
	s := r.opts.Select.StartGTIDs
	if s.IsEmpty() {
		r.stopNotReached(f, rd, "reached the end of the binlogs")
		return
	}
	_, end, _ := rd.GTIDHistory()
	if unknown := filter.StartUnknown(s, end); len(unknown) > 0 {
		r.logf("warning: --start-gtid names %s, which these binlogs never mention: nothing of it to skip", strings.Join(unknown, ", "))
	}
	if err := filter.StartBeyond(s, end); err != nil {
		r.setReadErr(err, "the start GTID set is past the end of the binlogs")
		return
	}
	if sent == 0 && r.skipped.Load() > 0 {
		r.stopNotReached(f, rd, fmt.Sprintf("nothing to apply: every transaction in the binlogs is already in --start-gtid (%d skipped); the target is at their end", r.skipped.Load()))
		return
	}
	r.stopNotReached(f, rd, "reached the end of the binlogs")
}

// checkBinlogPrivilege checks, before anything is written, that the
// target user may run BINLOG statements, with the format description of
// the binlog where the replay starts, or else of the first binlog file
// that has one (target.Target.CheckBinlogPrivilege). It reports whether it
// could check: a file it cannot read is left to the reader to report. A
// source server that refuses to send it (a missing REPLICATION SLAVE
// privilege, an unknown file) is an error at once.
func (r *run) checkBinlogPrivilege(ctx context.Context, start txn.Position) (bool, error) {
	var f *txn.Format
	if r.opts.Source.DSN != "" {
		src, err := r.opts.Source.Remote()
		if err != nil {
			return false, err
		}
		if f, err = remote.ReadFormat(ctx, src, start); err != nil {
			return false, sourceError{fmt.Errorf("read the format description from the source: %w", err)}
		}
	}
	for _, path := range r.opts.Files {
		if logfile.Name(path) == start.File {
			f, _ = logfile.ReadFormat(path)
			break
		}
	}
	for _, path := range r.opts.Files {
		if f != nil {
			break
		}
		f, _ = logfile.ReadFormat(path)
	}
	if f == nil {
		return false, nil
	}
	return true, r.tgt.CheckBinlogPrivilege(ctx, f)
}
