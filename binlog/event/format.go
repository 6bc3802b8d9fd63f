package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/txn"
)

// Format is what the reader knows about a file's FORMAT_DESCRIPTION event.
type Format struct {
	*txn.Format
	// InUse is LOG_EVENT_BINLOG_IN_USE_F: the server had not closed the
	// file, because it was still writing it or because it stopped
	// without closing it (a crash).
	InUse bool
	// Created is the event's create time (seconds since the epoch): the
	// server sets it in the first file it writes as it starts, and leaves
	// it zero in the files it rotates to.
	Created uint32
	// postHeader holds the post-header length of each event type
	// (index type-1), as the event lists them.
	postHeader []byte
}

// Checksum algorithms a FORMAT_DESCRIPTION event may announce.
const (
	ChecksumOff   = 0
	ChecksumCRC32 = 1
)

// ParseFormat decodes a FORMAT_DESCRIPTION event (raw is the whole event) at
// pos in file name. It returns an error for a malformed or unsupported event,
// or when its own checksum does not match.
func ParseFormat(raw []byte, pos txn.Position) (*Format, error) {
	body := raw[HeaderSize:]
	// binlog version (2), server version (50), create time (4), header length (1)
	const fixed = 2 + 50 + 4 + 1
	if len(body) < fixed {
		return nil, fmt.Errorf("format description of %d bytes is too short", len(raw))
	}
	if v := binary.LittleEndian.Uint16(body); v != 4 {
		return nil, fmt.Errorf("binlog version %d is not supported (only version 4, MySQL 5.0 and later)", v)
	}
	version := string(body[2:52])
	if i := bytes.IndexByte(body[2:52], 0); i >= 0 {
		version = string(body[2 : 2+i])
	}
	if hl := body[56]; hl != HeaderSize {
		return nil, fmt.Errorf("event header length %d is not supported (want %d)", hl, HeaderSize)
	}
	f := &Format{Format: &txn.Format{ServerVersion: version, Pos: pos, Raw: raw},
		InUse: raw[17]&FlagInUse != 0, Created: binary.LittleEndian.Uint32(body[52:])}
	f.Flavor = txn.FlavorMySQL
	if strings.Contains(strings.ToLower(version), "mariadb") {
		f.Flavor = txn.FlavorMariaDB
	}
	f.Flags2Written = flags2Written(version, f.Flavor)
	rest := body[fixed:]
	if hasChecksumAlg(version, f.Flavor) {
		// post-header lengths, then the algorithm (1) and the checksum (4),
		// which is there even when the algorithm is OFF.
		if len(rest) < 5 {
			return nil, errors.New("format description is too short to hold its checksum algorithm")
		}
		switch alg := rest[len(rest)-5]; alg {
		case ChecksumOff:
		case ChecksumCRC32:
			f.Checksum = true
			// The server clears LOG_EVENT_BINLOG_IN_USE_F in the file when it
			// closes it; the checksum was computed without that flag.
			cp := append([]byte(nil), raw...)
			cp[17] &^= FlagInUse
			if err := VerifyChecksum(cp); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("checksum algorithm %d is not supported", alg)
		}
		rest = rest[:len(rest)-5]
	}
	f.postHeader = rest
	return f, nil
}

// PostHeaderLen returns the post-header length of event type t, or -1 if the
// format description does not list it.
func (f *Format) PostHeaderLen(t byte) int {
	if t == 0 || int(t) > len(f.postHeader) {
		return -1
	}
	return int(f.postHeader[t-1])
}

// hasChecksumAlg reports whether a server of this version writes the
// checksum algorithm in its format description: MySQL 5.6.1 and MariaDB 5.3.0
// onwards.
func hasChecksumAlg(version string, flavor txn.Flavor) bool {
	if flavor == txn.FlavorMariaDB {
		return atLeast(splitVersion(version), [3]int{5, 3, 0})
	}
	return atLeast(splitVersion(version), [3]int{5, 6, 1})
}

// flags2Written returns the MariaDB bits of a query event's flags2 that a
// server of this version writes, as mariadb-binlog (10.11) reads them:
// check_constraint_checks and system_versioning_insert_history from every
// server (one that does not know them never turns them on), sql_if_exists
// from MariaDB 10.5.2, explicit_defaults_for_timestamp from the MariaDB
// releases that began to write it: 10.5.17, 10.6.9, 10.7.5, 10.8.4, 10.9.2
// and every release from 10.10.
func flags2Written(version string, flavor txn.Flavor) uint32 {
	bits := uint32(txn.Flags2NoCheckConstraintChecks | txn.Flags2InsertHistory)
	if flavor != txn.FlavorMariaDB {
		return bits
	}
	v := splitVersion(version)
	if atLeast(v, [3]int{10, 5, 2}) {
		bits |= txn.Flags2IfExists
	}
	firstPatch := map[int]int{5: 17, 6: 9, 7: 5, 8: 4, 9: 2}
	if p, ok := firstPatch[v[1]]; v[0] > 10 || v[0] == 10 && (v[1] >= 10 || ok && v[2] >= p) {
		bits |= txn.Flags2ExplicitDefaultsForTimestamp
	}
	return bits
}

// atLeast reports whether version v is want or later.
func atLeast(v, want [3]int) bool {
	for i := range v {
		if v[i] != want[i] {
			return v[i] > want[i]
		}
	}
	return true
}

// splitVersion parses the leading "X.Y.Z" of a server version string;
// missing or malformed parts are zero.
func splitVersion(v string) [3]int {
	var out [3]int
	for i, part := range strings.SplitN(v, ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		out[i], _ = strconv.Atoi(part[:end])
	}
	return out
}

// FirstFormat decodes ev, the first event of the file called name, which
// must be its format description.
func FirstFormat(ev Framed, name string) (*Format, error) {
	if ev.Type != TypeFormatDescription {
		return nil, fmt.Errorf("file does not start with a FORMAT_DESCRIPTION_EVENT (found %s)", TypeName(ev.Type))
	}
	return ParseFormat(ev.Raw, txn.Position{File: name, Offset: ev.Pos})
}
