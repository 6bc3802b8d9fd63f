// Package binlog reads MySQL and MariaDB binary log files, or a server's
// binlogs over the replication protocol (NewRemoteReader), and turns them
// into transactions (txn.Txn). It and its subpackages are the only packages
// that know how binlog bytes are parsed, and the only ones that import
// go-mysql:
//   - event parses the common header, the format description and the event
//     bodies go-mysql is not used for;
//   - logfile finds, names and frames the binlog files on disk, plain or
//     compressed; remote frames a server's over a dump connection;
//   - mysqljson checks MySQL's binary JSON before go-mysql decodes it, and
//     reads the JSON diffs of partial updates;
//   - rowedit makes new row events from a binlog's (the inverses an undo
//     applies), which Decoder decodes.
//
// This package groups the events into transactions, has go-mysql decode
// table maps, row images and compressed payloads, and checks that files
// carry on from one another.
//
// What the reader guarantees:
//   - Every txn.Event carries Raw, the exact bytes of the event in the file
//     (header, body and checksum), and Pos, its offset. Events that came out
//     of a MySQL 8 TRANSACTION_PAYLOAD (binlog_transaction_compression) have
//     as Raw their stand-alone form (a CRC32 added when the file has
//     checksums, as mysqlbinlog prints them) and as Pos the payload event's
//     offset; MariaDB compressed row events have the uncompressed v1 event
//     (see event/compressed.go).
//   - CRC32 checksums are verified when the file has them.
//   - An event it does not understand, inside or outside a transaction, is
//     an *event.Error naming file, offset and type, unless it carries the
//     server's IGNORABLE flag or Options.SkipUnknown is set: then it is
//     skipped and counted in Stats().Skipped.
//   - A file that ends inside an event or a transaction is an error: a
//     *TruncatedError (errors.Is ErrTruncated) for the last file, after every
//     complete transaction was returned; an *event.Error for any other file.
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
// binlog: re-pad from the schema); BLOB, TEXT, GEOMETRY and VECTOR are []byte.
// Byte values share memory with Event.Raw (or a compressed event's
// decompressed data), TableMaps and the Rows.Columns of full row images are
// shared between events: treat all of them as read-only. In the after
// images of a PARTIAL_UPDATE_ROWS event (MySQL
// binlog_row_value_options=PARTIAL_JSON), a JSON column logged in part
// holds its []txn.JSONDiff, read by package mysqljson: go-mysql reads only
// the first diff of a column.
//
// Row images are decoded by Options.DecodeWorkers goroutines while Next reads
// ahead; transactions and errors still come in binlog order. A TABLE_MAP
// event identical to an earlier one in the file is decoded once.
//
// A group that changed non-transactional tables is marked
// txn.Txn.NonTransactional (from the commit event and MariaDB's GTID
// flags), and one the source rolled back after such changes RolledBack.
// LOAD DATA logged as a statement comes with its file (txn.Query.Load,
// load.go).
//
// Refused with an *event.Error (they need semantics a plain replay lacks):
// XA transactions, MariaDB two-phase ALTER, the LOAD DATA events of servers
// before 5.0 (LOAD_EVENT, CREATE_FILE_EVENT, EXEC_LOAD_EVENT), INCIDENT
// events, encrypted binlogs, a second FORMAT_DESCRIPTION in a file (relay
// logs), MariaDB compressed row events in the v2 layout (169-171).
// Known limit: MariaDB tables whose TIMESTAMP/DATETIME/TIME(n>0) columns
// still use the pre-10.1 format are logged without their size, so decoding
// their rows fails (or could misread them); read them with DecodeRows off.
package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/binlog/remote"
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
	// DecodeMaxBytes, when positive, leaves undecoded (Rows.Decoded false)
	// the row images of a transaction whose row events hold more bytes:
	// decoded images take several times the memory of the binlog bytes,
	// and a caller may not need them for large transactions. Such images
	// are not checked for corruption by the reader.
	DecodeMaxBytes int64
	// SkipDecode, when set, is read as each transaction starts: while it
	// holds true, the transactions read leave their row images undecoded
	// (Rows.Decoded false), as without DecodeRows. A caller that does not
	// need the images for a while (a serial stretch of binlog) saves their
	// decoding; it may flip it at any time.
	SkipDecode *atomic.Bool
	// DecodeJSON decodes the row images of every source statement that
	// writes to a table with a MySQL JSON column (txn.TableMap.HasJSON),
	// all of its row events, even when DecodeRows is off or the
	// transaction exceeds DecodeMaxBytes: a MariaDB target cannot take
	// them by passthrough, and SQL made from the images applies them.
	DecodeJSON bool
	// DecodeSequences decodes the row images of every row event whose
	// image lacks columns (binlog_row_image=MINIMAL) on a table with a
	// sequence's columns (txn.TableMap.SequenceShaped), even when
	// DecodeRows is off or the transaction exceeds DecodeMaxBytes: a
	// MariaDB target logging its binlog refuses such a row of a sequence
	// by passthrough (MDEV-37366), and SQL made from the image applies it.
	DecodeSequences bool
	// ReadAheadBytes bounds the binlog bytes of the transactions read
	// ahead while decode workers decode them (default 64 MiB).
	ReadAheadBytes int64
	// SkipUnknown skips events of types the reader does not understand
	// instead of failing; each one is counted in Stats().Skipped.
	SkipUnknown bool
	// DecodeWorkers is how many goroutines decode row images when
	// DecodeRows is set: 0 means runtime.GOMAXPROCS(0), 1 decodes in the
	// goroutine calling Next. Framing, checksums and grouping stay in that
	// goroutine; with more than one worker, Next reads ahead (a bounded
	// number of transactions and bytes) while the workers decode, and
	// still returns transactions and errors in binlog order. Close stops
	// the workers.
	DecodeWorkers int
	// NoContinuityCheck reads on where a file does not carry on from the
	// one before it (see continuity.go) instead of failing.
	NoContinuityCheck bool
	// StreamAbove, when positive, makes Next hand out a transaction whose
	// events exceed this many bytes in pieces as it reads it, instead of
	// holding it whole (see stream.go and txn.Txn.Part).
	StreamAbove int64
}

