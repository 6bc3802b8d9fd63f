package schema

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Collation is how the server compares strings under one collation, read
// from the server itself: the weight (WEIGHT_STRING) of every character.
// Two strings without contractions are equal under the collation exactly
// when the concatenations of their characters' weights are equal, after
// dropping trailing space weights for PAD SPACE collations.
//
// Character codes are Unicode code points for the utf8mb3 and utf8mb4
// charsets, and byte values for single-byte charsets (latin1, cp1250...).
// For other charsets (ucs2, utf16, gbk, sjis...) the weights are not read
// and Inexact is set.
type Collation struct {
	Name    string
	Charset string
	// SingleByte is set when each byte is one character.
	SingleByte bool
	// Inexact is set when per-character weights cannot decide equality:
	// the server weighs some pairs of characters other than as their two
	// weights one after the other (contractions: Czech "ch", Danish
	// "aa"...), or the charset is not covered. Callers must then treat
	// every value as possibly equal to every other.
	Inexact bool
	// Space is the weight of ' ' (the one PAD SPACE drops at the end).
	Space []byte

	tables []weightTable
	// suppl is the weight every supplementary character (above U+FFFF)
	// has when the server gives them all the same one (general_ci and
	// MariaDB's unicode_ci); hasSuppl says whether it is known.
	suppl    []byte
	hasSuppl bool
}

// weightTable holds the weights of the codes [lo, lo+len(off)-1).
type weightTable struct {
	lo   rune
	off  []uint32 // weight of lo+i is data[off[i]:off[i+1]]
	data []byte
}

// String returns the collation's name.
func (c *Collation) String() string { return c.Name }

// Weight returns the weight of character r (empty for a character the
// collation ignores), and false when the weight is not known: then r is
// equal to no other character (an unassigned or private code point). The
// result must not be modified.
func (c *Collation) Weight(r rune) ([]byte, bool) {
	for i := range c.tables {
		t := &c.tables[i]
		if j := int(r - t.lo); r >= t.lo && j < len(t.off)-1 {
			return t.data[t.off[j]:t.off[j+1]:t.off[j+1]], true
		}
	}
	if r > 0xFFFF && c.hasSuppl {
		return c.suppl, true
	}
	return nil, false
}

// Decode returns the first character of b and its length in bytes.
func (c *Collation) Decode(b []byte) (rune, int) {
	if c.SingleByte || b[0] < utf8.RuneSelf {
		return rune(b[0]), 1
	}
	return utf8.DecodeRune(b)
}

// validName guards the names interpolated into the queries below.
var validName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// needsCollation reports whether values of a column with this collation
// compare otherwise than by their bytes (trailing spaces aside).
func needsCollation(collation string) bool {
	c := strings.ToLower(collation)
	return c != "" && c != "binary" && !strings.HasSuffix(c, "_bin")
}

// loadCollation reads the weights of a collation.
func loadCollation(ctx context.Context, db *sql.DB, name, charset string) (*Collation, error) {
	if !validName.MatchString(name) || !validName.MatchString(charset) {
		return nil, fmt.Errorf("read collation %q: unexpected name", name)
	}
	c := &Collation{Name: name, Charset: charset}
	switch strings.ToLower(charset) {
	case "utf8", "utf8mb3", "utf8mb4":
	default:
		var maxLen int
		err := db.QueryRowContext(ctx, `SELECT MAXLEN FROM information_schema.CHARACTER_SETS
			WHERE CHARACTER_SET_NAME = ?`, charset).Scan(&maxLen)
		if err != nil {
			return nil, fmt.Errorf("read charset %s: %w", charset, err)
		}
		if maxLen != 1 {
			c.Inexact = true
			return c, nil
		}
		c.SingleByte = true
	}
	if err := c.load(ctx, db); err != nil {
		return nil, fmt.Errorf("read collation %s: %w", name, err)
	}
	return c, nil
}

// hexDigits is a derived table of 0..15, cross-joined to count code points.
const hexDigits = `(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL
	SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL
	SELECT 9 UNION ALL SELECT 10 UNION ALL SELECT 11 UNION ALL SELECT 12 UNION ALL SELECT 13 UNION ALL
	SELECT 14 UNION ALL SELECT 15)`

// load reads the weight tables, the supplementary-plane behavior and
// whether the collation has contractions.
func (c *Collation) load(ctx context.Context, db *sql.DB) error {
	if c.SingleByte {
		t, err := c.readTable(ctx, db, 0, 2) // 16*16 byte values
		if err != nil {
			return err
		}
		c.tables = []weightTable{t}
	} else {
		bmp, err := c.readTable(ctx, db, 0, 4)
		if err != nil {
			return err
		}
		c.tables = []weightTable{bmp}
		if err := c.loadSupplementary(ctx, db); err != nil {
			return err
		}
	}
	c.Space, _ = c.Weight(' ')
	return c.checkContractions(ctx, db)
}

