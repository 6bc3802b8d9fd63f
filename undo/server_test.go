package undo_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/undo"
)

// The end-to-end tests: a source server writes a history with an accident
// in it and unrelated writes after it; the undo runs on the source itself
// (the live server, whose binlog then gets the undo's writes too), and the
// result must equal, table by table (package verify), a server restored
// from the base that replays the same binlogs while skipping exactly the
// accident's transactions.

// shopSetup creates the tables of the tests: customers, their orders and
// the orders' items (foreign keys without cascades), every kind of value
// an undo must keep exact, and an unrelated table.
func shopSetup(ctx context.Context, db *sql.DB) error {
	stmts := []string{
		"CREATE DATABASE app",
		"CREATE TABLE app.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(60) UNIQUE, " +
			"balance DECIMAL(14,4) NOT NULL, score DOUBLE, ratio FLOAT, seen TIMESTAMP(6) NULL, born DATE, " +
			"code CHAR(4), flags BIT(6), kind ENUM('a','b','c'), tags SET('x','y','z'), doc JSON, pic BLOB, " +
			"bin BINARY(3), note TEXT) ENGINE=InnoDB",
		"CREATE TABLE app.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(10,2), placed DATETIME(3), " +
			"FOREIGN KEY (customer_id) REFERENCES app.customers(id)) ENGINE=InnoDB",
		"CREATE TABLE app.items (order_id INT NOT NULL, line INT NOT NULL, sku CHAR(8), qty INT, PRIMARY KEY (order_id, line), " +
			"FOREIGN KEY (order_id) REFERENCES app.orders(id)) ENGINE=InnoDB",
		"CREATE TABLE app.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40)) ENGINE=InnoDB",
	}
	for i := 1; i <= 400; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO app.customers VALUES (%d, 'name %d', 'c%d@example.com', %d.%04d, %g, %g, "+
			"'2026-01-%02d 10:%02d:%02d.%06d', '1980-02-%02d', 'C%03d', b'%06b', '%s', '%s', '{\"n\": %d, \"s\": [1.5, \"%d\"]}', "+
			"X'%02x00ff%02x', X'%02x', %s)",
			i, i, i, i*37, i*13%10000, float64(i)/3, float32(i)/7, i%28+1, i%60, i%60, i*7919%1000000, i%28+1, i%1000, i%64,
			[]string{"a", "b", "c"}[i%3], []string{"", "x", "y,z", "x,y,z"}[i%4], i, i, i%256, i*3%256, i%256,
			map[bool]string{true: "NULL", false: fmt.Sprintf("'note %d'", i)}[i%5 == 0]))
	}
	for o := 1; o <= 1200; o++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO app.orders VALUES (%d, %d, %d.%02d, '2026-02-01 12:00:%02d.%03d')",
			o, o%400+1, o*3, o%100, o%60, o%1000))
		stmts = append(stmts, fmt.Sprintf("INSERT INTO app.items VALUES (%d, 1, 'SKU%05d', %d), (%d, 2, 'SKU%05d', %d)",
			o, o%777, o%9+1, o, (o*7)%777, o%4+1))
	}
	return replaytest.ExecAll(ctx, db, stmts...)
}

// accident is a scenario: work before the accident, the accident itself,
// and unrelated writes after it.
type accident struct {
	before, accident, after func(ctx context.Context, db *sql.DB) error
}

// scenario is a source whose binlogs hold an accident.
type scenario struct {
	*replaytest.Scenario
	// first and last are the accident's first and last transactions; end
	// is where the scenario's binlogs end (the undo's own writes, on the
	// source, come after it).
	first, last *txn.Txn
	end         txn.Position
	// txns are the transactions of the workload.
	txns []*txn.Txn
}

// newScenario runs a on a new source (after shopSetup) and finds the
// accident's transactions: those committed while a.accident ran.
func newScenario(t *testing.T, a accident) *scenario {
	t.Helper()
	return newScenarioWith(t, shopSetup, a)
}

// newScenarioWith is newScenario with setup instead of shopSetup.
func newScenarioWith(t *testing.T, setup func(context.Context, *sql.DB) error, a accident) *scenario {
	t.Helper()
	var from, to uint64
	sc := replaytest.New(t, "ROW", setup, func(ctx context.Context, db *sql.DB) error {
		if a.before != nil {
			if err := a.before(ctx, db); err != nil {
				return fmt.Errorf("before: %w", err)
			}
		}
		var err error
		if from, err = gtidSeq(ctx, db); err != nil {
			return err
		}
		if err := a.accident(ctx, db); err != nil {
			return fmt.Errorf("accident: %w", err)
		}
		if to, err = gtidSeq(ctx, db); err != nil {
			return err
		}
		if a.after != nil {
			if err := a.after(ctx, db); err != nil {
				return fmt.Errorf("after: %w", err)
			}
		}
		return nil
	})
	s := &scenario{Scenario: sc}
	s.txns = readTxns(t, sc.Files, sc.Start)
	for _, tx := range s.txns {
		s.end = tx.End
		if tx.GTID.Seq > from && tx.GTID.Seq <= to {
			if s.first == nil {
				s.first = tx
			}
			s.last = tx
		}
	}
	if s.first == nil {
		t.Fatalf("no accident transaction found between GTID sequence numbers %d and %d", from, to)
	}
	return s
}

