package verify

import (
	"database/sql"
	"reflect"
	"strings"
	"testing"
)

func TestBoundPred(t *testing.T) {
	intCol := keyColumn{column: column{Name: "a", DataType: "int", ColumnType: "int"}, kind: kindInteger}
	strCol := keyColumn{column: column{Name: "b", DataType: "varchar", Charset: "latin1", Collation: "latin1_swedish_ci"}, kind: kindString}
	ucol := keyColumn{column: column{Name: "c", DataType: "bigint", ColumnType: "bigint unsigned"}, kind: kindInteger}

	sql1, args1 := boundPred([]keyColumn{intCol}, []string{"5"}, ">")
	if want := "`a` > CAST(? AS SIGNED)"; sql1 != want {
		t.Errorf("one column: got %q, want %q", sql1, want)
	}
	if !reflect.DeepEqual(args1, []any{"5"}) {
		t.Errorf("one column args: %v", args1)
	}

	sql3, args3 := boundPred([]keyColumn{intCol, strCol, ucol}, []string{"1", "6B", "9"}, "<=")
	want := "`a` <= CAST(? AS SIGNED) AND (`a` < CAST(? AS SIGNED) OR (`a` = CAST(? AS SIGNED) AND " +
		"(`b` < CONVERT(UNHEX(?) USING latin1) COLLATE latin1_swedish_ci OR (`b` = CONVERT(UNHEX(?) USING latin1) COLLATE latin1_swedish_ci AND " +
		"`c` <= CAST(? AS UNSIGNED)))))"
	if sql3 != want {
		t.Errorf("three columns:\n got %s\nwant %s", sql3, want)
	}
	if wantArgs := []any{"1", "1", "1", "6B", "6B", "9"}; !reflect.DeepEqual(args3, wantArgs) {
		t.Errorf("three columns args: got %v, want %v", args3, wantArgs)
	}
	if n := strings.Count(sql3, "?"); n != len(args3) {
		t.Errorf("%d placeholders, %d args", n, len(args3))
	}
}

func TestRangePredOpen(t *testing.T) {
	key := []keyColumn{{column: column{Name: "id", DataType: "int", ColumnType: "int"}, kind: kindInteger}}
	if p, a := rangePred(key, nil, nil); p != "1" || a != nil {
		t.Errorf("open range: %q %v", p, a)
	}
	p, a := rangePred(key, []string{"1"}, []string{"9"})
	if p != "`id` > CAST(? AS SIGNED) AND `id` <= CAST(? AS SIGNED)" || !reflect.DeepEqual(a, []any{"1", "9"}) {
		t.Errorf("closed range: %q %v", p, a)
	}
}

func TestHashExpr(t *testing.T) {
	cases := map[string]string{
		"int":      "`x`",
		"decimal":  "`x`",
		"datetime": "`x`",
		"double":   "(`x`+0e0)",
		"float":    "(`x`+0e0)",
		"varchar":  "HEX(`x`)",
		"blob":     "HEX(`x`)",
		"enum":     "HEX(`x`)",
		"json":     "HEX(`x`)",
		"geometry": "HEX(`x`)",
	}
	for typ, want := range cases {
		c := column{Name: "x", DataType: typ}
		if typ == "varchar" {
			c.Charset, c.Collation = "utf8mb4", "utf8mb4_general_ci"
		}
		if got := hashExpr(c); got != want {
			t.Errorf("%s: got %s, want %s", typ, got, want)
		}
	}
	got := rowHashExpr([]column{{Name: "a", DataType: "int"}, {Name: "b`q", DataType: "text", Charset: "utf8mb4", Collation: "utf8mb4_bin"}})
	want := "CRC32(CONCAT_WS('#',`a`,HEX(`b``q`),CONCAT(ISNULL(`a`),ISNULL(`b``q`))))"
	if got != want {
		t.Errorf("row hash:\n got %s\nwant %s", got, want)
	}
}

func TestChunkKey(t *testing.T) {
	cols := []column{
		{Name: "id", DataType: "int", ColumnType: "int", Nullable: true},
		{Name: "code", DataType: "varchar", Charset: "utf8mb4", Collation: "utf8mb4_bin"},
		{Name: "doc", DataType: "text", Charset: "utf8mb4", Collation: "utf8mb4_bin"},
		{Name: "g", DataType: "geometry"},
		{Name: "n", DataType: "decimal", Precision: sql.NullInt64{Int64: 10, Valid: true}},
	}
	tbl := func(ixs ...index) *tableSchema { return &tableSchema{Columns: cols, Indexes: ixs} }
	uniq := func(name string, parts ...indexPart) index { return index{Name: name, Unique: true, Parts: parts} }

	if key, name := chunkKey(tbl(uniq("u_id", indexPart{Column: "id"}))); key != nil {
		t.Errorf("nullable unique key chosen: %s", name)
	}
	if key, name := chunkKey(tbl(uniq("u_doc", indexPart{Column: "doc", SubPart: 10}))); key != nil {
		t.Errorf("prefix unique key chosen: %s", name)
	}
	if key, name := chunkKey(tbl(uniq("u_g", indexPart{Column: "g"}))); key != nil {
		t.Errorf("geometry key chosen: %s", name)
	}
	if key, _ := chunkKey(tbl(index{Name: "i", Parts: []indexPart{{Column: "code"}}})); key != nil {
		t.Errorf("non-unique key chosen")
	}
	key, name := chunkKey(tbl(uniq("u_id", indexPart{Column: "id"}), uniq("u_code_n", indexPart{Column: "code"}, indexPart{Column: "n"})))
	if name != "u_code_n" || len(key) != 2 || key[0].kind != kindString || key[1].kind != kindDecimal {
		t.Errorf("got key %s %+v, want u_code_n (string, decimal)", name, key)
	}
}

