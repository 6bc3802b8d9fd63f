package sqlscan

import (
	"fmt"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	cases := []struct{ sql, want string }{
		{"ALTER TABLE `db`.`t``x` ADD c INT", "W:ALTER W:TABLE I:db P:. I:t`x W:ADD W:c W:INT"},
		{"/*!40101 SET */ x = 'a''b\\'c' -- note\nFROM t1.c2", "W:SET W:x W:FROM W:t1 P:. W:c2"},
		{"/*M!100100 DROP */ t /* plain */ , u # end", "W:DROP W:t P:, W:u"},
		{"/*Modified*/ a", "W:a"},
		{"SELECT (1.5, f(x)) ; y", "W:SELECT P:, W:f W:x(2) P:; W:y"},
		{"INSERT INTO t VALUES (\"q\"\"q\", 3)", "W:INSERT W:INTO W:t W:VALUES P:,"},
		{"unterminated /* comment", "W:unterminated"},
	}
	for _, c := range cases {
		var parts []string
		for _, tok := range Tokens([]byte(c.sql), 0) {
			p := fmt.Sprintf("%c:%s", "?WIP"[tok.Kind], tok.Text)
			if tok.Depth > 1 { // depth 1 is not shown
				p += fmt.Sprintf("(%d)", tok.Depth)
			}
			parts = append(parts, p)
		}
		got := strings.Join(parts, " ")
		if got != c.want {
			t.Errorf("Tokens(%q) = %s, want %s", c.sql, got, c.want)
		}
	}
	if n := len(Tokens([]byte("a b c d"), 2)); n != 2 {
		t.Errorf("limit 2: %d tokens", n)
	}
	if !(Token{Kind: Word, Text: "drop"}).Is("DROP") || (Token{Kind: Ident, Text: "DROP"}).Is("DROP") {
		t.Error("Is: a bare word matches ignoring case, a quoted identifier never")
	}
}

func TestValueSpans(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{"INSERT INTO t VALUES (1, 'a''b', \"c\\\"d\", -2.5e3, X'0A', 0x1F)",
			[]string{"1", "'a''b'", `"c\"d"`, "2.5e3", "X'0A'", "0x1F"}},
		{"/*!40101 SET x = 5 */ /* note 'x' */ SELECT `a'b` # tail 7\nFROM t2", []string{"5", "/* note 'x' */", "# tail 7"}},
		{"UPDATE t SET c = _utf8mb4'sec' WHERE id = 'open", []string{"'sec'", "'open"}},
	}
	for _, c := range cases {
		var got []string
		for _, sp := range ValueSpans([]byte(c.sql)) {
			got = append(got, c.sql[sp.Start:sp.End])
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("ValueSpans(%q) = %q, want %q", c.sql, got, c.want)
		}
	}
}

func TestClosingParen(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want string // the text up to the index returned; "" for -1
	}{
		{"CREATE TABLE t (a INT, b VARCHAR(3)) ENGINE=InnoDB", "CREATE TABLE t (a INT, b VARCHAR(3))"},
		{"CREATE TABLE t (a INT COMMENT 'x)(', b INT DEFAULT ')') PARTITION BY HASH (a)", "CREATE TABLE t (a INT COMMENT 'x)(', b INT DEFAULT ')')"},
		{"CREATE TABLE t (`c)` INT /* ) */)", "CREATE TABLE t (`c)` INT /* ) */)"},
		{"CREATE TABLE t (a INT", ""},
		{"CREATE TABLE t LIKE u", ""},
	} {
		got := ""
		if i := ClosingParen([]byte(c.sql), 0); i >= 0 {
			got = c.sql[:i]
		}
		if got != c.want {
			t.Errorf("ClosingParen(%q) takes %q, want %q", c.sql, got, c.want)
		}
	}
}
