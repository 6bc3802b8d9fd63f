package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/binlog-replay/binlog-replay/txn"
)

// Query status variable codes (MySQL libbinlogevents statement_events.h,
// MariaDB sql/log_event.h).
const (
	qFlags2                       = 0
	qSQLMode                      = 1
	qCatalog                      = 2 // MySQL 5.0.0-5.0.3: length, string, NUL
	qAutoIncrement                = 3
	qCharset                      = 4
	qTimeZone                     = 5
	qCatalogNZ                    = 6
	qLCTimeNames                  = 7
	qCharsetDatabase              = 8
	qTableMapForUpdate            = 9
	qMasterDataWritten            = 10
	qInvoker                      = 11
	qUpdatedDBNames               = 12
	qMicroseconds                 = 13
	qExplicitDefaultsForTimestamp = 16
	qDDLLoggedWithXID             = 17
	qDefaultCollationForUTF8MB4   = 18
	qSQLRequirePrimaryKey         = 19
	qDefaultTableEncryption       = 20
	qHRNow                        = 128 // MariaDB: microseconds of the statement's start
	qXID                          = 129 // MariaDB: xid of a DDL
	qGTIDFlags3                   = 130 // MariaDB 10.8+: extra GTID flags (+8 bytes for COMMIT/ROLLBACK ALTER)
	qCharacterSetCollations       = 131 // MariaDB 11.2+: count, then count (charset, collation) uint16 pairs
)

// maxDBsInEventMTS is MySQL's MAX_DBS_IN_EVENT_MTS: a larger count in
// Q_UPDATED_DB_NAMES (254, OVER_MAX_DBS_IN_EVENT_MTS) carries no names.
const maxDBsInEventMTS = 16

// MariaDB Q_GTID_FLAGS3 bits that add an 8-byte sequence number.
const (
	flags3CommitAlter   = 4
	flags3RollbackAlter = 8
)

// ParseQuery decodes a QUERY or MariaDB QUERY_COMPRESSED event body (without
// header and checksum). postHeader is the QUERY post-header length from the
// format description.
func ParseQuery(body []byte, postHeader int, compressed bool) (*txn.Query, error) {
	const minimal = 4 + 4 + 1 + 2 // thread id, exec time, db length, error code
	if postHeader < minimal+2 {
		return nil, fmt.Errorf("query post-header of %d bytes has no status variables (pre-5.0 format is not supported)", postHeader)
	}
	if len(body) < postHeader {
		return nil, fmt.Errorf("query event body of %d bytes is shorter than its %d-byte post-header", len(body), postHeader)
	}
	q := &txn.Query{
		ThreadID:  binary.LittleEndian.Uint32(body[0:]),
		ErrorCode: binary.LittleEndian.Uint16(body[9:]),
	}
	dbLen := int(body[8])
	statusLen := int(binary.LittleEndian.Uint16(body[11:]))
	rest := body[postHeader:]
	if len(rest) < statusLen+dbLen+1 {
		return nil, fmt.Errorf("query event body too short for %d bytes of status variables and a %d-byte schema", statusLen, dbLen)
	}
	status, err := parseStatus(rest[:statusLen])
	if err != nil {
		return nil, err
	}
	q.Status = status
	rest = rest[statusLen:]
	q.Schema = string(rest[:dbLen])
	if rest[dbLen] != 0 {
		return nil, errors.New("query event schema name is not NUL-terminated")
	}
	q.SQL = rest[dbLen+1:]
	if compressed {
		if err := checkMariaCompressed(q.SQL, 0); err != nil {
			return nil, err
		}
		if q.SQL, err = decompressMariaDB(q.SQL); err != nil {
			return nil, fmt.Errorf("decompress query: %w", err)
		}
	}
	return q, nil
}

// decompressMariaDB inflates a MariaDB compressed binlog payload, turning a
// panic on malformed input into an error.
func decompressMariaDB(b []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed compressed data: %v", r)
		}
	}()
	return mysql.DecompressMariadbData(b)
}

// statusReader walks a status variable block.
type statusReader struct {
	b   []byte
	pos int
	err error
}

// take returns the next n bytes, or nil once the block is exhausted (then
// err is set).
func (s *statusReader) take(n int) []byte {
	if s.err != nil {
		return nil
	}
	if n < 0 || len(s.b)-s.pos < n {
		s.err = fmt.Errorf("status variables end inside a value (need %d bytes at byte %d of %d)", n, s.pos, len(s.b))
		return nil
	}
	v := s.b[s.pos : s.pos+n]
	s.pos += n
	return v
}

