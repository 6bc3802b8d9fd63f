package sqlgen

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen/dialect"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Stmt is one statement sent to the target, with the event it came from
// for error messages.
type Stmt struct {
	// SQL is the statement's text (empty when Events is set).
	SQL string
	// Events, when set, are raw events to pass through in a BINLOG
	// statement: the table maps and row events of whole source statements.
	// Consecutive ones are merged into one BINLOG statement (see
	// worker.exec), which is always sent in a round trip of its own:
	// MariaDB 10.11 answers a BINLOG statement that applies an update row
	// event inside a multi-statement packet with results the client cannot
	// match (go-sql-driver then reports "busy buffer" on the next command).
	Events []*txn.Event
	// Alone is set when the statement must be sent in its own round trip:
	// statements whose text is in the source's character set, which a
	// preceding SET in the same multi-statement packet would not apply to.
	Alone bool
	// Check, when set, marks a statement of the SQL apply path. Consecutive
	// statements with Check and the same Event form a packet group, sent
	// together in one multi-statement packet within the packet limit
	// (ExecChecked), and the rows each changed are checked; one with Alone
	// set starts a new group (the Found checks of the group before must
	// run before it). Event is then the first row event of the group's
	// statements, and Check.Events the row events each statement applies.
	// Several groups may share a packet too (target.Session.ExecJoined),
	// where ExecChecked can check them exactly (else ErrRepack).
	Check *RowCheck
	// Expect, when set, marks a check of the rows the statements after it
	// change (SQL and Events are empty): it is sent alone, in its own
	// round trip, and the statements after it are not sent when it fails
	// (see RowExpect).
	Expect *RowExpect
	// ExpectErr is the error the source logged for the statement (it
	// failed part way there): the target must fail the same way.
	ExpectErr uint16
	// Load, for LOAD DATA, is the file's content and LoadName the name the
	// statement reads it under (LOCAL INFILE 'Reader::LoadName'): the
	// session serves it to the server when it runs the statement.
	Load     []byte
	LoadName string
	// Event and Txn are the event and transaction the statement applies,
	// for errors.
	Event *txn.Event
	Txn   *txn.Txn
}

// Generator turns source transactions into the statements that apply
// them on one target (Body). Its exported fields are set before first use;
// it is safe for concurrent use after that.
type Generator struct {
	// TargetMariaDB says the target is MariaDB: MySQL row events on
	// tables with a JSON column are applied as SQL (see needsSQL), and
	// MySQL's invisible-column comments rewritten.
	TargetMariaDB bool
	// IgnoredModes are the sql_mode bits the target refuses but its own
	// replication applier drops (IgnoredSQLModes): cleared from the
	// source's sql_mode before it is set.
	IgnoredModes uint64
	// NoPseudoThreadID says the target user may not set the session's
	// pseudo_thread_id (it needs BINLOG REPLAY or SUPER on MariaDB, which
	// a user of the SQL apply path may lack): a statement event's context
	// leaves it out, and a statement that calls CONNECTION_ID(), which
	// would then return the target session's id instead of the source
	// session's, is refused. (Stored routines and triggers calling it
	// cannot be told from the statement.)
	NoPseudoThreadID bool
	// ApplySQL applies every row event as SQL made from its decoded row
	// images (see sqlbatch.go) instead of passing it through in BINLOG
	// statements: the target then needs no BINLOG privilege and need not
	// read the source's row event format, but the row images must be
	// decoded (txn.Rows.Decoded) and Tables set. Consecutive row events
	// of a transaction share multi-row statements and packets, and so do
	// those of a group's transactions (AppendGroup). Refused
	// (an error naming the event and table): tables with triggers on the
	// target (unless TriggersFire), system-versioned tables, tables whose
	// columns differ from the table map's. MariaDB targets only (the
	// statements use SET STATEMENT).
	ApplySQL bool
	// TriggersFire accepts, on the SQL apply path, row events on tables
	// that have triggers on the target: the triggers fire for the rows
	// applied, which passthrough never does (MariaDB has no session
	// setting to turn triggers off; slave_run_triggers_for_rbr is for
	// replication threads only). Without it such a row event is an error.
	TriggersFire bool
	// MaxStatementBytes bounds the length of each statement of the SQL
	// apply path (DefaultMaxStatementBytes when 0); a single row longer
	// than that goes in a statement of its own. Give the limit the worker
	// packs packets to (half of max_allowed_packet).
	MaxStatementBytes int
	// Tables reads the target's table definitions for the SQL apply path;
	// Shapes a table's columns only (schema.Cache.Shape), for the column
	// count check of passthrough (nil: no check).
	Tables, Shapes TableFunc
	// Collations are the target's, for the session context and user
	// variables (nil: ids are used as they are).
	Collations *dialect.Collations
	// Logf, when set, reports (once per generator) that MySQL's
	// invisible-column comments were rewritten.
	Logf          func(format string, args ...any)
	invisibleTold sync.Once
	keys          groupKeyer // AppendGroup's
}

