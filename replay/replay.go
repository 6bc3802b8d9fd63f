// Package replay applies binlog transactions to a target server: one
// pipeline under one errgroup (read and filter, group and order, apply on N
// connections), with commits in source order and a checkpoint in the same
// target transaction as the data, so the target always holds a prefix of
// the source history and a replay can resume exactly where it stopped.
//
// Row events are applied by passthrough: the raw table map and row events
// go back to the server in BINLOG statements, as mysqlbinlog does, so the
// server decodes them itself with exact type fidelity and fires no
// triggers. Where the target cannot read them (MySQL row events on tables
// with a JSON column, for a MariaDB target) they are applied as SQL made
// from the decoded images instead (see rowsql.go). Statement-format events
// and DDL run as SQL in the source session's context.
package replay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Summary tells what a replay did.
type Summary struct {
	Stats
	// First and Last are the first and last transactions applied in this
	// run (nil when none was).
	First *txn.Ref `json:"first"`
	Last  *txn.Ref `json:"last"`
	// StopReason says why the replay stopped.
	StopReason string `json:"stop_reason"`
	// Next is where a later replay would continue (the checkpoint).
	Next txn.Position `json:"next"`
	// Retries counts groups rolled back and retried after lock conflicts.
	Retries uint64 `json:"retries"`
	// OrderAborts counts the commit-order deadlocks ended by making the
	// later groups roll back (see ordermonitor.go).
	OrderAborts uint64 `json:"order_aborts"`
	// SerialTxns counts the transactions applied in serial stretches of
	// the binlog, where every group waited for the one before: their row
	// images were not decoded nor their write sets computed (serial.go).
	SerialTxns uint64 `json:"serial_txns"`
	// BarrierReasons counts, by reason, the transactions that had to run
	// alone.
	BarrierReasons map[string]uint64 `json:"barrier_reasons,omitempty"`
	// SourceGTIDs tells whether the target logged the replayed
	// transactions with their source GTIDs (see GTIDMode).
	SourceGTIDs bool `json:"source_gtids"`
	// SkippedEvents counts, by event type, the events skipped because they
	// are marked ignorable or because --skip-unknown was given.
	SkippedEvents map[string]uint64 `json:"skipped_events,omitempty"`
	// StopNotReached is set when the binlogs ended before the stop point
	// given (see StopNotReachedError).
	StopNotReached bool `json:"stop_not_reached,omitempty"`
	// ExpectedErrors counts the statements the source logged as failing
	// part way (a duplicate key in a multi-row INSERT into a MyISAM table,
	// say), which failed the same way on the target, as on a replica.
	ExpectedErrors uint64 `json:"expected_errors,omitempty"`

	// base is the checkpoint's count of applied transactions when the run
	// started; uncertain the group whose commit was cut off, if any (see
	// mergeSummaries).
	base      uint64
	uncertain *uncertainGroup
}

// uncertainGroup is a group whose COMMIT was sent but not acknowledged:
// the connection was lost, so it may or may not have committed.
type uncertainGroup struct {
	first, last *txn.Ref
	txns        uint64
	bytes       int64
}

