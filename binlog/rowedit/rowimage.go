package rowedit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlog-replay/binlog-replay/txn"
)

// Row images in a rows event follow one another without any index: to cut
// an event at its rows (Editor), each image's length is worked out from
// its table map, as the server does (Rows_log_event, calc_field_size): a
// null bitmap with a bit per column the image holds, then the value of
// each such column that is not NULL, whose size its type and metadata
// give. The sizes here follow go-mysql's decodeValue, which decodes the
// same images, so that both read an event alike (TestRowEditorFixtures
// checks them against each other on real binlogs).

// imageLen returns the length of the row image that starts data: its null
// bitmap and the values of the columns bitmap says it holds.
func imageLen(data []byte, tm *txn.TableMap, bitmap []byte) (int, error) {
	n := len(tm.ColumnTypes)
	nullBytes := (countBits(bitmap, n) + 7) / 8
	if nullBytes > len(data) {
		return 0, errors.New("row image ends inside its null bitmap")
	}
	nulls := data[:nullBytes]
	pos := nullBytes
	for i, k := 0, 0; i < n; i++ {
		if bitmap[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		null := nulls[k/8]&(1<<(k%8)) != 0
		k++
		if null {
			continue
		}
		var meta uint16
		if i < len(tm.ColumnMeta) {
			meta = tm.ColumnMeta[i]
		}
		size, err := valueLen(data[pos:], tm.ColumnTypes[i], meta)
		if err != nil {
			return 0, fmt.Errorf("column %d of `%s`.`%s`: %w", i+1, tm.Schema, tm.Table, err)
		}
		if size > len(data)-pos {
			return 0, fmt.Errorf("column %d of `%s`.`%s`: the value runs past the end of the event", i+1, tm.Schema, tm.Table)
		}
		pos += size
	}
	return pos, nil
}

// valueLen returns the size of a value of logged type typ with metadata
// meta at the start of data (which it reads only for the types whose
// values carry their length).
func valueLen(data []byte, typ byte, meta uint16) (int, error) {
	length := 0
	if typ == mysql.MYSQL_TYPE_STRING {
		typ, length = stringType(meta)
	}
	switch typ {
	case mysql.MYSQL_TYPE_NULL:
		return 0, nil
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_YEAR:
		return 1, nil
	case mysql.MYSQL_TYPE_SHORT:
		return 2, nil
	case mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE, mysql.MYSQL_TYPE_TIME:
		return 3, nil
	case mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_TIMESTAMP:
		return 4, nil
	case mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_DATETIME:
		return 8, nil
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		return 4 + (int(meta)+1)/2, nil
	case mysql.MYSQL_TYPE_DATETIME2:
		return 5 + (int(meta)+1)/2, nil
	case mysql.MYSQL_TYPE_TIME2:
		return 3 + (int(meta)+1)/2, nil
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return decimalLen(int(meta>>8), int(meta&0xff))
	case mysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		return (nbits + 7) / 8, nil
	case mysql.MYSQL_TYPE_ENUM:
		if l := int(meta & 0xff); l == 1 || l == 2 {
			return l, nil
		}
		return 0, fmt.Errorf("ENUM of pack length %d", meta&0xff)
	case mysql.MYSQL_TYPE_SET:
		return int(meta & 0xff), nil
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return prefixedLen(data, int(meta))
	case mysql.MYSQL_TYPE_STRING:
		return prefixedLen(data, length)
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_VECTOR, mysql.MYSQL_TYPE_JSON:
		return lengthBytesLen(data, int(meta))
	}
	return 0, fmt.Errorf("column type %d is not supported", typ)
}

// stringType returns the real type and maximum length of a column logged
// as MYSQL_TYPE_STRING (CHAR, BINARY, ENUM, SET), from its metadata.
func stringType(meta uint16) (byte, int) {
	if meta < 256 {
		return mysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta&0xff)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return b0, int(b1)
}

// prefixedLen is the size of a CHAR or VARCHAR value of at most max bytes:
// a length of one byte (two above 255) and the bytes.
func prefixedLen(data []byte, max int) (int, error) {
	if max < 256 {
		if len(data) < 1 {
			return 0, errors.New("string length past the end of the event")
		}
		return 1 + int(data[0]), nil
	}
	if len(data) < 2 {
		return 0, errors.New("string length past the end of the event")
	}
	return 2 + int(binary.LittleEndian.Uint16(data)), nil
}

// lengthBytesLen is the size of a BLOB-like value whose length takes n
// bytes (1 to 4) before it.
func lengthBytesLen(data []byte, n int) (int, error) {
	if n < 1 || n > 4 {
		return 0, fmt.Errorf("length of %d bytes", n)
	}
	if len(data) < n {
		return 0, errors.New("value length past the end of the event")
	}
	var b [4]byte
	copy(b[:], data[:n])
	return n + int(binary.LittleEndian.Uint32(b[:])), nil
}

// decimalDigitBytes is the size of a group of 0 to 8 decimal digits in
// the binary DECIMAL format (full groups of 9 take 4 bytes).
var decimalDigitBytes = [9]int{0, 1, 1, 2, 2, 3, 3, 4, 4}

// decimalLen is the size of a DECIMAL(precision, scale) value.
func decimalLen(precision, scale int) (int, error) {
	if scale > precision || precision > 81 {
		return 0, fmt.Errorf("DECIMAL(%d,%d)", precision, scale)
	}
	intg := precision - scale
	return intg/9*4 + decimalDigitBytes[intg%9] + scale/9*4 + decimalDigitBytes[scale%9], nil
}

// countBits returns how many of the first n bits of bitmap are set.
func countBits(bitmap []byte, n int) int {
	c := 0
	for i := 0; i < n/8; i++ {
		c += bits.OnesCount8(bitmap[i])
	}
	if r := n % 8; r > 0 {
		c += bits.OnesCount8(bitmap[n/8] & byte(1<<r-1))
	}
	return c
}
