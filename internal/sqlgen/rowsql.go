package sqlgen

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The SQL apply path. Row events go to the target by passthrough (BINLOG
// statements) except where the target cannot read them: MySQL row events
// on tables with a MySQL JSON column, whose binary JSON a MariaDB target
// refuses (error 1105), and MySQL's partial JSON updates
// (PARTIAL_UPDATE_ROWS, error 1730), which only come on such tables. Those
// source statements are applied with SQL made from the decoded row images:
// one INSERT per row event, one UPDATE or DELETE per row, keyed on the
// target table's primary key (on every column of the before image, with
// <=> and LIMIT 1, when it has none); a JSON column logged as diffs is set
// to itself changed by JSON_REPLACE, JSON_INSERT, JSON_ARRAY_INSERT and
// JSON_REMOVE. The choice is made from the table maps (needsSQL), never by
// catching errors, and the statements run in the source transaction's
// target transaction, next to the passthrough ones.
//
// Each statement runs with SET STATEMENT (MariaDB) time_zone '+00:00' (the
// reader gives TIMESTAMP values in UTC), the event's foreign_key_checks and
// unique_checks, and sql_mode (sqlMode) NO_AUTO_VALUE_ON_ZERO (a logged 0
// in an AUTO_INCREMENT column stays 0), STRICT_ALL_TABLES (a value the
// target column cannot hold is an error, not clamped or cut: a
// non-strict session stores 0 for a negative value into an unsigned
// column, with a warning nobody reads) and ALLOW_INVALID_DATES (dates a
// source in that mode stored, such as 2024-02-30, are kept; zero dates
// are allowed anyway, as neither NO_ZERO_DATE nor NO_ZERO_IN_DATE is
// set). The SQL is parsed before SET STATEMENT applies, in the session's
// sql_mode: it uses only backquoted names, numbers, hexadecimal and
// plain quoted literals, which every sql_mode reads alike. Every value is an
// exact literal: numbers in full precision, text and bytes in hexadecimal
// with the target column's character set as introducer, so that neither
// the session's character set nor escaping changes them. The number of
// rows each statement changed is checked: a row an UPDATE or DELETE does
// not find stops the replay, as the passthrough does (error 1032).

// sqlMode is the sql_mode of the SQL apply path's statements.
const sqlMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES"

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

// TableFunc returns the target's definition of a table (schema.Cache.Table).
type TableFunc func(ctx context.Context, schema, table string) (*schema.Table, error)

// RowCheck is how a statement of the SQL apply path is checked once run.
type RowCheck struct {
	// Rows is the number of rows the statement must change.
	Rows int64
	// Found, for an UPDATE, is a query counting the rows that hold the
	// after image's key: an UPDATE that finds its row but changes nothing
	// (the row already held the after image) reports 0 rows.
	Found string
}

// sqlStatements returns the statements that apply the row events of one
// source statement (events: its table maps and row events) as SQL. It
// fails, naming the event, table and column, on anything it cannot render.
func sqlStatements(ctx context.Context, tables TableFunc, events []*txn.Event) ([]Stmt, error) {
	var out []Stmt
	for _, e := range events {
		if e.Kind != txn.EventRows {
			continue
		}
		s, err := rowStatements(ctx, tables, e)
		if err != nil {
			return nil, &RowsError{Event: e, Err: fmt.Errorf("SQL apply: %w", err)}
		}
		out = append(out, s...)
	}
	return out, nil
}

// rowStatements renders one row event.
func rowStatements(ctx context.Context, tables TableFunc, e *txn.Event) ([]Stmt, error) {
	rows := e.Rows
	tm := rows.Table
	name := QuoteIdent(tm.Schema) + "." + QuoteIdent(tm.Table)
	if !rows.Decoded {
		return nil, fmt.Errorf("table %s: the row images were not decoded", name)
	}
	t, err := tables(ctx, tm.Schema, tm.Table)
	if err != nil {
		return nil, fmt.Errorf("table %s: read its definition on the target: %w", name, err)
	}
	if !sameColumns(t, len(tm.ColumnTypes)) {
		return nil, fmt.Errorf("table %s: the binlog has %d columns, the target's table %d", name, len(tm.ColumnTypes), len(t.Columns))
	}
	if t.HasTriggers {
		return nil, fmt.Errorf("table %s has triggers on the target, which SQL statements would fire (row events do not)", name)
	}
	r := rowRenderer{t: t, tm: tm, name: name, prefix: setStatement(rows.Flags)}
	var out []Stmt
	add := func(sql string, check RowCheck) {
		out = append(out, Stmt{SQL: sql, Event: e, Check: &check})
	}
	switch rows.Op {
	case txn.OpInsert:
		sql, err := r.insert(rows.Columns, rows.Rows)
		if err != nil {
			return nil, err
		}
		add(sql, RowCheck{Rows: int64(len(rows.Rows))})
	case txn.OpUpdate:
		if len(rows.Rows)%2 != 0 {
			return nil, fmt.Errorf("table %s: update event with %d images (not before/after pairs)", name, len(rows.Rows))
		}
		for i := 0; i < len(rows.Rows); i += 2 {
			sql, found, err := r.update(rows.Columns, rows.Rows[i], rows.ColumnsAfter, rows.Rows[i+1])
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i/2+1, err)
			}
			add(sql, RowCheck{Rows: 1, Found: found})
		}
	case txn.OpDelete:
		for i, img := range rows.Rows {
			where, err := r.where(rows.Columns, img)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i+1, err)
			}
			add(r.prefix+"DELETE FROM "+name+where, RowCheck{Rows: 1})
		}
	default:
		return nil, fmt.Errorf("table %s: row operation %v", name, rows.Op)
	}
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

