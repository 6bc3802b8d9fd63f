package mysqljson

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// MySQL's PARTIAL_UPDATE_ROWS_EVENT (binlog_row_value_options=PARTIAL_JSON)
// is an UPDATE_ROWS_EVENT_V2 whose after images may log, instead of the
// value of a JSON column, the changes made to it. Each after image starts
// with its value options (a packed integer, bit 0: partial JSON) and, when
// set, a bitmap with one bit per JSON column of the table (present in the
// image or not) saying which are logged in part; then come the null bitmap
// and the values. A column logged in part holds a 4-byte length and that
// many bytes of diffs, each an operation byte, a packed path length, the
// path and, but for a removal, a packed value length and the value in
// MySQL's binary JSON (MySQL sql/json_diff.cc, Json_diff_vector).
//
// go-mysql decodes these events, but keeps only the first diff of each
// column: the reader lets it decode the rest of the images, then reads the
// diffs itself (PartialDiffs) and stores them as []txn.JSONDiff.

// partialJSONOption is the value option bit of partial JSON updates.
const partialJSONOption = 1

// PartialDiffs reads the JSON diffs of the after images of a
// PARTIAL_UPDATE_ROWS event whose images re holds (decoded by go-mysql from
// body, rows from offset h.Data) and stores them in place of go-mysql's
// values in re.Rows.
func PartialDiffs(re *replication.RowsEvent, h event.RowsHead, body []byte) error {
	tm := re.Table
	jsonCols := 0
	for _, t := range tm.ColumnType {
		if t == mysql.MYSQL_TYPE_JSON {
			jsonCols++
		}
	}
	pos, row := h.Data, 0
	for pos < len(body) {
		if row+1 >= len(re.Rows) {
			return errors.New("partial update: more images than go-mysql decoded")
		}
		var err error
		if pos, err = skipImage(tm, h.Bitmap1, body, pos); err != nil {
			return fmt.Errorf("partial update: row %d before image: %w", row/2+1, err)
		}
		if pos, err = readAfterImage(re, tm, h.Bitmap2, body, pos, jsonCols, re.Rows[row+1]); err != nil {
			return fmt.Errorf("partial update: row %d after image: %w", row/2+1, err)
		}
		row += 2
	}
	if row != len(re.Rows) {
		return fmt.Errorf("partial update: %d images read, go-mysql decoded %d", row, len(re.Rows))
	}
	return nil
}

// skipImage returns the offset past the row image at pos.
func skipImage(tm *replication.TableMapEvent, bitmap, body []byte, pos int) (int, error) {
	nulls, pos, err := nullBitmap(bitmap, int(tm.ColumnCount), body, pos)
	if err != nil {
		return 0, err
	}
	present := 0
	for i := 0; i < int(tm.ColumnCount); i++ {
		if !bitSet(bitmap, i) {
			continue
		}
		present++
		if bitSet(nulls, present-1) {
			continue
		}
		n, err := valueSize(tm.ColumnType[i], tm.ColumnMeta[i], body[pos:])
		if err != nil {
			return 0, fmt.Errorf("column %d: %w", i+1, err)
		}
		pos += n
	}
	return pos, nil
}

// readAfterImage reads the after image at pos, storing the diffs of the
// JSON columns logged in part into row, and returns the offset past it.
func readAfterImage(re *replication.RowsEvent, tm *replication.TableMapEvent, bitmap, body []byte, pos, jsonCols int, row []any) (int, error) {
	opts, pos, err := event.LengthEncodedInt(body, pos)
	if err != nil {
		return 0, fmt.Errorf("value options: %w", err)
	}
	var partial []byte
	if opts&partialJSONOption != 0 {
		nb := (jsonCols + 7) / 8
		if pos+nb > len(body) {
			return 0, errors.New("ends inside the partial JSON bitmap")
		}
		partial, pos = body[pos:pos+nb], pos+nb
	}
	nulls, pos, err := nullBitmap(bitmap, int(tm.ColumnCount), body, pos)
	if err != nil {
		return 0, err
	}
	present, json := 0, 0
	for i := 0; i < int(tm.ColumnCount); i++ {
		isPartial := false
		if tm.ColumnType[i] == mysql.MYSQL_TYPE_JSON {
			isPartial = partial != nil && bitSet(partial, json)
			json++
		}
		if !bitSet(bitmap, i) {
			continue
		}
		present++
		if bitSet(nulls, present-1) {
			continue
		}
		if !isPartial {
			n, err := valueSize(tm.ColumnType[i], tm.ColumnMeta[i], body[pos:])
			if err != nil {
				return 0, fmt.Errorf("column %d: %w", i+1, err)
			}
			pos += n
			continue
		}
		diffs, n, err := readDiffs(re, body[pos:])
		if err != nil {
			return 0, fmt.Errorf("column %d: %w", i+1, err)
		}
		row[i] = diffs
		pos += n
	}
	return pos, nil
}

