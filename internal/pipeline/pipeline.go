// Package pipeline applies source transactions to a target, in parallel,
// with commits in source order and a checkpoint in each commit: the stages
// after the reading of the binlogs.
//
//	transactions (from the read stage, in source order)
//	  -> dispatch (dispatch.go): tickets, write sets (partition), groups
//	  -> workers (worker.go): a target session each, a group's body, then
//	     its turn and its COMMIT with the checkpoint
//	  -> sequencer (internal/pipeline/sequencer): commit order, commit-order deadlocks
//	     (ordermonitor.go)
//
// Transactions that cannot be applied in a group run alone: DDL (with a
// fingerprint for exactly-once resume, worker.go and ctas.go), those
// writing non-transactional tables (solo.go), those read in pieces
// (stream.go). The memory the transactions in flight hold is bounded
// (internal/pipeline/budget); serial stretches of binlog skip row decoding
// (internal/pipeline/adapt).
//
// The pipeline talks to the target through Target and Session, and reads
// table definitions through Tables, so that its logic is tested without a
// server (pipeline_test.go).
package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/adapt"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/temptables"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/budget"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/sequencer"

	"golang.org/x/sync/errgroup"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Config are the pipeline's settings.
type Config struct {
	// Workers is how many target sessions apply groups in parallel.
	Workers int
	// GroupTxns and GroupBytes bound how many consecutive source
	// transactions one target commit may hold; GroupTxns 0 lets the
	// pipeline choose, as it goes (internal/pipeline/adapt).
	GroupTxns  int
	GroupBytes int64
	// StartGroupTxns is the size the adaptive group size starts at
	// (adapt.StartGroupTxns; 0: the least).
	StartGroupTxns int
	// MaxRetries bounds the retries of a group after lock conflicts.
	MaxRetries int
	// KeepGTIDs logs each commit with its source GTID on the target.
	KeepGTIDs bool
	// ChainCommits sends a group's COMMIT as soon as the one before it
	// sent its own; the server keeps them in order (target/turns.go).
	ChainCommits bool
	// LockWait is the target sessions' lock wait timeout: when the
	// pipeline stops, a COMMIT sent (which may wait that long on the
	// target for the one before it) is given that long and a second to
	// end, rather than be cut off and left to land later.
	LockWait time.Duration
	// LogValues lets errors quote data values.
	LogValues bool
	// AppliedBefore is the checkpoint's count of applied transactions when
	// the run starts; Start is where it starts reading.
	AppliedBefore uint64
	Start         txn.Position
	// Pending is the transaction the checkpoint names as started by an
	// earlier run and not known to be finished, nil when none; Uncertain
	// is what the operator said of it.
	Pending   *target.Pending
	Uncertain Outcome
	// Channel is the checkpoint's channel (target.ReplayChannel when
	// empty; an undo keeps its own, target.UndoChannel).
	Channel string
	// ConnectionIDObjects says the target has triggers, routines or views
	// calling CONNECTION_ID() (target.ConnectionIDObjects): a statement
	// firing one is flagged as a statement using a temporary table is, so
	// the refusal of statements using a temporary table created before
	// the start point is off (temptables.Tables.FlagAmbiguous).
	ConnectionIDObjects bool
}

// Target is what the pipeline needs of the target server.
type Target interface {
	// NewSession opens a session for a worker (autocommit off).
	NewSession(ctx context.Context) (Session, error)
	// Unlogged wraps statements ending in a COMMIT so that they stay out
	// of the target's binlog when source GTIDs are kept.
	Unlogged(sql string) string
	// Exec runs sql on a session of its own (autocommit).
	Exec(ctx context.Context, sql string) error
	// LockWaiting reports whether a transaction on the target waits for a
	// row lock.
	LockWaiting(ctx context.Context) (bool, error)
}