// gtidSeq returns the sequence number of the source's last GTID (domain 0).
func gtidSeq(ctx context.Context, db *sql.DB) (uint64, error) {
	var pos string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return 0, err
	}
	g, err := txn.ParseGTID(pos)
	if err != nil {
		return 0, fmt.Errorf("gtid_binlog_pos %q: %w", pos, err)
	}
	return g.Seq, nil
}

// readTxns reads the transactions of files from start.
func readTxns(t *testing.T, files []string, start txn.Position) []*txn.Txn {
	t.Helper()
	r, err := binlog.NewReader(files, binlog.Options{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*txn.Txn
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tx)
	}
}

// reference returns a server restored from the base that replayed the
// binlogs but the accident's transactions: the state an undo must reach.
func (s *scenario) reference(t *testing.T) *sql.DB {
	t.Helper()
	return s.referenceTo(t, txn.Position{})
}

// referenceTo is reference, with the replay stopping at stop (zero: the
// end of the binlogs).
func (s *scenario) referenceTo(t *testing.T, stop txn.Position) *sql.DB {
	t.Helper()
	ctx := context.Background()
	tgt, db := s.Target(t)
	run := func(start, stop txn.Position) {
		o := replay.DefaultOptions()
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Select.StopPosition = s.Files, tgt.DSN(""), start, stop
		o.Select.StopNeverReachedOK = true
		var log strings.Builder
		if _, err := replay.Run(ctx, o, &log); err != nil {
			t.Fatalf("replay %s..%s: %v\n%s", start, stop, err, log.String())
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE binlog_replay"); err != nil {
			t.Fatal(err)
		}
	}
	run(s.Start, s.first.Start)
	run(s.last.End, stop)
	return db
}

// undoOptions returns options undoing the accident on the source.
func (s *scenario) undoOptions(workers int) undo.Options {
	o := undo.DefaultOptions()
	o.Files, o.TargetDSN = s.Files, s.Source.DSN("")
	o.Range.StartPosition, o.Range.StopPosition = s.first.Start, s.last.End
	o.Range.Until = s.end
	o.Apply.Workers = workers
	return o
}

// runUndo runs an undo and fails the test on error.
func runUndo(t *testing.T, o undo.Options) *undo.Summary {
	t.Helper()
	var log strings.Builder
	sum, err := undo.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("undo: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("undo log:\n%s", log.String())
	return sum
}

// unrelated writes rows the accidents do not touch: new customers, orders
// of customers above 300 (and of the new ones), their items, audit rows.
func unrelated(ctx context.Context, db *sql.DB) error {
	rng := rand.New(rand.NewPCG(3, 4))
	var stmts []string
	for i := 0; i < 200; i++ {
		c := 1000 + i
		stmts = append(stmts,
			fmt.Sprintf("INSERT INTO app.customers (id, name, email, balance, score) VALUES (%d, 'new %d', 'n%d@example.com', %d.5, %g)",
				c, i, i, i, rng.Float64()),
			fmt.Sprintf("INSERT INTO app.orders VALUES (%d, %d, 1.25, NOW(3))", 5000+i, 301+rng.IntN(100)),
			fmt.Sprintf("INSERT INTO app.items VALUES (%d, 1, 'NEW', 1)", 5000+i),
			fmt.Sprintf("UPDATE app.customers SET score = score + 1, note = 'later' WHERE id = %d", 1000+rng.IntN(i+1)),
			"INSERT INTO app.audit (what) VALUES ('later')")
	}
	return replaytest.ExecAll(ctx, db, stmts...)
}

// TestUndoBadDelete undoes a DELETE of thousands of rows across three
// tables linked by foreign keys (children first, as an application
// deletes them), with unrelated writes after it.
func TestUndoBadDelete(t *testing.T) {
	s := newScenario(t, accident{
		accident: func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE app", "BEGIN",
				"DELETE i FROM app.items i JOIN app.orders o ON o.id = i.order_id WHERE o.customer_id <= 250",
				"DELETE FROM app.orders WHERE customer_id <= 250",
				"DELETE FROM app.customers WHERE id <= 250",
				"COMMIT")
		},
		after: unrelated,
	})
	ref := s.reference(t)
	// Whole, then (the accident replayed again) in pieces of 64 KiB under
	// a 1 MiB memory budget.
	for _, memory := range []int64{256 << 20, 1 << 20} {
		t.Run(fmt.Sprint("memory=", memory), func(t *testing.T) {
			if memory == 1<<20 {
				redo(t, s)
			}
			o := s.undoOptions(4)
			o.Apply.MemoryBudget = memory
			sum := runUndo(t, o)
			if !sum.Finished || sum.Undone != 1 {
				t.Errorf("summary: finished %v, %d transactions undone; want the one", sum.Finished, sum.Undone)
			}
			want := map[string]int64{"app.customers": 250, "app.orders": 750, "app.items": 1500}
			for _, tr := range sum.Tables {
				if tr.Inserted != want[tr.Table] || tr.Deleted != 0 || tr.Updated != 0 {
					t.Errorf("%s: %+v, want %d rows inserted back", tr.Table, tr, want[tr.Table])
				}
				delete(want, tr.Table)
			}
			if len(want) > 0 {
				t.Errorf("the summary lacks %v", want)
			}
			var state string
			if err := s.SourceDB.QueryRow("SELECT state FROM binlog_replay.undo").Scan(&state); err != nil || state != "done" {
				t.Errorf("the undo's record is in state %q (%v), want done", state, err)
			}
			replaytest.RequireEqual(t, s.SourceDB, ref, "app")
		})
	}
}

