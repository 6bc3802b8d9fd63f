package event

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/binlog-replay/binlog-replay/txn"
)

// go-mysql sizes some allocations from lengths read in the event (a rows
// event's column count, a compressed body's uncompressed size, a zstd frame's
// content size). A corrupt length would ask for terabytes and kill the
// process, which no recover can stop. The checks here bound those lengths
// before go-mysql sees the event.

// Limits on decompressed sizes: a MariaDB compressed event holds one event
// body (at most max_allowed_packet, 1 GiB); a MySQL transaction payload holds
// one transaction.
const (
	maxMariaUncompressed   = 1 << 30
	maxPayloadUncompressed = 4 << 30
)

// LengthEncodedInt reads a MySQL length-encoded integer at b[pos:], returning the value
// and the position after it.
func LengthEncodedInt(b []byte, pos int) (uint64, int, error) {
	if pos >= len(b) {
		return 0, 0, errors.New("length-encoded integer past the end of the event")
	}
	n := 0
	switch c := b[pos]; {
	case c < 0xfb:
		return uint64(c), pos + 1, nil
	case c == 0xfc:
		n = 2
	case c == 0xfd:
		n = 3
	case c == 0xfe:
		n = 8
	default:
		return 0, 0, fmt.Errorf("bad length-encoded integer prefix %#x", c)
	}
	if pos+1+n > len(b) {
		return 0, 0, errors.New("length-encoded integer past the end of the event")
	}
	var v [8]byte
	copy(v[:], b[pos+1:pos+1+n])
	return binary.LittleEndian.Uint64(v[:]), pos + 1 + n, nil
}

// RowsHead is what the post-header and column bitmaps of a rows event say.
type RowsHead struct {
	Flags   uint16
	Columns int
	// Bitmap1 lists the columns of the (before) image; Bitmap2, for the
	// update types that carry one, those of the after image.
	Bitmap1, Bitmap2 []byte
	// Data is the offset in the body of the row images (of the compressed
	// data in a MariaDB compressed event).
	Data int
}

// CheckRowsHeader reads the header of the body b of a rows event of type
// typ whose table id takes idLen bytes, checking that it has the column
// count of its table map and, for a MariaDB compressed event, a sane
// uncompressed size.
func CheckRowsHeader(typ byte, b []byte, idLen int, tm *txn.TableMap) (RowsHead, error) {
	var h RowsHead
	if idLen+2 > len(b) {
		return h, errors.New("rows event too short")
	}
	h.Flags = binary.LittleEndian.Uint16(b[idLen:])
	pos := idLen + 2 // table id, flags
	if typ >= 30 && typ <= 32 || typ == TypePartialUpdateRows {
		if pos+2 > len(b) {
			return h, errors.New("rows event too short")
		}
		extra := int(binary.LittleEndian.Uint16(b[pos:]))
		if extra < 2 {
			return h, fmt.Errorf("rows event extra data length %d is less than 2", extra)
		}
		pos += extra
	}
	n, pos, err := LengthEncodedInt(b, pos)
	if err != nil {
		return h, fmt.Errorf("rows event column count: %w", err)
	}
	if n != uint64(len(tm.ColumnTypes)) {
		return h, fmt.Errorf("rows event has %d columns, the table map of `%s`.`%s` has %d",
			n, tm.Schema, tm.Table, len(tm.ColumnTypes))
	}
	h.Columns = int(n)
	nb := (int(n) + 7) / 8
	bitmaps := 1
	switch typ {
	case 24, 31, TypePartialUpdateRows, 167: // updates carry an after-image bitmap
		bitmaps = 2
	}
	if pos+bitmaps*nb > len(b) {
		return h, errors.New("rows event ends inside its column bitmaps")
	}
	h.Bitmap1 = b[pos : pos+nb]
	if bitmaps == 2 {
		h.Bitmap2 = b[pos+nb : pos+2*nb]
	}
	// go-mysql decodes images until the data ends: with no column in any
	// image, no byte would be consumed and it would loop forever.
	empty := noColumn(h.Bitmap1, int(n)) && (bitmaps == 1 || noColumn(h.Bitmap2, int(n)))
	if empty && pos+bitmaps*nb < len(b) {
		return h, errors.New("rows event has row data but no column in its bitmaps")
	}
	h.Data = pos + bitmaps*nb
	if typ < 166 || typ > 168 {
		return h, nil
	}
	return h, checkMariaCompressed(b, h.Data)
}

// noColumn reports whether none of the first n bits of bitmap is set.
func noColumn(bitmap []byte, n int) bool {
	for i := 0; i < n; i++ {
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			return false
		}
	}
	return true
}