// Stats counts what a Reader has read so far.
type Stats struct {
	// Events and Bytes count the events read (including skipped ones and
	// those before Options.Start). With decode workers the reader reads
	// ahead, so they may include events of transactions not returned yet.
	Events uint64
	Bytes  uint64
	// Txns counts the transactions returned.
	Txns uint64
	// Skipped counts, by event type name, the events skipped because they
	// carry the IGNORABLE flag or because Options.SkipUnknown was set.
	Skipped map[string]uint64
	// Cut lists the transactions left out because a crash of the source
	// cut them short (crash.go).
	Cut []CutTxn
}

// framer frames the events of one binlog file for a Reader: a file read
// from disk (logfile.File) or one a server sends (remote.File).
type framer interface {
	// Next returns the next event, io.EOF at a clean end of the file, or
	// logfile.ErrShortFile when the file ends inside an event.
	Next() (event.Framed, error)
	// NewSlab is called where a transaction may start (see
	// logfile.File.NewSlab).
	NewSlab(size int)
	// Name is the file's base name, as positions name it.
	Name() string
	// Size is the file's size, or math.MaxUint64 when it is not known.
	Size() uint64
	// DataEnd is the offset where the file's data ends, or where reading
	// it stopped when its size is unknown.
	DataEnd() uint64
	Close() error
}

// Reader reads transactions from a sequence of binlog files. It is not safe
// for concurrent use.
type Reader struct {
	opts  Options
	stats Stats
	err   error // sticky: returned by every later Next, once the queue is empty

	in    input     // where the events come from
	parse parsing   // decoding the current file's events
	group grouping  // assembling events into transactions
	ahead lookahead // transactions read ahead and their decode workers
}

// input is where a Reader's events come from: its files, or a source
// server.
type input struct {
	files []string
	next  int // index in files of the next file to open
	// remote, when not nil, is the source server the events come from
	// instead of files (NewRemoteReader).
	remote *remote.Stream

	fr   framer
	last bool       // fr is the last file
	cont continuity // GTID history across files
}

// parsing is what a Reader needs to decode the events of the current file.
type parsing struct {
	format *event.Format
	main   *parsers // decode the file's events
	inner  *parsers // decode events inside a TRANSACTION_PAYLOAD

	meta    event.OptMeta // optional metadata of the table map being decoded
	metaErr error         // error decoding it
}

// grouping is a Reader's state as it assembles events into transactions.
type grouping struct {
	cur        *builder               // transaction being assembled, nil between transactions
	tables     map[uint64]*tableEntry // table maps of the current statement
	tableCache map[string]*tableEntry // decoded table maps of this file, by event body
	skipping   bool                   // before opts.Start in its file
	cut        *pendingCut            // a transaction a crash may have cut, until the next file says (crash.go)
	restarted  bool                   // a server start's file began after other files: the next transaction is marked
	lastEnd    txn.Position           // End of the last transaction grouped (all before any error are returned)
	readTo     txn.Position           // just past the last event read (see ReadTo)
	hint       sizeHint               // sizes of the last transaction, to size the next one's
	seq        uint64
}