// setStatement returns the SET STATEMENT prefix giving a statement the
// session the SQL apply path needs, with the row event's checks.
func setStatement(flags uint16) string {
	return fmt.Sprintf("SET STATEMENT time_zone='+00:00', sql_mode='%s', foreign_key_checks=%s, unique_checks=%s FOR ",
		sqlMode, boolInt(flags&txn.RowsFlagNoForeignKeyChecks == 0), boolInt(flags&txn.RowsFlagRelaxedUniqueChecks == 0))
}

// rowRenderer renders the statements of one row event on table t.
type rowRenderer struct {
	t      *schema.Table
	tm     *txn.TableMap
	name   string // quoted `schema`.`table`
	prefix string // SET STATEMENT ... FOR
}

// writable reports whether column i may be written: generated and hidden
// columns are computed by the target.
func (r *rowRenderer) writable(i int) bool {
	c := &r.t.Columns[i]
	return !c.Generated && !c.Hidden
}

// insert renders a multi-row INSERT of images holding the columns present.
func (r *rowRenderer) insert(present []bool, images [][]any) (string, error) {
	var cols []int
	for i := range r.tm.ColumnTypes {
		if i < len(present) && present[i] && r.writable(i) {
			cols = append(cols, i)
		}
	}
	var b strings.Builder
	b.WriteString(r.prefix + "INSERT INTO " + r.name + " (")
	for j, i := range cols {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(r.t.Columns[i].Name))
	}
	b.WriteString(") VALUES ")
	for n, img := range images {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, i := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			lit, err := r.literal(i, img)
			if err != nil {
				return "", fmt.Errorf("row %d: %w", n+1, err)
			}
			b.WriteString(lit)
		}
		b.WriteByte(')')
	}
	return b.String(), nil
}

// update renders the UPDATE of one before/after pair, and the query that
// tells whether the row holding the after image's key exists.
func (r *rowRenderer) update(before []bool, bimg []any, after []bool, aimg []any) (sql, found string, err error) {
	var sets []string
	for i := range r.tm.ColumnTypes {
		if i >= len(after) || !after[i] || !r.writable(i) {
			continue
		}
		var lit string
		var err error
		if diffs, ok := aimg[i].([]txn.JSONDiff); ok {
			lit, err = r.jsonDiffs(i, diffs)
		} else {
			lit, err = r.literal(i, aimg)
		}
		if err != nil {
			return "", "", err
		}
		sets = append(sets, QuoteIdent(r.t.Columns[i].Name)+" = "+lit)
	}
	if len(sets) == 0 {
		return "", "", fmt.Errorf("table %s: the after image holds no column the target lets write", r.name)
	}
	where, err := r.where(before, bimg)
	if err != nil {
		return "", "", err
	}
	// The row after the update: the after image's values, the before
	// image's for the columns the after image lacks (MINIMAL images) or
	// logs as JSON diffs (PARTIAL_UPDATE_ROWS).
	merged := make([]any, len(r.tm.ColumnTypes))
	present := make([]bool, len(r.tm.ColumnTypes))
	for i := range merged {
		_, diffs := aimg[i].([]txn.JSONDiff)
		switch {
		case i < len(after) && after[i] && !diffs:
			merged[i], present[i] = aimg[i], true
		case i < len(before) && before[i]:
			merged[i], present[i] = bimg[i], true
		}
	}
	foundWhere, err := r.where(present, merged)
	if err != nil {
		return "", "", err
	}
	return r.prefix + "UPDATE " + r.name + " SET " + strings.Join(sets, ", ") + where,
		r.prefix + "SELECT COUNT(*) FROM " + r.name + foundWhere, nil
}

