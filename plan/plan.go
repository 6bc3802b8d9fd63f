// Package plan analyses binary logs without a server: what they contain,
// where an operator may want the replay to stop (every DDL and destructive
// event, with the exact stop flags), what a replay with given start, stop
// and filter options would apply, how much parallelism the transactions
// allow, and what a replay could not handle.
//
// Without a server there is no schema, so the write sets behind the
// parallelism estimate are built from what the binlog itself says: a row is
// keyed by its primary key when the table map carries it (optional metadata,
// binlog_row_metadata=FULL), and otherwise every write to the table is keyed
// by the whole table, which makes all transactions writing that table
// conflict. Unique secondary keys and foreign keys are not in the binlog:
// with primary-key keying the estimate can be optimistic for tables that
// have them (the replay, which reads the target's schema, finds more
// conflicts); with table keying it is pessimistic, except across tables
// linked by foreign keys. String key values are compared ASCII
// case-insensitively without trailing spaces; accent-insensitive
// equalities of non-ASCII values are not seen.
package plan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/binlog/remote"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/startcheck"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
)

// filterOptions returns the replay's start, stop and include settings.
func (o *Options) filterOptions() filter.Options {
	return filter.Options{Files: o.Files, StartGTIDs: o.StartGTIDs, ExcludeGTIDs: o.ExcludeGTIDs,
		StopPosition: o.StopPosition, StopDatetime: o.StopDatetime, StopBeforeGTID: o.StopBeforeGTID,
		Databases: o.Databases, Tables: o.Tables, FoldCase: o.FoldCase}
}

// Options say which binlogs to analyse and which replay to predict. The
// start, stop and filter fields mean what they mean in replay.Options.
type Options struct {
	// Files are the binlog files, in order (see logfile.Resolve).
	Files []string
	// Source, when set instead of Files, is a live server whose binlogs
	// are read with the replication protocol, from StartPosition or else
	// from after Source.StartGTID, to the end of its log (as the replay's
	// --source reads them).
	Source *remote.Source

	StartPosition  txn.Position
	StartGTIDs     txn.GTIDSet
	StopPosition   txn.Position
	StopDatetime   time.Time
	StopBeforeGTID txn.GTID
	ExcludeGTIDs   filter.GTIDs
	Databases      []string
	Tables         []string
	// FoldCase compares the names Databases and Tables give with the
	// binlogs' in lower case, as the replay does on a target whose
	// lower_case_table_names is 1 or 2 (replay.Selection.FoldCase): the
	// plan has no target to read it from.
	FoldCase bool
	// RewriteDB are the replay's --rewrite-db rules: the report says which
	// transactions the replay would refuse under them (the contents and
	// stop candidates name the binlogs' databases).
	RewriteDB rewrite.Rules
	// SkipUnknown skips events the reader does not understand, as the
	// replay's --skip-unknown does; they are counted in the report.
	SkipUnknown bool
	// NoContinuityCheck reads on where a binlog file does not carry on from
	// the one before it, as the replay's --no-continuity-check does.
	NoContinuityCheck bool
	// HotBase is the base of --from-backup (replay.Selection.HotBase): the
	// replay refuses a transaction whose non-transactional changes it may
	// hold (startcheck.HotBase.Risk), unless HotBase.Checked.
	HotBase startcheck.HotBase

	// Analysis says what the report looks for and how it shows it.
	Analysis
}

// Analysis says what a plan's report looks for in the binlogs (stop-point
// candidates, hot keys, the parallelism of worker counts) and how it shows
// it (see Options).
type Analysis struct {
	// BigRows is the number of deleted or updated rows in one transaction
	// above which it is a stop-point candidate (default 1000).
	BigRows int
	// Workers are the worker counts to simulate (default 1, 2, 4, 8, 16, 32).
	Workers []int
	// TableKeys keys every row write by its table, even where the table
	// map gives the primary key.
	TableKeys bool
	// HotKeys is how many of the keys touched by most transactions to
	// report (default 10).
	HotKeys int
	// Location is the time zone of --stop-datetime values (default
	// time.Local, as the replay command parses them).
	Location *time.Location
	// HideValues keeps data values out of the report, for reports that are
	// printed or logged: the literals of the statements quoted at stop
	// points are replaced by ?, and hot keys are named without their values.
	HideValues bool
}