// charExpr is the SQL for the character with code expr in c's charset.
func (c *Collation) charExpr(expr string) string {
	if c.SingleByte {
		return fmt.Sprintf("CONVERT(CHAR(%s) USING %s)", expr, c.Charset)
	}
	return fmt.Sprintf("CONVERT(CHAR(%s USING utf32) USING %s)", expr, c.Charset)
}

// readTable reads the weights of codes lo .. lo+16^digits-1 (surrogates
// get no weight).
func (c *Collation) readTable(ctx context.Context, db *sql.DB, lo rune, digits int) (weightTable, error) {
	code := fmt.Sprint(lo)
	from := ""
	for i := 0; i < digits; i++ {
		code += fmt.Sprintf(" + h%d.d * %d", i, 1<<(4*i))
		if i > 0 {
			from += ", "
		}
		from += fmt.Sprintf("%s h%d", hexDigits, i)
	}
	q := fmt.Sprintf(`SELECT r, IF(r BETWEEN 55296 AND 57343, NULL, WEIGHT_STRING(%s COLLATE %s))
		FROM (SELECT %s AS r FROM %s) codes ORDER BY r`, c.charExpr("r"), c.Name, code, from)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return weightTable{}, err
	}
	defer rows.Close()
	t := weightTable{lo: lo, off: []uint32{0}}
	for rows.Next() {
		var r rune
		var w []byte
		if err := rows.Scan(&r, &w); err != nil {
			return weightTable{}, err
		}
		if r != lo+rune(len(t.off)-1) {
			return weightTable{}, fmt.Errorf("weights out of order at code %d", r)
		}
		t.data = append(t.data, w...)
		t.off = append(t.off, uint32(len(t.data)))
	}
	return t, rows.Err()
}

// loadSupplementary finds out how the collation weighs characters above
// U+FFFF: all alike (read one weight), or each its own (read the planes
// where characters are assigned: 1, 2, 3 and 14; code points elsewhere are
// unassigned or private, with weights of their own).
func (c *Collation) loadSupplementary(ctx context.Context, db *sql.DB) error {
	if strings.EqualFold(c.Charset, "utf8mb3") || strings.EqualFold(c.Charset, "utf8") {
		return nil // no supplementary characters
	}
	samples := []rune{0x10000, 0x1D400, 0x1F600, 0x20000, 0xE0001, 0x10FFFD}
	exprs := make([]string, len(samples))
	weights := make([][]byte, len(samples))
	dest := make([]any, len(samples))
	for i, r := range samples {
		exprs[i] = fmt.Sprintf("WEIGHT_STRING(%s COLLATE %s)", c.charExpr(fmt.Sprint(r)), c.Name)
		dest[i] = &weights[i]
	}
	if err := db.QueryRowContext(ctx, "SELECT "+strings.Join(exprs, ", ")).Scan(dest...); err != nil {
		return err
	}
	uniform := true
	for _, w := range weights[1:] {
		uniform = uniform && bytes.Equal(w, weights[0])
	}
	if uniform {
		c.suppl, c.hasSuppl = weights[0], true
		return nil
	}
	for _, plane := range []rune{1, 2, 3, 14} {
		t, err := c.readTable(ctx, db, plane<<16, 4)
		if err != nil {
			return err
		}
		c.tables = append(c.tables, t)
	}
	return nil
}

// checkContractions asks whether any pair of ASCII letters, combining
// marks (U+0300..U+030C) and space weighs otherwise than its two
// characters one after the other.
func (c *Collation) checkContractions(ctx context.Context, db *sql.DB) error {
	var codes []string
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			codes = append(codes, fmt.Sprintf("SELECT %d AS r", r))
		}
	}
	add('a', 'z')
	add('A', 'Z')
	add(' ', ' ')
	if !c.SingleByte {
		add(0x300, 0x30C)
	}
	chars := fmt.Sprintf("(SELECT %s AS c FROM (%s) codes)", c.charExpr("r"), strings.Join(codes, " UNION ALL "))
	q := fmt.Sprintf(`SELECT COUNT(*) FROM %[1]s x, %[1]s y
		WHERE WEIGHT_STRING(CONCAT(x.c, y.c) COLLATE %[2]s) <>
			CONCAT(WEIGHT_STRING(x.c COLLATE %[2]s), WEIGHT_STRING(y.c COLLATE %[2]s))`, chars, c.Name)
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return err
	}
	c.Inexact = n > 0
	return nil
}
