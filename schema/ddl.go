package schema

import (
	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// Name is a table's schema and name.
type Name struct{ Schema, Table string }

// DDLTables returns the tables whose definitions the statement sql, run
// with default database defaultDB, may create, change, rename or drop, so
// that only those are read again. ok is false when the statement may
// change tables it does not name (CREATE or DROP DATABASE, DROP TRIGGER),
// or is not a form known here: then every definition must be read again
// (Cache.InvalidateAll). Statements that change no table definition (views,
// routines, events, users, grants, ANALYZE/OPTIMIZE/CHECK) return no table
// and ok.
//
// Examples, with default database d:
//
//	ALTER TABLE t ADD c INT               d.t
//	RENAME TABLE a TO x.b, c TO e         d.a x.b d.c d.e
//	DROP TABLE IF EXISTS `x`.`a`, b       x.a d.b
//	CREATE INDEX i ON t (c)               d.t
//	CREATE TRIGGER tr BEFORE INSERT ON t  d.t
//	DROP DATABASE x                       ok=false
func DDLTables(sql []byte, defaultDB string) (names []Name, ok bool) {
	p := &ddlParser{toks: sqlscan.Tokens(sql, 0), db: defaultDB}
	switch {
	case p.word("CREATE"):
		p.word("OR")
		p.word("REPLACE")
		p.skipDefiner()
		switch {
		case p.word("TEMPORARY") && p.word("TABLE"), p.word("TABLE"), p.word("SEQUENCE"):
			p.ifExists()
			return p.oneName()
		case p.any("UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE", "OFFLINE"), p.peek("INDEX"):
			p.word("INDEX")
			return p.nameAfter("ON")
		case p.word("TRIGGER"):
			return p.nameAfter("ON")
		}
		return nil, p.noTables()
	case p.word("ALTER"):
		p.any("ONLINE", "OFFLINE")
		p.word("IGNORE")
		if !p.word("TABLE") && !p.word("SEQUENCE") {
			return nil, p.noTables()
		}
		p.ifExists()
		names, ok := p.oneName()
		if !ok {
			return nil, false
		}
		// ALTER TABLE a EXCHANGE PARTITION p WITH TABLE b, CONVERT
		// PARTITION p TO TABLE b, CONVERT TABLE b TO PARTITION p: b's
		// rows or existence change too.
		start := p.i
		for p.skipTo("TABLE") {
			if p.i >= 2 && (p.toks[p.i-2].Is("WITH") || p.toks[p.i-2].Is("TO") || p.toks[p.i-2].Is("CONVERT")) {
				n, ok := p.name()
				if !ok {
					return nil, false
				}
				names = append(names, n)
			}
		}
		p.i = start
		// ALTER TABLE a ... RENAME [TO|AS] b (not RENAME COLUMN/INDEX/KEY)
		for p.skipTo("RENAME") {
			if p.any("COLUMN", "INDEX", "KEY") {
				continue
			}
			p.any("TO", "AS")
			n, ok := p.name()
			if !ok {
				return nil, false
			}
			names = append(names, n)
		}
		return names, true
	case p.word("DROP"):
		switch {
		case p.word("TEMPORARY") && p.word("TABLE"), p.word("TABLE"), p.word("SEQUENCE"):
			p.ifExists()
			return p.nameList()
		case p.any("ONLINE", "OFFLINE"), p.peek("INDEX"):
			p.word("INDEX")
			return p.nameAfter("ON")
		}
		return nil, p.noTables()
	case p.word("RENAME"):
		if !p.any("TABLE", "TABLES") {
			return nil, p.noTables() // RENAME USER
		}
		for {
			from, ok := p.name()
			if !ok || !p.word("TO") {
				return nil, false
			}
			to, ok := p.name()
			if !ok {
				return nil, false
			}
			names = append(names, from, to)
			if !p.punct(",") {
				return names, true
			}
		}
	case p.word("TRUNCATE"):
		p.word("TABLE")
		return p.oneName()
	case p.any("ANALYZE", "OPTIMIZE", "CHECK", "REPAIR", "GRANT", "REVOKE", "FLUSH"):
		return nil, true
	}
	return nil, false
}

// ddlParser walks the tokens of a statement.
type ddlParser struct {
	toks []sqlscan.Token
	i    int
	db   string
}

// peek reports whether the next token is the bare word w.
func (p *ddlParser) peek(w string) bool { return p.i < len(p.toks) && p.toks[p.i].Is(w) }

// word consumes the bare word w if it comes next.
func (p *ddlParser) word(w string) bool {
	if p.peek(w) {
		p.i++
		return true
	}
	return false
}

// any consumes the next token if it is one of the bare words ws.
func (p *ddlParser) any(ws ...string) bool {
	for _, w := range ws {
		if p.word(w) {
			return true
		}
	}
	return false
}

// punct consumes the punctuation c if it comes next.
func (p *ddlParser) punct(c string) bool {
	if p.i < len(p.toks) && p.toks[p.i].Kind == sqlscan.Punct && p.toks[p.i].Text == c {
		p.i++
		return true
	}
	return false
}

// ifExists consumes IF [NOT] EXISTS.
func (p *ddlParser) ifExists() {
	if p.word("IF") {
		p.word("NOT")
		p.word("EXISTS")
	}
}

// skipDefiner consumes DEFINER = user@host (the = and @ are not tokens)
// and the SQL SECURITY clause of views.
func (p *ddlParser) skipDefiner() {
	if !p.word("DEFINER") {
		return
	}
	if p.any("CURRENT_USER") {
		return
	}
	for p.i < len(p.toks) && !p.peek("TRIGGER") && !p.peek("VIEW") && !p.peek("PROCEDURE") &&
		!p.peek("FUNCTION") && !p.peek("EVENT") && !p.peek("SQL") && !p.peek("AGGREGATE") {
		p.i++
	}
}

// name consumes a table name, [schema.]table.
func (p *ddlParser) name() (Name, bool) {
	if p.i >= len(p.toks) || p.toks[p.i].Kind == sqlscan.Punct || p.toks[p.i].Depth != 0 {
		return Name{}, false
	}
	first := p.toks[p.i].Text
	p.i++
	if !p.punct(".") {
		return Name{Schema: p.db, Table: first}, p.db != ""
	}
	if p.i >= len(p.toks) || p.toks[p.i].Kind == sqlscan.Punct {
		return Name{}, false
	}
	second := p.toks[p.i].Text
	p.i++
	return Name{Schema: first, Table: second}, true
}

// oneName consumes one table name.
func (p *ddlParser) oneName() ([]Name, bool) {
	n, ok := p.name()
	if !ok {
		return nil, false
	}
	return []Name{n}, true
}

// nameList consumes table names separated by commas.
func (p *ddlParser) nameList() ([]Name, bool) {
	var names []Name
	for {
		n, ok := p.name()
		if !ok {
			return nil, false
		}
		names = append(names, n)
		if !p.punct(",") {
			return names, true
		}
	}
}

// skipTo moves past the next bare word w outside parentheses and reports
// whether there was one.
func (p *ddlParser) skipTo(w string) bool {
	for ; p.i < len(p.toks); p.i++ {
		if p.toks[p.i].Depth == 0 && p.toks[p.i].Is(w) {
			p.i++
			return true
		}
	}
	return false
}

// nameAfter returns the table named after the next ON outside parentheses.
func (p *ddlParser) nameAfter(w string) ([]Name, bool) {
	if !p.skipTo(w) {
		return nil, false
	}
	return p.oneName()
}

// noTables reports, for a CREATE, ALTER or DROP of something other than a
// table, whether that something leaves table definitions alone.
func (p *ddlParser) noTables() bool {
	p.any("AGGREGATE")
	return p.any("VIEW", "PROCEDURE", "FUNCTION", "EVENT", "USER", "ROLE", "SERVER", "ALGORITHM", "SQL")
}

// ChecksPartitionRows reports whether sql is an ALTER TABLE that checks a
// table's rows against a partition's bounds: EXCHANGE PARTITION ... WITH
// TABLE, or CONVERT TABLE ... TO PARTITION. MariaDB 10.11 runs that check
// in a transaction that waits on the session's own locks when autocommit
// is off, until innodb_lock_wait_timeout ends it (error 1205): such a
// statement must run with autocommit on.
func ChecksPartitionRows(sql []byte) bool {
	return alterHas(sql, "EXCHANGE", "PARTITION") || alterHas(sql, "CONVERT", "TABLE")
}

// alterHas reports whether sql is an ALTER TABLE with the words a b in a
// row outside parentheses.
func alterHas(sql []byte, a, b string) bool {
	p := &ddlParser{toks: sqlscan.Tokens(sql, 0)}
	if !p.word("ALTER") {
		return false
	}
	p.any("ONLINE", "OFFLINE")
	p.word("IGNORE")
	if !p.word("TABLE") {
		return false
	}
	for ; p.i+1 < len(p.toks); p.i++ {
		if p.toks[p.i].Depth == 0 && p.toks[p.i].Is(a) && p.toks[p.i+1].Is(b) {
			return true
		}
	}
	return false
}
