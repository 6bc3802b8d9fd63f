package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// hotScenario writes many times to few rows: txns transactions in all,
// the last two a row of cp.a inserted with the highest id, updated and
// deleted; the others of one to four statements on
//   - cp.h, 20 rows with a primary key only (compacted): updates of one
//     row or several, deletes and inserts of the same keys;
//   - cp.a, an AUTO_INCREMENT primary key (compacted, but an insert
//     deleted in the same group stays, for the counter): rows inserted,
//     updated and deleted;
//   - cp.u, a second unique key (left alone), updated in a way that
//     swaps unique values.
func hotScenario(t *testing.T, txns int) *replaytest.Scenario {
	txns -= 2 // the last two are the counter's
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			stmts := []string{"CREATE DATABASE cp",
				"CREATE TABLE cp.h (id INT PRIMARY KEY, v INT, s VARCHAR(40), d DOUBLE, t DATETIME(6), b BLOB)",
				"CREATE TABLE cp.a (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
				"CREATE TABLE cp.u (id INT PRIMARY KEY, u INT UNIQUE, v INT)"}
			for id := 1; id <= 20; id++ {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO cp.h VALUES (%d, 0, 's%d', 0.5, '2026-01-01 00:00:00.000001', 'b')", id, id),
					fmt.Sprintf("INSERT INTO cp.u VALUES (%d, %d, 0)", id, id))
			}
			return replaytest.ExecAll(ctx, db, stmts...)
		},
		func(ctx context.Context, db *sql.DB) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			rng := rand.New(rand.NewPCG(16, 5))
			var stmts []string
			for range txns {
				stmts = append(stmts, "BEGIN")
				for range 1 + rng.IntN(4) {
					id := 1 + rng.IntN(20)
					switch rng.IntN(10) {
					case 0, 1, 2:
						stmts = append(stmts, fmt.Sprintf("UPDATE cp.h SET v = v + 1, s = CONCAT('s', %d, '-', v), d = d * 1.1, t = NOW(6) WHERE id = %d", rng.IntN(1000), id))
					case 3:
						stmts = append(stmts, fmt.Sprintf("UPDATE cp.h SET v = v + 1, b = REPEAT('x', %d) WHERE id BETWEEN %d AND %d", rng.IntN(300), id, id+3))
					case 4:
						stmts = append(stmts, fmt.Sprintf("DELETE FROM cp.h WHERE id = %d", id),
							fmt.Sprintf("INSERT INTO cp.h VALUES (%d, %d, 'new', 1.5, NOW(6), NULL)", id, rng.IntN(100)))
					case 5:
						stmts = append(stmts, fmt.Sprintf("INSERT INTO cp.a (v) VALUES (%d), (%d)", rng.IntN(100), rng.IntN(100)))
					case 6:
						stmts = append(stmts, "UPDATE cp.a SET v = v + 1 ORDER BY id DESC LIMIT 2")
					case 7:
						stmts = append(stmts, "DELETE FROM cp.a ORDER BY id DESC LIMIT 1")
					case 8:
						// Swap the unique values of two rows through a free one.
						other := 1 + (id+rng.IntN(19))%20
						stmts = append(stmts, fmt.Sprintf("SELECT u INTO @x FROM cp.u WHERE id = %d", id),
							fmt.Sprintf("SELECT u INTO @y FROM cp.u WHERE id = %d", other),
							fmt.Sprintf("UPDATE cp.u SET u = -1 WHERE id = %d", id),
							fmt.Sprintf("UPDATE cp.u SET u = @x WHERE id = %d", other),
							fmt.Sprintf("UPDATE cp.u SET u = @y, v = v + 1 WHERE id = %d", id))
					default:
						stmts = append(stmts, fmt.Sprintf("UPDATE cp.h SET v = v - 1 WHERE id = %d", id),
							fmt.Sprintf("UPDATE cp.h SET v = v + 2 WHERE id = %d", id))
					}
				}
				stmts = append(stmts, "COMMIT")
			}
			// Last, a row inserted with the highest id and deleted in the
			// same group: the counter stays where the insert moved it.
			stmts = append(stmts, "BEGIN", "INSERT INTO cp.a (v) VALUES (7)", "UPDATE cp.a SET v = 8 WHERE id = LAST_INSERT_ID()",
				"COMMIT", "DELETE FROM cp.a WHERE id = LAST_INSERT_ID()")
			for _, s := range stmts {
				if _, err := conn.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return nil
		})
}

