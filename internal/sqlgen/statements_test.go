package sqlgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen/dialect"

	"github.com/binlog-replay/binlog-replay/txn"
)

func TestDecodeDecimal(t *testing.T) {
	tests := []struct {
		precision, scale int
		hex              []byte
		want             string
	}{
		// DECIMAL(5,2) 123.45 and -123.45 (MySQL's documented layout).
		{5, 2, []byte{0x80, 0x7b, 0x2d}, "123.45"},
		{5, 2, []byte{0x7f, 0x84, 0xd2}, "-123.45"},
		// DECIMAL(14,4) 1234567890.1234: 1 byte (1 digit) + 4 bytes (9 digits) + 2 bytes (4 digits).
		{14, 4, []byte{0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}, "1234567890.1234"},
		{10, 0, []byte{0x80, 0x00, 0x00, 0x00, 0x00}, "0"},
	}
	for _, tt := range tests {
		got, err := decodeDecimal(tt.precision, tt.scale, tt.hex)
		if err != nil || got != tt.want {
			t.Errorf("decodeDecimal(%d,%d,% x) = %q, %v; want %q", tt.precision, tt.scale, tt.hex, got, err, tt.want)
		}
	}
	if _, err := decodeDecimal(14, 4, []byte{0x80}); err == nil {
		t.Error("decodeDecimal with too few bytes: want an error")
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		"mysql-bin.000001": "'mysql-bin.000001'",
		"0-1-42":           "'0-1-42'",
		"it's":             "X'69742773'",
		"a\\b":             "X'615c62'",
		"":                 "''",
	}
	for in, want := range tests {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUserVarLiteral(t *testing.T) {
	names := dialect.NewCollations([]dialect.Collation{{ID: 8, Name: "latin1_swedish_ci", Charset: "latin1"}}, nil, nil)
	le := func(v uint64) []byte { b := make([]byte, 8); binary.LittleEndian.PutUint64(b, v); return b }
	tests := []struct {
		v    txn.UserVar
		want string
	}{
		{txn.UserVar{IsNull: true}, "NULL"},
		{txn.UserVar{ValueType: txn.UserVarString, Collation: 8, Value: []byte{'a', 0xe9}}, "_latin1 X'61e9' COLLATE `latin1_swedish_ci`"},
		{txn.UserVar{ValueType: txn.UserVarInt, Value: le(uint64(math.MaxUint64))}, "-1"},
		{txn.UserVar{ValueType: txn.UserVarInt, Value: le(uint64(math.MaxUint64)), Unsigned: true}, "18446744073709551615"},
		{txn.UserVar{ValueType: txn.UserVarReal, Value: le(math.Float64bits(0.1))}, "1e-01"},
		{txn.UserVar{ValueType: txn.UserVarDecimal, Value: []byte{5, 2, 0x80, 0x7b, 0x2d}}, "123.45"},
	}
	for _, tt := range tests {
		got, err := userVarLiteral(&tt.v, names)
		if err != nil || got != tt.want {
			t.Errorf("userVarLiteral(%+v) = %q, %v; want %q", tt.v, got, err, tt.want)
		}
	}
	if _, err := userVarLiteral(&txn.UserVar{ValueType: txn.UserVarString, Collation: 999}, names); err == nil {
		t.Error("unknown collation: want an error")
	}
}

func TestBodyStatementsGroupsRowEventsByStatement(t *testing.T) {
	tm := &txn.TableMap{ID: 7, Schema: "db", Table: "t"}
	ev := func(kind txn.EventKind, raw string, flags uint16) txn.Event {
		e := txn.Event{Kind: kind, Raw: []byte(raw), TypeName: "X"}
		if kind == txn.EventRows {
			e.Rows = &txn.Rows{Table: tm, Flags: flags}
		} else {
			e.TableMap = tm
		}
		return e
	}
	tx := &txn.Txn{Kind: txn.KindRows, Events: []txn.Event{
		ev(txn.EventTableMap, "m1", 0), ev(txn.EventRows, "r1", 0), ev(txn.EventRows, "r2", txn.RowsFlagStmtEnd),
		ev(txn.EventTableMap, "m2", 0), ev(txn.EventRows, "r3", txn.RowsFlagStmtEnd),
	}}
	stmts, err := (*Generator)(nil).Body(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements, want 2 (one BINLOG per source statement): %v", len(stmts), stmts)
	}
	if got := BinlogStatement(stmts[0].Events); got != "BINLOG '\nbTE=\ncjE=\ncjI=\n'" {
		t.Errorf("first statement = %q", got)
	}
	if got, want := BinlogSize(stmts[0].Events), len(BinlogStatement(stmts[0].Events)); got != want {
		t.Errorf("BinlogSize = %d, want %d", got, want)
	}
	tx.Events[1].Raw = nil
	if _, err := (*Generator)(nil).Body(context.Background(), tx); err == nil {
		t.Error("row event without raw bytes: want an error, not a silent skip")
	}
}

func TestContextStatement(t *testing.T) {
	q := &txn.Query{ThreadID: 9, Status: txn.Status{
		SessionModes: txn.SessionModes{
			HasFlags2: true, Flags2: txn.Flags2NoForeignKeyChecks,
			HasSQLMode: true, SQLMode: 1411383296,
		},
		SessionLocale: txn.SessionLocale{
			HasCharset: true, CharsetClient: 8, CollationConnection: 8, CollationServer: 45,
			HasTimeZone: true, TimeZone: "+05:30",
		},
		HasMicroseconds: true, Microseconds: 42,
	}}
	got := contextStatement(q, &txn.Event{Timestamp: 1700000000}, nil, nil, math.MaxUint64, true).SQL
	for _, want := range []string{"pseudo_thread_id=9", "TIMESTAMP=1700000000.000042", "foreign_key_checks=0",
		"unique_checks=1", "sql_mode=1411383296", "character_set_client=8", "collation_server=45", "time_zone='+05:30'",
		// Left out of the event: the source session had the defaults.
		"auto_increment_increment=1, @@session.auto_increment_offset=1", "lc_time_names=0"} {
		if !strings.Contains(got, want) {
			t.Errorf("context statement %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "check_constraint_checks") {
		t.Errorf("context statement %q sets MariaDB options without a format to say which its server writes", got)
	}
}

// TestContextStatementMariaDBOptions checks the MariaDB options of flags2:
// set from the bits the source's server writes, in executable comments,
// and left alone where it does not write them.
func TestContextStatementMariaDBOptions(t *testing.T) {
	const all = txn.Flags2NoCheckConstraintChecks | txn.Flags2IfExists | txn.Flags2ExplicitDefaultsForTimestamp | txn.Flags2InsertHistory
	for _, c := range []struct {
		written, flags2 uint32
		want, absent    []string
	}{
		{all, txn.Flags2ExplicitDefaultsForTimestamp,
			[]string{"/*M!100201 , @@session.check_constraint_checks=1*/", "/*M!100502 , @@session.sql_if_exists=0*/",
				"/*M!100300 , @@session.explicit_defaults_for_timestamp=1*/", "/*M!101100 , @@session.system_versioning_insert_history=0*/"}, nil},
		{all, txn.Flags2NoCheckConstraintChecks | txn.Flags2IfExists | txn.Flags2InsertHistory,
			[]string{"check_constraint_checks=0", "sql_if_exists=1", "explicit_defaults_for_timestamp=0", "system_versioning_insert_history=1"}, nil},
		{txn.Flags2NoCheckConstraintChecks | txn.Flags2InsertHistory, 0,
			[]string{"check_constraint_checks=1", "system_versioning_insert_history=0"}, []string{"sql_if_exists", "explicit_defaults_for_timestamp"}},
	} {
		f := &txn.Format{Flags2Written: c.written}
		q := &txn.Query{Status: txn.Status{SessionModes: txn.SessionModes{HasFlags2: true, Flags2: c.flags2}}}
		got := contextStatement(q, &txn.Event{}, f, nil, math.MaxUint64, true).SQL
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("written %#x, flags2 %#x: %q lacks %q", c.written, c.flags2, got, w)
			}
		}
		for _, a := range c.absent {
			if strings.Contains(got, a) {
				t.Errorf("written %#x, flags2 %#x: %q sets %s, which the source's server does not write", c.written, c.flags2, got, a)
			}
		}
	}
}

// TestMySQL8CollationStandIns checks that MySQL 8 collation ids a MariaDB
// target lacks are replaced by its default collation of their character
// set, said once, while ids it knows, and ids it knows nothing of, stay.
func TestMySQL8CollationStandIns(t *testing.T) {
	utf8mb4 := dialect.Collation{ID: 45, Name: "utf8mb4_general_ci", Charset: "utf8mb4"}
	latin1 := dialect.Collation{ID: 8, Name: "latin1_swedish_ci", Charset: "latin1"}
	var log []string
	names := dialect.NewCollations([]dialect.Collation{utf8mb4, latin1, {ID: 46, Name: "utf8mb4_bin", Charset: "utf8mb4"}},
		map[string]dialect.Collation{"utf8mb4": utf8mb4, "latin1": latin1},
		func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) })
	q := &txn.Query{Status: txn.Status{SessionLocale: txn.SessionLocale{HasCharset: true, CharsetClient: 255,
		CollationConnection: 255, CollationServer: 8, HasCollationDatabase: true, CollationDatabase: 999}}}
	got := contextStatement(q, &txn.Event{}, nil, names, math.MaxUint64, true).SQL
	for _, want := range []string{"character_set_client=45", "collation_connection=45", "collation_server=8", "collation_database=999"} {
		if !strings.Contains(got, want) {
			t.Errorf("context statement %q lacks %q", got, want)
		}
	}
	if v, err := userVarLiteral(&txn.UserVar{ValueType: txn.UserVarString, Collation: 309, Value: []byte("a")}, names); err != nil ||
		v != "_utf8mb4 X'61' COLLATE `utf8mb4_general_ci`" {
		t.Errorf("user variable in collation 309: %q, %v", v, err)
	}
	if names.SessionID(46) != 46 || names.SessionID(254) != 254 {
		t.Error("a collation the target knows, or one of no MySQL 8 range, was replaced")
	}
	if len(log) != 2 || !strings.Contains(log[0], "collation id 255") || !strings.Contains(log[0], "utf8mb4_general_ci") {
		t.Errorf("log %q; want one line for 255, one for 309", log)
	}
}

