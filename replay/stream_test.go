package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// bigTxnScenario writes small transactions around big ones, each several
// MiB of row events, larger than the pieces a 4 MiB memory budget reads
// (256 KiB): one over two InnoDB tables and several statements (some
// statements cut in pieces, so that pieces start inside a statement), a
// CREATE TABLE ... SELECT of many rows, and one into a MyISAM table.
func bigTxnScenario(t *testing.T) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE bt",
				"CREATE TABLE bt.a (id INT PRIMARY KEY, v VARCHAR(300)) ENGINE=InnoDB",
				"CREATE TABLE bt.b (id INT PRIMARY KEY, v VARCHAR(300)) ENGINE=InnoDB",
				"CREATE TABLE bt.m (id INT, v VARCHAR(300)) ENGINE=MyISAM",
				"CREATE TABLE bt.s (id INT PRIMARY KEY, n INT) ENGINE=InnoDB", "INSERT INTO bt.s VALUES (1, 0)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE bt",
				"UPDATE bt.s SET n = n + 1",
				"BEGIN",
				"INSERT INTO bt.a SELECT seq, REPEAT(CHAR(65 + seq % 26), 250) FROM seq_1_to_12000",
				"UPDATE bt.s SET n = n + 10",
				"INSERT INTO bt.b SELECT seq, REPEAT('b', 250) FROM seq_1_to_8000",
				"UPDATE bt.a SET v = CONCAT('u', v) WHERE id % 3 = 0",
				"COMMIT",
				"UPDATE bt.s SET n = n + 100",
				"CREATE TABLE bt.c ENGINE=InnoDB SELECT * FROM bt.a",
				"UPDATE bt.s SET n = n + 1000",
				"INSERT INTO bt.m SELECT seq, REPEAT('m', 250) FROM seq_1_to_10000",
				"UPDATE bt.s SET n = n + 10000")
		})
}

// TestStreamedTransactions replays transactions larger than the memory
// budget allows to hold whole: they come in pieces, each applied as it is
// read, and commit whole. The target must end equal to the source, with
// row events passed through and applied as SQL (each piece decoded as it
// is read).
func TestStreamedTransactions(t *testing.T) {
	sc := bigTxnScenario(t)
	for _, workers := range []int{1, 4} {
		for _, apply := range applyModes {
			t.Run(fmt.Sprintf("%d workers, apply=%s", workers, apply), func(t *testing.T) {
				o := withApply(opts(workers), apply)
				o.Apply.MemoryBudget = 4 << 20
				db, sum := replayInto(t, sc, o)
				replaytest.RequireEqual(t, db, sc.SourceDB, "bt")
				if sum.BarrierReasons["a transaction too large to hold whole"] == 0 {
					t.Fatalf("no transaction was read in pieces: %v", sum.BarrierReasons)
				}
			})
		}
	}
}

// TestStreamedTransactionCut loses the target in the middle of a streamed
// transaction: nothing of it is committed, the replay reconnects, reads it
// again from the binlogs and applies it whole. Into a MyISAM table, whose
// rows stay, the outcome is unknown: the replay stops and says so.
func TestStreamedTransactionCut(t *testing.T) {
	sc := bigTxnScenario(t)
	for _, c := range []struct {
		name      string
		after     string // the cut is at the 4th BINLOG statement from the first packet containing this
		uncertain bool
	}{
		{"InnoDB", "BINLOG", false},
		{"CREATE TABLE ... SELECT", "CREATE TABLE `bt`.`c`", false},
		{"MyISAM", "state='nontrans'", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			seen, binlogs := false, 0
			match := func(b []byte) bool {
				if bytes.Contains(b, []byte(c.after)) {
					seen = true
				}
				if seen && bytes.HasPrefix(b, []byte("BINLOG")) {
					binlogs++
				}
				return binlogs == 4
			}
			proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutBefore, 1, match)
			o := opts(4)
			o.Apply.MemoryBudget = 4 << 20
			o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
			o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
			var log strings.Builder
			_, err := replay.Run(context.Background(), o, &log)
			if cut, _ := proxy.state(); !cut {
				t.Fatalf("the connection was not cut\nlog:\n%s", log.String())
			}
			var ue *replay.UncertainError
			if c.uncertain {
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), "bt.m") {
					t.Fatalf("replay: %v, want an *UncertainError naming bt.m\nlog:\n%s", err, log.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "bt")
		})
	}
}

// TestStreamedTransactionStop stops at the commit time of a streamed
// transaction (--stop-datetime): its pieces were sent, its end is where
// the replay stops: it is rolled back, and the target holds everything
// before it.
func TestStreamedTransactionStop(t *testing.T) {
	sc := bigTxnScenario(t)
	txns := scenarioTxns(t, sc)
	var big *txn.Txn
	for _, tx := range txns {
		if tx.Bytes > 1<<20 {
			big = tx
			break
		}
	}
	if big == nil {
		t.Fatal("no big transaction")
	}
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Apply.MemoryBudget = 4 << 20
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Select.StopPosition = txn.Position{File: big.End.File, Offset: big.End.Offset - 1}
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "rolled back on the target") || sum.Next != big.Start {
		t.Fatalf("stopped at %s (%s), want the start of the big transaction %s, rolled back\nlog:\n%s",
			sum.Next, sum.StopReason, big.Start, log.String())
	}
	var n, rows int
	if err := db.QueryRow("SELECT (SELECT n FROM bt.s), (SELECT COUNT(*) FROM bt.a)").Scan(&n, &rows); err != nil || n != 1 || rows != 0 {
		t.Fatalf("target holds n=%d and %d rows of bt.a (%v), want 1 and 0", n, rows, err)
	}
}

// TestHugeTransactionMemory replays one transaction of about 120 MiB of
// row events with a 16 MiB memory budget and samples the process's heap
// meanwhile: streamed in pieces, it must stay within the budget plus a
// margin for the rest of the process (the target of the design: the
// budget plus about 64 MiB of RSS, whatever the transaction's size); held
// whole, it took several times the transaction's size.
func TestHugeTransactionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a 120 MiB transaction")
	}
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE hm", "CREATE TABLE hm.t (id INT PRIMARY KEY, v VARCHAR(300))")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE hm", "INSERT INTO hm.t SELECT seq, REPEAT(CHAR(65 + seq % 26), 280) FROM seq_1_to_400000")
		})
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Apply.MemoryBudget = 16 << 20
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	runtime.GC()
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var max uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
				metrics.Read(sample)
				if v := sample[0].Value.Uint64(); v > max {
					max = v
				}
			}
		}
	}()
	sum, err := replay.Run(context.Background(), o, nil)
	close(done)
	p := <-peak
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if sum.BytesApplied < 100<<20 {
		t.Fatalf("the transaction was %d bytes, want over 100 MiB", sum.BytesApplied)
	}
	t.Logf("peak heap %d MiB for a %d MiB transaction, budget %d MiB, applied in %s", p>>20, sum.BytesApplied>>20, o.Apply.MemoryBudget>>20, sum.Elapsed)
	if limit := uint64(o.Apply.MemoryBudget) + 48<<20; p > limit {
		t.Fatalf("peak heap %d MiB, over the budget plus 48 MiB (%d MiB)", p>>20, limit>>20)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM hm.t").Scan(&n); err != nil || n != 400000 {
		t.Fatalf("%d rows (%v), want 400000", n, err)
	}
}
