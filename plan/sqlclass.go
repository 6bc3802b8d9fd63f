package plan

import (
	"strings"
	"unicode/utf8"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// stmtClass is what plan needs to know about a logged statement.
type stmtClass struct {
	// ddl is true for statements that change definitions (not DML, not
	// session statements).
	ddl bool
	// kind names a destructive statement ("drop-table", "drop-database",
	// "truncate", "alter-drop", "delete-without-where",
	// "update-without-where"), "" otherwise.
	kind string
}

// dmlWords are first words of statements that are not DDL.
var dmlWords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "REPLACE": true, "LOAD": true,
	"SET": true, "CALL": true, "DO": true, "SELECT": true, "WITH": true, "SAVEPOINT": true,
	"RELEASE": true, "XA": true, "BEGIN": true, "COMMIT": true, "ROLLBACK": true, "VALUES": true,
	"TABLE": true, "HANDLER": true, "EXECUTE": true, "PREPARE": true, "DEALLOCATE": true,
}

// alterDropKeep are the words after ALTER ... DROP that lose no row data.
var alterDropKeep = map[string]bool{
	"INDEX": true, "KEY": true, "PRIMARY": true, "FOREIGN": true, "CONSTRAINT": true,
	"CHECK": true, "DEFAULT": true, "UNIQUE": true, "FULLTEXT": true, "SPATIAL": true,
	"PERIOD": true, "SYSTEM": true, "NOT": true, "INVISIBLE": true,
}

// classifySQL classifies a statement from its words: the first ones name
// the statement; a DELETE or UPDATE without a WHERE at the outer level
// changes every row of its tables.
func classifySQL(sql []byte) stmtClass {
	words := sqlWords(sql, 3)
	if len(words) == 0 {
		return stmtClass{}
	}
	first := words[0].text
	if first == "DELETE" || first == "UPDATE" || first == "ALTER" {
		words = sqlWords(sql, 0) // these need every word
	}
	switch first {
	case "DELETE", "UPDATE":
		if !hasTopLevel(words, "WHERE") {
			return stmtClass{kind: strings.ToLower(first) + "-without-where"}
		}
		return stmtClass{}
	case "DROP":
		return stmtClass{ddl: true, kind: dropKind(words[1:])}
	case "TRUNCATE":
		return stmtClass{ddl: true, kind: "truncate"}
	case "ALTER":
		return stmtClass{ddl: true, kind: alterKind(words)}
	}
	return stmtClass{ddl: !dmlWords[first]}
}

// dropKind classifies the words after DROP.
func dropKind(rest []sqlWord) string {
	if len(rest) == 0 {
		return ""
	}
	switch rest[0].text {
	case "TABLE", "TABLES":
		return "drop-table"
	case "DATABASE", "SCHEMA":
		return "drop-database"
	}
	return "" // TEMPORARY TABLE, VIEW, INDEX, TRIGGER...: no row data lost
}

// alterKind reports "alter-drop" for an ALTER TABLE that drops a column or
// a partition, or truncates a partition.
func alterKind(words []sqlWord) string {
	if len(words) < 2 || words[1].text != "TABLE" && words[1].text != "IGNORE" && words[1].text != "ONLINE" {
		return ""
	}
	for i, w := range words {
		if w.depth != 0 || i+1 >= len(words) {
			continue
		}
		next := words[i+1].text
		switch w.text {
		case "DROP":
			if !words[i+1].keyword || !alterDropKeep[next] { // COLUMN, PARTITION, IF, a column name
				return "alter-drop"
			}
		case "TRUNCATE":
			if next == "PARTITION" {
				return "alter-drop"
			}
		}
	}
	return ""
}

// hasTopLevel reports whether word appears outside parentheses.
func hasTopLevel(words []sqlWord, word string) bool {
	for _, w := range words {
		if w.depth == 0 && w.keyword && w.text == word {
			return true
		}
	}
	return false
}

// sqlWord is a bare word of a statement, upper-cased, with the parenthesis
// depth it stands at. keyword is false for quoted identifiers.
type sqlWord struct {
	text    string
	depth   int
	keyword bool
}

// sqlWords returns the words of sql (see sqlscan.Tokens): bare words upper
// cased, quoted identifiers as non-keywords. It stops after limit words (0:
// no limit).
func sqlWords(sql []byte, limit int) []sqlWord {
	var out []sqlWord
	for _, t := range sqlscan.Tokens(sql, 2*limit) {
		if t.Kind == sqlscan.Punct {
			continue
		}
		out = append(out, sqlWord{text: t.Upper(), depth: t.Depth, keyword: t.Kind == sqlscan.Word})
		if len(out) == limit {
			break
		}
	}
	return out
}

// shortSQL returns sql on one line, valid UTF-8, at most n runes (then
// "..." marks the cut).
func shortSQL(sql []byte, n int) string {
	cut := false
	if limit := 8*n + 64; len(sql) > limit { // plenty for n runes of squeezed text, mostly
		sql, cut = sql[:limit], true
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(sql), "?")), " ")
	if utf8.RuneCountInString(s) > n {
		s, cut = string([]rune(s)[:n]), true
	}
	if cut {
		s += "..."
	}
	return s
}
