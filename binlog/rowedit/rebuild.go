package rowedit

import (
	"encoding/binary"
	"slices"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Editable reports whether an editor takes row events of type typ
// (WRITE, UPDATE and DELETE_ROWS, v1 and v2), as far as their type says.
func Editable(typ byte) bool {
	_, ok := inverseType[typ]
	return ok
}

// Images returns the row images of the row event e, in order (for an
// update, before and after images alternate), each the image's bytes in
// e.Raw: a null bitmap and the values its column bitmap says it holds.
func (ed *Editor) Images(e *txn.Event) ([][]byte, error) {
	l, err := ed.layout(e)
	if err != nil {
		return nil, ed.errorf(e, "%w", err)
	}
	out := make([][]byte, len(l.images))
	for i, im := range l.images {
		out[i] = l.raw[im[0]:im[1]:im[1]]
	}
	return out, nil
}

// Rebuild returns a copy of the row event e that holds images instead of
// its own (for an update, before and after images alternating), with
// STMT_END_F set when stmtEnd and cleared otherwise. Its Rows, when e's
// are decoded, hold values, which must be the decoded images (one per
// image, in order). The images must be of e's table and column bitmaps:
// taken (Images) from an event of a table map with the same columns whose
// bitmaps are those of e's; Rebuild does not read them. It refuses an
// empty images, and an update given an odd number of images.
func (ed *Editor) Rebuild(e *txn.Event, images [][]byte, values [][]any, stmtEnd bool) (*txn.Event, error) {
	l, err := ed.layout(e)
	if err != nil {
		return nil, ed.errorf(e, "%w", err)
	}
	switch {
	case len(images) == 0:
		return nil, ed.errorf(e, "rebuild with no row image")
	case l.update && len(images)%2 != 0:
		return nil, ed.errorf(e, "rebuild an update with %d images (not before/after pairs)", len(images))
	case e.Rows.Decoded && len(values) != len(images):
		return nil, ed.errorf(e, "rebuild with %d images and %d decoded rows", len(images), len(values))
	}
	size := l.images0()
	for _, im := range images {
		size += len(im)
	}
	out := make([]byte, 0, size+4)
	out = append(out, l.raw[:l.images0()]...)
	flags := binary.LittleEndian.Uint16(out[l.flags:]) &^ txn.RowsFlagStmtEnd
	if stmtEnd {
		flags |= txn.RowsFlagStmtEnd
	}
	binary.LittleEndian.PutUint16(out[l.flags:], flags)
	for _, im := range images {
		out = append(out, im...)
	}
	out = ed.seal(out)
	c := *e
	c.Raw = out
	r := *e.Rows
	r.Flags = flags
	r.Rows = nil
	if r.Decoded {
		r.Rows = values
	}
	c.Rows = &r
	return &c, nil
}

// SetStmtEnd returns a copy of the row event e with STMT_END_F set: the
// last row event left of a statement whose last one was dropped (by a
// filter, by compaction) must end it, or the server keeps the
// statement's table maps open into the next. It takes any row event type:
// only its post-header changes (and its checksum).
func (ed *Editor) SetStmtEnd(e *txn.Event) (*txn.Event, error) {
	if e.Kind != txn.EventRows || e.Rows == nil {
		return nil, ed.errorf(e, "not a row event")
	}
	raw, end := e.Raw, len(e.Raw)
	if ed.format.Checksum {
		if err := event.VerifyChecksum(raw); err != nil {
			return nil, ed.errorf(e, "%w", err)
		}
		end -= 4
	}
	idLen := 6
	if ed.format.PostHeaderLen(raw[4]) == 6 {
		idLen = 4
	}
	at := event.HeaderSize + idLen
	if at+2 > end {
		return nil, ed.errorf(e, "row event of %d bytes too short for its flags", len(raw))
	}
	out := slices.Clone(raw[:end])
	flags := binary.LittleEndian.Uint16(out[at:]) | txn.RowsFlagStmtEnd
	binary.LittleEndian.PutUint16(out[at:], flags)
	c := *e
	c.Raw = ed.seal(out)
	r := *e.Rows
	r.Flags = flags
	c.Rows = &r
	return &c, nil
}
