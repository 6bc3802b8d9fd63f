package mysqljson

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The fuzzers here feed this package's readers straight from the fuzzer's
// bytes, without a binlog file around them, so that each runs thousands of
// times a second: row images (go-mysql's decoder and this package's
// valueSize, which must agree), JSON diffs and MySQL binary JSON.
// docs/testing.md lists them with what each checks.

// fuzzColumnTypes are the column types FuzzRowImage picks from: every type
// a table map can hold for MySQL and MariaDB.
var fuzzColumnTypes = []byte{
	mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
	mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_NEWDECIMAL,
	mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2,
	mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2,
	mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING,
	mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_NULL,
}

// fuzzTable builds a table map from the fuzzer's bytes: a column count
// (1 to 8), then per column a type index and two bytes of metadata. It
// returns the table and the bytes left, the row images.
func fuzzTable(data []byte) (*replication.TableMapEvent, []byte, bool) {
	if len(data) < 1 {
		return nil, nil, false
	}
	n := 1 + int(data[0]%8)
	data = data[1:]
	if len(data) < 3*n {
		return nil, nil, false
	}
	tm := &replication.TableMapEvent{ColumnCount: uint64(n), ColumnType: make([]byte, n), ColumnMeta: make([]uint16, n)}
	for i := 0; i < n; i++ {
		tm.ColumnType[i] = fuzzColumnTypes[int(data[3*i])%len(fuzzColumnTypes)]
		tm.ColumnMeta[i] = binary.LittleEndian.Uint16(data[3*i+1:])
	}
	return tm, data[3*n:], true
}

// badMetadata reports whether err is valueSize refusing column metadata
// that no server writes (go-mysql takes it and decodes something).
func badMetadata(err error) bool {
	return strings.Contains(err.Error(), "not supported") || strings.Contains(err.Error(), "bad metadata")
}

// FuzzRowImage decodes row images of a table the fuzzer makes up, as the
// reader does (CheckRows, then go-mysql's decoder). Whenever
// go-mysql decodes the images, this package's own walk over them
// (skipImage and valueSize, used for PARTIAL_UPDATE_ROWS and CheckRows)
// must find the same number of images ending at the same byte, unless it
// refuses column metadata no server writes. (The reader's conversion of
// the values go-mysql returns is fuzzed by binlog's FuzzConvertImages.)
func FuzzRowImage(f *testing.F) {
	// INT, VARCHAR(10): two images.
	f.Add([]byte{1, 3, 0, 0, 17, 10, 0, 0, 1, 0, 0, 0, 2, 'h', 'i', 0, 2, 0, 0, 0, 0})
	// DECIMAL(10,4), DATETIME(6), BLOB(2), a NULL.
	f.Add([]byte{2, 7, 4, 10, 13, 6, 0, 20, 2, 0, 0x04, 0x80, 0, 0, 0, 0, 0x99, 0xb4, 0x42, 0x00, 0x00, 0x00, 0, 0, 0})
	// ENUM, SET, CHAR(3) as STRING.
	f.Add([]byte{2, 19, 1, 0xf7, 19, 1, 0xf8, 19, 3, 0xfe, 0, 1, 2, 1, 'a'})
	// JSON (4-byte length) holding an int16.
	f.Add([]byte{0, 22, 4, 0, 0, 3, 0, 0, 0, 0x05, 0x1a, 0x00})
	// JSON holding an array whose element points back at the array: go-mysql
	// alone recurses until the stack overflows (CheckRows refuses it).
	f.Add([]byte{0, 22, 4, 0, 0, 8, 0, 0, 0, 0x02, 0x01, 0x00, 0x07, 0x00, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, image, ok := fuzzTable(data)
		if !ok {
			return
		}
		// The reader's event bodies have no capacity past their end
		// (go-mysql reads past a value's length where capacity allows).
		image = image[:len(image):len(image)]
		bitmap := make([]byte, (tm.ColumnCount+7)/8)
		for i := range bitmap {
			bitmap[i] = 0xff
		}
		// As the reader decodes rows: JSON values are checked before go-mysql sees them.
		h := event.RowsHead{Columns: int(tm.ColumnCount), Bitmap1: bitmap}
		if err := CheckRows(tm, h, image, 30); err != nil {
			return
		}
		re := &replication.RowsEvent{Table: tm, ColumnCount: tm.ColumnCount, ColumnBitmap1: bitmap}
		if err := event.DecodeRowsData(re, 0, image); err != nil {
			return
		}
		images, pos := 0, 0
		for pos < len(image) {
			next, err := skipImage(tm, bitmap, image, pos)
			if err != nil {
				if badMetadata(err) {
					return
				}
				t.Fatalf("go-mysql decoded %d images of types %v meta %v; skipImage at %d: %v",
					len(re.Rows), tm.ColumnType, tm.ColumnMeta, pos, err)
			}
			if next <= pos {
				t.Fatalf("skipImage did not move at %d", pos)
			}
			pos, images = next, images+1
		}
		if pos != len(image) || images != len(re.Rows) {
			t.Fatalf("types %v meta %v: go-mysql decoded %d images of %d bytes; skipImage found %d ending at %d",
				tm.ColumnType, tm.ColumnMeta, len(re.Rows), len(image), images, pos)
		}
	})
}