// run is the state of one replay.
type run struct {
	opts Options
	// tgt is the target server: the pool, the replay lock, the run's
	// recorded sessions.
	tgt           *target.Target
	seq           *sequencer
	appliedBefore uint64 // from the checkpoint, when resuming
	resumed       bool   // started from a checkpoint
	// pending is the transaction the checkpoint names as started by an
	// earlier run but not known to be finished (see pending.go), until it
	// is settled; guarded by mu.
	pending *Pending
	// temps follows the binlog's temporary tables (dispatch only).
	temps tempTables
	// lastTime is the commit time of the last transaction the checkpoint
	// says was applied (zero on a fresh start), for the stop checks.
	lastTime time.Time
	// missed is set when reading ended before the stop point given
	// (stops.go); guarded by mu.
	missed *StopNotReachedError
	logw   io.Writer
	// keepGTIDs: target commits are logged with source GTIDs
	// (target.Target.DecideGTIDs).
	keepGTIDs bool
	// serial turns row decoding off where the binlog is serial (serial.go);
	// serialTxns counts the transactions dispatched while it was off.
	serial     serialMode
	serialTxns atomic.Uint64
	// schemas holds the target's table definitions, for the scheduler's
	// write sets and the SQL apply path; sqlApply says which row events
	// take that path (rowsql.go).
	schemas  *schema.Cache
	sqlApply *sqlgen.Generator
	logMu    sync.Mutex // serializes writes to logw

	// stmtWorker is the session statement-format and DDL groups run on,
	// one at a time (stmtMu), whichever worker picked them up.
	stmtWorker *worker
	stmtMu     sync.Mutex

	busy    atomic.Int64
	waiting atomic.Int64
	retries atomic.Uint64
	// bodies are the groups running their bodies, for the order monitor;
	// orderAborts counts the commit-order deadlocks it ended.
	bodies      bodies
	orderAborts atomic.Uint64
	mem         *budget

	mu      sync.Mutex
	stats   Stats
	first   *txn.Ref
	last    *txn.Ref
	stopWhy string
	readErr error
	// skippedEvents counts, by type, the events the reader skipped.
	skippedEvents map[string]uint64
	// barrierWhy counts barriers by reason (at most 20 reasons).
	barrierWhy map[string]uint64
	// uncertain is the group whose commit was cut off, if any.
	uncertain *uncertainGroup
	started   time.Time
	barriers  atomic.Uint64
	skipped   atomic.Uint64
	// expectedErrors counts the statements that failed on the target with
	// the error the source logged for them (worker.expected).
	expectedErrors atomic.Uint64
}

// Run replays the binlogs described by opts into the target. It returns
// the summary of what was applied and, if the replay did not reach its
// stop point, the error that stopped it (an *ApplyError for a transaction
// the target refused, a *binlog.Error for bad input).
//
// Cancelling ctx stops at a transaction boundary: every transaction on the
// target was committed whole, with its checkpoint, and --resume continues.
// When the target is lost (restarted, network cut), Run reconnects with
// backoff for up to opts.Reconnect and resumes from the target's checkpoint.
func Run(ctx context.Context, opts Options, logw io.Writer) (*Summary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if logw == nil {
		logw = io.Discard
	}
	return runResilient(ctx, opts, logw)
}

// runOnce is one replay, from connecting to the target to the stop point
// or the first error. It also returns the run's target sessions, for the
// next attempt to end if the target was lost (see target.Stale).
func runOnce(ctx context.Context, opts Options, logw io.Writer) (*Summary, target.Stale, error) {
	r := &run{opts: opts, logw: logw, started: time.Now()}
	tgt, err := target.Open(ctx, target.Config{DSN: opts.TargetDSN, TLS: opts.TargetTLS,
		Conns:  opts.Workers + 2, // workers, statement session, schema reads and the order monitor
		Resume: opts.Resume, Stale: opts.stale, NoLogBin: opts.NoLogBin}, r.logf)
	if err != nil {
		return nil, target.Stale{}, err
	}
	defer tgt.Close() // the replay lock last, once the run's other sessions are closed
	r.tgt = tgt
	start, err := r.prepare(ctx)
	if err != nil {
		return nil, tgt.Stale(), err
	}
	runErr := r.pipeline(ctx, start)
	return r.summary(), tgt.Stale(), runErr
}

