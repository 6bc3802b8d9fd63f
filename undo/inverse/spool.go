package inverse

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The spool. The range is read forward, as binlogs are, and undone
// backward: its inverse statements go to a file on disk as they are made,
// and are read back from the end, transaction by transaction and statement
// by statement, so that memory holds one transaction (or one piece of a
// large one) at a time whatever the size of the range.
//
// The file is a sequence of records, each followed by its length (4
// bytes, little-endian), so that it can be read backward. A transaction is
// its statement records, in source order, then its header record:
//
//	statement: 'S', table map position, row event position, the row
//	           event's type name, the table map's bytes, the inverse row
//	           event's bytes
//	header:    'T', seq, GTID, start and end positions, commit time,
//	           server id, format, binlog bytes, statement count and bytes
//
// Positions name files by an index into the spool's list of names, formats
// by an index into its list of format descriptions (both in memory: one
// per binlog file at most).

// Spool holds the inverse statements of a range on disk.
type Spool struct {
	f *os.File
	// name is the file's name while it is still linked: NewSpool unlinks
	// it at once where the system allows (the open file lives on), so
	// that a killed undo leaves nothing behind.
	name string
	w    *bufio.Writer
	Size int64
	// files and formats are the names and formats the records index.
	files     []string
	fileIdx   map[string]uint32
	formats   []*txn.Format
	formatIdx map[*txn.Format]uint32
	// cur is the transaction being written: its statements so far.
	cur struct {
		open         bool
		start        txn.Position
		stmts, bytes int64
	}
	Txns int
	buf  []byte
}

// NewSpool creates the spool's file in dir (os.TempDir() when empty).
// The file has no name where the system can create it so (Linux's
// O_TMPFILE); else it is unlinked at once where the system allows an open
// file to be, and otherwise removed when the spool is closed: it takes no
// space once the undo ends, even killed (but for a kill between its
// creation and its unlinking, where O_TMPFILE is missing).
func NewSpool(dir string) (*Spool, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, unnamed, err := createUnlinked(dir)
	if err != nil {
		return nil, err
	}
	if !unnamed {
		if f, err = os.CreateTemp(dir, "binlog-replay-undo-*.spool"); err != nil {
			return nil, fmt.Errorf("create the undo's spool file: %w", err)
		}
	}
	s := &Spool{f: f, w: bufio.NewWriterSize(f, 1<<20), fileIdx: map[string]uint32{},
		formatIdx: map[*txn.Format]uint32{}}
	if !unnamed && os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	return s, nil
}

// Close closes the spool's file, and removes it if NewSpool could not.
func (s *Spool) Close() error {
	err := s.f.Close()
	if s.name == "" {
		return err
	}
	if rerr := os.Remove(s.name); err == nil {
		err = rerr
	}
	return err
}

// Add writes the statements of t, a transaction or a piece of one, in
// source order; the transaction's header is written with its last piece.
func (s *Spool) Add(t *txn.Txn, stmts []statement) error {
	if !s.cur.open {
		s.cur.open, s.cur.start, s.cur.stmts, s.cur.bytes = true, t.Start, 0, 0
	}
	for _, st := range stmts {
		b := append(s.buf[:0], 'S')
		b = s.appendPos(b, st.tableMap.Pos)
		b = s.appendPos(b, st.rows.Pos)
		b = appendString(b, st.rows.TypeName)
		b = appendBytes(b, st.tableMap.Raw)
		b = appendBytes(b, st.rows.Raw)
		if err := s.record(b); err != nil {
			return err
		}
		s.cur.stmts++
		s.cur.bytes += int64(len(st.tableMap.Raw) + len(st.rows.Raw))
	}
	if t.Part > 0 && !t.Final {
		return nil
	}
	b := append(s.buf[:0], 'T')
	b = binary.LittleEndian.AppendUint64(b, t.Seq)
	b = append(b, byte(t.GTID.Flavor))
	b = binary.LittleEndian.AppendUint32(b, t.GTID.Domain)
	b = binary.LittleEndian.AppendUint32(b, t.GTID.Server)
	b = appendString(b, t.GTID.Source)
	b = binary.LittleEndian.AppendUint64(b, t.GTID.Seq)
	b = s.appendPos(b, s.cur.start)
	b = s.appendPos(b, t.End)
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Time.UnixNano()))
	b = binary.LittleEndian.AppendUint32(b, t.ServerID)
	b = binary.LittleEndian.AppendUint32(b, s.format(t.Format))
	b = binary.LittleEndian.AppendUint64(b, uint64(t.End.Offset-s.cur.start.Offset))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.cur.stmts))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.cur.bytes))
	s.cur.open = false
	s.Txns++
	return s.record(b)
}

