package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/pipeline/budget"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// fakeTarget is a target server in memory, for the pipeline's unit tests.
// It applies a transaction when a session sends its statements: it
// records it in the session's open transaction, takes the row locks the
// test gives it (fakeTxn.locks), and, on COMMIT with the checkpoint, makes
// the session's transactions committed, in the order they were sent. A
// test scripts what goes wrong: a transaction that waits, fails once or
// always, a COMMIT whose outcome is lost.
type fakeTarget struct {
	t    *testing.T
	mu   sync.Mutex
	cond *sync.Cond
	// txns are the test's transactions by sequence number.
	txns map[uint64]*fakeTxn
	// locks: a lock name and the session holding it.
	locks map[string]*fakeSession
	// committed are the sequence numbers committed, in commit order;
	// commits the checkpoint counts of the commits.
	committed []uint64
	commits   []uint64
	// applied counts how often each transaction's statements were sent;
	// started is when they were first, ran when they had first taken
	// their locks; committedAt is when it committed.
	applied     map[uint64]int
	started     map[uint64]time.Time
	ran         map[uint64]time.Time
	committedAt map[uint64]time.Time
	// saw holds, for each transaction committed, the transactions that
	// were committed, or before it in its own target transaction, when its
	// statements took their locks (what its rows were applied on).
	saw map[uint64][]uint64
	// waiting counts the sessions waiting for a lock.
	waiting int
	// marks are the checkpoint marks written apart (solo, DDL).
	marks []string
	// lockWait is how long a lock is waited for before error 1205.
	lockWait time.Duration
	// loseCommit, when set, is the checkpoint count of the commit whose
	// answer is lost (the server committed or not: commitLost says).
	loseCommit uint64
	commitLost bool
	// turns are the committed tickets of the turn slots (chained
	// commits, target/turns.go).
	turns map[uint64]uint64
	// chained counts the COMMITs that waited for a turn on the server.
	chained int
	// joined counts the ExecJoined calls.
	joined int
	// slowLockQuery makes each LockWaiting query take that long, whatever
	// its context (a slow server); lockQueries counts those running.
	slowLockQuery time.Duration
	lockQueries   atomic.Int32
}

// fakeTxn is how the fake target treats one transaction.
type fakeTxn struct {
	// locks are the row locks the transaction takes when applied, held
	// until its commit or rollback.
	locks []string
	// delay holds its statements back that long before they are applied.
	delay time.Duration
	// failOnce fails its first application with this error; fail fails
	// every one.
	failOnce, fail error
	// needs, when set, fails its application with error 1062 unless that
	// transaction is committed (a dependency its write set missed).
	needs uint64
	// commitDelay holds the COMMIT of its group that long (the locks
	// held); failCommitOnce fails that COMMIT once, rolling the group
	// back.
	commitDelay    time.Duration
	failCommitOnce error
	commitFailed   bool
	// repack fails every ExecJoined of a group holding it with
	// sqlgen.ErrRepack, as a joined packet that cannot be checked
	// exactly does; Exec applies it.
	repack bool
}

func newFakeTarget(t *testing.T, txns map[uint64]*fakeTxn) *fakeTarget {
	f := &fakeTarget{t: t, txns: txns, locks: map[string]*fakeSession{}, applied: map[uint64]int{},
		started: map[uint64]time.Time{}, ran: map[uint64]time.Time{}, committedAt: map[uint64]time.Time{}, saw: map[uint64][]uint64{}, lockWait: 300 * time.Millisecond,
		turns: map[uint64]uint64{}}
	f.cond = sync.NewCond(&f.mu)
	if f.txns == nil {
		f.txns = map[uint64]*fakeTxn{}
	}
	return f
}

func (f *fakeTarget) NewSession(context.Context) (Session, error) {
	return &fakeSession{f: f}, nil
}

func (f *fakeTarget) Unlogged(sql string) string { return sql }

