package binlog

import (
	"context"
	"encoding/binary"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/txn"
)

// workload creates a table with one column of every common type and runs a
// mix of row, multi-statement, non-transactional and statement-format
// transactions.
var workload = []string{
	"CREATE DATABASE d",
	"USE d",
	"SET time_zone = '+02:00'",
	`CREATE TABLE t (id INT UNSIGNED PRIMARY KEY, ti TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED,
	  bi BIGINT UNSIGNED, y YEAR, f FLOAT, dbl DOUBLE, dc DECIMAL(20,6), c CHAR(5), vc VARCHAR(20),
	  bn BINARY(4), vb VARBINARY(10), tx TEXT, bl BLOB, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME(2),
	  d DATE, b BIT(10), e ENUM('a','b','c'), s SET('x','y','z'), j JSON, u2 INT UNSIGNED) ENGINE=InnoDB`,
	`INSERT INTO t VALUES (1, 255, -32768, 16777215, 18446744073709551615, 2024, 1.5, -2.25, '-12345.678901',
	  'ab', 'héllo', 0x01020000, 0x00ff, 'text', 0xdeadbeef, '2024-01-02 03:04:05.678',
	  '2024-06-01 12:00:00.123456', '-12:34:56.78', '2024-02-29', b'1010101010', 'b', 'x,z', '{"a": [1, 2]}',
	  4294967295)`,
	`INSERT INTO t (id, tx) VALUES (2, REPEAT('z', 100))`,
	`UPDATE t SET vc = 'upd', ti = 0 WHERE id = 1`,
	`DELETE FROM t WHERE id = 2`,
	"BEGIN",
	"INSERT INTO t (id, vc) VALUES (3, 'three')",
	"INSERT INTO t (id, vc) VALUES (4, 'four')",
	"COMMIT",
	"CREATE TABLE m (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=MyISAM",
	"INSERT INTO m (v) VALUES (1)",
	"SET SESSION binlog_format = 'STATEMENT'",
	"SET @x = 5",
	"INSERT INTO m (v) VALUES (@x)",
	"CREATE TABLE s (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB",
	"INSERT INTO s (v) VALUES (7)",
}

// runWorkload runs workload on one connection of s.
func runWorkload(t *testing.T, s *sandbox.Server) {
	t.Helper()
	ctx := context.Background()
	pool, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range workload {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// serverBinlog starts a MariaDB server with extra arguments, runs the
// workload and reads its binlog.
func serverBinlog(t *testing.T, args ...string) ([]string, []*txn.Txn, *sandbox.Server) {
	t.Helper()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW",
		Args: append([]string{"--binlog-row-metadata=FULL"}, args...)})
	runWorkload(t, s)
	files, err := s.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files, mustReadAll(t, files, Options{DecodeRows: true}), s
}

func TestMariaDBServerBinlog(t *testing.T) {
	t.Parallel()
	files, txns, s := serverBinlog(t)
	checkWorkload(t, txns, s.ServerID)
	checkAgainstMariadbBinlog(t, files, txns)
}

func TestMariaDBCompressedBinlog(t *testing.T) {
	t.Parallel()
	files, txns, s := serverBinlog(t, "--log-bin-compress=ON", "--log-bin-compress-min-len=10")
	types := map[string]bool{}
	for _, tx := range txns {
		for _, e := range tx.Events {
			types[e.TypeName] = true
		}
	}
	for _, want := range []string{"QUERY_COMPRESSED_EVENT", "WRITE_ROWS_COMPRESSED_EVENT_V1",
		"UPDATE_ROWS_COMPRESSED_EVENT_V1", "DELETE_ROWS_COMPRESSED_EVENT_V1"} {
		if !types[want] {
			t.Errorf("no %s in a compressed binlog (got %v)", want, types)
		}
	}
	checkWorkload(t, txns, s.ServerID)
	checkAgainstMariadbBinlog(t, files, txns)
}

