package sqlgen

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The SQL apply path. Row events go to the target by passthrough (BINLOG
// statements) except where the target cannot read them, or where the
// Generator is told to apply every row event as SQL (ApplySQL). A MariaDB
// target cannot read MySQL row events on tables with a MySQL JSON column,
// whose binary JSON it refuses (error 1105), nor MySQL's partial JSON
// updates (PARTIAL_UPDATE_ROWS, error 1730), which only come on such
// tables; those source statements are applied as SQL in any case (the
// choice is made from the table maps, needsSQL, never by catching errors),
// each row event in statements and packets of its own. With ApplySQL every
// row event is, and consecutive row events of a transaction share
// statements and packets (sqlbatch.go says how: multi-row INSERT, DELETE
// and UPDATE where the result cannot differ from applying the rows one by
// one in order). Rows are found as a replica finds them: by the target
// table's primary key, or without one by every column the before image
// holds (<=>, text compared as bytes, LIMIT 1). A JSON column logged as
// diffs is set to itself changed by JSON_REPLACE, JSON_INSERT,
// JSON_ARRAY_INSERT and JSON_REMOVE. The statements run in the source
// transaction's target transaction, next to any others.
//
// Row images: only the columns an image holds are used (the bitmaps of
// MINIMAL and NOBLOB images): an INSERT names the columns present (the
// target fills the others with their defaults, as a replica does, at the
// event's time), an UPDATE sets the after image's columns and finds the row
// by the before image's. Generated and hidden columns (MariaDB's long
// unique hashes, system versioning's) are never written; invisible ones
// are, by name.
//
// Refused, with an error naming the event and table: a table with
// triggers on the target (SQL fires them, row events do not, and MariaDB
// has no session setting to turn them off; Generator.TriggersFire accepts
// them firing), a system-versioned table (its row events carry the
// history rows the source wrote, which SQL would have the target version
// again), a table whose columns differ from the table map's, undecoded
// images.
//
// Each statement runs with SET STATEMENT (MariaDB; or, for the common
// settings of many statements of one packet, in a session given them
// before the packet and its own back after it: see commonSettings)
// time_zone '+00:00' (the reader gives TIMESTAMP values in UTC), the event's foreign_key_checks and
// unique_checks, check_constraint_checks=0 (a replica does not check CHECK
// constraints on row events: the source did), the event's time as
// timestamp where the image lacks columns the target fills (defaults of
// CURRENT_TIMESTAMP), and sql_mode (sqlMode) NO_AUTO_VALUE_ON_ZERO (a
// logged 0 in an AUTO_INCREMENT column stays 0), STRICT_ALL_TABLES (a
// value the target column cannot hold is an error, not clamped or cut: a
// non-strict session stores 0 for a negative value into an unsigned
// column, with a warning nobody reads; not for a row holding an ENUM's
// error value 0, which only a non-strict statement can store: laxSQLMode)
// and ALLOW_INVALID_DATES (dates a source in that mode stored, such as
// 2024-02-30, are kept; zero dates are allowed anyway, as neither
// NO_ZERO_DATE nor NO_ZERO_IN_DATE is set). The SQL is parsed before SET
// STATEMENT applies, in the session's sql_mode: it uses only backquoted
// names, numbers, hexadecimal and plain quoted literals, which every
// sql_mode reads alike; names are UTF-8, as the table maps give them, so
// the session's character_set_client must be utf8mb4 (or utf8mb3) where a
// name is not ASCII. Every value is an exact literal: numbers in full
// precision, text and bytes in hexadecimal with the target column's
// character set as introducer, so that neither the session's character
// set nor escaping changes them; BINARY, INET6, UUID and INET4 values get
// back the trailing 0x00 bytes the binlog drops. The number of rows each
// statement changed is checked: a row an UPDATE or DELETE does not find
// stops the replay, as the passthrough does (error 1032).
//
// Known differences from a replica: a DOUBLE or FLOAT -0 written by an
// UPDATE is stored as 0 (seen on MariaDB 10.11); a MINIMAL image's
// defaults are computed at the event's second, not its microsecond.

// sqlMode is the sql_mode of the SQL apply path's statements.
const sqlMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES"

// laxSQLMode is sqlMode without STRICT_ALL_TABLES, for the statements of
// rows holding an ENUM's empty error value (ordinal 0), which a strict
// sql_mode refuses and a non-strict source stores for a value not in the
// list.
const laxSQLMode = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES"

// needsSQL reports whether the row events of one source statement (its
// table maps and row events) must be applied as SQL rather than passed
// through: a MySQL binlog's row events on a table with a MySQL JSON column,
// for a MariaDB target.
func needsSQL(f *txn.Format, targetMariaDB bool, events []*txn.Event) bool {
	if !targetMariaDB || f == nil || f.Flavor != txn.FlavorMySQL {
		return false
	}
	for _, e := range events {
		if e.Kind == txn.EventTableMap && e.TableMap.HasJSON() {
			return true
		}
	}
	return false
}

// partialSequenceRows reports whether the row events of one source
// statement write a sequence's row with columns left out of the image
// (binlog_row_image=MINIMAL: NEXTVAL and SETVAL log the columns they
// change), all of them decoded: they are applied as SQL (see
// batcher.sequenceRow). A MariaDB target that logs its binlog refuses
// such a row by passthrough, error 4085, because it checks the sequence's
// options, the columns left out among them, before it fills them in
// (MDEV-37366); mariadb-binlog | mariadb fails there too. A table the
// target cannot describe is left to passthrough, which names the error.
func (sa *Generator) partialSequenceRows(ctx context.Context, events []*txn.Event) bool {
	if !sa.TargetMariaDB || sa.Tables == nil {
		return false
	}
	found := false
	for _, e := range events {
		if e.Kind != txn.EventRows {
			continue
		}
		if !e.Rows.Decoded {
			return false
		}
		if found || !e.Rows.Table.SequenceShaped() || !slices.Contains(e.Rows.Columns, false) {
			continue
		}
		t, err := sa.Tables(ctx, e.Rows.Table.Schema, e.Rows.Table.Table)
		found = err == nil && t.Sequence
	}
	return found
}

// TableFunc returns the target's definition of a table (schema.Cache.Table).
type TableFunc func(ctx context.Context, schema, table string) (*schema.Table, error)

// RowCheck is how a statement of the SQL apply path is checked once run.
type RowCheck struct {
	// Rows is the number of rows the statement must change.
	Rows int64
	// Found, for an UPDATE, is a query counting the rows its WHERE clause
	// finds: an UPDATE that finds its row but changes nothing (the row
	// already held the after image) reports 0 rows, and its row is still
	// found by the same WHERE clause afterwards.
	Found string
	// Events are the row events whose rows the statement applies, in
	// order (a multi-row statement may carry the rows of several).
	Events []*txn.Event
}

// sqlStatements returns the statements that apply the row events of one
// source statement (events: its table maps and row events) as SQL, each row
// event with statements and packets of its own. It fails, naming the event,
// table and column, on anything it cannot render.
func sqlStatements(ctx context.Context, tables TableFunc, events []*txn.Event) ([]Stmt, error) {
	var out []Stmt
	b := newBatcher(ctx, tables, sqlOptions{}, &out)
	for _, e := range events {
		if e.Kind != txn.EventRows {
			continue
		}
		if err := b.add(e); err != nil {
			return nil, err
		}
	}
	b.finish()
	return out, nil
}

// sameColumns reports whether the target's table t has the n columns of
// the table map, in order: those it has beyond n must be MariaDB's hidden
// columns (long unique hashes, system versioning), which a MySQL source
// does not log and the target computes.
func sameColumns(t *schema.Table, n int) bool {
	if len(t.Columns) < n {
		return false
	}
	for _, c := range t.Columns[n:] {
		if !c.Hidden {
			return false
		}
	}
	return true
}

// renamedColumn returns, when tm names its columns (the source's
// binlog_row_metadata=FULL) and one is not the target's column at its
// place, what differs; "" otherwise. The server applies a row image by
// column position: a column of another name there takes the value.
func renamedColumn(tm *txn.TableMap, t *schema.Table) string {
	for i, name := range tm.ColumnNames {
		if i < len(t.Columns) && !strings.EqualFold(name, t.Columns[i].Name) {
			return fmt.Sprintf("column %d is `%s` in the binlog's table map and `%s` on the target", i+1, name, t.Columns[i].Name)
		}
	}
	return ""
}

// setStatement returns the SET STATEMENT prefix giving a statement the
// session the SQL apply path needs, with the row event's checks.
func setStatement(flags uint16) string {
	return setStatementFor(prefixKey{flags: flags & (txn.RowsFlagNoForeignKeyChecks | txn.RowsFlagRelaxedUniqueChecks)})
}

// jsonDiffs renders the new value of JSON column i from the diffs of a
// partial JSON update (PARTIAL_UPDATE_ROWS): the column's value changed by
// JSON_REPLACE, JSON_INSERT (JSON_ARRAY_INSERT for an array cell) and
// JSON_REMOVE, in order, each new value parsed as JSON.
func jsonDiffs(r *tablePlan, i int, diffs []txn.JSONDiff) (string, error) {
	col := &r.t.Columns[i]
	if r.tm.ColumnTypes[i] != txn.TypeJSON || targetClass(col.DataType) != "string" {
		return "", fmt.Errorf("table %s column %s: JSON diffs for a %s column", r.name, QuoteIdent(col.Name), col.ColumnType)
	}
	utf8 := &schema.Column{Charset: "utf8mb4"} // MySQL JSON paths and values are UTF-8
	expr := QuoteIdent(col.Name)
	for _, d := range diffs {
		if lastCell.MatchString(d.Path) {
			// MariaDB 10.11 resolves [last] in JSON_ARRAY_INSERT as the
			// end of the array, MySQL as the last cell.
			return "", fmt.Errorf("table %s column %s: a JSON diff path with [last] cannot be applied exactly", r.name, QuoteIdent(col.Name))
		}
		path := hexLiteral([]byte(d.Path), utf8)
		value := "JSON_EXTRACT(" + hexLiteral([]byte(d.Value), utf8) + ", '$')"
		switch {
		case d.Op == txn.JSONReplace:
			expr = "JSON_REPLACE(" + expr + ", " + path + ", " + value + ")"
		case d.Op == txn.JSONInsert && strings.HasSuffix(d.Path, "]"):
			expr = "JSON_ARRAY_INSERT(" + expr + ", " + path + ", " + value + ")"
		case d.Op == txn.JSONInsert:
			expr = "JSON_INSERT(" + expr + ", " + path + ", " + value + ")"
		case d.Op == txn.JSONRemove:
			expr = "JSON_REMOVE(" + expr + ", " + path + ")"
		default:
			return "", fmt.Errorf("table %s column %s: JSON diff operation %d", r.name, QuoteIdent(col.Name), d.Op)
		}
	}
	return expr, nil
}

// lastCell matches a JSON path with an array cell counted from the end
// ([last], [last-1], ranges ending in last).
var lastCell = regexp.MustCompile(`(?i)\[[^\]"]*\blast\b`)

func columnMeta(tm *txn.TableMap, i int) uint16 {
	if i < len(tm.ColumnMeta) {
		return tm.ColumnMeta[i]
	}
	return 0
}

// MYSQL_TYPE_* codes the literals depend on.
const (
	typeDecimal    = 0
	typeTiny       = 1
	typeShort      = 2
	typeLong       = 3
	typeFloat      = 4
	typeDouble     = 5
	typeTimestamp  = 7
	typeLongLong   = 8
	typeInt24      = 9
	typeDate       = 10
	typeTime       = 11
	typeDatetime   = 12
	typeYear       = 13
	typeNewDate    = 14
	typeVarchar    = 15
	typeBit        = 16
	typeTimestamp2 = 17
	typeDatetime2  = 18
	typeTime2      = 19
	typeVector     = 242
	typeNewDecimal = 246
	typeEnum       = 247
	typeSet        = 248
	typeTinyBlob   = 249
	typeMediumBlob = 250
	typeLongBlob   = 251
	typeBlob       = 252
	typeVarString  = 253
	typeString     = 254
	typeGeometry   = 255
)

// realType returns the type of a column as logged, with ENUM and SET,
// which are logged as STRING, told apart by their metadata.
func realType(typ byte, meta uint16) byte {
	if typ == typeString {
		if t := byte(meta >> 8); t == typeEnum || t == typeSet {
			return t
		}
	}
	return typ
}

// loggedClass groups the logged types and the target's DATA_TYPE names that
// hold the same kind of values: a value is only written to a column of its
// class (an ENUM ordinal into a VARCHAR would store the number).
func loggedClass(typ byte) string {
	switch typ {
	case typeTiny, typeShort, typeLong, typeLongLong, typeInt24, typeYear,
		typeFloat, typeDouble, typeDecimal, typeNewDecimal:
		return "number"
	case typeBit:
		return "bit"
	case typeEnum:
		return "enum"
	case typeSet:
		return "set"
	case typeTimestamp, typeTimestamp2, typeDate, typeNewDate, typeTime, typeTime2, typeDatetime, typeDatetime2:
		return "temporal"
	case typeVarchar, typeVarString, typeString, typeTinyBlob, typeMediumBlob, typeLongBlob, typeBlob,
		typeGeometry, typeVector, txn.TypeJSON:
		return "string"
	}
	return ""
}

// targetClass is loggedClass for the target's DATA_TYPE.
func targetClass(dataType string) string {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "year", "float", "double", "decimal":
		return "number"
	case "bit", "enum", "set":
		return dataType
	case "timestamp", "date", "time", "datetime":
		return "temporal"
	}
	return "string"
}

