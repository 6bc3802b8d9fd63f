package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/binlog-replay/binlog-replay/txn"
)

// RetargetTableMap returns a copy of the TABLE_MAP event raw, written under
// the format description f, that names the table db.table instead: row
// events after it then write that table when passed through in a BINLOG
// statement. The event's size and checksum are made anew; the table's
// column description is kept, so the table named must have the same
// columns.
func RetargetTableMap(raw []byte, f *txn.Format, db, table string) ([]byte, error) {
	if len(db) > 255 || len(table) > 255 {
		return nil, errors.New("retarget table map: name too long")
	}
	ff, err := ParseFormat(f.Raw, f.Pos)
	if err != nil {
		return nil, fmt.Errorf("retarget table map: %w", err)
	}
	body := raw[HeaderSize:]
	if ff.Checksum {
		if len(body) < 4 {
			return nil, errors.New("retarget table map: event too short")
		}
		body = body[:len(body)-4]
	}
	ph := ff.PostHeaderLen(TypeTableMap)
	if ph < 0 {
		ph = 8
	}
	// post-header, then db length, db, 0, table length, table, 0, columns...
	if len(body) < ph+1 {
		return nil, errors.New("retarget table map: event too short")
	}
	p := ph
	dbLen := int(body[p])
	if len(body) < p+1+dbLen+2 {
		return nil, errors.New("retarget table map: event too short for its database name")
	}
	p += 1 + dbLen + 1
	tblLen := int(body[p])
	if len(body) < p+1+tblLen+1 {
		return nil, errors.New("retarget table map: event too short for its table name")
	}
	rest := body[p+1+tblLen+1:]
	out := make([]byte, 0, len(raw)+len(db)+len(table))
	out = append(out, raw[:HeaderSize]...)
	out = append(out, body[:ph]...)
	out = append(out, byte(len(db)))
	out = append(out, db...)
	out = append(out, 0, byte(len(table)))
	out = append(out, table...)
	out = append(out, 0)
	out = append(out, rest...)
	size := len(out)
	if ff.Checksum {
		size += 4
	}
	binary.LittleEndian.PutUint32(out[9:], uint32(size))
	if ff.Checksum {
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
	}
	return out, nil
}