// Session is a target session as a worker uses it (see target.Session).
type Session interface {
	// Exec sends statements; an error about one of them is a
	// *target.StmtError.
	Exec(ctx context.Context, stmts []sqlgen.Stmt) error
	// ExecJoined is Exec with the SQL apply path's statements of several
	// row events and transactions sharing packets; an error may wrap
	// sqlgen.ErrRepack (target.Session.ExecJoined).
	ExecJoined(ctx context.Context, stmts []sqlgen.Stmt) error
	// ExecEach is Exec with each statement of the SQL apply path in a
	// packet of its own (target.Session.ExecEach).
	ExecEach(ctx context.Context, stmts []sqlgen.Stmt) error
	// Run sends sql, one packet (statements ending in a COMMIT, say).
	Run(ctx context.Context, sql string) error
	// RunUnlogged is Run out of the target's binlog when source GTIDs are
	// kept.
	RunUnlogged(ctx context.Context, sql string) error
	// Rollback ends the open transaction, if any.
	Rollback()
	// Format and SetFormat track the format description installed on the
	// session.
	Format() *txn.Format
	SetFormat(*txn.Format)
	// Conn is the session's connection, for the reads that must see what
	// it sees (DDL fingerprints, the staging of CREATE TABLE ... SELECT);
	// nil where there is none (a fake).
	Conn() *sql.Conn
	Close() error
}

// Tables are the target's table definitions (a *schema.Cache).
type Tables interface {
	partition.TableSource
	// Shape returns a table's columns and keys (schema.Cache.Shape).
	Shape(ctx context.Context, schema, table string) (*schema.Table, error)
	// Invalidate and InvalidateAll forget definitions a DDL may change.
	Invalidate(schema, table string)
	InvalidateAll()
}

// Generator makes the statements that apply a transaction, without BEGIN
// and COMMIT (a *sqlgen.Generator, or one that adds to its statements).
// Modes says whether it applies every row event as SQL and lets the
// target's triggers fire (sqlgen.Generator.ApplySQL, TriggersFire; see
// applysql.go).
type Generator interface {
	// AppendBody appends the statements that apply t to dst.
	AppendBody(ctx context.Context, dst []sqlgen.Stmt, t *txn.Txn) ([]sqlgen.Stmt, error)
	Modes() (applySQL, triggersFire bool)
}

// Deps are what the pipeline works with.
type Deps struct {
	Target Target
	Tables Tables
	// Gen makes the statements that apply a transaction.
	Gen Generator
	// Mem is the memory budget the read stage takes shares of and the
	// pipeline gives back (internal/pipeline/budget).
	Mem *budget.Budget
	// Logf receives the pipeline's log lines.
	Logf func(format string, args ...any)
	// Compact, when set, returns the transactions whose statements apply
	// a row group (not statement, DDL, solo or streamed) in its place:
	// the same transactions, some with fewer row events (compact.Group).
	Compact func(ctx context.Context, txns []*txn.Txn) []*txn.Txn
}

// Pipeline applies transactions. Run it once.
type Pipeline struct {
	cfg  Config
	deps Deps

	seq    *sequencer.Sequencer
	serial adapt.SerialMode
	temps  temptables.Tables // dispatch only
	homes  stmtHomes         // dispatch only
	reset  *stmtReset        // dispatch only: for the next statement group (sourceRestarted)
	bodies bodies            // the groups running their bodies, for the order monitor
	stmt   stmtSession
	counts counters

	mu   sync.Mutex
	prog progress // guarded by mu
}

// counters count what the stages do, read by Snapshot.
type counters struct {
	busy, waiting                        atomic.Int64
	retries, orderAborts, chained        atomic.Uint64
	earlyStarts, headStarts              atomic.Uint64
	serialTxns, barriers, expectedErrors atomic.Uint64
	repacked                             atomic.Uint64
}

// progress is what was committed, guarded by Pipeline.mu.
type progress struct {
	applied, sqlRowEvents uint64
	bytes                 int64
	position              txn.Position
	sourceTime            time.Time
	parallelism           float64
	first, last           *txn.Ref
	firstTicket           uint64 // of first
	lastTicket            uint64 // of last
	uncertain             *UncertainGroup
	uncertainLast         uint64            // the last ticket of uncertain
	barrierWhy            map[string]uint64 // at most 20 reasons
	pending               *target.Pending   // until settled
}

