package event

import (
	"encoding/binary"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

// The fuzzers here feed the parsers of event bodies straight from the
// fuzzer's bytes, without a binlog file around them, so that each runs
// thousands of times a second: query status variables, query events, and
// the other event bodies this package parses. docs/testing.md lists them
// with what each checks.

// appendStatus encodes st as a query event's status variables, the way
// the servers log them (MariaDB's Q_HRNOW is read into Microseconds too;
// it is written as MySQL's Q_MICROSECONDS).
func appendStatus(b []byte, st txn.Status) []byte {
	le16 := func(v uint16) { b = binary.LittleEndian.AppendUint16(b, v) }
	if st.HasFlags2 {
		b = binary.LittleEndian.AppendUint32(append(b, qFlags2), st.Flags2)
	}
	if st.HasSQLMode {
		b = binary.LittleEndian.AppendUint64(append(b, qSQLMode), st.SQLMode)
	}
	if st.HasAutoIncrement {
		b = append(b, qAutoIncrement)
		le16(st.AutoIncrementIncr)
		le16(st.AutoIncrementOffset)
	}
	if st.HasCharset {
		b = append(b, qCharset)
		le16(st.CharsetClient)
		le16(st.CollationConnection)
		le16(st.CollationServer)
	}
	if st.HasTimeZone {
		b = append(append(b, qTimeZone, byte(len(st.TimeZone))), st.TimeZone...)
	}
	if st.HasLCTimeNames {
		b = append(b, qLCTimeNames)
		le16(st.LCTimeNames)
	}
	if st.HasCollationDatabase {
		b = append(b, qCharsetDatabase)
		le16(st.CollationDatabase)
	}
	if st.HasMicroseconds {
		m := st.Microseconds
		b = append(b, qMicroseconds, byte(m), byte(m>>8), byte(m>>16))
	}
	if st.HasExplicitDefaultsForTimestamp {
		v := byte(0)
		if st.ExplicitDefaultsForTimestamp {
			v = 1
		}
		b = append(b, qExplicitDefaultsForTimestamp, v)
	}
	return b
}

// FuzzQueryStatus parses a query event's status variables from the
// fuzzer's bytes: an error or the variables, never a panic; the variables
// parsed, written again (appendStatus) and parsed again, are the same.
func FuzzQueryStatus(f *testing.F) {
	var st txn.Status
	st.HasFlags2, st.Flags2 = true, txn.Flags2NotAutocommit
	st.HasSQLMode, st.SQLMode = true, 0x411
	st.HasCharset, st.CharsetClient, st.CollationConnection, st.CollationServer = true, 33, 33, 8
	st.HasTimeZone, st.TimeZone = true, "+02:00"
	st.HasMicroseconds, st.Microseconds = true, 123456
	f.Add(appendStatus(nil, st))
	f.Add([]byte{qInvoker, 4, 'r', 'o', 'o', 't', 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'})
	f.Add([]byte{qUpdatedDBNames, 2, 'a', 0, 'b', 0, qCatalogNZ, 3, 's', 't', 'd'})
	f.Add([]byte{qGTIDFlags3, flags3CommitAlter, 1, 2, 3, 4, 5, 6, 7, 8, qHRNow, 1, 2, 3})
	f.Add([]byte{qCharacterSetCollations, 1, 45, 0, 46, 0, qDDLLoggedWithXID, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStatus(data)
		if err != nil {
			return
		}
		again, err := parseStatus(appendStatus(nil, st))
		if err != nil || again != st {
			t.Fatalf("status %+v written and parsed again: %+v, %v", st, again, err)
		}
	})
}

// FuzzQueryEvent parses whole query event bodies, plain and MariaDB
// compressed, with the post-header length the fuzzer gives: an error or
// a query whose schema is as long as the body says, never a panic.
func FuzzQueryEvent(f *testing.F) {
	body := func(db, sql string, status []byte) []byte {
		b := []byte{1, 0, 0, 0, 0, 0, 0, 0, byte(len(db)), 0, 0}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(status)))
		b = append(append(append(b, status...), db...), 0)
		return append(b, sql...)
	}
	f.Add(body("d", "BEGIN", []byte{qFlags2, 0, 0, 0, 0}), uint8(13), false)
	f.Add(body("", "CREATE TABLE t (id INT)", nil), uint8(13), false)
	// MariaDB compressed: header byte 0x81 (zlib, 1 byte of length), length 5.
	f.Add(body("d", "\x81\x05x\x9cs\x0a\x0a\x0d\x00\x00\x04\x3e\x01\x66", nil), uint8(13), true)
	f.Fuzz(func(t *testing.T, data []byte, postHeader uint8, compressed bool) {
		q, err := ParseQuery(data, int(postHeader), compressed)
		if err != nil {
			return
		}
		if len(q.Schema) != int(data[8]) {
			t.Fatalf("schema %q, body says %d bytes", q.Schema, data[8])
		}
	})
}

// Kinds of event body FuzzEventBodies parses.
const (
	bodyMariaGTID = iota
	bodyMariaGTIDList
	bodyPreviousGTIDs
	bodyOptMeta
	bodyIntVar
	bodyRand
	bodyUserVar
	bodyFormat
	bodyKinds
)

// FuzzEventBodies parses the event bodies this package decodes itself
// (kind picks the parser): MariaDB GTID and GTID_LIST, MySQL
// PREVIOUS_GTIDS, table map optional metadata, INTVAR, RAND, USER_VAR and
// FORMAT_DESCRIPTION. Each returns an error or a value, never panics; a
// PREVIOUS_GTIDS set formats to text that parses back to the same set.
func FuzzEventBodies(f *testing.F) {
	f.Add(byte(bodyMariaGTID), []byte{5, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, mariaGroupCommitID, 1, 2, 3, 4, 5, 6, 7, 8, 0})
	f.Add(byte(bodyMariaGTIDList), []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(bodyPreviousGTIDs), encodePreviousGTIDs(f, false, []gtidSource{{"896e7882-18fe-11ef-ab88-22222d34d411", "", [][2]uint64{{1, 5}}}}))
	f.Add(byte(bodyPreviousGTIDs), encodePreviousGTIDs(f, true, []gtidSource{{"896e7882-18fe-11ef-ab88-22222d34d411", "tag", [][2]uint64{{1, 5}, {7, 9}}}}))
	f.Add(byte(bodyOptMeta), []byte{optSignedness, 1, 0x80, optColumnName, 4, 2, 'i', 'd', 0, optSimplePrimaryKey, 1, 0})
	f.Add(byte(bodyIntVar), []byte{txn.IntVarInsertID, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(bodyRand), make([]byte, 16))
	f.Add(byte(bodyUserVar), []byte{1, 0, 0, 0, 'x', 0, txn.UserVarInt, 63, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0})
	fde := append([]byte{4, 0}, "10.11.19-MariaDB-log"...)
	fde = append(fde, make([]byte, 52-len(fde)+4)...)
	fde = append(fde, HeaderSize, 56, 13, 0, 8, 0, 0, 0, 0, ChecksumOff, 0, 0, 0, 0)
	f.Add(byte(bodyFormat), fde)
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		switch kind % bodyKinds {
		case bodyMariaGTID:
			ParseMariaGTID(body, 1)
		case bodyMariaGTIDList:
			m, err := ParseMariaGTIDList(body)
			if err == nil && len(m) > (len(body)-4)/16 {
				t.Fatalf("GTID_LIST of %d bytes gave %d entries", len(body), len(m))
			}
		case bodyPreviousGTIDs:
			set, err := ParsePreviousGTIDs(body)
			if err != nil {
				return
			}
			again, err := txn.ParseGTIDSet(set.String())
			if err != nil || again.String() != set.String() {
				t.Fatalf("PREVIOUS_GTIDS set %q parses back as %q, %v", set, again, err)
			}
		case bodyOptMeta:
			ParseOptMeta(body)
		case bodyIntVar:
			ParseIntVar(body)
		case bodyRand:
			ParseRand(body)
		case bodyUserVar:
			if uv, err := ParseUserVar(body); err == nil && uv.Name == "" {
				t.Fatal("USER_VAR without a name accepted")
			}
		case bodyFormat:
			raw := append(make([]byte, HeaderSize), body...)
			raw[4] = TypeFormatDescription
			binary.LittleEndian.PutUint32(raw[9:], uint32(len(raw)))
			ParseFormat(raw, txn.Position{File: "mysql-bin.000001", Offset: 4})
		}
	})
}