// nullBitmap returns the null bitmap at pos of an image holding the
// columns set in bitmap, and the offset past it.
func nullBitmap(bitmap []byte, columns int, body []byte, pos int) ([]byte, int, error) {
	present := 0
	for i := 0; i < columns; i++ {
		if bitSet(bitmap, i) {
			present++
		}
	}
	nb := (present + 7) / 8
	if pos+nb > len(body) {
		return nil, 0, errors.New("ends inside its null bitmap")
	}
	return body[pos : pos+nb], pos + nb, nil
}

// readDiffs reads a column's list of JSON diffs and returns it with the
// bytes it took.
func readDiffs(re *replication.RowsEvent, b []byte) ([]txn.JSONDiff, int, error) {
	if len(b) < 4 {
		return nil, 0, errors.New("JSON diffs: length past the end of the event")
	}
	end := 4 + int(binary.LittleEndian.Uint32(b))
	if end > len(b) || end < 4 {
		return nil, 0, errors.New("JSON diffs: past the end of the event")
	}
	var out []txn.JSONDiff
	for pos := 4; pos < end; {
		op := txn.JSONDiffOp(b[pos])
		if op > txn.JSONRemove {
			return nil, 0, fmt.Errorf("JSON diff %d: unknown operation %d", len(out)+1, op)
		}
		n, p, err := event.LengthEncodedInt(b[:end], pos+1)
		if err != nil || n == 0 || n > uint64(end-p) {
			return nil, 0, fmt.Errorf("JSON diff %d: bad path length", len(out)+1)
		}
		d := txn.JSONDiff{Op: op, Path: string(b[p : p+int(n)])}
		pos = p + int(n)
		if op != txn.JSONRemove {
			if n, p, err = event.LengthEncodedInt(b[:end], pos); err != nil || n == 0 || n > uint64(end-p) {
				return nil, 0, fmt.Errorf("JSON diff %d: bad value length", len(out)+1)
			}
			if d.Value, err = jsonText(re, b[p:p+int(n)]); err != nil {
				return nil, 0, fmt.Errorf("JSON diff %d: %w", len(out)+1, err)
			}
			pos = p + int(n)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, 0, errors.New("JSON diffs: empty list")
	}
	return out, end, nil
}

// jsonText decodes a MySQL binary JSON value to JSON text with go-mysql,
// as the values of full images are. go-mysql does not export its decoder
// of a lone value: it decodes a one-column row image made for it instead
// (a NULL before image, then an after image holding the value), with the
// settings of re (a PARTIAL_UPDATE_ROWS event's). The value is checked
// first (checkJSONBinary).
func jsonText(re *replication.RowsEvent, bin []byte) (string, error) {
	if err := checkJSONBinary(bin); err != nil {
		return "", err
	}
	one := *re
	one.Table = &replication.TableMapEvent{ColumnCount: 1, ColumnType: []byte{mysql.MYSQL_TYPE_JSON}, ColumnMeta: []uint16{4}}
	one.ColumnCount = 1
	one.ColumnBitmap1, one.ColumnBitmap2 = []byte{1}, []byte{1}
	data := make([]byte, 0, 7+len(bin))
	data = append(data, 1, 0, 0) // before image: NULL; after image: no value options, no NULL
	data = binary.LittleEndian.AppendUint32(data, uint32(len(bin)))
	data = append(data, bin...)
	if err := event.DecodeRowsData(&one, 0, data); err != nil {
		return "", fmt.Errorf("decode JSON value: %w", err)
	}
	if len(one.Rows) != 2 || len(one.Rows[1]) != 1 {
		return "", errors.New("decode JSON value: unexpected result")
	}
	s, ok := one.Rows[1][0].(string)
	if !ok {
		return "", fmt.Errorf("decode JSON value: unexpected %T", one.Rows[1][0])
	}
	return string([]byte(s)), nil // a copy: go-mysql's shares its buffer
}

// valueSize returns the size of a value of a column of type typ and
// metadata meta at the start of b, as logged in row images.
func valueSize(typ byte, meta uint16, b []byte) (int, error) {
	n := 0
	switch typ {
	case mysql.MYSQL_TYPE_NULL:
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_YEAR:
		n = 1
	case mysql.MYSQL_TYPE_SHORT:
		n = 2
	case mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE, mysql.MYSQL_TYPE_TIME:
		n = 3
	case mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_TIMESTAMP:
		n = 4
	case mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_DATETIME:
		n = 8
	case mysql.MYSQL_TYPE_TIMESTAMP2, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIME2:
		if meta > 6 {
			return 0, fmt.Errorf("bad metadata: fractional seconds precision %d", meta)
		}
		n = 3 + (int(meta)+1)/2 // TIME2: 3 bytes, then the fraction
		switch typ {
		case mysql.MYSQL_TYPE_TIMESTAMP2:
			n++
		case mysql.MYSQL_TYPE_DATETIME2:
			n += 2
		}
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		if n = decimalSize(int(meta>>8), int(meta&0xff)); n == 0 {
			return 0, fmt.Errorf("bad metadata: DECIMAL %#x", meta)
		}
	case mysql.MYSQL_TYPE_BIT:
		n = (int(meta>>8)*8 + int(meta&0xff) + 7) / 8
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return prefixed(b, lengthBytes(int(meta)))
	case mysql.MYSQL_TYPE_STRING:
		b0, b1 := int(meta>>8), int(meta&0xff)
		switch {
		case byte(b0) == mysql.MYSQL_TYPE_ENUM || byte(b0) == mysql.MYSQL_TYPE_SET:
			n = b1
		case byte(b0)|0x30 != mysql.MYSQL_TYPE_STRING:
			return 0, fmt.Errorf("bad metadata: STRING column of real type %d", b0|0x30)
		case b0&0x30 != 0x30: // CHAR longer than 255 bytes
			return prefixed(b, lengthBytes(b1|((b0&0x30)^0x30)<<4))
		default:
			return prefixed(b, lengthBytes(b1))
		}
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_VECTOR,
		mysql.MYSQL_TYPE_TINY_BLOB, mysql.MYSQL_TYPE_MEDIUM_BLOB, mysql.MYSQL_TYPE_LONG_BLOB:
		if meta < 1 || meta > 4 {
			return 0, fmt.Errorf("bad metadata: length size %d of a type %d value", meta, typ)
		}
		return prefixed(b, int(meta))
	default:
		return 0, fmt.Errorf("values of type %d are not supported", typ)
	}
	if n > len(b) {
		return 0, errors.New("value past the end of the event")
	}
	return n, nil
}

// lengthBytes is the size of the length of a string of at most max bytes.
func lengthBytes(max int) int {
	if max < 256 {
		return 1
	}
	return 2
}

// prefixed returns the size of a value made of a little-endian length of
// size bytes and that many bytes.
func prefixed(b []byte, size int) (int, error) {
	if size > len(b) {
		return 0, errors.New("value length past the end of the event")
	}
	var l uint64
	for i := size - 1; i >= 0; i-- {
		l = l<<8 | uint64(b[i])
	}
	if l > uint64(len(b)-size) {
		return 0, errors.New("value past the end of the event")
	}
	return size + int(l), nil
}

// decimalSize is the size of a packed DECIMAL(precision, scale).
func decimalSize(precision, scale int) int {
	compressed := [...]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}
	intg := precision - scale
	if precision <= 0 || intg < 0 || scale < 0 {
		return 0
	}
	return intg/9*4 + compressed[intg%9] + scale/9*4 + compressed[scale%9]
}

// bitSet reports whether bit i of a little-endian bitmap is set.
func bitSet(bitmap []byte, i int) bool {
	return i/8 < len(bitmap) && bitmap[i/8]&(1<<(i%8)) != 0
}
