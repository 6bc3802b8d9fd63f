package binlog

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// readyEvent is one event ready for grouping: its header, where it is, and its
// bytes.
type readyEvent struct {
	event.Header
	pos  uint64 // offset of the event (of the payload event for inner events)
	end  uint64 // offset just past the event (past the payload for inner events)
	raw  []byte // exact bytes in the file; for events inside a payload, their stand-alone form (event.Standalone)
	data []byte // the whole event as go-mysql's parser takes it
	body []byte // body without header and checksum
	// parser decodes table maps and rows: the file's, or the payload's.
	parser    *parsers
	inPayload bool
	inner     int // index (from 1) inside the TRANSACTION_PAYLOAD, 0 outside
}

// event checks and decodes one framed event and feeds it to the grouping
// state machine. It returns the transaction the event completes, if any.
func (r *Reader) event(ev event.Framed) (*pendingTxn, error) {
	if r.parse.format == nil {
		if err := r.startFile(ev); err != nil {
			return nil, err
		}
		if r.group.skipping {
			return nil, r.checkStart(readyEvent{Header: ev.Header, pos: ev.Pos, end: ev.Pos + uint64(ev.Size)})
		}
		return nil, nil
	}
	body := ev.Raw[event.HeaderSize:]
	if r.parse.format.Checksum {
		if err := event.VerifyChecksum(ev.Raw); err != nil {
			return nil, err
		}
		// No capacity past the body: go-mysql slices values past their
		// length where capacity allows (a truncated DECIMAL at the end of
		// an image would read the checksum instead of failing).
		body = body[: len(body)-4 : len(body)-4]
	}
	e := readyEvent{Header: ev.Header, pos: ev.Pos, end: ev.Pos + uint64(ev.Size),
		raw: ev.Raw, data: ev.Raw, body: body, parser: r.parse.main}
	if r.group.skipping {
		if err := r.checkStart(e); err != nil {
			return nil, err
		}
	}
	return r.dispatch(e)
}

// startFile handles the first event of a file, which must be its
// FORMAT_DESCRIPTION event, and sets up the parsers.
func (r *Reader) startFile(ev event.Framed) error {
	f, err := event.FirstFormat(ev, r.in.fr.Name())
	if err != nil {
		return err
	}
	r.parse.format = f
	if err := r.checkCut(f); err != nil {
		return err
	}
	if f.Created != 0 && r.in.cont.file != "" {
		r.group.restarted = true // txn.Txn.ServerRestarted
	}
	if err := r.in.cont.beginFile(r.in.fr.Name(), f, r.notClosed(f)); err != nil {
		return err
	}
	return r.newParsers(ev.Raw)
}

// parsers are go-mysql parsers primed with one format description. events
// decodes all but rows events. rows only sets up rows events: it never
// decodes a table map, so the map of tables that each rows event it returns
// refers to is never written. go-mysql prints that map in some decoding
// errors, which decode workers meet while events decodes table maps.
type parsers struct {
	events, rows *replication.BinlogParser
	// templates holds, by event type, a rows event rows set up
	// (Reader.rowsTemplate).
	templates map[byte]*replication.RowsEvent
}

// newParsers sets up the file's parsers from its format description fde.
func (r *Reader) newParsers(fde []byte) error {
	var err error
	if r.parse.main, err = r.newParserPair(fde); err != nil {
		return err
	}
	// Events inside a TRANSACTION_PAYLOAD have no checksum: their parsers
	// get the same format description with the algorithm set to OFF.
	if r.parse.format.Checksum {
		noCRC := append([]byte(nil), fde...)
		noCRC[len(noCRC)-5] = event.ChecksumOff
		fde = noCRC
	}
	r.parse.inner, err = r.newParserPair(fde)
	return err
}

// newParserPair returns the parsers for format description fde.
func (r *Reader) newParserPair(fde []byte) (*parsers, error) {
	events, err := r.newParser(fde)
	if err != nil {
		return nil, err
	}
	rows, err := r.newParser(fde)
	if err != nil {
		return nil, err
	}
	return &parsers{events: events, rows: rows, templates: map[byte]*replication.RowsEvent{}}, nil
}

// newParser returns a go-mysql parser primed with the format description fde.
func (r *Reader) newParser(fde []byte) (*replication.BinlogParser, error) {
	p := replication.NewBinlogParser()
	p.SetFlavor(r.parse.format.Flavor.String())
	p.SetVerifyChecksum(false) // checked here, with file and offset in the error
	p.SetParseTime(false)
	p.SetUseDecimal(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetTableMapOptionalMetaDecodeFunc(func(b []byte) error {
		r.parse.meta, r.parse.metaErr = event.ParseOptMeta(b)
		return nil
	})
	// Rows events are only set up by the parser: this package reads their
	// header (event.CheckRowsHeader) and decodes their images later (rowsJob).
	p.SetRowsEventDecodeFunc(func(*replication.RowsEvent, []byte) error { return nil })
	if _, err := event.Parse(p, fde); err != nil {
		return nil, err
	}
	return p, nil
}

// checkStart enforces Options.Start while the reader is still before it.
func (r *Reader) checkStart(e readyEvent) error {
	start := r.opts.Start.Offset
	switch {
	case e.pos == start:
		if r.group.cur != nil {
			return &event.Error{File: r.in.fr.Name(), Offset: start, Err: fmt.Errorf(
				"start position is inside the transaction starting at %s", r.group.cur.t.Start)}
		}
		r.group.skipping = false
	case e.pos < start && start < e.end:
		near := e.end
		if r.group.cur != nil {
			near = r.group.cur.t.Start.Offset
		} else if startsTxn(e.Type) {
			near = e.pos
		}
		return &event.Error{File: r.in.fr.Name(), Offset: start, Err: fmt.Errorf(
			"start position is not an event boundary (it falls inside the %s at %d); the nearest transaction boundary is %s",
			event.TypeName(e.Type), e.pos, txn.Position{File: r.in.fr.Name(), Offset: near})}
	}
	return nil
}

// startsTxn reports whether an event of type t begins a transaction when it
// comes between transactions.
func startsTxn(t byte) bool {
	switch t {
	case event.TypeGTID, event.TypeAnonymousGTID, event.TypeGTIDTagged, event.TypeMariaGTID, event.TypeQuery, event.TypeQueryCompressed,
		event.TypeIntVar, event.TypeRand, event.TypeUserVar:
		return true
	}
	return false
}

// tableIDLen is the size of the table id in TABLE_MAP and rows events of
// type t: 6 bytes, or 4 in MySQL 5.1.0-5.1.15 (post-header length 6).
func (r *Reader) tableIDLen(t byte) int {
	if r.parse.format.PostHeaderLen(t) == 6 {
		return 4
	}
	return 6
}

// tableID reads the table id that starts a TABLE_MAP or rows event body.
func (r *Reader) tableID(e readyEvent) (uint64, error) {
	n := r.tableIDLen(e.Type)
	if len(e.body) < n+2 {
		return 0, fmt.Errorf("%s body of %d bytes is too short", event.TypeName(e.Type), len(e.body))
	}
	var b [8]byte
	copy(b[:], e.body[:n])
	return binary.LittleEndian.Uint64(b[:]), nil
}
