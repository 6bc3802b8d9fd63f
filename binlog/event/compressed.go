package event

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// MariaDB's compressed row events (log_bin_compress=ON) are the v1 row
// events with their row images zlib-compressed. A server's BINLOG statement
// refuses them (error 1730), so the reader gives each one, as Event.Raw,
// the equivalent uncompressed event: the same header with the v1 type and
// the new size, the same post-header, column count and bitmaps, the
// decompressed images, and a new CRC32 when the file has checksums. This is
// what mariadb-binlog prints for them.

// uncompressedRowsType maps a MariaDB compressed row event type to the v1
// row event type it compresses.
var uncompressedRowsType = map[byte]byte{
	166: 23, // WRITE_ROWS_COMPRESSED_EVENT_V1 -> WRITE_ROWS_EVENT_V1
	167: 24, // UPDATE_ROWS_COMPRESSED_EVENT_V1 -> UPDATE_ROWS_EVENT_V1
	168: 25, // DELETE_ROWS_COMPRESSED_EVENT_V1 -> DELETE_ROWS_EVENT_V1
}

// UncompressedType returns the v1 row event type that the MariaDB
// compressed row event type t compresses, and whether t is one.
func UncompressedType(t byte) (byte, bool) {
	typ, ok := uncompressedRowsType[t]
	return typ, ok
}

// ExpandCompressedRows returns the uncompressed equivalent of the MariaDB
// compressed row event raw (the whole event; body is its body without
// header and checksum), whose row images start at body offset h.Data.
func ExpandCompressedRows(raw, body []byte, h RowsHead, checksum bool) ([]byte, error) {
	typ, ok := uncompressedRowsType[raw[4]]
	if !ok {
		return nil, fmt.Errorf("event type %d is not a MariaDB compressed row event", raw[4])
	}
	images, err := decompressMariaDB(body[h.Data:])
	if err != nil {
		return nil, fmt.Errorf("decompress row images: %w", err)
	}
	size := HeaderSize + h.Data + len(images)
	if checksum {
		size += 4
	}
	if uint64(size) > 1<<32-1 {
		return nil, fmt.Errorf("uncompressed row event of %d bytes is too large for an event header", size)
	}
	out := make([]byte, 0, size)
	out = append(out, raw[:HeaderSize]...)
	out[4] = typ
	binary.LittleEndian.PutUint32(out[9:], uint32(size))
	out = append(out, body[:h.Data]...)
	out = append(out, images...)
	if checksum {
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
	}
	return out, nil
}

// MySQL 8's compressed transactions (binlog_transaction_compression=ON)
// hold their events, without checksums, in one TRANSACTION_PAYLOAD event.
// The reader gives each of them, as Event.Raw, the stand-alone event a
// server's BINLOG statement takes: the same bytes, with a CRC32 when the
// file has checksums (the format description sent with them says so). This
// is what mysqlbinlog prints for them.

// Standalone returns the event in, from a TRANSACTION_PAYLOAD, as a
// stand-alone event.
func Standalone(in []byte, checksum bool) ([]byte, error) {
	size := len(in)
	if checksum {
		size += 4
	}
	if uint64(size) > 1<<32-1 {
		return nil, fmt.Errorf("event of %d bytes is too large for an event header", size)
	}
	raw := make([]byte, 0, size)
	raw = append(raw, in...)
	if checksum {
		binary.LittleEndian.PutUint32(raw[9:], uint32(size))
		raw = binary.LittleEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
	}
	return raw, nil
}