func (s *statusReader) u8() uint8 {
	if v := s.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (s *statusReader) u16() uint16 {
	if v := s.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (s *statusReader) u24() uint32 {
	if v := s.take(3); v != nil {
		return uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16
	}
	return 0
}

func (s *statusReader) u32() uint32 {
	if v := s.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (s *statusReader) u64() uint64 {
	if v := s.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// lenStr reads a one-byte length and that many bytes.
func (s *statusReader) lenStr() []byte { return s.take(int(s.u8())) }

// cstr reads a NUL-terminated string.
func (s *statusReader) cstr() []byte {
	if s.err != nil {
		return nil
	}
	i := bytes.IndexByte(s.b[s.pos:], 0)
	if i < 0 {
		s.err = fmt.Errorf("unterminated name in status variables at byte %d", s.pos)
		return nil
	}
	v := s.b[s.pos : s.pos+i]
	s.pos += i + 1
	return v
}

// parseStatus decodes a query event's status variables. An unknown code is
// an error: the length of its value is unknown, so nothing after it could be
// trusted.
func parseStatus(b []byte) (txn.Status, error) {
	var st txn.Status
	s := &statusReader{b: b}
	for s.err == nil && s.pos < len(b) {
		code := s.u8()
		if err := s.field(code, &st); err != nil {
			return st, err
		}
	}
	if s.err != nil {
		return st, fmt.Errorf("parse query status variables: %w", s.err)
	}
	return st, nil
}

// field reads the value of one status variable into st.
func (s *statusReader) field(code byte, st *txn.Status) error {
	switch code {
	case qFlags2:
		st.HasFlags2, st.Flags2 = true, s.u32()
	case qSQLMode:
		st.HasSQLMode, st.SQLMode = true, s.u64()
	case qCatalog:
		s.take(int(s.u8()) + 1) // catalog and its NUL
	case qAutoIncrement:
		st.HasAutoIncrement = true
		st.AutoIncrementIncr, st.AutoIncrementOffset = s.u16(), s.u16()
	case qCharset:
		st.HasCharset = true
		st.CharsetClient, st.CollationConnection, st.CollationServer = s.u16(), s.u16(), s.u16()
	case qTimeZone:
		st.HasTimeZone, st.TimeZone = true, string(s.lenStr())
	case qCatalogNZ:
		s.lenStr()
	case qLCTimeNames:
		st.HasLCTimeNames, st.LCTimeNames = true, s.u16()
	case qCharsetDatabase:
		st.HasCollationDatabase, st.CollationDatabase = true, s.u16()
	case qTableMapForUpdate, qDDLLoggedWithXID, qXID:
		s.u64()
	case qMasterDataWritten:
		s.u32()
	case qInvoker:
		s.lenStr() // user
		s.lenStr() // host
	case qUpdatedDBNames:
		if n := int(s.u8()); n <= maxDBsInEventMTS {
			for i := 0; i < n; i++ {
				s.cstr()
			}
		}
	case qMicroseconds, qHRNow:
		st.HasMicroseconds, st.Microseconds = true, s.u24()
	case qExplicitDefaultsForTimestamp:
		st.HasExplicitDefaultsForTimestamp, st.ExplicitDefaultsForTimestamp = true, s.u8() != 0
	case qDefaultCollationForUTF8MB4:
		s.u16()
	case qSQLRequirePrimaryKey, qDefaultTableEncryption:
		s.u8()
	case qGTIDFlags3:
		if s.u8()&(flags3CommitAlter|flags3RollbackAlter) != 0 {
			s.u64()
		}
	case qCharacterSetCollations:
		s.take(4 * int(s.u8()))
	default:
		return fmt.Errorf("parse query status variables: unknown status variable code %d at byte %d of %d", code, s.pos-1, len(s.b))
	}
	return nil
}

// ParseIntVar decodes an INTVAR event body.
func ParseIntVar(body []byte) (*txn.IntVar, error) {
	if len(body) < 9 {
		return nil, fmt.Errorf("INTVAR body of %d bytes is too short", len(body))
	}
	iv := &txn.IntVar{Type: body[0], Value: binary.LittleEndian.Uint64(body[1:])}
	if iv.Type != txn.IntVarLastInsertID && iv.Type != txn.IntVarInsertID {
		return nil, fmt.Errorf("unknown INTVAR type %d", iv.Type)
	}
	return iv, nil
}

// ParseRand decodes a RAND event body.
func ParseRand(body []byte) (*txn.Rand, error) {
	if len(body) < 16 {
		return nil, fmt.Errorf("RAND body of %d bytes is too short", len(body))
	}
	return &txn.Rand{Seed1: binary.LittleEndian.Uint64(body), Seed2: binary.LittleEndian.Uint64(body[8:])}, nil
}

// userVarUnsigned is the USER_VAR flag bit for an unsigned integer value.
const userVarUnsigned = 1

// ParseUserVar decodes a USER_VAR event body: name length (4), name,
// is_null (1), then unless NULL: type (1), collation (4), value length (4),
// value and, from MySQL 5.1.x on, a flags byte.
func ParseUserVar(body []byte) (*txn.UserVar, error) {
	s := &statusReader{b: body}
	name := s.take(int(s.u32()))
	uv := &txn.UserVar{Name: string(name), IsNull: s.u8() != 0}
	if s.err == nil && len(name) == 0 {
		return nil, errors.New("USER_VAR with an empty name")
	}
	if s.err == nil && !uv.IsNull {
		uv.ValueType = s.u8()
		uv.Collation = s.u32()
		uv.Value = s.take(int(s.u32()))
		if s.err == nil && s.pos < len(body) {
			uv.Unsigned = s.u8()&userVarUnsigned != 0
		}
		switch uv.ValueType {
		case txn.UserVarString, txn.UserVarReal, txn.UserVarInt, txn.UserVarDecimal:
		default:
			return nil, fmt.Errorf("USER_VAR @%s has unknown value type %d", uv.Name, uv.ValueType)
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("parse USER_VAR: %w", s.err)
	}
	if s.pos != len(body) {
		return nil, fmt.Errorf("parse USER_VAR: %d unexpected bytes after the value", len(body)-s.pos)
	}
	return uv, nil
}
