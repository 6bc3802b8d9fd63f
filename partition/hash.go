package partition

import (
	"bytes"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/binlog-replay/binlog-replay/schema"
)

// hasher is a 64-bit FNV-1a hash. Keys only need to be equal for values the
// server considers equal; a collision merely adds a false dependency.
type hasher uint64

const (
	fnvOffset hasher = 14695981039346656037
	fnvPrime  hasher = 1099511628211
)

func (h *hasher) byte(b byte) { *h = (*h ^ hasher(b)) * fnvPrime }

func (h *hasher) bytes(b []byte) {
	for _, c := range b {
		*h = (*h ^ hasher(c)) * fnvPrime
	}
}

func (h *hasher) str(s string) {
	for i := 0; i < len(s); i++ {
		*h = (*h ^ hasher(s[i])) * fnvPrime
	}
}

func (h *hasher) u64(v uint64) {
	for i := 0; i < 8; i++ {
		*h = (*h ^ hasher(byte(v))) * fnvPrime
		v >>= 8
	}
}

// rune writes r as UTF-8.
func (h *hasher) rune(r rune) {
	if r < utf8.RuneSelf {
		h.byte(byte(r))
		return
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	h.bytes(buf[:n])
}

// keyPrefix hashes the identity of a key space: schema, table and index (or
// referenced-columns) name, case-folded because the server compares these
// names case-insensitively on most systems.
func keyPrefix(schemaName, table, index string) hasher {
	h := fnvOffset
	h.str(strings.ToLower(schemaName))
	h.byte(0)
	h.str(strings.ToLower(table))
	h.byte(0)
	h.str(strings.ToLower(index))
	h.byte(0)
	return h
}

// Value tags keep values of different kinds apart.
const (
	tagInt     = 'i' // non-negative integer, as uint64
	tagNegInt  = 'n' // negative integer, as int64 bits
	tagFloat   = 'f'
	tagBytes   = 's' // strings and byte strings, compared by bytes
	tagDecimal = 'd'
	tagWeights = 'w' // character data as collation weights
)

// writeValue hashes one non-NULL column value, normalized under col's type
// and collation, with an optional key prefix length. It returns false for
// a value of a type it does not know.
func writeValue(h *hasher, v any, col *schema.Column, prefix int) bool {
	switch x := v.(type) {
	case int64:
		if x < 0 && col.Unsigned { // decoded without signedness: reinterpret
			writeUint(h, uint64(x)&unsignedMask(col.DataType))
			return true
		}
		if x < 0 {
			h.byte(tagNegInt)
			h.u64(uint64(x))
			return true
		}
		writeUint(h, uint64(x))
	case uint64:
		writeUint(h, x)
	case float64:
		writeFloat(h, x)
	case float32:
		writeFloat(h, float64(x))
	case string:
		writeString(h, x, col, prefix)
	case []byte:
		writeBytes(h, x, col, prefix)
	default:
		return false
	}
	return true
}

func writeUint(h *hasher, v uint64) {
	h.byte(tagInt)
	h.u64(v)
}

func writeFloat(h *hasher, f float64) {
	if f == 0 {
		f = 0 // -0 == 0
	}
	h.byte(tagFloat)
	h.u64(math.Float64bits(f))
}

// unsignedMask is the value mask of an unsigned integer type, for values a
// decoder that did not know the signedness returned as negative.
func unsignedMask(dataType string) uint64 {
	switch dataType {
	case "tinyint":
		return 1<<8 - 1
	case "smallint":
		return 1<<16 - 1
	case "mediumint":
		return 1<<24 - 1
	case "int", "integer":
		return 1<<32 - 1
	}
	return math.MaxUint64
}

// writeString hashes a value decoded as text: DECIMAL and temporal values,
// or character data.
func writeString(h *hasher, s string, col *schema.Column, prefix int) {
	if col.DataType == "decimal" || col.DataType == "numeric" {
		h.byte(tagDecimal)
		h.str(normalizeDecimal(s))
		return
	}
	if col.IsText() {
		writeText(h, []byte(s), col, prefix)
		return
	}
	h.byte(tagBytes)
	n := len(s)
	if prefix > 0 && prefix < n {
		n = prefix
	}
	h.str(s[:n])
	h.u64(uint64(n))
}

// writeBytes hashes a value decoded as bytes.
func writeBytes(h *hasher, b []byte, col *schema.Column, prefix int) {
	switch {
	case col.DataType == "decimal" || col.DataType == "numeric":
		h.byte(tagDecimal)
		h.str(normalizeDecimal(string(b)))
		return
	case col.IsText():
		writeText(h, b, col, prefix)
		return
	case col.BinaryPadLen > 0:
		// BINARY(n) pads with 0x00 and the binlog drops the padding (and
		// some decoders do too): strip it the same way on every path.
		for len(b) > 0 && b[len(b)-1] == 0 {
			b = b[:len(b)-1]
		}
	}
	if prefix > 0 && prefix < len(b) {
		b = b[:prefix]
	}
	h.byte(tagBytes)
	h.bytes(b)
	h.u64(uint64(len(b)))
}

// normalizeDecimal returns a canonical form of a decimal literal: no sign
// for zero, no leading zeros, no trailing fractional zeros ("-001.500" ->
// "-1.5", "0.00" -> "0"). Anything unexpected is returned as it is.
func normalizeDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(s, ".")
	if strings.Trim(intPart, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return s
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

// writeText hashes character data so that strings the column's collation
// calls equal hash alike. With the collation's weights (schema.Cache reads
// them from the server) it hashes the weights; without (a TableSource that
// does not give them, or a charset they do not cover) it approximates:
//   - trailing spaces are dropped (PAD SPACE collations ignore them; for
//     NO PAD collations this only adds false dependencies);
//   - with a case/accent-insensitive collation, every character is folded
//     by foldRune and runs of one folded character count as one;
//   - a key prefix of n characters keeps the first n characters.
//
// Bytes are read as UTF-8 for the utf8 charsets, as cp1252 for latin1; for
// other charsets only ASCII letters are folded.
func writeText(h *hasher, b []byte, col *schema.Column, prefix int) {
	if col.Weights != nil {
		writeWeights(h, b, col.Weights, prefix)
		return
	}
	h.byte(tagBytes)
	ci := col.CaseInsensitive
	cs := charsetOf(col)
	var n uint64       // runes written, for the length
	var spaces int     // pending spaces, written only if not trailing
	var last rune = -1 // last folded rune written, for collapsing runs
	var folded [3]rune // foldRune output
	for i, chars := 0, 0; i < len(b) && (prefix <= 0 || chars < prefix); chars++ {
		r, size := decodeChar(b[i:], cs)
		i += size
		out := folded[:0]
		if ci {
			out = foldRune(r, out)
		} else {
			out = append(out, r)
		}
		for _, f := range out {
			if ci && f == last {
				continue
			}
			last = f
			if f == ' ' {
				spaces++
				continue
			}
			for ; spaces > 0; spaces-- {
				h.byte(' ')
				n++
			}
			h.rune(f)
			n++
		}
	}
	h.u64(n)
}

// writeWeights hashes the concatenated weights of the first prefix
// characters of b (all when prefix is 0) without trailing space weights:
// strings a PAD SPACE collation calls equal hash alike (for a NO PAD one,
// dropping trailing spaces only adds false dependencies). When the weights
// are inexact (contractions, charset not covered), every value hashes alike.
func writeWeights(h *hasher, b []byte, c *schema.Collation, prefix int) {
	h.byte(tagWeights)
	if c.Inexact {
		return
	}
	spaces := 0 // pending space weights, written only if not trailing
	n := 0      // weight bytes written, to end the value unambiguously
	for i, chars := 0, 0; i < len(b) && (prefix <= 0 || chars < prefix); chars++ {
		r, size := c.Decode(b[i:])
		i += size
		w, known := c.Weight(r)
		if known && len(w) == 0 {
			continue // ignorable
		}
		if known && bytes.Equal(w, c.Space) {
			spaces++
			continue
		}
		for ; spaces > 0; spaces-- {
			h.bytes(c.Space)
			n += len(c.Space)
		}
		if known {
			h.bytes(w)
			n += len(w)
		} else { // a character equal only to itself
			h.byte(0xFF)
			h.u64(uint64(r))
			n += 9
		}
	}
	h.u64(uint64(n))
}

// Character sets writeText knows.
const (
	csUTF8 = iota
	csLatin1
	csOther
)

func charsetOf(col *schema.Column) int {
	cs := col.Charset
	if cs == "" {
		cs, _, _ = strings.Cut(col.Collation, "_")
	}
	switch strings.ToLower(cs) {
	case "utf8", "utf8mb3", "utf8mb4", "":
		return csUTF8
	case "latin1":
		return csLatin1
	}
	return csOther
}

// decodeChar returns the first character of b and its size in bytes. In a
// charset writeText does not know, each byte is one character.
func decodeChar(b []byte, cs int) (rune, int) {
	c := b[0]
	switch {
	case c < utf8.RuneSelf:
		return rune(c), 1
	case cs == csUTF8:
		return utf8.DecodeRune(b)
	case cs == csLatin1:
		if c >= 0x80 && c < 0xA0 {
			return cp1252[c-0x80], 1
		}
		return rune(c), 1
	}
	return rune(0x10000) + rune(c), 1 // keep unknown bytes apart from ASCII
}

// cp1252 maps latin1 (MySQL's cp1252) bytes 0x80-0x9F to Unicode.
var cp1252 = [32]rune{
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
}

// foldRune appends the case- and accent-folded form of r to out (nothing
// for characters the UCA collations ignore). It is an approximation of the
// server's _ci/_ai collations, built to err on the side of merging:
//   - ASCII letters are lower-cased;
//   - Latin-1 and Latin Extended-A letters lose their accents (é -> e) and
//     ligatures expand (æ -> ae, œ -> oe, ß -> s, which with run collapsing
//     also matches "ss");
//   - fullwidth ASCII forms become ASCII;
//   - combining marks and zero-width characters are dropped;
//   - any other letter is replaced by the smallest rune of its Unicode
//     simple case-folding orbit (Σ, σ, ς -> the same rune).
//
// Not covered: accents outside Latin-1/Extended-A (Vietnamese, Greek
// tonos...), language-specific rules (German2 ä = ae, Danish aa = å, Spanish
// ch...), other UCA ignorables and contractions.
func foldRune(r rune, out []rune) []rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(out, r)
	case r >= 0xC0 && r <= 0x17F:
		s := latinBase[r-0xC0]
		if s == "" {
			return append(out, minFold(r))
		}
		for i := 0; i < len(s); i++ {
			out = append(out, rune(s[i]))
		}
		return out
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII
		return foldRune(r-0xFF01+'!', out)
	case r >= 0x300 && r <= 0x36F, r == 0xAD, r >= 0x200B && r <= 0x200F, r == 0x2060, r == 0xFEFF:
		return out // combining marks, soft hyphen, zero-width characters
	}
	return append(out, minFold(r))
}

