package sqlgen

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// batchTables are the tables of the batching tests: t (id PRIMARY KEY, v),
// c (a, b composite PRIMARY KEY, v), n (no key: a, v), s (id PRIMARY KEY,
// parent referencing s), p (id PRIMARY KEY, referenced by a cascading
// foreign key), e (id PRIMARY KEY, an ENUM), k (text PRIMARY KEY k, v).
func batchTables() map[string]*schema.Table {
	intCol := func(name string) schema.Column {
		return schema.Column{Name: name, DataType: "int", ColumnType: "int(11)"}
	}
	textCol := func(name string) schema.Column {
		return schema.Column{Name: name, DataType: "varchar", ColumnType: "varchar(10)", Charset: "utf8mb4", Collation: "utf8mb4_general_ci"}
	}
	pk := func(cols ...int) []schema.Index {
		return []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: cols}}
	}
	return map[string]*schema.Table{
		"d.t": {Schema: "d", Name: "t", Columns: []schema.Column{intCol("id"), intCol("v")}, Indexes: pk(0)},
		"d.c": {Schema: "d", Name: "c", Columns: []schema.Column{intCol("a"), intCol("b"), intCol("v")}, Indexes: pk(0, 1)},
		"d.n": {Schema: "d", Name: "n", Columns: []schema.Column{intCol("a"), intCol("v")}},
		"d.s": {Schema: "d", Name: "s", Columns: []schema.Column{intCol("id"), intCol("parent")}, Indexes: pk(0),
			ForeignKeys: []schema.ForeignKey{{Schema: "d", Table: "s", Columns: []int{1}, RefSchema: "d", RefTable: "s", OnDelete: "RESTRICT"}}},
		"d.p": {Schema: "d", Name: "p", Columns: []schema.Column{intCol("id"), intCol("v")}, Indexes: pk(0),
			ReferencedBy: []schema.ForeignKey{{Schema: "d", Table: "t", RefSchema: "d", RefTable: "p", OnDelete: "CASCADE"}}},
		"d.e": {Schema: "d", Name: "e", Columns: []schema.Column{intCol("id"),
			{Name: "e", DataType: "enum", ColumnType: "enum('a','b')", Charset: "utf8mb4", Collation: "utf8mb4_general_ci"}}, Indexes: pk(0)},
		"d.k": {Schema: "d", Name: "k", Columns: []schema.Column{textCol("k"), intCol("v")}, Indexes: pk(0)},
	}
}

// batchMaps are the table maps of batchTables.
func batchMap(table string) *txn.TableMap {
	types := map[string][]byte{"t": {typeLong, typeLong}, "c": {typeLong, typeLong, typeLong}, "n": {typeLong, typeLong},
		"s": {typeLong, typeLong}, "p": {typeLong, typeLong}, "e": {typeLong, typeString}, "k": {typeVarchar, typeLong}}[table]
	meta := make([]uint16, len(types))
	if table == "e" {
		meta[1] = typeEnum<<8 | 1
	}
	if table == "k" {
		meta[0] = 40
	}
	return &txn.TableMap{Schema: "d", Table: table, ColumnTypes: types, ColumnMeta: meta}
}

// rowsEvent is a row event of op on table with images; every column present.
func rowsEvent(table string, op txn.Op, offset uint64, images ...[]any) txn.Event {
	tm := batchMap(table)
	all := make([]bool, len(tm.ColumnTypes))
	for i := range all {
		all[i] = true
	}
	r := &txn.Rows{Op: op, Table: tm, Flags: txn.RowsFlagStmtEnd, Columns: all, Rows: images, Decoded: true}
	if op == txn.OpUpdate {
		r.ColumnsAfter = all
	}
	return txn.Event{Kind: txn.EventRows, Type: 30, TypeName: op.String(), Pos: txn.Position{File: "f", Offset: offset}, Timestamp: 1700000000, Rows: r}
}

