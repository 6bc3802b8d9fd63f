package partition

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// fakeTables is a TableSource over fixed definitions, keyed "schema.table".
type fakeTables map[string]*schema.Table

func (f fakeTables) Table(_ context.Context, s, t string) (*schema.Table, error) {
	if tab := f[s+"."+t]; tab != nil {
		return tab, nil
	}
	return nil, fmt.Errorf("read %s.%s: %w", s, t, schema.ErrNoTable)
}

// Column constructors.
func intCol(name string, nullable bool) schema.Column {
	return schema.Column{Name: name, DataType: "int", ColumnType: "int(11)", Nullable: nullable}
}

func uintCol(name string) schema.Column {
	return schema.Column{Name: name, DataType: "int", ColumnType: "int(10) unsigned", Unsigned: true}
}

func textCol(name, collation string, nullable bool) schema.Column {
	cs, _, _ := strings.Cut(collation, "_")
	return schema.Column{Name: name, DataType: "varchar", ColumnType: "varchar(64)", Charset: cs,
		Collation: collation, CaseInsensitive: strings.HasSuffix(collation, "_ci"), Nullable: nullable, CharMaxLen: 64}
}

// table builds a definition; keys are "PRIMARY:col,col" or "name:col" (unique).
func table(name string, cols []schema.Column, keys ...string) *schema.Table {
	t := &schema.Table{Schema: "db", Name: name, Columns: cols}
	for i := range t.Columns {
		t.Columns[i].Ordinal = i
	}
	for _, k := range keys {
		kname, list, _ := strings.Cut(k, ":")
		idx := schema.Index{Name: kname, Primary: kname == "PRIMARY", Unique: true}
		for _, c := range strings.Split(list, ",") {
			c, prefix, _ := strings.Cut(c, "/")
			n := 0
			fmt.Sscan(prefix, &n)
			idx.Columns = append(idx.Columns, t.ColumnIndex(c))
			idx.Prefix = append(idx.Prefix, n)
		}
		t.Indexes = append(t.Indexes, idx)
	}
	return t
}

func fk(child *schema.Table, name string, cols []string, parent *schema.Table, refCols []string, onDelete, onUpdate string) {
	f := schema.ForeignKey{Name: name, Schema: child.Schema, Table: child.Name, ColumnNames: cols,
		RefSchema: parent.Schema, RefTable: parent.Name, RefColumns: refCols, OnDelete: onDelete, OnUpdate: onUpdate}
	for _, c := range cols {
		f.Columns = append(f.Columns, child.ColumnIndex(c))
	}
	child.ForeignKeys = append(child.ForeignKeys, f)
	f.Columns = nil
	parent.ReferencedBy = append(parent.ReferencedBy, f)
}

func testTables() fakeTables {
	users := table("users", []schema.Column{intCol("id", false), textCol("email", "utf8mb4_general_ci", true),
		textCol("login", "utf8mb4_bin", true), intCol("n", true)},
		"PRIMARY:id", "email:email", "login:login")
	parent := table("parent", []schema.Column{intCol("id", false), intCol("code", true)}, "PRIMARY:id")
	child := table("child", []schema.Column{intCol("id", false), intCol("pid", true), intCol("pcode", true)}, "PRIMARY:id")
	fk(child, "fk_pid", []string{"pid"}, parent, []string{"id"}, "RESTRICT", "RESTRICT")
	fk(child, "fk_code", []string{"pcode"}, parent, []string{"code"}, "RESTRICT", "RESTRICT") // non-unique
	cparent := table("cparent", []schema.Column{intCol("id", false), intCol("n", true)}, "PRIMARY:id")
	cchild := table("cchild", []schema.Column{intCol("id", false), intCol("pid", true)}, "PRIMARY:id")
	fk(cchild, "fk_c", []string{"pid"}, cparent, []string{"id"}, "CASCADE", "CASCADE")
	bin := table("bin", []schema.Column{intCol("id", false),
		{Name: "b", DataType: "binary", ColumnType: "binary(4)", BinaryPadLen: 4, Nullable: true}}, "PRIMARY:id", "b:b")
	dec := table("dec", []schema.Column{{Name: "d", DataType: "decimal", ColumnType: "decimal(10,2)"}}, "PRIMARY:d")
	prefix := table("prefix", []schema.Column{intCol("id", false), textCol("name", "utf8mb4_bin", true)},
		"PRIMARY:id", "name3:name/3")
	return fakeTables{
		"db.users": users, "db.parent": parent, "db.child": child, "db.cparent": cparent, "db.cchild": cchild,
		"db.bin": bin, "db.dec": dec, "db.prefix": prefix,
		"db.u":       table("u", []schema.Column{uintCol("id")}, "PRIMARY:id"),
		"db.nopk":    table("nopk", []schema.Column{intCol("a", true), intCol("b", true)}),
		"db.nullkey": table("nullkey", []schema.Column{intCol("a", true)}, "a:a"),
		"db.nnkey":   table("nnkey", []schema.Column{intCol("a", false), intCol("b", true)}, "a:a"),
		"db.bare": {Schema: "db", Name: "bare", Columns: []schema.Column{intCol("id", false)},
			Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}}}},
	}
}

