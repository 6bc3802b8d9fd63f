// Package replaytest builds end-to-end replay scenarios for tests: a source
// server with its binlog on, a base snapshot taken before a workload, the
// binlogs the workload wrote, and targets restored from the base.
package replaytest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// Scenario is a source, its base and the binlogs written since the base.
type Scenario struct {
	Source *sandbox.Server
	// SourceDB is open on the source, which keeps running.
	SourceDB *sql.DB
	// Base is a datadir copy of the source taken before the workload.
	Base string
	// Start is the binlog position of the base.
	Start txn.Position
	// Files are all the source's binlog files, closed by a flush.
	Files []string
	// args are the extra mariadbd arguments of the source, and of the
	// targets restored from its base.
	args []string
}

// New starts a source with the given binlog format, runs setup, snapshots
// the base, runs work and flushes the binlogs. It fails the test on error.
func New(t testing.TB, format string, setup, work func(ctx context.Context, db *sql.DB) error) *Scenario {
	t.Helper()
	return NewArgs(t, format, nil, setup, work)
}

// NewArgs is New with extra mariadbd arguments for the source and the
// targets (sandbox.Options.Args), e.g. "--lower-case-table-names=1".
func NewArgs(t testing.TB, format string, args []string, setup, work func(ctx context.Context, db *sql.DB) error) *Scenario {
	t.Helper()
	ctx := context.Background()
	src := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format, Args: args})
	sc := &Scenario{Source: src, Base: filepath.Join(t.TempDir(), "base"), args: args}
	db := open(t, src)
	if err := setup(ctx, db); err != nil {
		t.Fatalf("setup: %v", err)
	}
	db.Close()
	if err := src.Snapshot(ctx, sc.Base); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	// The restarted source writes a new binlog file: the base's position
	// is where that file starts.
	db = open(t, src)
	sc.SourceDB = db
	var file string
	var pos uint64
	var doDB, ignoreDB sql.NullString
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatalf("show master status: %v", err)
	}
	sc.Start = txn.Position{File: file, Offset: pos}
	if err := work(ctx, db); err != nil {
		t.Fatalf("workload: %v", err)
	}
	if _, err := db.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		t.Fatalf("flush binary logs: %v", err)
	}
	var err error
	if sc.Files, err = src.BinlogFiles(); err != nil {
		t.Fatalf("binlog files: %v", err)
	}
	return sc
}

// Target starts a server restored from the base, closed with the test.
func (sc *Scenario) Target(t testing.TB) (*sandbox.Server, *sql.DB) {
	t.Helper()
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: sc.args})
	return tgt, open(t, tgt)
}

func open(t testing.TB, s *sandbox.Server) *sql.DB {
	t.Helper()
	db, err := s.Open(context.Background(), "")
	if err != nil {
		t.Fatalf("open %s: %v", s.Socket, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// RequireEqual fails the test when target's data differs from reference's
// (every table of the given databases, or of all user databases). Stored
// objects are not compared: tests drop or add triggers on a target.
func RequireEqual(t testing.TB, target, reference *sql.DB, dbs ...string) {
	t.Helper()
	rep, err := verify.Compare(context.Background(), target, reference, verify.Options{Databases: dbs, TablesOnly: true})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.Equal() {
		t.Fatalf("target differs from the source:\n%s", rep.String())
	}
}

// ExecAll runs statements in order on one connection, so session
// settings carry from one to the next; an error names the statement.
func ExecAll(ctx context.Context, db *sql.DB, stmts ...string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// ConnWithThread opens connections to db until one has a thread id of at
// least want (exactly want when exact: a server restarted gives its
// sessions thread ids from the start again) and returns it with its id;
// the others go back to the pool.
func ConnWithThread(ctx context.Context, db *sql.DB, want uint64, exact bool) (*sql.Conn, uint64, error) {
	var held []*sql.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 500 {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, 0, err
		}
		var id uint64
		if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			c.Close()
			return nil, 0, err
		}
		if id == want || id > want && !exact {
			return c, id, nil
		}
		held = append(held, c)
		if id > want {
			return nil, 0, fmt.Errorf("thread id %d went by (now %d)", want, id)
		}
	}
	return nil, 0, fmt.Errorf("no connection of thread id %d in 500", want)
}