// New returns a pipeline.
func New(cfg Config, deps Deps) *Pipeline {
	if deps.Logf == nil {
		deps.Logf = func(string, ...any) {}
	}
	p := &Pipeline{cfg: cfg, deps: deps, seq: sequencer.New(0)}
	p.prog.position = cfg.Start
	p.prog.pending = cfg.Pending
	if cfg.ConnectionIDObjects {
		p.temps.FlagAmbiguous()
	}
	return p
}

// Run applies the transactions read from in, until in is closed and
// everything read is committed, or an error. Cancelling ctx stops the
// workers at once (what was not committed is rolled back); to stop at a
// transaction boundary, close in instead. It returns the first error of a
// stage (an *ApplyError for a transaction the target refused).
func (p *Pipeline) Run(ctx context.Context, in <-chan *txn.Txn) error {
	if p.cfg.ChainCommits {
		// Out of the target's binlog when source GTIDs are kept: a
		// commit of the target's own would add its GTID to theirs.
		if err := p.deps.Target.Exec(ctx, p.deps.Target.Unlogged(target.ResetTurnsSQL)); err != nil {
			return fmt.Errorf("reset the turns of chained commits: %w", err)
		}
	}
	defer func() {
		// After the workers: none opens a statement session any more.
		p.stmt.mu.Lock()
		defer p.stmt.mu.Unlock()
		for _, w := range p.stmt.opened {
			w.sess.Close()
		}
	}()
	sw, err := p.openStmtWorker(ctx)
	if err != nil {
		return err
	}
	p.stmt.spare = sw
	g, gctx := errgroup.WithContext(ctx)
	groups := make(chan *group, p.cfg.Workers)
	g.Go(func() error { return p.dispatch(gctx, in, groups) })
	for i := 0; i < p.cfg.Workers; i++ {
		g.Go(func() error {
			w, err := p.newWorker(gctx)
			if err != nil {
				return err
			}
			defer w.sess.Close()
			return w.loop(gctx, groups)
		})
	}
	// The order monitor ends with Run: Run waits for it, so that no
	// abort it makes or counts comes after Run returned.
	mctx, stopMonitor := context.WithCancel(gctx)
	var monitor sync.WaitGroup
	if p.cfg.Workers > 1 {
		monitor.Add(1)
		go func() {
			defer monitor.Done()
			p.monitorOrder(mctx)
		}()
	}
	err = g.Wait()
	stopMonitor()
	monitor.Wait()
	if err != nil {
		p.seq.Fail(err)
	}
	return err
}

// newWorker opens a target session for a worker.
func (p *Pipeline) newWorker(ctx context.Context) (*worker, error) {
	sess, err := p.deps.Target.NewSession(ctx)
	if err != nil {
		return nil, err
	}
	return &worker{p: p, sess: sess}, nil
}

// ExpectedError counts a statement that failed on the target with the
// error the source logged for it (target.Session.Expected).
func (p *Pipeline) ExpectedError() { p.counts.expectedErrors.Add(1) }

// UncertainGroup is a group whose COMMIT was sent but not acknowledged:
// the connection was lost, so it may or may not have committed.
type UncertainGroup struct {
	First, Last *txn.Ref
	Txns        uint64
	Bytes       int64
}

// Snapshot is what the pipeline did so far.
type Snapshot struct {
	// Committed is how far the commits went.
	Committed
	// Busy and Waiting count the workers applying a group and those
	// waiting for their turn to commit.
	Busy, Waiting int
	// Parallelism is what the binlog allows as dispatched (internal/pipeline/width).
	Parallelism float64
	// RunCounts count what happened on the way.
	RunCounts
	// Uncertain is the group whose commit was cut off, if any.
	Uncertain *UncertainGroup
}

