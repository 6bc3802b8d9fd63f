// Package binlog reads MySQL and MariaDB binary log files and turns them into
// transactions (txn.Txn). It is the only package that knows how binlog bytes
// are parsed; it uses go-mysql for table maps, row images and compressed
// payloads, and parses the rest itself.
//
// What the reader guarantees:
//   - Every txn.Event carries Raw, the exact bytes of the event in the file
//     (header, body and checksum), and Pos, its offset. Events that came out
//     of a MySQL 8 TRANSACTION_PAYLOAD (binlog_transaction_compression) have
//     Raw == nil and Pos == the payload event's offset: they cannot be sent
//     back in a BINLOG statement one by one.
//   - CRC32 checksums are verified when the file has them.
//   - An event it does not understand, inside or outside a transaction, is
//     an *Error naming file, offset and type, unless it carries the server's
//     IGNORABLE flag or Options.SkipUnknown is set: then it is skipped and
//     counted in Stats().Skipped.
//   - A file that ends inside an event or a transaction is an error: a
//     *TruncatedError (errors.Is ErrTruncated) for the last file, after every
//     complete transaction was returned; an *Error for any other file.
//
// Row values (Options.DecodeRows) have the types txn.Rows documents, with
// these rules: integers are int64 unless the table map's optional metadata
// says the column is unsigned (binlog_row_metadata=MINIMAL/FULL on MySQL 8,
// FULL on MariaDB), then uint64 — without that metadata an unsigned column
// above the signed range comes back negative and the caller must fix it from
// the schema; BIT and SET are uint64 bit patterns; ENUM is the int64
// ordinal (1 for the first member); YEAR is int64; DECIMAL, DATE, TIME and
// DATETIME are MySQL text, MySQL's JSON is JSON text (MariaDB's JSON is a
// LONGTEXT: []byte);
// TIMESTAMP is text in UTC (apply it with time_zone '+00:00'); CHAR, VARCHAR,
// BINARY, VARBINARY are []byte (BINARY loses its trailing zero bytes in the
// binlog: re-pad from the schema); BLOB, TEXT, GEOMETRY and VECTOR are []byte
// sharing memory with Event.Raw: treat values as read-only. A
// PARTIAL_UPDATE_ROWS event (MySQL binlog_row_value_options=PARTIAL_JSON) is
// never decoded, even with DecodeRows: go-mysql reads only the first JSON
// diff of a column, so its Rows.Decoded is false and only passthrough can
// apply it.
//
// Refused with an *Error (they need semantics a plain replay lacks): XA
// transactions, a transaction ending in ROLLBACK (non-transactional changes
// rolled back on the source), MariaDB two-phase ALTER, LOAD DATA events,
// INCIDENT events, encrypted binlogs, a second FORMAT_DESCRIPTION in a file
// (relay logs), MariaDB compressed row events in the v2 layout (169-171).
// Known limit: MariaDB tables whose TIMESTAMP/DATETIME/TIME(n>0) columns
// still use the pre-10.1 format are logged without their size, so decoding
// their rows fails (or could misread them); read them with DecodeRows off.
package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/txn"
)

// Options says where to start and what to decode.
type Options struct {
	// Start is where to begin: zero means the first file's beginning. File
	// is a base name among the files given to NewReader; Offset must be an
	// event boundary outside any transaction (where a transaction starts,
	// or a transaction's End). Offsets 0 and 4 mean the file's beginning.
	Start txn.Position
	// DecodeRows decodes row images into txn.Rows.Rows; otherwise
	// Rows.Decoded is false and only the event's Raw bytes are usable.
	DecodeRows bool
	// SkipUnknown skips events of types the reader does not understand
	// instead of failing; each one is counted in Stats().Skipped.
	SkipUnknown bool
}

// Stats counts what a Reader has read so far.
type Stats struct {
	// Events and Bytes count the events read (including skipped ones and
	// those before Options.Start).
	Events uint64
	Bytes  uint64
	// Txns counts the transactions returned.
	Txns uint64
	// Skipped counts, by event type name, the events skipped because they
	// carry the IGNORABLE flag or because Options.SkipUnknown was set.
	Skipped map[string]uint64
}

// Reader reads transactions from a sequence of binlog files. It is not safe
// for concurrent use.
type Reader struct {
	files []string
	opts  Options
	next  int // index in files of the next file to open

	fr     *fileReader
	last   bool // fr is the last file
	format *format
	main   *replication.BinlogParser // decodes the file's events
	inner  *replication.BinlogParser // decodes events inside a TRANSACTION_PAYLOAD

	meta    optMeta // optional metadata of the table map being decoded
	metaErr error   // error decoding it

	cur      *builder                 // transaction being assembled, nil between transactions
	tables   map[uint64]*txn.TableMap // table maps of the current transaction
	skipping bool                     // before opts.Start in its file
	lastEnd  txn.Position
	seq      uint64
	stats    Stats
	err      error // sticky: returned by every later Next
}

