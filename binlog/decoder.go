package binlog

import (
	"errors"
	"fmt"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Decoder decodes stand-alone TABLE_MAP and row events of binlogs of one
// format, one at a time, as the reader decodes them in a file: events kept
// apart from their file (an undo spools the events a rowedit.Editor made
// to disk and reads them back). A row event is decoded with the last
// TABLE_MAP decoded for its table id. A Decoder is not safe for concurrent
// use.
type Decoder struct {
	r *Reader
}

// NewDecoder returns a decoder of the events of binlogs whose format
// description is f.
func NewDecoder(f *txn.Format) (*Decoder, error) {
	r, err := newReader(Options{DecodeRows: true, DecodeWorkers: 1})
	if err != nil {
		return nil, err
	}
	fm, err := event.ParseFormat(f.Raw, f.Pos)
	if err != nil {
		return nil, fmt.Errorf("decoder: format description at %s: %w", f.Pos, err)
	}
	fm.Format = f // with the flavor the reader settled on
	r.parse.format, r.group.tableCache = fm, map[string]*tableEntry{}
	if err := r.newParsers(f.Raw); err != nil {
		return nil, fmt.Errorf("decoder: format description at %s: %w", f.Pos, err)
	}
	return &Decoder{r: r}, nil
}

// Decode decodes raw, the whole event (header, body, checksum), which
// errors name as being at pos: a TABLE_MAP event, or a WRITE, UPDATE or
// DELETE_ROWS event (v1 or v2) after the TABLE_MAP of its table. The
// event's row images are decoded; its values share raw's memory.
func (d *Decoder) Decode(raw []byte, pos txn.Position) (txn.Event, error) {
	ev, err := d.decode(raw, pos)
	if err != nil {
		var e *event.Error
		if !errors.As(err, &e) {
			typ := ""
			if len(raw) > 4 {
				typ = event.TypeName(raw[4])
			}
			err = &event.Error{File: pos.File, Offset: pos.Offset, EventType: typ, Err: err}
		}
		return txn.Event{}, err
	}
	return ev, nil
}

func (d *Decoder) decode(raw []byte, pos txn.Position) (txn.Event, error) {
	r := d.r
	if len(raw) < event.HeaderSize {
		return txn.Event{}, fmt.Errorf("event of %d bytes is shorter than its header", len(raw))
	}
	h := event.ParseHeader(raw)
	if int(h.Size) != len(raw) {
		return txn.Event{}, fmt.Errorf("event header says %d bytes, the event has %d", h.Size, len(raw))
	}
	body := raw[event.HeaderSize:]
	if r.parse.format.Checksum {
		if err := event.VerifyChecksum(raw); err != nil {
			return txn.Event{}, err
		}
		body = body[: len(body)-4 : len(body)-4]
	}
	e := readyEvent{Header: h, pos: pos.Offset, end: pos.Offset + uint64(len(raw)), raw: raw, data: raw, body: body, parser: r.parse.main}
	ev := txn.Event{Type: h.Type, TypeName: event.TypeName(h.Type), Pos: pos, Timestamp: h.Timestamp, Raw: raw}
	if h.Type == event.TypeTableMap {
		te, err := r.tableMap(e)
		if err != nil {
			return txn.Event{}, err
		}
		r.group.tables[te.tm.ID] = te
		ev.Kind, ev.TableMap = txn.EventTableMap, te.tm
		return ev, nil
	}
	if !decodable(h.Type) {
		return txn.Event{}, errors.New("not a TABLE_MAP nor a v1 or v2 WRITE, UPDATE or DELETE_ROWS event")
	}
	op, _ := rowsOp(h.Type)
	id, err := r.tableID(e)
	if err != nil {
		return txn.Event{}, err
	}
	te, ok := r.group.tables[id]
	if !ok {
		return txn.Event{}, fmt.Errorf("row event for table id %d has no TABLE_MAP before it", id)
	}
	head, err := event.CheckRowsHeader(h.Type, e.body, r.tableIDLen(h.Type), te.tm)
	if err != nil {
		return txn.Event{}, err
	}
	rows := newRows(op, head, te)
	tmpl, err := r.rowsTemplate(e, te)
	if err != nil {
		return txn.Event{}, err
	}
	job := rowsJob{rows: rows, tmpl: tmpl, table: te.tme, head: head, body: body, pos: e.pos, typ: h.Type}
	if err := job.decode(&r.ahead.scratch); err != nil {
		var be *event.Error
		if errors.As(err, &be) {
			be.File = pos.File
		}
		return txn.Event{}, err
	}
	ev.Kind, ev.Rows = txn.EventRows, rows
	return ev, nil
}

// decodable reports whether a Decoder decodes row events of type t: WRITE,
// UPDATE and DELETE_ROWS v1 and v2, the types a rowedit.Editor takes and
// makes.
func decodable(t byte) bool {
	switch t {
	case 23, 24, 25, 30, 31, 32:
		return true
	}
	return false
}
