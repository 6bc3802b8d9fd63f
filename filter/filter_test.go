package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

func TestFilterStopPoints(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	mk := func(seq uint64, file string, start, end uint64, sec int, gtid string) *txn.Txn {
		g, _ := txn.ParseGTID(gtid)
		return &txn.Txn{Seq: seq, Kind: txn.KindRows, Start: txn.Position{File: file, Offset: start},
			End: txn.Position{File: file, Offset: end}, Time: t0.Add(time.Duration(sec) * time.Second), GTID: g}
	}
	txns := []*txn.Txn{
		mk(1, "b.000001", 100, 200, 0, "0-1-1"),
		mk(2, "b.000001", 200, 300, 10, "0-1-2"),
		mk(3, "b.000002", 4, 90, 20, "0-1-3"),
		mk(4, "b.000002", 90, 190, 30, "0-1-4"),
	}
	gtid3, _ := txn.ParseGTID("0-1-3")
	excl, _ := ParseGTIDs("0-1-1")
	excl2to3, _ := ParseGTIDs("0-1-2..3")
	tests := []struct {
		name      string
		opts      Options
		wantKept  int
		wantCause string
	}{
		{"position across files", Options{StopPosition: txn.Position{File: "b.000002", Offset: 90}}, 3, "--stop-position"},
		{"position inside a transaction", Options{StopPosition: txn.Position{File: "b.000002", Offset: 100}}, 3, "--stop-position"},
		{"datetime", Options{StopDatetime: t0.Add(15 * time.Second)}, 2, "--stop-datetime"},
		{"datetime exact", Options{StopDatetime: t0.Add(10 * time.Second)}, 1, "--stop-datetime"},
		{"gtid", Options{StopBeforeGTID: gtid3}, 2, "--stop-before-gtid"},
		{"exclude", Options{ExcludeGTIDs: excl}, 3, ""},
		{"exclude a range", Options{ExcludeGTIDs: excl2to3}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Files = []string{"/x/b.000001", "/x/b.000002"}
			f := New(tt.opts)
			kept, cause := 0, ""
			for _, tx := range txns {
				if stop := f.Stop(tx); stop != "" {
					cause = stop
					break
				}
				if !f.Skips(tx) {
					kept++
				}
			}
			if kept != tt.wantKept || !strings.Contains(cause, tt.wantCause) || (tt.wantCause == "") != (cause == "") {
				t.Errorf("kept %d (stop %q), want %d (stop mentioning %q)", kept, cause, tt.wantKept, tt.wantCause)
			}
		})
	}
}

func TestFilterInclude(t *testing.T) {
	a := &txn.TableMap{ID: 1, Schema: "app", Table: "a"}
	b := &txn.TableMap{ID: 2, Schema: "app", Table: "b"}
	tx := &txn.Txn{Kind: txn.KindRows, Events: []txn.Event{
		{Kind: txn.EventTableMap, TableMap: a}, {Kind: txn.EventRows, Rows: &txn.Rows{Table: a}},
		{Kind: txn.EventTableMap, TableMap: b}, {Kind: txn.EventRows, Rows: &txn.Rows{Table: b}},
	}}
	opts := Options{Files: []string{"f.000001"}, Tables: []string{"app.b"}}
	f := New(opts)
	if f.Stop(tx) != "" || f.Skips(tx) {
		t.Fatal("transaction dropped: a filtered transaction is kept (possibly empty) so the checkpoint moves")
	}
	f.Include(tx)
	if len(tx.Events) != 2 || tx.Events[0].TableMap != b || tx.Events[1].Rows.Table != b {
		t.Errorf("kept events %+v, want only app.b's table map and rows", tx.Events)
	}
}

