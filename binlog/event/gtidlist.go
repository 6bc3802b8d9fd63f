package event

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// The GTID lists that start a binlog file (the reader checks the files'
// continuity with them): MariaDB's GTID_LIST, MySQL's PREVIOUS_GTIDS.

// MariaKey is a MariaDB (domain, server id) pair.
type MariaKey struct{ Domain, Server uint32 }

// ParseMariaGTIDList decodes a GTID_LIST event body: a count (its top four
// bits are flags), then (domain 4, server id 4, sequence number 8) each.
func ParseMariaGTIDList(body []byte) (map[MariaKey]uint64, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("GTID_LIST body of %d bytes is too short", len(body))
	}
	n := int(binary.LittleEndian.Uint32(body) & (1<<28 - 1))
	if len(body) < 4+16*n {
		return nil, fmt.Errorf("GTID_LIST of %d entries in a body of %d bytes", n, len(body))
	}
	m := make(map[MariaKey]uint64, n)
	for i := 0; i < n; i++ {
		b := body[4+16*i:]
		m[MariaKey{binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])}] = binary.LittleEndian.Uint64(b[8:])
	}
	return m, nil
}

// ParsePreviousGTIDs decodes a PREVIOUS_GTIDS event body: the number of
// sources (8 bytes; MySQL 8.3+ tagged format: a format byte, 6 bytes of
// count, the format byte again), then per source its UUID (16), its tag in
// the tagged format (a length byte holding twice the length, the tag),
// its number of intervals (8) and the intervals (start, end exclusive, 8
// each).
func ParsePreviousGTIDs(body []byte) (txn.GTIDSet, error) {
	var set txn.GTIDSet
	if len(body) < 8 {
		return set, fmt.Errorf("PREVIOUS_GTIDS body of %d bytes is too short", len(body))
	}
	tagged := body[7] == 1
	var n uint64
	if tagged {
		var b [8]byte
		copy(b[:], body[1:7])
		n = binary.LittleEndian.Uint64(b[:])
	} else {
		n = binary.LittleEndian.Uint64(body)
	}
	p := body[8:]
	short := fmt.Errorf("PREVIOUS_GTIDS body of %d bytes ends inside its %d sources", len(body), n)
	if n > uint64(len(p)/24) {
		return set, short
	}
	for i := uint64(0); i < n; i++ {
		if len(p) < 16 {
			return set, short
		}
		h := hex.EncodeToString(p[:16])
		src := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		p = p[16:]
		if tagged {
			if len(p) < 1 || p[0]&1 != 0 || len(p) < 1+int(p[0]>>1) {
				return set, short
			}
			if l := int(p[0] >> 1); l > 0 {
				// MySQL's tag syntax, in lower case as MySQL keeps it: a set
				// with any other text would not parse back.
				src += ":" + strings.ToLower(string(p[1:1+l]))
				if _, err := txn.ParseGTID(src + ":1"); err != nil {
					return set, fmt.Errorf("PREVIOUS_GTIDS: %w", err)
				}
			}
			p = p[1+int(p[0]>>1):]
		}
		if len(p) < 8 {
			return set, short
		}
		k := binary.LittleEndian.Uint64(p)
		p = p[8:]
		if k > uint64(len(p)/16) {
			return set, short
		}
		for j := uint64(0); j < k; j++ {
			lo, end := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
			p = p[16:]
			if lo == 0 || end <= lo {
				return set, fmt.Errorf("PREVIOUS_GTIDS interval [%d, %d) of %s is not valid", lo, end, src)
			}
			set.AddRange(src, lo, end-1)
		}
	}
	return set, nil
}
