// Package remote reads a server's binlogs over the replication protocol,
// as mysqlbinlog --read-from-remote-server does: a dump connection (Dial)
// hands out the events the source sends, file by file, each at its offset
// in the source's own files, for the binlog reader to group into
// transactions (binlog.NewRemoteReader).
package remote

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Source is a server to read binlogs from with the replication
// protocol, as mysqlbinlog --read-from-remote-server does: a primary, a
// surviving replica with log_slave_updates, or a binlog server.
//
// The events go through the same framing, checksum and grouping code as
// files, and their positions name the source's own files and offsets, so a
// checkpoint taken from a remote read is a position in the source's binlogs.
type Source struct {
	// Network is "tcp" or "unix"; Address is "host:port" or a socket path.
	Network, Address string
	// User needs the REPLICATION SLAVE privilege on the source.
	User, Password string
	// TLS, when set, encrypts the connection.
	TLS *tls.Config
	// ServerID is the server_id the dump connection presents. It must not
	// be the source's own, nor that of another replica of the source: the
	// source ends an earlier dump connection with the same id.
	ServerID uint32
	// StartGTID, used when the start position (binlog.Options.Start) is
	// zero, starts the dump after this MariaDB GTID position
	// ("domain-server-seq" per domain, comma separated, as
	// gtid_slave_pos): the source finds the file and offset.
	StartGTID string
	// ReadTimeout bounds the wait for each packet from the source (default
	// one minute): a source that stops sending for that long is treated as
	// lost.
	ReadTimeout time.Duration
}

// String names the source for messages (never with its password).
func (s Source) String() string { return s.Address }

// Replication protocol constants (MySQL and MariaDB client-server protocol).
const (
	comBinlogDump = 0x12 // COM_BINLOG_DUMP
	// dumpNonBlock (BINLOG_DUMP_NON_BLOCK) makes the source send an EOF
	// packet at the end of its log instead of waiting for more events.
	dumpNonBlock = 0x01
	// dumpSendAnnotateRows (MariaDB BINLOG_SEND_ANNOTATE_ROWS_EVENT) asks
	// for the ANNOTATE_ROWS events a file holds: the source then sends
	// every event of its files, so an event without log_pos (MariaDB 11.4
	// and later may send some) is where the previous one ended.
	dumpSendAnnotateRows = 0x02
	// mariaCapabilityGTID (MARIA_SLAVE_CAPABILITY_GTID) tells a MariaDB
	// source that this client understands every event of MariaDB 10.0 and
	// later; without it the source replaces GTID events with dummy ones.
	mariaCapabilityGTID = 4
	// defaultTimeout is Source.ReadTimeout's default.
	defaultTimeout = time.Minute
)

// Stream is one dump connection: the events the source sends from
// the start point to the end of its log, with the file and offset of each
// in the source's binlogs.
type Stream struct {
	src  Source
	conn *client.Conn
	// file and pos are where the next event is expected: the file the
	// last ROTATE named, and the end of the last event received.
	file string
	pos  uint64
	// pending is an event read ahead (the first of the next file), with
	// its file.
	pending     *event.Framed
	pendingFile string
	ended       bool // the source sent EOF: its log ends here
	err         error
}

// ReadFormat returns the format description of the source's binlog
// where a read from start (or, when start is zero, from after
// src.StartGTID) begins. It fails, with the source's message, when the
// source refuses the dump (a missing privilege, an unknown file).
func ReadFormat(ctx context.Context, src Source, start txn.Position) (*txn.Format, error) {
	if !start.IsZero() {
		start.Offset = uint64(len(event.Magic)) // the file's own, unaltered
	}
	s, err := Dial(ctx, src, start)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for {
		ev, file, err := s.event()
		if errors.Is(err, io.EOF) {
			return nil, &event.Error{File: file, Offset: ev.Pos, Err: fmt.Errorf("source %s sent no format description", src)}
		}
		if err != nil {
			return nil, err
		}
		if ev.Type == event.TypeFormatDescription {
			f, err := event.ParseFormat(ev.Raw, txn.Position{File: file, Offset: ev.Pos})
			if err != nil {
				return nil, &event.Error{File: file, Offset: ev.Pos, EventType: event.TypeName(ev.Type), Err: err}
			}
			return f.Format, nil
		}
	}
}