// prepare checks the target, creates the checkpoint table and works out
// where to start reading.
func (r *run) prepare(ctx context.Context) (txn.Position, error) {
	db := r.tgt.DB()
	names, err := sqlgen.LoadCollations(ctx, db, r.logf)
	if err != nil {
		return txn.Position{}, err
	}
	r.schemas = schema.NewCache(db)
	mariadb, version := r.tgt.MariaDB(), r.tgt.Version()
	r.sqlApply = &sqlgen.Generator{TargetMariaDB: mariadb, IgnoredModes: sqlgen.IgnoredSQLModes(version, mariadb),
		Tables: r.schemas.Table, Shapes: r.schemas.Shape, Collations: names, Logf: r.logf}
	if err := r.tgt.TakeLock(ctx); err != nil {
		return txn.Position{}, err
	}
	r.tgt.EndStaleSessions(ctx)
	cp, err := target.ReadCheckpointSettled(ctx, db)
	if err != nil {
		return txn.Position{}, err
	}
	start := r.opts.StartPosition
	switch {
	case cp != nil && !r.opts.Resume:
		return txn.Position{}, fmt.Errorf("the target has a checkpoint from an earlier replay (%d transactions applied, next %s): "+
			"use --resume to continue it, or drop the database `%s` on the target to start over", cp.Applied, cp.Next, CheckpointSchema)
	case cp == nil && r.opts.Resume && !r.opts.resumeOrStart:
		return txn.Position{}, errors.New("--resume: the target has no checkpoint to resume from")
	case cp != nil:
		start = cp.Next
		r.appliedBefore = cp.Applied
		r.resumed = true
		if cp.TempTables != "" {
			return txn.Position{}, tempTablesLost(cp)
		}
		r.lastTime = cp.SourceTime
		r.logf("resuming from checkpoint %s (%d transactions applied before)", cp.Next, cp.Applied)
	}
	if err := r.checkPending(cp); err != nil {
		return txn.Position{}, err
	}
	switch {
	case !start.IsZero():
	case r.opts.Source.DSN == "":
		start = txn.Position{File: binlog.LogName(r.opts.Files[0])}
	case r.opts.Source.StartGTID == "":
		return txn.Position{}, errors.New("the target's checkpoint names no position yet: start again with --source-start")
	}
	if r.opts.StartGTIDsFromTarget && cp == nil {
		if r.opts.StartGTIDs, err = r.tgt.StartGTIDs(ctx); err != nil {
			return txn.Position{}, err
		}
	}
	if err := r.checkStartGap(ctx, start); err != nil {
		return txn.Position{}, err
	}
	if err := r.checkStops(ctx, start); err != nil {
		return txn.Position{}, err
	}
	if err := r.checkBinlogPrivilege(ctx, start); err != nil {
		return txn.Position{}, err
	}
	r.stats.Position = start
	conn, err := db.Conn(ctx)
	if err != nil {
		return txn.Position{}, fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	if r.keepGTIDs, err = r.tgt.DecideGTIDs(ctx, conn, r.opts.TargetGTIDs); err != nil {
		return txn.Position{}, err
	}
	if err := r.createCheckpoint(ctx, conn, cp == nil, start); err != nil {
		return txn.Position{}, err
	}
	return start, nil
}

// createCheckpoint creates the checkpoint and sessions tables if missing,
// replaces the sessions recorded by earlier runs with the connection
// holding the replay lock (see stale.go) and, when fresh, creates the
// checkpoint naming start, out of the target's binlog when source GTIDs
// are kept (see GTIDMode).
func (r *run) createCheckpoint(ctx context.Context, conn *sql.Conn, fresh bool, start txn.Position) (err error) {
	if r.keepGTIDs {
		if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin=0"); err != nil {
			return fmt.Errorf("create checkpoint: %w", err)
		}
		defer func() {
			// The connection goes back to the pool: it must log again.
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_log_bin=1"); rerr != nil && err == nil {
				err = fmt.Errorf("create checkpoint: %w", rerr)
			}
		}()
	}
	if err := target.EnsureTables(ctx, conn); err != nil {
		return err
	}
	if err := r.tgt.ResetSessions(ctx, conn); err != nil {
		return err
	}
	if err := r.tgt.RecordLockSession(ctx, conn); err != nil {
		return err
	}
	if fresh {
		first := &txn.Txn{End: start}
		if _, err := conn.ExecContext(ctx, target.CheckpointSQL(first, 0, "")); err != nil {
			return fmt.Errorf("create checkpoint: %w", err)
		}
	}
	return nil
}