// sqlLiteral renders a decoded row value (see binlog's package doc for
// the types) as an SQL literal that stores exactly that value in col:
// typ and meta are the column's logged type and metadata, unsignedKnown
// whether the table map said which integers are unsigned (else a negative
// value in an unsigned column is the unsigned one read as signed).
func sqlLiteral(v any, col *schema.Column, typ byte, meta uint16, unsignedKnown bool) (string, error) {
	cp := colPlan{col: col, typ: realType(typ, meta), meta: meta, unsignedKnown: unsignedKnown, padLen: fixedLen(col)}
	if lc, tc := loggedClass(cp.typ), targetClass(col.DataType); lc != tc {
		cp.classErr = fmt.Errorf("a logged value of type %d cannot be written to a %s column", cp.typ, col.ColumnType)
	}
	if col.Charset != "" {
		cp.introducer = "_" + col.Charset + " "
	}
	b, err := appendValue(nil, v, &cp)
	return string(b), err
}

// unsignedFix reinterprets a negative integer decoded without signedness
// metadata as the unsigned value of the column's width.
func unsignedFix(x int64, typ byte) (uint64, bool) {
	switch typ {
	case typeTiny:
		return uint64(uint8(x)), x >= math.MinInt8
	case typeShort:
		return uint64(uint16(x)), x >= math.MinInt16
	case typeInt24:
		return uint64(x) & 0xffffff, x >= -1<<23
	case typeLong:
		return uint64(uint32(x)), x >= math.MinInt32
	case typeLongLong:
		return uint64(x), true
	}
	return 0, false
}