// Validate reports the first problem with o.
func (o *Options) Validate() error {
	switch {
	case len(o.Files) == 0 && o.Source == nil:
		return errors.New("no binlog files given (nor a source server)")
	case len(o.Files) > 0 && o.Source != nil:
		return errors.New("give binlog files or a source server, not both")
	case o.Source != nil && o.StartPosition.IsZero() && o.Source.StartGTID == "":
		return errors.New("reading from a source server needs a start position or GTID")
	case o.BigRows < 0:
		return fmt.Errorf("--big-rows must not be negative, got %d", o.BigRows)
	case o.HotKeys < 0:
		return fmt.Errorf("hot keys must not be negative, got %d", o.HotKeys)
	}
	for _, n := range o.Workers {
		if n < 1 {
			return fmt.Errorf("worker counts must be at least 1, got %d", n)
		}
	}
	for _, t := range o.Tables {
		if !strings.Contains(t, ".") {
			return fmt.Errorf("table filter %q: want db.table", t)
		}
	}
	_, err := o.rewriter()
	return err
}

// rewriter returns the replay's rewriter, nil without RewriteDB,
// Tables nor Databases (without RewriteDB it applies the filters as the
// replay does; the replay also refuses a statement naming another table
// of the databases of Tables, which it learns from the target).
func (o *Options) rewriter() (*rewrite.Rewriter, error) {
	if len(o.RewriteDB) == 0 && len(o.Tables) == 0 && len(o.Databases) == 0 {
		return nil, nil
	}
	return rewrite.New(rewrite.Config{Rules: o.RewriteDB, Filter: filter.New(o.filterOptions()), LogValues: !o.HideValues})
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.BigRows == 0 {
		c.BigRows = 1000
	}
	if len(c.Workers) == 0 {
		c.Workers = []int{1, 2, 4, 8, 16, 32}
	}
	if c.HotKeys == 0 {
		c.HotKeys = 10
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	return c
}

// Run reads o.Files (or o.Source) from o.StartPosition to their end and
// returns the report. Reading and analysing run in two goroutines. A
// binlog the reader cannot read to its end (or a source connection lost)
// is not an error of Run: the report holds what was read before it and the
// reader's error (Report.Problems.ReadError), and says whether the
// predicted replay would hit it. Run returns an error for invalid options,
// a file it cannot stat, a source it cannot connect to, or ctx ending (then
// with no report); a source refusing the dump (a missing privilege) is a
// read error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := o.withDefaults()
	rep := &Report{Candidates: []Candidate{}} // [] rather than null in JSON
	rd, err := openReader(ctx, &opts, rep)
	if err != nil {
		return nil, fmt.Errorf("plan binlogs: %w", err)
	}
	defer rd.Close()
	a := newAnalyzer(&opts, rep)
	add := a.add
	if opts.Source != nil {
		add = func(t *txn.Txn) {
			rep.addRemoteFile(t)
			a.add(t)
		}
	}
	atStart := func(before txn.GTIDSet) {
		a.filter.StartHistory(before)
		// As the replay refuses once reading starts: a stop point the
		// binlogs before the start already reach (a --stop-before-gtid
		// whose sequence number the GTID history there reaches).
		if why := a.filter.StopPassed(opts.StartPosition, before, time.Time{}); why != "" && rep.Problems.Refusal == "" {
			rep.Problems.Refusal = why + ": the stop point is already behind the start point"
		}
	}
	readErr, err := pipe(ctx, rd, atStart, add)
	if err != nil {
		return nil, err
	}
	st := rd.Stats()
	rep.Contents.EventsRead, rep.Contents.BytesRead = st.Events, st.Bytes
	if len(st.Skipped) > 0 {
		rep.Problems.SkippedEvents = st.Skipped
	}
	rep.Problems.CutByCrash = st.Cut
	a.cut(readErr)
	a.finish(readErr, rd.ReadTo())
	if why := stopBeforeStart(ctx, &opts, a.filter); why != "" && rep.Problems.Refusal == "" {
		rep.Problems.Refusal = why + ": the stop point is already behind the start point"
	}
	return rep, nil
}

