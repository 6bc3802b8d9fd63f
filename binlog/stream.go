package binlog

import (
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Streaming. A transaction can be larger than any memory budget (a batch
// job's INSERT ... SELECT writes gigabytes of row events in one). With
// Options.StreamAbove set, once the events of the transaction being read
// exceed that many bytes, the reader hands out what it has as a piece
// (txn.Txn.Part 1, 2, ...) and goes on from an empty one, so that it never
// holds more than about StreamAbove bytes of it; the last piece, read with
// the commit, has Final set. A piece ends after a row or query event, never
// between an INTVAR/RAND/USER_VAR event and its query; a piece that starts
// inside a statement begins with copies of the statement's TABLE_MAP
// events, so that its row events can be applied on their own (BINLOG
// statements take them so, the server keeping the statement open until the
// row event flagged as its end). A MySQL compressed transaction
// (TRANSACTION_PAYLOAD) is one event and is never cut.
//
// Every piece has the transaction's Seq, GTID, Start, ServerID, Format and
// Begin; Kind says what the pieces so far hold; End, Time and the
// NonTransactional and RolledBack marks are known only on the last piece.
// Bytes counts the binlog bytes of a piece's own events, so that the
// pieces' Bytes add up to the transaction's.

// streamState is what the builder of a streamed transaction keeps between
// pieces.
type streamState struct {
	// part is the number of pieces handed out so far.
	part int
	// partStart is where the bytes of the current piece start.
	partStart uint64
	// stmtMaps are the TABLE_MAP events of the statement being read (since
	// the last row event flagged as a statement's end), repeated at the
	// head of a piece that starts inside it.
	stmtMaps []txn.Event
}

// noteEvent updates the stream state of the transaction being built after
// the event ev was added to it.
func (b *builder) noteEvent(ev *txn.Event) {
	switch ev.Kind {
	case txn.EventTableMap:
		b.stream.stmtMaps = append(b.stream.stmtMaps, *ev)
	case txn.EventRows:
		if ev.Rows != nil && ev.Rows.Flags&txn.RowsFlagStmtEnd != 0 {
			b.stream.stmtMaps = b.stream.stmtMaps[:0]
		}
	}
}

// cutPiece hands out the transaction being built so far as a piece, if it
// is large enough and this is a place to cut it (see above), the event
// ending at end being its last; nil otherwise. A TRANSACTION_PAYLOAD is
// read in one step, so never cut.
func (r *Reader) cutPiece(end uint64) *pendingTxn {
	c := r.group.cur
	if r.opts.StreamAbove <= 0 || c == nil || c.state != stGroup || r.group.skipping || len(c.t.Events) == 0 {
		return nil
	}
	start := c.stream.partStart
	if start == 0 {
		start = c.t.Start.Offset
	}
	if end < start || int64(end-start) < r.opts.StreamAbove {
		return nil
	}
	if k := c.t.Events[len(c.t.Events)-1].Kind; k != txn.EventRows && k != txn.EventQuery {
		return nil
	}
	piece := *c.t
	c.stream.part++
	piece.Part = c.stream.part
	piece.Kind = r.groupKind()
	piece.Bytes = int64(end - start)
	p := &pendingTxn{t: &piece, jobs: c.jobs}
	// The next piece: the statement's table maps again, if it goes on.
	c.t.Events = make([]txn.Event, 0, max(len(piece.Events), 16))
	c.t.Events = append(c.t.Events, c.stream.stmtMaps...)
	c.t.MidStatement = len(c.stream.stmtMaps) > 0
	c.jobs = nil
	c.stream.partStart = end
	r.in.fr.NewSlab(logfile.MaxSlab)
	return p
}

// finishStream marks t, completed by the reader, as the last piece of a
// streamed transaction if pieces of it were handed out.
func (c *builder) finishStream(t *txn.Txn) {
	if c.stream.part == 0 {
		return
	}
	t.Part = c.stream.part + 1
	t.Final = true
	t.Bytes = int64(t.End.Offset - c.stream.partStart)
}