// pipeline runs the stages: read -> dispatch -> workers.
func (r *run) pipeline(ctx context.Context, start txn.Position) error {
	r.seq = newSequencer(0)
	r.mem = newBudget(r.opts.MemoryBudget)
	sw, err := r.newWorker(ctx)
	if err != nil {
		return err
	}
	defer sw.sess.Close()
	r.stmtWorker = sw
	// Losing the replay lock's connection stops the run as a lost target
	// does: it no longer knows that no other run applies.
	base, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	go func() {
		select {
		case <-r.tgt.LockLost():
			abort(r.tgt.LockErr())
		case <-base.Done():
		}
	}()
	g, gctx := errgroup.WithContext(base)
	// The reader stops at the first cancellation (a graceful stop); the
	// workers finish what was dispatched unless something failed.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		<-gctx.Done()
		stopReading()
	}()
	txns := make(chan *txn.Txn, 256)
	groups := make(chan *group, r.opts.Workers)
	g.Go(func() error { return r.read(readCtx, start, txns) })
	g.Go(func() error { return r.dispatch(gctx, txns, groups) })
	for i := 0; i < r.opts.Workers; i++ {
		g.Go(func() error {
			w, err := r.newWorker(gctx)
			if err != nil {
				return err
			}
			defer w.sess.Close()
			return w.loop(gctx, groups)
		})
	}
	if r.opts.Workers > 1 {
		go r.monitorOrder(gctx)
	}
	go r.tgt.WatchStalls(gctx, r.opts.StallReport, func() (uint64, bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.stats.Applied, r.busy.Load() > 0
	})
	if r.opts.Progress != nil {
		done := make(chan struct{})
		defer close(done)
		go r.reportProgress(done)
	}
	err = g.Wait()
	if lost := r.tgt.LockErr(); lost != nil && err != nil {
		err = lost // the workers' errors follow from it
	}
	if err != nil {
		r.seq.fail(err)
		if r.readErr == nil {
			// Whatever the reader reached, the run stopped on this error.
			r.forceStop("stopped on an error (below): the target holds every transaction before the one it names, and nothing of it")
		}
	}
	if err == nil {
		err = r.readErr
	}
	if err == nil && ctx.Err() == nil && !r.opts.StopNeverReachedOK {
		r.mu.Lock()
		if r.missed != nil {
			err = r.missed
		}
		r.mu.Unlock()
	}
	if err == nil && ctx.Err() != nil && r.stopReason() == "" {
		r.setStop("interrupted: stopped at a transaction boundary, checkpoint saved")
	}
	return err
}

// newWorker opens a target session for a worker.
func (r *run) newWorker(ctx context.Context) (*worker, error) {
	sess, err := r.tgt.NewSession(ctx, r.opts.LockWaitTimeout)
	if err != nil {
		return nil, err
	}
	sess.Expected = func(*sqlgen.Stmt) { r.expectedErrors.Add(1) }
	return &worker{r: r, sess: sess}, nil
}