// ev builds a row event on tab with full images; for OpUpdate, rows
// alternate before and after.
func ev(tab *schema.Table, op txn.Op, rows ...[]any) txn.Event {
	n := len(tab.Columns)
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	r := &txn.Rows{Op: op, Table: &txn.TableMap{Schema: tab.Schema, Table: tab.Name, ColumnTypes: make([]byte, n)},
		Columns: all, Rows: rows, Decoded: true}
	if op == txn.OpUpdate {
		r.ColumnsAfter = all
	}
	return txn.Event{Kind: txn.EventRows, TypeName: "ROWS", Rows: r}
}

// minimal restricts an event's images to the given columns (before, after).
func minimal(e txn.Event, before, after []int) txn.Event {
	mask := func(cols []int, n int) []bool {
		m := make([]bool, n)
		for _, c := range cols {
			m[c] = true
		}
		return m
	}
	n := len(e.Rows.Columns)
	e.Rows.Columns = mask(before, n)
	if e.Rows.Op == txn.OpUpdate {
		e.Rows.ColumnsAfter = mask(after, n)
	}
	return e
}

func rowsTxn(events ...txn.Event) *txn.Txn { return &txn.Txn{Kind: txn.KindRows, Events: events} }

func row(vals ...any) []any { return vals }

func mustKeys(t *testing.T, tables fakeTables, tx *txn.Txn) []Key {
	t.Helper()
	keys, barrier, reason, err := KeysOf(context.Background(), tx, tables)
	if err != nil || barrier {
		t.Fatalf("KeysOf: barrier=%v reason=%q err=%v", barrier, reason, err)
	}
	return keys
}

func shareKey(a, b []Key) bool {
	for _, k := range a {
		if slices.Contains(b, k) {
			return true
		}
	}
	return false
}

