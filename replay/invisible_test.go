package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestInvisibleColumnsFixture replays MySQL 8.0.26's binlog of a table with
// three INVISIBLE columns (rust_mysql_common's binlog-invisible-columns,
// binlog_row_metadata=FULL) into MariaDB, from the CREATE TABLE on: the
// file opens with an ALTER USER ... caching_sha2_password that MariaDB
// cannot run, so TestFixturesReplayMatchesAnchor stops there for both
// methods. Row images carry the invisible columns in table order, so the
// values must land in f1, f2 and f6 and those columns must stay invisible.
// The table is in the mysql database, which verify skips by default, so
// the rows are read here by name and also compared with the anchor's.
func TestInvisibleColumnsFixture(t *testing.T) {
	const (
		name  = "binlog-invisible-columns.000001"
		start = 491 // the GTID event before CREATE TABLE t1
	)
	path := filepath.Join(fixtures.Dir(t), "rust_mysql_common/test-data/binlogs", name)
	checkInvisibleReplay(t, path, name, start, true)
}

// TestMySQLInvisibleCommentFixture is TestInvisibleColumnsFixture with the
// CREATE TABLE rewritten, in place and with its checksum renewed, to the
// form MySQL 8.0.30+ logs for a table given a generated invisible primary
// key and SHOW CREATE TABLE prints: each INVISIBLE inside a MySQL version
// comment, /*!80023 INVISIBLE*/, which MariaDB (and so the anchor) ignores.
// (UNSIGNED is dropped to keep the statement's length; the values fit.) The
// replay must still make f1, f2 and f6 invisible.
func TestMySQLInvisibleCommentFixture(t *testing.T) {
	const (
		name  = "binlog-invisible-columns.000001"
		start = 491
	)
	orig, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "rust_mysql_common/test-data/binlogs", name))
	if err != nil {
		t.Fatal(err)
	}
	const (
		eventStart, eventEnd = 570, 787 // the CREATE TABLE's QUERY event
		logged               = "CREATE TABLE t1 (f1 INT UNSIGNED INVISIBLE, f2 INT UNSIGNED INVISIBLE, f3 INT , f4 TEXT, f5 BLOB, f6 BIGINT UNSIGNED INVISIBLE)"
		commented            = "CREATE TABLE t1 (f1 INT/*!80023 INVISIBLE*/, f2 INT/*!80023 INVISIBLE*/, f3 INT,f4 TEXT,f5 BLOB, f6 BIGINT/*!80023 INVISIBLE*/)"
	)
	event := orig[eventStart:eventEnd]
	at := bytes.Index(event, []byte(logged))
	if at < 0 || len(logged) != len(commented) {
		t.Fatalf("the fixture's CREATE TABLE is not where expected (at %d)", at)
	}
	patched := bytes.Clone(orig)
	copy(patched[eventStart+at:], commented)
	crc := patched[eventEnd-4 : eventEnd]
	binary.LittleEndian.PutUint32(crc, crc32.ChecksumIEEE(patched[eventStart:eventEnd-4]))
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, patched, 0o644); err != nil {
		t.Fatal(err)
	}
	checkInvisibleReplay(t, path, name, start, false)
}

// checkInvisibleReplay replays path from start into a fresh target and
// checks mysql.t1's rows and invisible columns; with anchor it also
// replays with mariadb-binlog | mariadb and compares the rows.
func checkInvisibleReplay(t *testing.T, path, name string, start uint64, anchor bool) {
	t.Helper()
	ctx := context.Background()
	mine := sandbox.ForTest(t, sandbox.Options{})

	o := opts(4)
	o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, mine.DSN(""), 0
	o.Select.StartPosition = txn.Position{File: name, Offset: start}
	sum, err := replay.Run(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if sum.Applied != 4 {
		t.Errorf("replay applied %d transactions; want 4 (CREATE TABLE, 2 inserts, 1 update)", sum.Applied)
	}
	want := []string{
		"1|2|-3|4|\x05|6000000000",
		"111|222|-333|444|U|NULL",
	}
	mineRows := invisibleRows(t, openServer(t, mine))
	if strings.Join(mineRows, "\n") != strings.Join(want, "\n") {
		t.Errorf("mysql.t1 after replay:\n%q\nwant:\n%q", mineRows, want)
	}
	if anchor {
		srv := sandbox.ForTest(t, sandbox.Options{})
		if err := reference.ReplayWithMariaDBBinlog(ctx, []string{path}, name, start, srv.Socket); err != nil {
			t.Fatalf("anchor: %v", err)
		}
		if anchorRows := invisibleRows(t, openServer(t, srv)); strings.Join(anchorRows, "\n") != strings.Join(mineRows, "\n") {
			t.Errorf("mysql.t1 differs from the anchor's:\nreplay %q\nanchor %q", mineRows, anchorRows)
		}
	}

	hidden := queryStrings(t, openServer(t, mine), `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 't1' AND EXTRA LIKE '%INVISIBLE%' ORDER BY ORDINAL_POSITION`)
	if strings.Join(hidden, ",") != "f1,f2,f6" {
		t.Errorf("invisible columns on the target: %v; want f1,f2,f6", hidden)
	}
}

// invisibleRows returns mysql.t1's rows, every column named (SELECT * would
// leave out the invisible ones), as |-joined text in f3 order.
func invisibleRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT CONCAT_WS('|', IFNULL(f1, 'NULL'), IFNULL(f2, 'NULL'),
		IFNULL(f3, 'NULL'), IFNULL(f4, 'NULL'), IFNULL(f5, 'NULL'), IFNULL(f6, 'NULL')) FROM mysql.t1 ORDER BY f3 DESC`)
}