// Committed is how far a pipeline's commits went (see Snapshot).
type Committed struct {
	// Applied counts the source transactions committed, Bytes their
	// binlog bytes; Position is where the next one starts, SourceTime the
	// commit time of the last one; First and Last the first and last
	// committed (nil when none).
	Applied     uint64
	Bytes       int64
	Position    txn.Position
	SourceTime  time.Time
	First, Last *txn.Ref
}

// RunCounts count the groups run alone, the row events applied as SQL,
// retries and other events of a pipeline's run (see Snapshot).
type RunCounts struct {
	// Barriers counts the transactions that ran alone, BarrierReasons by
	// reason.
	Barriers       uint64
	BarrierReasons map[string]uint64
	// SQLRowEvents counts the row events applied as SQL.
	SQLRowEvents uint64
	// Retries, OrderAborts, SerialTxns and ExpectedErrors: see
	// replay.Summary.
	Retries, OrderAborts, SerialTxns, ExpectedErrors uint64
	// ChainedCommits counts the commits sent chained on the one before,
	// before it was acknowledged (target/turns.go).
	ChainedCommits uint64
	// EarlyStarts counts the group bodies started before the groups they
	// depend on had committed (worker.go, earlyStart).
	EarlyStarts uint64
	// HeadStarts counts the groups that ran their heads beside the group
	// before them (head.go).
	HeadStarts uint64
	// Repacked counts the groups applied again with their SQL apply
	// statements one per packet, after packets joined across groups could
	// not be checked exactly (sqlgen.ErrRepack).
	Repacked uint64
}

// Snapshot returns what the pipeline did so far.
func (p *Pipeline) Snapshot() Snapshot {
	p.mu.Lock()
	s := Snapshot{Committed: Committed{Applied: p.prog.applied, Bytes: p.prog.bytes, Position: p.prog.position,
		SourceTime: p.prog.sourceTime, First: p.prog.first, Last: p.prog.last},
		Parallelism: p.prog.parallelism, RunCounts: RunCounts{SQLRowEvents: p.prog.sqlRowEvents}, Uncertain: p.prog.uncertain}
	if len(p.prog.barrierWhy) > 0 {
		s.BarrierReasons = make(map[string]uint64, len(p.prog.barrierWhy))
		for k, v := range p.prog.barrierWhy {
			s.BarrierReasons[k] = v
		}
	}
	p.mu.Unlock()
	c := &p.counts
	s.Busy, s.Waiting = int(c.busy.Load()), int(c.waiting.Load())
	s.Barriers, s.Retries, s.OrderAborts = c.barriers.Load(), c.retries.Load(), c.orderAborts.Load()
	s.SerialTxns, s.ExpectedErrors = c.serialTxns.Load(), c.expectedErrors.Load()
	s.ChainedCommits, s.Repacked, s.EarlyStarts = c.chained.Load(), c.repacked.Load(), c.earlyStarts.Load()
	s.HeadStarts = c.headStarts.Load()
	return s
}

// stopAfter records that g is committed on the target and stops the run
// there with err: the groups after it, which wait for it to commit, get
// err instead, so that none of them is applied (and err, not one of
// theirs, is the run's).
func (p *Pipeline) stopAfter(g *group, err error) error {
	p.seq.Fail(err)
	p.committed(g)
	return err
}

// committed records that g is committed on the target. With chained
// commits, a group's acknowledgement may come before the one of the group
// before it (whose commit it proves).
func (p *Pipeline) committed(g *group) {
	p.seq.Done(g.last())
	if g.stream == nil { // a stream's pieces gave their memory back as they were sent
		p.deps.Mem.Release(g.txns)
	}
	last := g.txns[len(g.txns)-1]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prog.first == nil || g.first < p.prog.firstTicket {
		p.prog.first, p.prog.firstTicket = g.txns[0].Ref(), g.first
	}
	if g.last() > p.prog.lastTicket {
		p.prog.last, p.prog.lastTicket = last.Ref(), g.last()
		p.prog.position = last.End
		p.prog.sourceTime = last.Time
	}
	if p.prog.uncertain != nil && g.last() >= p.prog.uncertainLast {
		p.prog.uncertain = nil // committed, as this commit proves
	}
	p.prog.applied += uint64(len(g.txns))
	p.prog.sqlRowEvents += g.sqlEvents
	for _, t := range g.txns {
		p.prog.bytes += t.Bytes
	}
}

