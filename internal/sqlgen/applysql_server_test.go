package sqlgen

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// sqlApplyProfiles are the workloads TestSQLApplyWorkloads replays: every
// column type at its limits, zero dates, ENUM error values, generated and
// invisible columns (Types), OLTP, primary keys and unique values moving
// between rows and case changes under a _ci collation (UniqueChurn),
// duplicate rows without a key (NoPK), latin1 and utf8mb4 bytes and odd
// names (Charset), cascading foreign keys and foreign_key_checks=0
// (ForeignKeys), range deletes (GapLocks), DML between DDL (DDL).
var sqlApplyProfiles = []workload.Profile{workload.Types, workload.OLTP, workload.UniqueChurn, workload.NoPK,
	workload.Charset, workload.ForeignKeys, workload.GapLocks, workload.DDL}

// TestSQLApplyWorkloads runs workloads on a MariaDB source with FULL,
// MINIMAL and NOBLOB row images, reads the binlog back, applies every row
// event as SQL (Generator.ApplySQL) to a target that holds the same base,
// and compares the two servers' tables (package verify): every value,
// every row, duplicates of tables without a key included.
func TestSQLApplyWorkloads(t *testing.T) {
	images := []string{"FULL", "MINIMAL", "NOBLOB"}
	if testing.Short() {
		images = images[:1]
	}
	for _, image := range images {
		t.Run(image, func(t *testing.T) {
			ctx := context.Background()
			src := sandbox.ForTest(t, sandbox.Options{Binlog: true,
				Args: []string{"--binlog-row-image=" + image, "--binlog-row-metadata=" + map[string]string{"FULL": "MINIMAL", "MINIMAL": "FULL", "NOBLOB": "NO_LOG"}[image]}})
			dst := sandbox.ForTest(t, sandbox.Options{})
			sdb, ddb := openDB(t, src), openDB(t, dst)
			for _, p := range sqlApplyProfiles {
				o := workload.Options{Profile: p, Seed: 19, Scale: 30, Txns: 150}
				if p == workload.UniqueChurn || p == workload.OLTP {
					o.Txns = 400
				}
				n := replayWorkload(t, ctx, src, sdb, ddb, o, &Generator{TargetMariaDB: true, ApplySQL: true, MaxStatementBytes: 4096})
				t.Logf("%s: %d row events applied as SQL", p, n)
			}
		})
	}
}

// replayWorkload sets up o on both servers, runs it on the source, applies
// its binlog to the target with g and compares the two. It returns the
// number of row events applied as SQL.
func replayWorkload(t *testing.T, ctx context.Context, src *sandbox.Server, sdb, ddb *sql.DB, o workload.Options, g *Generator) uint64 {
	t.Helper()
	for _, db := range []*sql.DB{sdb, ddb} {
		if err := workload.Setup(ctx, db, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sdb.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	before, err := src.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.Run(ctx, sdb, o); err != nil {
		t.Fatal(err)
	}
	files, err := src.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	cache := schema.NewCache(ddb)
	g.Tables, g.Shapes = cache.Table, cache.Shape
	conn, err := ddb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, err := applyBinlog(ctx, files[len(before)-1:], g, conn, cache.InvalidateAll)
	if err != nil {
		t.Fatalf("%s: %v", o.Profile, err)
	}
	schemaName := o.Schema
	if schemaName == "" {
		schemaName = "wl_" + string(o.Profile)
	}
	rep, err := verify.Compare(ctx, ddb, sdb, verify.Options{Databases: []string{schemaName}})
	if err != nil {
		t.Fatalf("%s: compare: %v", o.Profile, err)
	}
	if !rep.Equal() {
		t.Errorf("%s: the target differs from the source:\n%s", o.Profile, rep)
	}
	return n
}

// applyBinlog applies the transactions of files to conn as the replay's
// worker does: each in a transaction, statements of the SQL apply path in
// packets (ExecChecked), others one at a time. invalidate is called after
// each DDL. It returns the number of row events applied as SQL.
func applyBinlog(ctx context.Context, files []string, g *Generator, conn *sql.Conn, invalidate func()) (uint64, error) {
	r, err := binlog.NewReader(files, binlog.Options{DecodeRows: true, DecodeWorkers: 1})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n uint64
	for {
		tx, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		// CREATE TABLE ... SELECT in row format: the rows' table exists
		// on the target only once the CREATE ran, and the SQL apply path
		// reads its definition when it renders them, so the CREATE runs
		// first, on its own (as the replay's staging of such statements
		// does).
		parts := []*txn.Txn{tx}
		if len(tx.Events) > 1 && tx.Events[0].Kind == txn.EventQuery && tx.Events[1].Kind == txn.EventTableMap {
			head, rest := *tx, *tx
			head.Events, rest.Events = tx.Events[:1], tx.Events[1:]
			head.Kind, rest.Kind = txn.KindDDL, txn.KindRows
			parts = []*txn.Txn{&head, &rest}
		}
		for _, part := range parts {
			body, err := g.Body(ctx, part)
			if err != nil {
				var kinds []string
				for _, e := range tx.Events {
					kinds = append(kinds, e.TypeName)
				}
				return n, fmt.Errorf("txn %d (%v: %v) at %s: %w", tx.Seq, tx.Kind, kinds, tx.Start, err)
			}
			n += SQLRowEvents(body)
			ddl := part.Kind == txn.KindDDL
			if !ddl {
				if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
					return n, err
				}
			}
			if err := execBody(ctx, conn, body, 64<<10); err != nil {
				_, _ = conn.ExecContext(ctx, "ROLLBACK")
				return n, fmt.Errorf("txn %d at %s: %w", tx.Seq, tx.Start, err)
			}
			if ddl {
				invalidate() // any table may have changed
				continue
			}
			if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
				return n, err
			}
		}
	}
}

