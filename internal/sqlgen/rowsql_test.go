package sqlgen

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestNeedsSQL checks the choice of the apply path: SQL only for a MySQL
// binlog's statement on a table with a MySQL JSON column, on a MariaDB
// target; passthrough for everything else, MariaDB JSON (a LONGTEXT,
// logged as a BLOB) included.
func TestNeedsSQL(t *testing.T) {
	mysql := &txn.Format{Flavor: txn.FlavorMySQL}
	mariadb := &txn.Format{Flavor: txn.FlavorMariaDB}
	jsonMap := &txn.Event{Kind: txn.EventTableMap, TableMap: &txn.TableMap{ColumnTypes: []byte{typeLong, txn.TypeJSON}}}
	plainMap := &txn.Event{Kind: txn.EventTableMap, TableMap: &txn.TableMap{ColumnTypes: []byte{typeLong, typeBlob}}}
	rows := &txn.Event{Kind: txn.EventRows, Rows: &txn.Rows{}}
	for _, tc := range []struct {
		name          string
		format        *txn.Format
		targetMariaDB bool
		events        []*txn.Event
		want          bool
	}{
		{"mysql json to mariadb", mysql, true, []*txn.Event{jsonMap, rows}, true},
		{"mysql json among other tables", mysql, true, []*txn.Event{plainMap, jsonMap, rows, rows}, true},
		{"mysql json to mysql", mysql, false, []*txn.Event{jsonMap, rows}, false},
		{"mysql without json", mysql, true, []*txn.Event{plainMap, rows}, false},
		{"mariadb json (longtext)", mariadb, true, []*txn.Event{plainMap, rows}, false},
		{"no format", nil, true, []*txn.Event{jsonMap, rows}, false},
	} {
		if got := needsSQL(tc.format, tc.targetMariaDB, tc.events); got != tc.want {
			t.Errorf("%s: needsSQL = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSQLLiteral checks the literal of each type of decoded value.
func TestSQLLiteral(t *testing.T) {
	col := func(dataType, columnType, charset string) *schema.Column {
		return &schema.Column{Name: "c", DataType: dataType, ColumnType: columnType, Charset: charset,
			Unsigned: strings.Contains(columnType, "unsigned")}
	}
	binary4 := col("binary", "binary(4)", "")
	binary4.BinaryPadLen = 4
	for _, tc := range []struct {
		name          string
		v             any
		col           *schema.Column
		typ           byte
		meta          uint16
		unsignedKnown bool
		want          string
	}{
		{"null", nil, col("int", "int(11)", ""), typeLong, 0, false, "NULL"},
		{"int", int64(-42), col("int", "int(11)", ""), typeLong, 0, true, "-42"},
		{"bigint min", int64(math.MinInt64), col("bigint", "bigint(20)", ""), typeLongLong, 0, true, "-9223372036854775808"},
		{"bigint unsigned max", uint64(math.MaxUint64), col("bigint", "bigint(20) unsigned", ""), typeLongLong, 0, true, "18446744073709551615"},
		{"tinyint unsigned fixed from the schema", int64(-1), col("tinyint", "tinyint(3) unsigned", ""), typeTiny, 0, false, "255"},
		{"smallint unsigned fixed", int64(-2), col("smallint", "smallint(5) unsigned", ""), typeShort, 0, false, "65534"},
		{"mediumint unsigned fixed", int64(-1), col("mediumint", "mediumint(8) unsigned", ""), typeInt24, 0, false, "16777215"},
		{"int unsigned fixed", int64(-1), col("int", "int(10) unsigned", ""), typeLong, 0, false, "4294967295"},
		{"bigint unsigned fixed", int64(-1), col("bigint", "bigint(20) unsigned", ""), typeLongLong, 0, false, "18446744073709551615"},
		{"signed negative kept with metadata", int64(-1), col("int", "int(10) unsigned", ""), typeLong, 0, true, "-1"},
		{"year", int64(2024), col("year", "year(4)", ""), typeYear, 0, false, "2024"},
		{"bit", uint64(0b1011), col("bit", "bit(4)", ""), typeBit, 0, false, "11"},
		{"enum ordinal", int64(3), col("enum", "enum('a','b','c')", "utf8mb4"), typeString, typeEnum<<8 | 1, false, "3"},
		{"set bits", uint64(5), col("set", "set('a','b','c')", "utf8mb4"), typeString, typeSet<<8 | 1, false, "5"},
		{"float", float32(0.1), col("float", "float", ""), typeFloat, 4, false, "1.0000000149011612e-01"},
		{"double", 0.1, col("double", "double", ""), typeDouble, 8, false, "1e-01"},
		{"double max", math.MaxFloat64, col("double", "double", ""), typeDouble, 8, false, "1.7976931348623157e+308"},
		{"decimal", "-12345.6789", col("decimal", "decimal(10,4)", ""), typeNewDecimal, 0, false, "'-12345.6789'"},
		{"date", "2024-02-29", col("date", "date", ""), typeDate, 0, false, "'2024-02-29'"},
		{"zero date", "0000-00-00", col("date", "date", ""), typeDate, 0, false, "'0000-00-00'"},
		{"time", "-838:59:59.000000", col("time", "time(6)", ""), typeTime2, 6, false, "'-838:59:59.000000'"},
		{"timestamp", "2022-11-20 13:40:30.5", col("timestamp", "timestamp(1)", ""), typeTimestamp2, 1, false, "'2022-11-20 13:40:30.5'"},
		{"datetime", "9999-12-31 23:59:59", col("datetime", "datetime", ""), typeDatetime2, 0, false, "'9999-12-31 23:59:59'"},
		{"varchar utf8mb4", []byte("h\u00e9'\\"), col("varchar", "varchar(10)", "utf8mb4"), typeVarchar, 40, false, "_utf8mb4 X'68c3a9275c'"},
		{"varchar latin1 bytes", []byte{0xe9, 0xe8}, col("varchar", "varchar(10)", "latin1"), typeVarchar, 10, false, "_latin1 X'e9e8'"},
		{"empty string", []byte{}, col("char", "char(3)", "utf8mb4"), typeString, 0xfe0c, false, "_utf8mb4 X''"},
		{"varbinary", []byte{0, 1, 0xff}, col("varbinary", "varbinary(4)", ""), typeVarchar, 4, false, "X'0001ff'"},
		{"binary re-padded", []byte{0x41}, binary4, typeString, 0xfe04, false, "X'41000000'"},
		{"blob", []byte{0, 0}, col("blob", "blob", ""), typeBlob, 2, false, "X'0000'"},
		{"text", []byte("x"), col("text", "text", "utf8mb3"), typeBlob, 2, false, "_utf8mb3 X'78'"},
		{"mysql json into mariadb json", "{\"a\": \"\u00e9\"}", col("longtext", "longtext", "utf8mb4"), txn.TypeJSON, 4, false, "_utf8mb4 X'7b2261223a2022c3a9227d'"},
		{"geometry", []byte{0, 0, 0, 0, 1}, col("point", "point", ""), typeGeometry, 4, false, "X'0000000001'"},
	} {
		got, err := sqlLiteral(tc.v, tc.col, tc.typ, tc.meta, tc.unsignedKnown)
		if err != nil || got != tc.want {
			t.Errorf("%s: sqlLiteral = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestSQLLiteralRefuses checks that values the SQL path cannot write
// exactly are errors that do not quote the value.
func TestSQLLiteralRefuses(t *testing.T) {
	intCol := &schema.Column{Name: "c", DataType: "int", ColumnType: "int(11)"}
	for _, tc := range []struct {
		name string
		v    any
		col  *schema.Column
		typ  byte
		meta uint16
	}{
		{"enum ordinal into varchar", int64(2), &schema.Column{Name: "c", DataType: "varchar", ColumnType: "varchar(5)", Charset: "utf8mb4"}, typeString, typeEnum<<8 | 1},
		{"bytes into int", []byte("12345"), intCol, typeVarchar, 10},
		{"nan", math.NaN(), &schema.Column{Name: "c", DataType: "double", ColumnType: "double"}, typeDouble, 8},
		{"temporal text with a quote", "2024-01-01' OR '12345", &schema.Column{Name: "c", DataType: "date", ColumnType: "date"}, typeDate, 0},
		{"unexpected Go type", true, intCol, typeLong, 0},
	} {
		got, err := sqlLiteral(tc.v, tc.col, tc.typ, tc.meta, false)
		if err == nil {
			t.Errorf("%s: sqlLiteral = %q, want an error", tc.name, got)
			continue
		}
		if strings.Contains(err.Error(), "12345") {
			t.Errorf("%s: error %q quotes the value", tc.name, err)
		}
	}
}

// fakeTables serves table definitions from a map.
func fakeTables(tables map[string]*schema.Table) TableFunc {
	return func(_ context.Context, db, table string) (*schema.Table, error) {
		if t, ok := tables[db+"."+table]; ok {
			return t, nil
		}
		return nil, schema.ErrNoTable
	}
}

// TestSQLStatements checks the statements made from row Events: INSERT
// with the columns present, UPDATE and DELETE keyed on the target's
// primary key, or on every column with <=> and LIMIT 1 without one;
// generated columns never written; the session settings of the event.
func TestSQLStatements(t *testing.T) {
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, txn.TypeJSON, typeVarchar}, ColumnMeta: []uint16{0, 4, 40}}
	cols := []schema.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "j", DataType: "longtext", ColumnType: "longtext", Charset: "utf8mb4"},
		{Name: "g", DataType: "varchar", ColumnType: "varchar(10)", Charset: "utf8mb4", Generated: true},
	}
	withPK := &schema.Table{Schema: "d", Name: "t", Columns: cols,
		Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}}}}
	noPK := &schema.Table{Schema: "d", Name: "t", Columns: cols}
	all := []bool{true, true, true}
	ev := func(op txn.Op, flags uint16, columns, after []bool, rows ...[]any) *txn.Event {
		return &txn.Event{Kind: txn.EventRows, Type: 30, TypeName: "ROWS", Pos: txn.Position{File: "f", Offset: 4},
			Rows: &txn.Rows{Op: op, Table: tm, Flags: flags, Columns: columns, ColumnsAfter: after, Rows: rows, Decoded: true}}
	}
	prefix := "SET STATEMENT time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', foreign_key_checks=1, unique_checks=1, check_constraint_checks=0 FOR "
	for _, tc := range []struct {
		name  string
		table *schema.Table
		event *txn.Event
		want  []string
	}{
		{"insert", withPK, ev(txn.OpInsert, 1, all, nil, []any{int64(1), `{}`, []byte("g")}, []any{int64(2), nil, []byte("g")}),
			[]string{prefix + "INSERT INTO `d`.`t` (`id`, `j`) VALUES (1, _utf8mb4 X'7b7d'), (2, NULL)"}},
		{"insert without checks", withPK, ev(txn.OpInsert, 1|txn.RowsFlagNoForeignKeyChecks|txn.RowsFlagRelaxedUniqueChecks, all, nil, []any{int64(1), nil, nil}),
			[]string{"SET STATEMENT time_zone='+00:00', sql_mode='STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES', foreign_key_checks=0, unique_checks=0, check_constraint_checks=0 FOR " +
				"INSERT INTO `d`.`t` (`id`, `j`) VALUES (1, NULL)"}},
		{"update by primary key", withPK, ev(txn.OpUpdate, 1, all, all, []any{int64(1), `1`, nil}, []any{int64(2), `2`, nil}),
			[]string{prefix + "UPDATE `d`.`t` SET `id` = 2, `j` = _utf8mb4 X'32' WHERE `id` = 1"}},
		{"minimal update", withPK, ev(txn.OpUpdate, 1, []bool{true, false, false}, []bool{false, true, false}, []any{int64(1), nil, nil}, []any{nil, `2`, nil}),
			[]string{prefix + "UPDATE `d`.`t` SET `j` = _utf8mb4 X'32' WHERE `id` = 1"}},
		{"update without primary key", noPK, ev(txn.OpUpdate, 1, all, all, []any{int64(1), nil, nil}, []any{int64(1), `3`, nil}),
			[]string{prefix + "UPDATE `d`.`t` SET `id` = 1, `j` = _utf8mb4 X'33' WHERE `id` <=> 1 AND `j` <=> NULL LIMIT 1"}},
		{"partial json update", withPK, ev(txn.OpUpdate, 1, []bool{true, false, false}, []bool{false, true, false}, []any{int64(1), nil, nil},
			[]any{nil, []txn.JSONDiff{{Op: txn.JSONReplace, Path: "$.a", Value: "1"}, {Op: txn.JSONInsert, Path: "$.b", Value: `"x"`},
				{Op: txn.JSONInsert, Path: "$.c[0]", Value: "{}"}, {Op: txn.JSONRemove, Path: "$.d"}}, nil}),
			[]string{prefix + "UPDATE `d`.`t` SET `j` = JSON_REMOVE(JSON_ARRAY_INSERT(JSON_INSERT(JSON_REPLACE(`j`, " +
				"_utf8mb4 X'242e61', JSON_EXTRACT(_utf8mb4 X'31', '$')), _utf8mb4 X'242e62', JSON_EXTRACT(_utf8mb4 X'227822', '$')), " +
				"_utf8mb4 X'242e635b305d', JSON_EXTRACT(_utf8mb4 X'7b7d', '$')), _utf8mb4 X'242e64') WHERE `id` = 1"}},
		{"delete", withPK, ev(txn.OpDelete, 1, all, nil, []any{int64(7), nil, nil}, []any{int64(8), nil, nil}),
			[]string{prefix + "DELETE FROM `d`.`t` WHERE `id` = 7", prefix + "DELETE FROM `d`.`t` WHERE `id` = 8"}},
		{"delete without primary key", noPK, ev(txn.OpDelete, 1, all, nil, []any{int64(7), nil, nil}, []any{int64(8), `x`, nil}),
			[]string{prefix + "DELETE FROM `d`.`t` WHERE `id` <=> 7 AND `j` <=> NULL LIMIT 1",
				prefix + "DELETE FROM `d`.`t` WHERE `id` <=> 8 AND `j` <=> _utf8mb4 X'78' AND BINARY `j` = _utf8mb4 X'78' LIMIT 1"}},
	} {
		stmts, err := sqlStatements(context.Background(), fakeTables(map[string]*schema.Table{"d.t": tc.table}), []*txn.Event{tc.event})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, s := range stmts {
			got = append(got, s.SQL)
			if s.Check == nil || s.Event != tc.event {
				t.Errorf("%s: statement without its check or event", tc.name)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
	// The update's Check: the row holding the after image, by its key.
	stmts, err := sqlStatements(context.Background(), fakeTables(map[string]*schema.Table{"d.t": withPK}),
		[]*txn.Event{ev(txn.OpUpdate, 1, []bool{true, false, false}, []bool{false, true, false}, []any{int64(1), nil, nil}, []any{nil, `2`, nil})})
	if err != nil {
		t.Fatal(err)
	}
	if want := prefix + "SELECT COUNT(*) FROM `d`.`t` WHERE `id` = 1"; stmts[0].Check.Found != want || stmts[0].Check.Rows != 1 {
		t.Errorf("update check = %+v, want rows 1 and %q", *stmts[0].Check, want)
	}
}

// TestSQLStatementsRefuse checks the errors of the SQL path: they name the
// event and the table, and never quote values.
func TestSQLStatementsRefuse(t *testing.T) {
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, txn.TypeJSON}, ColumnMeta: []uint16{0, 4}}
	good := &schema.Table{Schema: "d", Name: "t", Columns: []schema.Column{
		{Name: "id", DataType: "int"}, {Name: "j", DataType: "longtext", Charset: "utf8mb4"}}}
	short := &schema.Table{Schema: "d", Name: "t", Columns: good.Columns[:1]}
	long := &schema.Table{Schema: "d", Name: "t", Columns: append(append([]schema.Column(nil), good.Columns...), schema.Column{Name: "x", DataType: "int"})}
	triggers := &schema.Table{Schema: "d", Name: "t", Columns: good.Columns, HasTriggers: true}
	row := []any{int64(12345), `{"secret": 12345}`}
	ev := func(typ byte, decoded bool) *txn.Event {
		return &txn.Event{Kind: txn.EventRows, Type: typ, TypeName: "EV", Pos: txn.Position{File: "f", Offset: 4},
			Rows: &txn.Rows{Op: txn.OpInsert, Table: tm, Flags: 1, Columns: []bool{true, true}, Rows: [][]any{row}, Decoded: decoded}}
	}
	for _, tc := range []struct {
		name  string
		table *schema.Table
		event *txn.Event
		want  string
	}{
		{"missing table", nil, ev(30, true), "no such table"},
		{"column count", short, ev(30, true), "the binlog has 2 columns, the target's table 1"},
		{"extra target column", long, ev(30, true), "the binlog has 2 columns, the target's table 3"},
		{"triggers", triggers, ev(30, true), "has triggers"},
		{"undecoded", good, ev(30, false), "not decoded"},
		{"json diff at [last]", good, diffEv(tm, "$.a[last]"), "[last]"},
		{"json diff at [ LAST - 1 ]", good, diffEv(tm, "$[ LAST - 1 ]"), "[last]"},
	} {
		tables := map[string]*schema.Table{}
		if tc.table != nil {
			tables["d.t"] = tc.table
		}
		_, err := sqlStatements(context.Background(), fakeTables(tables), []*txn.Event{tc.event})
		var re *RowsError
		switch {
		case !errors.As(err, &re) || re.Event != tc.event:
			t.Errorf("%s: error %v does not name its event", tc.name, err)
		case !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "`d`.`t`"):
			t.Errorf("%s: error %q does not say %q and name the table", tc.name, err, tc.want)
		case strings.Contains(err.Error(), "12345"):
			t.Errorf("%s: error %q quotes a value", tc.name, err)
		}
	}
}

// TestSQLStatementsLastMember checks that a member named last is not taken
// for an array cell counted from the end.
func TestSQLStatementsLastMember(t *testing.T) {
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, txn.TypeJSON}, ColumnMeta: []uint16{0, 4}}
	table := &schema.Table{Schema: "d", Name: "t", Columns: []schema.Column{
		{Name: "id", DataType: "int"}, {Name: "j", DataType: "longtext", Charset: "utf8mb4"}}}
	for _, path := range []string{"$.last", "$.a[1].lastname", `$."x[0]last"`} {
		if _, err := sqlStatements(context.Background(), fakeTables(map[string]*schema.Table{"d.t": table}), []*txn.Event{diffEv(tm, path)}); err != nil {
			t.Errorf("path %s: %v", path, err)
		}
	}
}