// commitUncertain records that g's COMMIT was sent but its outcome is
// unknown (the connection was lost): the checkpoint read by the next run
// tells whether it committed. A later group's commit already acknowledged
// proves it committed.
func (p *Pipeline) commitUncertain(g *group) {
	u := &UncertainGroup{First: g.txns[0].Ref(), Last: g.txns[len(g.txns)-1].Ref(), Txns: uint64(len(g.txns))}
	for _, t := range g.txns {
		u.Bytes += t.Bytes
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prog.lastTicket >= g.last() {
		return
	}
	p.prog.uncertain, p.prog.uncertainLast = u, g.last()
}

// parallel reports whether transactions are keyed to run side by side.
func (p *Pipeline) parallel() bool { return p.cfg.Workers > 1 }

// noteBarrier counts a transaction that must run alone, by reason.
func (p *Pipeline) noteBarrier(t *txn.Txn, reason string) {
	p.counts.barriers.Add(1)
	if t.Kind != txn.KindRows {
		reason = t.Kind.String()
	} else if i := strings.Index(reason, " ("); i > 0 {
		reason = reason[:i]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prog.barrierWhy == nil {
		p.prog.barrierWhy = map[string]uint64{}
	}
	if _, ok := p.prog.barrierWhy[reason]; ok || len(p.prog.barrierWhy) < 20 {
		p.prog.barrierWhy[reason]++
	}
}

// applyError wraps err, raised applying statement s (nil: unknown) of t,
// in an *ApplyError. The statement is shown without its values unless
// Config.LogValues is set.
func (p *Pipeline) applyError(t *txn.Txn, s *sqlgen.Stmt, err error) error {
	var ae *ApplyError
	if errors.As(err, &ae) {
		return err
	}
	ae = &ApplyError{Seq: t.Seq, Start: t.Start, GTID: t.GTID.String(), Err: err, LogValues: p.cfg.LogValues}
	if s != nil {
		e := s.Event
		if s.Check != nil && len(s.Check.Events) > 0 {
			// The statement's own row event, not its packet group's
			// first (see sqlgen.Stmt.Check).
			e = s.Check.Events[0]
		}
		if e != nil {
			ae.Event = fmt.Sprintf("%s at %s", e.TypeName, e.Pos)
			if rows := e.Rows; rows != nil && rows.Table != nil {
				ae.Table = rows.Table.Schema + "." + rows.Table.Table
			}
		}
		ae.Statement = sqlgen.Describe(s, p.cfg.LogValues)
	}
	return ae
}

// checkpointSQL returns the statement that records g, applied, in the
// checkpoint (target.CheckpointSQL) of the pipeline's channel: its last
// transaction, with the latest commit time among its transactions (a
// binlog's commit times need not rise: the checkpoint keeps the latest
// applied, against which a resume's --stop-datetime is checked).
func (p *Pipeline) checkpointSQL(g *group) string {
	last := *g.txns[len(g.txns)-1]
	for _, t := range g.txns {
		if t.Time.After(last.Time) {
			last.Time = t.Time
		}
	}
	return target.ChannelCheckpointSQL(p.channel(), &last, p.cfg.AppliedBefore+g.last(), g.temps)
}

// pendingSQL returns the statement that marks t as applied apart
// (target.PendingSQL) in the checkpoint of the pipeline's channel.
func (p *Pipeline) pendingSQL(t *txn.Txn, state, print, what string) string {
	return target.ChannelPendingSQL(p.channel(), t, state, print, what)
}

func (p *Pipeline) channel() string {
	if p.cfg.Channel == "" {
		return target.ReplayChannel
	}
	return p.cfg.Channel
}

// logf writes a log line.
func (p *Pipeline) logf(format string, args ...any) { p.deps.Logf(format, args...) }
