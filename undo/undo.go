package undo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/binlog-replay/binlog-replay/undo/inverse"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/rowedit"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/pipeline"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/budget"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// ConflictMode is what an undo does when later transactions wrote rows of
// its range (see conflict.go).
type ConflictMode string

// Conflict modes.
const (
	// ConflictRefuse undoes nothing, and reports the conflicts.
	ConflictRefuse ConflictMode = "refuse"
	// ConflictSkip undoes the rows no later transaction wrote, and reports
	// those it left.
	ConflictSkip ConflictMode = "skip"
)

// ParseConflictMode parses the value of --on-conflict.
func ParseConflictMode(s string) (ConflictMode, error) {
	switch m := ConflictMode(s); m {
	case ConflictRefuse, ConflictSkip:
		return m, nil
	}
	return "", fmt.Errorf("--on-conflict: want refuse or skip, got %q", s)
}

// Options configure an undo. Build them with DefaultOptions and adjust.
type Options struct {
	// Files are the binlog files, in order (logfile.Resolve): those
	// holding the range and those after it.
	Files []string
	// TargetDSN is the target's go-sql-driver DSN, its password filled in;
	// TargetTLS, if set, the TLS configuration of its connections.
	TargetDSN string
	TargetTLS *tls.Config
	// LogValues lets errors and reports show data values.
	LogValues bool

	// Range is the range to undo, and what to do about later writes to
	// its rows.
	Range Range
	// Apply says how the inverses are applied.
	Apply ApplyOptions

	// DryRun reports what the undo would do, conflicts included, and
	// writes nothing.
	DryRun bool
	// Resume continues the undo the target's checkpoint names, with the
	// same range.
	Resume bool
	// SkipUnknown and NoContinuityCheck read the binlogs as for a replay.
	SkipUnknown       bool
	NoContinuityCheck bool
}

// Range is the range of transactions an undo reverses.
type Range struct {
	// From StartPosition (a transaction boundary), or the first
	// transaction committed at or after StartDatetime, or the start of the
	// files; to the last transaction that ends at or before StopPosition,
	// or that was committed before StopDatetime (one of them is needed).
	StartPosition txn.Position
	StartDatetime time.Time
	StopPosition  txn.Position
	StopDatetime  time.Time
	// GTIDs, instead of the start and stop, name the range's transactions
	// exactly: they must be consecutive in the binlogs, each found once
	// (see gtids.go).
	GTIDs []filter.GTIDRange
	// Until, when set, ends the scan for later writes: the transactions
	// that end after it are not read (by default the scan reads the
	// binlogs to their end).
	Until txn.Position
	// OnConflict is what to do with rows later transactions wrote.
	OnConflict ConflictMode
}

// ApplyOptions say how an undo applies the inverses of its range.
type ApplyOptions struct {
	// Workers, GroupTxns, GroupBytes, MemoryBudget, LockWaitTimeout,
	// MaxRetries are the pipeline's, as for a replay.
	Workers         int
	GroupTxns       int
	GroupBytes      int64
	MemoryBudget    int64
	LockWaitTimeout time.Duration
	MaxRetries      int
	// NoLogBin keeps the undo out of the target's binary log.
	NoLogBin bool
	// SpoolDir is where the range's inverses are spooled (os.TempDir()
	// when empty): about the size of the range's row events.
	SpoolDir string
}

// DefaultOptions returns options with defaults suited to the machine.
func DefaultOptions() Options {
	return Options{
		Range: Range{OnConflict: ConflictRefuse},
		Apply: ApplyOptions{
			Workers:         min(max(2*runtime.NumCPU(), 4), 16),
			GroupTxns:       64,
			GroupBytes:      4 << 20,
			MemoryBudget:    256 << 20,
			LockWaitTimeout: 2 * time.Second,
			MaxRetries:      20,
		},
	}
}