// NewReader returns a reader of files, in the order given (see ResolveFiles).
// It returns an error if files is empty or opts.Start names a file that is
// not among them. Files are opened lazily by Next.
func NewReader(files []string, opts Options) (*Reader, error) {
	if len(files) == 0 {
		return nil, errors.New("new binlog reader: no files")
	}
	r := &Reader{files: files, opts: opts, tables: map[uint64]*txn.TableMap{},
		stats: Stats{Skipped: map[string]uint64{}}}
	if opts.Start.IsZero() {
		return r, nil
	}
	if opts.Start.Offset > 0 && opts.Start.Offset < uint64(len(binlogMagic)) {
		return nil, fmt.Errorf("new binlog reader: start offset %d is inside the file header", opts.Start.Offset)
	}
	for i, f := range files {
		if filepath.Base(f) == opts.Start.File {
			r.next = i
			r.lastEnd = opts.Start
			return r, nil
		}
	}
	return nil, fmt.Errorf("new binlog reader: start file %q is not among the %d binlog files", opts.Start.File, len(files))
}

// Stats returns what the reader has counted so far.
func (r *Reader) Stats() Stats {
	s := r.stats
	s.Skipped = make(map[string]uint64, len(r.stats.Skipped))
	for k, v := range r.stats.Skipped {
		s.Skipped[k] = v
	}
	return s
}

// Close closes the open file, if any. Next returns an error after Close.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("binlog reader closed")
	}
	if r.fr == nil {
		return nil
	}
	err := r.fr.close()
	r.fr = nil
	return err
}

// Next returns the next complete transaction, or io.EOF after the last one.
// It returns ctx.Err() if ctx is done (the reader can be used again), an
// *Error for input it cannot read, or a *TruncatedError when the last file
// ends inside an event or a transaction. After io.EOF or a read error,
// every call returns the same error.
func (r *Reader) Next(ctx context.Context) (*txn.Txn, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := r.step()
		if err != nil {
			r.fail(err)
			continue
		}
		if t != nil {
			r.seq++
			t.Seq = r.seq
			r.lastEnd = t.End
			r.stats.Txns++
			return t, nil
		}
	}
}

// fail records err as the reader's final state and closes the file.
func (r *Reader) fail(err error) {
	r.err = err
	if r.fr != nil {
		r.fr.close()
		r.fr = nil
	}
}

// step reads one event and returns the transaction it completes, if any.
func (r *Reader) step() (*txn.Txn, error) {
	if r.fr == nil {
		if r.next == len(r.files) {
			return nil, io.EOF
		}
		if err := r.open(); err != nil {
			return nil, err
		}
	}
	ev, err := r.fr.next()
	switch {
	case errors.Is(err, io.EOF):
		return nil, r.endOfFile()
	case errors.Is(err, errShortFile):
		return nil, r.shortFile(ev)
	case err != nil:
		return nil, err
	}
	r.stats.Events++
	r.stats.Bytes += uint64(ev.Size)
	t, err := r.event(ev)
	if err != nil {
		return nil, wrapErr(err, r.fr.name, ev)
	}
	if t != nil && r.skipping {
		return nil, nil // before the start position
	}
	return t, nil
}

// open opens the next file.
func (r *Reader) open() error {
	path := r.files[r.next]
	fr, err := openFile(path)
	if err != nil {
		return err
	}
	r.fr, r.format, r.main, r.inner = fr, nil, nil, nil
	r.next++
	r.last = r.next == len(r.files)
	r.skipping = r.opts.Start.File == fr.name && r.opts.Start.Offset > uint64(len(binlogMagic))
	return nil
}

// endOfFile handles a clean end of the current file.
func (r *Reader) endOfFile() error {
	fr := r.fr
	if r.skipping {
		if r.opts.Start.Offset > fr.size {
			return &Error{File: fr.name, Offset: r.opts.Start.Offset,
				Err: fmt.Errorf("start offset is beyond the end of the file (%d bytes)", fr.size)}
		}
		r.skipping = false // the start was the end of the file
	}
	if r.cur != nil {
		if r.last {
			return &TruncatedError{File: fr.name, Size: fr.size, Partial: r.cur.t.Start, LastEnd: r.lastEnd}
		}
		return &Error{File: fr.name, Offset: fr.size,
			Err: fmt.Errorf("file ends inside the transaction starting at %s, and more files follow", r.cur.t.Start)}
	}
	r.fr = nil
	return fr.close()
}

// shortFile handles a file that ends inside the event at ev.Pos.
func (r *Reader) shortFile(ev rawEvent) error {
	fr := r.fr
	partial := txn.Position{File: fr.name, Offset: ev.Pos}
	if r.cur != nil {
		partial = r.cur.t.Start
	}
	if r.last && !r.skipping {
		return &TruncatedError{File: fr.name, Size: fr.size, Partial: partial, LastEnd: r.lastEnd, InEvent: true}
	}
	if r.last {
		return &Error{File: fr.name, Offset: ev.Pos,
			Err: fmt.Errorf("file ends inside this event (file size %d), before the start position", fr.size)}
	}
	return &Error{File: fr.name, Offset: ev.Pos,
		Err: fmt.Errorf("file ends inside this event (file size %d), and more files follow", fr.size)}
}

// wrapErr makes err an *Error naming ev, unless it already is one.
func wrapErr(err error, file string, ev rawEvent) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{File: file, Offset: ev.Pos, EventType: eventTypeName(ev.Type), Err: err}
}