// TestUndoUpdateWithoutWhere undoes an UPDATE of every row of a table,
// with unrelated writes after it (orders of existing customers among
// them: a later child row does not conflict with its parent's undo). A
// row changed outside the binlogs in the meantime stops the undo before
// anything of it is applied, naming the row; once the row is as the
// binlogs left it, --resume finishes the undo.
func TestUndoUpdateWithoutWhere(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, accident{
		accident: func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "UPDATE app.customers SET balance = 0, score = NULL, note = 'oops', seen = NOW(6)")
			return err
		},
		after: unrelated,
	})
	ref := s.reference(t)
	// Customer 42 changed outside the binlogs.
	var seen string
	if err := s.SourceDB.QueryRow("SELECT seen FROM app.customers WHERE id = 42").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if err := replaytest.ExecAll(ctx, s.SourceDB, "SET SESSION sql_log_bin = 0", "UPDATE app.customers SET seen = '2000-01-01' WHERE id = 42"); err != nil {
		t.Fatal(err)
	}
	o := s.undoOptions(4)
	o.LogValues = true
	var log strings.Builder
	_, err := undo.Run(ctx, o, &log)
	if !errors.Is(err, sqlgenErrRowDiffers()) || !strings.Contains(err.Error(), "`id`=42") || !strings.Contains(err.Error(), "app.customers") {
		t.Fatalf("undo over a row changed outside the binlogs: got %v, want an error naming the row\n%s", err, log.String())
	}
	var n int
	if err := s.SourceDB.QueryRow("SELECT COUNT(*) FROM app.customers WHERE note = 'oops'").Scan(&n); err != nil || n != 400 {
		t.Fatalf("after the refused undo %d rows are still as the accident left them (%v), want all 400: nothing applied", n, err)
	}
	if err := replaytest.ExecAll(ctx, s.SourceDB, "SET SESSION sql_log_bin = 0", "UPDATE app.customers SET seen = '"+seen+"' WHERE id = 42"); err != nil {
		t.Fatal(err)
	}
	o.Resume = true
	sum := runUndo(t, o)
	if !sum.Finished || len(sum.Tables) != 1 || sum.Tables[0].Updated != 400 {
		t.Errorf("summary: finished %v, rows %+v; want 400 rows of app.customers updated back", sum.Finished, sum.Tables)
	}
	replaytest.RequireEqual(t, s.SourceDB, ref, "app")
}

// batch returns run number run of a batch: ten transactions, part b
// updating customers 301+10b to 310+10b and inserting an order for each.
func batch(run int) func(ctx context.Context, db *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		for b := 0; b < 10; b++ {
			lo, hi := 301+10*b, 310+10*b
			err := replaytest.ExecAll(ctx, db, "BEGIN",
				fmt.Sprintf("UPDATE app.customers SET balance = balance * 1.01 + 10, ratio = ratio * 2 WHERE id BETWEEN %d AND %d", lo, hi),
				fmt.Sprintf("INSERT INTO app.orders SELECT 10000 + %d * 1000 + id, id, 10, NOW(3) FROM app.customers WHERE id BETWEEN %d AND %d", run, lo, hi),
				fmt.Sprintf("INSERT INTO app.audit (what) VALUES ('batch %d part %d')", run, b),
				"COMMIT")
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// TestUndoBatchRunTwice undoes the second run of a batch (ten
// transactions, each updating and inserting), with unrelated writes after
// it, on one worker and on four.
func TestUndoBatchRunTwice(t *testing.T) {
	s := newScenario(t, accident{before: batch(1), accident: batch(2), after: unrelated})
	ref := s.reference(t)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			if workers == 4 {
				// Replay the accident back onto the source, then undo it again.
				redo(t, s)
			}
			sum := runUndo(t, s.undoOptions(workers))
			if !sum.Finished || sum.Undone != 10 {
				t.Errorf("summary: finished %v, %d transactions undone; want 10", sum.Finished, sum.Undone)
			}
			replaytest.RequireEqual(t, s.SourceDB, ref, "app")
		})
	}
}

