// Package sqlvals builds the SQL text workload profiles write: quoted
// identifiers and literals, random strings and bytes, multi-row INSERTs, and
// the column catalog of the Types profile with random and limit values for
// every column type.
package sqlvals

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Ident quotes an identifier, doubling backticks.
func Ident(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Str quotes s as a string literal for a session without
// NO_BACKSLASH_ESCAPES: NUL, quotes, backslash, CR, LF and ^Z are escaped.
func Str(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// StrRaw quotes s escaping only quotes and backslashes, so NUL and control
// bytes travel raw in the statement text.
func StrRaw(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// StrNoBackslash quotes s for a session with NO_BACKSLASH_ESCAPES: only
// quotes are doubled; backslashes are plain characters.
func StrNoBackslash(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// HexLit returns b as a hexadecimal (binary string) literal.
func HexLit(b []byte) string {
	return "X'" + hex.EncodeToString(b) + "'"
}

// Latin1Lit returns b as a latin1 string literal, whatever the connection
// character set is.
func Latin1Lit(b []byte) string {
	return "_latin1 " + HexLit(b)
}

// textPieces are the pieces random text is made of: ASCII, accents, CJK,
// 4-byte emoji, quotes, backslashes and LIKE wildcards.
var textPieces = []string{
	"a", "b", "c", "x", "y", "z", "A", "Q", "0", "7", " ", "-", ".",
	"é", "ß", "ñ", "Ø", "中", "文", "字", "€", "😀", "🐬", "𝄞", "👍🏽",
	"'", "\"", "\\", "%", "_", "`",
}

// RandText returns up to maxChars characters of random text (never more
// than maxChars code points, so it fits a column of that many characters).
func RandText(r *rand.Rand, maxChars int) string {
	n := r.IntN(maxChars + 1)
	var b strings.Builder
	for i := 0; i < n; i++ {
		p := textPieces[r.IntN(len(textPieces))]
		if p == "👍🏽" && i+2 > n {
			p = "d"
		}
		if p == "👍🏽" {
			i++
		}
		b.WriteString(p)
	}
	return b.String()
}

// RandASCII returns exactly n random lowercase letters and digits.
func RandASCII(r *rand.Rand, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

// RandBytes returns n random bytes.
func RandBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// RandLatin1 returns up to n random latin1 bytes, mostly from 0x80-0xFF.
func RandLatin1(r *rand.Rand, n int) []byte {
	b := make([]byte, r.IntN(n+1))
	for i := range b {
		if r.IntN(4) == 0 {
			b[i] = byte(0x20 + r.IntN(0x5f))
		} else {
			b[i] = byte(0x80 + r.IntN(0x80))
		}
	}
	return b
}

// InsertRows returns INSERT statements for rows, batch rows per statement.
// cols are already quoted; each row holds SQL literals.
func InsertRows(table string, cols []string, rows [][]string, batch int) []string {
	var out []string
	for len(rows) > 0 {
		n := min(batch, len(rows))
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
		for i, row := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + strings.Join(row, ", ") + ")")
		}
		out = append(out, b.String())
		rows = rows[n:]
	}
	return out
}

// Idents quotes every name.
func Idents(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Ident(n)
	}
	return out
}

// OrNull returns "NULL" with probability 1/n, else v.
func OrNull(r *rand.Rand, n int, v string) string {
	if r.IntN(n) == 0 {
		return "NULL"
	}
	return v
}

// SplitStatements splits a script whose statements end with ";\n".
func SplitStatements(script string) []string {
	var out []string
	for _, q := range strings.Split(script, ";\n") {
		if q = strings.TrimSpace(q); q != "" {
			out = append(out, q)
		}
	}
	return out
}
