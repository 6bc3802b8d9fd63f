package undo

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
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

// TestLaterStatements checks what later statements count as writing: the
// tables a DDL names, the range's tables in a database dropped, nothing
// for grants, account statements and CREATE or ALTER DATABASE (an undo
// creates its own database), every row for statement-format DML and for
// DDL whose tables cannot be told.
func TestLaterStatements(t *testing.T) {
	s := &scanner{tables: &tables{byKey: map[string]*tableInfo{"app.t": {name: "app.t", def: &schema.Table{Schema: "app", Name: "t"}}}}}
	for _, tc := range []struct {
		sql        string
		table, all bool
	}{
		{"GRANT ALL ON app.* TO 'u'@'h'", false, false},
		{"CREATE USER 'u'@'h' IDENTIFIED BY 'p'", false, false},
		{"ALTER TABLE app.other ADD COLUMN c INT", false, false},
		{"ALTER TABLE t ADD COLUMN c INT", true, false},
		{"TRUNCATE TABLE app.t", true, false},
		{"UPDATE app.t SET v = 1", false, true},
		{"DROP DATABASE app", true, false},
		{"DROP SCHEMA IF EXISTS `app`", true, false},
		{"DROP DATABASE other", false, false},
		{"CREATE OR REPLACE DATABASE app", false, true}, // drops it first
		{"CREATE DATABASE IF NOT EXISTS `binlog_replay`", false, false},
		{"ALTER DATABASE app CHARACTER SET utf8mb4", false, false},
		{"DROP TRIGGER app.tr", false, true},
	} {
		l := &later{hits: map[partition.Key]*txn.Ref{}, tables: map[string]touch{}}
		e := &txn.Event{Kind: txn.EventQuery, TypeName: "QUERY_EVENT", Query: &txn.Query{SQL: []byte(tc.sql), Schema: "app"}}
		s.query(&txn.Txn{Seq: 1}, e, l)
		if _, table := l.tables["app.t"]; table != tc.table || (l.all != nil) != tc.all {
			t.Errorf("%s: touches app.t %v, everything %v; want %v, %v", tc.sql, table, l.all != nil, tc.table, tc.all)
		}
	}
}

// TestLaterDDLNamesOthers: later DDL that names a table of the range and
// others (EXCHANGE PARTITION, RENAME) says where the range's rows may be
// now, whichever DDL came first.
func TestLaterDDLNamesOthers(t *testing.T) {
	s := &scanner{tables: &tables{byKey: map[string]*tableInfo{"app.t": {name: "app.t", def: &schema.Table{Schema: "app", Name: "t"}}}}}
	l := &later{hits: map[partition.Key]*txn.Ref{}, tables: map[string]touch{}, moved: map[string][]string{}}
	for i, sql := range []string{"ALTER TABLE t TRUNCATE PARTITION p3", "ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE tx",
		"RENAME TABLE app.t TO app.t_old, app.t_new TO app.t", "ALTER TABLE t EXCHANGE PARTITION p1 WITH TABLE tx"} {
		e := &txn.Event{Kind: txn.EventQuery, TypeName: "QUERY_EVENT", Query: &txn.Query{SQL: []byte(sql), Schema: "app"}}
		s.query(&txn.Txn{Seq: uint64(i + 1)}, e, l)
	}
	if got, want := l.movedTo("app.t"), "a later DDL also names app.tx, app.t_old, app.t_new: the range's rows may be there now"; got != want {
		t.Errorf("moved: %q, want %q", got, want)
	}
	if r, why := l.conflict(&tableInfo{name: "app.t"}, nil); r == nil || r.Seq != 1 || !strings.Contains(why, "TRUNCATE") && !strings.Contains(why, "definition") {
		t.Errorf("the first later DDL: %v %q", r, why)
	}
}

// TestRowCounts checks that the rows of the transactions sent are counted
// once committed, pieces with their transaction, the others kept apart.
func TestRowCounts(t *testing.T) {
	var c rowCounts
	rows := func(n int64) map[string]*TableRows { return map[string]*TableRows{"a.t": {Table: "a.t", Inserted: n}} }
	c.sent(true, rows(1))
	c.sent(true, rows(10))
	c.sent(false, rows(100)) // a piece of the second
	c.sent(true, rows(1000))
	c.committed(2)
	if got := c.total["a.t"].Inserted; got != 111 || len(c.inFlight) != 1 {
		t.Errorf("after two commits: %d rows counted, %d transactions in flight; want 111 and 1", got, len(c.inFlight))
	}
	c.committed(2)
	c.committed(3)
	if got := c.total["a.t"].Inserted; got != 1111 || len(c.inFlight) != 0 {
		t.Errorf("after three commits: %d rows counted, %d in flight", got, len(c.inFlight))
	}
}
