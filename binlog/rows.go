package binlog

import (
	"fmt"
	"unsafe"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// convertTableMap turns go-mysql's table map and the optional metadata
// decoded here into the project's.
func convertTableMap(tm *replication.TableMapEvent, meta event.OptMeta, flavor txn.Flavor) (*txn.TableMap, error) {
	n := int(tm.ColumnCount)
	out := &txn.TableMap{
		ID:          tm.TableID,
		Schema:      string(tm.Schema),
		Table:       string(tm.Table),
		ColumnTypes: tm.ColumnType,
		ColumnMeta:  tm.ColumnMeta,
		Nullable:    bitmapBools(tm.NullBitmap, n),
		Unsigned:    unsignedColumns(meta.Signedness, tm.ColumnType, flavor),
		PrimaryKey:  meta.PrimaryKey,
	}
	if meta.Names != nil {
		if len(meta.Names) != n {
			return nil, fmt.Errorf("table map of `%s`.`%s` names %d columns, has %d", out.Schema, out.Table, len(meta.Names), n)
		}
		out.ColumnNames = meta.Names
	}
	for _, c := range meta.PrimaryKey {
		if c >= n {
			return nil, fmt.Errorf("table map of `%s`.`%s`: primary key column %d out of %d", out.Schema, out.Table, c, n)
		}
	}
	return out, nil
}

// unsignedColumns expands the SIGNEDNESS optional metadata: one bit per
// numeric column, most significant bit first. Which columns count as numeric
// differs: MySQL (is_numeric_type) counts the integers, FLOAT, DOUBLE and
// DECIMAL; MariaDB (every Field_num) also YEAR and the pre-5.0 DECIMAL. It
// returns nil without metadata.
func unsignedColumns(bitmap []byte, types []byte, flavor txn.Flavor) []bool {
	if len(bitmap) == 0 {
		return nil
	}
	out := make([]bool, len(types))
	bit := 0
	for i, t := range types {
		switch t {
		case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
			mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		case mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_DECIMAL:
			if flavor != txn.FlavorMariaDB {
				continue
			}
		default:
			continue
		}
		if bit/8 >= len(bitmap) {
			return nil // metadata too short: trust none of it
		}
		out[i] = bitmap[bit/8]&(0x80>>(bit%8)) != 0
		bit++
	}
	return out
}

// bitmapBools expands an n-bit little-endian bitmap.
func bitmapBools(bitmap []byte, n int) []bool {
	if len(bitmap)*8 < n {
		return nil
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = bitmap[i/8]&(1<<(i%8)) != 0
	}
	return out
}

// rowsOp returns the operation of a rows event type.
func rowsOp(t byte) (txn.Op, bool) {
	switch t {
	case 20, 23, 30, 166: // WRITE_ROWS v0, v1, v2, MariaDB compressed v1
		return txn.OpInsert, true
	case 21, 24, 31, 39, 167: // UPDATE_ROWS ..., PARTIAL_UPDATE_ROWS
		return txn.OpUpdate, true
	case 22, 25, 32, 168: // DELETE_ROWS ...
		return txn.OpDelete, true
	}
	return 0, false
}

// isRowsEvent reports whether t is a row event type, including the MariaDB
// compressed forms this reader cannot decode (169-171).
func isRowsEvent(t byte) bool {
	_, ok := rowsOp(t)
	return ok || (t >= 169 && t <= 171)
}

// newRows returns the Rows of an event on table te from its header; the
// images are decoded later (rowsJob), if at all.
func newRows(op txn.Op, h event.RowsHead, te *tableEntry) *txn.Rows {
	out := &txn.Rows{
		Op:      op,
		Table:   te.tm,
		Flags:   h.Flags,
		Columns: te.columns(h.Bitmap1, h.Columns),
	}
	if op == txn.OpUpdate {
		out.ColumnsAfter = te.columns(h.Bitmap2, h.Columns)
	}
	return out
}

// convertImages converts the row images go-mysql decoded (each row has a
// value per column) from the event body to the types txn.Rows documents,
// and stores them in out.
func convertImages(rows [][]any, out *txn.Rows, body []byte) error {
	table := out.Table
	n := len(table.ColumnTypes)
	for ri, row := range rows {
		if len(row) != n {
			return fmt.Errorf("row %d has %d values, want %d", ri, len(row), n)
		}
		for ci, v := range row {
			cv, err := convertValue(v, table, ci, body)
			if err != nil {
				return fmt.Errorf("row %d column %d of `%s`.`%s`: %w", ri, ci, table.Schema, table.Table, err)
			}
			row[ci] = cv
		}
	}
	out.Rows = rows
	out.Decoded = true
	return nil
}

// convertValue maps a go-mysql row value to the types txn.Rows documents:
// nil, int64, uint64, float32, float64, string (DECIMAL, temporal, JSON) or
// []byte. Integers are unsigned only when the table map says so; BIT and SET
// are uint64 bit patterns, ENUM the int64 index of the value.
func convertValue(v any, table *txn.TableMap, col int, body []byte) (any, error) {
	unsigned := len(table.Unsigned) > col && table.Unsigned[col]
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int8:
		if unsigned {
			return uint64(uint8(x)), nil
		}
		return int64(x), nil
	case int16:
		if unsigned {
			return uint64(uint16(x)), nil
		}
		return int64(x), nil
	case int32:
		if unsigned {
			if table.ColumnTypes[col] == mysql.MYSQL_TYPE_INT24 {
				return uint64(uint32(x) & 0xffffff), nil
			}
			return uint64(uint32(x)), nil
		}
		return int64(x), nil
	case int64:
		return convertInt64(x, table, col, unsigned), nil
	case int: // YEAR
		return int64(x), nil
	case float32, float64:
		return x, nil
	case string:
		return convertString(x, table.ColumnTypes[col], body), nil
	case []byte:
		return x, nil
	case []txn.JSONDiff: // set by partialDiffs
		return x, nil
	}
	return nil, fmt.Errorf("unexpected decoded value of type %T", v)
}