// compactedRows returns what the log of a replay with --compact says it
// compacted: rows of compacted tables, and rows written for them.
func compactedRows(t *testing.T, log string) (in, out int) {
	t.Helper()
	m := regexp.MustCompile(`compaction: (\d+) rows of compacted tables written as (\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the log does not say what was compacted\nlog:\n%s", log)
	}
	in, _ = strconv.Atoi(m[1])
	out, _ = strconv.Atoi(m[2])
	return in, out
}

// autoIncrement returns the AUTO_INCREMENT counter of cp.a.
func autoIncrement(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'cp' AND TABLE_NAME = 'a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n.Int64
}

// TestCompactHotRows replays a workload of many writes to few rows with
// --compact, passed through and as SQL, with one worker and with four,
// and compares the target with the source table by table, and the
// AUTO_INCREMENT counter; the replay must have compacted rows (fewer
// written than read).
func TestCompactHotRows(t *testing.T) {
	const txns = 1500 + 2 // and the last two
	sc := hotScenario(t, txns)
	want := autoIncrement(t, sc.SourceDB)
	for _, mode := range applyModes {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(t *testing.T) {
				tgt, db := sc.Target(t)
				o := withApply(opts(workers), mode)
				o.Apply.Compact = true
				o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
				var log strings.Builder
				sum, err := replay.Run(context.Background(), o, &log)
				if err != nil {
					t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
				}
				checkApplied(t, o, sum, log.String())
				if sum.Applied != txns {
					t.Fatalf("applied %d transactions, want %d", sum.Applied, txns)
				}
				in, out := compactedRows(t, log.String())
				t.Logf("%s", strings.TrimSpace(regexp.MustCompile(`compaction: .*`).FindString(log.String())))
				if out >= in || in == 0 {
					t.Fatalf("compaction wrote %d rows of %d: nothing compacted\nlog:\n%s", out, in, log.String())
				}
				replaytest.RequireEqual(t, db, sc.SourceDB, "cp")
				if got := autoIncrement(t, db); got != want {
					t.Fatalf("AUTO_INCREMENT of cp.a is %d on the target, %d on the source", got, want)
				}
			})
		}
	}
}

// TestCompactCutAtCommit cuts the replay's connection at the COMMIT of a
// compacted group, once after the server received it (it committed, the
// replay does not know) and once before (nothing committed): the replay
// reconnects, reads the checkpoint, resumes with --compact, and ends equal
// to the source with every transaction applied once. A run stopped half
// way and resumed with --resume ends the same.
func TestCompactCutAtCommit(t *testing.T) {
	const txns = 400 + 2 // and the last two
	sc := hotScenario(t, txns)
	for _, c := range []struct {
		name string
		mode cutMode
	}{
		{"after COMMIT", cutAfter},
		{"before COMMIT", cutBefore},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), c.mode, 3)
			o := opts(4)
			o.Apply.Compact = true
			o.Apply.GroupTxns = 16 // groups of 16 transactions: the third commit holds 33 to 48
			o.Recovery.MaxRetries = 2
			o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
			o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			if cut, _ := proxy.state(); !cut || !strings.Contains(log.String(), "lost the target") {
				t.Fatalf("the connection was not cut (cut %v)\nlog:\n%s", cut, log.String())
			}
			if in, out := compactedRows(t, log.String()); out >= in {
				t.Fatalf("compaction wrote %d rows of %d: nothing compacted", out, in)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "cp")
			cp, err := replay.ReadCheckpoint(context.Background(), db)
			if err != nil || cp == nil || cp.Applied != txns || sum.Applied != txns {
				t.Fatalf("checkpoint %+v (%v), summary applied %d: want %d transactions", cp, err, sum.Applied, txns)
			}
		})
	}
	// A run stopped in the middle (a stop point inside what would have
	// been one group), then a --resume with --compact to the end.
	t.Run("stop, then resume", func(t *testing.T) {
		all := scenarioTxns(t, sc)
		if len(all) != txns {
			t.Fatalf("%d transactions, want %d", len(all), txns)
		}
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Apply.Compact = true
		o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
		o.Select.StopBeforeGTID = all[txns/2].GTID
		var log strings.Builder
		first, err := replay.Run(context.Background(), o, &log)
		if err != nil || first.Applied != txns/2 {
			t.Fatalf("replay to %s: %v, %v applied, want %d\nlog:\n%s", o.Select.StopBeforeGTID, err, first, txns/2, log.String())
		}
		o = opts(4)
		o.Apply.Compact, o.Recovery.Resume, o.Select.ToEnd = true, true, true
		o.Files, o.TargetDSN = sc.Files, tgt.DSN("")
		rest, err := replay.Run(context.Background(), o, &log)
		if err != nil || rest.Applied != txns-txns/2 {
			t.Fatalf("resume: %v, %v applied, want %d\nlog:\n%s", err, rest, txns-txns/2, log.String())
		}
		if in, out := compactedRows(t, log.String()); out >= in {
			t.Fatalf("compaction wrote %d rows of %d: nothing compacted", out, in)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "cp")
		if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp == nil || cp.Applied != txns {
			t.Fatalf("checkpoint %+v (%v), want %d transactions applied", cp, err, txns)
		}
	})
}
