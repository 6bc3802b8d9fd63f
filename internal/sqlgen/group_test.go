package sqlgen

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// groupTables are batchTables, transactional, with u (id PRIMARY KEY, a
// nullable UNIQUE u): the tables AppendGroup may move events of are t, c,
// k and u; n (no key), s and p (foreign keys) stay where they are.
func groupTables() TableFunc {
	tables := batchTables()
	intCol := func(name string, nullable bool) schema.Column {
		return schema.Column{Name: name, DataType: "int", ColumnType: "int(11)", Nullable: nullable}
	}
	tables["d.u"] = &schema.Table{Schema: "d", Name: "u", Columns: []schema.Column{intCol("id", false), intCol("u", true)},
		Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}}, {Name: "u", Unique: true, Columns: []int{1}}}}
	k := tables["d.k"]
	k.Columns[0].CaseInsensitive = true
	for _, t := range tables {
		t.Transactional = true
		for i := range t.Columns {
			t.Columns[i].Ordinal = i
		}
	}
	return fakeTables(tables)
}

// groupMap returns the table map of a groupTables table.
func groupMap(table string) *txn.TableMap {
	if table == "u" {
		return &txn.TableMap{Schema: "d", Table: "u", ColumnTypes: []byte{typeLong, typeLong}, ColumnMeta: []uint16{0, 0}}
	}
	return batchMap(table)
}

// groupTxn makes a rows transaction of events.
func groupTxn(seq uint64, events ...txn.Event) *txn.Txn {
	t := &txn.Txn{Seq: seq, Kind: txn.KindRows}
	for _, e := range events {
		t.Events = append(t.Events, txn.Event{Kind: txn.EventTableMap, TableMap: e.Rows.Table}, e)
	}
	return t
}

// groupEvent is rowsEvent on the table maps of groupTables.
func groupEvent(table string, op txn.Op, images ...[]any) txn.Event {
	e := rowsEvent(table, op, 0, images...)
	tm := groupMap(table)
	e.Rows.Table = tm
	all := make([]bool, len(tm.ColumnTypes))
	for i := range all {
		all[i] = true
	}
	e.Rows.Columns = all
	if op == txn.OpUpdate {
		e.Rows.ColumnsAfter = all
	}
	return e
}