// TestMySQL8SQLModes checks that a MySQL 8 target gets the logged sql_mode
// without the modes MySQL 8 removed (its replication applier drops them;
// a client setting them gets error 3899), and every other target gets it
// as logged. 1436549152 is MySQL 5.7's default sql_mode
// (ONLY_FULL_GROUP_BY, STRICT_TRANS_TABLES, NO_ZERO_IN_DATE, NO_ZERO_DATE,
// ERROR_FOR_DIVISION_BY_ZERO, NO_AUTO_CREATE_USER, NO_ENGINE_SUBSTITUTION,
// as MariaDB 10.11 reads the number back); 1168113696 is the same without
// NO_AUTO_CREATE_USER.
func TestMySQL8SQLModes(t *testing.T) {
	for _, c := range []struct {
		version string
		mariadb bool
		want    uint64
	}{
		{"8.0.36", false, mysql8IgnoredModes},
		{"8.4.3-log", false, mysql8IgnoredModes},
		{"9.1.0", false, mysql8IgnoredModes},
		{"5.7.44-log", false, 0},
		{"10.11.19-MariaDB-0+deb12u1", true, 0},
		{"11.8.5-MariaDB", true, 0},
	} {
		if got := IgnoredSQLModes(c.version, c.mariadb); got != c.want {
			t.Errorf("IgnoredSQLModes(%q) = %#x, want %#x", c.version, got, c.want)
		}
	}
	q := &txn.Query{Status: txn.Status{SessionModes: txn.SessionModes{HasSQLMode: true, SQLMode: 1436549152}}}
	mysql8 := &Generator{IgnoredModes: IgnoredSQLModes("8.0.36", false)}
	if got := contextStatement(q, &txn.Event{}, nil, nil, mysql8.sqlModeMask(), true).SQL; !strings.Contains(got, "@@session.sql_mode=1168113696") {
		t.Errorf("for MySQL 8: %s", got)
	}
	mariadb := &Generator{TargetMariaDB: true}
	if got := contextStatement(q, &txn.Event{}, nil, nil, mariadb.sqlModeMask(), true).SQL; !strings.Contains(got, "@@session.sql_mode=1436549152") {
		t.Errorf("for MariaDB: %s", got)
	}
}

