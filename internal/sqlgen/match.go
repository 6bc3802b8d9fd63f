package sqlgen

import (
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Row matching, for the checks an undo makes before it changes a row back
// (RowExpect): a condition true for exactly the row that holds a given row
// image, as the binlog logged it. Passthrough cannot check it: a server
// applying an UPDATE or DELETE row event on a table with a primary key
// finds the row by its key and does not compare the other columns.
//
// Each column is compared NULL-safe (<=>) with an exact literal
// (sqlLiteral), with these differences, so that equal means the same
// value and not only one the collation calls equal: text and bytes are
// compared as bytes (CAST(col AS BINARY) against a binary literal, BINARY(n)
// padded as stored); DECIMAL is an unquoted decimal literal (a quoted one
// would be compared as a double). TIMESTAMP values are in UTC: the query
// must run with time_zone '+00:00' (MatchPrefix). Generated and hidden
// columns, which the server computes from the others, are left out.

// MatchPrefix is the SET STATEMENT prefix of the queries using the
// conditions below (MariaDB): TIMESTAMP literals are in UTC.
const MatchPrefix = "SET STATEMENT time_zone='+00:00' FOR "

// ImageMatch returns the condition matching the row of table t (on the
// target) that holds img, an image of the row event's table map tm, whose
// columns present lists.
func ImageMatch(t *schema.Table, tm *txn.TableMap, present []bool, img []any) (string, error) {
	var conds []string
	for i := range tm.ColumnTypes {
		if i >= len(present) || !present[i] || i >= len(t.Columns) || t.Columns[i].Generated || t.Columns[i].Hidden {
			continue
		}
		c, err := columnMatch(t, tm, i, img)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	if len(conds) == 0 {
		return "", fmt.Errorf("table %s: the image holds no column to compare", QuoteIdent(t.Schema)+"."+QuoteIdent(t.Name))
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// KeyMatch returns the condition matching the row whose columns cols (a
// key of t: their values identify the row) hold the values of img.
func KeyMatch(t *schema.Table, tm *txn.TableMap, cols []int, img []any) (string, error) {
	conds := make([]string, 0, len(cols))
	for _, i := range cols {
		if i < 0 || i >= len(tm.ColumnTypes) {
			return "", fmt.Errorf("table %s: key column %d is not in the row image", QuoteIdent(t.Schema)+"."+QuoteIdent(t.Name), i)
		}
		c, err := columnMatch(t, tm, i, img)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// columnMatch compares column i with its value in img.
func columnMatch(t *schema.Table, tm *txn.TableMap, i int, img []any) (string, error) {
	col := &t.Columns[i]
	name := QuoteIdent(col.Name)
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("table %s column %s: %w", QuoteIdent(t.Schema)+"."+QuoteIdent(t.Name), name, err)
	}
	if i >= len(img) {
		return fail(fmt.Errorf("the image has %d values", len(img)))
	}
	typ := realType(tm.ColumnTypes[i], columnMeta(tm, i))
	switch v := img[i].(type) {
	case []byte:
		if loggedClass(typ) != "string" || targetClass(col.DataType) != "string" {
			return fail(fmt.Errorf("a logged value of type %d compared with a %s column", typ, col.ColumnType))
		}
		if col.BinaryPadLen > len(v) {
			padded := make([]byte, col.BinaryPadLen)
			copy(padded, v)
			v = padded
		}
		return "CAST(" + name + " AS BINARY) <=> " + hexLiteral(v, &schema.Column{}), nil
	case string:
		if typ == typeNewDecimal {
			if !isDecimalText(v) {
				return fail(errors.New("unexpected text for a DECIMAL value"))
			}
			return name + " <=> " + v, nil
		}
	}
	lit, err := sqlLiteral(img[i], col, tm.ColumnTypes[i], columnMeta(tm, i), len(tm.Unsigned) > i)
	if err != nil {
		return fail(err)
	}
	return name + " <=> " + lit, nil
}

// isDecimalText reports whether s is a decimal number as the reader gives
// DECIMAL values: an optional minus sign, digits, an optional fraction.
func isDecimalText(s string) bool {
	whole, frac, hasFrac := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	return allDigits(whole) && (!hasFrac || allDigits(frac))
}

// allDigits reports whether s is a non-empty run of decimal digits.
func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// RowExpect is a check of the target's rows that a statement is about to
// change, run just before it in the same target transaction (Stmt.Expect):
// Query counts the rows that are as expected, and must return Want; it
// locks what it reads (FOR UPDATE), so that nothing changes those rows
// before the statement does. Otherwise the statement is not sent, and the
// error says Problem and, from Probes, which rows differ.
type RowExpect struct {
	Query   string
	Want    int64
	Problem string
	Probes  []RowProbe
}

// RowProbe tells whether one row is as expected: Query returns Want when it
// is. Key names the row in the error (its key, with its values or not).
type RowProbe struct {
	Query string
	Want  int64
	Key   string
}

// ErrRowDiffers is wrapped by the error of a RowExpect whose rows are not
// as expected.
var ErrRowDiffers = errors.New("rows differ on the target from what the binlogs say")
