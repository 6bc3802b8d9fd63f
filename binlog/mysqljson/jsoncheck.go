// Package mysqljson reads MySQL's binary JSON in row events where go-mysql
// alone cannot be trusted with it: it checks every binary JSON value of the
// row images and JSON diffs of an event before go-mysql decodes them
// (CheckRows), and reads the JSON diffs of PARTIAL_UPDATE_ROWS events, of
// which go-mysql keeps only the first (PartialDiffs).
package mysqljson

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
)

// go-mysql decodes MySQL's binary JSON by following the offsets of the
// values in each object and array without checking where they point: a
// value pointing back at its own container recurses until the goroutine's
// stack overflows, which kills the process (no recover stops it), and
// values sharing their bytes make the work grow exponentially with the
// depth. checkJSONBinary checks the containers of a value first; the
// reader runs it on every binary JSON value before go-mysql sees it
// (CheckRows, jsonText). Found by FuzzJSONBinary.

// Binary JSON container types and the inline value types (MySQL
// sql-common/json_binary.h).
const (
	jsonSmallObject = 0x00
	jsonLargeObject = 0x01
	jsonSmallArray  = 0x02
	jsonLargeArray  = 0x03
	jsonLiteral     = 0x04
	jsonInt16       = 0x05
	jsonUint16      = 0x06
	jsonInt32       = 0x07
	jsonUint32      = 0x08
)

// maxJSONDepth is MySQL's limit on the nesting of a JSON document
// (JSON_DOCUMENT_MAX_DEPTH).
const maxJSONDepth = 100

// checkJSONBinary checks the objects and arrays of the binary JSON value
// doc (its type byte, then its data): each holds its header, every value
// it points to lies in it after the header, nesting is at most
// maxJSONDepth deep, and no byte is visited more often than that (values
// do not share their bytes). Scalars are left to go-mysql, which checks
// their lengths.
func checkJSONBinary(doc []byte) error {
	if len(doc) == 0 {
		return nil
	}
	c := jsonChecker{budget: (maxJSONDepth + 1) * len(doc)}
	if err := c.value(doc[0], doc[1:], 1); err != nil {
		return fmt.Errorf("binary JSON: %w", err)
	}
	return nil
}

// jsonChecker walks the containers of a binary JSON value; budget is how
// many container bytes it may still visit.
type jsonChecker struct{ budget int }

// value checks the value of type typ whose data starts b, at depth.
func (c *jsonChecker) value(typ byte, b []byte, depth int) error {
	if typ > jsonLargeArray {
		return nil
	}
	if depth > maxJSONDepth {
		return fmt.Errorf("nested deeper than %d", maxJSONDepth)
	}
	small := typ == jsonSmallObject || typ == jsonSmallArray
	object := typ == jsonSmallObject || typ == jsonLargeObject
	w := 4
	if small {
		w = 2
	}
	if len(b) < 2*w {
		return errors.New("container header past the end of the value")
	}
	count, size := jsonUint(b, w), jsonUint(b[w:], w)
	entries := 2 * w
	if object {
		entries += count * (w + 2) // key entries
	}
	header := entries + count*(1+w)
	if size > len(b) || header > size {
		return fmt.Errorf("container of %d bytes (header %d) in %d bytes", size, header, len(b))
	}
	if c.budget -= size; c.budget < 0 {
		return errors.New("values share their bytes")
	}
	for i := 0; i < count; i++ {
		e := entries + i*(1+w)
		t := b[e]
		if t == jsonLiteral || t == jsonInt16 || t == jsonUint16 || !small && (t == jsonInt32 || t == jsonUint32) {
			continue // inlined in the entry
		}
		off := jsonUint(b[e+1:], w)
		if off < header || off >= size {
			return fmt.Errorf("value %d at offset %d, outside its container's data (%d to %d)", i, off, header, size)
		}
		if err := c.value(t, b[off:size], depth+1); err != nil {
			return err
		}
	}
	return nil
}

// jsonUint reads a little-endian unsigned integer of w (2 or 4) bytes.
func jsonUint(b []byte, w int) int {
	if w == 2 {
		return int(binary.LittleEndian.Uint16(b))
	}
	return int(binary.LittleEndian.Uint32(b))
}