// TestAppendGroupBatches checks that a group of sysbench-like
// transactions (an update of one table, a delete and an insert of the
// same row of another) becomes one statement per table and kind (one per
// row for deletes), and that
// an event of a table with a foreign key stays where it is, with nothing
// moved past it.
func TestAppendGroupBatches(t *testing.T) {
	ctx := context.Background()
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: groupTables()}
	var txns []*txn.Txn
	for i := int64(1); i <= 3; i++ {
		txns = append(txns, groupTxn(uint64(i),
			groupEvent("t", txn.OpUpdate, vals(i, 0), vals(i, 1)),
			groupEvent("c", txn.OpDelete, vals(i, 1, 0)),
			groupEvent("c", txn.OpInsert, vals(i, 1, 5))))
	}
	stmts, err := g.AppendGroup(ctx, nil, txns)
	if err != nil {
		t.Fatal(err)
	}
	got := shapes(stmts)
	want := []string{
		"UPDATE `d`.`t` FORCE INDEX (PRIMARY) SET `v` = CASE `id` WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 1 END WHERE `id` IN (1, 2, 3)",
		"DELETE FROM `d`.`c` WHERE `a` = 1 AND `b` = 1",
		"DELETE FROM `d`.`c` WHERE `a` = 2 AND `b` = 1",
		"DELETE FROM `d`.`c` WHERE `a` = 3 AND `b` = 1",
		"INSERT INTO `d`.`c` (`a`, `b`, `v`) VALUES (1, 1, 5), (2, 1, 5), (3, 1, 5)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if stmts[0].Txn != txns[0] || stmts[1].Txn != txns[0] {
		t.Errorf("statements name transactions %d, %d; want the first row event's (1, 1)", stmts[0].Txn.Seq, stmts[1].Txn.Seq)
	}

	// A write to s (a foreign key) between: nothing moves past it.
	txns[1] = groupTxn(2, groupEvent("t", txn.OpUpdate, vals(2, 0), vals(2, 1)), groupEvent("s", txn.OpInsert, vals(9, 9)))
	stmts, err = g.AppendGroup(ctx, nil, txns)
	if err != nil {
		t.Fatal(err)
	}
	got = shapes(stmts)
	want = []string{
		"UPDATE `d`.`t` FORCE INDEX (PRIMARY) SET `v` = CASE `id` WHEN 1 THEN 1 WHEN 2 THEN 1 END WHERE `id` IN (1, 2)",
		"DELETE FROM `d`.`c` WHERE `a` = 1 AND `b` = 1",
		"INSERT INTO `d`.`c` (`a`, `b`, `v`) VALUES (1, 1, 5)",
		"INSERT INTO `d`.`s` (`id`, `parent`) VALUES (9, 9)",
		"UPDATE `d`.`t` SET `v` = 1 WHERE `id` = 3",
		"DELETE FROM `d`.`c` WHERE `a` = 3 AND `b` = 1",
		"INSERT INTO `d`.`c` (`a`, `b`, `v`) VALUES (3, 1, 5)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with a foreign key's write between, statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// modelRow is a row of the group model: key is its primary key as the
// server compares it, row its values.
type modelRow struct {
	key string
	row []any
}

// groupModel is what the server does with the row events of
// groupTables' tables t, u, k and n, table by table: rows by their
// primary key as the server compares it (k's case-insensitively, trailing
// spaces ignored), u's unique column checked.
type groupModel map[string]map[string][]any

// modelKey returns the primary key of row in table as the server compares
// it ("" for n, which has none: its rows are found by every column).
func modelKey(table string, row []any) string {
	switch table {
	case "k":
		return strings.TrimRight(strings.ToLower(row[0].(string)), " ")
	case "c":
		return fmt.Sprint(row[0], ",", row[1])
	case "n":
		return fmt.Sprint(row...)
	}
	return fmt.Sprint(row[0])
}

// apply applies a row event; an error is what the server would refuse.
func (m groupModel) apply(e *txn.Event) error {
	r := e.Rows
	rows := m[r.Table.Table]
	if rows == nil {
		rows = map[string][]any{}
		m[r.Table.Table] = rows
	}
	insert := func(row []any) error {
		k := modelKey(r.Table.Table, row)
		if _, dup := rows[k]; dup && r.Table.Table != "n" {
			return fmt.Errorf("duplicate key %s", k)
		}
		if r.Table.Table == "u" && row[1] != nil {
			for _, o := range rows {
				if o[1] == row[1] {
					return fmt.Errorf("duplicate u %v", row[1])
				}
			}
		}
		if r.Table.Table == "n" { // a bag: any free name
			for i := 0; ; i++ {
				if _, used := rows[fmt.Sprint(k, "#", i)]; !used {
					k = fmt.Sprint(k, "#", i)
					break
				}
			}
		}
		rows[k] = row
		return nil
	}
	remove := func(row []any) error {
		if r.Table.Table == "n" {
			for k, o := range rows {
				if fmt.Sprint(o...) == fmt.Sprint(row...) {
					delete(rows, k)
					return nil
				}
			}
			return fmt.Errorf("no row %v", row)
		}
		k := modelKey(r.Table.Table, row)
		if o, ok := rows[k]; !ok || fmt.Sprint(o...) != fmt.Sprint(row...) {
			return fmt.Errorf("no row %v", row)
		}
		delete(rows, k)
		return nil
	}
	switch r.Op {
	case txn.OpInsert:
		for _, row := range r.Rows {
			if err := insert(row); err != nil {
				return err
			}
		}
	case txn.OpDelete:
		for _, row := range r.Rows {
			if err := remove(row); err != nil {
				return err
			}
		}
	case txn.OpUpdate:
		for i := 0; i < len(r.Rows); i += 2 {
			if err := remove(r.Rows[i]); err != nil {
				return err
			}
			if err := insert(r.Rows[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// clone returns a copy of m.
func (m groupModel) clone() groupModel {
	c := groupModel{}
	for t, rows := range m {
		c[t] = maps.Clone(rows)
	}
	return c
}

// String lists m's rows, sorted.
func (m groupModel) String() string {
	var out []string
	for t, rows := range m {
		for _, row := range rows {
			out = append(out, t+" "+fmt.Sprint(row...))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// randomGroup makes a group of transactions valid from m (it applies
// them to m): writes to few rows of t, u, k and n, with rows deleted and
// inserted again, keys changed and unique values moved, so that events of
// the group share rows often.
func randomGroup(rng *rand.Rand, m groupModel) []*txn.Txn {
	pick := func(rows map[string][]any) []any {
		if len(rows) == 0 {
			return nil
		}
		n := rng.IntN(len(rows))
		for _, k := range slices.Sorted(maps.Keys(rows)) {
			if n == 0 {
				return rows[k]
			}
			n--
		}
		return nil
	}
	newRow := func(table string) []any {
		switch table {
		case "k":
			names := []string{"a", "A", "b", "B ", "c", "d"}
			return []any{names[rng.IntN(len(names))], int64(rng.IntN(5))}
		case "u":
			var u any
			if rng.IntN(3) > 0 {
				u = int64(rng.IntN(4))
			}
			return []any{int64(rng.IntN(6)), u}
		case "c":
			return []any{int64(rng.IntN(3)), int64(rng.IntN(2)), int64(rng.IntN(5))}
		}
		return []any{int64(rng.IntN(6)), int64(rng.IntN(5))}
	}
	var txns []*txn.Txn
	for seq := 1; seq <= 2+rng.IntN(30); seq++ {
		var events []txn.Event
		for range 1 + rng.IntN(4) {
			table := []string{"t", "u", "k", "n", "c"}[rng.IntN(5)]
			if m[table] == nil {
				m[table] = map[string][]any{}
			}
			var e txn.Event
			switch op := rng.IntN(3); {
			case op == 0 || len(m[table]) == 0:
				e = groupEvent(table, txn.OpInsert, newRow(table))
			case op == 1:
				e = groupEvent(table, txn.OpDelete, pick(m[table]))
			default:
				before := pick(m[table])
				after := append([]any(nil), before...)
				switch rng.IntN(3) {
				case 0: // another row's values: a new key, or u moved
					after = newRow(table)
				default:
					after[len(after)-1] = newRow(table)[len(after)-1]
				}
				e = groupEvent(table, txn.OpUpdate, before, after)
			}
			trial := m.clone()
			if trial.apply(&e) != nil {
				continue // the server would refuse it: not a source's history
			}
			m.apply(&e)
			events = append(events, e)
		}
		if len(events) > 0 {
			txns = append(txns, groupTxn(uint64(seq), events...))
		}
	}
	return txns
}

// TestGroupOrderCommutes checks, on random groups over few rows, that the
// order AppendGroup applies row events in leaves the model as the source
// order does, with no event refused: an event is moved only past events
// it commutes with. It counts the groups where events moved, so that the
// test cannot pass by moving nothing.
func TestGroupOrderCommutes(t *testing.T) {
	ctx := context.Background()
	g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: groupTables()}
	moved := 0
	for seed := range uint64(2000) {
		rng := rand.New(rand.NewPCG(seed, 7))
		start := groupModel{}
		randomGroup(rng, start) // a random starting state
		source := start.clone()
		txns := randomGroup(rng, source)
		if len(txns) < 2 {
			continue
		}
		events, err := g.groupOrder(ctx, txns)
		if err != nil {
			t.Fatal(err)
		}
		var inSource []*txn.Event
		for _, tx := range txns {
			for i := range tx.Events {
				if tx.Events[i].Kind == txn.EventRows {
					inSource = append(inSource, &tx.Events[i])
				}
			}
		}
		if len(events) != len(inSource) {
			t.Fatalf("seed %d: %d events ordered, the group has %d", seed, len(events), len(inSource))
		}
		for i := range events {
			if events[i] != inSource[i] {
				moved++
				break
			}
		}
		got := start.clone()
		for i, e := range events {
			if err := got.apply(e); err != nil {
				t.Fatalf("seed %d: event %d (%s on %s) refused in the group's order: %v", seed, i, e.Rows.Op, e.Rows.Table.Table, err)
			}
		}
		if got.String() != source.String() {
			t.Fatalf("seed %d: the group's order leaves\n%s\nthe source's\n%s", seed, got, source)
		}
	}
	if moved < 1000 {
		t.Errorf("events moved in %d groups of 2000: the test does not exercise the order", moved)
	}
	t.Logf("events moved in %d groups of 2000", moved)
}