// partialRowsTemplate returns go-mysql's rows event set up as for a MySQL
// 8.0 PARTIAL_UPDATE_ROWS event on a table of one JSON column: readDiffs
// and jsonText decode values with the settings of such an event, which
// go-mysql keeps private. It is made by go-mysql's parser from a format
// description, a table map and the event's header, built here.
func partialRowsTemplate(t testing.TB) *replication.RowsEvent {
	t.Helper()
	ev := func(typ byte, body []byte) []byte {
		h := make([]byte, event.HeaderSize, event.HeaderSize+len(body))
		h[4] = typ
		binary.LittleEndian.PutUint32(h[5:], 1)
		binary.LittleEndian.PutUint32(h[9:], uint32(event.HeaderSize+len(body)))
		return append(h, body...)
	}
	postHeaders := make([]byte, 41) // by event type - 1
	postHeaders[2-1], postHeaders[19-1] = 13, 8
	for _, typ := range []int{30, 31, 32, event.TypePartialUpdateRows} {
		postHeaders[typ-1] = 10
	}
	fde := append(binary.LittleEndian.AppendUint16(nil, 4), make([]byte, 50)...)
	copy(fde[2:], "8.0.32")
	fde = append(append(append(fde, 0, 0, 0, 0, event.HeaderSize), postHeaders...), event.ChecksumOff, 0, 0, 0, 0)
	tableMap := []byte{1, 0, 0, 0, 0, 0, 1, 0, 1, 'd', 0, 1, 't', 0, 1, mysql.MYSQL_TYPE_JSON, 1, 4, 1}
	rows := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 1, 1}
	p := replication.NewBinlogParser()
	p.SetVerifyChecksum(false)
	p.SetParseTime(false)
	p.SetUseDecimal(false)
	p.SetRowsEventDecodeFunc(func(*replication.RowsEvent, []byte) error { return nil })
	for _, raw := range [][]byte{ev(event.TypeFormatDescription, fde), ev(event.TypeTableMap, tableMap)} {
		if _, err := p.Parse(raw); err != nil {
			t.Fatalf("partial update template: %v", err)
		}
	}
	e, err := p.Parse(ev(event.TypePartialUpdateRows, rows))
	if err != nil {
		t.Fatalf("partial update template: %v", err)
	}
	return e.Event.(*replication.RowsEvent)
}

// FuzzJSONDiffs reads a PARTIAL_UPDATE_ROWS column's list of JSON diffs
// from the fuzzer's bytes: an error or diffs, never a panic; diffs read
// hold a known operation, a path, a value that is valid JSON (none for a
// removal), and end within the input.
func FuzzJSONDiffs(f *testing.F) {
	f.Add(diffBytes(
		diff(0, "$.age", []byte{0x05, 0x1a, 0x00}),
		diff(1, "$.b", []byte{0x0c, 0x02, 'h', 'i'}),
		diff(2, "$.d", nil),
		diff(0, "$.e", []byte{0x02, 0x01, 0x00, 0x07, 0x00, 0x05, 0x01, 0x00}),
	))
	f.Add(diffBytes(diff(1, "$.c[0]", []byte{0x04, 0x01})))
	re := partialRowsTemplate(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		diffs, n, err := readDiffs(re, data)
		if err != nil {
			return
		}
		if n < 4 || n > len(data) || len(diffs) == 0 {
			t.Fatalf("readDiffs: %d diffs taking %d of %d bytes", len(diffs), n, len(data))
		}
		for i, d := range diffs {
			if d.Op > txn.JSONRemove || d.Path == "" || (d.Op == txn.JSONRemove) != (d.Value == "") {
				t.Fatalf("diff %d: %+v", i, d)
			}
			if d.Op != txn.JSONRemove && !json.Valid([]byte(d.Value)) {
				t.Fatalf("diff %d: value %q is not valid JSON", i, d.Value)
			}
		}
	})
}

