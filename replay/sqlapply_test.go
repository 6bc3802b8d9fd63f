package replay_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestSQLApplyJSONFixture replays into MariaDB json-opaque.binlog (MySQL
// 9.0), whose row events write a MySQL JSON column, which MariaDB refuses
// by passthrough (error 1105): the SQL apply path applies them, with one
// worker (rows decoded for the JSON table only) and with four. The file
// creates its table itself; its JSON holds dates, times and decimals
// (opaque values). The target must hold exactly the logged after images.
func TestSQLApplyJSONFixture(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "rust_mysql_common/test-data/binlogs/json-opaque.binlog")
	txns := readTxns(t, []string{path}, binlog.Options{DecodeRows: true})
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			srv := sandbox.ForTest(t, sandbox.Options{})
			db := openUTC(t, srv)
			o := opts(workers)
			o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, srv.DSN(""), 0
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			want := expectedRows(t, db, txns, "foo.test", 0)
			if got := tableRows(t, db, "foo.test"); got != want {
				t.Fatalf("foo.test after the replay:\n%s\nwant the logged after images:\n%s", got, want)
			}
			if sum.SQLRowEvents != 8 {
				t.Errorf("%d row events applied as SQL, want 8", sum.SQLRowEvents)
			}
		})
	}
}

// TestSQLApplyPartialJSON replays json.binlog.000001 (MySQL 8.0) from its
// first row transaction (its earlier statements are MySQL-only) into a
// table created with MariaDB's syntax for its generated columns, which
// the SQL apply path must not write. Its last transaction is a
// PARTIAL_UPDATE_ROWS event (binlog_row_value_options=PARTIAL_JSON) with
// MINIMAL images: the before image holds the key only, the after image the
// JSON diffs and the generated columns. The target must hold the logged
// rows with the diffs applied (JSON compared as values: MariaDB formats
// the documents its JSON functions return), the generated columns
// computed from them.
func TestSQLApplyPartialJSON(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "rust_mysql_common/test-data/binlogs/json.binlog.000001")
	txns := readTxns(t, []string{path}, binlog.Options{DecodeRows: true})
	want, partial := partialOracle(t, txns)
	if partial == 0 {
		t.Fatal("the fixture holds no PARTIAL_UPDATE_ROWS event")
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			srv := sandbox.ForTest(t, sandbox.Options{})
			db := openServer(t, srv)
			if _, err := db.Exec("CREATE TABLE mysql.t (id INT PRIMARY KEY AUTO_INCREMENT, json_col JSON, " +
				"name VARCHAR(100) AS (JSON_UNQUOTE(JSON_EXTRACT(json_col, '$.name'))), " +
				"age INT AS (JSON_EXTRACT(json_col, '$.age')))"); err != nil {
				t.Fatal(err)
			}
			o := opts(workers)
			o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, srv.DSN(""), 0
			o.Select.StartPosition = txn.Position{File: filepath.Base(path), Offset: 845}
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			got := partialRows(t, db)
			if len(got) != len(want) {
				t.Fatalf("%d rows after the replay, want %d: %v", len(got), len(want), got)
			}
			for id, w := range want {
				g, ok := got[id]
				if !ok || g.name != w.name || g.age != w.age || !sameJSONValue(t, g.doc, w.doc) {
					t.Errorf("row %d: got %+v, want %+v", id, g, w)
				}
			}
			if sum.SQLRowEvents != 5+partial {
				t.Errorf("%d row events applied as SQL, want %d", sum.SQLRowEvents, 5+partial)
			}
		})
	}
}

// partialRow is a row of mysql.t in TestSQLApplyPartialJSON.
type partialRow struct {
	doc, name, age string
}

