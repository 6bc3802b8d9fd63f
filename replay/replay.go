// Package replay applies binlog transactions to a target server, with
// commits in source order and a checkpoint in the same target transaction
// as the data, so the target always holds a prefix of the source history
// and a replay can resume exactly where it stopped.
//
// A run (Run) is, under one errgroup:
//
//	prepare (replay.go)   the target (internal/target): lock, checkpoint,
//	                      start point, stop and privilege checks
//	read (replay.go)      binlog files or a source server -> filter
//	                      (start, stop, include) -> transactions
//	apply                 internal/pipeline: dispatch (write sets, groups)
//	                      -> workers (target sessions) -> commit order
//	                      (sequencer) -> checkpoint
//
// and a lost target is reconnected to, the run resuming from the
// checkpoint (reconnect.go). Statements are made by internal/sqlgen: row
// events passed through in BINLOG statements, as mysqlbinlog does (the
// server decodes them itself with exact type fidelity and fires no
// triggers), or applied as SQL made from their images where the target
// user may not run BINLOG statements or Options.Apply.Mode says so (apply.go),
// and where the target cannot read them; statement-format events and DDL
// run as SQL in the source session's context.
package replay

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/adapt"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/budget"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen/dialect"
	"github.com/binlog-replay/binlog-replay/internal/target"

	"golang.org/x/sync/errgroup"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/compact"
	"github.com/binlog-replay/binlog-replay/internal/pipeline"
	"github.com/binlog-replay/binlog-replay/internal/pipeline/temptables"
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
	// GroupStats count how the groups ran: retries, aborts, chained
	// commits, serial stretches, barriers.
	GroupStats
	// SourceGTIDs tells whether the target logged the replayed
	// transactions with their source GTIDs (see GTIDMode).
	SourceGTIDs bool `json:"source_gtids"`
	// Apply is how row events were applied: ApplyBinlog (passed through)
	// or ApplySQL (see ApplyMode).
	Apply ApplyMode `json:"apply"`
	// SkippedEvents counts, by event type, the events skipped because they
	// are marked ignorable or because --skip-unknown was given. After a
	// reconnection each attempt's are added: an event read again by the
	// resumed attempt counts twice, and none goes unmentioned.
	SkippedEvents map[string]uint64 `json:"skipped_events,omitempty"`
	// CutByCrash lists the transactions left out because a crash of the
	// source cut its binlog file inside them and the server restarted,
	// rolling them back (binlog.CutTxn). After a reconnection each is
	// listed once.
	CutByCrash []binlog.CutTxn `json:"cut_by_crash,omitempty"`
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
	uncertain *pipeline.UncertainGroup
}

// GroupStats count how a replay's groups ran (see Summary).
type GroupStats struct {
	// Retries counts groups rolled back and retried after lock conflicts.
	Retries uint64 `json:"retries"`
	// OrderAborts counts the commit-order deadlocks ended by making the
	// later groups roll back (see ordermonitor.go).
	OrderAborts uint64 `json:"order_aborts"`
	// ChainedCommits counts the target commits sent before the one before
	// them was acknowledged, the target keeping them in order
	// (--commit-order server).
	ChainedCommits uint64 `json:"chained_commits"`
	// EarlyStarts counts the groups whose statements were sent before the
	// groups they depend on had committed, the target holding them on
	// those groups' row locks (--commit-order server).
	EarlyStarts uint64 `json:"early_starts"`
	// HeadStarts counts the groups that ran the transactions not waiting
	// for the group before them while it still ran its own, and the rest
	// after it (--commit-order server; docs/design.md, "Head start").
	HeadStarts uint64 `json:"head_starts"`
	// Repacked counts the groups applied as SQL sent again with one
	// statement per packet, after a packet joining several statements
	// could not be checked statement by statement (--apply sql).
	Repacked uint64 `json:"repacked"`
	// SerialTxns counts the transactions applied in serial stretches of
	// the binlog, where every group waited for the one before: their row
	// images were not decoded nor their write sets computed (internal/pipeline/adapt).
	SerialTxns uint64 `json:"serial_txns"`
	// BarrierReasons counts, by reason, the transactions that had to run
	// alone.
	BarrierReasons map[string]uint64 `json:"barrier_reasons,omitempty"`
}

