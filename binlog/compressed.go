package binlog

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

// expandCompressedRows returns the uncompressed equivalent of the MariaDB
// compressed row event e, whose row images start at body offset h.data.
func expandCompressedRows(e event, h rowsHead, checksum bool) ([]byte, error) {
	typ, ok := uncompressedRowsType[e.Type]
	if !ok {
		return nil, fmt.Errorf("event type %d is not a MariaDB compressed row event", e.Type)
	}
	images, err := decompressMariaDB(e.body[h.data:])
	if err != nil {
		return nil, fmt.Errorf("decompress row images: %w", err)
	}
	size := headerSize + h.data + len(images)
	if checksum {
		size += 4
	}
	if uint64(size) > 1<<32-1 {
		return nil, fmt.Errorf("uncompressed row event of %d bytes is too large for an event header", size)
	}
	raw := make([]byte, 0, size)
	raw = append(raw, e.raw[:headerSize]...)
	raw[4] = typ
	binary.LittleEndian.PutUint32(raw[9:], uint32(size))
	raw = append(raw, e.body[:h.data]...)
	raw = append(raw, images...)
	if checksum {
		raw = binary.LittleEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
	}
	return raw, nil
}

// MySQL 8's compressed transactions (binlog_transaction_compression=ON)
// hold their events, without checksums, in one TRANSACTION_PAYLOAD event.
// The reader gives each of them, as Event.Raw, the stand-alone event a
// server's BINLOG statement takes: the same bytes, with a CRC32 when the
// file has checksums (the format description sent with them says so). This
// is what mysqlbinlog prints for them.

// standaloneEvent returns the event in, from a TRANSACTION_PAYLOAD, as a
// stand-alone event.
func standaloneEvent(in []byte, checksum bool) ([]byte, error) {
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