// partialOracle works out the rows of mysql.t after the fixture's
// transactions: full images as logged, JSON diffs applied to the document
// (top-level members only: what the fixture holds). It returns them by id
// with the number of PARTIAL_UPDATE_ROWS events.
func partialOracle(t *testing.T, txns []*txn.Txn) (map[int64]partialRow, uint64) {
	t.Helper()
	rows := map[int64]partialRow{}
	var partial uint64
	set := func(r *partialRow, img []any, present []bool) {
		for i, v := range img {
			if !present[i] {
				continue
			}
			switch i {
			case 1:
				if diffs, ok := v.([]txn.JSONDiff); ok {
					r.doc = applyDiffs(t, r.doc, diffs)
				} else {
					r.doc = v.(string)
				}
			case 2:
				r.name = string(v.([]byte))
			case 3:
				r.age = fmt.Sprint(v)
			}
		}
	}
	for _, tx := range txns {
		for _, e := range tx.Events {
			if e.Rows == nil || e.Rows.Table.Table != "t" {
				continue
			}
			if e.Type == 39 {
				partial++
			}
			if !e.Rows.Decoded {
				t.Fatalf("%s at %s not decoded", e.TypeName, e.Pos)
			}
			for i := 0; i < len(e.Rows.Rows); i++ {
				img := e.Rows.Rows[i]
				id := img[0].(int64)
				switch e.Rows.Op {
				case txn.OpInsert:
					var r partialRow
					set(&r, img, e.Rows.Columns)
					rows[id] = r
				case txn.OpUpdate:
					i++
					r := rows[id]
					set(&r, e.Rows.Rows[i], e.Rows.ColumnsAfter)
					rows[id] = r
				default:
					t.Fatalf("unexpected %s", e.Rows.Op)
				}
			}
		}
	}
	return rows, partial
}

// applyDiffs applies JSON diffs on top-level members ("$.name") to doc.
func applyDiffs(t *testing.T, doc string, diffs []txn.JSONDiff) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		key, ok := strings.CutPrefix(d.Path, "$.")
		if !ok || strings.ContainsAny(key, ".[\"") {
			t.Fatalf("the oracle does not handle path %q", d.Path)
		}
		if d.Op == txn.JSONRemove {
			delete(m, key)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(d.Value), &v); err != nil {
			t.Fatal(err)
		}
		m[key] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// partialRows reads mysql.t by id.