// record writes one record and its length.
func (s *Spool) record(b []byte) error {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(b)))
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write the undo's spool file: %w", err)
	}
	s.Size += int64(len(b))
	return nil
}

// Truncate forgets everything written after the spool held size bytes
// and txns transactions (the transaction being written included).
func (s *Spool) Truncate(size int64, txns int) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write the undo's spool file: %w", err)
	}
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate the undo's spool file: %w", err)
	}
	if _, err := s.f.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("truncate the undo's spool file: %w", err)
	}
	s.w.Reset(s.f)
	s.Size, s.Txns, s.cur.open = size, txns, false
	return nil
}

// Finish flushes what was written: the spool is then read back.
func (s *Spool) Finish() error {
	if s.cur.open {
		return errors.New("the spool ends inside a transaction")
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write the undo's spool file: %w", err)
	}
	return nil
}

func (s *Spool) appendPos(b []byte, p txn.Position) []byte {
	i, ok := s.fileIdx[p.File]
	if !ok {
		i = uint32(len(s.files))
		s.files = append(s.files, p.File)
		s.fileIdx[p.File] = i
	}
	b = binary.LittleEndian.AppendUint32(b, i)
	return binary.LittleEndian.AppendUint64(b, p.Offset)
}

func (s *Spool) format(f *txn.Format) uint32 {
	i, ok := s.formatIdx[f]
	if !ok {
		i = uint32(len(s.formats))
		s.formats = append(s.formats, f)
		s.formatIdx[f] = i
	}
	return i
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// header is a spooled transaction's header record.
type header struct {
	seq        uint64
	gtid       txn.GTID
	Start, end txn.Position
	time       time.Time
	serverID   uint32
	format     *txn.Format
	// bytes is its size in the binlog; stmts and stmtBytes count its
	// inverse statements and their bytes.
	bytes, stmts, stmtBytes int64
}

// Backward reads a spool's transactions back, the last first.
type Backward struct {
	s          *Spool
	pos        int64 // the records before pos are still to read
	decoders   map[*txn.Format]*binlog.Decoder
	pieceBytes int64
	// filter, when set, is given each inverse row event as read back
	// (decoded), with its format, and returns the event to apply instead,
	// or nil to drop its statement.
	Filter func(f *txn.Format, ev *txn.Event) (*txn.Event, error)

	h    *header // the transaction being read, nil between transactions
	left int64   // its statements still to read
	part int
}

// Backward returns a reader of the spool's transactions, last first, each
// whole or, when its inverse statements exceed pieceBytes, in pieces. The
// spool must be finished.
func (s *Spool) Backward(pieceBytes int64) *Backward {
	return &Backward{s: s, pos: s.Size, decoders: map[*txn.Format]*binlog.Decoder{}, pieceBytes: pieceBytes}
}

// Next returns the next inverse transaction (or piece, txn.Txn.Part), or
// io.EOF after the first transaction of the range.
//
// An inverse transaction has the Seq, GTID, Start, Time, ServerID and
// Format of the transaction it undoes, and as End that transaction's
// Start: the checkpoint then names where the undo has reached, and a
// resumed undo reverses what lies before it. Its events are its
// statements' table maps and inverse row events, decoded; Bytes is their
// size.
func (b *Backward) Next() (*txn.Txn, error) {
	if b.h == nil {
		if b.pos == 0 {
			return nil, io.EOF
		}
		h, err := b.readHeader()
		if err != nil {
			return nil, err
		}
		b.h, b.left, b.part = h, h.stmts, 0
	}
	h := b.h
	t := &txn.Txn{Seq: h.seq, Kind: txn.KindRows, GTID: h.gtid, Start: h.Start, Format: h.format, ServerID: h.serverID}
	whole := h.stmtBytes <= b.pieceBytes
	if !whole {
		b.part++
		t.Part = b.part
	}
	for b.left > 0 && (whole || t.Bytes < b.pieceBytes) {
		st, err := b.readStatement(h.format)
		if err != nil {
			return nil, err
		}
		b.left--
		if st.rows == nil {
			continue // dropped by the filter
		}
		t.Events = append(t.Events, *st.tableMap, *st.rows)
		t.Bytes += int64(len(st.tableMap.Raw) + len(st.rows.Raw))
	}
	if b.left == 0 {
		t.End, t.Time, t.Final = h.Start, h.time, !whole
		b.h = nil
	}
	return t, nil
}

// Skip reads past the next transaction without decoding it and returns
// its header.
func (b *Backward) Skip() (*header, error) {
	if b.h != nil {
		return nil, errors.New("skip inside a transaction")
	}
	if b.pos == 0 {
		return nil, io.EOF
	}
	h, err := b.readHeader()
	if err != nil {
		return nil, err
	}
	for range h.stmts {
		if _, err := b.readRecord(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Peek returns the header of the next transaction without reading it, or
// io.EOF.
func (b *Backward) Peek() (*header, error) {
	if b.pos == 0 {
		return nil, io.EOF
	}
	pos := b.pos
	h, err := b.readHeader()
	b.pos = pos
	return h, err
}

// readRecord reads the record that ends at b.pos.
func (b *Backward) readRecord() ([]byte, error) {
	var l [4]byte
	if b.pos < 4 {
		return nil, errors.New("undo spool: truncated record")
	}
	if _, err := b.s.f.ReadAt(l[:], b.pos-4); err != nil {
		return nil, fmt.Errorf("read the undo's spool file: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(l[:]))
	if n+4 > b.pos {
		return nil, errors.New("undo spool: bad record length")
	}
	rec := make([]byte, n)
	if _, err := b.s.f.ReadAt(rec, b.pos-4-n); err != nil {
		return nil, fmt.Errorf("read the undo's spool file: %w", err)
	}
	b.pos -= 4 + n
	return rec, nil
}

// readHeader reads the transaction header that ends at b.pos.
func (b *Backward) readHeader() (*header, error) {
	rec, err := b.readRecord()
	if err != nil {
		return nil, err
	}
	d := decoder{b: rec}
	if d.byte() != 'T' {
		return nil, errors.New("undo spool: a statement where a transaction header should be")
	}
	h := &header{seq: d.u64()}
	h.gtid = txn.GTID{Flavor: txn.Flavor(d.byte()), Domain: d.u32(), Server: d.u32(), Source: d.string(), Seq: d.u64()}
	h.Start, h.end = b.pos2(&d), b.pos2(&d)
	h.time = time.Unix(0, int64(d.u64())).UTC()
	h.serverID = d.u32()
	fi := d.u32()
	h.bytes, h.stmts, h.stmtBytes = int64(d.u64()), int64(d.u64()), int64(d.u64())
	if d.err != nil || int(fi) >= len(b.s.formats) {
		return nil, errors.New("undo spool: bad transaction header")
	}
	h.format = b.s.formats[fi]
	return h, nil
}

// readStatement reads the statement record that ends at b.pos and decodes
// its events, passing the row event through the filter.
func (b *Backward) readStatement(f *txn.Format) (statement, error) {
	rec, err := b.readRecord()
	if err != nil {
		return statement{}, err
	}
	d := decoder{b: rec}
	if d.byte() != 'S' {
		return statement{}, errors.New("undo spool: a transaction header where a statement should be")
	}
	tmPos, rowsPos := b.pos2(&d), b.pos2(&d)
	name := d.string()
	tmRaw, rowsRaw := d.bytes(), d.bytes()
	if d.err != nil {
		return statement{}, errors.New("undo spool: bad statement record")
	}
	dec := b.decoders[f]
	if dec == nil {
		if dec, err = binlog.NewDecoder(f); err != nil {
			return statement{}, err
		}
		b.decoders[f] = dec
	}
	tm, err := dec.Decode(tmRaw, tmPos)
	if err != nil {
		return statement{}, err
	}
	rows, err := dec.Decode(rowsRaw, rowsPos)
	if err != nil {
		return statement{}, err
	}
	rows.TypeName = name
	st := statement{tableMap: &tm, rows: &rows}
	if b.Filter != nil {
		if st.rows, err = b.Filter(f, st.rows); err != nil {
			return statement{}, err
		}
	}
	return st, nil
}

// pos2 decodes a position.
func (b *Backward) pos2(d *decoder) txn.Position {
	i, off := d.u32(), d.u64()
	if int(i) >= len(b.s.files) {
		d.err = errors.New("bad file index")
		return txn.Position{}
	}
	return txn.Position{File: b.s.files[i], Offset: off}
}

// decoder reads the fields of a record; err is set once one runs past its
// end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.err = errors.New("short record")
		return make([]byte, 8) // enough for the fixed-size fields
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte     { return d.take(1)[0] }
func (d *decoder) u32() uint32    { return binary.LittleEndian.Uint32(d.take(4)) }
func (d *decoder) u64() uint64    { return binary.LittleEndian.Uint64(d.take(8)) }
func (d *decoder) bytes() []byte  { return d.take(int(d.u32())) }
func (d *decoder) string() string { return string(d.bytes()) }
