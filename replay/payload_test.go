package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestCompressedPayloadFixtures replays the MySQL 8 fixtures whose
// transactions are compressed (TRANSACTION_PAYLOAD, zstd) into MariaDB, the
// row events of MySQL JSON tables by the SQL apply path.
// mariadb-binlog cannot read them, so there is no anchor: the fixtures lack
// their tables' DDL, so the test creates the tables from the logged table
// maps (column types and lengths), puts in the rows the updates expect (the
// logged before images), replays, and checks the tables hold exactly the
// logged after images.
func TestCompressedPayloadFixtures(t *testing.T) {
	dir := fixtures.Dir(t)
	for _, tc := range []struct {
		file  string
		setup []string
		// tables hold the rows to check; stopsAt, when set, is the
		// transaction the replay must stop at, naming stopsOn.
		tables  []string
		stopsAt uint64
		stopsOn string
		// sqlEvents is how many row events the SQL apply path applies.
		sqlEvents uint64
	}{
		{file: "mysql-binlog-connector-java/src/test/resources/mysql-bin.compressed", tables: []string{"demo.movies"},
			setup: []string{"CREATE DATABASE demo", "CREATE TABLE demo.movies (c1 INT NOT NULL PRIMARY KEY, " +
				"c2 VARCHAR(256) NOT NULL, c3 INT NOT NULL, c4 VARCHAR(256) NOT NULL, c5 VARCHAR(256) NOT NULL, " +
				"c6 VARCHAR(1024) NOT NULL, c7 VARCHAR(512) NOT NULL, c8 VARCHAR(256) NOT NULL, c9 VARCHAR(256) NOT NULL, " +
				"c10 VARCHAR(256) NOT NULL, c11 VARCHAR(256) NOT NULL) CHARACTER SET utf8mb4"}},
		{file: "rust_mysql_common/test-data/binlogs/transaction_compression.000001", tables: []string{"test.tb1"},
			setup: []string{"CREATE DATABASE test", "CREATE TABLE test.tb1 (c1 INT)"}},
		// Its third transaction updates and inserts rows of a table with a
		// MySQL JSON column, which MariaDB cannot take from a row event:
		// the SQL apply path applies them. The table, not in the file, is
		// made from its table map (no primary key: the update finds its
		// row by every column); ENUM and SET members are named after
		// their ordinal and bit, as the images show them.
		{file: "mysql-binlog-connector-rust/tests/parse_file_tests/mysql-bin.000057", tables: []string{"a.b", "a.test_table_3"},
			setup: []string{"CREATE DATABASE a", "CREATE TABLE a.test_table_3 (c1 INT NOT NULL, c2 VARCHAR(255) NOT NULL, " +
				"c3 DATE, c4 INT, c5 TEXT, c6 TIMESTAMP NULL, c7 ENUM('1','2','3','4','5'), c8 SET('1','2','4','8'), " +
				"c9 CHAR(3) CHARACTER SET latin1, c10 JSON, c11 VARCHAR(255) NOT NULL, c12 DATE NOT NULL, c13 DATE, c14 INT, " +
				"c15 TEXT, c16 TIMESTAMP NULL, c17 DATE, c18 INT, c19 TEXT, c20 TIMESTAMP NULL) CHARACTER SET utf8mb3"},
			sqlEvents: 2},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			txns := readFixtureTxns(t, path)
			srv := sandbox.ForTest(t, sandbox.Options{})
			db := openUTC(t, srv)
			if err := replaytest.ExecAll(context.Background(), db, tc.setup...); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for _, table := range tc.tables {
				want[table] = expectedRows(t, db, txns, table, tc.stopsAt)
			}
			o := opts(4)
			o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, srv.DSN(""), 0
			sum, err := replay.Run(context.Background(), o, io.Discard)
			var ae *replay.ApplyError
			switch {
			case tc.stopsAt == 0 && err != nil:
				t.Fatalf("replay: %v", err)
			case tc.stopsAt != 0 && (!errors.As(err, &ae) || ae.Seq != tc.stopsAt || !strings.Contains(err.Error(), tc.stopsOn)):
				t.Fatalf("replay: %v; want a stop at transaction #%d naming %s", err, tc.stopsAt, tc.stopsOn)
			}
			for _, table := range tc.tables {
				if got := tableRows(t, db, table); got != want[table] {
					t.Fatalf("%s after the replay (%d transactions applied):\n%s\nwant the logged after images:\n%s", table, sum.Applied, got, want[table])
				}
			}
			if sum.SQLRowEvents != tc.sqlEvents {
				t.Errorf("%d row events applied as SQL, want %d", sum.SQLRowEvents, tc.sqlEvents)
			}
		})
	}
}