// lenencBytes encodes v as a MySQL length-encoded integer.
func lenencBytes(v uint64) []byte {
	switch {
	case v < 0xfb:
		return []byte{byte(v)}
	case v <= 0xffff:
		return binary.LittleEndian.AppendUint16([]byte{0xfc}, uint16(v))
	case v <= 0xffffff:
		return []byte{0xfd, byte(v), byte(v >> 8), byte(v >> 16)}
	}
	return binary.LittleEndian.AppendUint64([]byte{0xfe}, v)
}

// jsonScalar encodes a scalar in MySQL's binary JSON, chosen by kind, and
// returns it with the value it holds.
func jsonScalar(kind byte, n int64, s string) ([]byte, any) {
	switch kind % 6 {
	case 0:
		return binary.LittleEndian.AppendUint16([]byte{0x05}, uint16(int16(n))), float64(int16(n))
	case 1:
		return binary.LittleEndian.AppendUint32([]byte{0x07}, uint32(int32(n))), float64(int32(n))
	case 2:
		f := float64(n) / 7
		return binary.LittleEndian.AppendUint64([]byte{0x0b}, math.Float64bits(f)), f
	case 3:
		lits := []any{nil, true, false}
		return []byte{0x04, byte(uint64(n) % 3)}, lits[uint64(n)%3]
	case 4:
		b := []byte{0x0c}
		for l := uint64(len(s)); ; l >>= 7 {
			if l < 0x80 {
				b = append(b, byte(l))
				break
			}
			b = append(b, byte(l)|0x80)
		}
		return append(b, s...), s
	}
	return binary.LittleEndian.AppendUint64([]byte{0x09}, uint64(n)), float64(n)
}

// FuzzJSONDiffsRoundTrip logs two JSON diffs made from the fuzzer's values
// (any path, a scalar value in binary JSON, length-encoded lengths of
// every size) and reads them back with readDiffs: the operations, paths
// and values must be the ones logged.
func FuzzJSONDiffsRoundTrip(f *testing.F) {
	f.Add(byte(0), "$.a", byte(0), int64(26), "", byte(2), "$.b[1]")
	f.Add(byte(1), "$.name", byte(4), int64(0), "héllo \"q\"", byte(0), strings.Repeat("$.long", 50))
	re := partialRowsTemplate(f)
	f.Fuzz(func(t *testing.T, op1 byte, path1 string, kind byte, n int64, s string, op2 byte, path2 string) {
		if path1 == "" || path2 == "" || !utf8.ValidString(s) {
			return
		}
		ops := [2]txn.JSONDiffOp{txn.JSONDiffOp(op1 % 3), txn.JSONDiffOp(op2 % 3)}
		paths := [2]string{path1, path2}
		value, want := jsonScalar(kind, n, s)
		var body []byte
		for i := range ops {
			body = append(body, byte(ops[i]))
			body = append(append(body, lenencBytes(uint64(len(paths[i])))...), paths[i]...)
			if ops[i] != txn.JSONRemove {
				body = append(append(body, lenencBytes(uint64(len(value)))...), value...)
			}
		}
		list := append(binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body...)
		diffs, used, err := readDiffs(re, append(list, 0xff))
		if err != nil || used != len(list) || len(diffs) != 2 {
			t.Fatalf("readDiffs = %+v, %d, %v; want 2 diffs in %d bytes", diffs, used, err, len(list))
		}
		for i, d := range diffs {
			if d.Op != ops[i] || d.Path != paths[i] {
				t.Fatalf("diff %d: %+v; want op %d path %q", i, d, ops[i], paths[i])
			}
			if d.Op == txn.JSONRemove {
				continue
			}
			var got any
			if err := json.Unmarshal([]byte(d.Value), &got); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("diff %d: value %q (%v); want %#v", i, d.Value, err, want)
			}
		}
	})
}

// FuzzJSONBinary decodes MySQL binary JSON (a JSON column's value, or a
// diff's) with go-mysql as the reader does (jsonText): an error or valid
// JSON text, never a panic.
func FuzzJSONBinary(f *testing.F) {
	f.Add([]byte{0x05, 0x1a, 0x00})
	f.Add([]byte{0x0c, 0x02, 'h', 'i'})
	f.Add([]byte{0x02, 0x01, 0x00, 0x07, 0x00, 0x05, 0x01, 0x00})
	// {"a": 1}: small object, one key "a", value int16 1 inlined.
	f.Add([]byte{0x00, 0x01, 0x00, 0x0e, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, 'a'})
	f.Add([]byte{0x0f, 0x0c, 0x08, 0, 0, 0, 0, 0, 0, 0, 0})
	re := partialRowsTemplate(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := jsonText(re, data)
		if err != nil {
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("binary JSON %x decoded to %q, which is not valid JSON", data, s)
		}
	})
}
