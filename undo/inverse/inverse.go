// Package inverse makes the inverse of a range's transactions for an undo
// (Inverter: each row event turned around, the last first, or a refusal
// saying why it cannot be) and spools them to disk as the range is read
// forward, to be read back backward when they are applied (Spool).
package inverse

import (
	"fmt"

	"github.com/binlog-replay/binlog-replay/binlog/rowedit"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The inverse of a transaction. Its row events are undone one by one, the
// last first: the inverse of each (rowedit.Editor.Invert: a DELETE_ROWS
// for a WRITE_ROWS and the other way round, an UPDATE_ROWS with its images
// swapped, its rows in reverse order) goes with the table map of its table
// in a statement of its own. The transactions of the range are undone in
// reverse source order too, so that every inverse finds its rows as the
// event it undoes left them: a row inserted, updated, then deleted is
// inserted back, updated back, then deleted; a parent row deleted after its
// children is inserted back before them.

// statement is one statement of an inverse transaction: the table map of
// a table and the inverse of one row event on it.
type statement struct {
	tableMap, rows *txn.Event
}

// RefusedError says why a range cannot be undone. Nothing was written to
// the target.
type RefusedError struct {
	// Txn is the transaction concerned, when there is one.
	Txn *txn.Ref
	// Why says what cannot be undone, naming the event or table.
	Why string
}

// Error says which transaction and why.
func (e *RefusedError) Error() string {
	if e.Txn == nil {
		return "nothing undone: " + e.Why
	}
	at := "the transaction at " + e.Txn.Start.String()
	if e.Txn.GTID != "" {
		at += " (GTID " + e.Txn.GTID + ")"
	}
	return "nothing undone: " + at + " cannot be undone: " + e.Why
}

// Inverter makes the inverse statements of the transactions of a range, in
// source order, each transaction possibly in pieces (txn.Txn.Part).
type Inverter struct {
	editors map[*txn.Format]*rowedit.Editor
	// maps are the table maps read so far in the transaction, by id.
	maps map[uint64]*txn.Event
}

// NewInverter returns an inverter with no table seen yet.
func NewInverter() *Inverter {
	return &Inverter{editors: map[*txn.Format]*rowedit.Editor{}, maps: map[uint64]*txn.Event{}}
}

// Invert returns the inverse statements of the row events of t (a whole
// transaction or a piece), in t's order: the caller applies them last
// first. It refuses (a *RefusedError) what an undo cannot reverse: DDL,
// statement-format DML, writes to non-transactional tables, row images
// that lack columns, row events it cannot edit.
func (iv *Inverter) Invert(t *txn.Txn) ([]statement, error) {
	if t.Part <= 1 {
		clear(iv.maps)
	}
	refuse := func(format string, args ...any) error {
		return &RefusedError{Txn: t.Ref(), Why: fmt.Sprintf(format, args...)}
	}
	switch {
	case t.Kind == txn.KindDDL:
		return nil, refuse("it is DDL or a statement logged on its own: an undo reverses row changes only")
	case t.Kind == txn.KindStatement:
		return nil, refuse("it holds statement-format DML (binlog_format STATEMENT or MIXED): the binlog does not hold the rows it changed")
	case t.NonTransactional || t.RolledBack:
		return nil, refuse("it writes non-transactional tables (MyISAM, Aria, MEMORY...), whose changes an undo cannot apply atomically")
	}
	ed, err := iv.editor(t.Format)
	if err != nil {
		return nil, err
	}
	var out []statement
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case txn.EventTableMap:
			iv.maps[e.TableMap.ID] = e
		case txn.EventRows:
			tm := iv.maps[e.Rows.Table.ID]
			if tm == nil {
				return nil, refuse("%s at %s has no table map before it", e.TypeName, e.Pos)
			}
			inv, err := ed.Invert(e)
			if err != nil {
				return nil, &RefusedError{Txn: t.Ref(), Why: err.Error()}
			}
			out = append(out, statement{tableMap: tm, rows: inv})
		default:
			return nil, refuse("%s at %s is not a row change", e.TypeName, e.Pos)
		}
	}
	return out, nil
}

// editor returns the row editor of format f.
func (iv *Inverter) editor(f *txn.Format) (*rowedit.Editor, error) {
	if ed := iv.editors[f]; ed != nil {
		return ed, nil
	}
	ed, err := rowedit.NewEditor(f)
	if err != nil {
		return nil, err
	}
	iv.editors[f] = ed
	return ed, nil
}