// CheckRows runs checkJSONBinary on the MySQL JSON values of the row
// images in body from offset h.data (and on the values of the JSON diffs
// of a PARTIAL_UPDATE_ROWS event), before go-mysql decodes them. An image
// that cannot be walked is an error too: go-mysql would refuse it.
func CheckRows(tm *replication.TableMapEvent, h event.RowsHead, body []byte, typ byte) error {
	jsonCols := 0
	for _, t := range tm.ColumnType {
		if t == mysql.MYSQL_TYPE_JSON {
			jsonCols++
		}
	}
	if jsonCols == 0 {
		return nil
	}
	update := typ == 21 || typ == 24 || typ == 31 || typ == event.TypePartialUpdateRows
	var err error
	for pos := h.Data; pos < len(body); {
		if pos, err = checkImageJSON(tm, h.Bitmap1, body, pos, nil); err != nil {
			return err
		}
		if !update {
			continue
		}
		var partial []byte
		if typ == event.TypePartialUpdateRows {
			var opts uint64
			if opts, pos, err = event.LengthEncodedInt(body, pos); err != nil {
				return fmt.Errorf("value options: %w", err)
			}
			if opts&partialJSONOption != 0 {
				nb := (jsonCols + 7) / 8
				if pos+nb > len(body) {
					return errors.New("ends inside the partial JSON bitmap")
				}
				partial, pos = body[pos:pos+nb], pos+nb
			}
		}
		if pos, err = checkImageJSON(tm, h.Bitmap2, body, pos, partial); err != nil {
			return err
		}
	}
	return nil
}

// checkImageJSON checks the JSON values of the image at pos and returns
// the offset past it; partial is the partial JSON bitmap of an after
// image of a PARTIAL_UPDATE_ROWS event, or nil.
func checkImageJSON(tm *replication.TableMapEvent, bitmap, body []byte, pos int, partial []byte) (int, error) {
	nulls, pos, err := nullBitmap(bitmap, int(tm.ColumnCount), body, pos)
	if err != nil {
		return 0, err
	}
	present, json := 0, 0
	for i := 0; i < int(tm.ColumnCount) && i < len(tm.ColumnType) && i < len(tm.ColumnMeta); i++ {
		isJSON := tm.ColumnType[i] == mysql.MYSQL_TYPE_JSON
		isPartial := isJSON && bitSet(partial, json)
		if isJSON {
			json++
		}
		if !bitSet(bitmap, i) {
			continue
		}
		present++
		if bitSet(nulls, present-1) {
			continue
		}
		if isPartial {
			n, err := checkDiffsJSON(body[pos:])
			if err != nil {
				return 0, fmt.Errorf("column %d: %w", i+1, err)
			}
			pos += n
			continue
		}
		n, err := valueSize(tm.ColumnType[i], tm.ColumnMeta[i], body[pos:])
		if err != nil {
			return 0, fmt.Errorf("column %d: %w", i+1, err)
		}
		if isJSON {
			if err := checkJSONBinary(body[pos+int(tm.ColumnMeta[i]) : pos+n]); err != nil {
				return 0, fmt.Errorf("column %d: %w", i+1, err)
			}
		}
		pos += n
	}
	return pos, nil
}

// checkDiffsJSON checks the values of a column's list of JSON diffs (as
// readDiffs reads it) and returns the bytes the list takes.
func checkDiffsJSON(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, errors.New("JSON diffs: length past the end of the event")
	}
	end := 4 + int(binary.LittleEndian.Uint32(b))
	if end > len(b) || end < 4 {
		return 0, errors.New("JSON diffs: past the end of the event")
	}
	for pos := 4; pos < end; {
		op := b[pos]
		n, p, err := event.LengthEncodedInt(b[:end], pos+1) // the path
		if err != nil || n > uint64(end-p) {
			return 0, errors.New("JSON diffs: bad path length")
		}
		pos = p + int(n)
		if op == 2 { // a removal holds no value
			continue
		}
		if n, p, err = event.LengthEncodedInt(b[:end], pos); err != nil || n > uint64(end-p) {
			return 0, errors.New("JSON diffs: bad value length")
		}
		if err := checkJSONBinary(b[p : p+int(n)]); err != nil {
			return 0, err
		}
		pos = p + int(n)
	}
	return end, nil
}