// querySQL returns the text to run for the statement event e of t: as
// logged, but for MySQL's /*!80023 INVISIBLE */ on a MariaDB target.
func (sa *Generator) querySQL(t *txn.Txn, e *txn.Event) string {
	if sa == nil || !sa.TargetMariaDB || t.Format == nil || t.Format.Flavor != txn.FlavorMySQL {
		return string(e.Query.SQL)
	}
	sql, changed := dialect.InvisibleForMariaDB(e.Query.SQL)
	if changed && sa.Logf != nil {
		sa.invisibleTold.Do(func() {
			sa.Logf("%s at %s: MySQL's /*!80023 INVISIBLE */, which MariaDB ignores, runs as INVISIBLE "+
				"(said once; every such statement is rewritten)", e.TypeName, e.Pos)
		})
	}
	return string(sql)
}

// BinlogStatement returns the BINLOG statement that passes events through.
func BinlogStatement(events []*txn.Event) string {
	// A packet's statement is megabytes: it is built in place, at its
	// final size, each event encoded into one reused buffer.
	var (
		b   strings.Builder
		enc []byte
	)
	b.Grow(BinlogSize(events))
	b.WriteString("BINLOG '")
	for _, e := range events {
		b.WriteByte('\n')
		enc = base64.StdEncoding.AppendEncode(enc[:0], e.Raw)
		b.Write(enc)
	}
	b.WriteString("\n'")
	return b.String()
}

// BinlogSize is the length of BinlogStatement(events) without building it.
func BinlogSize(events []*txn.Event) int {
	n := len("BINLOG '\n'")
	for _, e := range events {
		n += 1 + base64.StdEncoding.EncodedLen(len(e.Raw))
	}
	return n
}

// FormatStatement returns the BINLOG statement that installs a binlog
// file's format description on a session; row events need it first.
func FormatStatement(f *txn.Format) Stmt {
	return Stmt{Events: []*txn.Event{{Raw: f.Raw, Pos: f.Pos, TypeName: "FORMAT_DESCRIPTION_EVENT"}}}
}

// Modes returns ApplySQL and TriggersFire (false for a nil sa): how the
// pipeline must read and key what Body applies.
func (sa *Generator) Modes() (applySQL, triggersFire bool) {
	if sa == nil {
		return false, false
	}
	return sa.ApplySQL, sa.TriggersFire
}

// Body returns the statements that apply t's events, without
// BEGIN and COMMIT. Row events are passed through as BINLOG statements, one
// per source statement (table maps up to the row event that ends the
// statement), or applied as SQL with sa.ApplySQL, or where sa says the
// target cannot take them (sa nil: passthrough only; see rowsql.go); statement events run as SQL in their session
// context. ctx bounds the reads of table definitions.
func (sa *Generator) Body(ctx context.Context, t *txn.Txn) ([]Stmt, error) {
	return sa.AppendBody(ctx, nil, t)
}