// TestSQLStatementsHiddenColumns checks that MariaDB's hidden columns at
// the end of the target's table (a long unique key's hash), which a MySQL
// table map does not list, are accepted and never written.
func TestSQLStatementsHiddenColumns(t *testing.T) {
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, txn.TypeJSON}, ColumnMeta: []uint16{0, 4}}
	table := &schema.Table{Schema: "d", Name: "t", Columns: []schema.Column{
		{Name: "id", DataType: "int"}, {Name: "j", DataType: "longtext", Charset: "utf8mb4"},
		{Name: "DB_ROW_HASH_1", DataType: "bigint", Hidden: true, Generated: true}}}
	e := &txn.Event{Kind: txn.EventRows, Type: 31, TypeName: "EV", Pos: txn.Position{File: "f", Offset: 4},
		Rows: &txn.Rows{Op: txn.OpUpdate, Table: tm, Flags: 1, Columns: []bool{true, true}, ColumnsAfter: []bool{true, true},
			Rows: [][]any{{int64(1), "1"}, {int64(1), "2"}}, Decoded: true}}
	stmts, err := sqlStatements(context.Background(), fakeTables(map[string]*schema.Table{"d.t": table}), []*txn.Event{e})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 1 || strings.Contains(stmts[0].SQL, "DB_ROW_HASH") || strings.Contains(stmts[0].Check.Found, "DB_ROW_HASH") {
		t.Errorf("statements %+v", stmts)
	}
}

