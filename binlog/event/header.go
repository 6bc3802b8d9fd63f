// Package event reads the parts of single binlog events that the binlog
// packages parse themselves: the common header and its checksum, the event
// type codes and names, the format description, the bodies of QUERY,
// INTVAR, RAND, USER_VAR, GTID and GTID list events, the header of row
// events and the optional metadata of table maps, and the bounds checked
// before go-mysql sees an event (guard.go). It makes the stand-alone forms
// of MariaDB's compressed row events and of the events inside MySQL's
// compressed transactions (compressed.go), and table maps that name
// another table (RetargetTableMap). Error, the error naming a file, an
// offset and an event, is the binlog packages' error for bad input.
package event

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of the common event header in binlog version 4.
const HeaderSize = 19

// Magic starts every binlog file.
const Magic = "\xfebin"

// Header is the common header of an event.
type Header struct {
	Timestamp uint32
	Type      byte
	ServerID  uint32
	Size      uint32
	LogPos    uint32
	Flags     uint16
}

// Header flags.
const (
	FlagInUse = 0x01 // LOG_EVENT_BINLOG_IN_USE_F: set in the format description while the server writes the file
	// FlagThreadSpecific (LOG_EVENT_THREAD_SPECIFIC_F) marks a statement
	// whose outcome depends on its session: it used a temporary table or
	// called CONNECTION_ID().
	FlagThreadSpecific = 0x04
	FlagSuppressUse    = 0x08 // LOG_EVENT_SUPPRESS_USE_F: the query must not run in its logged default database
	// FlagArtificial (LOG_EVENT_ARTIFICIAL_F) marks events a source makes
	// up for a dump (a ROTATE naming the file, MariaDB's GTID_LIST at a
	// GTID start), which are not in its files.
	FlagArtificial = 0x20
	FlagIgnorable  = 0x80 // LOG_EVENT_IGNORABLE_F: a reader that does not know the event may skip it
)

// Framed is one framed event: its header, its position and its exact bytes.
type Framed struct {
	Header
	Pos uint64
	Raw []byte
}

// ParseHeader decodes the 19-byte common header.
func ParseHeader(b []byte) Header {
	return Header{
		Timestamp: binary.LittleEndian.Uint32(b[0:]),
		Type:      b[4],
		ServerID:  binary.LittleEndian.Uint32(b[5:]),
		Size:      binary.LittleEndian.Uint32(b[9:]),
		LogPos:    binary.LittleEndian.Uint32(b[13:]),
		Flags:     binary.LittleEndian.Uint16(b[17:]),
	}
}

// VerifyChecksum checks the CRC32 that ends raw.
func VerifyChecksum(raw []byte) error {
	if len(raw) < HeaderSize+4 {
		return fmt.Errorf("event of %d bytes is too short to hold a checksum", len(raw))
	}
	n := len(raw) - 4
	want := binary.LittleEndian.Uint32(raw[n:])
	if got := crc32.ChecksumIEEE(raw[:n]); got != want {
		return fmt.Errorf("checksum mismatch: event says %08x, computed %08x", want, got)
	}
	return nil
}