// Validate reports the first problem with o.
func (o *Options) Validate() error {
	switch {
	case len(o.Files) == 0:
		return errors.New("no binlog files given")
	case o.TargetDSN == "":
		return errors.New("no target given (--target DSN)")
	case len(o.Range.GTIDs) > 0 && (!o.Range.StartPosition.IsZero() || !o.Range.StartDatetime.IsZero() || !o.Range.StopPosition.IsZero() || !o.Range.StopDatetime.IsZero()):
		return errors.New("give the range to undo by --gtids or by its start and stop (positions or datetimes), not both")
	case len(o.Range.GTIDs) == 0 && o.Range.StopPosition.IsZero() && o.Range.StopDatetime.IsZero():
		return errors.New("give the range to undo: its transactions by --gtids, or its end by --stop-position or --stop-datetime")
	case !o.Range.StartPosition.IsZero() && !o.Range.StartDatetime.IsZero():
		return errors.New("give --start-position or --start-datetime, not both")
	case !o.Range.StartDatetime.IsZero() && !o.Range.StopDatetime.IsZero() && !o.Range.StartDatetime.Before(o.Range.StopDatetime):
		return errors.New("--start-datetime must be before --stop-datetime")
	case o.Apply.Workers < 1:
		return fmt.Errorf("workers must be at least 1, got %d", o.Apply.Workers)
	case o.Apply.GroupTxns < 1:
		return fmt.Errorf("group size must be at least 1, got %d", o.Apply.GroupTxns)
	case o.Apply.MemoryBudget < 1<<20:
		return fmt.Errorf("memory budget must be at least 1 MiB, got %d bytes", o.Apply.MemoryBudget)
	case o.Apply.LockWaitTimeout < time.Second:
		return errors.New("lock wait timeout must be at least 1s")
	case o.DryRun && o.Resume:
		return errors.New("--dry-run reports on a new undo: do not give --resume")
	}
	if err := checkGTIDRanges(o.Range.GTIDs); err != nil {
		return err
	}
	_, err := ParseConflictMode(string(o.Range.OnConflict))
	return err
}