// appendFloat appends a FLOAT or DOUBLE value: the shortest decimal that
// reads back as the same float64 (a FLOAT's float32 value is exactly a
// float64, so it reads back exactly too).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("value is not a finite number")
	}
	return strconv.AppendFloat(b, f, 'e', -1, 64), nil
}

// appendText appends the text form of DECIMAL and temporal values,
// checked to be made of digits and separators only: they are written as
// they are, quoted.
func appendText(b []byte, s string, typ byte) ([]byte, error) {
	if s == "" {
		return b, fmt.Errorf("empty text for a value of type %d", typ)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '-' || c == ':' || c == '.' || c == ' ') {
			return b, fmt.Errorf("unexpected character in the text of a value of type %d", typ)
		}
	}
	b = append(b, '\'')
	b = append(b, s...)
	return append(b, '\''), nil
}

// hexLiteral renders bytes as a hexadecimal string literal in the column's
// character set (a binary string for binary columns), so that the server
// stores them unchanged.
func hexLiteral(b []byte, col *schema.Column) string {
	var sb strings.Builder
	sb.Grow(len(b)*2 + len(col.Charset) + 5)
	if col.Charset != "" {
		sb.WriteString("_" + col.Charset + " ")
	}
	sb.WriteString("X'")
	sb.WriteString(hex.EncodeToString(b))
	sb.WriteString("'")
	return sb.String()
}

// ErrRowNotFound is wrapped by the error of an UPDATE or DELETE of the SQL
// apply path that found no row, as the passthrough's error 1032 says.
var ErrRowNotFound = errors.New("row not found on the target")

// RowsError is an error of the SQL apply path about one row event: the
// target refuses it, as a server error refuses a passthrough statement.
type RowsError struct {
	Event *txn.Event
	Err   error
}

// Error returns the error's text.
func (e *RowsError) Error() string { return e.Err.Error() }

// Unwrap returns the error.
func (e *RowsError) Unwrap() error { return e.Err }

// IsRowsError reports whether err is, or wraps, a *RowsError.
func IsRowsError(err error) bool {
	var re *RowsError
	return errors.As(err, &re)
}

// FailedEvent returns, for an error of Generator.Body, a statement naming
// the event it is about (for the *ApplyError), or nil.
func FailedEvent(err error) *Stmt {
	var re *RowsError
	if errors.As(err, &re) && re.Event != nil {
		return &Stmt{Event: re.Event}
	}
	return nil
}