func partialRows(t *testing.T, db *sql.DB) map[int64]partialRow {
	t.Helper()
	rs, err := db.Query("SELECT id, json_col, name, age FROM mysql.t")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[int64]partialRow{}
	for rs.Next() {
		var id int64
		var r partialRow
		if err := rs.Scan(&id, &r.doc, &r.name, &r.age); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameJSONValue reports whether two JSON texts hold the same value.
func sameJSONValue(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// TestSQLApplyRefusals checks that the SQL apply path stops the replay
// where the target refuses a row event of a MySQL JSON table, with an
// error naming the transaction, event and table but no value, and that the
// transaction is applied whole or not at all: mysql-bin.000057's third
// transaction updates a row of a.test_table_3, then inserts one.
//   - The target lacks the row to update: the UPDATE changes nothing, which
//     must stop the replay (the passthrough's error 1032).
//   - The target has the row, and a unique key the insert violates: the
//     UPDATE, run first, must be rolled back with the transaction.
//
// In both, the first two transactions are applied and checkpointed.
func TestSQLApplyRefusals(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "mysql-binlog-connector-rust/tests/parse_file_tests/mysql-bin.000057")
	txns := readTxns(t, []string{path}, binlog.Options{DecodeRows: true})
	const table = "CREATE TABLE a.test_table_3 (c1 INT NOT NULL, c2 VARCHAR(255) NOT NULL, " +
		"c3 DATE, c4 INT, c5 TEXT, c6 TIMESTAMP NULL, c7 ENUM('1','2','3','4','5'), c8 SET('1','2','4','8'), " +
		"c9 CHAR(3) CHARACTER SET latin1, c10 JSON, c11 VARCHAR(255) NOT NULL, c12 DATE NOT NULL, c13 DATE, c14 INT, " +
		"c15 TEXT, c16 TIMESTAMP NULL, c17 DATE, c18 INT, c19 TEXT, c20 TIMESTAMP NULL, UNIQUE KEY (c1)) CHARACTER SET utf8mb3"
	for _, tc := range []struct {
		name      string
		withRows  bool
		event, in string
	}{
		{"missing row", false, "UPDATE_ROWS_EVENT_V2", "lacks a row"},
		{"duplicate key after an update", true, "WRITE_ROWS_EVENT_V2", "Duplicate entry '?' for key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sandbox.ForTest(t, sandbox.Options{})
			db := openUTC(t, srv)
			if err := replaytest.ExecAll(context.Background(), db, "CREATE DATABASE a", table); err != nil {
				t.Fatal(err)
			}
			var before string
			if tc.withRows {
				// The row the update expects (its before image), and one
				// holding the key the insert then writes.
				expectedRows(t, db, txns, "a.test_table_3", 4)
				before = tableRows(t, db, "a.test_table_3")
				if _, err := db.Exec("INSERT INTO a.test_table_3 (c1, c2, c11, c12) VALUES (6666, 'x', 'y', '2022-01-01')"); err != nil {
					t.Fatal(err)
				}
			}
			want := tableRows(t, db, "a.test_table_3")
			o := opts(4)
			o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, srv.DSN(""), 0
			sum, err := replay.Run(context.Background(), o, io.Discard)
			var ae *replay.ApplyError
			if !errors.As(err, &ae) || ae.Seq != 3 || !strings.Contains(ae.Event, tc.event) || ae.Table != "a.test_table_3" ||
				!strings.Contains(err.Error(), tc.in) {
				t.Fatalf("replay: %v; want an *replay.ApplyError for transaction #3 naming %s on a.test_table_3 and saying %q", err, tc.event, tc.in)
			}
			for _, value := range []string{"product_item_value_2", "55555", "6666", "description_1", `{"c":1}`} {
				if strings.Contains(err.Error(), value) {
					t.Errorf("error %q shows the value %s", err, value)
				}
			}
			if sum.Applied != 2 || tableRows(t, db, "a.b") != "1" {
				t.Errorf("%d transactions applied, a.b holds %q; want the first two applied", sum.Applied, tableRows(t, db, "a.b"))
			}
			if got := tableRows(t, db, "a.test_table_3"); got != want {
				t.Errorf("a.test_table_3 after the refused transaction:\n%s\nwant it unchanged:\n%s", got, want)
			}
			if tc.withRows && !strings.Contains(want, before) {
				t.Fatalf("setup: the before image row is missing")
			}
		})
	}
}

// triggerScenario writes, in row format, to a table with an AFTER INSERT
// trigger writing an audit row, after a transaction on a table without
// triggers.
func triggerScenario(t *testing.T) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE tg",
				"CREATE TABLE tg.plain (id INT PRIMARY KEY)",
				"CREATE TABLE tg.items (id INT PRIMARY KEY, v INT)",
				"CREATE TABLE tg.audit (item INT NOT NULL)",
				"CREATE TRIGGER tg.items_ai AFTER INSERT ON tg.items FOR EACH ROW INSERT INTO tg.audit VALUES (NEW.id)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "INSERT INTO tg.plain VALUES (1), (2)",
				"INSERT INTO tg.items VALUES (1, 1), (2, 2), (3, 3)", "INSERT INTO tg.plain VALUES (3)")
		})
}