// run is the state of one attempt of a replay.
type run struct {
	opts Options
	// again is what a reconnection carries from the lost attempt.
	again attempt
	// tgt is the target server: the pool, the replay lock, the run's
	// recorded sessions; pipe applies the transactions read.
	tgt  *target.Target
	pipe *pipeline.Pipeline
	// schemas holds the target's table definitions; gen makes the
	// statements; mem bounds the memory of the transactions in flight.
	schemas *schema.Cache
	gen     *sqlgen.Generator
	mem     *budget.Budget
	// startGroupTxns is where the adaptive group size starts (0: its least).
	startGroupTxns int
	// connectionIDObjects: the target has triggers, routines or views
	// calling CONNECTION_ID() (pipeline.Config.ConnectionIDObjects).
	connectionIDObjects bool
	// start is what prepare found: where to start, the checkpoint's
	// count, time and pending transaction, whether source GTIDs are kept.
	start startPoint
	logw  io.Writer
	logMu sync.Mutex // serializes writes to logw

	mu   sync.Mutex
	read readState // guarded by mu
	// skipped counts the transactions the GTID filters passed over.
	skipped atomic.Uint64
	started time.Time
}

// startPoint is where and how a run starts (prepare).
type startPoint struct {
	pos     txn.Position
	resumed bool   // from a checkpoint
	applied uint64 // the checkpoint's count of applied transactions
	// lastTime is the commit time of the last transaction the checkpoint
	// says was applied (zero on a fresh start), for the stop checks.
	lastTime  time.Time
	pending   *Pending // see checkPending
	keepGTIDs bool
	// excludeAdded is set when a resume was given --exclude-gtids its
	// checkpoint lacks: createCheckpoint records them.
	excludeAdded bool
	// beside is what the databases of --tables hold beside them
	// (tablesBeside).
	beside filterTables
	// ahead is the binlogs read ahead from the start (run.ahead).
	ahead *aheadScan
	// before is the GTID history before a position (run.historyBefore),
	// read once: the stop checks, the checkpoint check and the read
	// stage of a resume from the source each need it.
	before *historyAt
}

// historyAt is the GTID history before a binlog position.
type historyAt struct {
	pos txn.Position
	set txn.GTIDSet
}

// readState is what the read stage found, guarded by run.mu.
type readState struct {
	stopWhy    string
	err        error
	bytesTotal int64
	// skippedEvents counts, by type, the events the reader skipped.
	skippedEvents map[string]uint64
	// cut lists the transactions the reader left out after a crash of
	// the source.
	cut []binlog.CutTxn
	// missed is set when reading ended before the stop point given
	// (stops.go).
	missed *StopNotReachedError
}

// Run replays the binlogs described by opts into the target. It returns
// the summary of what was applied and, if the replay did not reach its
// stop point, the error that stopped it (an *ApplyError for a transaction
// the target refused, an *event.Error for bad input).
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
func runOnce(ctx context.Context, opts Options, again attempt, logw io.Writer) (attemptResult, error) {
	r := &run{opts: opts, again: again, logw: logw, started: time.Now()}
	conns := opts.Apply.Workers
	if conns == 0 {
		conns = maxAutoWorkers
	}
	tgt, err := target.Open(ctx, target.Config{DSN: opts.TargetDSN, TLS: opts.TargetTLS,
		Conns:  conns + 2, // workers, statement session, schema reads and the order monitor
		Resume: opts.Recovery.Resume || again.reconnected, Stale: again.stale, NoLogBin: opts.Apply.NoLogBin}, r.logf)
	if err != nil {
		return attemptResult{}, err
	}
	defer tgt.Close() // the replay lock last, once the run's other sessions are closed
	r.tgt = tgt
	res := attemptResult{reached: true}
	if err := r.foldCase(ctx); err != nil {
		res.stale = tgt.Stale()
		return res, err
	}
	if r.opts.Apply.Workers == 0 || r.opts.Apply.GroupTxns == 0 {
		rtt, err := tgt.RoundTrip(ctx)
		if err != nil {
			res.stale = tgt.Stale()
			return res, err
		}
		if r.opts.Apply.Workers == 0 {
			r.opts.Apply.Workers = AutoWorkers(runtime.NumCPU(), rtt)
			r.logf("workers: %d (%d processors here, a round trip of %s to the target)", r.opts.Apply.Workers, runtime.NumCPU(), rtt.Round(10*time.Microsecond))
		}
		if r.opts.Apply.GroupTxns == 0 {
			r.startGroupTxns = adapt.StartGroupTxns(rtt)
			if r.startGroupTxns > adapt.BaseGroupTxns {
				r.logf("groups: adaptive, from %d transactions (a round trip of %s to the target)", r.startGroupTxns, rtt.Round(10*time.Microsecond))
			}
		}
	}
	if r.opts.Apply.MemoryBudget == 0 {
		r.opts.Apply.MemoryBudget = AutoMemoryBudget(r.opts.Apply.Workers)
		r.logf("memory budget: %d MiB (%d workers; --memory sets it)", r.opts.Apply.MemoryBudget>>20, r.opts.Apply.Workers)
	}
	start, cp, err := r.prepare(ctx)
	if err == nil {
		// From here on a checkpoint on the target is this run's: the
		// one it accepted, or the one it creates.
		res.decided = true
		err = r.begin(ctx, start, cp)
	}
	if err != nil {
		res.stale = tgt.Stale()
		if again.reconnected && r.start.resumed {
			// A reconnected attempt read the target's checkpoint before
			// it stopped: its summary says where the target is, and so
			// settles a commit the lost attempt could not confirm.
			r.mu.Lock()
			r.read.stopWhy = fmt.Sprintf("stopped on an error (below) after reconnecting: the target holds every transaction before %s", r.start.pos)
			r.mu.Unlock()
			res.sum = r.summary()
		}
		return res, err
	}
	runErr := r.pipeline(ctx, start)
	res.sum, res.stale = r.summary(), tgt.Stale()
	return res, runErr
}

