package rewrite

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// How a logged statement's text is renamed.
//
// A database can be named in a statement in two ways that can be told
// from its tokens alone: as the first part of a qualified name (shop.t,
// shop.t.c, shop.f(), shop.*), and as the name of CREATE, ALTER and DROP
// DATABASE. Those are rewritten. An identifier followed by a dot is not
// always a database, though: it may be a table or an alias (t.c). So a
// statement where the old name is followed by a dot and also stands
// somewhere else (a table, column or alias of that name, or the name in
// another letter case) is refused: shop.c could be either.
//
// What cannot be rewritten with certainty is refused:
//   - the old name inside a string or comment of DDL (a COMMENT, a
//     DEFAULT, a CONNECTION string of a FEDERATED table...), and inside
//     double quotes under ANSI_QUOTES; in DML, strings are data and left
//     as they are;
//   - the old name anywhere in the text of a view, trigger, routine or
//     event definition (CREATE or ALTER): its body is SQL that runs later,
//     and what it names there cannot be told;
//   - account, role, server and plugin statements (GRANT, CREATE USER...):
//     they change the server, not a database, and would change the
//     target's;
//   - a qualified name whose first part is a database the include filters
//     do not apply: the statement would read or write it on the target as
//     it is there now, not as it was in the source at that point.

// kind is what a statement changes, as far as renaming goes.
type kind uint8

const (
	// kindPlain is DML and table DDL: names are renamed.
	kindPlain kind = iota
	// kindDatabase is CREATE, ALTER or DROP DATABASE (or SCHEMA).
	kindDatabase
	// kindDefinition is CREATE or ALTER of a view, trigger, routine,
	// package or event: its text holds a body.
	kindDefinition
	// kindServer changes accounts, roles, servers or plugins.
	kindServer
)

// statement is a logged statement's text, tokenized.
type statement struct {
	sql   []byte
	toks  []sqlscan.Token
	spans []sqlscan.Span
	kind  kind
	// object is the index of the keyword naming what a CREATE, ALTER or
	// DROP changes (TABLE, VIEW, DATABASE...), -1 otherwise.
	object int
	// dbName is the index of the database named by a kindDatabase
	// statement, -1 when it names none (ALTER DATABASE of the default one).
	dbName int
}

func parse(sql []byte) *statement {
	toks, spans := sqlscan.TokenSpans(sql, 0)
	st := &statement{sql: sql, toks: toks, spans: spans, object: -1, dbName: -1}
	st.classify()
	return st
}

// modifiers may stand between CREATE, ALTER or DROP and the keyword of
// what it changes.
var modifiers = wordSet("OR", "REPLACE", "ONLINE", "OFFLINE", "IGNORE", "TEMPORARY", "ALGORITHM", "UNDEFINED", "MERGE",
	"TEMPTABLE", "DEFINER", "CURRENT_USER", "SQL", "SECURITY", "INVOKER", "AGGREGATE", "UNIQUE", "FULLTEXT", "SPATIAL",
	"IF", "NOT", "EXISTS")

// reservedWords are words reserved in every MariaDB and MySQL version
// this tool reads (a subset: those a table of a database may be named,
// quoted, and those around them): unquoted, and not after a dot, one is
// never a table's name (ORDER BY does not name a table `order`).
var reservedWords = wordSet("ADD", "ALL", "ALTER", "AND", "AS", "ASC", "BETWEEN", "BY", "CASE", "CHECK", "COLUMN",
	"CONDITION", "CONSTRAINT", "CREATE", "CROSS", "DEFAULT", "DELETE", "DESC", "DISTINCT", "DROP", "ELSE", "EXISTS",
	"FOR", "FOREIGN", "FROM", "GROUP", "HAVING", "IN", "INDEX", "INNER", "INSERT", "INTERVAL", "INTO", "IS", "JOIN",
	"KEY", "KEYS", "LEFT", "LIKE", "LIMIT", "LOCK", "NOT", "NULL", "ON", "OR", "ORDER", "OUTER", "PRIMARY", "RANGE",
	"READ", "REFERENCES", "RELEASE", "RENAME", "REPLACE", "RETURN", "RIGHT", "SELECT", "SET", "TABLE", "THEN",
	"UNION", "UNIQUE", "UPDATE", "USING", "VALUES", "WHEN", "WHERE", "WITH", "WRITE")

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

func (st *statement) classify() {
	if len(st.toks) == 0 {
		return
	}
	switch first := st.toks[0].Upper(); {
	case st.toks[0].Kind != sqlscan.Word:
	case first == "CREATE" || first == "ALTER" || first == "DROP":
		st.classifyObject(first)
	case first == "GRANT" || first == "REVOKE" || first == "INSTALL" || first == "UNINSTALL":
		st.kind = kindServer
	case first == "RENAME" && st.word(1, "USER"):
		st.kind = kindServer
	case first == "SET" && (st.word(1, "PASSWORD") || st.word(1, "ROLE") || st.word(1, "DEFAULT") && st.word(2, "ROLE")):
		st.kind = kindServer
	}
}

