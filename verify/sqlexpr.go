package verify

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kind says how a column is rendered in a row hash and, for key columns,
// how its values travel between servers as chunk boundaries.
type kind int

const (
	kindUnsupported kind = iota // other types: hashed as HEX, never a chunking key
	kindInteger                 // integer types; YEAR
	kindDecimal                 // DECIMAL/NUMERIC: exact text
	kindFloat                   // FLOAT/DOUBLE: col+0e0 prints the exact double
	kindTemporal                // DATE, TIME, DATETIME, TIMESTAMP (session time_zone +00:00)
	kindString                  // character strings: HEX of the bytes in the column charset
	kindBinary                  // byte strings: HEX
	kindNumbered                // ENUM, SET, BIT: numeric value as key, HEX in the hash
)

func columnKind(c column) kind {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return kindInteger
	case "decimal", "numeric", "dec", "fixed":
		return kindDecimal
	case "float", "double", "real", "double precision":
		return kindFloat
	case "date", "time", "datetime", "timestamp":
		return kindTemporal
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if c.Collation == "" || c.Charset == "binary" {
			return kindBinary
		}
		return kindString
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return kindBinary
	case "enum", "set", "bit":
		return kindNumbered
	}
	return kindUnsupported
}

// hashExpr renders a column for the row hash. Distinct values must give
// distinct texts, and no text may contain the '#' separator: numbers and
// temporals print as themselves, FLOAT/DOUBLE through a double addition
// (CAST(float AS CHAR) rounds to 6 digits), everything else as HEX.
func hashExpr(c column) string {
	q := quoteIdent(c.Name)
	switch columnKind(c) {
	case kindInteger, kindDecimal, kindTemporal:
		return q
	case kindFloat:
		return "(" + q + "+0e0)"
	}
	return "HEX(" + q + ")"
}

// hashedColumns are the columns whose values are data: not VIRTUAL
// generated columns (computed on read) nor system-versioning period columns.
func hashedColumns(cols []column) []column {
	var out []column
	for _, c := range cols {
		if !c.Virtual && !c.Period {
			out = append(out, c)
		}
	}
	return out
}

// rowHashExpr is the per-row CRC32 of a table's data columns. NULL is told
// from the empty string and from the text NULL by the trailing ISNULL flags,
// since CONCAT_WS skips NULLs.
func rowHashExpr(cols []column) string {
	exprs := make([]string, 0, len(cols)+1)
	flags := make([]string, 0, len(cols))
	for _, c := range cols {
		exprs = append(exprs, hashExpr(c))
		flags = append(flags, "ISNULL("+quoteIdent(c.Name)+")")
	}
	if len(flags) == 0 {
		flags = append(flags, "''")
	}
	exprs = append(exprs, "CONCAT("+strings.Join(flags, ",")+")")
	return "CRC32(CONCAT_WS('#'," + strings.Join(exprs, ",") + "))"
}

// keyColumn is a column of the key used to walk a table in chunks.
type keyColumn struct {
	column
	kind kind
}

// selectExpr reads a key value as text that paramExpr turns back into the
// same value on either server.
func (k keyColumn) selectExpr() string {
	q := quoteIdent(k.Name)
	switch k.kind {
	case kindFloat:
		return "(" + q + "+0e0)"
	case kindString, kindBinary:
		return "HEX(" + q + ")"
	case kindNumbered:
		return "(" + q + "+0)"
	}
	return q
}

// paramExpr is the SQL for a placeholder holding a value read by
// selectExpr, typed so the server compares it as the column compares in
// its index (integers exactly, strings in the column collation, ENUM by
// number).
func (k keyColumn) paramExpr() string {
	switch k.kind {
	case kindInteger:
		if strings.Contains(k.ColumnType, "unsigned") {
			return "CAST(? AS UNSIGNED)"
		}
		if k.DataType == "year" {
			return "CAST(? AS UNSIGNED)"
		}
		return "CAST(? AS SIGNED)"
	case kindDecimal:
		return fmt.Sprintf("CAST(? AS DECIMAL(%d,%d))", k.Precision.Int64, k.Scale.Int64)
	case kindFloat:
		return "(?+0e0)"
	case kindString:
		return fmt.Sprintf("CONVERT(UNHEX(?) USING %s) COLLATE %s", k.Charset, k.Collation)
	case kindBinary:
		return "UNHEX(?)"
	case kindNumbered:
		return "CAST(? AS UNSIGNED)"
	}
	return "?" // temporal: a string constant is converted to the column's type
}