// TestUndoByGTIDs undoes the second run of a batch (ten transactions),
// selected by --gtids, with unrelated writes after it. First, ranges that
// cannot be honoured are refused with nothing written: one that leaves
// out a transaction between named ones, one naming transactions of
// another server id, one naming a transaction the binlogs do not hold.
// Then a row changed outside the binlogs stops the undo part way, and
// --resume with the same --gtids finishes it (the live binlog then holds
// the undo's first writes after the range, under new GTIDs): the result
// equals a replay of the binlogs that skips the batch's second run.
func TestUndoByGTIDs(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, accident{before: batch(1), accident: batch(2), after: unrelated})
	a, b := s.first.GTID, s.last.GTID
	if b.Seq != a.Seq+9 || a.Domain != b.Domain || a.Server != b.Server {
		t.Fatalf("the accident's GTIDs %s to %s are not ten consecutive ones", a, b)
	}
	end := s.txns[len(s.txns)-1].GTID
	gtid := func(seq uint64) string { return fmt.Sprintf("%d-%d-%d", a.Domain, a.Server, seq) }
	ranges := func(t *testing.T, spec string) []filter.GTIDRange {
		t.Helper()
		rs, err := filter.ParseGTIDRanges(spec)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	options := func(t *testing.T, spec string) undo.Options {
		o := s.undoOptions(4)
		o.Range.StartPosition, o.Range.StopPosition = txn.Position{}, txn.Position{}
		o.Range.GTIDs = ranges(t, spec)
		return o
	}
	ref := s.reference(t)

	for _, c := range []struct {
		name, gtids, want string
	}{
		{"a transaction between named ones left out", fmt.Sprintf("%s..%d,%s..%d", gtid(a.Seq), a.Seq+3, gtid(a.Seq+5), b.Seq),
			fmt.Sprintf("not consecutive in the binlogs: the transaction at %s (GTID %s) comes after", s.txnOf(t, a.Seq+4).Start, gtid(a.Seq+4))},
		{"another server id", fmt.Sprintf("%d-%d-%d..%d", a.Domain, a.Server+1, a.Seq, b.Seq), "none of the transactions --gtids names"},
		{"a transaction the binlogs do not hold", fmt.Sprintf("%s..%d,%s..%d", gtid(a.Seq), b.Seq, gtid(end.Seq+100), end.Seq+100),
			fmt.Sprintf("named ones are not found before it (%s..%d)", gtid(end.Seq+100), end.Seq+100)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log strings.Builder
			_, err := undo.Run(ctx, options(t, c.gtids), &log)
			var re *undo.RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("--gtids %s: got %v, want a refusal saying %q\n%s", c.gtids, err, c.want, log.String())
			}
		})
	}
	var n int
	if err := s.SourceDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'binlog_replay' AND TABLE_NAME = 'undo'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused undos wrote their record (%d, %v)", n, err)
	}
	if err := s.SourceDB.QueryRow("SELECT COUNT(*) FROM app.orders WHERE id > 12000 AND id < 13000").Scan(&n); err != nil || n != 100 {
		t.Fatalf("after the refusals %d orders of the second run are left (%v), want its 100: nothing undone", n, err)
	}

	// Customer 301, which the first transaction of the range updated,
	// changed outside the binlogs: the undo stops before that
	// transaction's inverse, the last it applies.
	var note string
	if err := s.SourceDB.QueryRow("SELECT note FROM app.customers WHERE id = 301").Scan(&note); err != nil {
		t.Fatal(err)
	}
	if err := replaytest.ExecAll(ctx, s.SourceDB, "SET SESSION sql_log_bin = 0", "UPDATE app.customers SET note = 'outside' WHERE id = 301",
		"SET SESSION sql_log_bin = 1"); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf("%s..%d", gtid(a.Seq), b.Seq)
	o := options(t, spec)
	o.Apply.GroupTxns = 1
	var log strings.Builder
	sum, err := undo.Run(ctx, o, &log)
	if !errors.Is(err, sqlgenErrRowDiffers()) {
		t.Fatalf("undo over a row changed outside the binlogs: got %v, want the row refused\n%s", err, log.String())
	}
	if sum.RangeTxns != 10 || sum.RangeStart != s.first.Start || sum.RangeEnd != s.last.End {
		t.Fatalf("range %s..%s of %d transactions, want the accident's ten %s..%s\n%s",
			sum.RangeStart, sum.RangeEnd, sum.RangeTxns, s.first.Start, s.last.End, log.String())
	}
	t.Logf("first run: %d transactions undone before the row changed outside the binlogs", sum.Undone)
	if err := replaytest.ExecAll(ctx, s.SourceDB, "SET SESSION sql_log_bin = 0", "UPDATE app.customers SET note = '"+note+"' WHERE id = 301",
		"SET SESSION sql_log_bin = 1"); err != nil {
		t.Fatal(err)
	}
	o.Resume = true
	sum = runUndo(t, o)
	if !sum.Finished || sum.RangeTxns != 10 || sum.RangeStart != s.first.Start || sum.RangeEnd != s.last.End {
		t.Errorf("resumed: finished %v, range %s..%s of %d transactions; want the accident's ten, %s..%s",
			sum.Finished, sum.RangeStart, sum.RangeEnd, sum.RangeTxns, s.first.Start, s.last.End)
	}
	replaytest.RequireEqual(t, s.SourceDB, ref, "app")

	// A GTID of the range logged again later (gtid_strict_mode is off):
	// which transaction --gtids names cannot be told, and a new undo by
	// the same GTIDs is refused (a dry run, reading the binlogs to their
	// end: the undo's own writes, then that transaction).
	if err := replaytest.ExecAll(ctx, s.SourceDB, fmt.Sprintf("SET SESSION gtid_seq_no = %d", a.Seq+2), "INSERT INTO app.audit (what) VALUES ('again')"); err != nil {
		t.Fatal(err)
	}
	o = options(t, spec)
	o.Range.Until, o.DryRun = txn.Position{}, true
	if o.Files, err = s.Source.BinlogFiles(); err != nil { // the source may have opened a new file since
		t.Fatal(err)
	}
	log.Reset()
	_, err = undo.Run(ctx, o, &log)
	var re *undo.RefusedError
	if want := fmt.Sprintf("GTID %s, which --gtids names, is in the binlogs twice: again after the range", gtid(a.Seq+2)); !errors.As(err, &re) || !strings.Contains(err.Error(), want) {
		t.Errorf("a named GTID again after the range: got %v, want a refusal saying %q\n%s", err, want, log.String())
	}
}