// TestNoPseudoThreadID checks a Generator for a target user who may not
// set pseudo_thread_id: the context of a statement leaves it out, and a
// statement calling CONNECTION_ID() is refused naming the event, while
// one only naming it (a column, a string) is not.
func TestNoPseudoThreadID(t *testing.T) {
	for sql, calls := range map[string]bool{
		"INSERT INTO t VALUES (CONNECTION_ID())":         true,
		"insert into t values (connection_id ( ))":       true,
		"UPDATE t SET c = 1 WHERE connection_id = 5":     false,
		"INSERT INTO t (`connection_id`) VALUES (1)":     false,
		"INSERT INTO t VALUES ('CONNECTION_ID()')":       false,
		"INSERT INTO t VALUES (1) /* CONNECTION_ID() */": false,
	} {
		if got := callsConnectionID([]byte(sql)); got != calls {
			t.Errorf("callsConnectionID(%q) = %v, want %v", sql, got, calls)
		}
	}
	query := func(sql string) *txn.Txn {
		return &txn.Txn{Kind: txn.KindStatement, Events: []txn.Event{{Kind: txn.EventQuery, TypeName: "QUERY_EVENT",
			Pos: txn.Position{File: "f", Offset: 7}, Query: &txn.Query{SQL: []byte(sql), ThreadID: 9}}}}
	}
	g := &Generator{TargetMariaDB: true, NoPseudoThreadID: true}
	stmts, err := g.Body(context.Background(), query("INSERT INTO t VALUES (1)"))
	if err != nil || len(stmts) == 0 || strings.Contains(stmts[0].SQL, "pseudo_thread_id") {
		t.Errorf("context %v, %v: want one without pseudo_thread_id", stmts, err)
	}
	if _, err := g.Body(context.Background(), query("INSERT INTO t VALUES (CONNECTION_ID())")); err == nil ||
		!strings.Contains(err.Error(), "QUERY_EVENT at f:7 calls CONNECTION_ID()") {
		t.Errorf("a statement calling CONNECTION_ID(): %v; want it refused naming the event", err)
	}
	g.NoPseudoThreadID = false
	if stmts, err := g.Body(context.Background(), query("INSERT INTO t VALUES (CONNECTION_ID())")); err != nil ||
		!strings.Contains(stmts[0].SQL, "pseudo_thread_id=9") {
		t.Errorf("with pseudo_thread_id: %v, %v", stmts, err)
	}
}
