package binlog

import (
	"encoding/binary"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/mysqljson"
	"github.com/binlog-replay/binlog-replay/txn"
)

// fuzzColumnTypes are the column types FuzzConvertImages picks from: every
// type a table map can hold for MySQL and MariaDB. fuzzColumnTypes and
// fuzzTable are mysqljson's FuzzRowImage's, so that both fuzzers read an
// input alike.
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

// FuzzConvertImages decodes row images of a table the fuzzer makes up, as
// the reader does (mysqljson.CheckRows, then go-mysql's decoder). Whenever
// go-mysql decodes the images, convertImages must take every value it
// returned. (mysqljson's FuzzRowImage, from the same inputs, checks that
// its own walk over the images agrees with go-mysql's.)
func FuzzConvertImages(f *testing.F) {
	// INT, VARCHAR(10): two images.
	f.Add([]byte{1, 3, 0, 0, 17, 10, 0, 0, 1, 0, 0, 0, 2, 'h', 'i', 0, 2, 0, 0, 0, 0})
	// DECIMAL(10,4), DATETIME(6), BLOB(2), a NULL.
	f.Add([]byte{2, 7, 4, 10, 13, 6, 0, 20, 2, 0, 0x04, 0x80, 0, 0, 0, 0, 0x99, 0xb4, 0x42, 0x00, 0x00, 0x00, 0, 0, 0})
	// ENUM, SET, CHAR(3) as STRING.
	f.Add([]byte{2, 19, 1, 0xf7, 19, 1, 0xf8, 19, 3, 0xfe, 0, 1, 2, 1, 'a'})
	// JSON (4-byte length) holding an int16.
	f.Add([]byte{0, 22, 4, 0, 0, 3, 0, 0, 0, 0x05, 0x1a, 0x00})
	// JSON holding an array whose element points back at the array: go-mysql
	// alone recurses until the stack overflows (mysqljson.CheckRows refuses it).
	f.Add([]byte{0, 22, 4, 0, 0, 8, 0, 0, 0, 0x02, 0x01, 0x00, 0x07, 0x00, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, image, ok := fuzzTable(data)
		if !ok {
			return
		}
		// Event bodies have no capacity past their end (go-mysql reads past
		// a value's length where capacity allows).
		image = image[:len(image):len(image)]
		bitmap := make([]byte, (tm.ColumnCount+7)/8)
		for i := range bitmap {
			bitmap[i] = 0xff
		}
		// As rowsJob.decode: JSON values are checked before go-mysql sees them.
		h := event.RowsHead{Columns: int(tm.ColumnCount), Bitmap1: bitmap}
		if err := mysqljson.CheckRows(tm, h, image, 30); err != nil {
			return
		}
		re := &replication.RowsEvent{Table: tm, ColumnCount: tm.ColumnCount, ColumnBitmap1: bitmap}
		if err := event.DecodeRowsData(re, 0, image); err != nil {
			return
		}
		out := &txn.Rows{Table: &txn.TableMap{ColumnTypes: tm.ColumnType, ColumnMeta: tm.ColumnMeta}}
		if err := convertImages(re.Rows, out, image); err != nil {
			t.Fatalf("types %v meta %v: convertImages: %v", tm.ColumnType, tm.ColumnMeta, err)
		}
	})
}
