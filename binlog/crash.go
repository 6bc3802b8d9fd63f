package binlog

import (
	"fmt"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// A server that crashes while it writes a transaction to its binlog leaves
// the file ending inside that transaction, with LOG_EVENT_BINLOG_IN_USE_F
// still set in its format description (it clears the flag when it closes
// a file). As it starts again it opens a new file, whose format
// description carries a create time (a rotated file's carries none), and
// its crash recovery rolls the transaction back: the engine had prepared
// it, and its XID is not in the binlog (MariaDB and MySQL commit an
// engine's prepared transaction only when the binlog holds it whole). It
// then logs its next transaction under the same GTID. mysqlbinlog and
// mariadb-binlog print a ROLLBACK at such a file start for the same
// reason.
//
// So the reader leaves out a transaction that a file other than the last
// ends inside when the file was not closed (read from a source server,
// which clears the flag in what it sends, any file), the next file is the
// first of a server start, and the transaction is one a rollback undoes:
// a MariaDB group the server flags as writing transactional tables only
// (FL_TRANSACTIONAL, not DDL), of which nothing was handed out yet. It
// records it in
// Stats().Cut. Anything else there is still an error: a transaction
// writing non-transactional tables changed them on the source whatever
// the binlog kept of it, DDL commits on its own, MySQL's GTID events do
// not say which tables a transaction wrote, and a file not closed that is
// followed by a rotated one is not a crash's.

// CutTxn is a transaction left out because a crash of the source cut its
// file inside it (see above).
type CutTxn struct {
	// Start is where it starts, FileEnd where its file ends.
	Start   txn.Position `json:"start"`
	FileEnd uint64       `json:"file_end"`
	// GTID is its GTID (the restarted server gave it to another
	// transaction).
	GTID string `json:"gtid,omitempty"`
	// Next is the file the server started writing when it restarted.
	Next string `json:"next"`
}

// String describes c for a report.
func (c CutTxn) String() string {
	gtid := ""
	if c.GTID != "" {
		gtid = " (GTID " + c.GTID + ")"
	}
	return fmt.Sprintf("the transaction at %s%s, which %s ends inside (at %d): the source crashed while writing it "+
		"(the file was not closed) and restarted in %s, rolling it back",
		c.Start, gtid, c.Start.File, c.FileEnd, c.Next)
}

// CutError is the error Next returns for a transaction that a file other
// than the last ends inside and that it cannot leave out (see above).
// Partial is what was read of it: its sequence number (set when Next
// returns the error), start, GTID, the
// time of its last event read (its commit's is no earlier) and, as its
// End, where its file ends (it would end no earlier): a stop point the
// transaction is past by those is honoured before it, as it would be
// were the transaction whole.
type CutError struct {
	Partial *txn.Txn
	Err     *event.Error
}

// Error implements error.
func (e *CutError) Error() string { return e.Err.Error() }

// Unwrap returns the *event.Error naming the file and offset.
func (e *CutError) Unwrap() error { return e.Err }

// partial returns what was read of the transaction being assembled, for
// a CutError or a TruncatedError.
func (r *Reader) partial() *txn.Txn {
	t := r.group.cur.t
	p := &txn.Txn{Kind: t.Kind, GTID: t.GTID, Start: t.Start, ServerID: t.ServerID,
		End: txn.Position{File: r.in.fr.Name(), Offset: r.in.fr.DataEnd()}, Time: t.Time}
	if n := len(t.Events); n > 0 {
		p.Time = time.Unix(int64(t.Events[n-1].Timestamp), 0).UTC()
	}
	return p
}

// cutAtEnd handles the end of a file other than the last inside the
// transaction being assembled (between two of its events, or inside one),
// notCut being the error that reports it. It leaves the transaction out,
// pending the next file's format description (checkCut), when the crash
// rule above may allow it, and returns notCut otherwise.
func (r *Reader) cutAtEnd(notCut *event.Error) error {
	b := r.group.cur
	if !r.notClosed(r.parse.format) || !b.transactional {
		return &CutError{Partial: r.partial(), Err: notCut}
	}
	if b.stream.part > 0 {
		notCut.Err = fmt.Errorf("%w; the file was not closed (a crash?), but the transaction was handed out in pieces already: "+
			"read whole (a larger --memory), it is left out where the next file is the first of a server start", notCut.Err)
		return notCut
	}
	r.group.cut = &pendingCut{CutTxn: CutTxn{Start: b.t.Start, FileEnd: r.in.fr.DataEnd(), GTID: b.t.GTID.String()}, err: notCut,
		partial: r.partial()}
	r.in.cont.dropLast()
	r.group.cur = nil
	clear(r.group.tables)
	r.in.fr.Close()
	r.in.fr = nil
	return nil
}

// notClosed reports whether the file of format description f may not have
// been closed by its server: f says so, or the file comes from a source
// server, which clears the flag in what it sends.
func (r *Reader) notClosed(f *event.Format) bool {
	return f.InUse || r.in.remote != nil
}

// pendingCut is a transaction cutAtEnd left out, until the next file says
// whether a server start followed it.
type pendingCut struct {
	CutTxn
	err     *event.Error // the error to report if not
	partial *txn.Txn     // for CutError
}

// checkCut is called at the format description f of each file: a
// transaction cutAtEnd left out at the end of the file before stays out
// when f is the first file of a server start; otherwise its error is
// returned.
func (r *Reader) checkCut(f *event.Format) error {
	c := r.group.cut
	if c == nil {
		return nil
	}
	r.group.cut = nil
	if f.Created == 0 {
		err := *c.err
		err.Err = fmt.Errorf("%w; the file was not closed (a crash?), but %s, which follows, is not the first file of a server start "+
			"(its format description has no create time): a file missing, or files of another server?", c.err.Err, r.in.fr.Name())
		return &CutError{Partial: c.partial, Err: &err}
	}
	c.Next = r.in.fr.Name()
	r.stats.Cut = append(r.stats.Cut, c.CutTxn)
	return nil
}