// Dial connects to src and asks for its binlogs from start, or from
// after src.StartGTID when start is zero.
func Dial(ctx context.Context, src Source, start txn.Position) (*Stream, error) {
	switch {
	case src.ServerID == 0:
		return nil, errors.New("read binlogs from a server: server id 0 is not allowed for a dump connection")
	case start.IsZero() && src.StartGTID == "":
		return nil, errors.New("read binlogs from a server: no start position or GTID")
	case start.Offset > 1<<32-1:
		return nil, fmt.Errorf("read binlogs from a server: start %s is beyond the 4 GiB a dump request can name", start)
	}
	timeout := src.ReadTimeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := client.ConnectWithDialer(ctx, src.Network, src.Address, src.User, src.Password, "", dialer.DialContext,
		func(c *client.Conn) error {
			c.ReadTimeout, c.WriteTimeout = timeout, timeout
			if src.TLS != nil {
				c.SetTLSConfig(src.TLS)
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("connect to source %s: %w", src, err)
	}
	s := &Stream{src: src, conn: conn, file: start.File, pos: start.Offset}
	if err := s.requestDump(start); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// requestDump sets up the session as a replica would and sends the dump
// command.
func (s *Stream) requestDump(start txn.Position) error {
	mariadb := strings.Contains(strings.ToLower(s.conn.GetServerVersion()), "mariadb")
	// Tell the source this client reads checksums (each event keeps the
	// one in its file); the ROTATE it makes up first then has none.
	setup := []string{"SET @master_binlog_checksum = 'NONE', @source_binlog_checksum = 'NONE'"}
	flags := uint16(dumpNonBlock)
	if mariadb {
		setup = append(setup, fmt.Sprintf("SET @mariadb_slave_capability = %d", mariaCapabilityGTID))
		flags |= dumpSendAnnotateRows
	}
	if start.IsZero() {
		if !mariadb {
			return fmt.Errorf("source %s: a GTID start point is supported for MariaDB sources only; give FILE:POS", s.src)
		}
		if strings.Trim(s.src.StartGTID, "0123456789-, ") != "" {
			return fmt.Errorf("source %s: bad MariaDB GTID position %q", s.src, s.src.StartGTID)
		}
		setup = append(setup, fmt.Sprintf("SET @slave_connect_state = '%s'", s.src.StartGTID))
		start.Offset = uint64(len(event.Magic)) // the source ignores file and offset
	}
	for _, q := range setup {
		if _, err := s.conn.Execute(q); err != nil {
			return fmt.Errorf("source %s: set up the dump session (%s): %w", s.src, q, err)
		}
	}
	// COM_BINLOG_DUMP: offset (4), flags (2), server id (4), file name;
	// WritePacket fills the 4-byte packet header.
	data := make([]byte, 4, 4+1+4+2+4+len(start.File))
	data = append(data, comBinlogDump)
	data = binary.LittleEndian.AppendUint32(data, uint32(start.Offset))
	data = binary.LittleEndian.AppendUint16(data, flags)
	data = binary.LittleEndian.AppendUint32(data, s.src.ServerID)
	data = append(data, start.File...)
	s.conn.ResetSequence()
	if err := s.conn.WritePacket(data); err != nil {
		return fmt.Errorf("source %s: send the dump request: %w", s.src, err)
	}
	return nil
}

// Close ends the dump connection.
func (s *Stream) Close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// NextFile returns the next file the source sends, or io.EOF where its
// log ends.
func (s *Stream) NextFile() (*File, error) {
	ev, file, err := s.event()
	if err != nil {
		return nil, err
	}
	s.unread(ev, file)
	return &File{s: s, name: file, end: ev.Pos}, nil
}

// unread puts ev back, to be returned by the next call to event.
func (s *Stream) unread(ev event.Framed, file string) {
	s.pending, s.pendingFile = &ev, file
}

// event returns the next event the source sends and the name of its file,
// skipping the events the source makes up for the dump. It returns io.EOF
// (with the offset reached) where the source's log ends, and an
// *event.Error when the connection is lost or the source reports an error.
func (s *Stream) event() (event.Framed, string, error) {
	if s.pending != nil {
		ev, file := *s.pending, s.pendingFile
		s.pending = nil
		return ev, file, nil
	}
	for s.err == nil {
		if s.ended {
			return event.Framed{Pos: s.pos}, s.file, io.EOF
		}
		data, err := s.receive()
		if err != nil {
			s.fail(err)
			break
		}
		if data == nil {
			continue // the EOF packet
		}
		ev, file, ok, err := s.frame(data)
		if err != nil {
			s.fail(err)
			break
		}
		if ok {
			return ev, file, nil
		}
	}
	return event.Framed{Pos: s.pos}, s.file, s.err
}

// fail records err and closes the connection.
func (s *Stream) fail(err error) {
	s.err = err
	s.Close()
}

// receive reads one packet and returns the event it holds, or nil for the
// EOF packet that ends the dump.
func (s *Stream) receive() ([]byte, error) {
	if s.conn == nil {
		return nil, errors.New("binlog reader closed")
	}
	data, err := s.conn.ReadPacket()
	if err != nil {
		return nil, &event.Error{File: s.file, Offset: s.pos, Err: fmt.Errorf(
			"lost the connection to source %s after the event ending at this offset: %w", s.src, err)}
	}
	switch {
	case len(data) > 0 && data[0] == mysql.OK_HEADER:
		return data[1:], nil
	case len(data) > 0 && data[0] == mysql.EOF_HEADER:
		// The end of the dump (an EOF packet, or an OK packet headed 0xFE
		// with CLIENT_DEPRECATE_EOF): events always come after 0x00.
		s.ended = true
		return nil, nil
	case len(data) > 0 && data[0] == mysql.ERR_HEADER:
		err := s.conn.HandleErrorPacket(data)
		hint := ""
		var me *mysql.MyError
		if errors.As(err, &me) && me.Code == mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR {
			hint = " (the source user needs the REPLICATION SLAVE privilege)"
		}
		return nil, &event.Error{File: s.file, Offset: s.pos, Err: fmt.Errorf("source %s stopped the binlog dump%s: %w", s.src, hint, err)}
	}
	return nil, &event.Error{File: s.file, Offset: s.pos, Err: fmt.Errorf("source %s sent an unexpected packet (%d bytes)", s.src, len(data))}
}

// frame turns one event the source sent into an event.Framed at its
// offset in its file. It reports ok false for the events the source makes up
// (artificial ROTATE and GTID_LIST, heartbeats), after taking the file name
// from a ROTATE.
func (s *Stream) frame(b []byte) (ev event.Framed, file string, ok bool, err error) {
	if len(b) < event.HeaderSize {
		return ev, "", false, &event.Error{File: s.file, Offset: s.pos, Err: fmt.Errorf("source %s sent an event of %d bytes", s.src, len(b))}
	}
	ev.Header = event.ParseHeader(b)
	ev.Raw = b[:len(b):len(b)]
	file = s.file
	if int(ev.Size) != len(b) {
		return ev, file, false, &event.Error{File: file, Offset: s.pos, EventType: event.TypeName(ev.Type),
			Err: fmt.Errorf("event header says %d bytes, the source sent %d", ev.Size, len(b))}
	}
	switch {
	case ev.Type == event.TypeRotate && (ev.Flags&event.FlagArtificial != 0 || ev.LogPos == 0):
		return ev, file, false, s.rotate(ev)
	case ev.Type == event.TypeFormatDescription:
		// At the file's start; when the dump starts further in, the source
		// sends it with log_pos 0, then the events from the start.
		ev.Pos = uint64(len(event.Magic))
		if s.pos <= ev.Pos {
			s.pos = ev.Pos + uint64(ev.Size)
		}
		return ev, file, true, nil
	case ev.Flags&event.FlagArtificial != 0, ev.Type == event.TypeHeartbeat, ev.Type == event.TypeHeartbeatV2:
		return ev, file, false, nil
	}
	end := s.pos + uint64(ev.Size)
	if ev.LogPos != 0 {
		end = eventEnd(s.pos, ev.Size, ev.LogPos)
	}
	ev.Pos, s.pos = end-uint64(ev.Size), end
	if ev.Type == event.TypeRotate { // the file's last event: the next file follows
		return ev, file, true, s.rotate(ev)
	}
	return ev, file, true, nil
}

// rotate moves to the file a ROTATE event names.
func (s *Stream) rotate(ev event.Framed) error {
	body := ev.Raw[event.HeaderSize:]
	// A checksum ends the event unless the source left it out (it does
	// for the first, made-up ROTATE): take it off where it matches.
	if n := len(body) - 4; n >= 8 && crc32.ChecksumIEEE(ev.Raw[:len(ev.Raw)-4]) == binary.LittleEndian.Uint32(body[n:]) {
		body = body[:n]
	}
	if len(body) <= 8 {
		return &event.Error{File: s.file, Offset: s.pos, EventType: event.TypeName(ev.Type),
			Err: fmt.Errorf("source %s sent a ROTATE without a file name", s.src)}
	}
	s.file, s.pos = string(body[8:]), binary.LittleEndian.Uint64(body)
	return nil
}

// eventEnd returns the offset just past an event of size bytes received
// when the previous one ended at prev, whose header says it ends at logPos:
// the offset's low 32 bits in files over 4 GiB. The source may skip events
// (before a GTID start), never send one twice.
func eventEnd(prev uint64, size, logPos uint32) uint64 {
	least := prev + uint64(size)
	end := least&^(1<<32-1) | uint64(logPos)
	if end < least {
		end += 1 << 32
	}
	return end
}

// File frames the events of one of the source's files as the source
// sends them, as logfile.File frames a file on disk.
type File struct {
	s    *Stream
	name string
	end  uint64 // end of the last event returned
	done bool
	fde  bool // the file's format description was returned
	next bool // it ended where the source began sending the next file
}

// Next returns the next event of the file, io.EOF where the source moves
// to another file or its log ends, or the stream's error.
func (f *File) Next() (event.Framed, error) {
	if f.done {
		return event.Framed{Pos: f.end}, io.EOF
	}
	ev, file, err := f.s.event()
	if errors.Is(err, io.EOF) {
		f.done = true
		return event.Framed{Pos: f.end}, io.EOF
	}
	if err != nil {
		return ev, err
	}
	if file != f.name || ev.Type == event.TypeFormatDescription && f.fde {
		f.s.unread(ev, file) // the first event of the next file
		f.done, f.next = true, true
		return event.Framed{Pos: f.end}, io.EOF
	}
	f.fde = f.fde || ev.Type == event.TypeFormatDescription
	f.end = ev.Pos + uint64(ev.Size)
	return ev, nil
}

// NextFollows reports whether Next returned io.EOF because the source
// began sending its next file (not because its log ended).
func (f *File) NextFollows() bool { return f.next }

// NewSlab does nothing: each event the source sends has its own memory.
func (f *File) NewSlab(int) {}

// Name returns the name of the source's file.
func (f *File) Name() string { return f.name }

// Size returns math.MaxUint64, an unknown size: the source checks the
// start position.
func (f *File) Size() uint64 { return math.MaxUint64 }

// DataEnd returns the end of the last event read.
func (f *File) DataEnd() uint64 { return f.end }

// Close does nothing: the stream is closed on its own (Stream.Close).
func (f *File) Close() error { return nil }