// checkMariaCompressed checks the header of MariaDB compressed data at
// b[pos:]: one byte whose low 3 bits give the size of the big-endian
// uncompressed length that follows.
func checkMariaCompressed(b []byte, pos int) error {
	if pos >= len(b) {
		return errors.New("compressed event has no compressed data")
	}
	n := int(b[pos] & 0x07)
	if n == 0 || n > 4 || pos+1+n > len(b) {
		return fmt.Errorf("compressed data header %#x is invalid", b[pos])
	}
	var size uint64
	for _, c := range b[pos+1 : pos+1+n] {
		size = size<<8 | uint64(c)
	}
	if size > maxMariaUncompressed {
		return fmt.Errorf("compressed data claims %d bytes uncompressed (limit %d)", size, maxMariaUncompressed)
	}
	return nil
}

// CheckPayload checks a TRANSACTION_PAYLOAD body: its fields, and the sizes
// its zstd frames declare, so that decompression cannot ask for more memory
// than the payload says it needs.
func CheckPayload(b []byte) error {
	pos, declared, ztype := 0, uint64(0), uint64(0)
	for {
		if pos >= len(b) {
			return errors.New("transaction payload header has no end mark")
		}
		field := b[pos]
		pos++
		if field == 0 { // OTW_PAYLOAD_HEADER_END_MARK
			break
		}
		if pos >= len(b) || b[pos] > 8 || pos+1+int(b[pos]) > len(b) {
			return errors.New("transaction payload header field is malformed")
		}
		var v [8]byte
		copy(v[:], b[pos+1:pos+1+int(b[pos])])
		val := binary.LittleEndian.Uint64(v[:])
		pos += 1 + int(b[pos])
		switch field {
		case 2: // compression type
			ztype = val
		case 3: // uncompressed size
			declared = val
		}
	}
	if ztype != 0 {
		return fmt.Errorf("transaction payload compression type %d is not supported (only zstd)", ztype)
	}
	if declared > maxPayloadUncompressed {
		return fmt.Errorf("transaction payload claims %d bytes uncompressed (limit %d)", declared, uint64(maxPayloadUncompressed))
	}
	total, err := zstdContentSize(b[pos:])
	if err != nil {
		return fmt.Errorf("transaction payload: %w", err)
	}
	if total > declared {
		return fmt.Errorf("transaction payload's zstd frames hold %d bytes, the payload says %d", total, declared)
	}
	return nil
}

// zstdContentSize walks the zstd frames in b (RFC 8878) and returns the sum
// of their declared content sizes (MySQL writes frames without one, which
// count as zero: their decoding grows with the data, block by block).
func zstdContentSize(b []byte) (uint64, error) {
	var total uint64
	for pos := 0; pos < len(b); {
		if pos+5 > len(b) || binary.LittleEndian.Uint32(b[pos:]) != 0xFD2FB528 {
			return 0, errors.New("not a zstd frame")
		}
		desc := b[pos+4]
		pos += 5
		fcsFlag, single, dictFlag := desc>>6, desc&0x20 != 0, desc&0x03
		if !single {
			pos++ // window descriptor
		}
		pos += [4]int{0, 1, 2, 4}[dictFlag]
		size := [4]int{0, 2, 4, 8}[fcsFlag]
		if fcsFlag == 0 && single {
			size = 1
		}
		if pos+size > len(b) {
			return 0, errors.New("zstd frame header truncated")
		}
		var v [8]byte
		copy(v[:], b[pos:pos+size])
		fcs := binary.LittleEndian.Uint64(v[:])
		if size == 2 {
			fcs += 256
		}
		total += fcs
		if total > maxPayloadUncompressed {
			return 0, fmt.Errorf("zstd frames claim more than %d bytes", uint64(maxPayloadUncompressed))
		}
		next, err := skipZstdBlocks(b, pos+size, desc&0x04 != 0)
		if err != nil {
			return 0, err
		}
		pos = next
	}
	return total, nil
}

// skipZstdBlocks returns the position after the blocks (and the optional
// checksum) of the frame whose first block starts at pos.
func skipZstdBlocks(b []byte, pos int, checksum bool) (int, error) {
	for {
		if pos+3 > len(b) {
			return 0, errors.New("zstd block header truncated")
		}
		h := uint32(b[pos]) | uint32(b[pos+1])<<8 | uint32(b[pos+2])<<16
		pos += 3
		size := int(h >> 3)
		switch (h >> 1) & 3 {
		case 1: // RLE block: one byte, repeated size times
			size = 1
		case 3:
			return 0, errors.New("reserved zstd block type")
		}
		if pos+size > len(b) {
			return 0, errors.New("zstd block truncated")
		}
		pos += size
		if h&1 == 1 { // last block
			break
		}
	}
	if checksum {
		pos += 4
	}
	if pos > len(b) {
		return 0, errors.New("zstd frame checksum truncated")
	}
	return pos, nil
}
