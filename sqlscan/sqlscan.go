// Package sqlscan splits SQL statement text into tokens, for the little
// the tool needs to know of logged statements (is it DDL, which tables does
// it name) without a full parser.
package sqlscan

import (
	"bytes"
	"strings"
)

// Kind is a token's kind.
type Kind uint8

// Token kinds.
const (
	// Word is a bare word: a keyword or an unquoted identifier.
	Word Kind = iota + 1
	// Ident is a backquoted identifier, without its quotes.
	Ident
	// Punct is one of . , ;
	Punct
)

// Token is one token of a statement.
type Token struct {
	Kind Kind
	// Text is the token as written (for Ident, unquoted, with doubled
	// backquotes undone).
	Text string
	// Depth is the parenthesis depth the token stands at.
	Depth int
}

// Is reports whether t is the bare word w (upper case), ignoring case.
func (t Token) Is(w string) bool { return t.Kind == Word && strings.EqualFold(t.Text, w) }

// Upper returns t's text in upper case for a bare word, as is otherwise.
func (t Token) Upper() string {
	if t.Kind == Word {
		return strings.ToUpper(t.Text)
	}
	return t.Text
}

// Tokens returns the tokens of sql, skipping comments, string literals,
// numbers, operators and parentheses (which set Depth). The text of MySQL
// executable comments ("/*!40101 ... */") is read as code. It stops after
// limit tokens (0: no limit).
func Tokens(sql []byte, limit int) []Token {
	var out []Token
	scan(sql, func(tok Token, _ Span) bool {
		if tok.Kind != 0 {
			out = append(out, tok)
		}
		return limit == 0 || len(out) < limit
	})
	return out
}

// TokenSpans is Tokens, with the span each token was read from (for an
// Ident, its quotes included).
func TokenSpans(sql []byte, limit int) ([]Token, []Span) {
	var toks []Token
	var spans []Span
	scan(sql, func(tok Token, sp Span) bool {
		if tok.Kind != 0 {
			toks = append(toks, tok)
			spans = append(spans, sp)
		}
		return limit == 0 || len(toks) < limit
	})
	return toks, spans
}

// Span is the byte range [Start, End) of a piece of statement text.
type Span struct{ Start, End int }

// ValueSpans returns, in order, the spans of sql that may hold data
// values: string literals (with a directly preceding X, B or N prefix),
// numbers (with their sign left out) and comments other than executable
// ones. Identifiers, keywords and the code of executable comments are not
// in any span.
func ValueSpans(sql []byte) []Span {
	var out []Span
	scan(sql, func(tok Token, sp Span) bool {
		if tok.Kind == 0 {
			out = append(out, sp)
		}
		return true
	})
	return out
}

// scan walks sql, calling emit with each token and its span, and with a
// zero-Kind token for each value span (see ValueSpans), until emit returns
// false.
func scan(sql []byte, emit func(Token, Span) bool) {
	depth := 0
	for i := 0; i < len(sql); {
		c := sql[i]
		more := true
		switch {
		case c == '/' && i+2 < len(sql) && sql[i+1] == '*' &&
			(sql[i+2] == '!' || sql[i+2] == 'M' && i+3 < len(sql) && sql[i+3] == '!'):
			// /*!NNNNN code */ and MariaDB's /*M!NNNNN code */
			i += 3
			if sql[i-1] == 'M' {
				i++
			}
			for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := bytes.Index(sql[i+2:], []byte("*/"))
			if end < 0 {
				emit(Token{}, Span{i, len(sql)})
				return
			}
			more = emit(Token{}, Span{i, i + end + 4})
			i += end + 4
		case c == '*' && i+1 < len(sql) && sql[i+1] == '/': // end of /*! ... */
			i += 2
		case c == '#' || c == '-' && i+2 < len(sql) && sql[i+1] == '-' && (sql[i+2] == ' ' || sql[i+2] == '\t' || sql[i+2] == '\n'):
			end := bytes.IndexByte(sql[i:], '\n')
			if end < 0 {
				emit(Token{}, Span{i, len(sql)})
				return
			}
			more = emit(Token{}, Span{i, i + end})
			i += end + 1
		case c == '\'' || c == '"' || c == '`':
			end := skipQuoted(sql, i)
			if c == '`' {
				text := string(sql[i+1 : max(end-1, i+1)])
				more = emit(Token{Kind: Ident, Text: strings.ReplaceAll(text, "``", "`"), Depth: depth}, Span{i, end})
			} else {
				more = emit(Token{}, Span{i, end})
			}
			i = end
		case c == '(':
			depth++
			i++
		case c == ')':
			depth = max(depth-1, 0)
			i++
		case c == '.' || c == ',' || c == ';':
			more = emit(Token{Kind: Punct, Text: string(c), Depth: depth}, Span{i, i + 1})
			i++
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			switch {
			case j < len(sql) && sql[j] == '\'' && j == i+1 && strings.IndexByte("xXbBnN", c) >= 0:
				// X'0A', B'101', N'text': the prefix belongs to the string
				end := skipQuoted(sql, j)
				more = emit(Token{}, Span{i, end})
				j = end
			case c < '0' || c > '9':
				more = emit(Token{Kind: Word, Text: string(sql[i:j]), Depth: depth}, Span{i, j})
			default:
				if j < len(sql) && sql[j] == '.' {
					j++ // a decimal point belongs to the number
					for j < len(sql) && isWordByte(sql[j]) {
						j++
					}
				}
				more = emit(Token{}, Span{i, j})
			}
			i = j
		default:
			i++
		}
		if !more {
			return
		}
	}
}

// ClosingParen returns the index just past the parenthesis that closes the
// first one opened at or after from, skipping quoted text and comments;
// -1 when there is none.
func ClosingParen(sql []byte, from int) int {
	depth := 0
	for i := from; i < len(sql); {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(sql, i)
			continue
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*' && (i+2 >= len(sql) || sql[i+2] != '!' && sql[i+2] != 'M'):
			end := bytes.Index(sql[i+2:], []byte("*/"))
			if end < 0 {
				return -1
			}
			i += end + 4
			continue
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// skipQuoted returns the index just past the quoted text starting at i:
// doubled quotes and (for strings) backslash escapes stay inside.
func skipQuoted(sql []byte, i int) int {
	q := sql[i]
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(sql)
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