// checkWorkload checks the transactions the workload wrote.
func checkWorkload(t *testing.T, txns []*txn.Txn, serverID uint32) {
	t.Helper()
	var kinds []txn.Kind
	var prev uint64
	for _, tx := range txns {
		kinds = append(kinds, tx.Kind)
		g := tx.GTID
		if g.Flavor != txn.FlavorMariaDB || g.Domain != 0 || g.Server != serverID || g.Seq != prev+1 {
			t.Errorf("txn %d: GTID %s after seq %d", tx.Seq, g, prev)
		}
		prev = g.Seq
		if tx.Format.Flavor != txn.FlavorMariaDB || !tx.Format.Checksum || tx.ServerID != serverID {
			t.Errorf("txn %d: format %+v server %d", tx.Seq, tx.Format, tx.ServerID)
		}
		if tx.Kind != txn.KindDDL && tx.Begin != nil {
			t.Errorf("txn %d: a MariaDB group has no BEGIN query", tx.Seq)
		}
	}
	D, R, S := txn.KindDDL, txn.KindRows, txn.KindStatement
	want := []txn.Kind{D, D, R, R, R, R, R, D, R, S, D, S}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	if n := len(txns[6].Events); n != 4 {
		t.Errorf("the BEGIN..COMMIT transaction has %d events, want 2 table maps and 2 rows", n)
	}
	if q := txns[9].Events; len(q) != 3 || q[0].IntVar == nil || q[1].UserVar == nil || q[1].UserVar.Name != "x" || q[2].Query == nil {
		t.Errorf("statement with a user variable: %+v", q)
	}
	if q := txns[11].Events; len(q) != 2 || q[0].IntVar == nil || q[0].IntVar.Type != txn.IntVarInsertID {
		t.Errorf("statement with an auto-increment: %+v", q)
	}
	checkFirstRow(t, txns[2])
}

// checkFirstRow checks every value of the first INSERT.
func checkFirstRow(t *testing.T, tx *txn.Txn) {
	t.Helper()
	tm, rows := tx.Events[0].TableMap, tx.Events[1].Rows
	if tm == nil || rows == nil || len(rows.Rows) != 1 {
		t.Fatalf("first insert: %+v", tx.Events)
	}
	if tm.ColumnNames[0] != "id" || tm.ColumnNames[22] != "j" || !reflect.DeepEqual(tm.PrimaryKey, []int{0}) {
		t.Errorf("table map names %v pk %v", tm.ColumnNames, tm.PrimaryKey)
	}
	wantUnsigned := map[int]bool{0: true, 1: true, 2: false, 3: true, 4: true, 5: true, 6: false, 7: false, 8: false, 23: true}
	for c, u := range wantUnsigned {
		if tm.Unsigned == nil || tm.Unsigned[c] != u {
			t.Errorf("column %d unsigned = %v, want %v", c, tm.Unsigned, u)
		}
	}
	want := []any{uint64(1), uint64(255), int64(-32768), uint64(16777215), uint64(18446744073709551615),
		int64(2024), float32(1.5), float64(-2.25), "-12345.678901", []byte("ab"), []byte("h\xe9llo"), /* the table is latin1 */
		[]byte{1, 2}, []byte{0, 0xff}, []byte("text"), []byte{0xde, 0xad, 0xbe, 0xef},
		"2024-01-02 03:04:05.678", "2024-06-01 10:00:00.123456", "-12:34:56.78", "2024-02-29",
		uint64(0b1010101010), int64(2), uint64(0b101), []byte(`{"a": [1, 2]}`), uint64(4294967295)}
	got := rows.Rows[0]
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("column %d (%s): got %#v, want %#v", i, tm.ColumnNames[i], got[i], want[i])
		}
	}
	// Raw is the event as in the file, or for a compressed row event the
	// equivalent uncompressed one, whose checksum must hold.
	ev := tx.Events[1]
	wantType := ev.Type
	if u, ok := event.UncompressedType(ev.Type); ok {
		wantType = u
		if err := event.VerifyChecksum(ev.Raw); err != nil {
			t.Errorf("uncompressed form of %s: %v", ev.TypeName, err)
		}
	}
	if raw := ev.Raw; len(raw) < event.HeaderSize {
		t.Errorf("row event %s without its Raw bytes", ev.TypeName)
	} else if raw[4] != wantType || int(binary.LittleEndian.Uint32(raw[9:])) != len(raw) {
		t.Errorf("row event %s: Raw has type %d and size %d, want %d and %d", ev.TypeName,
			raw[4], binary.LittleEndian.Uint32(raw[9:]), wantType, len(raw))
	}
}

// checkAgainstMariadbBinlog compares the decoded values with mariadb-binlog.
func checkAgainstMariadbBinlog(t *testing.T, files []string, txns []*txn.Txn) {
	t.Helper()
	if _, err := exec.LookPath("mariadb-binlog"); err != nil {
		t.Log("mariadb-binlog not installed: values not cross-checked")
		return
	}
	var theirs [][]printedValue
	for _, f := range files {
		theirs = append(theirs, mariadbBinlogImages(t, f)...)
	}
	ours := ourImages(txns)
	if len(theirs) != len(ours) {
		t.Fatalf("mariadb-binlog printed %d row images, we decoded %d", len(theirs), len(ours))
	}
	for i := range theirs {
		for j, p := range theirs[i] {
			if ok, _ := sameValue(p, ours[i][j]); !ok {
				t.Errorf("image %d column %d (%s): mariadb-binlog %q, we have %#v", i, p.col+1, p.typ, p.text, ours[i][j].value)
			}
		}
	}
}

