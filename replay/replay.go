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
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/redact"
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
	opts          Options
	db            *sql.DB
	seq           *sequencer
	collations    *collations
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
	// keepGTIDs: target commits are logged with source GTIDs (gtids.go).
	keepGTIDs bool
	// serial turns row decoding off where the binlog is serial (serial.go);
	// serialTxns counts the transactions dispatched while it was off.
	serial     serialMode
	serialTxns atomic.Uint64
	// schemas holds the target's table definitions, for the scheduler's
	// write sets and the SQL apply path; sqlApply says which row events
	// take that path (rowsql.go).
	schemas  *schema.Cache
	sqlApply *sqlApply
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
	// sessions are the target connection ids of the workers; serverStart
	// is when the target started (Unix seconds). runID identifies the run
	// in binlog_replay.sessions (see stale.go).
	sessions    []uint64
	serverStart int64
	runID       string
	// lock is the target's replay lock, held for the whole run (runlock.go).
	lock     *replayLock
	started  time.Time
	barriers atomic.Uint64
	skipped  atomic.Uint64
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
// next attempt to end if the target was lost (see stale.go).
func runOnce(ctx context.Context, opts Options, logw io.Writer) (*Summary, staleSessions, error) {
	db, err := openTarget(opts.TargetDSN, opts.TargetTLS, opts.Workers+2) // workers, statement session, schema reads and the order monitor
	if err != nil {
		return nil, staleSessions{}, err
	}
	r := &run{opts: opts, db: db, logw: logw, started: time.Now(), runID: newRunID()}
	// The replay lock goes last, once the run's other sessions are closed.
	defer func() { r.lock.release() }()
	defer db.Close()
	start, err := r.prepare(ctx)
	if err != nil {
		return nil, r.staleSessions(), err
	}
	runErr := r.pipeline(ctx, start)
	return r.summary(), r.staleSessions(), runErr
}

// openTarget opens the target with the settings the applier relies on,
// over TLS with tlsConfig when it is set.
func openTarget(dsn string, tlsConfig *tls.Config, conns int) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse target DSN: %w", err)
	}
	if tlsConfig != nil {
		cfg.TLS = tlsConfig.Clone()
		cfg.AllowFallbackToPlaintext = false
	}
	cfg.MultiStatements = true
	cfg.InterpolateParams = true
	cfg.ParseTime = false
	cfg.MaxAllowedPacket = 0 // use the server's
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(conns + 1)
	db.SetMaxIdleConns(conns + 1)
	return db, nil
}

// prepare checks the target, creates the checkpoint table and works out
// where to start reading.
func (r *run) prepare(ctx context.Context) (txn.Position, error) {
	if err := r.db.PingContext(ctx); err != nil {
		if isMySQLError(err, errAccessDenied) {
			return txn.Position{}, fmt.Errorf("connect to target: %w (check the user and the password; "+
				"an account that REQUIREs SSL also needs TLS: --tls-ca FILE, or tls=true in the DSN)", err)
		}
		return txn.Position{}, fmt.Errorf("connect to target: %w", err)
	}
	names, err := loadCollations(ctx, r.db, r.logf)
	if err != nil {
		return txn.Position{}, err
	}
	r.collations = names
	var version string
	if err := r.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return txn.Position{}, fmt.Errorf("read the target's version: %w", err)
	}
	r.schemas = schema.NewCache(r.db)
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	r.sqlApply = &sqlApply{targetMariaDB: mariadb, ignoredModes: ignoredSQLModes(version, mariadb),
		tables: r.schemas.Table, shapes: r.schemas.Shape, logf: r.logf}
	if r.serverStart, err = serverStart(ctx, r.db); err != nil {
		return txn.Position{}, err
	}
	if err := r.takeLock(ctx); err != nil {
		return txn.Position{}, err
	}
	r.endStaleSessions(ctx)
	cp, err := readCheckpointSettled(ctx, r.db)
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
		if r.opts.StartGTIDs, err = r.startGTIDsFromTarget(ctx); err != nil {
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
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return txn.Position{}, fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	if r.keepGTIDs, err = r.decideGTIDs(ctx, conn); err != nil {
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
	if err := ensureCheckpointTable(ctx, conn); err != nil {
		return err
	}
	if err := r.resetSessions(ctx, conn); err != nil {
		return err
	}
	if err := r.recordLockSession(ctx, conn); err != nil {
		return err
	}
	if fresh {
		first := &txn.Txn{End: start}
		if _, err := conn.ExecContext(ctx, checkpointSQL(first, 0, "")); err != nil {
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
	defer sw.conn.Close()
	r.stmtWorker = sw
	// Losing the replay lock's connection stops the run as a lost target
	// does: it no longer knows that no other run applies.
	base, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	go func() {
		select {
		case <-r.lock.lostC():
			abort(r.lock.lostErr())
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
			defer w.conn.Close()
			return w.loop(gctx, groups)
		})
	}
	if r.opts.Workers > 1 {
		go r.monitorOrder(gctx)
	}
	go r.watchStalls(gctx)
	if r.opts.Progress != nil {
		done := make(chan struct{})
		defer close(done)
		go r.reportProgress(done)
	}
	err = g.Wait()
	if lost := r.lock.lostErr(); lost != nil && err != nil {
		err = lost // the workers' errors follow from it
	}
	if err != nil {
		r.seq.fail(err)
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

// newWorker opens a target connection and sets up its session.
func (r *run) newWorker(ctx context.Context) (*worker, error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to target: %w", err)
	}
	w := &worker{r: r, conn: conn}
	setup := fmt.Sprintf("SET SESSION autocommit=0, SESSION innodb_lock_wait_timeout=%d", int(r.opts.LockWaitTimeout/time.Second))
	if r.opts.NoLogBin {
		setup += ", SESSION sql_log_bin=0"
	}
	if _, err := conn.ExecContext(ctx, setup); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set up target session: %w", err)
	}
	var id uint64
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet, CONNECTION_ID()").Scan(&w.maxPacket, &id); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read target session settings: %w", err)
	}
	if err := r.recordSession(ctx, conn, r.addSession(id)); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
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
		SkipDecode: &r.serial.skip, DecodeJSON: r.sqlApply.targetMariaDB, NoContinuityCheck: r.opts.NoContinuityCheck}
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
func (r *run) applyError(t *txn.Txn, s *stmt, err error) error {
	var ae *ApplyError
	if errors.As(err, &ae) {
		return err
	}
	ae = &ApplyError{Seq: t.Seq, Start: t.Start, GTID: t.GTID.String(), Err: err, LogValues: r.opts.LogValues}
	if s != nil {
		if s.event != nil {
			ae.Event = fmt.Sprintf("%s at %s", s.event.TypeName, s.event.Pos)
			if rows := s.event.Rows; rows != nil && rows.Table != nil {
				ae.Table = rows.Table.Schema + "." + rows.Table.Table
			}
		}
		ae.Statement = describeStatement(s, r.opts.LogValues)
	}
	return ae
}

// describeStatement shows s in an error: the start of its SQL (its
// literals replaced by ? unless logValues is set), or the size of the
// BINLOG statement that passes its row events through.
func describeStatement(s *stmt, logValues bool) string {
	switch {
	case s.events != nil:
		return redact.BinlogStatement(binlogSize(s.events))
	case logValues:
		return abbreviate(s.sql, 200)
	}
	return abbreviate(redact.SQL(s.sql), 200)
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