func TestKeysOfConflicts(t *testing.T) {
	tb := testTables()
	users, parent, child := tb["db.users"], tb["db.parent"], tb["db.child"]
	s := func(v string) []byte { return []byte(v) }
	tests := []struct {
		name     string
		a, b     *txn.Txn
		conflict bool
	}{
		{"unique value moves between rows",
			rowsTxn(ev(users, txn.OpDelete, row(int64(1), s("x@a"), nil, nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), s("x@a"), nil, nil))), true},
		{"different rows and unique values",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), s("a@a"), nil, nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), s("b@a"), nil, nil))), false},
		{"case-insensitive collation: 'Bob' vs 'bob' conflict",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), s("Bob@X.org"), nil, nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), s("bob@x.org"), nil, nil))), true},
		{"accent-insensitive collation: 'José' vs 'JOSE' conflict",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), s("José"), nil, nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), s("JOSE"), nil, nil))), true},
		{"_bin collation: 'Bob' vs 'bob' do not conflict",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), nil, s("Bob"), nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), nil, s("bob"), nil))), false},
		{"PAD SPACE: trailing spaces ignored under _bin",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), nil, s("bob  "), nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), nil, s("bob"), nil))), true},
		{"NULL unique values do not conflict",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), nil, nil, nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), nil, nil, nil))), false},
		{"PK update conflicts with the old key",
			rowsTxn(ev(users, txn.OpUpdate, row(int64(1), nil, nil, nil), row(int64(5), nil, nil, nil))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), nil, nil, nil))), true},
		{"PK update conflicts with the new key",
			rowsTxn(ev(users, txn.OpUpdate, row(int64(1), nil, nil, nil), row(int64(5), nil, nil, nil))),
			rowsTxn(ev(users, txn.OpDelete, row(int64(5), nil, nil, nil))), true},
		{"FK child insert conflicts with its parent row",
			rowsTxn(ev(parent, txn.OpInsert, row(int64(7), nil))),
			rowsTxn(ev(child, txn.OpInsert, row(int64(1), int64(7), nil))), true},
		{"FK child of another parent row does not conflict",
			rowsTxn(ev(parent, txn.OpInsert, row(int64(7), nil))),
			rowsTxn(ev(child, txn.OpInsert, row(int64(1), int64(8), nil))), false},
		{"FK to non-unique parent columns conflicts on the value",
			rowsTxn(ev(parent, txn.OpUpdate, row(int64(7), int64(3)), row(int64(7), int64(4)))),
			rowsTxn(ev(child, txn.OpInsert, row(int64(1), nil, int64(3)))), true},
		{"FK NULL references no parent",
			rowsTxn(ev(parent, txn.OpInsert, row(int64(7), nil))),
			rowsTxn(ev(child, txn.OpInsert, row(int64(1), nil, nil))), false},
		{"int64 and uint64 of equal value conflict",
			rowsTxn(ev(tb["db.u"], txn.OpInsert, row(int64(5)))),
			rowsTxn(ev(tb["db.u"], txn.OpDelete, row(uint64(5)))), true},
		{"unsigned decoded as negative int64",
			rowsTxn(ev(tb["db.u"], txn.OpInsert, row(int64(-1)))),
			rowsTxn(ev(tb["db.u"], txn.OpDelete, row(uint64(4294967295)))), true},
		{"BINARY(n) with and without its 0x00 padding",
			rowsTxn(ev(tb["db.bin"], txn.OpInsert, row(int64(1), s("ab")))),
			rowsTxn(ev(tb["db.bin"], txn.OpInsert, row(int64(2), s("ab\x00\x00")))), true},
		{"BINARY(n) is case sensitive",
			rowsTxn(ev(tb["db.bin"], txn.OpInsert, row(int64(1), s("ab")))),
			rowsTxn(ev(tb["db.bin"], txn.OpInsert, row(int64(2), s("AB")))), false},
		{"same values in different tables",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), nil, nil, nil))),
			rowsTxn(ev(parent, txn.OpInsert, row(int64(1), nil))), false},
		{"DECIMAL text normalized",
			rowsTxn(ev(tb["db.dec"], txn.OpInsert, row("1.50"))),
			rowsTxn(ev(tb["db.dec"], txn.OpDelete, row("001.5"))), true},
		{"unique prefix key compares prefixes",
			rowsTxn(ev(tb["db.prefix"], txn.OpInsert, row(int64(1), s("abcdef")))),
			rowsTxn(ev(tb["db.prefix"], txn.OpInsert, row(int64(2), s("abcxyz")))), true},
		{"unique prefix key, different prefixes",
			rowsTxn(ev(tb["db.prefix"], txn.OpInsert, row(int64(1), s("abcdef")))),
			rowsTxn(ev(tb["db.prefix"], txn.OpInsert, row(int64(2), s("abdxyz")))), false},
		{"MINIMAL update keyed by its PK alone",
			rowsTxn(minimal(ev(users, txn.OpUpdate, row(int64(1), nil, nil, nil), row(nil, nil, nil, int64(9))), []int{0}, []int{3})),
			rowsTxn(ev(users, txn.OpDelete, row(int64(1), s("q"), nil, nil))), true},
		{"non-unique column values do not conflict",
			rowsTxn(ev(users, txn.OpInsert, row(int64(1), nil, nil, int64(3)))),
			rowsTxn(ev(users, txn.OpInsert, row(int64(2), nil, nil, int64(3)))), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustKeys(t, tb, tc.a), mustKeys(t, tb, tc.b)
			if got := shareKey(a, b); got != tc.conflict {
				t.Errorf("conflict = %v, want %v (keys %x and %x)", got, tc.conflict, a, b)
			}
		})
	}
}