// execBody runs stmts as the worker does: checked statements in packets of
// at most limit bytes (a new packet at a new Event or at Alone),
// consecutive passthrough statements merged into one BINLOG statement, the
// others one at a time.
func execBody(ctx context.Context, conn *sql.Conn, stmts []Stmt, limit int) error {
	var packet []*Stmt
	var events []*txn.Event
	size := 0
	flush := func() error {
		var err error
		switch {
		case len(packet) > 0:
			_, err = ExecChecked(ctx, conn, packet)
		case len(events) > 0:
			_, err = conn.ExecContext(ctx, BinlogStatement(events))
		}
		packet, events, size = nil, nil, 0
		return err
	}
	for i := range stmts {
		s := &stmts[i]
		switch {
		case s.Check != nil:
			if len(events) > 0 || len(packet) > 0 && (packet[0].Event != s.Event || s.Alone || size+len(s.SQL)+2 > limit) {
				if err := flush(); err != nil {
					return err
				}
			}
			packet = append(packet, s)
			size += len(s.SQL) + 2
		case s.Events != nil:
			n := BinlogSize(s.Events)
			if len(packet) > 0 || len(events) > 0 && size+n > limit {
				if err := flush(); err != nil {
					return err
				}
			}
			events = append(events, s.Events...)
			size += n
		default:
			if err := flush(); err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, s.SQL); err != nil {
				return fmt.Errorf("%s: %w", abbreviate(s.SQL, 200), err)
			}
		}
	}
	return flush()
}

// TestSQLApplyTriggersRefused checks that a row event on a table with
// triggers on the target is refused, naming the event and table, unless
// the generator is told triggers fire.
func TestSQLApplyTriggersRefused(t *testing.T) {
	if os.Getenv("CI") == "" && testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	srv := sandbox.ForTest(t, sandbox.Options{})
	db := openDB(t, srv)
	if err := execStatements(ctx, db, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)", "CREATE TABLE d.audit (n INT)",
		"CREATE TRIGGER d.tr AFTER INSERT ON d.t FOR EACH ROW INSERT INTO d.audit VALUES (NEW.id)"); err != nil {
		t.Fatal(err)
	}
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong}, ColumnMeta: []uint16{0}}
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{
		{Kind: txn.EventTableMap, TableMap: tm, Raw: []byte{1}},
		{Kind: txn.EventRows, Type: 30, TypeName: "WRITE_ROWS_EVENT", Pos: txn.Position{File: "f", Offset: 4}, Raw: []byte{1},
			Rows: &txn.Rows{Op: txn.OpInsert, Table: tm, Flags: txn.RowsFlagStmtEnd, Columns: []bool{true}, Rows: [][]any{{int64(1)}}, Decoded: true}},
	}}
	cache := schema.NewCache(db)
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: cache.Table}
	_, err := g.Body(ctx, tx)
	var re *RowsError
	if !errors.As(err, &re) || re.Event != &tx.Events[1] || !strings.Contains(err.Error(), "`d`.`t` has triggers") {
		t.Fatalf("Body = %v; want a *RowsError naming the event and the table's triggers", err)
	}
	g.TriggersFire = true
	body, err := g.Body(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := execBody(ctx, conn, body, 1<<20); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM d.audit").Scan(&n); err != nil || n != 1 {
		t.Errorf("audit rows %d, %v: want the trigger to have fired once", n, err)
	}
}