// jsonDiffs renders the new value of JSON column i from the diffs of a
// partial JSON update (PARTIAL_UPDATE_ROWS): the column's value changed by
// JSON_REPLACE, JSON_INSERT (JSON_ARRAY_INSERT for an array cell) and
// JSON_REMOVE, in order, each new value parsed as JSON.
func (r *rowRenderer) jsonDiffs(i int, diffs []txn.JSONDiff) (string, error) {
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

// where renders the WHERE clause finding the row of an image: on the
// target's primary key when the image holds all of its columns, else on
// every non-generated column the image holds, NULL-safe, LIMIT 1.
func (r *rowRenderer) where(present []bool, img []any) (string, error) {
	has := func(i int) bool { return i >= 0 && i < len(present) && present[i] }
	if pk := r.t.PrimaryKey(); pk != nil {
		all := true
		for _, i := range pk.Columns {
			all = all && has(i)
		}
		if all {
			conds := make([]string, len(pk.Columns))
			for j, i := range pk.Columns {
				lit, err := r.literal(i, img)
				if err != nil {
					return "", err
				}
				conds[j] = QuoteIdent(r.t.Columns[i].Name) + " = " + lit
			}
			return " WHERE " + strings.Join(conds, " AND "), nil
		}
	}
	var conds []string
	for i := range r.tm.ColumnTypes {
		if !has(i) || !r.writable(i) {
			continue
		}
		lit, err := r.literal(i, img)
		if err != nil {
			return "", err
		}
		conds = append(conds, QuoteIdent(r.t.Columns[i].Name)+" <=> "+lit)
	}
	if len(conds) == 0 {
		return "", fmt.Errorf("table %s: the image holds no column to find its row by", r.name)
	}
	return " WHERE " + strings.Join(conds, " AND ") + " LIMIT 1", nil
}

// literal renders column i's value in img, with the column's name in
// errors (never the value).
func (r *rowRenderer) literal(i int, img []any) (string, error) {
	if i >= len(img) {
		return "", fmt.Errorf("column %s: the image has %d values", QuoteIdent(r.t.Columns[i].Name), len(img))
	}
	unsignedKnown := len(r.tm.Unsigned) > i
	lit, err := sqlLiteral(img[i], &r.t.Columns[i], r.tm.ColumnTypes[i], columnMeta(r.tm, i), unsignedKnown)
	if err != nil {
		return "", fmt.Errorf("table %s column %s: %w", r.name, QuoteIdent(r.t.Columns[i].Name), err)
	}
	return lit, nil
}

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
	if v == nil {
		return "NULL", nil
	}
	typ = realType(typ, meta)
	if lc, tc := loggedClass(typ), targetClass(col.DataType); lc != tc {
		return "", fmt.Errorf("a logged value of type %d cannot be written to a %s column", typ, col.ColumnType)
	}
	switch x := v.(type) {
	case int64:
		if x < 0 && col.Unsigned && !unsignedKnown {
			u, ok := unsignedFix(x, typ)
			if !ok {
				return "", fmt.Errorf("negative value for an unsigned column of type %d", typ)
			}
			return strconv.FormatUint(u, 10), nil
		}
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return floatLiteral(float64(x))
	case float64:
		return floatLiteral(x)
	case string:
		return stringLiteral(x, col, typ)
	case []byte:
		if col.BinaryPadLen > len(x) {
			padded := make([]byte, col.BinaryPadLen)
			copy(padded, x)
			x = padded
		}
		return hexLiteral(x, col), nil
	}
	return "", fmt.Errorf("unexpected decoded value of type %T", v)
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

// floatLiteral renders a FLOAT or DOUBLE value: the shortest decimal that
// reads back as the same float64 (a FLOAT's float32 value is exactly a
// float64, so it reads back exactly too).
func floatLiteral(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("value is not a finite number")
	}
	return strconv.FormatFloat(f, 'e', -1, 64), nil
}

// stringLiteral renders the text form of DECIMAL and temporal values
// (checked to be made of digits and separators only: they are written as
// they are) and of MySQL JSON (in hexadecimal, as the column's text).
func stringLiteral(s string, col *schema.Column, typ byte) (string, error) {
	if typ == txn.TypeJSON {
		return hexLiteral([]byte(s), col), nil
	}
	if s == "" {
		return "", fmt.Errorf("empty text for a value of type %d", typ)
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c == '-' || c == ':' || c == '.' || c == ' ') {
			return "", fmt.Errorf("unexpected character in the text of a value of type %d", typ)
		}
	}
	return "'" + s + "'", nil
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