func TestKeysOfBarriers(t *testing.T) {
	tb := testTables()
	users, cparent := tb["db.users"], tb["db.cparent"]
	notDecoded := ev(users, txn.OpInsert)
	notDecoded.Rows.Decoded = false
	wrongCount := ev(users, txn.OpInsert, row(int64(1), nil, nil, nil))
	wrongCount.Rows.Table.ColumnTypes = make([]byte, 5)
	wrongName := ev(users, txn.OpInsert, row(int64(1), nil, nil, nil))
	wrongName.Rows.Table.ColumnNames = []string{"id", "mail", "login", "n"}
	unknown := ev(users, txn.OpInsert, row(int64(1), nil, nil, nil))
	unknown.Rows.Table.Table = "gone"
	tests := []struct {
		name    string
		tx      *txn.Txn
		barrier bool
		reason  string // substring of the reason
	}{
		{"DDL", &txn.Txn{Kind: txn.KindDDL}, true, "ddl"},
		{"statement", &txn.Txn{Kind: txn.KindStatement}, true, "statement"},
		{"no PK or unique key", rowsTxn(ev(tb["db.nopk"], txn.OpInsert, row(int64(1), int64(2)))), true, "no primary key"},
		{"only a nullable unique key", rowsTxn(ev(tb["db.nullkey"], txn.OpInsert, row(int64(1)))), true, "no primary key"},
		{"NOT NULL unique key is an identity", rowsTxn(ev(tb["db.nnkey"], txn.OpInsert, row(int64(1), nil))), false, ""},
		{"rows not decoded", rowsTxn(notDecoded), true, "not decoded"},
		{"unknown table", rowsTxn(unknown), true, "not found"},
		{"column count differs", rowsTxn(wrongCount), true, "5 columns"},
		{"column name differs", rowsTxn(wrongName), true, "`mail`"},
		{"query event in a rows txn", rowsTxn(txn.Event{Kind: txn.EventQuery, TypeName: "QUERY_EVENT"}), true, "QUERY_EVENT"},
		{"MINIMAL delete lacks unique key columns",
			rowsTxn(minimal(ev(users, txn.OpDelete, row(int64(1), nil, nil, nil)), []int{0}, nil)), true, "key `email`"},
		{"MINIMAL update sets a unique key whose old value is unknown",
			rowsTxn(minimal(ev(users, txn.OpUpdate, row(int64(1), nil, nil, nil), row(nil, []byte("x"), nil, nil)), []int{0}, []int{1})),
			true, "before image"},
		{"MINIMAL update without the PK in the before image",
			rowsTxn(minimal(ev(users, txn.OpUpdate, row(nil, nil, nil, int64(1)), row(nil, nil, nil, int64(2))), []int{3}, []int{3})),
			true, "key `PRIMARY`"},
		{"MINIMAL insert lacks a unique key column",
			rowsTxn(minimal(ev(users, txn.OpInsert, row(int64(1), nil, nil, nil)), []int{0, 1, 3}, nil)), true, "key `login`"},
		{"delete from a parent with ON DELETE CASCADE",
			rowsTxn(ev(cparent, txn.OpDelete, row(int64(1), nil))), true, "cascades to `db`.`cchild`"},
		{"update of referenced key with ON UPDATE CASCADE",
			rowsTxn(ev(cparent, txn.OpUpdate, row(int64(1), nil), row(int64(2), nil))), true, "cascade"},
		{"update of a cascading parent's other columns",
			rowsTxn(ev(cparent, txn.OpUpdate, row(int64(1), nil), row(int64(1), int64(5)))), false, ""},
		{"insert into a cascading parent", rowsTxn(ev(cparent, txn.OpInsert, row(int64(1), nil))), false, ""},
		{"value of unknown type",
			rowsTxn(ev(users, txn.OpInsert, row(time.Now(), nil, nil, nil))), true, "unknown type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, barrier, reason, err := KeysOf(context.Background(), tc.tx, tb)
			if err != nil {
				t.Fatal(err)
			}
			if barrier != tc.barrier || !strings.Contains(reason, tc.reason) {
				t.Fatalf("barrier=%v reason=%q, want %v with %q", barrier, reason, tc.barrier, tc.reason)
			}
			if barrier && keys != nil {
				t.Errorf("barrier with keys %v", keys)
			}
			if !barrier && len(keys) == 0 {
				t.Errorf("no keys")
			}
		})
	}
}

