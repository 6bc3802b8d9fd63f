package sqlgen

import (
	"testing"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestImageMatch checks the condition that finds the row holding an
// image: bytes compared as bytes (BINARY padded), DECIMAL unquoted, NULL
// NULL-safe, generated columns left out, and a logged value compared with
// a target column of another class refused.
func TestImageMatch(t *testing.T) {
	tbl := &schema.Table{Schema: "d", Name: "t", Columns: []schema.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "s", DataType: "varchar", ColumnType: "varchar(10)", Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
		{Name: "b", DataType: "binary", ColumnType: "binary(3)", BinaryPadLen: 3},
		{Name: "dc", DataType: "decimal", ColumnType: "decimal(10,2)"},
		{Name: "ts", DataType: "timestamp", ColumnType: "timestamp(3)"},
		{Name: "f", DataType: "double", ColumnType: "double"},
		{Name: "g", DataType: "int", ColumnType: "int(11)", Generated: true},
		{Name: "n", DataType: "int", ColumnType: "int(11)", Nullable: true},
	}}
	tm := &txn.TableMap{Schema: "d", Table: "t", ColumnTypes: []byte{typeLong, typeVarchar, typeString, typeNewDecimal,
		typeTimestamp2, typeDouble, typeLong, typeLong}, ColumnMeta: []uint16{0, 40, 0xfe03, 0x0a02, 3, 8, 0, 0}}
	all := []bool{true, true, true, true, true, true, true, true}
	img := []any{int64(7), []byte("Ab"), []byte{1}, "-12.50", "2024-01-02 03:04:05.678", 0.1, int64(99), nil}
	got, err := ImageMatch(tbl, tm, all, img)
	if err != nil {
		t.Fatal(err)
	}
	want := "(`id` <=> 7 AND CAST(`s` AS BINARY) <=> X'4162' AND CAST(`b` AS BINARY) <=> X'010000' AND `dc` <=> -12.50 AND " +
		"`ts` <=> '2024-01-02 03:04:05.678' AND `f` <=> 1e-01 AND `n` <=> NULL)"
	if got != want {
		t.Errorf("ImageMatch:\n got %s\nwant %s", got, want)
	}
	key, err := KeyMatch(tbl, tm, []int{0}, img)
	if err != nil || key != "(`id` <=> 7)" {
		t.Errorf("KeyMatch = %q, %v", key, err)
	}
	img[3] = "1e5"
	if _, err := ImageMatch(tbl, tm, all, img); err == nil {
		t.Error("a DECIMAL text that is not a plain decimal was accepted")
	}
	img[3] = "1.00"
	tbl.Columns[1].DataType, tbl.Columns[1].ColumnType = "int", "int(11)"
	if _, err := ImageMatch(tbl, tm, all, img); err == nil {
		t.Error("a logged VARCHAR compared with an INT column was accepted")
	}
}
