// Package rowedit makes new row events out of the row events of a binlog,
// for an undo: the inverse of an event and an event holding some of its
// rows only. It works on the events' bytes; binlog.Decoder decodes the
// events it makes.
package rowedit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Editor makes new row events out of the row events of binlogs of one
// format, for an undo: the inverse of an event (Invert) and an event
// holding some of its rows only (Keep). The events it makes are what a
// server's BINLOG statement takes, as the reader's are: the same header
// (type, flags and size changed as needed), post-header and column
// bitmaps, the rows rearranged, and a new CRC32 when the format has
// checksums. It works on the raw bytes only, so every value keeps its
// exact binary form (DOUBLE, fractional TIMESTAMP, JSON...). An Editor is
// safe for concurrent use.
type Editor struct {
	format *event.Format
}

// NewEditor returns an editor of the row events of binlogs whose format
// description is f.
func NewEditor(f *txn.Format) (*Editor, error) {
	fm, err := event.ParseFormat(f.Raw, f.Pos)
	if err != nil {
		return nil, fmt.Errorf("row editor: format description at %s: %w", f.Pos, err)
	}
	fm.Format = f // with the flavor the reader settled on
	return &Editor{format: fm}, nil
}

// inverseType maps the row event types an editor takes to the type of
// their inverse: a WRITE_ROWS undoes a DELETE_ROWS and the other way
// round, an UPDATE_ROWS undoes an UPDATE_ROWS (its images swapped). The
// types are v1 (MySQL 5.1.16+, MariaDB, which also gives its compressed
// events as v1: see event/compressed.go) and v2 (MySQL 5.6+).
var inverseType = map[byte]byte{
	23: 25, 24: 24, 25: 23, // v1
	30: 32, 31: 31, 32: 30, // v2
}

// NotFullError is returned for a row event whose images lack columns
// (binlog_row_image MINIMAL or NOBLOB): its inverse would need the values
// the images do not hold.
type NotFullError struct {
	Table string // `schema`.`table`
	// Image says which image lacks columns: "before", "after" or "row".
	Image string
}

// Error says which table and image.
func (e *NotFullError) Error() string {
	return fmt.Sprintf("the %s images of %s do not hold every column (the binlog was written with binlog_row_image MINIMAL or NOBLOB): "+
		"an inverse needs them all (binlog_row_image=FULL)", e.Image, e.Table)
}

// CheckInvertible returns why Invert would refuse the row event e as far
// as the event says without being read (its type, images that lack
// columns), nil when it does not.
func CheckInvertible(e *txn.Event) error {
	if e.Kind != txn.EventRows || e.Rows == nil || e.Rows.Table == nil || len(e.Raw) < event.HeaderSize {
		return errors.New("not a row event with its table map")
	}
	if _, ok := inverseType[e.Raw[4]]; !ok {
		return fmt.Errorf("%s events cannot be edited (only WRITE, UPDATE and DELETE_ROWS v1 and v2)", e.TypeName)
	}
	name := "`" + e.Rows.Table.Schema + "`.`" + e.Rows.Table.Table + "`"
	full := func(cols []bool) bool { return !slices.Contains(cols, false) }
	switch {
	case !full(e.Rows.Columns) && e.Rows.Op == txn.OpUpdate:
		return &NotFullError{Table: name, Image: "before"}
	case !full(e.Rows.Columns):
		return &NotFullError{Table: name, Image: "row"}
	case e.Rows.Op == txn.OpUpdate && !full(e.Rows.ColumnsAfter):
		return &NotFullError{Table: name, Image: "after"}
	}
	return nil
}

// rowsLayout is a row event cut at its parts: offsets in raw.
type rowsLayout struct {
	raw    []byte
	typ    byte
	update bool
	// flags is where the flags are; extra and extraEnd bound the v2 extra
	// row info (after its length), empty when there is none.
	flags, extra, extraEnd int
	// bitmap1 and bitmap2 are where the column bitmaps start (bitmap2 is
	// 0 but for updates); nb is their size, columns the column count.
	bitmap1, bitmap2, nb, columns int
	// images are the row images, [start, end) each, in order: for an
	// update, before and after images alternate.
	images [][2]int
	// end is where the images end (the checksum, if any, follows).
	end int
}

// rowCount is the number of rows: images, or image pairs for an update.
func (l *rowsLayout) rowCount() int {
	if l.update {
		return len(l.images) / 2
	}
	return len(l.images)
}