// AppendBody appends the statements of Body(ctx, t) to dst and returns
// the extended slice (dst's elements unchanged on an error): a group's
// statements are made into one slice.
func (sa *Generator) AppendBody(ctx context.Context, dst []Stmt, t *txn.Txn) ([]Stmt, error) {
	var names *dialect.Collations
	if sa != nil {
		names = sa.Collations
	}
	var (
		out     = dst
		pending []*txn.Event // table maps and row events of one statement
		batch   *batcher     // SQL apply statements under way
	)
	flushRows := func() error {
		if len(pending) == 0 {
			return nil
		}
		if sa != nil && (sa.ApplySQL || needsSQL(t.Format, sa.TargetMariaDB, pending) || sa.partialSequenceRows(ctx, pending)) {
			if batch == nil {
				batch = newBatcher(ctx, sa.Tables, sa.sqlOptions(), &out)
			}
			for _, e := range pending {
				if e.Kind != txn.EventRows {
					continue
				}
				if err := batch.add(e); err != nil {
					return err
				}
			}
			pending = nil
			return nil
		}
		batch.end()
		// Errors name the statement's first row Event: the server
		// refuses row events (a type it does not take, a row it does not
		// find), not the table maps before them.
		blame := pending[0]
		for _, e := range pending {
			if e.Kind == txn.EventRows {
				blame = e
				break
			}
		}
		if sa != nil && sa.Shapes != nil {
			if err := checkColumnCounts(ctx, sa.Shapes, pending, blame); err != nil {
				return err
			}
		}
		out = append(out, Stmt{Events: pending, Event: blame})
		pending = nil
		return nil
	}
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case txn.EventTableMap, txn.EventRows:
			if e.Raw == nil && (sa == nil || !sa.ApplySQL) {
				return nil, fmt.Errorf("%s at %s has no raw bytes: the BINLOG passthrough cannot apply it", e.TypeName, e.Pos)
			}
			pending = append(pending, e)
			if e.Kind == txn.EventRows && e.Rows != nil && e.Rows.Flags&txn.RowsFlagStmtEnd != 0 {
				if err := flushRows(); err != nil {
					return nil, err
				}
			}
		case txn.EventQuery:
			if err := flushRows(); err != nil {
				return nil, err
			}
			batch.end()
			if sa != nil && sa.NoPseudoThreadID && callsConnectionID(e.Query.SQL) {
				return nil, fmt.Errorf("%s at %s calls CONNECTION_ID(), which returns the source session's id only in a "+
					"session whose pseudo_thread_id is set, and the target user may not set it: grant it BINLOG REPLAY or SUPER",
					e.TypeName, e.Pos)
			}
			// USE first, as mysqlbinlog writes it: it sets the session's
			// collation_database to the database's, which the context
			// then sets to the source session's.
			out = append(out, querySetup(e.Query, e)...)
			out = append(out, contextStatement(e.Query, e, t.Format, names, sa.sqlModeMask(), sa == nil || !sa.NoPseudoThreadID))
			q := Stmt{SQL: sa.querySQL(t, e), Alone: true, Event: e, ExpectErr: e.Query.ErrorCode}
			if e.Query.Load != nil {
				q.SQL, q.LoadName = loadStatement(q.SQL, e)
				q.Load = e.Query.Load.Data
			}
			out = append(out, q)
		case txn.EventIntVar, txn.EventRand, txn.EventUserVar:
			if err := flushRows(); err != nil {
				return nil, err
			}
			batch.end()
			s, err := varStatement(e, names)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		default:
			return nil, fmt.Errorf("%s at %s: event kind %d cannot be applied", e.TypeName, e.Pos, e.Kind)
		}
	}
	if err := flushRows(); err != nil {
		return nil, err
	}
	batch.end()
	return out, nil
}

// sqlOptions returns the choices of sa for the SQL apply path.
func (sa *Generator) sqlOptions() sqlOptions {
	return sqlOptions{maxStatement: sa.MaxStatementBytes, triggersFire: sa.TriggersFire, crossEvents: sa.ApplySQL}
}

// mysql8IgnoredModes are the sql_mode bits MySQL 8.0 removed, which its
// replication applier clears from a logged sql_mode instead of refusing
// it (MODE_IGNORED_MASK in MySQL's sql/system_variables.h): POSTGRESQL,
// ORACLE, MSSQL, DB2, MAXDB, NO_KEY_OPTIONS, NO_TABLE_OPTIONS,
// NO_FIELD_OPTIONS, MYSQL323, MYSQL40 and NO_AUTO_CREATE_USER. MySQL 5.7
// and MariaDB log them (NO_AUTO_CREATE_USER is in their default sql_mode);
// a client setting them on MySQL 8 gets error 3899 (mysqlbinlog's output
// avoids it with pseudo_replica_mode, which needs more privileges).
const mysql8IgnoredModes = 0x1003FF00

// IgnoredSQLModes returns the sql_mode bits to clear for a target of the
// given VERSION(): MySQL 8.0 and later's removed modes, none for MariaDB
// and MySQL 5.x.
func IgnoredSQLModes(version string, mariadb bool) uint64 {
	if mariadb {
		return 0
	}
	major, _, _ := strings.Cut(version, ".")
	if n, err := strconv.Atoi(major); err == nil && n >= 8 {
		return mysql8IgnoredModes
	}
	return 0
}

