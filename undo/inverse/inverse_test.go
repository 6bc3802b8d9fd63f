package inverse

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// readFixture reads every transaction of the repository's fixture set dir
// (e.g. "mariadb-10.11/row"), decoded, in pieces above streamAbove bytes
// (0: whole).
func readFixture(t *testing.T, dir string, streamAbove int64) []*txn.Txn {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtures.Repo(t), dir, "mysql-bin.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("fixture %s: %v", dir, err)
	}
	r, err := binlog.NewReader(files, binlog.Options{DecodeRows: true, StreamAbove: streamAbove})
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

// TestInverseRefusals checks what an undo refuses, before anything is
// written: DDL, statement-format DML, non-transactional tables, images
// without every column, each naming the transaction.
func TestInverseRefusals(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		kind func(*txn.Txn) bool
		want string
	}{
		{"mariadb-10.11/row", func(t *txn.Txn) bool { return t.Kind == txn.KindDDL }, "it is DDL"},
		{"mariadb-10.11/row", func(t *txn.Txn) bool { return t.NonTransactional }, "non-transactional"},
		{"mariadb-10.11/statement", func(t *txn.Txn) bool { return t.Kind == txn.KindStatement }, "statement-format"},
		{"mariadb-10.11/minimal", func(t *txn.Txn) bool { return t.Kind == txn.KindRows && t.Seq > 3 }, "binlog_row_image=FULL"},
	} {
		var found bool
		for _, tx := range readFixture(t, tc.dir, 0) {
			if !tc.kind(tx) {
				continue
			}
			found = true
			_, err := NewInverter().Invert(tx)
			var re *RefusedError
			if !errors.As(err, &re) || re.Txn.Start != tx.Start || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), tx.Start.String()) {
				t.Errorf("%s: transaction at %s: got %v, want a refusal naming it and saying %q", tc.dir, tx.Start, err, tc.want)
			}
			break
		}
		if !found {
			t.Errorf("%s: no transaction of the kind %q", tc.dir, tc.want)
		}
	}
}