// convertInt64 handles the int64 values go-mysql returns for BIGINT, BIT,
// ENUM and SET columns.
func convertInt64(x int64, table *txn.TableMap, col int, unsigned bool) any {
	typ := table.ColumnTypes[col]
	if typ == mysql.MYSQL_TYPE_STRING && len(table.ColumnMeta) > col {
		typ = byte(table.ColumnMeta[col] >> 8) // ENUM and SET are logged as STRING
	}
	switch {
	case typ == mysql.MYSQL_TYPE_BIT || typ == mysql.MYSQL_TYPE_SET:
		return uint64(x)
	case typ == mysql.MYSQL_TYPE_ENUM:
		return x
	case unsigned:
		return uint64(x)
	}
	return x
}

// convertString keeps DECIMAL, temporal and JSON values as text and turns
// character and binary strings into bytes (their charset is not UTF-8 in
// general). body is the event body the value was decoded from.
func convertString(s string, typ byte, body []byte) any {
	switch typ {
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING:
		return stringBytes(s, body)
	}
	return s
}

// stringBytes returns the bytes of a CHAR or VARCHAR value. go-mysql returns
// such a value as a string sharing the memory of the event body
// (utils.ByteSliceToString): when s lies inside body, the slice is a view of
// body, as BLOB values are, without a copy; otherwise (a compressed event's
// values lie in its decompressed data) it is a copy. The view's capacity is
// its length, so appending to it copies. An empty value is an empty,
// non-nil slice (a nil one would read as NULL).
func stringBytes(s string, body []byte) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	if p < start || p+uintptr(len(s)) > start+uintptr(len(body)) {
		return []byte(s)
	}
	off := int(p - start)
	return body[off : off+len(s) : off+len(s)]
}
