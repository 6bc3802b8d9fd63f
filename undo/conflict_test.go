package undo

import (
	"testing"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestLaterConflict checks how a row of the range is found written again:
// by one of its keys, by a write to its table that cannot tell rows apart,
// or by a transaction that may have written anything; the first such
// transaction is named.
func TestLaterConflict(t *testing.T) {
	var rk rangeKeys
	rk.add([]partition.Key{5, 3})
	rk.add([]partition.Key{3, 9})
	rk.seal()
	if !rk.has(3) || !rk.has(9) || rk.has(4) || len(rk.keys) != 3 {
		t.Fatalf("range keys %v", rk.keys)
	}
	ref := func(seq uint64) *txn.Ref { return &txn.Ref{Seq: seq} }
	orders := &tableInfo{name: "app.orders"}
	l := &later{hits: map[partition.Key]*txn.Ref{5: ref(7), 9: ref(4)}, tables: map[string]touch{}}
	if r, _ := l.conflict(orders, []partition.Key{1, 2}); r != nil {
		t.Errorf("a row with no key written again conflicts with %v", r)
	}
	if r, why := l.conflict(orders, []partition.Key{5, 9}); r == nil || r.Seq != 4 || why != "" {
		t.Errorf("a row whose keys were written by #7 and #4: got %v %q, want #4 by its keys", r, why)
	}
	l.tables["app.orders"] = touch{ref: ref(2), why: "DDL"}
	if r, why := l.conflict(orders, []partition.Key{5}); r == nil || r.Seq != 2 || why != "DDL" {
		t.Errorf("a row of a table changed by #2: got %v %q", r, why)
	}
	if r, _ := l.conflict(&tableInfo{name: "app.other"}, nil); r != nil {
		t.Errorf("a row of another table conflicts with %v", r)
	}
	l.touchAll(&txn.Txn{Seq: 1}, "statement")
	l.touchAll(&txn.Txn{Seq: 3}, "later statement")
	if r, why := l.conflict(&tableInfo{name: "app.other"}, nil); r == nil || r.Seq != 1 || why != "statement" {
		t.Errorf("after a statement-format transaction #1: got %v %q", r, why)
	}
	if l.empty() {
		t.Error("later writes reported empty")
	}
}
