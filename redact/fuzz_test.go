package redact

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// FuzzSQL redacts statement text from the fuzzer: sqlscan's value spans
// are in order, apart and inside the text; redact.SQL never panics, and
// redacting its output changes nothing.
func FuzzSQL(f *testing.F) {
	for _, s := range []string{
		"INSERT INTO t VALUES (1, 'a''b', X'0A', -2.5e3, N'x') /* c */ -- d\n",
		"UPDATE `t``q` SET v = \"s\\\"x\" WHERE id = 3 # e",
		"/*!40101 SET NAMES utf8mb4 */; /*M!100100 SELECT 1 */",
		"SELECT 'unterminated", "/* open", "`open",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		last := 0
		for _, sp := range sqlscan.ValueSpans([]byte(s)) {
			if sp.Start < last || sp.End <= sp.Start || sp.End > len(s) {
				t.Fatalf("ValueSpans(%q): span %+v after offset %d", s, sp, last)
			}
			last = sp.End
		}
		sqlscan.Tokens([]byte(s), 0)
		out := SQL(s)
		if again := SQL(out); again != out {
			t.Fatalf("SQL(%q) = %q, redacted again %q", s, out, again)
		}
	})
}

// quoteSQL writes v as a string literal in quote q, escaped as MySQL
// reads it: the quote doubled, a backslash escaped.
func quoteSQL(v string, q byte) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	return string(q) + strings.ReplaceAll(v, string(q), string([]byte{q, q})) + string(q)
}

// redactTemplates are statements holding one value, where %s stands for
// the literal.
var redactTemplates = []string{
	"INSERT INTO t VALUES (%s)",
	"UPDATE t SET v = %s WHERE id = %s",
	"DELETE FROM `d`.`t` WHERE name = %s",
	"/*!40101 INSERT INTO t (v) VALUES (%s) */",
	"INSERT INTO t SELECT %s FROM dual -- note\n",
	"REPLACE INTO t SET v = _utf8mb4%s COLLATE utf8mb4_bin",
}

// FuzzSQLHidesValues writes a value from the fuzzer as a string literal
// (in single or double quotes, or with an X, B or N prefix) into a
// statement and redacts it: the value must not show, the statement must
// read as with any other value there.
func FuzzSQLHidesValues(f *testing.F) {
	f.Add(byte(0), byte(0), "secret")
	f.Add(byte(1), byte(1), "it's a \\ secret")
	f.Add(byte(2), byte(4), "\"quoted\"")
	f.Add(byte(3), byte(0), "*/ DROP TABLE t; /*")
	f.Fuzz(func(t *testing.T, tmpl, style byte, v string) {
		template := redactTemplates[int(tmpl)%len(redactTemplates)]
		if strings.Contains(template, "_utf8mb4%s") {
			style %= 2 // no X, B or N after a charset introducer
		}
		var lit string
		switch style % 5 {
		case 0:
			lit = quoteSQL(v, '\'')
		case 1:
			lit = quoteSQL(v, '"')
		default:
			lit = string("XBN"[style%5-2]) + quoteSQL(v, '\'')
		}
		sql := strings.ReplaceAll(template, "%s", lit)
		want := SQL(strings.ReplaceAll(template, "%s", "'x'"))
		if out := SQL(sql); out != want {
			t.Fatalf("SQL(%q) = %q, want %q", sql, out, want)
		}
	})
}
