package binlog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

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