// TestSQLApplyTriggers applies row events as SQL to a target whose table
// has a trigger (the source's, restored with the base). By default the
// replay stops before the first row event on it, naming the table, with
// the transaction before it applied and nothing of its own; the start of
// the log names the table. With --sql-triggers fire the trigger fires for
// every row applied: the audit holds each row twice, once from the
// binlog's row events for what the source's trigger wrote and once from
// the target's trigger (why it is refused by default). Passthrough fires
// nothing and equals the source.
func TestSQLApplyTriggers(t *testing.T) {
	sc := triggerScenario(t)
	run := func(t *testing.T, o replay.Options) (*sql.DB, *replay.Summary, string, error) {
		tgt, db := sc.Target(t)
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
		var log strings.Builder
		sum, err := replay.Run(context.Background(), o, &log)
		return db, sum, log.String(), err
	}
	audit := func(t *testing.T, db *sql.DB) int { return tableCount(t, db, "tg.audit") }
	t.Run("refused", func(t *testing.T) {
		db, sum, log, err := run(t, withApply(opts(4), replay.ApplySQL))
		var ae *replay.ApplyError
		if !errors.As(err, &ae) || ae.Table != "tg.items" || !strings.Contains(err.Error(), "has triggers on the target") {
			t.Fatalf("replay: %v; want an *replay.ApplyError naming tg.items and its triggers\nlog:\n%s", err, log)
		}
		if !strings.Contains(log, "tables with triggers on the target (tg.items)") {
			t.Errorf("the start of the log does not name tg.items\nlog:\n%s", log)
		}
		items, plain := tableCount(t, db, "tg.items"), tableCount(t, db, "tg.plain")
		if sum.Applied != 1 || audit(t, db) != 0 || items != 0 || plain != 2 {
			t.Errorf("%d applied, audit %d, %d items, %d plain rows: want the first transaction only", sum.Applied, audit(t, db), items, plain)
		}
	})
	t.Run("fire", func(t *testing.T) {
		o := withApply(opts(4), replay.ApplySQL)
		o.Apply.SQLTriggers = replay.TriggersFire
		db, sum, log, err := run(t, o)
		if err != nil {
			t.Fatalf("replay: %v\nlog:\n%s", err, log)
		}
		if got := audit(t, db); sum.Apply != replay.ApplySQL || got != 6 {
			t.Fatalf("row events by %q, %d audit rows: want SQL, and 6 (3 logged by the source, 3 by the target's trigger)", sum.Apply, got)
		}
	})
	t.Run("binlog", func(t *testing.T) {
		db, _, log, err := run(t, withApply(opts(4), replay.ApplyBinlog))
		if err != nil {
			t.Fatalf("replay: %v\nlog:\n%s", err, log)
		}
		replaytest.RequireEqual(t, db, sc.SourceDB, "tg")
	})
}

// TestSQLApplyAfterLatin1Statement replays, in MIXED format, transactions
// from a client whose character set is latin1, each a statement logged as
// such (run with the source's character_set_client, latin1) and then rows
// logged as row events (UUID() is unsafe for statements) into a table
// whose name is not ASCII. The rows, applied as SQL on the same session,
// name the table in UTF-8, as the table map does: the session must be set
// back to utf8mb4 first, or the target looks for another table.
func TestSQLApplyAfterLatin1Statement(t *testing.T) {
	sc := replaytest.New(t, "MIXED",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE cz", "CREATE TABLE cz.src (id INT PRIMARY KEY, v VARCHAR(40))",
				"CREATE TABLE cz.`café` (id INT PRIMARY KEY, v VARCHAR(40))", "INSERT INTO cz.src VALUES (1, 'a'), (2, 'b')")
		},
		func(ctx context.Context, db *sql.DB) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			for i := range 3 {
				for _, q := range []string{"SET NAMES latin1", "BEGIN", fmt.Sprintf("UPDATE cz.src SET v = 'u%d' WHERE id = 1", i),
					fmt.Sprintf("INSERT INTO cz.`caf\xe9` VALUES (%d, UUID())", i), "COMMIT"} {
					if _, err := conn.ExecContext(ctx, q); err != nil {
						return fmt.Errorf("%s: %w", q, err)
					}
				}
			}
			_, err = conn.ExecContext(ctx, "SET NAMES utf8mb4") // the connection goes back to the pool
			return err
		})
	mixed := 0
	for _, tx := range scenarioTxns(t, sc) {
		latin1 := false
		for _, e := range tx.Events {
			if q := e.Query; q != nil && q.Status.HasCharset && q.Status.CharsetClient == 8 {
				latin1 = true
			}
			if r := e.Rows; latin1 && r != nil && r.Table.Table == "café" {
				mixed++
				break
			}
		}
	}
	if mixed != 3 {
		t.Fatalf("%d transactions hold a latin1 statement, then rows of cz.café: the scenario no longer tests the reset", mixed)
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			db, sum := replayInto(t, sc, withApply(opts(workers), replay.ApplySQL))
			if sum.SQLRowEvents != 3 {
				t.Errorf("%d row events applied as SQL, want 3", sum.SQLRowEvents)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "cz")
		})
	}
}

// tableCount returns the number of rows of table.
func tableCount(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