// runStatements runs queries on one connection of s and returns the
// server's binlog files.
func runStatements(t *testing.T, s *sandbox.Server, queries ...string) []string {
	t.Helper()
	ctx := context.Background()
	pool, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range queries {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	files, err := s.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestMariaDBRefusedTransactions(t *testing.T) {
	t.Parallel()
	setup := []string{"CREATE DATABASE d", "USE d",
		"CREATE TABLE i (id INT PRIMARY KEY) ENGINE=InnoDB", "CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM"}
	cases := []struct {
		name, format string
		queries      []string
		want         string
	}{
		{"XA", "ROW", []string{"XA START 'x'", "INSERT INTO i VALUES (2)", "XA END 'x'", "XA PREPARE 'x'", "XA COMMIT 'x'"},
			"belongs to an XA transaction"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: c.format})
			files := runStatements(t, s, append(append([]string(nil), setup...), c.queries...)...)
			txns, err := readAll(t, files, Options{DecodeRows: true})
			var e *event.Error
			if len(txns) != 3 || !errors.As(err, &e) || !strings.Contains(err.Error(), c.want) || e.Offset == 0 {
				t.Fatalf("got %d transactions and %v, want 3 then an error containing %q", len(txns), err, c.want)
			}
		})
	}
}

func TestMariaDBLiveBinlog(t *testing.T) {
	t.Parallel()
	// The last file of a running server is in use; reading it up to its
	// current end is normal, and a cut inside it is a truncation.
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW"})
	files := runStatements(t, s, "CREATE DATABASE d", "USE d", "CREATE TABLE i (id INT PRIMARY KEY)",
		"INSERT INTO i VALUES (1)", "FLUSH BINARY LOGS", "INSERT INTO i VALUES (2)", "INSERT INTO i VALUES (3)")
	if len(files) != 2 {
		t.Fatalf("%d binlog files, want 2", len(files))
	}
	txns := mustReadAll(t, files, Options{})
	if len(txns) != 5 || txns[2].End.File != filepath.Base(files[0]) || txns[4].End.File != filepath.Base(files[1]) {
		t.Fatalf("%d transactions", len(txns))
	}
	dir := t.TempDir()
	f1 := copyFile(t, files[0], dir, filepath.Base(files[0]), -1)
	f2 := copyFile(t, files[1], dir, filepath.Base(files[1]), int(txns[4].End.Offset)-10)
	got, err := readAll(t, []string{f1, f2}, Options{})
	var te *TruncatedError
	if len(got) != 4 || !errors.As(err, &te) || te.LastEnd != txns[3].End || te.Partial != txns[4].Start || !te.InEvent {
		t.Fatalf("got %d transactions and %v; want 4 and a truncation after %s", len(got), err, txns[3].End)
	}
}

// TestMariaDBNonTransactionalHints checks what the reader learns from the
// binlog about non-transactional tables: a group that wrote MyISAM or Aria
// tables (alone, or with InnoDB tables in statement format) is
// NonTransactional, one that wrote InnoDB tables only or is DDL is not, and
// a group the source rolled back after writing a MyISAM table is read
// (RolledBack), not refused.
func TestMariaDBNonTransactionalHints(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"ROW", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format})
			files := runStatements(t, s, "CREATE DATABASE d", "USE d",
				"CREATE TABLE i (id INT PRIMARY KEY) ENGINE=InnoDB",
				"CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM",
				"CREATE TABLE a (id INT PRIMARY KEY) ENGINE=Aria TRANSACTIONAL=1",
				"INSERT INTO i VALUES (1)",
				"INSERT INTO m VALUES (1)",
				"INSERT INTO a VALUES (1)",
				"BEGIN", "INSERT INTO i VALUES (2)", "INSERT INTO m VALUES (2)", "COMMIT",
				"BEGIN", "INSERT INTO i VALUES (3)", "INSERT INTO m VALUES (3)", "ROLLBACK",
				"CREATE TABLE c ENGINE=InnoDB SELECT * FROM i")
			txns, err := readAll(t, files, Options{DecodeRows: true})
			if err != nil {
				t.Fatal(err)
			}
			type mark struct{ nonTrans, rolledBack bool }
			var got []mark
			for _, tx := range txns[4:] { // after the DDL
				got = append(got, mark{tx.NonTransactional, tx.RolledBack})
			}
			want := []mark{{false, false}, {true, false}, {true, false}}
			if format == "ROW" {
				// Row format logs the MyISAM part of a mixed transaction
				// on its own, before the InnoDB part, and the server
				// leaves FL_TRANSACTIONAL off both (the flag is the whole
				// transaction's: a false positive, which only costs
				// speed); the rolled back transaction leaves only its
				// MyISAM part, committed.
				want = append(want, mark{true, false}, mark{true, false}, mark{true, false}, mark{false, false})
			} else {
				want = append(want, mark{true, false}, mark{true, true}, mark{false, false})
			}
			if !slices.Equal(got, want) {
				t.Fatalf("non-transactional and rolled back marks %v, want %v", got, want)
			}
		})
	}
}