// display renders a key value read by selectExpr for people.
func (k keyColumn) display(v string) string {
	if k.kind != kindString && k.kind != kindBinary {
		return v
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	textual := strings.HasPrefix(k.Charset, "utf8") || k.Charset == "ascii"
	if k.kind == kindString && textual && utf8.Valid(b) {
		return strconv.Quote(string(b))
	}
	return "0x" + strings.ToUpper(v)
}

// chunkKey picks the key to walk a table by: the primary key, else the
// first unique key whose columns are all NOT NULL, whole (no prefix) and of
// a type chunk bounds can be carried in. It returns nil if there is none.
func chunkKey(t *tableSchema) ([]keyColumn, string) {
	cols := make(map[string]column, len(t.Columns))
	for _, c := range t.Columns {
		cols[c.Name] = c
	}
	for _, ix := range t.Indexes {
		if !ix.Unique {
			continue
		}
		key := make([]keyColumn, 0, len(ix.Parts))
		for _, p := range ix.Parts {
			c, ok := cols[p.Column]
			k := columnKind(c)
			if !ok || p.SubPart > 0 || c.Nullable || k == kindUnsupported {
				key = nil
				break
			}
			if k == kindDecimal && !c.Precision.Valid {
				key = nil
				break
			}
			key = append(key, keyColumn{column: c, kind: k})
		}
		if len(key) > 0 {
			return key, ix.Name
		}
	}
	return nil, ""
}

// boundPred is the predicate "key > vals" (op ">") or "key <= vals" (op
// "<="), expanded so the range optimizer of both MySQL and MariaDB uses the
// index (MariaDB scans the whole index for a row constructor comparison):
//
//	a >= ? AND (a > ? OR (a = ? AND b > ?))
//
// It returns the SQL and its arguments in placeholder order.
func boundPred(key []keyColumn, vals []string, op string) (string, []any) {
	strict := op[:1] // ">" or "<"
	var args []any
	var rec func(i int) string
	rec = func(i int) string {
		q, p := quoteIdent(key[i].Name), key[i].paramExpr()
		if i == len(key)-1 {
			args = append(args, vals[i])
			return q + " " + op + " " + p
		}
		args = append(args, vals[i], vals[i])
		return "(" + q + " " + strict + " " + p + " OR (" + q + " = " + p + " AND " + rec(i+1) + "))"
	}
	if len(key) == 1 {
		return rec(0), args
	}
	args = append(args, vals[0])
	lead := quoteIdent(key[0].Name) + " " + strict + "= " + key[0].paramExpr()
	return lead + " AND " + rec(0), args
}

// rangePred is the predicate for the chunk (lower, upper]; a nil bound is
// open. It returns "1" when both are open.
func rangePred(key []keyColumn, lower, upper []string) (string, []any) {
	var preds []string
	var args []any
	if lower != nil {
		p, a := boundPred(key, lower, ">")
		preds, args = append(preds, p), append(args, a...)
	}
	if upper != nil {
		p, a := boundPred(key, upper, "<=")
		preds, args = append(preds, p), append(args, a...)
	}
	if len(preds) == 0 {
		return "1", nil
	}
	return strings.Join(preds, " AND "), args
}

// keyList renders the key columns as "a, b" for ORDER BY, or their select
// expressions.
func keyList(key []keyColumn, sel bool) string {
	parts := make([]string, len(key))
	for i, k := range key {
		if sel {
			parts[i] = k.selectExpr()
		} else {
			parts[i] = quoteIdent(k.Name)
		}
	}
	return strings.Join(parts, ", ")
}

// displayKey renders a key value as "a=1, b='x'"; with vals nil, as
// "a=?, b=?".
func displayKey(key []keyColumn, vals []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		v := "?"
		if vals != nil {
			v = k.display(vals[i])
		}
		parts[i] = k.Name + "=" + v
	}
	return strings.Join(parts, ", ")
}