func (f *fakeTarget) Exec(_ context.Context, sql string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sql == target.ResetTurnsSQL {
		clear(f.turns)
		return nil
	}
	f.marks = append(f.marks, sql)
	return nil
}

func (f *fakeTarget) LockWaiting(context.Context) (bool, error) {
	f.lockQueries.Add(1)
	defer f.lockQueries.Add(-1)
	time.Sleep(f.slowLockQuery)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting > 0, nil
}

// result returns what was committed, in order.
func (f *fakeTarget) result() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.committed)
}

// fakeSession is a session of the fake target.
type fakeSession struct {
	f      *fakeTarget
	open   []uint64 // the transactions of its open transaction
	held   []string // the locks it holds
	format *txn.Format
	// turns are the tickets its open transaction wrote, by slot.
	turns map[uint64]uint64
	// saw is fakeTarget.saw for its open transaction.
	saw map[uint64][]uint64
}

func serverError(code uint16) error {
	return &mysql.MySQLError{Number: code, Message: fmt.Sprintf("fake error %d", code)}
}

var (
	turnTake = regexp.MustCompile("turns` SET ticket = (\\d+) WHERE slot = (\\d+)$")
	turnWait = regexp.MustCompile("turns` SET slot = IF\\(ticket = (\\d+), slot, -1\\) WHERE slot = (\\d+);")
)

