// Package logfile finds, names and opens the binlog files on disk: the
// files that command-line arguments name, in order (Resolve), plain or
// compressed (.gz, .zst), and the events of one file, framed as it is read
// (File).
package logfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// ErrShortFile is returned by Next when the file ends inside an event.
var ErrShortFile = errors.New("file ends inside an event")

// File frames the events of one binlog file, streaming it.
type File struct {
	path string
	name string // base name, without a compression suffix (Name)
	f    io.ReadCloser
	br   *bufio.Reader
	// size is the file's size; unknownSize for a compressed file, whose
	// end shows only when reading it.
	size uint64
	pos  uint64
	// partial counts the bytes of the last event read only in part
	// (where the file ends inside it).
	partial int
	// slab is memory for the Raw bytes of the next events: its free space
	// is slab[len(slab):cap(slab)].
	slab     []byte
	slabSize int // size of the next slab
}

// Slab sizes: events are carved from slabs of the size of the previous
// transaction, within these bounds.
const (
	minSlab = 512
	MaxSlab = 64 << 10
)

// NewSlab makes the next events take their Raw bytes from a new slab of
// about size bytes: the reader calls it where a transaction may start, so
// that the events of a transaction share one allocation (or a few) that no
// other transaction keeps alive.
func (fr *File) NewSlab(size int) {
	fr.slab, fr.slabSize = nil, min(max(size, minSlab), MaxSlab)
}

// alloc returns n bytes for an event's Raw, with no room to append.
func (fr *File) alloc(n int) []byte {
	if n > fr.slabSize/2 {
		return make([]byte, n) // large: on its own
	}
	if cap(fr.slab)-len(fr.slab) < n {
		fr.slab = make([]byte, 0, fr.slabSize)
	}
	i := len(fr.slab)
	fr.slab = fr.slab[:i+n]
	return fr.slab[i : i+n : i+n]
}

// unknownSize is the size of a compressed file.
const unknownSize = math.MaxUint64

// Open opens path (decompressing it as it reads, for a compressed
// binlog) and checks its magic number.
func Open(path string) (*File, error) {
	f, size, err := openStream(path)
	if err != nil {
		return nil, fmt.Errorf("open binlog: %w", err)
	}
	fr := &File{path: path, name: Name(path), f: f,
		br: bufio.NewReaderSize(f, 256<<10), size: uint64(size)}
	if Compressed(path) {
		fr.size = unknownSize
	}
	magic := make([]byte, len(event.Magic))
	if _, err := io.ReadFull(fr.br, magic); err != nil || string(magic) != event.Magic {
		f.Close()
		msg := "not a binlog file (bad magic number)"
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			msg = fmt.Sprintf("not a binlog file (%v)", err)
		}
		return nil, &event.Error{File: fr.name, Offset: 0, Err: errors.New(msg)}
	}
	fr.pos = uint64(len(event.Magic))
	return fr, nil
}

// DataEnd returns the size of the file's binlog data: its size, or for a
// compressed file, known only once read to its end, the offset of the
// bytes read so far (the buffered ones included).
func (fr *File) DataEnd() uint64 {
	if fr.size != unknownSize {
		return fr.size
	}
	return fr.pos + uint64(fr.partial) + uint64(fr.br.Buffered())
}

// Name returns the file's base name.
func (fr *File) Name() string { return fr.name }

// Size returns the file's size, or math.MaxUint64 for a compressed file
// (whose size shows only when it is read to its end).
func (fr *File) Size() uint64 { return fr.size }

// Close closes the file.
func (fr *File) Close() error { return fr.f.Close() }

// Next returns the next event, io.EOF at a clean end of file, or
// ErrShortFile when the file ends inside an event. The returned Raw is
// owned by the caller (see NewSlab).
func (fr *File) Next() (event.Framed, error) {
	var ev event.Framed
	ev.Pos = fr.pos
	if fr.pos == fr.size {
		return ev, io.EOF
	}
	if fr.size-fr.pos < event.HeaderSize {
		return ev, ErrShortFile
	}
	hb, err := fr.br.Peek(event.HeaderSize)
	if err != nil {
		if fr.size == unknownSize && len(hb) == 0 && errors.Is(err, io.EOF) {
			return ev, io.EOF // the end of a compressed file
		}
		return ev, fr.readErr(err)
	}
	ev.Header = event.ParseHeader(hb)
	if ev.Size < event.HeaderSize {
		return ev, fr.errAt(ev, fmt.Errorf("bad event size %d (less than the %d-byte header)", ev.Size, event.HeaderSize))
	}
	if uint64(ev.Size) > fr.size-fr.pos {
		return ev, ErrShortFile
	}
	if ev.Raw, err = fr.read(int(ev.Size)); err != nil {
		return ev, fr.readErr(err)
	}
	fr.pos += uint64(ev.Size)
	return ev, nil
}

// read returns the next n bytes of the file in a new slice.
func (fr *File) read(n int) ([]byte, error) {
	out := fr.alloc(n)
	k, err := io.ReadFull(fr.br, out)
	if fr.partial = 0; err != nil {
		fr.partial = k
	}
	return out, err
}

// readErr turns a read error into the reader's errors: the file may have
// shrunk since it was opened.
func (fr *File) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrShortFile
	}
	return &event.Error{File: fr.name, Offset: fr.pos, Err: fmt.Errorf("read binlog: %w", err)}
}

// errAt wraps err in an *event.Error naming ev.
func (fr *File) errAt(ev event.Framed, err error) error {
	return &event.Error{File: fr.name, Offset: ev.Pos, EventType: event.TypeName(ev.Type), Err: err}
}

// ReadFormat returns the format description of the binlog file at path
// (plain or compressed), reading only its first event.
func ReadFormat(path string) (*txn.Format, error) {
	fr, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	ev, err := fr.Next()
	if err != nil {
		return nil, &event.Error{File: fr.name, Offset: ev.Pos, Err: fmt.Errorf("read the format description: %w", err)}
	}
	f, err := event.FirstFormat(ev, fr.name)
	if err != nil {
		return nil, fr.errAt(ev, err)
	}
	return f.Format, nil
}