// TestSQLStatementsRedacted checks that an SQL path statement shown in an
// error hides its values.
func TestSQLStatementsRedacted(t *testing.T) {
	s := &Stmt{SQL: setStatement(1) + "INSERT INTO `d`.`t` (`a`, `b`, `c`, `d`) VALUES (12345, _utf8mb4 X'3132333435', '2024-01-02', 1.2345e+04)"}
	got := Describe(s, false)
	if strings.Contains(got, "12345") || strings.Contains(got, "3132333435") || strings.Contains(got, "2024") || strings.Contains(got, "1.2345") {
		t.Errorf("describeStatement = %q: values shown", got)
	}
	if !strings.Contains(got, "INSERT INTO `d`.`t`") {
		t.Errorf("describeStatement = %q: lost the table", got)
	}
	t.Logf("shown as %s", got)
	s = &Stmt{SQL: setStatement(1) + "UPDATE `d`.`t` FORCE INDEX (PRIMARY) SET `v` = CASE `id` WHEN 12345 THEN _utf8mb4 X'3132333435' WHEN 67890 THEN NULL END WHERE `id` IN (12345, 67890)"}
	if got := Describe(s, false); strings.Contains(got, "12345") || strings.Contains(got, "3132333435") || strings.Contains(got, "67890") ||
		!strings.Contains(got, "UPDATE `d`.`t`") {
		t.Errorf("multi-row UPDATE shown as %q", got)
	}
}

// diffEv is a partial JSON update of column 1 of tm, inserting at path.
func diffEv(tm *txn.TableMap, path string) *txn.Event {
	return &txn.Event{Kind: txn.EventRows, Type: 39, TypeName: "EV", Pos: txn.Position{File: "f", Offset: 4},
		Rows: &txn.Rows{Op: txn.OpUpdate, Table: tm, Flags: 1, Columns: []bool{true, false}, ColumnsAfter: []bool{false, true},
			Rows: [][]any{{int64(12345), nil}, {nil, []txn.JSONDiff{{Op: txn.JSONInsert, Path: path, Value: "12345"}}}}, Decoded: true}}
}