// TestStreamedTransaction reads big transactions in pieces
// (Options.StreamAbove) and checks them against the same transactions
// read whole: the pieces hold the same events in order (a piece that
// starts inside a statement starts with that statement's table maps
// again), share the transaction's number, add up to its bytes, and only
// the last has its end and commit time; small transactions come whole.
func TestStreamedTransaction(t *testing.T) {
	t.Parallel()
	// MIXED: UUID() makes the big statements row events, the UPDATE of a
	// stays a statement.
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "MIXED"})
	stmts := []string{"CREATE DATABASE d", "USE d",
		"CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(200))", "CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(200))",
		"INSERT INTO a VALUES (0, 'small')",
		"BEGIN",
		"INSERT INTO a SELECT seq, CONCAT(REPEAT('x', 100), UUID()) FROM seq_1_to_3000",
		"INSERT INTO b SELECT seq, CONCAT(REPEAT('y', 100), UUID()) FROM seq_1_to_2000",
		"UPDATE a SET v = 'z' WHERE id < 10",
		"UPDATE b SET v = UUID() WHERE id < 500",
		"COMMIT",
		"INSERT INTO a VALUES (-1, 'small again')"}
	files := runStatements(t, s, stmts...)
	whole, err := readAll(t, files, Options{DecodeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	pieces, err := readAll(t, files, Options{DecodeRows: true, StreamAbove: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	i, repeated := 0, 0
	for _, w := range whole {
		if w.Bytes < 64<<10 {
			if p := pieces[i]; p.Part != 0 || p.Seq != w.Seq || len(p.Events) != len(w.Events) {
				t.Fatalf("small transaction #%d came as part %d with %d events, want whole with %d", w.Seq, p.Part, len(p.Events), len(w.Events))
			}
			i++
			continue
		}
		var events []txn.Event
		var bytes int64
		for part := 1; ; part++ {
			p := pieces[i]
			i++
			if p.Part != part || p.Seq != w.Seq || p.GTID != w.GTID || p.Start != w.Start {
				t.Fatalf("piece %d of #%d: part %d, seq %d, GTID %s, start %s", part, w.Seq, p.Part, p.Seq, p.GTID, p.Start)
			}
			bytes += p.Bytes
			evs := p.Events
			// A piece that starts with a table map seen before starts
			// inside a statement, and says so (MidStatement).
			seen := part > 1 && evs[0].Kind == txn.EventTableMap && slices.ContainsFunc(events, func(e txn.Event) bool {
				return e.Pos == evs[0].Pos
			})
			if p.MidStatement != seen {
				t.Fatalf("piece %d of #%d: MidStatement %v, but its first event repeats one of the piece before: %v", part, w.Seq, p.MidStatement, seen)
			}
			if part > 1 && evs[0].Kind == txn.EventTableMap {
				// Repeated table maps: those of the statement the piece
				// starts in, already in the last piece.
				n := 0
				for n < len(evs) && evs[n].Kind == txn.EventTableMap && slices.ContainsFunc(events, func(e txn.Event) bool {
					return e.Pos == evs[n].Pos
				}) {
					n++
				}
				if n == 0 {
					t.Fatalf("piece %d of #%d starts with a table map not seen before", part, w.Seq)
				}
				evs = evs[n:]
				repeated++
			}
			events = append(events, evs...)
			if p.Final {
				if p.End != w.End || p.Time != w.Time {
					t.Fatalf("last piece of #%d ends at %s (%v), want %s (%v)", w.Seq, p.End, p.Time, w.End, w.Time)
				}
				break
			}
			if !p.End.IsZero() {
				t.Fatalf("piece %d of #%d has an end (%s) though not the last", part, w.Seq, p.End)
			}
		}
		if bytes != w.Bytes || len(events) != len(w.Events) {
			t.Fatalf("pieces of #%d: %d bytes and %d events, want %d and %d", w.Seq, bytes, len(events), w.Bytes, len(w.Events))
		}
		for k := range events {
			if events[k].Pos != w.Events[k].Pos || !bytes2Equal(events[k].Raw, w.Events[k].Raw) {
				t.Fatalf("event %d of #%d differs in pieces: %s, whole: %s", k, w.Seq, events[k].Pos, w.Events[k].Pos)
			}
		}
	}
	if i != len(pieces) {
		t.Fatalf("%d pieces left over", len(pieces)-i)
	}
	if len(pieces) < len(whole)+5 || repeated == 0 {
		t.Fatalf("%d pieces for %d transactions, %d starting inside a statement: the test cut nothing", len(pieces), len(whole), repeated)
	}
}

func bytes2Equal(a, b []byte) bool { return string(a) == string(b) }