// TestSpoolBackward spools the inverse of every row transaction of the
// fixture set, read whole and in pieces, and reads it back: the inverse
// transactions come last first, each statement a table map and the inverse
// of one row event, last first, with the rows of the inverse; pieces are
// numbered, the last Final, and an inverse ends where its transaction
// starts.
func TestSpoolBackward(t *testing.T) {
	for _, piece := range []int64{0, 1} {
		var src []*txn.Txn
		keep := map[uint64]bool{}
		for _, tx := range readFixture(t, "mariadb-10.11/row", 0) {
			if tx.Kind == txn.KindRows && !tx.NonTransactional {
				src = append(src, tx)
				keep[tx.Seq] = true
			}
		}
		// Read again, in pieces when piece is set, to spool.
		sp, err := NewSpool(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		iv := NewInverter()
		for _, tx := range readFixture(t, "mariadb-10.11/row", piece) {
			if !keep[tx.Seq] {
				continue
			}
			stmts, err := iv.Invert(tx)
			if err != nil {
				t.Fatalf("invert %s: %v", tx.Start, err)
			}
			if err := sp.Add(tx, stmts); err != nil {
				t.Fatal(err)
			}
		}
		if err := sp.Finish(); err != nil {
			t.Fatal(err)
		}
		pieceBytes := int64(1 << 20)
		if piece > 0 {
			pieceBytes = 1 // every statement a piece
		}
		back := sp.Backward(pieceBytes)
		for i := len(src) - 1; i >= 0; i-- {
			want := src[i]
			var events []txn.Event
			for part := 1; ; part++ {
				got, err := back.Next()
				if err != nil {
					t.Fatalf("read back the inverse of %s: %v", want.Start, err)
				}
				if got.Seq != want.Seq || got.Start != want.Start || got.GTID != want.GTID || got.Kind != txn.KindRows {
					t.Fatalf("read back %+v, want the inverse of %+v", got, want)
				}
				events = append(events, got.Events...)
				whole := got.Part == 0
				if whole && piece > 0 && countRows(want) > 1 || !whole && got.Part != part {
					t.Fatalf("inverse of %s: part %d, want part %d", want.Start, got.Part, part)
				}
				if whole || got.Final {
					if got.End != want.Start || !got.Time.Equal(want.Time) {
						t.Errorf("inverse of %s ends at %s time %s, want %s %s", want.Start, got.End, got.Time, want.Start, want.Time)
					}
					break
				}
				if !got.End.IsZero() {
					t.Errorf("piece %d of the inverse of %s has an end", part, want.Start)
				}
			}
			checkInverseEvents(t, want, events)
		}
		if _, err := back.Next(); !errors.Is(err, io.EOF) {
			t.Errorf("after the first transaction: %v, want io.EOF", err)
		}
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// countRows counts the row events of t.
func countRows(t *txn.Txn) int {
	n := 0
	for _, e := range t.Events {
		if e.Kind == txn.EventRows {
			n++
		}
	}
	return n
}

// checkInverseEvents checks that events are the inverse statements of t:
// per row event of t, last first, its table map and its inverse.
func checkInverseEvents(t *testing.T, tx *txn.Txn, events []txn.Event) {
	t.Helper()
	var rows []*txn.Event
	maps := map[uint64]*txn.Event{}
	mapOf := map[*txn.Event]*txn.Event{}
	for i := range tx.Events {
		e := &tx.Events[i]
		if e.Kind == txn.EventTableMap {
			maps[e.TableMap.ID] = e
		} else {
			rows = append(rows, e)
			mapOf[e] = maps[e.Rows.Table.ID]
		}
	}
	if len(events) != 2*len(rows) {
		t.Fatalf("inverse of %s: %d events, want %d", tx.Start, len(events), 2*len(rows))
	}
	for k, e := range rows {
		tm, inv := events[2*(len(rows)-1-k)], events[2*(len(rows)-1-k)+1]
		if !reflect.DeepEqual(tm.Raw, mapOf[e].Raw) || tm.Kind != txn.EventTableMap {
			t.Errorf("inverse of %s at %s: not preceded by its table map", e.TypeName, e.Pos)
		}
		want := map[txn.Op]txn.Op{txn.OpInsert: txn.OpDelete, txn.OpDelete: txn.OpInsert, txn.OpUpdate: txn.OpUpdate}[e.Rows.Op]
		if inv.Rows.Op != want || inv.Pos != e.Pos || !inv.Rows.Decoded || len(inv.Rows.Rows) != len(e.Rows.Rows) ||
			inv.Rows.Flags&txn.RowsFlagStmtEnd == 0 || !strings.Contains(inv.TypeName, "inverse of "+e.TypeName) {
			t.Errorf("inverse of %s at %s: %s %v at %s with %d rows", e.TypeName, e.Pos, inv.TypeName, inv.Rows.Op, inv.Pos, len(inv.Rows.Rows))
			continue
		}
		n := len(e.Rows.Rows)
		if e.Rows.Op == txn.OpUpdate {
			for i := 0; i < n; i += 2 {
				if !reflect.DeepEqual(inv.Rows.Rows[n-2-i], e.Rows.Rows[i+1]) || !reflect.DeepEqual(inv.Rows.Rows[n-1-i], e.Rows.Rows[i]) {
					t.Errorf("inverse of %s at %s: update images not swapped and reversed", e.TypeName, e.Pos)
				}
			}
			continue
		}
		for i := range n {
			if !reflect.DeepEqual(inv.Rows.Rows[n-1-i], e.Rows.Rows[i]) {
				t.Errorf("inverse of %s at %s: rows not reversed", e.TypeName, e.Pos)
			}
		}
	}
}

// TestSpoolTruncate checks that a transaction spooled in part and then
// found outside the range (its last piece past the stop point) is
// forgotten: what is read back is the transactions before and after it.
func TestSpoolTruncate(t *testing.T) {
	var rows []*txn.Txn
	for _, tx := range readFixture(t, "mariadb-10.11/row", 0) {
		if tx.Kind == txn.KindRows && !tx.NonTransactional {
			rows = append(rows, tx)
		}
	}
	if len(rows) < 3 {
		t.Fatalf("%d row transactions in the fixture, want 3", len(rows))
	}
	sp, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	iv := NewInverter()
	add := func(tx *txn.Txn) {
		stmts, err := iv.Invert(tx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sp.Add(tx, stmts); err != nil {
			t.Fatal(err)
		}
	}
	add(rows[0])
	size, txns := sp.Size, sp.Txns
	piece := *rows[1]
	piece.Part = 1 // a first piece: no header yet
	add(&piece)
	if err := sp.Truncate(size, txns); err != nil {
		t.Fatal(err)
	}
	add(rows[2])
	if err := sp.Finish(); err != nil {
		t.Fatal(err)
	}
	back := sp.Backward(1 << 20)
	for _, want := range []*txn.Txn{rows[2], rows[0]} {
		got, err := back.Next()
		if err != nil || got.Start != want.Start {
			t.Fatalf("read back %v, %v; want the inverse of %s", got, err, want.Start)
		}
	}
	if _, err := back.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after two transactions: %v, want io.EOF", err)
	}
}