// TestIncludeKeepsTransactionControl: a SAVEPOINT and the ROLLBACK TO
// SAVEPOINT that undoes the row events between them stay, whatever their
// default database, with --databases and with --tables: without the
// ROLLBACK TO, the row events it undid on the source were applied (soak
// seed 51025). Other statements of a database left out go.
func TestIncludeKeepsTransactionControl(t *testing.T) {
	b := &txn.TableMap{ID: 2, Schema: "app", Table: "b"}
	query := func(sql string) txn.Event {
		return txn.Event{Kind: txn.EventQuery, Query: &txn.Query{Schema: "other", SQL: []byte(sql)}}
	}
	for _, opts := range []Options{{Databases: []string{"app"}}, {Tables: []string{"app.b"}}} {
		tx := &txn.Txn{Kind: txn.KindRows, Events: []txn.Event{
			query("SAVEPOINT `sp1`"), {Kind: txn.EventTableMap, TableMap: b}, {Kind: txn.EventRows, Rows: &txn.Rows{Table: b}},
			query("ROLLBACK TO `sp1`"), query("RELEASE SAVEPOINT sp1"), query("INSERT INTO t VALUES (1)"),
			query("BEGIN NOT ATOMIC INSERT INTO t VALUES (2); END"),
		}}
		New(opts).Include(tx)
		var kept []string
		for _, e := range tx.Events {
			if e.Query != nil {
				kept = append(kept, string(e.Query.SQL))
			}
		}
		if got := strings.Join(kept, "; "); len(tx.Events) != 5 || got != "SAVEPOINT `sp1`; ROLLBACK TO `sp1`; RELEASE SAVEPOINT sp1" {
			t.Errorf("%+v: kept %d events, statements %q; want the row event and the three transaction controls", opts, len(tx.Events), got)
		}
	}
}

// TestIncludeStatementEnds: a statement whose row events are all left out
// loses its table maps; one begun in the piece before (a transaction read
// in pieces) that ends in this one with none of its row events kept is
// refused: the last one kept, in that piece, cannot be flagged as its end
// any more.
func TestIncludeStatementEnds(t *testing.T) {
	t1 := &txn.TableMap{ID: 1, Schema: "d", Table: "t1"}
	audit := &txn.TableMap{ID: 2, Schema: "d", Table: "audit"}
	piece := func(mid bool) *txn.Txn {
		return &txn.Txn{Kind: txn.KindRows, Part: 2, MidStatement: mid, Events: []txn.Event{
			{Kind: txn.EventTableMap, TableMap: t1}, {Kind: txn.EventTableMap, TableMap: audit},
			{Kind: txn.EventRows, Rows: &txn.Rows{Table: audit, Flags: txn.RowsFlagStmtEnd}},
		}}
	}
	f := New(Options{Tables: []string{"d.t1"}})
	tx := piece(false)
	if err := f.Include(tx); err != nil || len(tx.Events) != 0 {
		t.Fatalf("a statement with no row event kept: %v, %d events left, want its table maps gone too", err, len(tx.Events))
	}
	if err := f.Include(piece(true)); err == nil || !strings.Contains(err.Error(), "cannot be flagged as its end") {
		t.Fatalf("a statement begun in the piece before, ending with no row event kept: %v, want a refusal", err)
	}
}

// TestFoldCase: names compare exactly, or in lower case with FoldCase (a
// source whose lower_case_table_names is 1 or 2).
func TestFoldCase(t *testing.T) {
	exact := New(Options{Databases: []string{"Shop"}, Tables: nil})
	if exact.KeepsSchema("shop") || !exact.KeepsSchema("Shop") {
		t.Error("exact: Shop kept as shop, or not as Shop")
	}
	for _, o := range []Options{{Tables: []string{"Shop.Orders"}, FoldCase: true}, {Databases: []string{"SHOP"}, FoldCase: true}} {
		f := New(o)
		if !f.KeepsSchema("shop") || !f.KeepsTable("shop", "orders") || !f.KeepsTable("SHOP", "ORDERS") {
			t.Errorf("%+v: shop.orders not kept in another case", o)
		}
		if o.Tables != nil && f.KeepsTable("shop", "order_items") {
			t.Errorf("%+v: shop.order_items kept", o)
		}
	}
}