// Exec applies the transactions stmts belong to (their first statement
// each), in order, and takes the turn slots they take.
func (s *fakeSession) Exec(ctx context.Context, stmts []sqlgen.Stmt) error {
	var last *txn.Txn
	for i := range stmts {
		st := &stmts[i]
		if m := turnTake.FindStringSubmatch(st.SQL); m != nil {
			if err := s.takeTurn(ctx, atoi(m[2]), atoi(m[1])); err != nil {
				return &target.StmtError{Stmt: st, Err: err}
			}
			continue
		}
		if st.Txn == nil || st.Txn == last {
			continue
		}
		last = st.Txn
		if err := s.apply(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// ExecEach is Exec (the fake has no packets).
func (s *fakeSession) ExecEach(ctx context.Context, stmts []sqlgen.Stmt) error {
	return s.Exec(ctx, stmts)
}

// ExecJoined is Exec, but fails with sqlgen.ErrRepack, before applying
// anything, when a transaction of stmts has repack set.
func (s *fakeSession) ExecJoined(ctx context.Context, stmts []sqlgen.Stmt) error {
	s.f.mu.Lock()
	s.f.joined++
	s.f.mu.Unlock()
	for i := range stmts {
		st := &stmts[i]
		if st.Txn == nil {
			continue
		}
		if ft := s.f.txns[st.Txn.Seq]; ft != nil && ft.repack {
			return &target.StmtError{Stmt: st, Err: fmt.Errorf("fake: %w", sqlgen.ErrRepack)}
		}
	}
	return s.Exec(ctx, stmts)
}

func atoi(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// takeTurn writes ticket into the turn slot, locking it.
func (s *fakeSession) takeTurn(ctx context.Context, slot, ticket uint64) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.lock(ctx, fmt.Sprint("turn ", slot)); err != nil {
		return err
	}
	if s.turns == nil {
		s.turns = map[uint64]uint64{}
	}
	s.turns[slot] = ticket
	return nil
}

// apply applies one transaction: its delay, its scripted failures, its
// locks.
func (s *fakeSession) apply(ctx context.Context, st *sqlgen.Stmt) error {
	f := s.f
	seq := st.Txn.Seq
	ft := f.txns[seq]
	if ft == nil {
		ft = &fakeTxn{}
	}
	if ft.delay > 0 {
		select {
		case <-time.After(ft.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied[seq]++
	if f.started[seq].IsZero() {
		f.started[seq] = time.Now()
	}
	switch {
	case ft.fail != nil:
		return &target.StmtError{Stmt: st, Err: ft.fail}
	case ft.failOnce != nil && f.applied[seq] == 1:
		return &target.StmtError{Stmt: st, Err: ft.failOnce}
	}
	// As a server's row events: the locks first (waiting for the
	// transactions holding them to end), then the rows they find.
	for _, l := range ft.locks {
		if err := s.lock(ctx, l); err != nil {
			return &target.StmtError{Stmt: st, Err: err}
		}
	}
	if ft.needs != 0 && !slices.Contains(f.committed, ft.needs) {
		return &target.StmtError{Stmt: st, Err: serverError(1062)}
	}
	if s.saw == nil {
		s.saw = map[uint64][]uint64{}
	}
	s.saw[seq] = append(slices.Clone(f.committed), s.open...)
	s.open = append(s.open, seq)
	if f.ran[seq].IsZero() {
		f.ran[seq] = time.Now()
	}
	return nil
}

// lock takes lock l, waiting up to the lock wait timeout while another
// session holds it. f.mu is held.
func (s *fakeSession) lock(ctx context.Context, l string) error {
	f := s.f
	deadline := time.Now().Add(f.lockWait)
	for {
		holder := f.locks[l]
		if holder == nil || holder == s {
			f.locks[l] = s
			s.held = append(s.held, l)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return serverError(1205)
		}
		f.waiting++
		timer := time.AfterFunc(10*time.Millisecond, f.cond.Broadcast)
		f.cond.Wait()
		timer.Stop()
		f.waiting--
	}
}

var checkpointCount = regexp.MustCompile("checkpoint` .* VALUES \\('default', (\\d+),")

// Run commits when sql commits with the checkpoint (after the turn it
// waits for, if chained), and rolls back on ROLLBACK; other statements
// (marks) are recorded.
func (s *fakeSession) Run(ctx context.Context, sql string) error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	m := checkpointCount.FindStringSubmatch(sql)
	if m == nil {
		f.marks = append(f.marks, sql)
		if sql == "ROLLBACK" {
			s.release()
		}
		return nil
	}
	if w := turnWait.FindStringSubmatch(sql); w != nil {
		// As the server: wait for the slot's lock, then fail with a
		// duplicate key unless the group awaited committed.
		f.chained++
		slot := atoi(w[2])
		if err := s.lock(ctx, fmt.Sprint("turn ", slot)); err != nil {
			return err
		}
		if f.turns[slot] != atoi(w[1]) {
			return serverError(1062)
		}
	}
	for _, seq := range s.open {
		ft := f.txns[seq]
		if ft == nil {
			continue
		}
		if ft.commitDelay > 0 {
			f.mu.Unlock()
			time.Sleep(ft.commitDelay)
			f.mu.Lock()
		}
		if ft.failCommitOnce != nil && !ft.commitFailed {
			ft.commitFailed = true
			s.release()
			return ft.failCommitOnce
		}
	}
	count, _ := strconv.ParseUint(m[1], 10, 64)
	if f.loseCommit != 0 && count == f.loseCommit {
		f.loseCommit = 0
		if f.commitLost {
			f.commit(s, count)
		}
		s.release()
		return io.ErrUnexpectedEOF // the answer never came
	}
	f.commit(s, count)
	s.release()
	return nil
}

// commit makes the session's open transaction committed, with the
// checkpoint count count. f.mu is held.
func (f *fakeTarget) commit(s *fakeSession, count uint64) {
	f.committed = append(f.committed, s.open...)
	f.commits = append(f.commits, count)
	for _, seq := range s.open {
		f.committedAt[seq] = time.Now()
		f.saw[seq] = s.saw[seq]
	}
	for slot, ticket := range s.turns {
		f.turns[slot] = ticket
	}
}

// release ends the session's transaction. f.mu is held.
func (s *fakeSession) release() {
	for _, l := range s.held {
		if s.f.locks[l] == s {
			delete(s.f.locks, l)
		}
	}
	s.open, s.held, s.turns, s.saw = nil, nil, nil, nil
	s.f.cond.Broadcast()
}

func (s *fakeSession) RunUnlogged(ctx context.Context, sql string) error { return s.Run(ctx, sql) }

func (s *fakeSession) Rollback() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.release()
}

func (s *fakeSession) Format() *txn.Format     { return s.format }
func (s *fakeSession) SetFormat(f *txn.Format) { s.format = f }
func (s *fakeSession) Conn() *sql.Conn         { return nil }
func (s *fakeSession) Close() error            { s.Rollback(); return nil }

// fakeTables is the target's one table, d.t (id INT PRIMARY KEY), InnoDB.
type fakeTables struct{}

func (fakeTables) Table(_ context.Context, sch, table string) (*schema.Table, error) {
	if sch != "d" || table != "t" {
		return nil, fmt.Errorf("%s.%s: %w", sch, table, schema.ErrNoTable)
	}
	return &schema.Table{Schema: "d", Name: "t", Engine: "InnoDB", Transactional: true,
		Columns: []schema.Column{{Name: "id", Ordinal: 0, DataType: "int", ColumnType: "int(11)"}},
		Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}, Prefix: []int{0}}}}, nil
}

func (t fakeTables) Shape(ctx context.Context, sch, table string) (*schema.Table, error) {
	return t.Table(ctx, sch, table)
}

func (fakeTables) Invalidate(string, string) {}
func (fakeTables) InvalidateAll()            {}

// rowTxn returns transaction seq, which inserts row id into d.t (its
// write set: d.t's key id).
func rowTxn(seq uint64, id int64) *txn.Txn {
	tm := &txn.TableMap{ID: 1, Schema: "d", Table: "t", ColumnTypes: []byte{3}, ColumnMeta: []uint16{0}, Nullable: []bool{false}}
	pos := func(n uint64) txn.Position { return txn.Position{File: "bin.000001", Offset: n} }
	return &txn.Txn{Seq: seq, Kind: txn.KindRows, Start: pos(seq * 100), End: pos(seq*100 + 100), Bytes: 100,
		Time: time.Unix(int64(1700000000+seq), 0).UTC(), Format: &txn.Format{Flavor: txn.FlavorMariaDB, Raw: []byte{15}},
		Events: []txn.Event{
			{Kind: txn.EventTableMap, TypeName: "TABLE_MAP_EVENT", Pos: pos(seq*100 + 10), Raw: []byte{19}, TableMap: tm},
			{Kind: txn.EventRows, TypeName: "WRITE_ROWS_EVENT", Pos: pos(seq*100 + 50), Raw: []byte{30},
				Rows: &txn.Rows{Op: txn.OpInsert, Table: tm, Flags: txn.RowsFlagStmtEnd, Columns: []bool{true},
					Rows: [][]any{{id}}, Decoded: true}},
		}}
}

// runPipeline applies txns through a pipeline on f and returns its error
// and the pipeline.
func runPipeline(t *testing.T, ctx context.Context, f *fakeTarget, cfg Config, txns ...*txn.Txn) (*Pipeline, error) {
	t.Helper()
	if cfg.GroupTxns == 0 {
		cfg.GroupTxns = 1
	}
	if cfg.GroupBytes == 0 {
		cfg.GroupBytes = 1 << 20
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	p := New(cfg, Deps{Target: f, Tables: fakeTables{}, Gen: &sqlgen.Generator{}, Mem: budget.New(64 << 20), Logf: t.Logf})
	in := make(chan *txn.Txn, len(txns))
	for _, tx := range txns {
		if err := p.deps.Mem.Acquire(ctx, tx); err != nil {
			t.Fatal(err)
		}
		in <- tx
	}
	close(in)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, in) }()
	select {
	case err := <-done:
		return p, err
	case <-time.After(20 * time.Second):
		t.Fatal("the pipeline did not return within 20 s")
		return nil, nil
	}
}

// seqs returns 1..n.
func seqs(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// errorsAs is errors.As for a test's wanted type.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// sqlgenGenerator returns a generator of passthrough statements with no
// target checks.
func sqlgenGenerator() *sqlgen.Generator { return &sqlgen.Generator{} }
