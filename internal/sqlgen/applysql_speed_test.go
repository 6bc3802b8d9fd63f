package sqlgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// TestSQLApplySpeed compares, on one MariaDB target and one connection,
// applying the same binlog by passthrough (BINLOG statements) and by the
// SQL apply path (Generator.ApplySQL), and reports rows per second for
// each. It runs only with BINLOG_REPLAY_SQL_SPEED set (it takes about a
// minute on 2 cores):
//
//	BINLOG_REPLAY_SQL_SPEED=1 go test ./internal/sqlgen -run TestSQLApplySpeed -v
//
// Scenarios: "oltp", sysbench oltp_write_only on 4 tables of 10,000 rows
// (workload.OLTP: per transaction two single-row UPDATEs, a DELETE and an
// INSERT, so four row events of one row); "bulk", transactions of one
// range UPDATE, one range DELETE and one multi-row INSERT of 100 rows each
// on the same tables. The target is set up again (same base) before each
// run and compared with the source after it (package verify); each mode
// runs twice, alternating. Times include making the statements from the
// decoded transactions, not reading the binlog.
func TestSQLApplySpeed(t *testing.T) {
	if os.Getenv("BINLOG_REPLAY_SQL_SPEED") == "" {
		t.Skip("set BINLOG_REPLAY_SQL_SPEED=1 to measure passthrough against the SQL apply path")
	}
	ctx := context.Background()
	src := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	dst := sandbox.ForTest(t, sandbox.Options{})
	sdb, ddb := openDB(t, src), openDB(t, dst)
	o := workload.Options{Profile: workload.OLTP, Seed: 7, Scale: 10000, Tables: 4, Txns: 5000}
	for _, scenario := range []string{"oltp", "bulk"} {
		if err := workload.Setup(ctx, sdb, o); err != nil {
			t.Fatal(err)
		}
		if _, err := sdb.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
			t.Fatal(err)
		}
		before, err := src.BinlogFiles()
		if err != nil {
			t.Fatal(err)
		}
		switch scenario {
		case "oltp":
			err = workload.Run(ctx, sdb, o)
		case "bulk":
			err = bulkWorkload(ctx, sdb, 100, 100)
		}
		if err != nil {
			t.Fatal(err)
		}
		files, err := src.BinlogFiles()
		if err != nil {
			t.Fatal(err)
		}
		txns, rows, events := readAll(t, files[len(before)-1:])
		for round := 0; round < 2; round++ {
			for _, mode := range []string{"passthrough", "SQL", "SQL 1 trip"} {
				sqlMode := mode != "passthrough"
				if err := workload.Setup(ctx, ddb, o); err != nil {
					t.Fatal(err)
				}
				cache := schema.NewCache(ddb)
				g := &Generator{TargetMariaDB: true, Tables: cache.Table, Shapes: cache.Shape, ApplySQL: sqlMode, MaxStatementBytes: 4 << 20}
				conn, err := ddb.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				start, srvStart, cliStart := time.Now(), procCPU(dst.Pid), selfCPU()
				stmts, err := applyTxns(ctx, conn, g, txns, mode == "SQL 1 trip")
				elapsed := time.Since(start)
				srvCPU, cliCPU := procCPU(dst.Pid)-srvStart, selfCPU()-cliStart
				conn.Close()
				if err != nil {
					t.Fatal(err)
				}
				rep, err := verify.Compare(ctx, ddb, sdb, verify.Options{Databases: []string{"wl_oltp"}})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Equal() {
					t.Fatalf("%s: the target differs:\n%s", scenario, rep)
				}
				t.Logf("%-5s %-11s %6d txns %6d row events %6d rows: %6.2fs, %7.0f rows/s, %7.0f row events/s, %6d statements; CPU: server %.2fs, client %.2fs",
					scenario, mode, len(txns), events, rows, elapsed.Seconds(), float64(rows)/elapsed.Seconds(), float64(events)/elapsed.Seconds(), stmts,
					srvCPU.Seconds(), cliCPU.Seconds())
			}
		}
	}
}

// bulkWorkload runs txns transactions on wl_oltp.sbtest1..4, each a range
// UPDATE, a range DELETE and a multi-row INSERT putting the deleted rows
// back, of n rows each.
func bulkWorkload(ctx context.Context, db *sql.DB, txns, n int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i := 0; i < txns; i++ {
		table := fmt.Sprintf("wl_oltp.sbtest%d", 1+i%4)
		lo := 1 + (i*37*n)%(10000-n)
		stmts := []string{"BEGIN",
			fmt.Sprintf("UPDATE %s SET k = k + 1, c = REVERSE(c) WHERE id BETWEEN %d AND %d", table, lo, lo+n-1),
			fmt.Sprintf("CREATE TEMPORARY TABLE IF NOT EXISTS wl_oltp.tmp_rows LIKE %s", table),
			"DELETE FROM wl_oltp.tmp_rows",
			fmt.Sprintf("INSERT INTO wl_oltp.tmp_rows SELECT * FROM %s WHERE id BETWEEN %d AND %d", table, lo, lo+n-1),
			fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d", table, lo, lo+n-1),
			fmt.Sprintf("INSERT INTO %s SELECT * FROM wl_oltp.tmp_rows", table),
			"COMMIT"}
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return nil
}

// readAll reads and decodes every transaction of files, and counts their
// rows (an update's before and after images are one row) and row events.
func readAll(t *testing.T, files []string) (txns []*txn.Txn, rows, events int) {
	t.Helper()
	r, err := binlog.NewReader(files, binlog.Options{DecodeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return txns, rows, events
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tx.Events {
			if e.Kind == txn.EventRows {
				events++
				n := len(e.Rows.Rows)
				if e.Rows.Op == txn.OpUpdate {
					n /= 2
				}
				rows += n
			}
		}
		txns = append(txns, tx)
	}
}

// applyTxns applies txns (row transactions) on conn, each in a target
// transaction, as the replay's worker does; passthrough needs the binlog's
// format description first. It returns the number of statements and
// BINLOG statements sent.
func applyTxns(ctx context.Context, conn *sql.Conn, g *Generator, txns []*txn.Txn, inPacket bool) (int, error) {
	var format *txn.Format
	n := 0
	for _, tx := range txns {
		body, err := g.Body(ctx, tx)
		if err != nil {
			return n, err
		}
		if !g.ApplySQL && tx.Format != format {
			if _, err := conn.ExecContext(ctx, BinlogStatement(FormatStatement(tx.Format).Events)); err != nil {
				return n, err
			}
			format = tx.Format
		}
		n += len(body)
		if inPacket && len(body) > 0 && body[0].Check != nil && body[len(body)-1].Check != nil {
			// BEGIN and COMMIT in the packets of the statements.
			last := body[len(body)-1].Event
			body = append(append([]Stmt{{SQL: "BEGIN", Event: body[0].Event, Check: &RowCheck{}}}, body...),
				Stmt{SQL: "COMMIT", Event: last, Check: &RowCheck{}})
			if err := execBody(ctx, conn, body, 8<<20); err != nil {
				return n, fmt.Errorf("txn %d: %w", tx.Seq, err)
			}
			continue
		}
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			return n, err
		}
		if err := execBody(ctx, conn, body, 8<<20); err != nil {
			return n, fmt.Errorf("txn %d: %w", tx.Seq, err)
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			return n, err
		}
	}
	return n, nil
}

// procCPU returns the CPU time (user and system) process pid has used, 0
// where /proc cannot tell.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces), from field 3.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