// stopBeforeStart returns why the replay refuses --stop-datetime as behind
// its start position, as the replay finds it (startcheck.StopDatetimeBehind:
// a transaction before the start, in its file or, when none comes before
// it there, in the file before, was committed at or after it; from a
// source server asked to start at a GTID position, the start is the first
// transaction it sends). "" when none was, or the binlogs cannot be read.
func stopBeforeStart(ctx context.Context, o *Options, f *filter.Filter) string {
	if o.StopDatetime.IsZero() {
		return ""
	}
	open := func(ctx context.Context, from txn.Position) (*binlog.Reader, error) {
		bo := binlog.Options{Start: from, SkipUnknown: o.SkipUnknown,
			NoContinuityCheck: o.NoContinuityCheck, StreamAbove: 1 << 20, ReadAheadBytes: 1 << 20}
		if o.Source != nil {
			return binlog.NewRemoteReader(ctx, *o.Source, bo)
		}
		return binlog.NewReader(o.Files, bo)
	}
	start := o.StartPosition
	if start.IsZero() && o.Source != nil && o.Source.StartGTID != "" {
		var err error
		if start, err = startcheck.SourceStart(ctx, open); err != nil {
			return ""
		}
	}
	if start.File == "" {
		return ""
	}
	why, _ := startcheck.StopDatetimeBehind(ctx, open, f, start, startcheck.PreviousFile(start.File, o.Files, logfile.Name))
	return why
}

// openReader opens o's files, after listing them in rep, or connects to
// o's source server.
func openReader(ctx context.Context, o *Options, rep *Report) (*binlog.Reader, error) {
	bo := binlog.Options{Start: o.StartPosition, DecodeRows: true, SkipUnknown: o.SkipUnknown,
		NoContinuityCheck: o.NoContinuityCheck}
	if o.Source != nil {
		rep.Source = o.Source.String()
		return binlog.NewRemoteReader(ctx, *o.Source, bo)
	}
	for _, f := range o.Files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, FileInfo{Path: f, Name: logfile.Name(f), Bytes: st.Size()})
	}
	return binlog.NewReader(o.Files, bo)
}

// addRemoteFile counts t in the source file it was read from: a read from
// a server lists the files it met, with the bytes of their transactions.
func (r *Report) addRemoteFile(t *txn.Txn) {
	if n := len(r.Files); n == 0 || r.Files[n-1].Name != t.Start.File {
		r.Files = append(r.Files, FileInfo{Name: t.Start.File})
	}
	r.Files[len(r.Files)-1].Bytes += t.Bytes
}

// pipe reads transactions from rd in one goroutine and hands them to add,
// in order, in the calling one, after handing the GTID history before the
// reading start (once the first is read) to start. It returns the reader's
// own error (nil at the end of the files), or ctx's error.
func pipe(ctx context.Context, rd *binlog.Reader, start func(atStart txn.GTIDSet), add func(*txn.Txn)) (readErr, err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type read struct {
		t       *txn.Txn
		atStart *txn.GTIDSet // with the first transaction
	}
	ch := make(chan read, 32)
	done := make(chan error, 1)
	go func() {
		defer close(ch)
		for first := true; ; first = false {
			t, err := rd.Next(rctx)
			if first && binlog.PartialTxn(err) != nil {
				// A stop point before it is still checked (analyzer.cut),
				// after the start history, as the replay does.
				atStart, _, _ := rd.GTIDHistory()
				select {
				case ch <- read{atStart: &atStart}:
				case <-rctx.Done():
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
			r := read{t: t}
			if first {
				atStart, _, _ := rd.GTIDHistory()
				r.atStart = &atStart
			}
			select {
			case ch <- r:
			case <-rctx.Done():
				done <- rctx.Err()
				return
			}
		}
	}()
	for r := range ch {
		if r.atStart != nil {
			start(*r.atStart)
		}
		if r.t != nil {
			add(r.t)
		}
	}
	readErr = <-done
	if ctx.Err() != nil {
		return nil, fmt.Errorf("plan binlogs: %w", context.Cause(ctx))
	}
	return readErr, nil
}