// txnOf returns the scenario's transaction of GTID sequence number seq.
func (s *scenario) txnOf(t *testing.T, seq uint64) *txn.Txn {
	t.Helper()
	for _, tx := range s.txns {
		if tx.GTID.Seq == seq {
			return tx
		}
	}
	t.Fatalf("no transaction of GTID sequence number %d", seq)
	return nil
}

// redo applies the accident's transactions to the source again (an undo
// of its undo, in effect), out of its binlog.
func redo(t *testing.T, s *scenario) {
	t.Helper()
	o := replay.DefaultOptions()
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Select.StopPosition = s.Files, s.Source.DSN(""), s.first.Start, s.last.End
	o.Apply.NoLogBin = true
	var log strings.Builder
	if _, err := replay.Run(context.Background(), o, &log); err != nil {
		t.Fatalf("redo the accident: %v\n%s", err, log.String())
	}
	if _, err := s.SourceDB.Exec("DROP DATABASE binlog_replay"); err != nil {
		t.Fatal(err)
	}
}

// TestUndoConflicts undoes an accident some of whose rows later
// transactions wrote again: refused by default, naming the tables, the
// rows and the first later transaction of each; with --on-conflict skip,
// the other rows are undone and those are left as the later writes made
// them.
func TestUndoConflicts(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, accident{
		accident: func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "BEGIN",
				"UPDATE app.customers SET score = 0, kind = 'c' WHERE id <= 100",
				"DELETE FROM app.items WHERE order_id <= 20",
				"COMMIT")
		},
		after: func(ctx context.Context, db *sql.DB) error {
			if err := unrelated(ctx, db); err != nil {
				return err
			}
			return replaytest.ExecAll(ctx, db,
				"UPDATE app.customers SET name = 'changed later' WHERE id IN (5, 6, 7)",
				"INSERT INTO app.items VALUES (3, 1, 'AGAIN', 5)")
		},
	})
	// The reference: the binlogs without the accident and the later
	// insert of an item it deleted (which the reference cannot take: it
	// holds the item), with the rows the undo leaves as the later writes
	// left them.
	again := s.txns[len(s.txns)-1]
	ref := s.referenceTo(t, again.Start)
	if err := replaytest.ExecAll(ctx, ref,
		"UPDATE app.customers SET score = 0, kind = 'c' WHERE id IN (5, 6, 7)",
		"UPDATE app.items SET sku = 'AGAIN', qty = 5 WHERE order_id = 3 AND line = 1"); err != nil {
		t.Fatal(err)
	}
	// Refused by default, and with --dry-run.
	for _, dry := range []bool{false, true} {
		o := s.undoOptions(4)
		o.DryRun = dry
		var log strings.Builder
		_, err := undo.Run(ctx, o, &log)
		var ce *undo.ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("dry run %v: got %v, want a ConflictError\n%s", dry, err, log.String())
		}
		got := map[string]undo.Conflict{}
		for _, c := range ce.Conflicts {
			got[c.Table] = c
		}
		if c := got["app.customers"]; c.Rows != 3 || c.Total != 100 || c.First == nil || len(c.Samples) != 3 || !strings.Contains(c.Samples[0], "`id`=?") {
			t.Errorf("dry run %v: app.customers conflict %+v, want 3 of 100 rows, values redacted", dry, c)
		}
		if c := got["app.items"]; c.Rows != 1 || c.Total != 40 || c.First == nil || c.First.Start == got["app.customers"].First.Start {
			t.Errorf("dry run %v: app.items conflict %+v, want 1 of 40 rows, first written by another transaction than the customers", dry, c)
		}
		if len(got) != 2 || !strings.Contains(err.Error(), "app.customers: 3 of the range's 100 rows") {
			t.Errorf("dry run %v: conflicts %v", dry, err)
		}
	}
	var n int
	if err := s.SourceDB.QueryRow("SELECT COUNT(*) FROM app.customers WHERE score = 0").Scan(&n); err != nil || n != 100 {
		t.Fatalf("after the refusals %d customers have the accident's score (%v), want 100: nothing written", n, err)
	}
	// Skipped: the conflicting rows stay as the later writes left them.
	o := s.undoOptions(4)
	o.Range.OnConflict = undo.ConflictSkip
	sum := runUndo(t, o)
	if !sum.Finished || len(sum.Left) != 2 {
		t.Errorf("summary: finished %v, left %+v", sum.Finished, sum.Left)
	}
	rows := map[string]undo.TableRows{}
	for _, tr := range sum.Tables {
		rows[tr.Table] = tr
	}
	if rows["app.customers"].Updated != 97 || rows["app.items"].Inserted != 39 {
		t.Errorf("rows changed back: %+v; want 97 customers updated back, 39 items inserted back", sum.Tables)
	}
	replaytest.RequireEqual(t, s.SourceDB, ref, "app")
}