// attemptResult is what one attempt of a run tells runResilient.
type attemptResult struct {
	// sum is the attempt's summary, nil when it did not start applying.
	sum *Summary
	// stale are its target sessions, for the next attempt to end.
	stale target.Stale
	// reached: the target was connected to and opened.
	reached bool
	// decided: the start point was decided against the target's
	// checkpoint, so a checkpoint the target holds now is this run's.
	decided bool
}

// prepare checks the target and works out where to start reading from
// the options and the target's checkpoint, which it returns (nil when the
// target has none).
func (r *run) prepare(ctx context.Context) (txn.Position, *target.Checkpoint, error) {
	db := r.tgt.DB()
	names, err := dialect.LoadCollations(ctx, db, r.logf)
	if err != nil {
		return txn.Position{}, nil, err
	}
	r.schemas = schema.NewCache(db)
	mariadb, version := r.tgt.MariaDB(), r.tgt.Version()
	r.gen = &sqlgen.Generator{TargetMariaDB: mariadb, IgnoredModes: sqlgen.IgnoredSQLModes(version, mariadb),
		Tables: r.schemas.Table, Shapes: r.schemas.Shape, Collations: names, Logf: r.logf,
		TriggersFire: r.opts.Apply.SQLTriggers == TriggersFire}
	if err := r.tgt.TakeLock(ctx); err != nil {
		return txn.Position{}, nil, err
	}
	r.tgt.EndStaleSessions(ctx)
	cp, err := target.ReadCheckpointSettled(ctx, db)
	if err != nil {
		return txn.Position{}, nil, err
	}
	start := r.opts.Select.StartPosition
	switch {
	case cp != nil && !r.opts.Recovery.Resume && !r.again.reconnected:
		return txn.Position{}, nil, fmt.Errorf("the target has a checkpoint from an earlier replay (%d transactions applied, next %s): "+
			"use --resume to continue it, or drop the database `%s` on the target to start over", cp.Applied, cp.Next, CheckpointSchema)
	case cp == nil && r.opts.Recovery.Resume && !r.again.reconnected:
		return txn.Position{}, nil, errors.New("--resume: the target has no checkpoint to resume from")
	case cp != nil:
		start = cp.Next
		r.start.applied, r.start.resumed, r.start.pos = cp.Applied, true, cp.Next
		if cp.TempTables != "" {
			return txn.Position{}, nil, temptables.Lost(cp)
		}
		r.start.lastTime = cp.SourceTime
		r.logf("resuming from checkpoint %s (%d transactions applied before)", cp.Next, cp.Applied)
		if err := r.resumeStartGTIDs(cp); err != nil {
			return txn.Position{}, nil, err
		}
		if err := r.resumeExcludeGTIDs(cp); err != nil {
			return txn.Position{}, nil, err
		}
		if err := r.resumeSelection(cp); err != nil {
			return txn.Position{}, nil, err
		}
	}
	if err := r.checkRewriteDB(cp); err != nil {
		return txn.Position{}, nil, err
	}
	// After the selection a resume keeps is restored: the databases the
	// replay writes.
	written := r.opts.Select.RewriteDB.WrittenDatabases(r.opts.Select.Databases, r.opts.Select.Tables)
	if note, err := target.CheckEvents(ctx, db, written); err != nil {
		return txn.Position{}, nil, err
	} else if note != "" {
		r.logf("%s", note)
	}
	objs, err := target.ConnectionIDObjects(ctx, db, written)
	if err != nil {
		return txn.Position{}, nil, err
	}
	if r.connectionIDObjects = len(objs) > 0; r.connectionIDObjects {
		r.logf("the target has triggers, routines or views calling CONNECTION_ID() (%s): a statement firing one is flagged "+
			"as one using a temporary table is, so statements using a temporary table created before the start point "+
			"(a base taken while a session held it) are not told apart and refused", strings.Join(objs, ", "))
	}
	if err := r.checkPending(cp); err != nil {
		return txn.Position{}, nil, err
	}
	switch {
	case !start.IsZero():
	case r.opts.Source.DSN == "":
		start = txn.Position{File: logfile.Name(r.opts.Files[0])}
	case r.opts.Source.StartGTID == "" && cp != nil && cp.StartGTIDs != "":
		// A run that started from a GTID position and committed nothing:
		// the source finds that position again.
		r.opts.Source.StartGTID = cp.StartGTIDs
		r.logf("the checkpoint names no position yet: reading from the source at its --source-start %s", cp.StartGTIDs)
	case r.opts.Source.StartGTID == "":
		return txn.Position{}, nil, errors.New("the target's checkpoint names no position yet: start again with --source-start")
	}
	if r.opts.Select.StartGTIDsFromTarget && cp == nil {
		if r.opts.Select.StartGTIDs, err = r.tgt.StartGTIDs(ctx); err != nil {
			return txn.Position{}, nil, err
		}
	}
	if err := r.checkStartGap(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.checkStartBeyond(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.checkStartOrderResumed(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.checkExcludeWide(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.checkStops(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	if !r.start.resumed {
		why, err := r.opts.Select.HotBase.ClockBehind(ctx, r.scanOpener(), start)
		if err != nil {
			r.logf("warning: %v: whether the base's end is read in the right time zone is not checked", err)
		} else if why != "" {
			return txn.Position{}, nil, errors.New(why)
		}
	}
	if err := r.checkSideTables(ctx); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.checkFilterForeignKeys(ctx); err != nil {
		return txn.Position{}, nil, err
	}
	if r.start.beside, err = r.tablesBeside(ctx); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.checkRewrites(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	if err := r.decideApply(ctx, start); err != nil {
		return txn.Position{}, nil, err
	}
	r.start.pos = start
	return start, cp, nil
}

// begin decides which GTIDs the target logs and creates the checkpoint
// tables, and the checkpoint naming start when the target has none (cp
// nil).
func (r *run) begin(ctx context.Context, start txn.Position, cp *target.Checkpoint) error {
	conn, err := r.tgt.DB().Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	mode := r.opts.Apply.TargetGTIDs
	if len(r.opts.Select.RewriteDB) > 0 {
		r.logf("target GTIDs: the target's own, because --rewrite-db %s changes what the transactions write: they are not the source's",
			r.opts.Select.RewriteDB)
		mode = GTIDsOwn
	}
	if r.start.keepGTIDs, err = r.tgt.DecideGTIDs(ctx, conn, mode); err != nil {
		return err
	}
	if r.start.keepGTIDs && cp != nil {
		if err := target.CheckNothingLoggedPast(ctx, conn, cp.GTID, cp.Pending.GTID, 0); err != nil {
			// The source's sequence numbers need not rise: the target may
			// have logged higher ones of the domain before the checkpoint's
			// last transaction. Read how high they went.
			last, perr := txn.ParseGTID(cp.GTID)
			if perr == nil && last.Flavor == txn.FlavorMariaDB {
				if high, ok := r.highestBefore(ctx, cp, last.Domain); ok && high > last.Seq {
					err = target.CheckNothingLoggedPast(ctx, conn, cp.GTID, cp.Pending.GTID, high)
				}
			}
			if err != nil {
				return err
			}
		}
		if err := r.checkPendingDomain(ctx, conn, cp); err != nil {
			return err
		}
		if err := r.checkPendingLogged(ctx, cp); err != nil {
			return err
		}
	}
	return r.createCheckpoint(ctx, conn, cp == nil, start)
}

// checkPendingDomain checks, keeping source GTIDs, the domain of the
// transaction the checkpoint names as pending when it is not the domain of
// the last transaction applied (target.CheckPendingDomainLoggedPast): the
// GTID history before the checkpoint says how far the source's binlogs
// went in it.
func (r *run) checkPendingDomain(ctx context.Context, conn *sql.Conn, cp *target.Checkpoint) error {
	pending, err := txn.ParseGTID(cp.Pending.GTID)
	if err != nil || pending.Flavor != txn.FlavorMariaDB {
		return nil
	}
	if last, err := txn.ParseGTID(cp.GTID); err == nil && last.Domain == pending.Domain {
		return nil // CheckNothingLoggedPast's
	}
	high, ok := r.highestBefore(ctx, cp, pending.Domain)
	if !ok {
		return nil
	}
	return target.CheckPendingDomainLoggedPast(ctx, conn, cp.Pending.GTID, high)
}

// highestBefore returns the highest sequence number of domain in the
// binlogs before cp's next position (the GTID list at the start of its
// file and the transactions before it there), 0 when they have none;
// false when they cannot be read (it says so).
func (r *run) highestBefore(ctx context.Context, cp *target.Checkpoint, domain uint32) (uint64, bool) {
	if cp.Next.IsZero() {
		return 0, false
	}
	before, err := r.historyBefore(ctx, cp.Next)
	if err != nil {
		r.logf("could not read the binlogs before the checkpoint %s (%v): the target's GTIDs of domain %d are not checked "+
			"against them", cp.Next, err, domain)
		return 0, false
	}
	seq, _ := before.DomainSeq(domain)
	return seq, true
}

// createCheckpoint creates the checkpoint and sessions tables if missing,
// replaces the sessions recorded by earlier runs with the connection
// holding the replay lock (see stale.go) and, when fresh, creates the
// checkpoint naming start, out of the target's binlog when source GTIDs
// are kept (see GTIDMode).
func (r *run) createCheckpoint(ctx context.Context, conn *sql.Conn, fresh bool, start txn.Position) (err error) {
	if r.start.keepGTIDs {
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
	if r.start.keepGTIDs {
		if err := target.OpenMemoryTables(ctx, conn); err != nil {
			return err
		}
	}
	if err := r.tgt.ResetSessions(ctx, conn); err != nil {
		return err
	}
	if err := r.tgt.RecordLockSession(ctx, conn); err != nil {
		return err
	}
	if fresh {
		return r.createFresh(ctx, conn, start)
	}
	if r.start.excludeAdded {
		if _, err := conn.ExecContext(ctx, target.SettingSQL(target.ColumnExcludeGTIDs, r.opts.Select.ExcludeGTIDs.String())); err != nil {
			return fmt.Errorf("record the --exclude-gtids in the checkpoint: %w", err)
		}
	}
	// The resume's stop point (given, kept or dropped by --to-end) is the
	// one the next resume keeps.
	if _, err := conn.ExecContext(ctx, target.SettingSQL(target.ColumnSelection, r.opts.Select.keep())); err != nil {
		return fmt.Errorf("record the selection in the checkpoint: %w", err)
	}
	return nil
}

// createFresh creates the checkpoint naming start, with the run's
// --rewrite-db rules, in one transaction, its statements sent together
// (conn is the target pool's, which takes several statements at once).
func (r *run) createFresh(ctx context.Context, conn *sql.Conn, start txn.Position) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create checkpoint: %w", err)
	}
	defer tx.Rollback()
	first := &txn.Txn{End: start}
	stmts := []string{target.CheckpointSQL(first, 0, "")}
	for _, s := range [][2]string{
		{target.ColumnRewriteDB, r.opts.Select.RewriteDB.String()},
		{target.ColumnStartGTIDs, r.opts.Select.StartGTIDs.String()},
		{target.ColumnExcludeGTIDs, r.opts.Select.ExcludeGTIDs.String()},
		{target.ColumnSelection, r.opts.Select.keep()},
	} {
		stmts = append(stmts, target.SettingSQL(s[0], s[1]))
	}
	if _, err := tx.ExecContext(ctx, strings.Join(stmts, ";\n")); err != nil {
		return fmt.Errorf("create checkpoint: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create checkpoint: %w", err)
	}
	return nil
}

// pipeline runs the stages: read -> apply (internal/pipeline).
func (r *run) pipeline(ctx context.Context, start txn.Position) error {
	r.mem = budget.New(r.opts.Apply.MemoryBudget)
	deps := pipeline.Deps{Target: targetSessions{r}, Tables: r.schemas, Gen: r.gen, Mem: r.mem, Logf: r.logf}
	if r.opts.Apply.Compact {
		c := compact.New(r.schemas)
		deps.Compact = c.Group
		defer func() { r.logf("%s", c.Describe()) }()
	}
	r.pipe = pipeline.New(pipeline.Config{Workers: r.opts.Apply.Workers, GroupTxns: r.opts.Apply.GroupTxns, GroupBytes: r.opts.Apply.GroupBytes,
		StartGroupTxns: r.startGroupTxns,
		MaxRetries:     r.opts.Recovery.MaxRetries, KeepGTIDs: r.start.keepGTIDs, LogValues: r.opts.Report.LogValues,
		ChainCommits: !r.opts.Apply.ClientCommitOrder, LockWait: r.opts.Recovery.LockWaitTimeout,
		AppliedBefore: r.start.applied, Start: start, Pending: r.start.pending, Uncertain: r.opts.Recovery.Uncertain,
		ConnectionIDObjects: r.connectionIDObjects},
		deps)
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
	g.Go(func() error { return r.readStage(readCtx, start, txns) })
	g.Go(func() error { return r.pipe.Run(gctx, txns) })
	go r.tgt.WatchStalls(gctx, r.opts.Report.StallReport, func() (uint64, bool) {
		s := r.pipe.Snapshot()
		return s.Applied, s.Busy > 0
	})
	if r.opts.Report.Progress != nil {
		done := make(chan struct{})
		defer close(done)
		go r.reportProgress(done)
	}
	err := g.Wait()
	if lost := r.tgt.LockErr(); lost != nil && err != nil {
		err = lost // the workers' errors follow from it
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && r.read.err == nil {
		// Whatever the reader reached, the run stopped on this error: the
		// stop point is not what was missed.
		r.read.stopWhy = "stopped on an error (below): the target holds every transaction before the one it names, and nothing of it"
		if applied := (*pipeline.AppliedError)(nil); errors.As(err, &applied) {
			r.read.stopWhy = "stopped on an error (below): the target holds the transaction it names, and every one before"
		}
		r.read.missed = nil
	}
	if err == nil {
		err = r.read.err
	}
	if err == nil && ctx.Err() == nil && !r.opts.Select.StopNeverReachedOK && r.read.missed != nil {
		err = r.read.missed
	}
	if err == nil && ctx.Err() != nil && r.read.stopWhy == "" {
		r.read.stopWhy = "interrupted: stopped at a transaction boundary, checkpoint saved"
	}
	return err
}

// targetSessions is the run's target as the pipeline sees it.
type targetSessions struct{ r *run }

// NewSession opens a target session for a worker.
func (ts targetSessions) NewSession(ctx context.Context) (pipeline.Session, error) {
	sess, err := ts.r.tgt.NewSession(ctx, ts.r.opts.Recovery.LockWaitTimeout)
	if err != nil {
		return nil, err
	}
	sess.Expected = func(*sqlgen.Stmt) { ts.r.pipe.ExpectedError() }
	return sess, nil
}

// Unlogged is target.Target.Unlogged.
func (ts targetSessions) Unlogged(sql string) string { return ts.r.tgt.Unlogged(sql) }

// Exec runs sql on a pooled connection.
func (ts targetSessions) Exec(ctx context.Context, sql string) error {
	conn, err := ts.r.tgt.DB().Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, sql)
	if err != nil && strings.HasPrefix(sql, "SET SESSION sql_log_bin=0") {
		// The statements after the failed one did not run: the
		// connection goes back to the pool logged again.
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_log_bin=1"); rerr != nil {
			// Not back to the pool, then.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	return err
}

// LockWaiting is target.Target.LockWaiting.
func (ts targetSessions) LockWaiting(ctx context.Context) (bool, error) {
	return ts.r.tgt.LockWaiting(ctx)
}

// read reads transactions from the files, filters them and sends the ones
// to apply to out, which it closes.
func (r *run) readStage(ctx context.Context, start txn.Position, out chan<- *txn.Txn) error {
	defer close(out)
	var total int64
	for _, f := range r.opts.Files {
		if logfile.Compressed(f) {
			total = 0 // unknown until read
			break
		}
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	r.mu.Lock()
	r.read.bytesTotal = total
	r.mu.Unlock()
	var resumedFrom *txn.GTIDSet
	if r.opts.Source.DSN != "" && !start.IsZero() && !r.opts.Select.StartGTIDs.IsEmpty() {
		// Resumed from the source: what was logged before the checkpoint
		// says where --start-gtid's position lies (the source, asked to
		// start there, sends none of it). Read first: a second dump
		// connection of the run's server id would end the reader's.
		before, err := r.historyBefore(ctx, start)
		if err != nil {
			return err
		}
		resumedFrom = &before
	}
	rd, err := r.openReader(ctx, start)
	if err != nil {
		return err
	}
	defer func() {
		st := rd.Stats()
		r.mu.Lock()
		r.read.skippedEvents, r.read.cut = st.Skipped, st.Cut
		r.mu.Unlock()
		rd.Close()
	}()
	f := filter.New(r.opts.Filter(r.opts.Files))
	if r.opts.Source.DSN != "" && start.IsZero() && r.opts.Source.StartGTID != "" {
		f.StartPassed() // the source sends what follows its GTID position
	}
	if resumedFrom != nil {
		f.StartHistory(*resumedFrom)
	}
	rw, err := r.opts.rewriter(r.opts.Files, r.start.beside)
	if err != nil {
		return err
	}
	sent := 0
	skipping := false  // the pieces of a transaction the GTID filters skip
	restarted := false // a transaction the filters skip was the first after its server restarted
	for first := true; ; first = false {
		t, err := rd.Next(ctx)
		if t != nil {
			// Passed on to the next transaction applied: the pipeline
			// drops the temporary tables of before the restart there.
			restarted = restarted || t.ServerRestarted
		}
		// What was read of a transaction the binlogs end inside, or a
		// crash cut: a stop point before it is honoured, as before it
		// whole.
		partial := binlog.PartialTxn(err)
		if first && (err == nil || errors.Is(err, io.EOF) || partial != nil) {
			atStart, _, _ := rd.GTIDHistory()
			f.StartHistory(atStart)
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
		if partial != nil {
			if stop := f.Stop(partial); stop != "" && r.stopHeld(f, partial, sent) {
				return nil
			} else if stop != "" {
				r.setStop(stop)
				return nil
			}
		}
		var trunc *binlog.TruncatedError
		if errors.As(err, &trunc) && !r.opts.Recovery.Strict {
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
			case stop != "" && r.stopHeld(f, t, sent):
				return nil
			case stop != "":
				r.setStop(stop)
				return nil
			case t.Part == 1 && (r.startOrder(f, t) || r.excludeWide(f, t)):
				return nil
			case skipping:
				if t.Final {
					r.skipped.Add(1)
				}
				continue
			}
		} else {
			if stop := f.Stop(t); stop != "" && r.stopHeld(f, t, sent) {
				return nil
			} else if stop != "" {
				r.setStop(stop)
				return nil
			}
			if r.startOrder(f, t) || r.excludeWide(f, t) {
				return nil
			}
			if f.Skips(t) {
				r.skipped.Add(1)
				continue
			}
			if err := r.opts.Select.HotBase.Risk(t); err != nil {
				r.setReadErr(err, "refused: the hot base backup may already hold this transaction's non-transactional changes: every transaction before it was applied, and nothing of it")
				return nil
			}
		}
		if rw != nil { // the filters and --rewrite-db (none: nothing to leave out)
			if restarted {
				rw.SourceRestarted()
			}
			if err := rw.Apply(t); err != nil {
				r.setReadErr(err, refusedWhy(err)+": every transaction before it was applied, and nothing of it")
				return nil
			}
		}
		if err := r.mem.Acquire(ctx, t); err != nil {
			return nil // cancelled: a graceful stop
		}
		t.ServerRestarted, restarted = restarted, false
		select {
		case out <- t:
			sent++
		case <-ctx.Done():
			return nil
		}
	}
}

// stopHeld reports whether the reading ends at t, the stop point being
// met on a transaction the target already holds (filter.StopHeld) before
// this run sent anything to be applied: the stop point is behind the
// start, refused (*StopPassedError). After transactions it applied (a
// --start-gtid of several domains holds transactions written after some
// it lacks) it warns and the replay stops there as usual: the target
// keeps what it holds past the stop point.
func (r *run) stopHeld(f *filter.Filter, t *txn.Txn, sent int) bool {
	why := f.StopHeld(t)
	switch {
	case why == "":
		return false
	case sent == 0:
		r.setReadErr(&StopPassedError{Why: why}, "nothing applied: the stop point is behind what the target holds")
		return true
	}
	r.logf("warning: %s: it holds transactions past the stop point, which a replay cannot take back", why)
	return false
}

// startOrder reports whether the reading stops at t because --start-gtid
// cannot place it (filter.CheckStartOrder), recording why.
func (r *run) startOrder(f *filter.Filter, t *txn.Txn) bool {
	if err := f.CheckStartOrder(t); err != nil {
		r.setReadErr(err, "refused: --start-gtid cannot say whether the base holds this transaction: every transaction before it was applied, and nothing of it")
		return true
	}
	return false
}

// excludeWide reports whether the reading stops at t because a MariaDB
// position of --exclude-gtids would skip it beside its own transaction
// (filter.ExcludeWide), recording why.
func (r *run) excludeWide(f *filter.Filter, t *txn.Txn) bool {
	if err := f.ExcludeWide(t); err != nil {
		r.setReadErr(err, "refused: --exclude-gtids names more than its own transaction here: every transaction before it was applied, and nothing of it")
		return true
	}
	return false
}

// openReader opens the binlog files, or connects to the source server, to
// read from start.
func (r *run) openReader(ctx context.Context, start txn.Position) (*binlog.Reader, error) {
	readAhead, decodeMax := budget.ReaderLimits(r.opts.Apply.MemoryBudget)
	bo := binlog.Options{Start: start, SkipUnknown: r.opts.Recovery.SkipUnknown,
		DecodeRows: r.opts.Apply.Workers > 1, DecodeMaxBytes: decodeMax, ReadAheadBytes: readAhead, StreamAbove: decodeMax,
		SkipDecode: r.pipe.SkipDecode(), DecodeJSON: r.gen.TargetMariaDB, DecodeSequences: r.gen.TargetMariaDB,
		NoContinuityCheck: r.opts.Recovery.NoContinuityCheck}
	if r.opts.Apply.Compact {
		// Compaction reads the rows' key values.
		bo.DecodeRows, bo.SkipDecode = true, nil
	}
	if r.gen.ApplySQL {
		// Every row event is applied from its images: all decoded, a
		// large transaction too (it comes in pieces of at most decodeMax
		// bytes, each decoded as it is read).
		bo.DecodeRows, bo.DecodeMaxBytes, bo.SkipDecode = true, 0, nil
	}
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

// setReadErr records an error found while reading (bad input, a start
// point that does not fit the binlogs), and why as the stop reason: the
// transactions read before it are still applied, then the replay stops
// with this error.
func (r *run) setReadErr(err error, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read.err = err
	r.read.stopWhy = why
	if r.opts.Source.DSN != "" {
		r.read.err = sourceError{err} // stops the run: no reconnection to the target helps
	}
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
	if r.read.stopWhy == "" {
		r.read.stopWhy = why
	}
}

// forceStop records why as the stop reason, over any earlier one.
// The stop point is then not what was missed.
func (r *run) forceStop(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read.stopWhy = why
	r.read.missed = nil
}

func (r *run) stopReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.read.stopWhy
}

func (r *run) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.logw, format+"\n", args...)
}

// snapshot returns the current statistics: what the pipeline committed
// (the start point before it ran) and what the reader found.
func (r *run) snapshot() Stats {
	var ps pipeline.Snapshot
	if r.pipe != nil {
		ps = r.pipe.Snapshot()
	} else {
		ps.Position = r.start.pos
	}
	r.mu.Lock()
	total := r.read.bytesTotal
	r.mu.Unlock()
	return Stats{Applied: ps.Applied, Skipped: r.skipped.Load(), BytesApplied: ps.Bytes, BytesTotal: total,
		Position: ps.Position, SourceTime: ps.SourceTime, Elapsed: time.Since(r.started),
		Busy: ps.Busy, Waiting: ps.Waiting, Parallelism: ps.Parallelism, Barriers: ps.Barriers,
		SQLRowEvents: ps.SQLRowEvents}
}

func (r *run) reportProgress(done <-chan struct{}) {
	interval := r.opts.Report.ProgressInterval
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
			r.opts.Report.Progress(r.snapshot())
		}
	}
}

func (r *run) summary() *Summary {
	s := &Summary{Stats: r.snapshot(), StopReason: r.stopReason(), SourceGTIDs: r.start.keepGTIDs, base: r.start.applied,
		Apply: ApplyBinlog}
	if r.gen != nil && r.gen.ApplySQL {
		s.Apply = ApplySQL
	}
	if r.pipe != nil {
		ps := r.pipe.Snapshot()
		s.Retries, s.OrderAborts, s.SerialTxns, s.ExpectedErrors = ps.Retries, ps.OrderAborts, ps.SerialTxns, ps.ExpectedErrors
		s.ChainedCommits, s.Repacked, s.EarlyStarts, s.HeadStarts = ps.ChainedCommits, ps.Repacked, ps.EarlyStarts, ps.HeadStarts
		s.First, s.Last, s.uncertain, s.BarrierReasons = ps.First, ps.Last, ps.Uncertain, ps.BarrierReasons
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s.StopNotReached = r.read.missed != nil
	if len(r.read.skippedEvents) > 0 {
		s.SkippedEvents = r.read.skippedEvents
	}
	s.CutByCrash = r.read.cut
	s.Next = s.Position
	return s
}