// layout cuts the row event e at its parts.
func (ed *Editor) layout(e *txn.Event) (*rowsLayout, error) {
	if e.Kind != txn.EventRows || e.Rows == nil || e.Rows.Table == nil {
		return nil, errors.New("not a row event with its table map")
	}
	raw := e.Raw
	if len(raw) < event.HeaderSize {
		return nil, fmt.Errorf("event of %d bytes is shorter than its header", len(raw))
	}
	typ := raw[4]
	if _, ok := inverseType[typ]; !ok {
		return nil, fmt.Errorf("%s events cannot be edited (only WRITE, UPDATE and DELETE_ROWS v1 and v2)", event.TypeName(typ))
	}
	if size := binary.LittleEndian.Uint32(raw[9:]); int(size) != len(raw) {
		return nil, fmt.Errorf("event header says %d bytes, the event has %d", size, len(raw))
	}
	l := &rowsLayout{raw: raw, typ: typ, update: typ == 24 || typ == 31, end: len(raw)}
	if ed.format.Checksum {
		if err := event.VerifyChecksum(raw); err != nil {
			return nil, err
		}
		l.end -= 4
	}
	idLen := 6
	if ed.format.PostHeaderLen(typ) == 6 {
		idLen = 4
	}
	pos := event.HeaderSize + idLen
	l.flags = pos
	pos += 2
	if typ >= 30 {
		if pos+2 > l.end {
			return nil, errors.New("row event too short")
		}
		n := int(binary.LittleEndian.Uint16(raw[pos:]))
		if n < 2 || pos+n > l.end {
			return nil, fmt.Errorf("row event extra data length %d", n)
		}
		l.extra, l.extraEnd = pos+2, pos+n
		pos += n
	}
	n, pos, err := event.LengthEncodedInt(raw[:l.end], pos)
	if err != nil {
		return nil, fmt.Errorf("row event column count: %w", err)
	}
	tm := e.Rows.Table
	if n != uint64(len(tm.ColumnTypes)) {
		return nil, fmt.Errorf("row event has %d columns, the table map of `%s`.`%s` %d", n, tm.Schema, tm.Table, len(tm.ColumnTypes))
	}
	l.columns, l.nb = int(n), (int(n)+7)/8
	l.bitmap1 = pos
	pos += l.nb
	if l.update {
		l.bitmap2 = pos
		pos += l.nb
	}
	if pos > l.end {
		return nil, errors.New("row event ends inside its column bitmaps")
	}
	for k := 0; pos < l.end; k++ {
		bitmap := raw[l.bitmap1 : l.bitmap1+l.nb]
		if l.update && k%2 == 1 {
			bitmap = raw[l.bitmap2 : l.bitmap2+l.nb]
		}
		size, err := imageLen(raw[pos:l.end], tm, bitmap)
		if err != nil {
			return nil, fmt.Errorf("row image %d: %w", k+1, err)
		}
		if size == 0 {
			return nil, errors.New("row event has row data but no column in its bitmaps")
		}
		l.images = append(l.images, [2]int{pos, pos + size})
		pos += size
	}
	if l.update && len(l.images)%2 != 0 {
		return nil, fmt.Errorf("update row event with %d images (not before/after pairs)", len(l.images))
	}
	if e.Rows.Decoded && len(e.Rows.Rows) != len(l.images) {
		return nil, fmt.Errorf("row event holds %d images, %d were decoded", len(l.images), len(e.Rows.Rows))
	}
	return l, nil
}

// full reports whether the bitmap at off lists every column.
func (l *rowsLayout) full(off int) bool {
	return countBits(l.raw[off:off+l.nb], l.columns) == l.columns
}

// Invert returns the event that undoes the row event e: a DELETE_ROWS of
// the rows a WRITE_ROWS inserted, a WRITE_ROWS of the rows a DELETE_ROWS
// deleted (their whole before images), an UPDATE_ROWS setting the rows an
// UPDATE_ROWS changed back (each before image swapped with its after
// image). The rows come in reverse order, and the event ends its
// statement (STMT_END_F): the caller puts the table map of its table
// before it, alone in a statement. Its Type is the inverse type, its Pos
// e's; its Rows, decoded when e's are, describe it. It refuses an event
// whose images lack columns (a *NotFullError) and an event type it cannot
// edit (v0, PARTIAL_UPDATE_ROWS, MariaDB's v2 compressed events).
func (ed *Editor) Invert(e *txn.Event) (*txn.Event, error) {
	l, err := ed.layout(e)
	if err != nil {
		return nil, ed.errorf(e, "%w", err)
	}
	tm := e.Rows.Table
	name := "`" + tm.Schema + "`.`" + tm.Table + "`"
	switch {
	case !l.full(l.bitmap1) && l.update:
		return nil, ed.errorf(e, "%w", &NotFullError{Table: name, Image: "before"})
	case !l.full(l.bitmap1):
		return nil, ed.errorf(e, "%w", &NotFullError{Table: name, Image: "row"})
	case l.update && !l.full(l.bitmap2):
		return nil, ed.errorf(e, "%w", &NotFullError{Table: name, Image: "after"})
	}
	raw := l.raw
	out := make([]byte, 0, len(raw))
	out = append(out, raw[:l.images0()]...)
	out[4] = inverseType[l.typ]
	flags := binary.LittleEndian.Uint16(out[l.flags:]) | txn.RowsFlagStmtEnd
	binary.LittleEndian.PutUint16(out[l.flags:], flags)
	if l.update {
		copy(out[l.bitmap1:], raw[l.bitmap2:l.bitmap2+l.nb])
		copy(out[l.bitmap2:], raw[l.bitmap1:l.bitmap1+l.nb])
		if err := swapPartitions(out[l.extra:l.extraEnd]); err != nil {
			return nil, ed.errorf(e, "%w", err)
		}
	} else if l.extraEnd > l.extra && out[l.extra] == extraRowInfoNDB {
		return nil, ed.errorf(e, "NDB extra row info cannot be carried to an inverse event")
	}
	for i := len(l.images) - 1; i >= 0; i-- {
		if l.update {
			// The pair i-1 (before), i (after) becomes after, before.
			out = append(out, raw[l.images[i][0]:l.images[i][1]]...)
			out = append(out, raw[l.images[i-1][0]:l.images[i-1][1]]...)
			i--
			continue
		}
		out = append(out, raw[l.images[i][0]:l.images[i][1]]...)
	}
	out = ed.seal(out)
	inv := &txn.Event{Kind: txn.EventRows, Type: out[4], Pos: e.Pos, Timestamp: e.Timestamp, Raw: out,
		TypeName: event.TypeName(out[4]) + " (inverse of " + e.TypeName + ")",
		Rows:     invertRows(e.Rows, flags)}
	return inv, nil
}