// A write set holds one key per (key, image), deduplicated.
func TestKeysOfCounts(t *testing.T) {
	tb := testTables()
	users, child := tb["db.users"], tb["db.child"]
	s := func(v string) []byte { return []byte(v) }
	tests := []struct {
		name string
		tx   *txn.Txn
		want int
	}{
		{"insert: PK + 2 uniques", rowsTxn(ev(users, txn.OpInsert, row(int64(1), s("a"), s("b"), nil))), 3},
		{"insert: NULL unique skipped", rowsTxn(ev(users, txn.OpInsert, row(int64(1), s("a"), nil, nil))), 2},
		{"update with unchanged keys dedups", rowsTxn(ev(users, txn.OpUpdate,
			row(int64(1), s("a"), nil, int64(1)), row(int64(1), s("a"), nil, int64(2)))), 2},
		{"update moving the PK", rowsTxn(ev(users, txn.OpUpdate,
			row(int64(1), nil, nil, nil), row(int64(2), nil, nil, nil))), 2},
		{"child: PK + 2 FK parents", rowsTxn(ev(child, txn.OpInsert, row(int64(1), int64(2), int64(3)))), 3},
		{"two rows of one event", rowsTxn(ev(users, txn.OpInsert,
			row(int64(1), nil, nil, nil), row(int64(2), nil, nil, nil))), 2},
		{"index without Prefix", rowsTxn(ev(tb["db.bare"], txn.OpInsert, row(int64(1)), row(int64(2)))), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(mustKeys(t, tb, tc.tx)); got != tc.want {
				t.Errorf("got %d keys, want %d", got, tc.want)
			}
		})
	}
}

// The Keyer notices a new definition of a parent table.
func TestKeyerRebuildsPlanOnNewParent(t *testing.T) {
	tb := testTables()
	k := NewKeyer(tb)
	ctx := context.Background()
	childIns := rowsTxn(ev(tb["db.cchild"], txn.OpInsert, row(int64(1), int64(7))))
	parentDel := rowsTxn(ev(tb["db.cparent"], txn.OpDelete, row(int64(7), nil)))
	if _, barrier, _, _ := k.KeysOf(ctx, parentDel); !barrier {
		t.Fatal("cascading delete not a barrier")
	}
	before, _, _, _ := k.KeysOf(ctx, childIns)
	// The parent's primary key is dropped: the child's FK now points at
	// referenced columns, which the parent emits as well.
	np := *tb["db.cparent"]
	np.Indexes = nil
	np.ReferencedBy = nil
	tb["db.cparent"] = &np
	after, _, _, _ := k.KeysOf(ctx, childIns)
	if slices.Equal(before, after) {
		t.Fatalf("plan not rebuilt: keys %x", after)
	}
}

func TestKeyerTriggersFire(t *testing.T) {
	tb := testTables()
	trig := *tb["db.users"]
	trig.HasTriggers = true
	tb["db.users"] = &trig
	tx := rowsTxn(ev(&trig, txn.OpInsert, row(int64(1), nil, nil, nil)))
	ctx := context.Background()
	if _, barrier, reason, _ := NewKeyer(tb).KeysOf(ctx, tx); barrier {
		t.Errorf("triggers ignored by default, got barrier %q", reason)
	}
	k := NewKeyer(tb)
	k.TriggersFire = true
	if _, barrier, reason, _ := k.KeysOf(ctx, tx); !barrier || !strings.Contains(reason, "triggers") {
		t.Errorf("TriggersFire: barrier %v %q", barrier, reason)
	}
}