// lookahead is a Reader's transactions read ahead of Next, and the
// workers decoding their rows.
type lookahead struct {
	workers     int                   // decode workers (1: decode inline)
	scratch     replication.RowsEvent // for decoding inline
	dec         *decoders             // running decode workers, nil when none
	queue       []*pendingTxn         // transactions read ahead, in order, being decoded
	queuedBytes int64                 // their binlog bytes
	limit       int64                 // limit of queuedBytes
}

// NewReader returns a reader of files, in the order given (see
// logfile.Resolve). It returns an error if files is empty, opts.Start names
// a file that is not among them or opts.DecodeWorkers is negative. Files
// are opened lazily by Next, and decode workers started by it.
func NewReader(files []string, opts Options) (*Reader, error) {
	if len(files) == 0 {
		return nil, errors.New("new binlog reader: no files")
	}
	r, err := newReader(opts)
	if err != nil {
		return nil, err
	}
	r.in.files = files
	if opts.Start.IsZero() {
		return r, nil
	}
	if opts.Start.Offset > 0 && opts.Start.Offset < uint64(len(event.Magic)) {
		return nil, fmt.Errorf("new binlog reader: start offset %d is inside the file header", opts.Start.Offset)
	}
	for i, f := range files {
		if logfile.Name(f) == opts.Start.File {
			r.in.next = i
			r.group.lastEnd = opts.Start
			return r, nil
		}
	}
	return nil, fmt.Errorf("new binlog reader: start file %q is not among the %d binlog files", opts.Start.File, len(files))
}

// NewRemoteReader returns a reader of the binlogs src sends, from
// opts.Start (a transaction boundary in one of the source's files) or, when
// that is zero, from after src.StartGTID. It connects and asks for the
// dump at once; ctx bounds the connection only. Next returns io.EOF at the
// end of the source's log, where the source sends EOF, and an *event.Error
// naming the file and offset reached when the connection is lost or the
// source refuses the dump: the transaction in progress then is never
// returned. The source's binlogs are expected to hold the position asked
// for.
func NewRemoteReader(ctx context.Context, src remote.Source, opts Options) (*Reader, error) {
	r, err := newReader(opts)
	if err != nil {
		return nil, err
	}
	if r.in.remote, err = remote.Dial(ctx, src, opts.Start); err != nil {
		return nil, err
	}
	r.group.lastEnd = opts.Start
	return r, nil
}

// newReader returns a reader set up from opts, with neither files nor a
// source yet.
func newReader(opts Options) (*Reader, error) {
	if opts.DecodeWorkers < 0 {
		return nil, fmt.Errorf("new binlog reader: %d decode workers", opts.DecodeWorkers)
	}
	r := &Reader{opts: opts, group: grouping{tables: map[uint64]*tableEntry{}},
		stats: Stats{Skipped: map[string]uint64{}}, ahead: lookahead{workers: opts.DecodeWorkers}}
	r.in.cont.off = opts.NoContinuityCheck
	if r.ahead.workers == 0 {
		r.ahead.workers = runtime.GOMAXPROCS(0)
	}
	r.ahead.limit = opts.ReadAheadBytes
	if r.ahead.limit <= 0 {
		r.ahead.limit = defaultReadAhead
	}
	if !opts.DecodeRows {
		r.ahead.workers = 1 // nothing to decode apart
	}
	return r, nil
}

// ReadTo returns the position just past the last event read: once Next
// has returned io.EOF, the end of the last file. With decode workers the
// reader reads ahead of the transactions returned.
func (r *Reader) ReadTo() txn.Position { return r.group.readTo }

// Stats returns what the reader has counted so far.
func (r *Reader) Stats() Stats {
	s := r.stats
	s.Skipped = make(map[string]uint64, len(r.stats.Skipped))
	for k, v := range r.stats.Skipped {
		s.Skipped[k] = v
	}
	s.Cut = slices.Clone(r.stats.Cut)
	return s
}

// Close closes the open file, if any, or the connection to the source
// server, and stops the decode workers, waiting for them to return. Next
// returns an error after Close.
func (r *Reader) Close() error {
	if r.err == nil || len(r.ahead.queue) > 0 { // not io.EOF: queued transactions are dropped
		r.err = errors.New("binlog reader closed")
	}
	r.dropQueue()
	if r.in.remote != nil {
		r.in.remote.Close()
	}
	if r.in.fr == nil {
		return nil
	}
	err := r.in.fr.Close()
	r.in.fr = nil
	return err
}