// sqlModeMask returns the sql_mode bits contextStatement keeps.
func (sa *Generator) sqlModeMask() uint64 {
	if sa == nil {
		return math.MaxUint64
	}
	return ^sa.IgnoredModes
}

// contextStatement returns the SET statement that gives the session the
// source session's context for q: what mysqlbinlog writes before a query.
// A setting the event leaves out because the source session had it at
// its default (auto_increment_increment and _offset, lc_time_names,
// collation_database, the MariaDB options of flags2 that f's server
// writes) is set to that default, as mysqlbinlog does: the session that
// applies the query may have applied one that changed it. MariaDB's own
// variables are in executable comments, skipped by a server that lacks
// them. The source's sql_mode is set with only the bits in modeMask; its
// thread id as pseudo_thread_id when threadID is set.
func contextStatement(q *txn.Query, e *txn.Event, f *txn.Format, names *dialect.Collations, modeMask uint64, threadID bool) Stmt {
	st := q.Status
	var sets []string
	if threadID {
		sets = append(sets, fmt.Sprintf("@@session.pseudo_thread_id=%d", q.ThreadID))
	}
	ts := fmt.Sprintf("TIMESTAMP=%d", e.Timestamp)
	if st.HasMicroseconds {
		ts += fmt.Sprintf(".%06d", st.Microseconds)
	}
	sets = append(sets, ts)
	if st.HasFlags2 {
		sets = append(sets,
			"@@session.foreign_key_checks="+boolInt(st.Flags2&txn.Flags2NoForeignKeyChecks == 0),
			"@@session.unique_checks="+boolInt(st.Flags2&txn.Flags2RelaxedUniqueChecks == 0),
			"@@session.sql_auto_is_null="+boolInt(st.Flags2&txn.Flags2AutoIsNull != 0))
	}
	if st.HasSQLMode {
		sets = append(sets, fmt.Sprintf("@@session.sql_mode=%d", st.SQLMode&modeMask))
	}
	incr, offset := uint16(1), uint16(1)
	if st.HasAutoIncrement {
		incr, offset = st.AutoIncrementIncr, st.AutoIncrementOffset
	}
	sets = append(sets, fmt.Sprintf("@@session.auto_increment_increment=%d, @@session.auto_increment_offset=%d", incr, offset))
	if st.HasCharset {
		sets = append(sets, fmt.Sprintf("@@session.character_set_client=%d, @@session.collation_connection=%d, @@session.collation_server=%d",
			names.SessionID(st.CharsetClient), names.SessionID(st.CollationConnection), names.SessionID(st.CollationServer)))
	}
	if st.HasTimeZone {
		sets = append(sets, "@@session.time_zone="+Quote(st.TimeZone))
	}
	sets = append(sets, fmt.Sprintf("@@session.lc_time_names=%d", st.LCTimeNames)) // 0 (en_US) when left out
	if st.HasCollationDatabase {
		sets = append(sets, fmt.Sprintf("@@session.collation_database=%d", names.SessionID(st.CollationDatabase)))
	} else {
		sets = append(sets, "@@session.collation_database=DEFAULT") // the default database's
	}
	if st.HasExplicitDefaultsForTimestamp {
		sets = append(sets, "@@session.explicit_defaults_for_timestamp="+boolInt(st.ExplicitDefaultsForTimestamp))
	}
	sql := "SET " + strings.Join(sets, ", ")
	if st.HasFlags2 && f != nil {
		sql += mariadbOptions(st.Flags2, f.Flags2Written)
	}
	return Stmt{SQL: sql, Event: e}
}

// flags2Options are MariaDB's session options that a query event's flags2
// carries: the variable, its bit, whether a set bit turns it off, and the
// first MariaDB version that has it (for an executable comment).
var flags2Options = []struct {
	name    string
	bit     uint32
	negated bool
	since   string
}{
	{"check_constraint_checks", txn.Flags2NoCheckConstraintChecks, true, "100201"},
	{"sql_if_exists", txn.Flags2IfExists, false, "100502"},
	{"explicit_defaults_for_timestamp", txn.Flags2ExplicitDefaultsForTimestamp, false, "100300"},
	{"system_versioning_insert_history", txn.Flags2InsertHistory, false, "101100"},
}