// read reads transactions from the files, filters them and sends the ones
// to apply to out, which it closes.
func (r *run) read(ctx context.Context, start txn.Position, out chan<- *txn.Txn) error {
	defer close(out)
	var total int64
	for _, f := range r.opts.Files {
		if binlog.Compressed(f) {
			total = 0 // unknown until read
			break
		}
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	r.mu.Lock()
	r.stats.BytesTotal = total
	r.mu.Unlock()
	rd, err := r.openReader(ctx, start)
	if err != nil {
		return err
	}
	defer func() {
		skipped := rd.Stats().Skipped
		r.mu.Lock()
		r.skippedEvents = skipped
		r.mu.Unlock()
		rd.Close()
	}()
	f := filter.New(r.opts.Filter(r.opts.Files))
	sent := 0
	skipping := false // the pieces of a transaction the GTID filters skip
	for first := true; ; first = false {
		t, err := rd.Next(ctx)
		if first && (err == nil || errors.Is(err, io.EOF)) {
			if err := r.checkStopPassedAtStart(f, rd, start); err != nil {
				r.setReadErr(err, "nothing applied: the stop point is behind the start point")
				return nil
			}
		}
		if errors.Is(err, io.EOF) && r.opts.Source.DSN != "" {
			r.stopNotReached(f, rd, "reached the end of the source's binlog")
			return nil
		}
		if errors.Is(err, io.EOF) {
			r.endOfBinlogs(f, rd, sent)
			return nil
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil
		}
		var trunc *binlog.TruncatedError
		if errors.As(err, &trunc) && !r.opts.Strict {
			r.stopNotReached(f, rd, fmt.Sprintf("the last binlog ends inside a transaction (%v): applied every complete transaction before it; --strict refuses such input", err))
			return nil
		}
		if err != nil {
			// Apply what was read before the bad input (or the lost
			// source), then report it.
			why := "bad input in the binlogs: every transaction before it was applied"
			if r.opts.Source.DSN != "" {
				why = "the source failed (connection lost, or bad input): every complete transaction before it was applied"
			}
			r.setReadErr(err, why)
			return nil
		}
		if t.Part > 0 {
			// A piece of a transaction read in pieces (stream.go): its
			// GTID is known from the first, its end and commit time only
			// with the last; a stream ended early is rolled back.
			if t.Part == 1 {
				skipping = f.Skips(t)
			}
			switch stop := f.StopAt(t); {
			case stop != "":
				r.setStop(stop)
				return nil
			case skipping:
				if t.Final {
					r.skipped.Add(1)
				}
				continue
			}
		} else {
			if stop := f.Stop(t); stop != "" {
				r.setStop(stop)
				return nil
			}
			if f.Skips(t) {
				r.skipped.Add(1)
				continue
			}
		}
		f.Include(t)
		if err := r.mem.acquire(ctx, t); err != nil {
			return nil // cancelled: a graceful stop
		}
		select {
		case out <- t:
			sent++
		case <-ctx.Done():
			return nil
		}
	}
}

// openReader opens the binlog files, or connects to the source server, to
// read from start.
func (r *run) openReader(ctx context.Context, start txn.Position) (*binlog.Reader, error) {
	readAhead, decodeMax := readerLimits(r.opts.MemoryBudget)
	bo := binlog.Options{Start: start, SkipUnknown: r.opts.SkipUnknown,
		DecodeRows: r.parallel(), DecodeMaxBytes: decodeMax, ReadAheadBytes: readAhead, StreamAbove: decodeMax,
		SkipDecode: &r.serial.skip, DecodeJSON: r.sqlApply.TargetMariaDB, NoContinuityCheck: r.opts.NoContinuityCheck}
	if r.opts.Source.DSN == "" {
		return binlog.NewReader(r.opts.Files, bo)
	}
	src, err := r.opts.Source.Remote()
	if err != nil {
		return nil, err
	}
	rd, err := binlog.NewRemoteReader(ctx, src, bo)
	if err != nil {
		return nil, sourceError{err}
	}
	return rd, nil
}

// committed records that g is committed on the target.
func (r *run) committed(g *group) {
	r.seq.done(g.last())
	if g.stream == nil { // a stream's pieces gave their memory back as they were sent
		r.mem.release(g.txns)
	}
	last := g.txns[len(g.txns)-1]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		r.first = g.txns[0].Ref()
	}
	r.last = last.Ref()
	r.stats.Applied += uint64(len(g.txns))
	r.stats.SQLRowEvents += g.sqlEvents
	r.stats.Position = last.End
	r.stats.SourceTime = last.Time
	for _, t := range g.txns {
		r.stats.BytesApplied += t.Bytes
	}
}