// openUTC opens a pool on srv whose sessions use time_zone '+00:00', the
// zone in which the reader shows TIMESTAMP values, closed with the test.
func openUTC(t *testing.T, srv *sandbox.Server) *sql.DB {
	t.Helper()
	if _, err := openServer(t, srv).Exec("SET GLOBAL time_zone = '+00:00'"); err != nil {
		t.Fatal(err)
	}
	return openServer(t, srv)
}

// readFixtureTxns reads a fixture's transactions with their rows decoded,
// checking that some came out of a compressed payload.
func readFixtureTxns(t *testing.T, path string) []*txn.Txn {
	t.Helper()
	txns := readTxns(t, []string{path}, binlog.Options{DecodeRows: true})
	for _, tx := range txns {
		for _, e := range tx.Events {
			if e.InPayload > 0 {
				return txns
			}
		}
	}
	t.Fatalf("%s: no event came out of a compressed payload", path)
	return nil
}

// expectedRows inserts into table the before images of the updates and
// deletes that the transactions before stopsAt (all when 0) make on it, and
// returns the rows the table must hold after them, as tableRows shows them.
func expectedRows(t *testing.T, db *sql.DB, txns []*txn.Txn, table string, stopsAt uint64) string {
	t.Helper()
	var rows [][]any
	find := func(img []any) int {
		for i, r := range rows {
			if fmt.Sprintf("%q", r) == fmt.Sprintf("%q", img) {
				return i
			}
		}
		return -1
	}
	for _, tx := range txns {
		if stopsAt != 0 && tx.Seq >= stopsAt {
			break
		}
		for _, e := range tx.Events {
			if e.Rows == nil || e.Rows.Table.Schema+"."+e.Rows.Table.Table != table {
				continue
			}
			for i := 0; i < len(e.Rows.Rows); i++ {
				img := e.Rows.Rows[i]
				switch e.Rows.Op {
				case txn.OpInsert:
					rows = append(rows, img)
					continue
				case txn.OpUpdate:
					i++
				}
				at := find(img)
				if at < 0 { // not written before in the file: the base had it
					marks := strings.TrimSuffix(strings.Repeat("?, ", len(img)), ", ")
					if _, err := db.Exec("INSERT INTO "+table+" VALUES ("+marks+")", img...); err != nil {
						t.Fatalf("insert the before image into %s: %v", table, err)
					}
					rows = append(rows, img)
					at = len(rows) - 1
				}
				if e.Rows.Op == txn.OpUpdate {
					rows[at] = e.Rows.Rows[i]
				} else {
					rows = append(rows[:at], rows[at+1:]...)
				}
			}
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for j, v := range r {
			if j > 0 {
				b.WriteString(" | ")
			}
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprint(&b, v)
		}
		b.WriteString("\n")
	}
	return sortLines(b.String())
}

// tableRows returns the rows of table, one per line in sorted order, the
// columns separated by " | ".
func tableRows(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rs, err := db.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var b strings.Builder
	for rs.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.Write(v)
		}
		b.WriteString("\n")
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return sortLines(b.String())
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