func TestFoldRune(t *testing.T) {
	fold := func(s string) string {
		col := textCol("c", "utf8mb4_general_ci", false)
		var h hasher = fnvOffset
		writeText(&h, []byte(s), &col, 0)
		return fmt.Sprint(uint64(h))
	}
	same := [][2]string{{"Straße", "STRASSE"}, {"ÆON", "aeon"}, {"ａｂｃ", "ABC"}, {"e\u0301", "E"},
		{"Œuvre", "oeuvre"}, {"Łódź", "lodz"}, {"ΣΊΣΥΦΟΣ", "σίσυφος"}, {"a\u200bb", "ab"}}
	for _, p := range same {
		if fold(p[0]) != fold(p[1]) {
			t.Errorf("%q and %q fold apart", p[0], p[1])
		}
	}
	diff := [][2]string{{"abc", "abd"}, {"a b", "ab"}, {"", "a"}}
	for _, p := range diff {
		if fold(p[0]) == fold(p[1]) {
			t.Errorf("%q and %q fold together", p[0], p[1])
		}
	}
}

func TestLatin1Fold(t *testing.T) {
	col := textCol("c", "latin1_swedish_ci", false)
	hash := func(b []byte) hasher {
		h := fnvOffset
		writeText(&h, b, &col, 0)
		return h
	}
	// 0xC9 'É', 0xE9 'é', 0x8A 'Š' (cp1252), 0x9A 'š'.
	if hash([]byte{'J', 0xC9}) != hash([]byte("je")) || hash([]byte{0x8A}) != hash([]byte{0x9A}) {
		t.Error("latin1 accents or cp1252 letters not folded")
	}
}

func TestNormalizeDecimal(t *testing.T) {
	for in, want := range map[string]string{"1.50": "1.5", "-001.500": "-1.5", "0.00": "0", "-0.0": "0",
		"10": "10", "100.000": "100", ".5": "0.5", "abc": "abc"} {
		if got := normalizeDecimal(in); got != want {
			t.Errorf("normalizeDecimal(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRowKeys checks the keys of each row of an event: together they are
// the event's write set, and each row has its own.
func TestRowKeys(t *testing.T) {
	tb := testTables()
	users := tb["db.users"]
	s := func(v string) []byte { return []byte(v) }
	e := ev(users, txn.OpUpdate,
		row(int64(1), s("a"), nil, int64(1)), row(int64(1), s("a"), nil, int64(2)),
		row(int64(2), nil, nil, nil), row(int64(3), nil, nil, nil))
	k := NewKeyer(tb)
	keys, reason, err := k.RowKeys(context.Background(), &e)
	if err != nil || reason != "" || len(keys) != 2 {
		t.Fatalf("RowKeys: %d rows, reason %q, err %v", len(keys), reason, err)
	}
	var all []Key
	for _, rk := range keys {
		all = append(all, rk...)
	}
	slices.Sort(all)
	if want := mustKeys(t, tb, rowsTxn(e)); !slices.Equal(slices.Compact(all), want) {
		t.Errorf("the rows' keys %v are not the event's write set %v", all, want)
	}
	if shareKey(keys[0], keys[1]) {
		t.Error("two different rows share a key")
	}
	nopk := ev(tb["db.nopk"], txn.OpInsert, row(int64(1), int64(2)))
	if keys, reason, err := k.RowKeys(context.Background(), &nopk); keys != nil || reason == "" || err != nil {
		t.Errorf("a table without a key: %v, %q, %v; want a reason", keys, reason, err)
	}
}

// TestOwnKeysOnly checks that a Keyer with OwnKeysOnly keys a child row
// by its own keys only: it no longer meets a write of its parent row.
func TestOwnKeysOnly(t *testing.T) {
	tb := testTables()
	parent, child := tb["db.parent"], tb["db.child"]
	p := ev(parent, txn.OpUpdate, row(int64(2), int64(1)), row(int64(2), int64(5)))
	c := ev(child, txn.OpInsert, row(int64(1), int64(2), nil))
	if !shareKey(mustKeys(t, tb, rowsTxn(p)), mustKeys(t, tb, rowsTxn(c))) {
		t.Fatal("a child row does not meet its parent's write by default")
	}
	k := NewKeyer(tb)
	k.OwnKeysOnly = true
	pk, _, _ := k.RowKeys(context.Background(), &p)
	ck, _, _ := k.RowKeys(context.Background(), &c)
	if len(ck) != 1 || len(ck[0]) != 1 || shareKey(pk[0], ck[0]) {
		t.Errorf("with OwnKeysOnly the child row has keys %v, its parent's write %v: want its primary key only, not shared", ck, pk)
	}
}