// minFold returns the smallest rune that r case-folds with.
func minFold(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// latinBase gives the base letters of U+00C0..U+017F ("" = not a letter
// with a base: use case folding).
var latinBase = func() [0x180 - 0xC0]string {
	var t [0x180 - 0xC0]string
	// U+00C0..U+00FF, upper and lower halves alike.
	const latin1 = "aaaaaa\x00ceeeeiiiidnooooo\x00ouuuuy\x00\x00"
	for i := 0; i < 32; i++ {
		if c := latin1[i]; c != 0 {
			t[i] = string(c)
			t[i+32] = string(c)
		}
	}
	t[0xC6-0xC0], t[0xE6-0xC0] = "ae", "ae"
	t[0xDE-0xC0], t[0xFE-0xC0] = "th", "th"
	t[0xDF-0xC0] = "s"
	t[0xFF-0xC0] = "y"
	// U+0100..U+017F, by runs of one base letter.
	runs := []struct {
		n    int
		base string
	}{
		{6, "a"}, {8, "c"}, {4, "d"}, {10, "e"}, {8, "g"}, {4, "h"}, {10, "i"},
		{2, "ij"}, {2, "j"}, {3, "k"}, {10, "l"}, {9, "n"}, {6, "o"}, {2, "oe"},
		{6, "r"}, {8, "s"}, {6, "t"}, {12, "u"}, {2, "w"}, {3, "y"}, {6, "z"}, {1, "s"},
	}
	i := 0x100 - 0xC0
	for _, run := range runs {
		for j := 0; j < run.n; j++ {
			t[i] = run.base
			i++
		}
	}
	return t
}()
