package mysqljson

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// partialFixture is the MySQL 8.0 fixture holding a PARTIAL_UPDATE_ROWS
// event (one JSON diff per row, MINIMAL images).
const partialFixture = "rust_mysql_common/test-data/binlogs/json.binlog.000001"

// partialTemplate returns go-mysql's decoded form of the fixture's
// PARTIAL_UPDATE_ROWS event, whose settings readDiffs decodes values with:
// go-mysql's parser is given the file's format description, the last
// table map before the event, and the event.
func partialTemplate(t *testing.T) *replication.RowsEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t), partialFixture))
	if err != nil {
		t.Fatal(err)
	}
	var fde, tableMap []byte
	for pos := len(event.Magic); pos+event.HeaderSize <= len(b); {
		h := event.ParseHeader(b[pos:])
		if h.Size < event.HeaderSize || pos+int(h.Size) > len(b) {
			break
		}
		raw := b[pos : pos+int(h.Size)]
		pos += int(h.Size)
		switch h.Type {
		case event.TypeFormatDescription:
			fde = raw
		case event.TypeTableMap:
			tableMap = raw
		case event.TypePartialUpdateRows:
			p := replication.NewBinlogParser()
			p.SetVerifyChecksum(false)
			p.SetParseTime(false)
			for _, raw := range [][]byte{fde, tableMap} {
				if _, err := p.Parse(raw); err != nil {
					t.Fatal(err)
				}
			}
			ev, err := p.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			return ev.Event.(*replication.RowsEvent)
		}
	}
	t.Fatal("no PARTIAL_UPDATE_ROWS event")
	return nil
}

// diffBytes builds a column's logged list of JSON diffs.
func diffBytes(diffs ...[]byte) []byte {
	var body []byte
	for _, d := range diffs {
		body = append(body, d...)
	}
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// diff builds one logged diff: op, path and, unless nil, binary JSON value.
func diff(op byte, path string, value []byte) []byte {
	b := append([]byte{op, byte(len(path))}, path...)
	if value != nil {
		b = append(b, byte(len(value)))
		b = append(b, value...)
	}
	return b
}

// TestReadDiffs checks the reading of a list of several JSON diffs (go-mysql
// reads only the first), values in MySQL's binary JSON: an int16, a
// string, a literal, an array; and that malformed lists are errors.
func TestReadDiffs(t *testing.T) {
	re := partialTemplate(t)
	list := diffBytes(
		diff(0, "$.age", []byte{0x05, 0x1a, 0x00}),
		diff(1, "$.b", []byte{0x0c, 0x02, 'h', 'i'}),
		diff(1, "$.c[0]", []byte{0x04, 0x01}),
		diff(2, "$.d", nil),
		diff(0, "$.e", []byte{0x02, 0x01, 0x00, 0x07, 0x00, 0x05, 0x01, 0x00}),
	)
	got, n, err := readDiffs(re, append(list, 0xff)) // a byte of the next column
	want := []txn.JSONDiff{
		{Op: txn.JSONReplace, Path: "$.age", Value: "26"},
		{Op: txn.JSONInsert, Path: "$.b", Value: `"hi"`},
		{Op: txn.JSONInsert, Path: "$.c[0]", Value: "true"},
		{Op: txn.JSONRemove, Path: "$.d"},
		{Op: txn.JSONReplace, Path: "$.e", Value: "[1]"},
	}
	if err != nil || n != len(list) || !reflect.DeepEqual(got, want) {
		t.Fatalf("readDiffs = %#v, %d, %v; want %#v, %d", got, n, err, want, len(list))
	}
	for name, b := range map[string][]byte{
		"unknown operation": diffBytes(diff(3, "$.a", nil)),
		"truncated length":  {1, 0},
		"length too long":   append(binary.LittleEndian.AppendUint32(nil, 100), diff(2, "$.a", nil)...),
		"path too long":     diffBytes([]byte{2, 9, '$'}),
		"value cut":         diffBytes([]byte{0, 3, '$', '.', 'a', 5, 0x05}),
		"empty list":        diffBytes(),
		"bad JSON value":    diffBytes(diff(0, "$.a", []byte{0x0c, 0x09, 'x'})),
	} {
		if d, _, err := readDiffs(re, b); err == nil {
			t.Errorf("%s: readDiffs = %#v, want an error", name, d)
		}
	}
}

// TestValueSize checks the sizes of logged values that PartialDiffs skips.
func TestValueSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  byte
		meta uint16
		b    []byte
		want int
	}{
		{"int", 3, 0, make([]byte, 4), 4},
		{"datetime(6)", 18, 6, make([]byte, 8), 8},
		{"timestamp(3)", 17, 3, make([]byte, 6), 6},
		{"time(1)", 19, 1, make([]byte, 4), 4},
		{"decimal(10,4)", 246, 10<<8 | 4, make([]byte, 5), 5},
		{"bit(12)", 16, 1<<8 | 4, make([]byte, 2), 2},
		{"varchar(10)", 15, 10, []byte{2, 'a', 'b'}, 3},
		{"varchar(300)", 15, 300, []byte{2, 0, 'a', 'b'}, 4},
		{"char(3)", 254, 0xfe03, []byte{1, 'a'}, 2},
		{"char(300) utf8mb4", 254, 0xeeb0, []byte{1, 0, 'a'}, 3}, // 1200 bytes: length in 2 bytes
		{"enum", 254, 0xf701, []byte{1}, 1},
		{"set(8+)", 254, 0xf802, []byte{1, 0}, 2},
		{"blob", 252, 2, []byte{1, 0, 'x'}, 3},
		{"json", 245, 4, []byte{1, 0, 0, 0, 'x'}, 5},
	} {
		if got, err := valueSize(tc.typ, tc.meta, tc.b); err != nil || got != tc.want {
			t.Errorf("%s: valueSize = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := valueSize(252, 2, []byte{9, 0, 'x'}); err == nil {
		t.Error("a blob longer than the event: no error")
	}
}