// mariadbOptions returns the SET list's tail (", ..." in executable
// comments) giving the session the MariaDB options of flags2 among the
// bits written.
func mariadbOptions(flags2, written uint32) string {
	var b strings.Builder
	for _, o := range flags2Options {
		if written&o.bit == 0 {
			continue
		}
		fmt.Fprintf(&b, " /*M!%s , @@session.%s=%s*/", o.since, o.name, boolInt(flags2&o.bit != 0 != o.negated))
	}
	return b.String()
}

// callsConnectionID reports whether sql calls CONNECTION_ID() (outside
// string literals and comments).
func callsConnectionID(sql []byte) bool {
	toks, spans := sqlscan.TokenSpans(sql, 0)
	for i, tok := range toks {
		if tok.Is("CONNECTION_ID") && strings.HasPrefix(strings.TrimLeft(string(sql[spans[i].End:]), " \t\r\n"), "(") {
			return true
		}
	}
	return false
}

// querySetup returns the USE statement for q's default database, if it
// has one the server did not tell readers to ignore.
func querySetup(q *txn.Query, e *txn.Event) []Stmt {
	if q.Schema == "" || q.SuppressUse {
		return nil
	}
	return []Stmt{{SQL: "USE " + QuoteIdent(q.Schema), Event: e}}
}

// varStatement turns an INTVAR, RAND or USER_VAR event into the SET that
// gives the next query the same values.
func varStatement(e *txn.Event, names *dialect.Collations) (Stmt, error) {
	switch e.Kind {
	case txn.EventIntVar:
		name := "INSERT_ID"
		if e.IntVar.Type == txn.IntVarLastInsertID {
			name = "LAST_INSERT_ID"
		}
		return Stmt{SQL: fmt.Sprintf("SET %s=%d", name, e.IntVar.Value), Event: e}, nil
	case txn.EventRand:
		return Stmt{SQL: fmt.Sprintf("SET @@RAND_SEED1=%d, @@RAND_SEED2=%d", e.Rand.Seed1, e.Rand.Seed2), Event: e}, nil
	}
	v, err := userVarLiteral(e.UserVar, names)
	if err != nil {
		return Stmt{}, fmt.Errorf("%s at %s: user variable @%s: %w", e.TypeName, e.Pos, e.UserVar.Name, err)
	}
	return Stmt{SQL: "SET @" + QuoteIdent(e.UserVar.Name) + ":=" + v, Event: e}, nil
}

// userVarLiteral renders a logged user variable value as an SQL literal of
// the same type.
func userVarLiteral(u *txn.UserVar, names *dialect.Collations) (string, error) {
	if u.IsNull {
		return "NULL", nil
	}
	switch u.ValueType {
	case txn.UserVarString:
		if u.Collation > math.MaxUint16 {
			return "", fmt.Errorf("collation id %d out of range", u.Collation)
		}
		n, ok := names.Lookup(uint16(u.Collation))
		if !ok {
			return "", fmt.Errorf("collation id %d unknown to the target", u.Collation)
		}
		if len(u.Value) == 0 {
			return fmt.Sprintf("_%s'' COLLATE %s", n.Charset, QuoteIdent(n.Name)), nil
		}
		return fmt.Sprintf("_%s X'%x' COLLATE %s", n.Charset, u.Value, QuoteIdent(n.Name)), nil
	case txn.UserVarReal:
		if len(u.Value) < 8 {
			return "", fmt.Errorf("REAL value has %d bytes", len(u.Value))
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(u.Value))
		return strconv.FormatFloat(f, 'e', -1, 64), nil
	case txn.UserVarInt:
		if len(u.Value) < 8 {
			return "", fmt.Errorf("INT value has %d bytes", len(u.Value))
		}
		v := binary.LittleEndian.Uint64(u.Value)
		if u.Unsigned {
			return strconv.FormatUint(v, 10), nil
		}
		return strconv.FormatInt(int64(v), 10), nil
	case txn.UserVarDecimal:
		if len(u.Value) < 2 {
			return "", fmt.Errorf("DECIMAL value has %d bytes", len(u.Value))
		}
		return decodeDecimal(int(u.Value[0]), int(u.Value[1]), u.Value[2:])
	}
	return "", fmt.Errorf("value type %d not supported", u.ValueType)
}