// rowsTxn returns a transaction of row events on tm, one per op: inserts
// of images, updates of before/after pairs, deletes of images.
func rowsTxn(tm *txn.TableMap, evs ...*txn.Rows) *txn.Txn {
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{{Kind: txn.EventTableMap, TableMap: tm}}}
	for i, r := range evs {
		r.Table = tm
		if r.Flags == 0 {
			r.Flags = txn.RowsFlagStmtEnd
		}
		r.Decoded = true
		tx.Events = append(tx.Events, txn.Event{Kind: txn.EventRows, Type: 30, TypeName: r.Op.String() + "_rows",
			Pos: txn.Position{File: "f", Offset: uint64(100 * (i + 1))}, Rows: r})
	}
	return tx
}

// applyTxn generates tx's statements with g and applies them on conn in a
// transaction.
func applyTxn(ctx context.Context, conn *sql.Conn, g *Generator, tx *txn.Txn) error {
	body, err := g.Body(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	if err := execBody(ctx, conn, body, 64<<10); err != nil {
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

// TestSQLApplyCharsets writes, for every character set of the server, text
// in a VARCHAR and a CHAR column through the SQL apply path and reads back
// its bytes; then, in a table without a primary key holding two rows equal
// under the character set's default collation ('a' and 'A', 'a' and
// 'a '), it deletes and updates one of them and checks it was that one
// (a replica compares the bytes).
func TestSQLApplyCharsets(t *testing.T) {
	ctx := context.Background()
	srv := sandbox.ForTest(t, sandbox.Options{})
	db := openDB(t, srv)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	type cs struct {
		name   string
		maxLen int
	}
	var sets []cs
	for rows.Next() {
		var c cs
		if err := rows.Scan(&c.name, &c.maxLen); err != nil {
			t.Fatal(err)
		}
		sets = append(sets, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cache := schema.NewCache(db)
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: cache.Table}
	for _, c := range sets {
		if c.name == "binary" {
			continue // BINARY and VARBINARY: TestSQLApplyRoundTrip
		}
		// The text in c: the server's conversion (characters c lacks
		// become '?').
		// (Read as hexadecimal: the server would convert text to the
		// connection's character set.)
		var hexes [4]string
		if err := db.QueryRowContext(ctx, "SELECT HEX(CONVERT(_utf8mb4 'x\u00e9\u20ac\\\\''\u00c9\U0001F600' USING "+c.name+")), "+
			"HEX(CONVERT(_utf8mb4 'a' USING "+c.name+")), HEX(CONVERT(_utf8mb4 'A' USING "+c.name+")), HEX(CONVERT(_utf8mb4 'a ' USING "+c.name+"))").
			Scan(&hexes[0], &hexes[1], &hexes[2], &hexes[3]); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var vals [4][]byte
		for i, h := range hexes {
			if vals[i], err = hex.DecodeString(h); err != nil {
				t.Fatal(err)
			}
		}
		text, lower, upper, spaced := vals[0], vals[1], vals[2], vals[3]
		table := "t_" + c.name
		nopk := "n_" + c.name
		if err := execStatements(ctx, db,
			"CREATE TABLE d."+table+" (id INT PRIMARY KEY, v VARCHAR(20) CHARACTER SET "+c.name+", ch CHAR(8) CHARACTER SET "+c.name+")",
			"CREATE TABLE d."+nopk+" (v VARCHAR(20) CHARACTER SET "+c.name+", n INT)"); err != nil {
			t.Fatal(err)
		}
		tm := &txn.TableMap{Schema: "d", Table: table, ColumnTypes: []byte{typeLong, typeVarchar, typeString},
			ColumnMeta: []uint16{0, uint16(20 * c.maxLen), 0xfe00 | uint16(8*c.maxLen)}}
		all := []bool{true, true, true}
		if err := applyTxn(ctx, conn, g, rowsTxn(tm, &txn.Rows{Op: txn.OpInsert, Columns: all, Rows: [][]any{{int64(1), text, text}}})); err != nil {
			t.Errorf("%s: insert: %v", c.name, err)
			continue
		}
		var v, ch string
		if err := db.QueryRowContext(ctx, "SELECT HEX(v), HEX(ch) FROM d."+table).Scan(&v, &ch); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToUpper(hex.EncodeToString(text)); v != want || ch != want {
			t.Errorf("%s: stored %s and %s, want %s", c.name, v, ch, want)
		}
		// Rows equal under the collation, told apart by their bytes.
		tn := &txn.TableMap{Schema: "d", Table: nopk, ColumnTypes: []byte{typeVarchar, typeLong}, ColumnMeta: []uint16{uint16(20 * c.maxLen), 0}}
		both := []bool{true, true}
		for _, tc := range []struct{ keep, gone []byte }{{lower, upper}, {lower, spaced}, {spaced, lower}} {
			if string(tc.keep) == string(tc.gone) {
				continue
			}
			steps := rowsTxn(tn,
				&txn.Rows{Op: txn.OpInsert, Columns: both, Rows: [][]any{{tc.keep, int64(1)}, {tc.gone, int64(1)}}},
				&txn.Rows{Op: txn.OpUpdate, Columns: both, ColumnsAfter: both, Rows: [][]any{{tc.gone, int64(1)}, {tc.gone, int64(2)}}},
				&txn.Rows{Op: txn.OpDelete, Columns: both, Rows: [][]any{{tc.gone, int64(2)}}})
			if err := applyTxn(ctx, conn, g, steps); err != nil {
				t.Errorf("%s: %x and %x: %v", c.name, tc.keep, tc.gone, err)
				continue
			}
			var left string
			var n int
			if err := db.QueryRowContext(ctx, "SELECT HEX(v), n FROM d."+nopk).Scan(&left, &n); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if want := strings.ToUpper(hex.EncodeToString(tc.keep)); left != want || n != 1 {
				t.Errorf("%s: left %s (n=%d), want %s (n=1): the statements found the other row", c.name, left, n, want)
			}
			if _, err := db.ExecContext(ctx, "DELETE FROM d."+nopk); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d character sets", len(sets))
}

// TestSQLApplyPackets applies, in one transaction, updates that change
// nothing (the target already holds the after image) followed in the same
// transaction by other writes to the same rows, and checks that each
// UPDATE's Found check ran before a later statement could hide its row;
// then DELETEs and UPDATEs that miss a row, which must fail
// naming the row events.
func TestSQLApplyPackets(t *testing.T) {
	ctx := context.Background()
	db, conn := serverConn(ctx, t, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO d.t VALUES (1, 10), (2, 20), (3, 30), (4, 40), (5, 50), (7, 70)",
		"CREATE TABLE d.n (a INT, v INT)", "INSERT INTO d.n VALUES (1, 1), (1, 1)")
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: schema.NewCache(db).Table}
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, typeLong}, ColumnMeta: []uint16{0, 0}}
	tn := &txn.TableMap{Schema: "d", Table: "n", ColumnTypes: []byte{typeLong, typeLong}, ColumnMeta: []uint16{0, 0}}
	all := []bool{true, true}
	upd := func(rows ...[]any) *txn.Rows {
		return &txn.Rows{Op: txn.OpUpdate, Columns: all, ColumnsAfter: all, Rows: rows}
	}
	del := func(rows ...[]any) *txn.Rows { return &txn.Rows{Op: txn.OpDelete, Columns: all, Rows: rows} }
	ins := func(rows ...[]any) *txn.Rows { return &txn.Rows{Op: txn.OpInsert, Columns: all, Rows: rows} }
	tx := rowsTxn(tm,
		upd(vals(1, 10), vals(1, 10)), // no change
		upd(vals(1, 10), vals(1, 11)),
		upd(vals(2, 20), vals(2, 20)), // no change, then deleted
		del(vals(2, 20)),
		ins(vals(2, 22)),
		upd(vals(3, 30), vals(3, 30)),      // no change, then moved
		upd(vals(3, 30), vals(8, 30)),      // its key moved
		del(vals(4, 40)), del(vals(5, 50))) // deletes sharing a packet
	if err := applyTxn(ctx, conn, g, tx); err != nil {
		t.Fatalf("updates that change nothing, then other writes to their rows: %v", err)
	}
	// Without a key: a row updated to itself, then deleted.
	if err := applyTxn(ctx, conn, g, rowsTxn(tn, upd(vals(1, 1), vals(1, 1)), del(vals(1, 1)))); err != nil {
		t.Fatalf("without a key: %v", err)
	}
	var got []string
	rows, err := db.QueryContext(ctx, "SELECT CONCAT(id, '=', v) FROM d.t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if want := "1=11 2=22 7=70 8=30"; strings.Join(got, " ") != want {
		t.Errorf("rows %s, want %s", strings.Join(got, " "), want)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM d.n").Scan(&n); err != nil || n != 1 {
		t.Errorf("d.n holds %d rows (%v), want 1", n, err)
	}
	// A multi-row UPDATE one of whose rows already holds its after image.
	if err := applyTxn(ctx, conn, g, rowsTxn(tm, upd(vals(7, 70), vals(7, 70), vals(8, 30), vals(8, 31)))); err != nil {
		t.Fatalf("multi-row update with a row unchanged: %v", err)
	}
	// Rows the target lacks.
	for _, tc := range []struct {
		name   string
		tx     *txn.Txn
		events string
	}{
		{"deletes in one packet", rowsTxn(tm, del(vals(7, 70)), del(vals(9, 90))), "rows of delete_rows at f:200"},
		{"update", rowsTxn(tm, upd(vals(9, 90), vals(9, 91))), ""},
		{"multi-row update", rowsTxn(tm, upd(vals(7, 70), vals(7, 71), vals(9, 90), vals(9, 91))), ""},
		{"update without a key", rowsTxn(tn, upd(vals(5, 5), vals(5, 6))), ""},
	} {
		err := applyTxn(ctx, conn, g, tc.tx)
		var re *RowsError
		if !errors.Is(err, ErrRowNotFound) || !errors.As(err, &re) || re.Event != &tc.tx.Events[1] || !strings.Contains(err.Error(), tc.events) {
			t.Errorf("%s of a missing row: %v; want ErrRowNotFound naming the first row event and %q", tc.name, err, tc.events)
		}
	}
}

// TestSQLApplyJoinedPackets sends the statements of several transactions
// in one packet, as target.Session.ExecJoined does, and checks that
// ExecChecked accepts it only where its row checks are exact: an UPDATE
// that changed fewer rows than it carries, followed in the packet by
// statements of another transaction, fails with ErrRepack (whatever those
// statements did to its row: deleted it, or inserted the row it missed);
// one in the packet's last group is checked there. Split one group per
// packet, the same statements apply, or miss their row, as they must.
func TestSQLApplyJoinedPackets(t *testing.T) {
	ctx := context.Background()
	db, conn := serverConn(ctx, t, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO d.t VALUES (1, 10), (2, 20), (3, 30)")
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: schema.NewCache(db).Table}
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, typeLong}, ColumnMeta: []uint16{0, 0}}
	all := []bool{true, true}
	upd := func(rows ...[]any) *txn.Rows {
		return &txn.Rows{Op: txn.OpUpdate, Columns: all, ColumnsAfter: all, Rows: rows}
	}
	del := func(rows ...[]any) *txn.Rows { return &txn.Rows{Op: txn.OpDelete, Columns: all, Rows: rows} }
	ins := func(rows ...[]any) *txn.Rows { return &txn.Rows{Op: txn.OpInsert, Columns: all, Rows: rows} }
	// joined returns the statements of txs, all checked, for one packet.
	joined := func(txs ...*txn.Txn) []*Stmt {
		var packet []*Stmt
		for _, tx := range txs {
			body, err := g.Body(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			for i := range body {
				if body[i].Check == nil {
					t.Fatalf("statement %q is not of the SQL apply path", body[i].SQL)
				}
				packet = append(packet, &body[i])
			}
		}
		return packet
	}
	inTxn := func(f func() error) error {
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		err := f()
		if _, rerr := conn.ExecContext(ctx, "ROLLBACK"); rerr != nil {
			t.Fatal(rerr)
		}
		return err
	}
	rows := func() string {
		var got []string
		r, err := conn.QueryContext(ctx, "SELECT CONCAT(id, '=', v) FROM d.t ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		return strings.Join(got, " ")
	}
	const start = "1=10 2=20 3=30"
	for _, tc := range []struct {
		name  string
		txs   []*txn.Txn
		split error  // outcome with one packet per group: nil or ErrRowNotFound
		want  string // rows after the joined packet, when it is accepted
	}{
		{"an update changing nothing, then its row deleted", []*txn.Txn{
			rowsTxn(tm, upd(vals(2, 20), vals(2, 20))), rowsTxn(tm, del(vals(2, 20)))}, nil, ""},
		{"an update missing its row, then the row inserted", []*txn.Txn{
			rowsTxn(tm, upd(vals(9, 90), vals(9, 91))), rowsTxn(tm, ins(vals(9, 91)))}, ErrRowNotFound, ""},
		{"every row changed", []*txn.Txn{
			rowsTxn(tm, ins(vals(4, 40)), upd(vals(1, 10), vals(1, 11))), rowsTxn(tm, del(vals(2, 20)), upd(vals(4, 40), vals(4, 41))),
			rowsTxn(tm, upd(vals(3, 30), vals(3, 31)))}, nil, "1=11 3=31 4=41"},
		{"an update changing nothing in the last group", []*txn.Txn{
			rowsTxn(tm, del(vals(2, 20))), rowsTxn(tm, upd(vals(3, 30), vals(3, 30)))}, nil, "1=10 3=30"},
	} {
		var got string
		err := inTxn(func() error {
			_, err := ExecChecked(ctx, conn, joined(tc.txs...))
			got = rows()
			return err
		})
		switch {
		case tc.want == "" && (!errors.Is(err, ErrRepack) || IsRowsError(err)):
			t.Errorf("%s, joined: %v; want ErrRepack, not a row error", tc.name, err)
		case tc.want != "" && err != nil:
			t.Errorf("%s, joined: %v", tc.name, err)
		case tc.want != "" && got != tc.want:
			t.Errorf("%s, joined: rows %s, want %s", tc.name, got, tc.want)
		}
		err = inTxn(func() error {
			for _, tx := range tc.txs {
				body, err := g.Body(ctx, tx)
				if err != nil {
					return err
				}
				if err := execBody(ctx, conn, body, 64<<10); err != nil {
					return err
				}
			}
			return nil
		})
		if (tc.split == nil) != (err == nil) || tc.split != nil && !errors.Is(err, tc.split) {
			t.Errorf("%s, split: %v; want %v", tc.name, err, tc.split)
		}
		if got := rows(); got != start {
			t.Fatalf("%s: rows %s after the rollback, want %s", tc.name, got, start)
		}
	}
}

// TestSQLApplyCommonSettings sends packets whose statements carry the
// common SET STATEMENT prefix, which ExecChecked sends without it in the
// session's settings (commonSettings), on a session whose own settings
// differ from the prefix's in each: the statements run in the prefix's
// settings (a TIMESTAMP literal read in UTC, a value too long refused),
// and after the packet, also one that failed part way, the session has
// its own settings back and the user variables that kept them are NULL.
func TestSQLApplyCommonSettings(t *testing.T) {
	ctx := context.Background()
	_, conn := serverConn(ctx, t, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, ts TIMESTAMP NULL, s VARCHAR(2))")
	if _, err := conn.ExecContext(ctx, "SET time_zone = '+05:00', sql_mode = 'ANSI_QUOTES', foreign_key_checks = 0, "+
		"unique_checks = 0, check_constraint_checks = 1"); err != nil {
		t.Fatal(err)
	}
	settings := func() string {
		var s string
		if err := conn.QueryRowContext(ctx, "SELECT CONCAT_WS(' ', @@time_zone, @@sql_mode, @@foreign_key_checks, "+
			"@@unique_checks, @@check_constraint_checks, IFNULL(@_binlog_replay_time_zone, 'unset'))").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	own := settings()
	if !strings.HasPrefix(own, "+05:00 ANSI_QUOTES ") || !strings.HasSuffix(own, " unset") {
		t.Fatalf("the session's own settings %q", own)
	}
	prefix := setStatementFor(prefixKey{})
	e := &txn.Event{TypeName: "WRITE_ROWS_EVENT", Pos: txn.Position{File: "f", Offset: 4}}
	insert := func(id int, value string) *Stmt {
		return &Stmt{SQL: fmt.Sprintf("%sINSERT INTO `d`.`t` VALUES (%d, '2024-01-01 00:00:00', '%s')", prefix, id, value),
			Event: e, Check: &RowCheck{Rows: 1, Events: []*txn.Event{e}}}
	}
	if n := len(newCommonSettings().packet([]*Stmt{insert(1, ""), insert(2, ""), insert(3, ""), insert(4, "")})); n != 6 {
		t.Fatalf("a packet of 4 statements with the common prefix is sent in %d statements, want 6 (saved and restored around)", n)
	}
	if _, err := ExecChecked(ctx, conn, []*Stmt{insert(1, ""), insert(2, ""), insert(3, ""), insert(4, "")}); err != nil {
		t.Fatal(err)
	}
	if got := settings(); got != own {
		t.Errorf("after a packet: the session's settings %q, want %q", got, own)
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM d.t WHERE UNIX_TIMESTAMP(ts) = 1704067200").Scan(&n); err != nil || n != 4 {
		t.Errorf("%d rows (%v) hold 2024-01-01 00:00:00 UTC, want 4: the statements ran in another time zone", n, err)
	}
	// A value too long for the column: refused in the prefix's strict
	// sql_mode (the session's own would truncate it), the packet's last
	// statement, the restore after it not run.
	_, err := ExecChecked(ctx, conn, []*Stmt{insert(5, ""), insert(6, ""), insert(7, ""), insert(8, "abc")})
	if err == nil || !strings.Contains(err.Error(), "1406") {
		t.Errorf("a value too long: %v, want error 1406 (strict)", err)
	}
	if got := settings(); got != own {
		t.Errorf("after a packet that failed: the session's settings %q, want %q", got, own)
	}
}

// TestAppendGroupOnServer applies random groups (randomGroup) on a
// server as AppendGroup orders and batches them, in one transaction, and
// checks every table against the model of the source order: the rows the
// server holds, spelled as written ('a' and 'A' are one key of k's
// case-insensitive primary key), and no statement refused.
func TestAppendGroupOnServer(t *testing.T) {
	ctx := context.Background()
	db, conn := serverConn(ctx, t, "CREATE DATABASE d",
		"CREATE TABLE d.t (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE d.c (a INT, b INT, v INT, PRIMARY KEY (a, b))",
		"CREATE TABLE d.k (k VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)",
		"CREATE TABLE d.n (a INT, v INT)",
		"CREATE TABLE d.u (id INT PRIMARY KEY, u INT, UNIQUE KEY (u))")
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: schema.NewCache(db).Table}
	tables := []string{"t", "c", "k", "n", "u"}
	moved := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 11))
		start := groupModel{}
		randomGroup(rng, start)
		source := start.clone()
		txns := randomGroup(rng, source)
		if len(txns) < 2 {
			continue
		}
		// The starting rows.
		for _, table := range tables {
			if _, err := db.ExecContext(ctx, "DELETE FROM d."+table); err != nil {
				t.Fatal(err)
			}
			for _, row := range start[table] {
				lits := make([]string, len(row))
				for i, v := range row {
					switch x := v.(type) {
					case nil:
						lits[i] = "NULL"
					case string:
						lits[i] = Quote(x)
					default:
						lits[i] = fmt.Sprint(x)
					}
				}
				if _, err := db.ExecContext(ctx, "INSERT INTO d."+table+" VALUES ("+strings.Join(lits, ", ")+")"); err != nil {
					t.Fatalf("seed %d: the starting rows: %v", seed, err)
				}
			}
		}
		// Text decodes to bytes: k's values as the binlog reader gives
		// them (copies: the model's rows keep their strings).
		for _, tx := range txns {
			for i := range tx.Events {
				r := tx.Events[i].Rows
				if r == nil || r.Table.Table != "k" {
					continue
				}
				for j, row := range r.Rows {
					c := slices.Clone(row)
					c[0] = []byte(c[0].(string))
					r.Rows[j] = c
				}
			}
		}
		stmts, err := g.AppendGroup(ctx, nil, txns)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		n := 0
		for _, tx := range txns {
			for i := range tx.Events {
				if tx.Events[i].Kind == txn.EventRows {
					n++
				}
			}
		}
		if len(stmts) < n {
			moved++
		}
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if err := execBody(ctx, conn, stmts, 64<<10); err != nil {
			t.Fatalf("seed %d: the group refused: %v", seed, err)
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		got := groupModel{}
		for _, table := range tables {
			got[table] = map[string][]any{}
			rows, err := db.QueryContext(ctx, "SELECT * FROM d."+table)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; rows.Next(); i++ {
				vals := make([]any, 3)
				ptrs := []any{&vals[0], &vals[1], &vals[2]}
				cols, _ := rows.Columns()
				if err := rows.Scan(ptrs[:len(cols)]...); err != nil {
					t.Fatal(err)
				}
				row := vals[:len(cols)]
				for j, v := range row {
					if b, ok := v.([]byte); ok {
						if table == "k" && j == 0 {
							row[j] = string(b)
						} else {
							x, err := strconv.ParseInt(string(b), 10, 64)
							if err != nil {
								t.Fatal(err)
							}
							row[j] = x
						}
					}
				}
				got[table][fmt.Sprint(i)] = row
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		for _, table := range tables {
			if source[table] == nil {
				source[table] = map[string][]any{}
			}
		}
		if got.String() != source.String() {
			t.Fatalf("seed %d: the server holds\n%s\nthe source order leaves\n%s", seed, got, source)
		}
	}
	if moved < 130 {
		t.Errorf("statements batched across events in %d groups of 400: the test does not exercise the order", moved)
	}
	t.Logf("statements batched across events in %d groups of 400", moved)
}

// TestSQLApplySequencePartialImage applies a sequence's row written with
// binlog_row_image=MINIMAL (NEXTVAL logs the next value and the cycle
// count only): the other columns keep the sequence's values, which a
// plain INSERT would have no defaults for (error 1364).
func TestSQLApplySequencePartialImage(t *testing.T) {
	ctx := context.Background()
	db, conn := serverConn(ctx, t, "CREATE DATABASE d", "CREATE SEQUENCE d.s START WITH 1000 INCREMENT BY 3 CACHE 4")
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: schema.NewCache(db).Table}
	tm := &txn.TableMap{Schema: "d", Table: "s", ColumnTypes: []byte{typeLongLong, typeLongLong, typeLongLong, typeLongLong,
		typeLongLong, typeLongLong, typeTiny, typeLongLong}, ColumnMeta: make([]uint16, 8)}
	present := []bool{true, false, false, false, false, false, false, true}
	img := []any{int64(1012), nil, nil, nil, nil, nil, nil, int64(0)}
	if err := applyTxn(ctx, conn, g, rowsTxn(tm, &txn.Rows{Op: txn.OpInsert, Columns: present, Rows: [][]any{img}})); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.QueryRowContext(ctx, "SELECT CONCAT_WS(',', next_not_cached_value, minimum_value, maximum_value, start_value, "+
		"increment, cache_size, cycle_option, cycle_count) FROM d.s").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "1012,1,9223372036854775806,1000,3,4,0,0"; got != want {
		t.Errorf("sequence row %s, want %s", got, want)
	}
	var next int64
	if err := db.QueryRowContext(ctx, "SELECT NEXTVAL(d.s)").Scan(&next); err != nil || next != 1012 {
		t.Errorf("NEXTVAL after the row: %d (%v), want 1012", next, err)
	}
}