// Summary tells what an undo did, or with DryRun what it would do.
type Summary struct {
	// RangeStart and RangeEnd bound the range (the start of its first
	// transaction, the end of its last); RangeTxns counts its
	// transactions.
	RangeStart txn.Position `json:"range_start"`
	RangeEnd   txn.Position `json:"range_end"`
	RangeTxns  int64        `json:"range_txns"`
	// ScannedTo is where the scan for later writes stopped, LaterTxns
	// how many transactions it read.
	ScannedTo txn.Position `json:"scanned_to"`
	LaterTxns int64        `json:"later_txns"`
	// Undone counts the transactions undone (committed) by this run;
	// First and Last are the first and last of them (the first undone is
	// the latest of the range).
	Undone uint64   `json:"undone"`
	First  *txn.Ref `json:"first,omitempty"`
	Last   *txn.Ref `json:"last,omitempty"`
	// Tables counts, per table, the rows this run changed back (with
	// DryRun: the rows the range changed, which an undo changes back).
	Tables []TableRows `json:"tables"`
	// Left are the rows left as they are because later transactions
	// wrote them (OnConflict skip).
	Left []Conflict `json:"left,omitempty"`
	// Next is the checkpoint: everything of the range from Next on is
	// undone. Finished says the whole range is.
	Next     txn.Position `json:"next"`
	Finished bool         `json:"finished"`
	DryRun   bool         `json:"dry_run,omitempty"`
	// Retries counts groups retried after lock conflicts.
	Retries uint64        `json:"retries"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// TableRows counts the rows of one table an undo changed back: inserted
// back (the range deleted them), deleted (the range inserted them),
// updated back.
type TableRows struct {
	Table    string `json:"table"`
	Inserted int64  `json:"inserted"`
	Deleted  int64  `json:"deleted"`
	Updated  int64  `json:"updated"`
}

// undo is the state of one run.
type undo struct {
	opts    Options
	logw    io.Writer
	logMu   sync.Mutex
	started time.Time

	tgt    *target.Target
	defs   *schema.Cache
	tables *tables
	keyer  *partition.Keyer
	keys   rangeKeys
	spool  *inverse.Spool
	// sel selects the range by GTIDs (Options.Range.GTIDs), nil otherwise.
	sel    *gtidSelector
	editor map[*txn.Format]*rowedit.Editor
	sum    Summary

	// sent is what the feed sent (see feed).
	sent feedState
}

// feedState is what an undo's feed sent: counts are the rows it sent,
// pending those of the statement being read.
type feedState struct {
	mu      sync.Mutex
	counts  rowCounts
	pending map[string]*TableRows
	fed     bool // the feed sent the whole range
}

// ApplyError is returned when an inverse transaction could not be
// applied: it names the transaction undone, the event and the statement
// (a row check names the rows). The target holds every inverse before it
// and nothing of it.
type ApplyError = pipeline.ApplyError

// RefusedError says why a range cannot be undone. Nothing was written to
// the target.
type RefusedError = inverse.RefusedError

// Run undoes the range opts describes on the target (see the package
// documentation). It returns the summary and, when the undo did not
// finish, why: a *RefusedError or a *ConflictError when nothing was
// written, an *ApplyError naming the transaction, event and rows the
// target refused (everything undone before it stays committed, with the
// checkpoint; Options.Resume continues).
func Run(ctx context.Context, opts Options, logw io.Writer) (*Summary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if logw == nil {
		logw = io.Discard
	}
	u := &undo{opts: opts, logw: logw, started: time.Now(), editor: map[*txn.Format]*rowedit.Editor{}}
	u.sum.DryRun = opts.DryRun
	err := u.run(ctx)
	u.sum.Elapsed = time.Since(u.started)
	return &u.sum, err
}

func (u *undo) run(ctx context.Context) error {
	o := &u.opts
	tgt, err := target.Open(ctx, target.Config{DSN: o.TargetDSN, TLS: o.TargetTLS, Conns: o.Apply.Workers + 2,
		Resume: o.Resume, NoLogBin: o.Apply.NoLogBin}, u.logf)
	if err != nil {
		return err
	}
	defer tgt.Close()
	u.tgt = tgt
	if !tgt.MariaDB() {
		return fmt.Errorf("the target runs %s: an undo needs a MariaDB target (its row checks use SET STATEMENT)", tgt.Version())
	}
	if !o.DryRun {
		if err := tgt.TakeLock(ctx); err != nil {
			return err
		}
		tgt.EndStaleSessions(ctx)
	}
	rec, cp, err := u.earlier(ctx)
	if err != nil || rec != nil && rec.done && o.Resume {
		return err
	}
	u.defs = schema.NewCache(tgt.DB())
	u.keyer = partition.NewKeyer(u.defs)
	u.keyer.OwnKeysOnly = true
	u.tables = newTables(u.defs, u.logf)
	if u.spool, err = inverse.NewSpool(o.Apply.SpoolDir); err != nil {
		return err
	}
	defer u.spool.Close()
	first, err := u.readRange(ctx)
	if err != nil {
		return err
	}
	until := o.Range.Until
	if o.Resume {
		if err := u.sameRange(rec); err != nil {
			return err
		}
		until = rec.until
	}
	l, err := u.scanLater(ctx, until)
	if err != nil {
		return err
	}
	if !l.empty() {
		cs, err := u.conflicts(ctx, l)
		if err != nil {
			return err
		}
		if len(cs) > 0 && o.Range.OnConflict == ConflictRefuse {
			if o.DryRun {
				u.sum.Tables = u.rangeRows()
			}
			return &ConflictError{Conflicts: cs, ScannedTo: l.end}
		}
		u.sum.Left = cs
	}
	if err := tgt.CheckBinlogPrivilege(ctx, first.Format); err != nil {
		return err
	}
	if o.DryRun {
		u.sum.Tables = u.rangeRows()
		u.sum.Next = u.sum.RangeEnd
		return nil
	}
	start, applied := u.sum.RangeEnd, uint64(0)
	if o.Resume {
		start, applied = cp.Next, cp.Applied
		u.logf("resuming the undo from its checkpoint: everything from %s to the range's end is undone", cp.Next)
	} else if err := u.record(ctx, &record{first: u.sum.RangeStart, end: u.sum.RangeEnd, until: l.end, onConflict: o.Range.OnConflict}); err != nil {
		return err
	}
	return u.apply(ctx, l, start, applied, o.Resume)
}

// earlier reads what an earlier undo left on the target: its record and,
// with Resume, its checkpoint. It refuses a new undo over an unfinished
// one, and a resume without one.
func (u *undo) earlier(ctx context.Context) (*record, *target.Checkpoint, error) {
	o := &u.opts
	db := u.tgt.DB()
	rec, err := readRecord(ctx, db)
	switch {
	case err != nil:
		return nil, nil, err
	case o.Resume && rec == nil:
		return nil, nil, errors.New("--resume: the target has no undo to resume")
	case o.Resume && rec.done:
		u.sum.Finished, u.sum.RangeStart, u.sum.RangeEnd, u.sum.Next = true, rec.first, rec.end, rec.first
		u.logf("the undo of %s..%s on this target is finished: nothing left to undo", rec.first, rec.end)
		return rec, nil, nil
	case !o.Resume && rec != nil && !rec.done && !o.DryRun:
		return nil, nil, fmt.Errorf("the target holds an unfinished undo of %s..%s: finish it with --resume (and the same range), "+
			"or, to abandon it, delete its record (DELETE FROM %s)", rec.first, rec.end, undoTable)
	case !o.Resume:
		return rec, nil, nil
	}
	cp, err := target.ReadChannelSettled(ctx, db, target.UndoChannel)
	switch {
	case err != nil:
		return nil, nil, err
	case cp == nil:
		return nil, nil, errors.New("--resume: the target has the record of an undo but no checkpoint for it")
	case rec.onConflict != o.Range.OnConflict:
		return nil, nil, fmt.Errorf("--resume: the undo being resumed was started with --on-conflict %s: give the same", rec.onConflict)
	}
	return rec, cp, nil
}

// sameRange refuses a resume whose flags select another range than the
// undo being resumed.
func (u *undo) sameRange(rec *record) error {
	if rec.first != u.sum.RangeStart || rec.end != u.sum.RangeEnd {
		return fmt.Errorf("--resume: the undo being resumed is of the range %s..%s, these flags select %s..%s: give the same range",
			rec.first, rec.end, u.sum.RangeStart, u.sum.RangeEnd)
	}
	return nil
}

// record writes the undo's record and fresh checkpoint, and the run's
// sessions, before anything is undone.
func (u *undo) record(ctx context.Context, rec *record) error {
	conn, err := u.tgt.DB().Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	if err := target.EnsureTables(ctx, conn); err != nil {
		return err
	}
	if err := u.tgt.ResetSessions(ctx, conn); err != nil {
		return err
	}
	if err := u.tgt.RecordLockSession(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, createSQL); err != nil {
		return fmt.Errorf("create the undo's record on the target: %w", err)
	}
	if _, err := conn.ExecContext(ctx, startSQL(rec)); err != nil {
		return fmt.Errorf("record the undo on the target: %w", err)
	}
	return nil
}

// pieceBytes is the size above which a transaction is read, spooled and
// applied in pieces, as a replay does.
func (u *undo) pieceBytes() int64 {
	_, piece := budget.ReaderLimits(u.opts.Apply.MemoryBudget)
	return piece
}

// rangeTxn is the state of the range transaction being read, until its
// last piece says whether it is in the range.
type rangeTxn struct {
	spoolSize int64
	spoolTxns int
	keys      int
	counts    map[*tableInfo]map[txn.Op]int64
	err       error // a refusal, raised if it is in the range
	before    bool  // before the range, known from its first piece (by GTID)
}

// readRange reads the range, spooling its inverses and keeping the keys of
// its rows, and returns its first transaction. With Options.Range.GTIDs the
// binlogs are read from their start, and u.sel says which transactions
// are the range's.
func (u *undo) readRange(ctx context.Context) (*txn.Txn, error) {
	o := &u.opts
	readAhead, _ := budget.ReaderLimits(o.Apply.MemoryBudget)
	rd, err := binlog.NewReader(o.Files, binlog.Options{Start: o.Range.StartPosition, DecodeRows: true, StreamAbove: u.pieceBytes(),
		ReadAheadBytes: readAhead, SkipUnknown: o.SkipUnknown, NoContinuityCheck: o.NoContinuityCheck})
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	stop := filter.New(filter.Options{Files: o.Files, StopPosition: o.Range.StopPosition, StopDatetime: o.Range.StopDatetime})
	if len(o.Range.GTIDs) > 0 {
		u.sel = newGTIDSelector(o.Range.GTIDs)
	}
	iv := inverse.NewInverter()
	var (
		first   *txn.Txn
		cur     *rangeTxn
		partial bool // the last piece read is not the last of its transaction
	)
read:
	for {
		t, err := rd.Next(ctx)
		var trunc *binlog.TruncatedError
		switch {
		case (errors.Is(err, io.EOF) || errors.As(err, &trunc)) && u.sel != nil:
			if partial && !cur.before {
				return nil, &RefusedError{Why: fmt.Sprintf("the last binlog ends inside the named transaction at %s: "+
					"give the binlog files that hold it whole", at(u.sel.last))}
			}
			why := "the binlogs end"
			if trunc != nil {
				why = "the last binlog ends inside a transaction"
			}
			if err := u.sel.end(why); err != nil {
				return nil, err
			}
			// Every named transaction is found, and the range ends
			// with the last of them.
			break read
		case (errors.Is(err, io.EOF) || errors.As(err, &trunc)) && first != nil && !o.Range.StopPosition.IsZero() &&
			stop.Reached(o.Range.StopPosition, u.sum.RangeEnd):
			// The range ends where the binlogs do, at the stop position
			// (the rest of a live server's last file, if any, is being
			// written). Nothing of a later transaction is spooled: its
			// first piece starts at or past the stop position.
			break read
		case errors.Is(err, io.EOF) || errors.As(err, &trunc):
			why := "the binlogs end"
			if trunc != nil {
				why = "the last binlog ends inside a transaction"
			}
			return nil, &RefusedError{Why: fmt.Sprintf("%s before the end of the range (%s): give the binlog files that hold it", why, stop.Stops())}
		case err != nil:
			return nil, fmt.Errorf("read the range: %w", err)
		}
		if t.Part <= 1 {
			cur = &rangeTxn{spoolSize: u.spool.Size, spoolTxns: u.spool.Txns, keys: len(u.keys.keys),
				counts: map[*tableInfo]map[txn.Op]int64{}}
			if t.Part == 1 && !o.Range.StopPosition.IsZero() && stop.Reached(o.Range.StopPosition, t.Start) {
				break read // it starts at or past the stop position: it ends past it
			}
			if u.sel != nil {
				p, err := u.sel.next(t)
				switch {
				case err != nil:
					return nil, err
				case p == afterRange:
					break read // the first transaction after the named ones: nothing of it is taken
				}
				cur.before = p == beforeRange
			}
		}
		whole := t.Part == 0 || t.Final
		partial = !whole
		if whole && stop.Stop(t) != "" {
			if err := u.retract(cur); err != nil {
				return nil, err
			}
			break read
		}
		// By --start-datetime the range starts with the first transaction
		// committed at or after it, and holds every one after that: a
		// later one logged with an earlier time (a statement that ran long,
		// SET TIMESTAMP) is inside the range, as in the replay's stop.
		before := cur.before || whole && first == nil && !o.Range.StartDatetime.IsZero() && t.Time.Before(o.Range.StartDatetime)
		if cur.err == nil && !before {
			cur.err = u.take(ctx, iv, t, cur)
		}
		if !whole {
			continue
		}
		if before {
			if err := u.retract(cur); err != nil {
				return nil, err
			}
			continue
		}
		if cur.err != nil {
			return nil, cur.err
		}
		for ti, ops := range cur.counts {
			for op, n := range ops {
				ti.rows[op] += n
			}
		}
		if first == nil {
			first = t
			u.sum.RangeStart = t.Start
		}
		u.sum.RangeEnd = t.End
		u.sum.RangeTxns++
	}
	if err := u.spool.Finish(); err != nil {
		return nil, err
	}
	if first == nil {
		return nil, &RefusedError{Why: "the range holds no transaction (check the start and stop points)"}
	}
	u.keys.seal()
	u.logf("range: %d transactions from %s to %s, %d row keys; inverses spooled (%d bytes)",
		u.sum.RangeTxns, u.sum.RangeStart, u.sum.RangeEnd, len(u.keys.keys), u.spool.Size)
	return first, nil
}

// retract forgets what was spooled and keyed of the transaction cur, read
// in pieces, which turns out to be outside the range.
func (u *undo) retract(cur *rangeTxn) error {
	u.keys.keys = u.keys.keys[:cur.keys]
	return u.spool.Truncate(cur.spoolSize, cur.spoolTxns)
}

// take inverts t, a transaction of the range or a piece of one, checks its
// tables, keys its rows and spools its inverse.
func (u *undo) take(ctx context.Context, iv *inverse.Inverter, t *txn.Txn, cur *rangeTxn) error {
	stmts, err := iv.Invert(t)
	if err != nil {
		return err
	}
	for i := range t.Events {
		e := &t.Events[i]
		if e.Kind != txn.EventRows {
			continue
		}
		ti, err := u.tables.of(ctx, t, e)
		if err != nil {
			return err
		}
		if cur.counts[ti] == nil {
			cur.counts[ti] = map[txn.Op]int64{}
		}
		cur.counts[ti][e.Rows.Op] += int64(e.Rows.Count())
		if ti.unkeyed != "" {
			continue
		}
		keys, reason, err := u.keyer.RowKeys(ctx, e)
		if err != nil {
			return err
		}
		if reason != "" {
			ti.unkeyed = reason
			u.logf("note: the rows of %s cannot be told apart (%s): any later write to it conflicts with all of them", ti.name, reason)
			continue
		}
		for _, k := range keys {
			u.keys.add(k)
		}
	}
	return u.spool.Add(t, stmts)
}

// scanLater scans the binlogs after the range, to until when set.
func (u *undo) scanLater(ctx context.Context, until txn.Position) (*later, error) {
	o := &u.opts
	readAhead, _ := budget.ReaderLimits(o.Apply.MemoryBudget)
	cascades, err := u.tables.cascades(ctx)
	if err != nil {
		return nil, err
	}
	s := &scanner{files: o.Files, until: until, keys: &u.keys, tables: u.tables, cascades: cascades, keyer: u.keyer, logf: u.logf,
		opts: binlog.Options{StreamAbove: u.pieceBytes(), ReadAheadBytes: readAhead, SkipUnknown: o.SkipUnknown,
			NoContinuityCheck: o.NoContinuityCheck}}
	if u.sel != nil {
		s.check = u.sel.later
	}
	l, err := s.scan(ctx, u.sum.RangeEnd)
	if err != nil {
		return nil, err
	}
	u.sum.ScannedTo, u.sum.LaterTxns = l.end, l.txns
	u.logf("scanned %d later transactions, to %s: %d keys of the range written again, %d tables touched as a whole",
		l.txns, l.end, len(l.hits), len(l.tables))
	return l, nil
}

// conflicts reads the spool back to count, per table, the rows of the
// range that later transactions wrote.
func (u *undo) conflicts(ctx context.Context, l *later) ([]Conflict, error) {
	by := map[string]*Conflict{}
	b := u.spool.Backward(u.pieceBytes())
	b.Filter = func(_ *txn.Format, ev *txn.Event) (*txn.Event, error) {
		ti, rowKeys, err := u.rowKeys(ctx, ev)
		if err != nil {
			return nil, err
		}
		c := by[ti.name]
		if c == nil {
			c = &Conflict{Table: ti.name}
			by[ti.name] = c
		}
		for i := range ev.Rows.Count() {
			c.Total++
			var keys []partition.Key
			if rowKeys != nil {
				keys = rowKeys[i]
			}
			ref, why := l.conflict(ti, keys)
			if ref == nil {
				continue
			}
			c.Rows++
			if c.First == nil || ref.Seq < c.First.Seq {
				c.First, c.Why = ref, why
			}
			if len(c.Samples) < 3 {
				c.Samples = append(c.Samples, describeKey(ti, imageOf(ev.Rows, i), u.opts.LogValues))
			}
		}
		return nil, nil // counted: nothing to keep
	}
	for {
		if _, err := b.Next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
	}
	var out []Conflict
	for _, c := range by {
		if c.Rows == 0 {
			continue
		}
		if m := l.movedTo(c.Table); m != "" && c.Why != "" {
			c.Why += "; " + m
		} else if m != "" {
			c.Why = m
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}

// rowKeys returns the table of the inverse row event ev and its rows'
// keys (nil when the table's rows have none).
func (u *undo) rowKeys(ctx context.Context, ev *txn.Event) (*tableInfo, [][]partition.Key, error) {
	tm := ev.Rows.Table
	ti := u.tables.byKey[tm.Schema+"."+tm.Table]
	if ti == nil {
		return nil, nil, fmt.Errorf("%s at %s: table %s.%s is not one of the range's", ev.TypeName, ev.Pos, tm.Schema, tm.Table)
	}
	if ti.unkeyed != "" {
		return ti, nil, nil
	}
	keys, reason, err := u.keyer.RowKeys(ctx, ev)
	if err != nil {
		return nil, nil, err
	}
	if reason != "" {
		return nil, nil, fmt.Errorf("%s at %s: its rows cannot be keyed now (%s), but those of the range could", ev.TypeName, ev.Pos, reason)
	}
	return ti, keys, nil
}

// imageOf returns the image that identifies row i of r: its image, or the
// before image of an update.
func imageOf(r *txn.Rows, i int) []any {
	if r.Op == txn.OpUpdate {
		return r.Rows[2*i]
	}
	return r.Rows[i]
}

// rangeRows returns the rows of the range per table, as the undo changes
// them back.
func (u *undo) rangeRows() []TableRows {
	var out []TableRows
	for _, ti := range u.tables.sorted() {
		out = append(out, TableRows{Table: ti.name, Inserted: ti.rows[txn.OpDelete], Deleted: ti.rows[txn.OpInsert],
			Updated: ti.rows[txn.OpUpdate]})
	}
	return out
}

func (u *undo) logf(format string, args ...any) {
	u.logMu.Lock()
	defer u.logMu.Unlock()
	fmt.Fprintf(u.logw, format+"\n", args...)
}