func TestDisplay(t *testing.T) {
	utf := keyColumn{column: column{Charset: "utf8mb4"}, kind: kindString}
	latin := keyColumn{column: column{Charset: "latin1"}, kind: kindString}
	bin := keyColumn{kind: kindBinary}
	if got := utf.display("F09F9880"); got != `"😀"` {
		t.Errorf("utf8mb4: %s", got)
	}
	if got := latin.display("E9"); got != "0xE9" {
		t.Errorf("latin1: %s", got)
	}
	if got := bin.display("00ff"); got != "0x00FF" {
		t.Errorf("binary: %s", got)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"int(11)":                   "int",
		"bigint(20) unsigned":       "bigint unsigned",
		"int(10) unsigned zerofill": "int(10) unsigned zerofill",
		"varchar(20)":               "varchar(20)",
		"DOUBLE":                    "double",
	} {
		if got := normalizeColumnType(in); got != want {
			t.Errorf("normalizeColumnType(%q) = %q, want %q", in, got, want)
		}
	}
	if got := normalizeCollation("utf8_general_ci"); got != "utf8mb3_general_ci" {
		t.Errorf("normalizeCollation: %s", got)
	}
	if got := normalizeCollation("utf8mb4_bin"); got != "utf8mb4_bin" {
		t.Errorf("normalizeCollation: %s", got)
	}
}

func TestReportString(t *testing.T) {
	r := &Report{Tables: []TableReport{
		{Schema: "d", Table: "same", Status: Equal},
		{Schema: "d", Table: "t", Status: DataDiffers, RowsTarget: 2, RowsReference: 3,
			Chunks:     []ChunkDiff{{Lower: "id=1", RowsTarget: 2, RowsReference: 3, Diffed: true, Missing: 1}},
			SampleRows: []RowDiff{{Kind: RowMissing, Key: "id=7"}}},
		{Schema: "d", Table: "gone", Status: MissingInTarget},
	}}
	if r.Equal() {
		t.Fatal("Equal() true with differences")
	}
	s := r.String()
	for _, want := range []string{"3 tables compared, 2 differ", "`d`.`t`: data differs", "(id=1 .. +inf]",
		"1 missing in target", "row id=7: missing in target", "`d`.`gone`: missing in target"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "`same`") {
		t.Errorf("String() lists an equal table:\n%s", s)
	}
	if ok := (&Report{Tables: []TableReport{{Status: Equal}}}); !ok.Equal() || !strings.Contains(ok.String(), "all equal") {
		t.Errorf("equal report: %v %q", ok.Equal(), ok.String())
	}
}

// TestNormalizeDefault checks that MariaDB's and MySQL's spellings of one
// column default (or ON UPDATE) compare equal, and different ones do not.
func TestNormalizeDefault(t *testing.T) {
	same := [][2]sql.NullString{
		{{String: "NULL", Valid: true}, {}},
		{{String: "'abc'", Valid: true}, {String: "abc", Valid: true}},
		{{String: "current_timestamp()", Valid: true}, {String: "CURRENT_TIMESTAMP", Valid: true}},
		{{String: "current_timestamp(6)", Valid: true}, {String: "CURRENT_TIMESTAMP(6)", Valid: true}},
		{{String: "'it''s'", Valid: true}, {String: "it's", Valid: true}},
	}
	for _, p := range same {
		if a, b := normalizeDefault(p[0]), normalizeDefault(p[1]); a != b {
			t.Errorf("%+v and %+v: %q and %q, want equal", p[0], p[1], a, b)
		}
	}
	differ := [][2]sql.NullString{
		{{String: "'a'", Valid: true}, {String: "'b'", Valid: true}},
		{{String: "0", Valid: true}, {}},
	}
	for _, p := range differ {
		if a, b := normalizeDefault(p[0]), normalizeDefault(p[1]); a == b {
			t.Errorf("%+v and %+v: both %q, want different", p[0], p[1], a)
		}
	}
	if a, b := onUpdate("ON UPDATE CURRENT_TIMESTAMP()"), onUpdate("DEFAULT_GENERATED ON UPDATE CURRENT_TIMESTAMP"); a != b || a == "" {
		t.Errorf("on update: %q and %q", a, b)
	}
}
