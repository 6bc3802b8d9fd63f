package event

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

func TestParseStatusAllCodes(t *testing.T) {
	b := []byte{
		qFlags2, 0x00, 0x40, 0x00, 0x04, // AUTO_IS_NULL | NO_FOREIGN_KEY_CHECKS
		qSQLMode, 1, 2, 0, 0, 0, 0, 0, 0x80,
		qCatalog, 3, 's', 't', 'd', 0,
		qAutoIncrement, 5, 0, 2, 0,
		qCharset, 33, 0, 45, 0, 8, 0,
		qTimeZone, 6, '+', '0', '0', ':', '0', '0',
		qCatalogNZ, 3, 's', 't', 'd',
		qLCTimeNames, 7, 0,
		qCharsetDatabase, 224, 0,
		qTableMapForUpdate, 1, 0, 0, 0, 0, 0, 0, 0,
		qMasterDataWritten, 9, 9, 9, 9,
		qInvoker, 4, 'r', 'o', 'o', 't', 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
		qUpdatedDBNames, 2, 'd', '1', 0, 'd', 'b', '2', 0,
		qUpdatedDBNames, 254, // OVER_MAX_DBS_IN_EVENT_MTS: no names follow
		qMicroseconds, 0x40, 0x42, 0x0f, // 999999
		qExplicitDefaultsForTimestamp, 1,
		qDDLLoggedWithXID, 1, 2, 3, 4, 5, 6, 7, 8,
		qDefaultCollationForUTF8MB4, 255, 0,
		qSQLRequirePrimaryKey, 0,
		qDefaultTableEncryption, 0,
		qXID, 1, 2, 3, 4, 5, 6, 7, 8,
		qGTIDFlags3, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, // COMMIT ALTER: + sequence number
		qGTIDFlags3, 0x01,
		qCharacterSetCollations, 2, 45, 0, 0x2b, 0x09, 8, 0, 8, 0,
		qHRNow, 1, 0, 0,
	}
	st, err := parseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	want := txn.Status{
		SessionModes: txn.SessionModes{
			HasFlags2: true, Flags2: txn.Flags2AutoIsNull | txn.Flags2NoForeignKeyChecks,
			HasSQLMode: true, SQLMode: 0x8000000000000201,
			HasAutoIncrement: true, AutoIncrementIncr: 5, AutoIncrementOffset: 2,
		},
		SessionLocale: txn.SessionLocale{
			HasCharset: true, CharsetClient: 33, CollationConnection: 45, CollationServer: 8,
			HasTimeZone: true, TimeZone: "+00:00",
			HasLCTimeNames: true, LCTimeNames: 7,
			HasCollationDatabase: true, CollationDatabase: 224,
		},
		HasMicroseconds: true, Microseconds: 1, // Q_HRNOW comes last and wins
		HasExplicitDefaultsForTimestamp: true, ExplicitDefaultsForTimestamp: true,
	}
	if st != want {
		t.Errorf("got  %+v\nwant %+v", st, want)
	}
}

func TestParseStatusErrors(t *testing.T) {
	cases := map[string][]byte{
		"unknown status variable code 14": {qFlags2, 0, 0, 0, 0, 14, 0, 0},
		"unknown status variable code 99": {99},
		"end inside a value":              {qSQLMode, 1, 2, 3},
		"unterminated name":               {qUpdatedDBNames, 1, 'a', 'b'},
		"end inside a value (need 5":      {qTimeZone, 5, 'a'},
	}
	for want, b := range cases {
		if _, err := parseStatus(b); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseStatus(%v) = %v, want an error containing %q", b, err, want)
		}
	}
}

func TestParseUserVar(t *testing.T) {
	null := []byte{3, 0, 0, 0, 'a', 'b', 'c', 1}
	uv, err := ParseUserVar(null)
	if err != nil || uv.Name != "abc" || !uv.IsNull {
		t.Errorf("NULL user var: %+v %v", uv, err)
	}
	unsigned := []byte{1, 0, 0, 0, 'u', 0, txn.UserVarInt, 63, 0, 0, 0, 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}
	uv, err = ParseUserVar(unsigned)
	if err != nil || !uv.Unsigned || len(uv.Value) != 8 || uv.Collation != 63 {
		t.Errorf("unsigned user var: %+v %v", uv, err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 0, 1},                             // empty name
		{1, 0, 0, 0, 'x', 0, 7, 0, 0, 0, 0},         // bad type
		{9, 0, 0, 0, 'x'},                           // short
		append(append([]byte(nil), unsigned...), 0), // trailing byte
	} {
		if _, err := ParseUserVar(bad); err == nil {
			t.Errorf("ParseUserVar(%v) accepted", bad)
		}
	}
}