// Next returns the next complete transaction, or io.EOF after the last one.
// It returns ctx.Err() if ctx is done (the reader can be used again), an
// *event.Error for input it cannot read (inside a *CutError when a file
// other than the last ends inside a transaction it cannot leave out), or
// a *TruncatedError when the last file ends inside an event or a
// transaction. Errors come in binlog order:
// every transaction before the bad input is returned first. After io.EOF or
// a read error, every call returns the same error.
func (r *Reader) Next(ctx context.Context) (*txn.Txn, error) {
	for {
		if len(r.ahead.queue) == 0 && r.err != nil {
			r.stopDecoders() // nothing left for them to do
			// Every transaction before it was returned: what was read of
			// the next one gets its number.
			var cut *CutError
			var trunc *TruncatedError
			switch {
			case errors.As(r.err, &cut):
				cut.Partial.Seq = r.group.seq + 1
			case errors.As(r.err, &trunc) && trunc.Txn != nil:
				trunc.Txn.Seq = r.group.seq + 1
			}
			return nil, r.err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.ahead.workers == 1 {
			if p := r.read(); p != nil {
				p.err = decodeJobs(p.t.Start.File, p.jobs, nil, &r.ahead.scratch)
				return r.deliver(p)
			}
			continue
		}
		// With decode workers: return the oldest transaction once decoded,
		// reading ahead meanwhile while the queue has room.
		if len(r.ahead.queue) > 0 && r.ahead.queue[0].decoded() {
			return r.deliver(r.dequeue())
		}
		if r.err == nil && r.hasRoom() {
			if p := r.read(); p != nil {
				r.enqueue(p)
			}
			continue
		}
		select { // the queue is full, or holds all that is left
		case <-r.ahead.queue[0].done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sizeHint is what the last transaction held: the next one likely holds as
// much, and its slices and slab are sized for it.
type sizeHint struct {
	events, jobs, bytes int
}

// read runs the sequential stages (framing, checksums, grouping) until a
// transaction is complete and returns it with the row images it still has
// to decode. It returns nil once the reader has failed: then r.err is set.
func (r *Reader) read() *pendingTxn {
	for r.err == nil {
		p, err := r.step()
		if err != nil {
			r.fail(r.earlierError(err))
			return nil
		}
		if p != nil {
			if p.t.Part == 0 || p.t.Final {
				r.group.lastEnd = p.t.End
			}
			r.group.hint = sizeHint{events: len(p.t.Events), jobs: len(p.jobs), bytes: int(p.t.Bytes)}
			return p
		}
	}
	return nil
}

// earlierError returns the error of the first row event of the transaction
// being assembled that does not decode, if any, else err: read one event at
// a time, the reader would have stopped there, before err.
func (r *Reader) earlierError(err error) error {
	if r.group.cur == nil {
		return err
	}
	if derr := decodeJobs(r.group.cur.t.Start.File, r.group.cur.jobs, nil, &r.ahead.scratch); derr != nil {
		return derr
	}
	return err
}

// deliver returns a decoded transaction, or its decoding error, which ends
// the reading.
func (r *Reader) deliver(p *pendingTxn) (*txn.Txn, error) {
	if p.err != nil {
		r.fail(p.err)
		r.dropQueue()
		return nil, p.err
	}
	if p.t.Part <= 1 { // the pieces of a streamed transaction share its number
		r.group.seq++
	}
	p.t.Seq = r.group.seq
	if p.t.Part == 0 || p.t.Final {
		r.stats.Txns++
	}
	return p.t, nil
}

// fail records err as the reader's final state and closes the file.
func (r *Reader) fail(err error) {
	r.err = err
	if r.in.fr != nil {
		r.in.fr.Close()
		r.in.fr = nil
	}
}

// step reads one event and returns the transaction it completes, if any.
func (r *Reader) step() (*pendingTxn, error) {
	if r.in.fr == nil {
		if r.in.remote == nil && r.in.next == len(r.in.files) {
			return nil, io.EOF
		}
		if err := r.open(); err != nil {
			return nil, err
		}
	}
	if r.group.cur == nil {
		r.in.fr.NewSlab(r.group.hint.bytes)
	}
	ev, err := r.in.fr.Next()
	switch {
	case errors.Is(err, io.EOF):
		return nil, r.endOfFile()
	case errors.Is(err, logfile.ErrShortFile):
		return nil, r.shortFile(ev)
	case err != nil:
		return nil, err
	}
	r.stats.Events++
	r.stats.Bytes += uint64(ev.Size)
	r.group.readTo = txn.Position{File: r.in.fr.Name(), Offset: ev.Pos + uint64(ev.Size)}
	p, err := r.event(ev)
	if err != nil {
		return nil, wrapErr(err, r.in.fr.Name(), ev)
	}
	if p == nil {
		p = r.cutPiece(ev.Pos + uint64(ev.Size))
	}
	if p != nil && r.group.skipping {
		return nil, nil // before the start position
	}
	return p, nil
}

// open opens the next file: the next path, or the next file the source
// server sends (io.EOF once its log ends).
func (r *Reader) open() error {
	var fr framer
	if r.in.remote != nil {
		rf, err := r.in.remote.NextFile()
		if err != nil {
			return err
		}
		// Only the end of the source's log can cut a transaction short.
		fr, r.in.last = rf, true
	} else {
		f, err := logfile.Open(r.in.files[r.in.next])
		if err != nil {
			return err
		}
		fr = f
		r.in.next++
		r.in.last = r.in.next == len(r.in.files)
	}
	r.in.fr, r.parse.format, r.parse.main, r.parse.inner = fr, nil, nil, nil
	r.group.tableCache = map[string]*tableEntry{}
	r.group.skipping = r.opts.Start.File == fr.Name() && r.opts.Start.Offset > uint64(len(event.Magic))
	return nil
}

// endOfFile handles a clean end of the current file.
func (r *Reader) endOfFile() error {
	fr := r.in.fr
	if r.group.skipping {
		if r.opts.Start.Offset > fr.Size() {
			return &event.Error{File: fr.Name(), Offset: r.opts.Start.Offset,
				Err: fmt.Errorf("start offset is beyond the end of the file (%d bytes)", fr.Size())}
		}
		r.group.skipping = false // the start was the end of the file
	}
	if r.group.cur != nil {
		if r.in.last && !nextFollows(fr) {
			return &TruncatedError{File: fr.Name(), Size: fr.DataEnd(), Partial: r.group.cur.t.Start, LastEnd: r.group.lastEnd,
				Txn: r.partial()}
		}
		return r.cutAtEnd(&event.Error{File: fr.Name(), Offset: fr.DataEnd(),
			Err: fmt.Errorf("file ends inside the transaction starting at %s, and more files follow", r.group.cur.t.Start)})
	}
	r.in.fr = nil
	return fr.Close()
}

// nextFollows reports whether fr, a file the source sends, ended where
// the source began sending the next one.
func nextFollows(fr framer) bool {
	rf, ok := fr.(*remote.File)
	return ok && rf.NextFollows()
}

// shortFile handles a file that ends inside the event at ev.Pos.
func (r *Reader) shortFile(ev event.Framed) error {
	fr := r.in.fr
	partial := txn.Position{File: fr.Name(), Offset: ev.Pos}
	if r.group.cur != nil {
		partial = r.group.cur.t.Start
	}
	if r.in.last && !r.group.skipping {
		te := &TruncatedError{File: fr.Name(), Size: fr.DataEnd(), Partial: partial, LastEnd: r.group.lastEnd, InEvent: true}
		if r.group.cur != nil {
			te.Txn = r.partial()
		}
		return te
	}
	if r.in.last {
		return &event.Error{File: fr.Name(), Offset: ev.Pos,
			Err: fmt.Errorf("file ends inside this event (file size %d), before the start position", fr.DataEnd())}
	}
	notCut := &event.Error{File: fr.Name(), Offset: ev.Pos,
		Err: fmt.Errorf("file ends inside this event (file size %d), and more files follow", fr.DataEnd())}
	if r.group.cur == nil {
		// Nothing of what the event starts can be read: a transaction
		// the source was writing when it crashed, perhaps, but whether
		// it changed non-transactional tables (which keep its changes
		// on the source) cannot be told, so it is not left out. What is
		// known of it goes with the refusal, so that a stop point at or
		// before its start is honoured (soak seed 124233).
		notCut.Err = fmt.Errorf("%w: nothing of what it starts can be read (a transaction the source was writing when it crashed?); "+
			"were it a transaction that changed non-transactional tables, the source kept its changes, so it is not left out; "+
			"a stop point at or before %s is honoured", notCut.Err, partial)
		return &CutError{Partial: &txn.Txn{Start: partial, End: txn.Position{File: fr.Name(), Offset: fr.DataEnd()}}, Err: notCut}
	}
	return r.cutAtEnd(notCut)
}

// wrapErr makes err an *event.Error naming ev, unless it already is one.
func wrapErr(err error, file string, ev event.Framed) error {
	var e *event.Error
	if errors.As(err, &e) {
		return err
	}
	return &event.Error{File: file, Offset: ev.Pos, EventType: event.TypeName(ev.Type), Err: err}
}