// classifyObject finds the keyword of what a CREATE, ALTER or DROP
// changes, past its modifiers and DEFINER clause.
func (st *statement) classifyObject(verb string) {
	for i := 1; i < len(st.toks) && i < 24; i++ {
		t := st.toks[i]
		if t.Kind != sqlscan.Word || t.Depth != 0 || modifiers[t.Upper()] {
			continue // a modifier, or the DEFINER's user and host
		}
		st.object = i
		switch t.Upper() {
		case "DATABASE", "SCHEMA":
			st.kind = kindDatabase
			st.dbName = st.nameAfter(i)
			if st.dbName >= 0 {
				switch st.toks[st.dbName].Upper() {
				case "CHARACTER", "CHARSET", "DEFAULT", "COLLATE", "COMMENT":
					if st.toks[st.dbName].Kind == sqlscan.Word {
						st.dbName = -1 // ALTER DATABASE CHARACTER SET ...: the default database
					}
				}
			}
		case "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "PACKAGE":
			if verb != "DROP" {
				st.kind = kindDefinition
			}
		case "USER", "ROLE", "SERVER":
			st.kind = kindServer
		}
		return
	}
}

// nameAfter returns the index of the name after the keyword at i and an
// optional IF [NOT] EXISTS, -1 when there is none.
func (st *statement) nameAfter(i int) int {
	j := i + 1
	if st.word(j, "IF") {
		j++
		if st.word(j, "NOT") {
			j++
		}
		if st.word(j, "EXISTS") {
			j++
		}
	}
	if j < len(st.toks) && st.toks[j].Kind != sqlscan.Punct {
		return j
	}
	return -1
}

// word reports whether token i is the bare word w.
func (st *statement) word(i int, w string) bool { return i < len(st.toks) && st.toks[i].Is(w) }

// punct reports whether token i is the punctuation c.
func (st *statement) punct(i int, c string) bool {
	return i >= 0 && i < len(st.toks) && st.toks[i].Kind == sqlscan.Punct && st.toks[i].Text == c
}

// name reports whether token i is an identifier (a bare word or a quoted
// name) that is not a variable (@v, @@session.v).
func (st *statement) name(i int) bool {
	t := st.toks[i]
	if t.Kind != sqlscan.Word && t.Kind != sqlscan.Ident {
		return false
	}
	start := st.spans[i].Start
	return start == 0 || st.sql[start-1] != '@'
}

// reserved reports whether token i is an unquoted reserved word that is
// not the part of a qualified name after the dot (where MySQL and MariaDB
// take one as a name).
func (st *statement) reserved(i int) bool {
	t := st.toks[i]
	return t.Kind == sqlscan.Word && reservedWords[strings.ToUpper(t.Text)] && !st.punct(i-1, ".")
}

// names returns the names st gives: its identifiers, bare or quoted, but
// variables and unquoted reserved words.
func (st *statement) names() []string {
	var out []string
	for i, tok := range st.toks {
		if st.name(i) && !st.reserved(i) {
			out = append(out, tok.Text)
		}
	}
	return out
}

// Names returns the names the SQL text sql gives, as a statement's are
// read with --tables: what a trigger's or a routine's body names
// (Config.Bodies).
func Names(sql []byte) []string { return parse(sql).names() }

// head reports whether token i is the first part of a qualified name: a
// name followed by a dot and not itself after one.
func (st *statement) head(i int) bool {
	return st.name(i) && st.punct(i+1, ".") && !st.punct(i-1, ".")
}

// dmlWords start the statements whose strings are data.
var dmlWords = wordSet("INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD", "SELECT", "DO", "WITH", "VALUES", "TABLE",
	"CALL", "SAVEPOINT", "ROLLBACK", "RELEASE", "XA", "HANDLER", "BEGIN", "COMMIT")

// isDML reports whether the statement is DML (or a transaction control
// statement).
func (st *statement) isDML() bool {
	return len(st.toks) > 0 && st.toks[0].Kind == sqlscan.Word && dmlWords[st.toks[0].Upper()]
}

// objectName is what an object keyword names, for messages.
func (st *statement) objectName() string {
	if st.object < 0 {
		return "object"
	}
	return strings.ToLower(st.toks[st.object].Text)
}

// mentions reports whether text names the database db in any letter
// case, as a whole word.
func mentions(text []byte, db string) bool {
	lower, name := bytes.ToLower(text), bytes.ToLower([]byte(db))
	for off := 0; ; {
		i := bytes.Index(lower[off:], name)
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(name)
		if (start == 0 || !isWordByte(lower[start-1])) && (end == len(lower) || !isWordByte(lower[end])) {
			return true
		}
		off = start + 1
	}
}

// isWordByte is a byte of an unquoted identifier (as sqlscan reads them).
func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// isString reports whether the value span sp of sql is a string literal
// (not a number or a comment).
func isString(sql []byte, sp sqlscan.Span) bool {
	c := sql[sp.Start]
	return c == '\'' || c == '"' || sp.End-sp.Start > 1 && sql[sp.Start+1] == '\''
}

// ansiQuotes is MODE_ANSI_QUOTES in a logged sql_mode: "x" is then an
// identifier.
const ansiQuotes = 4

// edit replaces a span of a statement's text.
type edit struct {
	span sqlscan.Span
	text string
}

// apply returns sql with the edits (in order, not overlapping) made, and a
// function mapping an offset of sql to the new text.
func apply(sql []byte, edits []edit) ([]byte, func(int) int) {
	var b bytes.Buffer
	last := 0
	for _, e := range edits {
		b.Write(sql[last:e.span.Start])
		b.WriteString(e.text)
		last = e.span.End
	}
	b.Write(sql[last:])
	shift := func(off int) int {
		d := 0
		for _, e := range edits {
			if e.span.End <= off {
				d += len(e.text) - (e.span.End - e.span.Start)
			}
		}
		return off + d
	}
	return b.Bytes(), shift
}

// quoteIdent quotes a name with backquotes.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// refusal is why a statement cannot be renamed with certainty.
type refusal string

func refusef(format string, args ...any) refusal { return refusal(fmt.Sprintf(format, args...)) }