// images0 is where the first image starts (the end of the bitmaps).
func (l *rowsLayout) images0() int {
	if l.update {
		return l.bitmap2 + l.nb
	}
	return l.bitmap1 + l.nb
}

// Extra row info types of v2 row events.
const (
	extraRowInfoNDB       = 0
	extraRowInfoPartition = 1
)

// swapPartitions swaps, in the extra row info of an update event, the
// partition of the after image with the one of the before image; other
// extra info is refused.
func swapPartitions(extra []byte) error {
	switch {
	case len(extra) == 0:
		return nil
	case extra[0] == extraRowInfoPartition && len(extra) >= 5:
		a, b := binary.LittleEndian.Uint16(extra[1:]), binary.LittleEndian.Uint16(extra[3:])
		binary.LittleEndian.PutUint16(extra[1:], b)
		binary.LittleEndian.PutUint16(extra[3:], a)
		return nil
	}
	return fmt.Errorf("extra row info of type %d cannot be carried to an inverse event", extra[0])
}

// invertRows returns the decoded form of the inverse of r, whose flags
// become flags.
func invertRows(r *txn.Rows, flags uint16) *txn.Rows {
	out := &txn.Rows{Table: r.Table, Flags: flags, Columns: r.Columns, Decoded: r.Decoded}
	switch r.Op {
	case txn.OpInsert:
		out.Op = txn.OpDelete
	case txn.OpDelete:
		out.Op = txn.OpInsert
	default:
		out.Op = txn.OpUpdate
		out.Columns, out.ColumnsAfter = r.ColumnsAfter, r.Columns
	}
	if !r.Decoded {
		return out
	}
	out.Rows = make([][]any, 0, len(r.Rows))
	for i := len(r.Rows) - 1; i >= 0; i-- {
		if r.Op == txn.OpUpdate {
			out.Rows = append(out.Rows, r.Rows[i], r.Rows[i-1])
			i--
			continue
		}
		out.Rows = append(out.Rows, r.Rows[i])
	}
	return out
}

// Keep returns a copy of the row event e holding only the rows keep
// accepts (row i is the i-th image, or the i-th before/after pair of an
// update, from 0), in their order, or nil when it accepts none.
func (ed *Editor) Keep(e *txn.Event, keep func(row int) bool) (*txn.Event, error) {
	l, err := ed.layout(e)
	if err != nil {
		return nil, ed.errorf(e, "%w", err)
	}
	per := 1
	if l.update {
		per = 2
	}
	raw := l.raw
	out := make([]byte, 0, len(raw))
	out = append(out, raw[:l.images0()]...)
	var kept []int
	for row := 0; row < l.rowCount(); row++ {
		if !keep(row) {
			continue
		}
		kept = append(kept, row)
		first, last := l.images[row*per], l.images[row*per+per-1]
		out = append(out, raw[first[0]:last[1]]...)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	out = ed.seal(out)
	c := *e
	c.Raw = out
	if e.Rows != nil {
		r := *e.Rows
		if r.Decoded {
			r.Rows = make([][]any, 0, len(kept)*per)
			for _, row := range kept {
				r.Rows = append(r.Rows, e.Rows.Rows[row*per:row*per+per]...)
			}
		}
		c.Rows = &r
	}
	return &c, nil
}

// seal sets the size of the event out (all but its checksum) and appends
// the checksum when the format has them.
func (ed *Editor) seal(out []byte) []byte {
	size := len(out)
	if ed.format.Checksum {
		size += 4
	}
	binary.LittleEndian.PutUint32(out[9:], uint32(size))
	if ed.format.Checksum {
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
	}
	return out
}

// errorf returns an *event.Error naming the event e.
func (ed *Editor) errorf(e *txn.Event, format string, args ...any) error {
	return &event.Error{File: e.Pos.File, Offset: e.Pos.Offset, EventType: e.TypeName, Err: fmt.Errorf(format, args...)}
}