// TestUndoLaterCascade undoes an update of child rows after which the
// parents of some were deleted or updated, their foreign keys (directly,
// or through a chain of them) cascading to those children without logging
// it: every later write that may have changed the children is a conflict
// for all the range's rows of the child table, so the undo is refused with
// nothing written (before, the undo wrote what it could and stopped at the
// first child row the cascade had changed, which its row check found
// differing: soak seed 61226).
func TestUndoLaterCascade(t *testing.T) {
	ctx := context.Background()
	setup := func(ctx context.Context, db *sql.DB) error {
		stmts := []string{
			"CREATE DATABASE app",
			"CREATE TABLE app.gp (id INT PRIMARY KEY) ENGINE=InnoDB",
			"CREATE TABLE app.par (id INT PRIMARY KEY, gid INT, FOREIGN KEY (gid) REFERENCES app.gp(id) ON DELETE CASCADE) ENGINE=InnoDB",
			"CREATE TABLE app.chi (id INT PRIMARY KEY, pid INT, v INT, " +
				"FOREIGN KEY (pid) REFERENCES app.par(id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
			"CREATE TABLE app.other (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
		}
		for i := 1; i <= 10; i++ {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO app.gp VALUES (%d)", i), fmt.Sprintf("INSERT INTO app.par VALUES (%d, %d)", i, i),
				fmt.Sprintf("INSERT INTO app.chi VALUES (%d, %d, 0)", i, i), fmt.Sprintf("INSERT INTO app.other VALUES (%d, 0)", i))
		}
		return replaytest.ExecAll(ctx, db, stmts...)
	}
	for _, tc := range []struct {
		name, later, why string
	}{
		{"parent deleted", "DELETE FROM app.par WHERE id = 3", "it deletes rows of app.par"},
		{"parent updated", "UPDATE app.par SET id = 30 WHERE id = 3", "it updates rows of app.par"},
		{"grandparent deleted", "DELETE FROM app.gp WHERE id = 4", "it deletes rows of app.gp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenarioWith(t, setup, accident{
				accident: func(ctx context.Context, db *sql.DB) error {
					return replaytest.ExecAll(ctx, db, "UPDATE app.chi SET v = 99 WHERE id <= 5", "UPDATE app.other SET v = 1 WHERE id = 1")
				},
				after: func(ctx context.Context, db *sql.DB) error { return replaytest.ExecAll(ctx, db, tc.later) },
			})
			var log strings.Builder
			_, err := undo.Run(ctx, s.undoOptions(2), &log)
			var ce *undo.ConflictError
			if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Table != "app.chi" || ce.Conflicts[0].Rows != 5 ||
				!strings.Contains(ce.Conflicts[0].Why, tc.why) || !strings.Contains(ce.Conflicts[0].Why, "carries to app.chi") {
				t.Fatalf("got %v (%+v), want a ConflictError for all 5 rows of app.chi: %s\n%s", err, ce, tc.why, log.String())
			}
			var n int
			if err := s.SourceDB.QueryRow("SELECT COUNT(*) FROM app.other WHERE v = 1").Scan(&n); err != nil || n != 1 {
				t.Fatalf("app.other after the refusal: %d rows of the accident (%v), want 1: nothing written", n, err)
			}
		})
	}
}

// TestUndoRowTwiceInOneEvent undoes statements that change a row twice
// in one row event (INSERT ... ON DUPLICATE KEY UPDATE with a key twice),
// which LOAD DATA ... REPLACE does too: the row's check compared both of
// its images with the one row on the target and stopped the undo, "rows
// differ on the target" (soak seed 7); the first image is checked, the
// other is what the inverse's row before it sets.
func TestUndoRowTwiceInOneEvent(t *testing.T) {
	s := newScenarioWith(t, func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE app",
			"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(8)) ENGINE=InnoDB", "INSERT INTO app.t VALUES (1, 'z'), (2, 'y')")
	}, accident{
		accident: func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db,
				"INSERT INTO app.t VALUES (1, 'a'), (2, 'b'), (1, 'c'), (1, 'd') ON DUPLICATE KEY UPDATE v = VALUES(v)")
		},
	})
	ref := s.reference(t)
	runUndo(t, s.undoOptions(2))
	replaytest.RequireEqual(t, s.SourceDB, ref, "app")
}