// commitUncertain records that g's COMMIT was sent but its outcome is
// unknown (the connection was lost): the checkpoint read by the next run
// tells whether it committed.
func (r *run) commitUncertain(g *group) {
	u := &uncertainGroup{first: g.txns[0].Ref(), last: g.txns[len(g.txns)-1].Ref(), txns: uint64(len(g.txns))}
	for _, t := range g.txns {
		u.bytes += t.Bytes
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.uncertain = u
}

// setReadErr records an error found while reading (bad input, a start
// point that does not fit the binlogs), and why as the stop reason: the
// transactions read before it are still applied, then the replay stops
// with this error.
func (r *run) setReadErr(err error, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readErr = err
	r.stopWhy = why
	if r.opts.Source.DSN != "" {
		r.readErr = sourceError{err} // stops the run: no reconnection to the target helps
	}
}

// parallel reports whether transactions are keyed to run side by side.
func (r *run) parallel() bool { return r.opts.Workers > 1 }

// noteBarrier counts a transaction that must run alone, by reason.
func (r *run) noteBarrier(t *txn.Txn, reason string) {
	r.barriers.Add(1)
	if t.Kind != txn.KindRows {
		reason = t.Kind.String()
	} else if i := strings.Index(reason, " ("); i > 0 {
		reason = reason[:i]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.barrierWhy == nil {
		r.barrierWhy = map[string]uint64{}
	}
	if _, ok := r.barrierWhy[reason]; ok || len(r.barrierWhy) < 20 {
		r.barrierWhy[reason]++
	}
}

// applyError wraps err, raised applying statement s (nil: unknown) of t,
// in an *ApplyError. The statement is shown without its values unless
// opts.LogValues is set.
func (r *run) applyError(t *txn.Txn, s *sqlgen.Stmt, err error) error {
	var ae *ApplyError
	if errors.As(err, &ae) {
		return err
	}
	ae = &ApplyError{Seq: t.Seq, Start: t.Start, GTID: t.GTID.String(), Err: err, LogValues: r.opts.LogValues}
	if s != nil {
		if s.Event != nil {
			ae.Event = fmt.Sprintf("%s at %s", s.Event.TypeName, s.Event.Pos)
			if rows := s.Event.Rows; rows != nil && rows.Table != nil {
				ae.Table = rows.Table.Schema + "." + rows.Table.Table
			}
		}
		ae.Statement = sqlgen.Describe(s, r.opts.LogValues)
	}
	return ae
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (r *run) setStop(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopWhy == "" {
		r.stopWhy = why
	}
}

// forceStop records why as the stop reason, over any earlier one.
// The stop point is then not what was missed.
func (r *run) forceStop(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopWhy = why
	r.missed = nil
}

func (r *run) stopReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopWhy
}

func (r *run) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.logw, format+"\n", args...)
}

// snapshot returns the current statistics.
func (r *run) snapshot() Stats {
	r.mu.Lock()
	s := r.stats
	r.mu.Unlock()
	s.Elapsed = time.Since(r.started)
	s.Busy = int(r.busy.Load())
	s.Waiting = int(r.waiting.Load())
	s.Barriers = r.barriers.Load()
	s.Skipped = r.skipped.Load()
	return s
}

func (r *run) reportProgress(done <-chan struct{}) {
	interval := r.opts.ProgressInterval
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			r.opts.Progress(r.snapshot())
		}
	}
}

func (r *run) summary() *Summary {
	s := &Summary{Stats: r.snapshot(), StopReason: r.stopReason(), Retries: r.retries.Load(),
		OrderAborts: r.orderAborts.Load(), SourceGTIDs: r.keepGTIDs, SerialTxns: r.serialTxns.Load(),
		ExpectedErrors: r.expectedErrors.Load()}
	r.mu.Lock()
	defer r.mu.Unlock()
	s.First, s.Last = r.first, r.last
	s.StopNotReached = r.missed != nil
	s.base, s.uncertain = r.appliedBefore, r.uncertain
	s.BarrierReasons = r.barrierWhy
	if len(r.skippedEvents) > 0 {
		s.SkippedEvents = r.skippedEvents
	}
	s.Next = r.stats.Position
	return s
}