// decodeDecimal decodes MySQL's packed binary DECIMAL(precision, scale).
func decodeDecimal(precision, scale int, data []byte) (string, error) {
	const digitsPerWord = 9
	compressed := [...]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}
	intg := precision - scale
	intWords, intLeft := intg/digitsPerWord, intg%digitsPerWord
	fracWords, fracLeft := scale/digitsPerWord, scale%digitsPerWord
	size := intWords*4 + compressed[intLeft] + fracWords*4 + compressed[fracLeft]
	if precision <= 0 || scale < 0 || scale > precision || len(data) < size {
		return "", fmt.Errorf("bad DECIMAL(%d,%d) of %d bytes", precision, scale, len(data))
	}
	buf := append([]byte(nil), data[:size]...)
	negative := buf[0]&0x80 == 0
	buf[0] ^= 0x80
	if negative {
		for i := range buf {
			buf[i] = ^buf[i]
		}
	}
	var b strings.Builder
	if negative {
		b.WriteByte('-')
	}
	pos := 0
	read := func(n int) uint32 {
		var v uint32
		for i := 0; i < n; i++ {
			v = v<<8 | uint32(buf[pos+i])
		}
		pos += n
		return v
	}
	var intPart strings.Builder
	if n := compressed[intLeft]; n > 0 {
		intPart.WriteString(strconv.FormatUint(uint64(read(n)), 10))
	}
	for i := 0; i < intWords; i++ {
		fmt.Fprintf(&intPart, "%09d", read(4))
	}
	digits := strings.TrimLeft(intPart.String(), "0")
	if digits == "" {
		digits = "0"
	}
	b.WriteString(digits)
	if scale > 0 {
		b.WriteByte('.')
		for i := 0; i < fracWords; i++ {
			fmt.Fprintf(&b, "%09d", read(4))
		}
		if n := compressed[fracLeft]; n > 0 {
			fmt.Fprintf(&b, "%0*d", fracLeft, read(n))
		}
	}
	return b.String(), nil
}

// QuoteIdent quotes an identifier with backticks, doubling inner ones.
func QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func boolInt(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// checkColumnCounts refuses the row events of one source statement when a
// table they write has another number of columns on the target than in
// its table map, or, where the table map names them, other columns: the
// server would apply them anyway, by position, as replication does for
// tables that differ (extra columns filled with defaults, missing ones
// dropped), where a recovery must stop. A table missing on the target is
// left to the server, which refuses it naming it.
func checkColumnCounts(ctx context.Context, tables TableFunc, events []*txn.Event, blame *txn.Event) error {
	for _, e := range events {
		if e.Kind != txn.EventTableMap {
			continue
		}
		tm := e.TableMap
		t, err := tables(ctx, tm.Schema, tm.Table)
		switch {
		case errors.Is(err, schema.ErrNoTable):
			continue
		case err != nil:
			return &RowsError{Event: blame, Err: fmt.Errorf("read the definition of %s.%s on the target: %w", tm.Schema, tm.Table, err)}
		case !sameColumns(t, len(tm.ColumnTypes)):
			return &RowsError{Event: blame, Err: fmt.Errorf("table %s.%s has %d columns in the binlog and %d on the target: "+
				"the target's table differs from the source's", tm.Schema, tm.Table, len(tm.ColumnTypes), len(t.Columns))}
		}
		if d := renamedColumn(tm, t); d != "" {
			return &RowsError{Event: blame, Err: fmt.Errorf("table %s.%s: %s: the target's table differs from the source's",
				tm.Schema, tm.Table, d)}
		}
	}
	return nil
}

// Quote returns s as an SQL string literal that means the same under any
// sql_mode and character set: plain '...' when s holds only harmless ASCII,
// a hex literal otherwise.
func Quote(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte(" ._:-+/,", c) >= 0
		if !safe {
			return "X'" + hex.EncodeToString([]byte(s)) + "'"
		}
	}
	return "'" + s + "'"
}

// loadStatement rewrites the LOAD DATA INFILE statement sql of event e to
// read its file from the client (LOCAL INFILE), as mysqlbinlog's output
// does, under a name unique to e; it returns the statement and the name.
func loadStatement(sql string, e *txn.Event) (string, string) {
	ld := e.Query.Load
	name := fmt.Sprintf("binlog-replay-%s-%d-%p", e.Pos.File, e.Pos.Offset, ld)
	var dup string
	switch ld.Dup {
	case txn.LoadDupReplace:
		dup = " REPLACE"
	case txn.LoadDupIgnore:
		dup = " IGNORE"
	}
	return sql[:ld.FileStart] + " LOCAL INFILE " + Quote("Reader::"+name) + dup + " INTO" + sql[ld.FileEnd:], name
}