// TestUndoRefusals checks that what an undo cannot reverse is refused
// before anything is written, with a message saying why: DDL, a delete
// that cascaded to child rows (not in the binlog), statement-format DML, a
// non-transactional table, row images without every column.
func TestUndoRefusals(t *testing.T) {
	ctx := context.Background()
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE r",
			"CREATE TABLE r.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"CREATE TABLE r.parent (id INT PRIMARY KEY) ENGINE=InnoDB",
			"CREATE TABLE r.child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES r.parent(id) ON DELETE CASCADE) ENGINE=InnoDB",
			"CREATE TABLE r.m (id INT PRIMARY KEY) ENGINE=MyISAM",
			"INSERT INTO r.t VALUES (1, 1), (2, 2)",
			"INSERT INTO r.parent VALUES (1), (2)",
			"INSERT INTO r.child VALUES (10, 1), (20, 2)")
	}
	cases := []struct {
		name string
		stmt []string
		want string
	}{
		{"ddl", []string{"ALTER TABLE r.t ADD COLUMN w INT"}, "it is DDL"},
		{"cascade", []string{"DELETE FROM r.parent WHERE id = 1"}, "ON DELETE CASCADE"},
		{"statement", []string{"SET SESSION binlog_format = 'STATEMENT'", "UPDATE r.t SET v = v + 1", "SET SESSION binlog_format = 'ROW'"}, "statement-format"},
		{"myisam", []string{"INSERT INTO r.m VALUES (5)"}, "non-transactional"},
		{"minimal", []string{"SET SESSION binlog_row_image = 'MINIMAL'", "UPDATE r.t SET v = 9 WHERE id = 2", "SET SESSION binlog_row_image = 'FULL'"}, "binlog_row_image=FULL"},
	}
	sc := replaytest.New(t, "ROW", setup, func(ctx context.Context, db *sql.DB) error {
		for _, c := range cases {
			if err := replaytest.ExecAll(ctx, db, c.stmt...); err != nil {
				return err
			}
		}
		return nil
	})
	txns := readTxns(t, sc.Files, sc.Start)
	if len(txns) != len(cases) {
		t.Fatalf("%d transactions, want %d", len(txns), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := undo.DefaultOptions()
			o.Files, o.TargetDSN = sc.Files, sc.Source.DSN("")
			o.Range.StartPosition, o.Range.StopPosition = txns[i].Start, txns[i].End
			var log strings.Builder
			_, err := undo.Run(ctx, o, &log)
			var re *undo.RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), txns[i].Start.String()) {
				t.Fatalf("got %v, want a refusal naming the transaction and saying %q\n%s", err, c.want, log.String())
			}
		})
	}
	var n int
	if err := sc.SourceDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'binlog_replay' AND TABLE_NAME = 'undo'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused undos wrote their record (%d, %v)", n, err)
	}
}

// TestUndoTriggerRows undoes a DELETE on a table whose trigger wrote audit
// rows: in ROW format the trigger's rows are in the binlog, and are undone
// with the others (the undo's row events fire no trigger on the target),
// which warns of the trigger.
func TestUndoTriggerRows(t *testing.T) {
	s := newScenario(t, accident{
		before: func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db,
				"CREATE TABLE app.deleted (id INT AUTO_INCREMENT PRIMARY KEY, customer INT, name VARCHAR(40))",
				"CREATE TRIGGER app.customers_ad AFTER DELETE ON app.customers FOR EACH ROW "+
					"INSERT INTO app.deleted (customer, name) VALUES (OLD.id, OLD.name)")
		},
		accident: func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE app", "BEGIN",
				"DELETE i FROM app.items i JOIN app.orders o ON o.id = i.order_id WHERE o.customer_id BETWEEN 100 AND 149",
				"DELETE FROM app.orders WHERE customer_id BETWEEN 100 AND 149",
				"DELETE FROM app.customers WHERE id BETWEEN 100 AND 149",
				"COMMIT")
		},
		after: unrelated,
	})
	ref := s.reference(t)
	var log strings.Builder
	sum, err := undo.Run(context.Background(), s.undoOptions(4), &log)
	if err != nil {
		t.Fatalf("undo: %v\n%s", err, log.String())
	}
	rows := map[string]undo.TableRows{}
	for _, tr := range sum.Tables {
		rows[tr.Table] = tr
	}
	if rows["app.customers"].Inserted != 50 || rows["app.deleted"].Deleted != 50 {
		t.Errorf("rows changed back %+v: want 50 customers inserted back and their 50 audit rows deleted", sum.Tables)
	}
	if !strings.Contains(log.String(), "app.customers has triggers on the target") {
		t.Errorf("no warning of the trigger:\n%s", log.String())
	}
	replaytest.RequireEqual(t, s.SourceDB, ref, "app")
}

// ownSecond is an accident in a second of its own: work a second before
// it, unrelated writes a second after it.
func ownSecond(a func(ctx context.Context, db *sql.DB) error) accident {
	pause := func(ctx context.Context, db *sql.DB) error {
		time.Sleep(1100 * time.Millisecond)
		return nil
	}
	return accident{
		before:   pause,
		accident: a,
		after: func(ctx context.Context, db *sql.DB) error {
			if err := pause(ctx, db); err != nil {
				return err
			}
			return unrelated(ctx, db)
		},
	}
}

// TestUndoByDatetime selects the range by commit times: the accident's
// second, between writes of other seconds.
func TestUndoByDatetime(t *testing.T) {
	s := newScenario(t, ownSecond(func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "UPDATE app.orders SET amount = 0", "UPDATE app.customers SET balance = 0")
	}))
	if !s.first.Time.Equal(s.last.Time) {
		t.Skipf("the accident spans two seconds (%s, %s)", s.first.Time, s.last.Time)
	}
	undoAccidentSecond(t, s, 2)
}

