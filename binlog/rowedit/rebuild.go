package rowedit

import (
	"encoding/binary"

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
