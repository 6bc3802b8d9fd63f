package plan

import (
	"fmt"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

// chain builds: a DDL, then n inserts of distinct rows, then n updates of
// the same rows in the same order, into one table.
func chain(n int, pk bool) *synth {
	s := newSynth("bin.000001")
	tm := s.table("app", "t", pk)
	s.add(txn.KindDDL, mgtid(1), 100, ddl("app", "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"))
	for i := 1; i <= n; i++ {
		s.rowsTxn(mgtid(uint64(1+i)), txn.OpInsert, tm, int64(i))
	}
	for i := 1; i <= n; i++ {
		s.rowsTxn(mgtid(uint64(1+n+i)), txn.OpUpdate, tm, int64(i), int64(i))
	}
	return s
}

func pathOf(p Parallelism, cost string) float64 {
	for _, c := range p.CriticalPath {
		if c.Cost == cost {
			return c.Path
		}
	}
	return -1
}

func TestCriticalPath(t *testing.T) {
	const n = 20
	// With the primary key logged: the inserts only wait for the DDL
	// (each commits at time 2, in order); each update waits for its own
	// insert (time 3). Path: DDL, insert, update = 3 transactions.
	pk := analyse(Options{Files: []string{"bin.000001"}}, chain(n, true).txns).Parallelism
	if got := pathOf(pk, "txn"); got != 3 {
		t.Errorf("with primary keys: critical path %v, want 3", got)
	}
	if pk.Barriers != 1 || pk.BarrierReasons["ddl"] != 1 || pk.RowTables != 1 || len(pk.WholeTables) != 0 {
		t.Errorf("with primary keys: %+v", pk)
	}
	// Without it the table is one key: every transaction waits for the one
	// before, 1 + 2n in a row.
	whole := analyse(Options{Files: []string{"bin.000001"}}, chain(n, false).txns).Parallelism
	if got := pathOf(whole, "txn"); got != 1+2*n {
		t.Errorf("without primary keys: critical path %v, want %d", got, 1+2*n)
	}
	if len(whole.WholeTables) != 1 || whole.WholeTables[0].Reason != wholeNoPK {
		t.Errorf("whole tables %+v", whole.WholeTables)
	}
	for _, su := range whole.SpeedUp {
		if su.ByTxn != 1 {
			t.Errorf("without primary keys, %d workers: speed-up %v, want 1", su.Workers, su.ByTxn)
		}
	}
	// --table-keys forces the same.
	forced := analyse(Options{Files: []string{"bin.000001"}, Analysis: Analysis{TableKeys: true}}, chain(n, true).txns).Parallelism
	if got := pathOf(forced, "txn"); got != 1+2*n {
		t.Errorf("--table-keys: critical path %v, want %d", got, 1+2*n)
	}
	// Speed-up with primary keys and 2 workers: the n inserts and n updates
	// run two at a time: 1 + n/2 + n/2 time units for 1 + 2n of work.
	for _, su := range pk.SpeedUp {
		if su.Workers == 2 {
			if want := float64(1+2*n) / float64(1+n); su.ByTxn != want {
				t.Errorf("2 workers: speed-up %v, want %v", su.ByTxn, want)
			}
		}
	}
	// Hot keys: each row touched by its insert and its update.
	if len(pk.HotKeys) != 10 || pk.HotKeys[0].Txns != 2 || pk.HotKeys[9].Txns != 2 ||
		pk.HotKeys[0].Key != "app.t [id=1]" || pk.HotKeys[9].Key != "app.t [id=10]" {
		t.Errorf("hot keys %+v", pk.HotKeys) // ties: first seen first
	}
	if len(whole.HotKeys) != 1 || whole.HotKeys[0].Txns != 2*n || whole.HotKeys[0].Key != "app.t (whole table)" {
		t.Errorf("hot keys %+v", whole.HotKeys)
	}
}

// TestMixedKeying: one table written once through a table map with the
// primary key and once without must still conflict both ways.
func TestMixedKeying(t *testing.T) {
	s := newSynth("bin.000001")
	withPK := &txn.TableMap{ID: 1, Schema: "app", Table: "t", PrimaryKey: []int{0}}
	noPK := &txn.TableMap{ID: 2, Schema: "app", Table: "t"}
	other := &txn.TableMap{ID: 3, Schema: "app", Table: "u", PrimaryKey: []int{0}}
	s.rowsTxn(mgtid(1), txn.OpInsert, withPK, 1) // 1
	s.rowsTxn(mgtid(2), txn.OpInsert, other, 1)  // 2: independent
	s.rowsTxn(mgtid(3), txn.OpInsert, noPK, 9)   // 3: waits for 1 (same table)
	s.rowsTxn(mgtid(4), txn.OpInsert, withPK, 5) // 4: waits for 3 (table written whole)
	s.rowsTxn(mgtid(5), txn.OpInsert, other, 2)  // 5: independent
	p := newParallel(&Options{Analysis: Analysis{HotKeys: 10}})
	for _, tx := range s.txns {
		p.add(tx)
	}
	want := []uint64{0, 0, 1, 3, 0}
	for i, st := range p.steps {
		if st.dependsOn != want[i] {
			t.Errorf("#%d depends on %d, want %d", st.seq, st.dependsOn, want[i])
		}
	}
}

func TestWriteSetImages(t *testing.T) {
	tm := &txn.TableMap{ID: 1, Schema: "s", Table: "t", PrimaryKey: []int{0}, ColumnTypes: []byte{3, 15, 15}}
	k := &keyer{names: tableNames{}}
	keysOf := func(r *txn.Rows) ([]string, []string) {
		ws := k.writeSetOf(&txn.Txn{Kind: txn.KindRows, Events: []txn.Event{{Kind: txn.EventRows, Rows: r}}})
		var labels []string
		for i := range ws.rows {
			labels = append(labels, ws.rows[i].label(false))
		}
		return labels, append([]string(nil), ws.whole...)
	}
	// MINIMAL update: the before image holds the key, the after image only
	// the changed column: one row.
	rows, whole := keysOf(&txn.Rows{Op: txn.OpUpdate, Table: tm, Decoded: true,
		Columns: []bool{true, false, false}, ColumnsAfter: []bool{false, true, false},
		Rows: [][]any{{int64(7), nil, nil}, {nil, []byte("new"), nil}}})
	if len(rows) != 1 || rows[0] != "s.t [@1=7]" || len(whole) != 0 {
		t.Errorf("minimal update: rows %v whole %v", rows, whole)
	}
	// An update of the key itself: two rows.
	rows, _ = keysOf(&txn.Rows{Op: txn.OpUpdate, Table: tm, Decoded: true,
		Columns: []bool{true, true, true}, ColumnsAfter: []bool{true, true, true},
		Rows: [][]any{{int64(7), nil, nil}, {int64(8), nil, nil}}})
	if len(rows) != 2 {
		t.Errorf("key update: rows %v", rows)
	}
	// A delete image without the key column: the whole table.
	rows, whole = keysOf(&txn.Rows{Op: txn.OpDelete, Table: tm, Decoded: true,
		Columns: []bool{false, true, true}, Rows: [][]any{{nil, []byte("a"), nil}}})
	if len(rows) != 0 || len(whole) != 1 || k.ws.why["s.t"] != wholeMissing {
		t.Errorf("keyless image: rows %v whole %v why %v", rows, whole, k.ws.why)
	}
	// Not decoded: the whole table.
	_, whole = keysOf(&txn.Rows{Op: txn.OpUpdate, Table: tm})
	if len(whole) != 1 || k.ws.why["s.t"] != wholeUndecoded {
		t.Errorf("undecoded: whole %v why %v", whole, k.ws.why)
	}
	// String keys equal under a case-insensitive PAD SPACE collation are
	// one row; different ones are two.
	str := &txn.TableMap{ID: 2, Schema: "s", Table: "u", PrimaryKey: []int{0}}
	rows, _ = keysOf(&txn.Rows{Op: txn.OpInsert, Table: str, Decoded: true, Columns: []bool{true},
		Rows: [][]any{{[]byte("Abc")}, {[]byte("aBC  ")}, {[]byte("abd")}}})
	if len(rows) != 2 {
		t.Errorf("string keys: rows %v, want 2", rows)
	}
}

func TestHotKeys(t *testing.T) {
	// Keys touched once are named only when among the first n: the top
	// still has n names, in order of first appearance.
	h := newHotKeys(3, 100, false)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		h.touchTable(name)
	}
	if got := fmt.Sprint(h.top()); got != "[{a (whole table) 1} {b (whole table) 1} {c (whole table) 1}]" || len(h.names) != 3 {
		t.Errorf("top %s, %d names", got, len(h.names))
	}
	h.touchTable("e")
	h.touchTable("d")
	h.touchTable("e")
	if got := fmt.Sprint(h.top()); got != "[{e (whole table) 3} {d (whole table) 2} {a (whole table) 1}]" {
		t.Errorf("top %s", got)
	}
}

func TestHotKeysPrune(t *testing.T) {
	h := newHotKeys(1, 8, false)
	for i := 0; i < 5; i++ {
		h.touchTable("hot")
	}
	for i := 0; i < 20; i++ {
		h.touchTable(string(rune('a' + i)))
	}
	top := h.top()
	if !h.pruned || len(h.counts) > 8 || len(top) != 1 || top[0].Key != "hot (whole table)" || top[0].Txns != 5 {
		t.Errorf("pruned %v size %d top %+v", h.pruned, len(h.counts), top)
	}
}