// undoAccidentSecond undoes, by --start-datetime and --stop-datetime, the
// second of s's accident (its first transaction's), which must be the
// accident's n transactions, and compares the source with the history
// without them.
func undoAccidentSecond(t *testing.T, s *scenario, n int64) {
	t.Helper()
	ref := s.reference(t)
	o := s.undoOptions(4)
	o.Range.StartPosition, o.Range.StopPosition = txn.Position{}, txn.Position{}
	o.Range.StartDatetime, o.Range.StopDatetime = s.first.Time, s.first.Time.Add(time.Second)
	sum := runUndo(t, o)
	if sum.RangeTxns != n || sum.RangeStart != s.first.Start || sum.RangeEnd != s.last.End {
		t.Errorf("range %s..%s of %d transactions, want the accident's %d %s..%s", sum.RangeStart, sum.RangeEnd, sum.RangeTxns, n, s.first.Start, s.last.End)
	}
	replaytest.RequireEqual(t, s.SourceDB, ref, "app")
}

// TestUndoByDatetimeTimeOutOfOrder selects by commit times a range whose
// middle transaction was logged with an earlier time (SET TIMESTAMP, as a
// statement that ran long is): the range starts with the first
// transaction at or after --start-datetime and holds every one after it
// up to the stop, so the middle one is undone too.
func TestUndoByDatetimeTimeOutOfOrder(t *testing.T) {
	s := newScenario(t, ownSecond(func(ctx context.Context, db *sql.DB) error {
		// One session: its clock set, the middle transaction ten
		// seconds earlier.
		return replaytest.ExecAll(ctx, db, "SET @t = UNIX_TIMESTAMP(NOW())", "SET TIMESTAMP = @t",
			"UPDATE app.orders SET amount = 0 WHERE customer_id <= 100",
			"SET TIMESTAMP = @t - 10", "UPDATE app.customers SET balance = 0",
			"SET TIMESTAMP = @t", "UPDATE app.orders SET amount = 1 WHERE customer_id > 200", "SET TIMESTAMP = DEFAULT")
	}))
	var accident []*txn.Txn
	for _, tx := range s.txns {
		if len(accident) > 0 || tx == s.first {
			accident = append(accident, tx)
		}
		if tx == s.last {
			break
		}
	}
	if len(accident) != 3 || !s.first.Time.Equal(s.last.Time) || !accident[1].Time.Before(s.first.Time) {
		t.Fatalf("want the accident's three transactions, the middle one logged earlier: %+v", accident)
	}
	undoAccidentSecond(t, s, 3)
}

// TestUndoRangeAtEndOfBinlogs gives the undo binlogs that end where the
// range does, as a live server's last file may: exactly at
// --stop-position, and inside a later transaction being written. The
// range ends there and is undone. Binlogs that end inside the range are
// still refused, with nothing written.
func TestUndoRangeAtEndOfBinlogs(t *testing.T) {
	ctx := context.Background()
	s := newScenario(t, accident{
		accident: func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "UPDATE app.orders SET amount = 0 WHERE customer_id <= 100")
			return err
		},
		after: unrelated,
	})
	var next *txn.Txn
	for i, tx := range s.txns {
		if tx == s.last && i+1 < len(s.txns) {
			next = s.txns[i+1]
		}
	}
	if next == nil || next.Start.File != s.last.End.File {
		t.Fatalf("no transaction after the accident in its file %s", s.last.End.File)
	}
	ref := s.reference(t)
	// undoTo undoes the accident from binlogs that end size bytes into
	// the accident's file.
	undoTo := func(t *testing.T, size uint64) (*undo.Summary, string, error) {
		o := s.undoOptions(4)
		o.Files, o.Range.Until = binlogsTo(t, s.Files, s.last.End.File, size), txn.Position{}
		var log strings.Builder
		sum, err := undo.Run(ctx, o, &log)
		return sum, log.String(), err
	}

	_, log, err := undoTo(t, s.last.End.Offset-1)
	var re *undo.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "before the end of the range") {
		t.Fatalf("binlogs ending inside the range: got %v, want a refusal\n%s", err, log)
	}
	var n int
	if err := s.SourceDB.QueryRow("SELECT COUNT(*) FROM app.orders WHERE amount = 0").Scan(&n); err != nil || n != 300 {
		t.Fatalf("after the refusal %d orders are as the accident left them (%v), want 300", n, err)
	}

	for i, c := range []struct {
		name string
		size uint64
	}{
		{"at the stop position", s.last.End.Offset},
		{"inside a later transaction", (next.Start.Offset + next.End.Offset) / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if i > 0 {
				redo(t, s) // the accident again, to undo again
			}
			sum, log, err := undoTo(t, c.size)
			if err != nil {
				t.Fatalf("undo: %v\n%s", err, log)
			}
			if !sum.Finished || sum.RangeTxns != 1 || sum.RangeEnd != s.last.End || sum.LaterTxns != 0 {
				t.Errorf("summary: finished %v, %d transactions to %s, %d later; want the accident's one, to %s, none later",
					sum.Finished, sum.RangeTxns, sum.RangeEnd, sum.LaterTxns, s.last.End)
			}
			replaytest.RequireEqual(t, s.SourceDB, ref, "app")
		})
	}
}

// binlogsTo copies files to a new directory up to the one named last,
// which is cut to size bytes, and returns the copies.
func binlogsTo(t *testing.T, files []string, last string, size uint64) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := logfile.Name(f)
		if name == last {
			data = data[:size]
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
		if name == last {
			return out
		}
	}
	t.Fatalf("no binlog file %s in %v", last, files)
	return nil
}