func vals(v ...int64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// applyGen is a Generator in ApplySQL mode on batchTables.
func applyGen() *Generator {
	return &Generator{TargetMariaDB: true, ApplySQL: true, Tables: fakeTables(batchTables())}
}

// shape describes a statement for comparison: its SQL after the SET
// STATEMENT prefix, and "|new packet" when Alone.
func shape(s Stmt) string {
	_, sql, _ := strings.Cut(s.SQL, " FOR ")
	if s.Alone {
		sql += " |new packet"
	}
	return sql
}

// shapes returns the shape of each statement.
func shapes(stmts []Stmt) []string {
	var out []string
	for _, s := range stmts {
		out = append(out, shape(s))
	}
	return out
}

// TestApplySQLBatches checks how consecutive row events become
// statements and packets.
func TestApplySQLBatches(t *testing.T) {
	ins := func(table string, off uint64, rows ...[]any) txn.Event {
		return rowsEvent(table, txn.OpInsert, off, rows...)
	}
	upd := func(table string, off uint64, rows ...[]any) txn.Event {
		return rowsEvent(table, txn.OpUpdate, off, rows...)
	}
	del := func(table string, off uint64, rows ...[]any) txn.Event {
		return rowsEvent(table, txn.OpDelete, off, rows...)
	}
	for _, tc := range []struct {
		name   string
		events []txn.Event
		want   []string
	}{
		{"inserts of several events share a statement", []txn.Event{ins("t", 1, vals(1, 1)), ins("t", 2, vals(2, 2), vals(3, 3)), ins("t", 3, vals(4, 4))},
			[]string{"INSERT INTO `d`.`t` (`id`, `v`) VALUES (1, 1), (2, 2), (3, 3), (4, 4)"}},
		{"another table ends the statement", []txn.Event{ins("t", 1, vals(1, 1)), ins("n", 2, vals(1, 1)), ins("t", 3, vals(2, 2))},
			[]string{"INSERT INTO `d`.`t` (`id`, `v`) VALUES (1, 1)", "INSERT INTO `d`.`n` (`a`, `v`) VALUES (1, 1)",
				"INSERT INTO `d`.`t` (`id`, `v`) VALUES (2, 2)"}},
		{"keyed deletes, one row each", []txn.Event{del("t", 1, vals(1, 1)), del("t", 2, vals(2, 2), vals(3, 3))},
			[]string{"DELETE FROM `d`.`t` WHERE `id` = 1", "DELETE FROM `d`.`t` WHERE `id` = 2", "DELETE FROM `d`.`t` WHERE `id` = 3"}},
		{"composite key deletes", []txn.Event{del("c", 1, vals(1, 2, 0), vals(3, 4, 0))},
			[]string{"DELETE FROM `d`.`c` WHERE `a` = 1 AND `b` = 2", "DELETE FROM `d`.`c` WHERE `a` = 3 AND `b` = 4"}},
		{"deletes without a key, one row each", []txn.Event{del("n", 1, vals(1, 1), vals(1, 1))},
			[]string{"DELETE FROM `d`.`n` WHERE `a` <=> 1 AND `v` <=> 1 LIMIT 1", "DELETE FROM `d`.`n` WHERE `a` <=> 1 AND `v` <=> 1 LIMIT 1"}},
		{"deletes from a table referencing itself keep their order", []txn.Event{del("s", 1, vals(2, 1), vals(1, 0))},
			[]string{"DELETE FROM `d`.`s` WHERE `id` = 2", "DELETE FROM `d`.`s` WHERE `id` = 1"}},
		{"updates of other rows share a packet", []txn.Event{upd("t", 1, vals(1, 1), vals(1, 2)), upd("t", 2, vals(2, 1), vals(2, 2)),
			del("t", 3, vals(3, 3)), ins("t", 4, vals(4, 4))},
			[]string{"UPDATE `d`.`t` FORCE INDEX (PRIMARY) SET `v` = CASE `id` WHEN 1 THEN 2 WHEN 2 THEN 2 END WHERE `id` IN (1, 2)",
				"DELETE FROM `d`.`t` WHERE `id` = 3", "INSERT INTO `d`.`t` (`id`, `v`) VALUES (4, 4)"}},
		{"composite key updates", []txn.Event{upd("c", 1, vals(1, 2, 0), vals(1, 2, 5), vals(3, 4, 0), vals(3, 4, 6))},
			[]string{"UPDATE `d`.`c` FORCE INDEX (PRIMARY) SET `v` = CASE WHEN `a` = 1 AND `b` = 2 THEN 5 WHEN `a` = 3 AND `b` = 4 THEN 6 END " +
				"WHERE (`a` = 1 AND `b` = 2) OR (`a` = 3 AND `b` = 4)"}},
		{"key changes and parents updated one row each", []txn.Event{upd("t", 1, vals(1, 1), vals(9, 1), vals(2, 1), vals(10, 1)),
			upd("p", 2, vals(1, 1), vals(1, 2), vals(2, 1), vals(2, 2))},
			[]string{"UPDATE `d`.`t` SET `id` = 9, `v` = 1 WHERE `id` = 1", "UPDATE `d`.`t` SET `id` = 10, `v` = 1 WHERE `id` = 2",
				"UPDATE `d`.`p` SET `id` = 1, `v` = 2 WHERE `id` = 1 |new packet", "UPDATE `d`.`p` SET `id` = 2, `v` = 2 WHERE `id` = 2 |new packet"}},
		{"a row updated again starts a packet", []txn.Event{upd("t", 1, vals(1, 1), vals(1, 2)), upd("t", 2, vals(1, 2), vals(1, 3))},
			[]string{"UPDATE `d`.`t` SET `v` = 2 WHERE `id` = 1", "UPDATE `d`.`t` SET `v` = 3 WHERE `id` = 1 |new packet"}},
		{"a row updated then deleted", []txn.Event{upd("t", 1, vals(1, 1), vals(1, 2)), del("t", 2, vals(2, 0), vals(1, 2))},
			[]string{"UPDATE `d`.`t` SET `v` = 2 WHERE `id` = 1", "DELETE FROM `d`.`t` WHERE `id` = 2",
				"DELETE FROM `d`.`t` WHERE `id` = 1 |new packet"}},
		{"a key moved onto an updated row", []txn.Event{upd("t", 1, vals(1, 1), vals(1, 2)), upd("t", 2, vals(5, 1), vals(1, 1))},
			[]string{"UPDATE `d`.`t` SET `v` = 2 WHERE `id` = 1", "UPDATE `d`.`t` SET `id` = 1, `v` = 1 WHERE `id` = 5 |new packet"}},
		{"text keys compared loosely", []txn.Event{upd("k", 1, []any{[]byte("a"), int64(1)}, []any{[]byte("a"), int64(2)}),
			upd("k", 2, []any{[]byte("B"), int64(1)}, []any{[]byte("B"), int64(2)})},
			[]string{"UPDATE `d`.`k` SET `k` = _utf8mb4 X'61', `v` = 2 WHERE `k` = _utf8mb4 X'61'",
				"UPDATE `d`.`k` SET `k` = _utf8mb4 X'42', `v` = 2 WHERE `k` = _utf8mb4 X'42' |new packet"}},
		{"a table without a key updated", []txn.Event{upd("n", 1, vals(1, 1), vals(1, 2)), ins("n", 2, vals(9, 9)), ins("t", 3, vals(9, 9))},
			[]string{"UPDATE `d`.`n` SET `a` = 1, `v` = 2 WHERE `a` <=> 1 AND `v` <=> 1 LIMIT 1",
				"INSERT INTO `d`.`n` (`a`, `v`) VALUES (9, 9) |new packet", "INSERT INTO `d`.`t` (`id`, `v`) VALUES (9, 9)"}},
		{"a cascading parent after an update", []txn.Event{upd("t", 1, vals(1, 1), vals(1, 2)), del("p", 2, vals(7, 7))},
			[]string{"UPDATE `d`.`t` SET `v` = 2 WHERE `id` = 1", "DELETE FROM `d`.`p` WHERE `id` = 7 |new packet"}},
	} {
		tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: tc.events}
		stmts, err := applyGen().Body(context.Background(), tx)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := shapes(stmts)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestApplySQLStatementChecks checks what the statements carry: the
// events of their rows and their row counts; Event the packet's first
// event; SQLRowEvents counting every row event once.
func TestApplySQLStatementChecks(t *testing.T) {
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{
		rowsEvent("t", txn.OpInsert, 1, vals(1, 1)), rowsEvent("t", txn.OpInsert, 2, vals(2, 2), vals(3, 3)),
		rowsEvent("t", txn.OpUpdate, 3, vals(1, 1), vals(1, 5)),
		rowsEvent("t", txn.OpDelete, 4, vals(2, 2), vals(3, 3)),
	}}
	stmts, err := applyGen().Body(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 4 {
		t.Fatalf("%d statements, want 4", len(stmts))
	}
	ev := func(i int) *txn.Event { return &tx.Events[i] }
	for i, want := range []struct {
		rows   int64
		events []*txn.Event
		found  bool
	}{{3, []*txn.Event{ev(0), ev(1)}, false}, {1, []*txn.Event{ev(2)}, true}, {1, []*txn.Event{ev(3)}, false}, {1, []*txn.Event{ev(3)}, false}} {
		c := stmts[i].Check
		if c == nil || c.Rows != want.rows || len(c.Events) != len(want.events) || (c.Found != "") != want.found {
			t.Errorf("statement %d: check %+v, want rows %d of %d events, found query %v", i, c, want.rows, len(want.events), want.found)
			continue
		}
		for j := range c.Events {
			if c.Events[j] != want.events[j] {
				t.Errorf("statement %d: event %d is not the row event", i, j)
			}
		}
		if stmts[i].Event != ev(0) {
			t.Errorf("statement %d: Event is not the packet's first row event", i)
		}
	}
	if want := "SET STATEMENT time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', " +
		"foreign_key_checks=1, unique_checks=1, check_constraint_checks=0 FOR SELECT COUNT(*) FROM `d`.`t` WHERE `id` = 1"; stmts[1].Check.Found != want {
		t.Errorf("found query %q, want %q", stmts[1].Check.Found, want)
	}
	if n := SQLRowEvents(stmts); n != 4 {
		t.Errorf("SQLRowEvents = %d, want 4", n)
	}
}

// TestApplySQLSessionSettings checks the SET STATEMENT of a statement: the
// event's checks, a non-strict sql_mode only for a row holding an ENUM
// error value, the event's time only where the image lacks columns.
func TestApplySQLSessionSettings(t *testing.T) {
	strict := "SET STATEMENT time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', foreign_key_checks=1, unique_checks=1, check_constraint_checks=0 FOR "
	lax := "SET STATEMENT time_zone='+00:00', sql_mode='NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', foreign_key_checks=1, unique_checks=1, check_constraint_checks=0 FOR "
	noChecks := "SET STATEMENT time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', foreign_key_checks=0, unique_checks=0, check_constraint_checks=0 FOR "
	partial := "SET STATEMENT time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', foreign_key_checks=1, unique_checks=1, check_constraint_checks=0, timestamp=1700000000 FOR "
	enumRows := rowsEvent("e", txn.OpInsert, 1, vals(1, 1), vals(2, 0), vals(3, 2))
	relaxed := rowsEvent("t", txn.OpInsert, 2, vals(1, 1))
	relaxed.Rows.Flags |= txn.RowsFlagNoForeignKeyChecks | txn.RowsFlagRelaxedUniqueChecks
	minimal := rowsEvent("t", txn.OpInsert, 3, []any{int64(5), nil})
	minimal.Rows.Columns = []bool{true, false}
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{enumRows, relaxed, minimal}}
	stmts, err := applyGen().Body(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		strict + "INSERT INTO `d`.`e` (`id`, `e`) VALUES (1, 1)",
		lax + "INSERT INTO `d`.`e` (`id`, `e`) VALUES (2, 0)",
		strict + "INSERT INTO `d`.`e` (`id`, `e`) VALUES (3, 2)",
		noChecks + "INSERT INTO `d`.`t` (`id`, `v`) VALUES (1, 1)",
		partial + "INSERT INTO `d`.`t` (`id`) VALUES (5)",
	}
	var got []string
	for _, s := range stmts {
		got = append(got, s.SQL)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestApplySQLStatementSize checks that multi-row statements stay within
// MaxStatementBytes, and that a row larger than that goes alone.
func TestApplySQLStatementSize(t *testing.T) {
	var rows [][]any
	for i := range 1000 {
		rows = append(rows, vals(int64(i), int64(i)))
	}
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{rowsEvent("t", txn.OpInsert, 1, rows...), rowsEvent("t", txn.OpDelete, 2, rows...)}}
	g := applyGen()
	g.MaxStatementBytes = 1000
	stmts, err := g.Body(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	var inserted, deleted int64
	for _, s := range stmts {
		if len(s.SQL) > g.MaxStatementBytes {
			t.Errorf("statement of %d bytes, limit %d", len(s.SQL), g.MaxStatementBytes)
		}
		if strings.Contains(s.SQL, "INSERT") {
			inserted += s.Check.Rows
		} else {
			deleted += s.Check.Rows
		}
	}
	if inserted != 1000 || deleted != 1000 || len(stmts) < 20 {
		t.Errorf("%d statements inserting %d and deleting %d rows", len(stmts), inserted, deleted)
	}
	g.MaxStatementBytes = 10
	if stmts, err = g.Body(context.Background(), tx); err != nil || len(stmts) != 2000 {
		t.Errorf("with a 10-byte limit: %d statements, %v; want one per row", len(stmts), err)
	}
}

// TestApplySQLUpdateRows checks that a multi-row UPDATE carries at most
// maxUpdateRows rows whatever the size limit (its CASE costs the server
// rows*rows comparisons), and that every row is still updated once.
func TestApplySQLUpdateRows(t *testing.T) {
	var pairs [][]any
	for i := range 1000 {
		pairs = append(pairs, vals(int64(i), 0), vals(int64(i), int64(i)))
	}
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{rowsEvent("t", txn.OpUpdate, 1, pairs...)}}
	g := applyGen()
	g.MaxStatementBytes = 64 << 20
	stmts, err := g.Body(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	var updated int64
	for _, s := range stmts {
		if !strings.Contains(s.SQL, "UPDATE") || s.Check == nil {
			t.Fatalf("unexpected statement %q", s.SQL)
		}
		if s.Check.Rows > maxUpdateRows || strings.Count(s.SQL, " WHEN ") > maxUpdateRows {
			t.Errorf("an UPDATE of %d rows (%d WHENs), at most %d wanted", s.Check.Rows, strings.Count(s.SQL, " WHEN "), maxUpdateRows)
		}
		updated += s.Check.Rows
	}
	if updated != 1000 || len(stmts) != 1000/maxUpdateRows {
		t.Errorf("%d statements updating %d rows, want %d updating 1000", len(stmts), updated, 1000/maxUpdateRows)
	}
}

// TestApplySQLAroundOtherEvents checks that a statement event between row
// events ends the statement and the packet, and that without ApplySQL
// only MySQL JSON row events are applied as SQL, each row event in
// statements of its own.
func TestApplySQLAroundOtherEvents(t *testing.T) {
	q := txn.Event{Kind: txn.EventQuery, TypeName: "QUERY", Query: &txn.Query{SQL: []byte("DO 1")}}
	tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{rowsEvent("t", txn.OpInsert, 1, vals(1, 1)), q, rowsEvent("t", txn.OpInsert, 3, vals(2, 2))}}
	stmts, err := applyGen().Body(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	var checked []*Stmt
	for i := range stmts {
		if stmts[i].Check != nil {
			checked = append(checked, &stmts[i])
		}
	}
	if len(checked) != 2 || checked[0].Event != &tx.Events[0] || checked[1].Event != &tx.Events[2] {
		t.Errorf("statements %+v: want one INSERT on each side of the query, each naming its event", stmts)
	}
	// Passthrough mode: row events need their raw bytes, and are not SQL.
	g := applyGen()
	g.ApplySQL = false
	if _, err := g.Body(context.Background(), tx); err == nil || !strings.Contains(err.Error(), "no raw bytes") {
		t.Errorf("passthrough without raw bytes: %v", err)
	}
	// The MySQL JSON path: one row event, one packet group.
	tm := &txn.TableMap{Schema: "d", Table: "j", ColumnTypes: []byte{typeLong, txn.TypeJSON}, ColumnMeta: []uint16{0, 4}}
	tables := batchTables()
	tables["d.j"] = &schema.Table{Schema: "d", Name: "j", Columns: []schema.Column{{Name: "id", DataType: "int"},
		{Name: "j", DataType: "longtext", Charset: "utf8mb4"}}, Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}}}}
	g = &Generator{TargetMariaDB: true, Tables: fakeTables(tables)}
	mk := func(off uint64, id int64) txn.Event {
		return txn.Event{Kind: txn.EventRows, Type: 30, TypeName: "WRITE", Pos: txn.Position{File: "f", Offset: off}, Raw: []byte{1},
			Rows: &txn.Rows{Op: txn.OpInsert, Table: tm, Columns: []bool{true, true}, Rows: [][]any{{id, "1"}}, Decoded: true}}
	}
	jtx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Format: &txn.Format{Flavor: txn.FlavorMySQL}, Events: []txn.Event{
		{Kind: txn.EventTableMap, TableMap: tm, Raw: []byte{1}}, mk(1, 1), mk(2, 2)}}
	jtx.Events[2].Rows.Flags = txn.RowsFlagStmtEnd
	stmts, err = g.Body(context.Background(), jtx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || stmts[0].Event != &jtx.Events[1] || stmts[1].Event != &jtx.Events[2] || SQLRowEvents(stmts) != 2 {
		t.Errorf("MySQL JSON rows: %d statements, want one per row event naming it", len(stmts))
	}
}

// TestApplySQLRefusals checks the errors of ApplySQL: they name the event
// and the table and quote no value.
func TestApplySQLRefusals(t *testing.T) {
	tables := batchTables()
	trig := *tables["d.t"]
	trig.HasTriggers = true
	vers := *tables["d.t"]
	vers.SystemVersioned = true
	for _, tc := range []struct {
		name  string
		table *schema.Table
		want  string
	}{
		{"triggers", &trig, "has triggers"},
		{"system versioning", &vers, "system-versioned"},
	} {
		tables["d.t"] = tc.table
		g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: fakeTables(tables)}
		tx := &txn.Txn{Seq: 1, Kind: txn.KindRows, Events: []txn.Event{rowsEvent("t", txn.OpInsert, 1, vals(12345, 12345))}}
		_, err := g.Body(context.Background(), tx)
		var re *RowsError
		switch {
		case !errors.As(err, &re) || re.Event != &tx.Events[0]:
			t.Errorf("%s: %v does not name the event", tc.name, err)
		case !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "`d`.`t`"):
			t.Errorf("%s: %q does not say %q naming the table", tc.name, err, tc.want)
		case strings.Contains(err.Error(), "12345"):
			t.Errorf("%s: %q quotes a value", tc.name, err)
		}
	}
}
