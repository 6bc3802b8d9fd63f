package binlog

import (
	"bytes"
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
		HasFlags2: true, Flags2: txn.Flags2AutoIsNull | txn.Flags2NoForeignKeyChecks,
		HasSQLMode: true, SQLMode: 0x8000000000000201,
		HasAutoIncrement: true, AutoIncrementIncr: 5, AutoIncrementOffset: 2,
		HasCharset: true, CharsetClient: 33, CollationConnection: 45, CollationServer: 8,
		HasTimeZone: true, TimeZone: "+00:00",
		HasLCTimeNames: true, LCTimeNames: 7,
		HasCollationDatabase: true, CollationDatabase: 224,
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

func TestQueryStatusFromFixture(t *testing.T) {
	// A MySQL 8.0.26 ALTER USER with Q_INVOKER, Q_UPDATED_DB_NAMES,
	// Q_MICROSECONDS, Q_DDL_LOGGED_WITH_XID and Q_DEFAULT_COLLATION_FOR_UTF8MB4.
	p := fixture(t, "rust_mysql_common/test-data/binlogs/binlog-invisible-columns.000001")
	txns := mustReadAll(t, []string{p}, Options{})
	var q *txn.Query
	for _, tx := range txns {
		if tx.Kind == txn.KindDDL && tx.Begin != nil && tx.Events[0].Pos.Offset == 235 {
			q = tx.Begin
		}
	}
	if q == nil {
		t.Fatal("no DDL at offset 235")
	}
	st := q.Status
	if !st.HasCharset || st.CharsetClient != 255 || !st.HasTimeZone || st.TimeZone != "SYSTEM" ||
		!st.HasMicroseconds || st.Microseconds >= 1000000 || !st.HasSQLMode || !st.HasFlags2 {
		t.Errorf("status %+v", st)
	}
	if q.Schema != "" || !bytes.HasPrefix(q.SQL, []byte("ALTER USER 'root'@'localhost'")) {
		t.Errorf("query %q in %q", q.SQL, q.Schema)
	}
}

func TestStatementContextEvents(t *testing.T) {
	p := fixture(t, "mysql-cdc-rs/tests/events/5.7/14_user_var/log.bin")
	txns := mustReadAll(t, []string{p}, Options{})
	if len(txns) != 3 || txns[2].Kind != txn.KindStatement {
		t.Fatalf("want DDL, DDL, statement; got %d transactions", len(txns))
	}
	tx := txns[2]
	if tx.Begin == nil || string(tx.Begin.SQL) != "BEGIN" || tx.GTID.String() != "e3e2a4ee-b6dc-11ea-8bcf-0242ac150002:3" {
		t.Errorf("txn %+v", tx)
	}
	ev := tx.Events
	if len(ev) != 5 || ev[0].IntVar == nil || ev[4].Query == nil {
		t.Fatalf("events %+v", ev)
	}
	if *ev[0].IntVar != (txn.IntVar{Type: txn.IntVarInsertID, Value: 1}) {
		t.Errorf("intvar %+v", *ev[0].IntVar)
	}
	s, i, d := ev[1].UserVar, ev[2].UserVar, ev[3].UserVar
	if s.Name != "val_s" || s.ValueType != txn.UserVarString || string(s.Value) != "test blog" || s.Collation != 33 {
		t.Errorf("string user var %+v", s)
	}
	if i.Name != "val_i" || i.ValueType != txn.UserVarInt || !bytes.Equal(i.Value, []byte{100, 0, 0, 0, 0, 0, 0, 0}) || i.Unsigned {
		t.Errorf("int user var %+v", i)
	}
	if d.Name != "val_d" || d.ValueType != txn.UserVarDecimal || len(d.Value) < 2 || d.Value[0] != 3 || d.Value[1] != 2 {
		t.Errorf("decimal user var %+v", d)
	}
	if !strings.Contains(string(ev[4].Query.SQL), "@val_s") {
		t.Errorf("query %q", ev[4].Query.SQL)
	}
}

func TestParseUserVar(t *testing.T) {
	null := []byte{3, 0, 0, 0, 'a', 'b', 'c', 1}
	uv, err := parseUserVar(null)
	if err != nil || uv.Name != "abc" || !uv.IsNull {
		t.Errorf("NULL user var: %+v %v", uv, err)
	}
	unsigned := []byte{1, 0, 0, 0, 'u', 0, txn.UserVarInt, 63, 0, 0, 0, 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}
	uv, err = parseUserVar(unsigned)
	if err != nil || !uv.Unsigned || len(uv.Value) != 8 || uv.Collation != 63 {
		t.Errorf("unsigned user var: %+v %v", uv, err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 0, 1},                             // empty name
		{1, 0, 0, 0, 'x', 0, 7, 0, 0, 0, 0},         // bad type
		{9, 0, 0, 0, 'x'},                           // short
		append(append([]byte(nil), unsigned...), 0), // trailing byte
	} {
		if _, err := parseUserVar(bad); err == nil {
			t.Errorf("parseUserVar(%v) accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for sql, want := range map[string]int{
		"BEGIN": sqlBegin, "begin ": sqlBegin, "COMMIT": sqlCommit, "ROLLBACK": sqlRollback,
		"XA START X'01'": sqlXA, "BEGIN WORK; x": sqlOther, "COMMITTED": sqlOther, "insert into t values (1)": sqlOther,
	} {
		if got := classify([]byte(sql)); got != want {
			t.Errorf("classify(%q) = %d, want %d", sql, got, want)
		}
	}
}
