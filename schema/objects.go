package schema

import (
	"strings"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// ObjectKind is a kind of catalog object a DDL statement changes.
type ObjectKind uint8

// Object kinds.
const (
	// ObjTable is a table, view or sequence.
	ObjTable ObjectKind = iota + 1
	// ObjDatabase is a database (its options and the names of its tables).
	ObjDatabase
	// ObjRoutine is a stored procedure, function or package.
	ObjRoutine
	// ObjTrigger is a trigger.
	ObjTrigger
	// ObjEvent is a scheduled event.
	ObjEvent
	// ObjAccounts is every user, role and privilege of the server.
	ObjAccounts
	// ObjServers is every server definition (CREATE SERVER).
	ObjServers
	// ObjPlugins is every installed plugin.
	ObjPlugins
	// ObjEverything is the whole catalog: the statement is not a form
	// known here.
	ObjEverything
)

// Object is a catalog object a DDL statement may create, change, rename or
// drop. Schema and Name are empty for the kinds that cover the whole server
// (accounts, servers, plugins, everything).
type Object struct {
	Kind         ObjectKind
	Schema, Name string
}

// DDLObjects returns the catalog objects that the statement sql, run with
// default database defaultDB, may change, so that their state can be
// compared before and after it (see Fingerprint). A statement that changes
// no object (FLUSH, ANALYZE...) returns none; one that is not a form known
// here returns ObjEverything.
//
// Examples, with default database d:
//
//	RENAME TABLE a TO tmp, b TO a, tmp TO b   tables d.a d.tmp d.b d.a d.tmp d.b
//	CREATE TRIGGER tr BEFORE INSERT ON t      trigger d.tr, table d.t
//	DROP DATABASE x                           database x
//	GRANT SELECT ON d.* TO u                  accounts
//	CREATE VIEW v AS SELECT 1                 table d.v
func DDLObjects(sql []byte, defaultDB string) []Object {
	if names, ok := DDLTables(sql, defaultDB); ok && len(names) > 0 {
		objs := tableObjects(names)
		// CREATE TRIGGER names its table: the trigger is the object.
		p := &ddlParser{toks: sqlscan.Tokens(sql, 0), db: defaultDB}
		if p.word("CREATE") {
			p.word("OR")
			p.word("REPLACE")
			p.skipDefiner()
			if p.word("TRIGGER") {
				p.ifExists()
				if n, ok := p.name(); ok {
					objs = append(objs, Object{Kind: ObjTrigger, Schema: n.Schema, Name: n.Table})
				}
			}
		}
		return objs
	}
	p := &ddlParser{toks: sqlscan.Tokens(sql, 0), db: defaultDB}
	switch {
	case p.any("CREATE", "ALTER", "DROP"):
		return p.otherObjects()
	case p.word("RENAME"):
		if p.any("USER") {
			return []Object{{Kind: ObjAccounts}}
		}
	case p.any("GRANT", "REVOKE"):
		return []Object{{Kind: ObjAccounts}}
	case p.word("SET"):
		if p.any("PASSWORD", "DEFAULT") || p.word("ROLE") {
			return []Object{{Kind: ObjAccounts}}
		}
	case p.any("INSTALL", "UNINSTALL"):
		return []Object{{Kind: ObjPlugins}}
	case p.any("ANALYZE", "OPTIMIZE", "CHECK", "REPAIR", "FLUSH"):
		return nil // no catalog change worth telling apart: running it twice is harmless
	}
	if names, ok := DDLTables(sql, defaultDB); ok {
		return tableObjects(names)
	}
	return []Object{{Kind: ObjEverything}}
}

func tableObjects(names []Name) []Object {
	objs := make([]Object, 0, len(names))
	for _, n := range names {
		objs = append(objs, Object{Kind: ObjTable, Schema: n.Schema, Name: n.Table})
	}
	return objs
}

// otherObjects reads the object of a CREATE, ALTER or DROP whose object is
// not a table (DDLTables knows those), the keyword already consumed.
func (p *ddlParser) otherObjects() []Object {
	p.word("OR")
	p.word("REPLACE")
	p.any("ONLINE", "OFFLINE")
	for p.word("ALGORITHM") || p.word("SQL") && p.word("SECURITY") {
		p.i++ // the value: UNDEFINED, MERGE, TEMPTABLE, DEFINER, INVOKER
	}
	p.skipDefiner()
	for p.word("SQL") && p.word("SECURITY") {
		p.i++
	}
	p.word("AGGREGATE")
	one := func(kind ObjectKind) []Object {
		p.ifExists()
		n, ok := p.name()
		if !ok {
			return []Object{{Kind: ObjEverything}}
		}
		return []Object{{Kind: kind, Schema: n.Schema, Name: n.Table}}
	}
	switch {
	case p.word("VIEW"):
		p.ifExists()
		names, ok := p.nameList()
		if !ok {
			return []Object{{Kind: ObjEverything}}
		}
		return tableObjects(names)
	case p.any("DATABASE", "SCHEMA"):
		p.ifExists()
		if p.i >= len(p.toks) || p.toks[p.i].Kind == sqlscan.Punct ||
			p.peek("CHARACTER") || p.peek("CHARSET") || p.peek("DEFAULT") || p.peek("COLLATE") || p.peek("COMMENT") {
			if p.db == "" {
				return []Object{{Kind: ObjEverything}}
			}
			return []Object{{Kind: ObjDatabase, Name: p.db}} // ALTER DATABASE: the default one
		}
		return []Object{{Kind: ObjDatabase, Name: p.toks[p.i].Text}}
	case p.any("PROCEDURE", "FUNCTION"):
		return one(ObjRoutine)
	case p.word("PACKAGE"):
		p.word("BODY")
		return one(ObjRoutine)
	case p.word("TRIGGER"):
		return one(ObjTrigger)
	case p.word("EVENT"):
		return one(ObjEvent)
	case p.any("USER", "ROLE"):
		return []Object{{Kind: ObjAccounts}}
	case p.word("SERVER"):
		return []Object{{Kind: ObjServers}}
	}
	return []Object{{Kind: ObjEverything}}
}

// String describes o for messages: "table d.t", "accounts".
func (o Object) String() string {
	name := o.Name
	if o.Schema != "" {
		name = o.Schema + "." + o.Name
	}
	switch o.Kind {
	case ObjTable:
		return "table " + name
	case ObjDatabase:
		return "database " + name
	case ObjRoutine:
		return "routine " + name
	case ObjTrigger:
		return "trigger " + name
	case ObjEvent:
		return "event " + name
	case ObjAccounts:
		return "accounts"
	case ObjServers:
		return "servers"
	case ObjPlugins:
		return "plugins"
	}
	return "the whole catalog"
}

// IsCreateOrReplace reports whether sql is a CREATE OR REPLACE TABLE
// statement, which drops the table it replaces.
func IsCreateOrReplace(sql []byte) bool {
	toks := sqlscan.Tokens(sql, 4)
	return len(toks) >= 4 && toks[0].Is("CREATE") && toks[1].Is("OR") && toks[2].Is("REPLACE") &&
		(toks[3].Is("TABLE") || toks[3].Is("TEMPORARY"))
}

// IsDDL reports whether sql is a statement that changes the catalog and
// commits implicitly: CREATE, ALTER, DROP, RENAME, TRUNCATE (not CREATE
// TEMPORARY TABLE nor DROP TEMPORARY TABLE, which do not commit).
func IsDDL(sql []byte) bool {
	toks := sqlscan.Tokens(sql, 2)
	if len(toks) == 0 {
		return false
	}
	switch strings.ToUpper(toks[0].Text) {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
		return toks[0].Kind == sqlscan.Word && !(len(toks) > 1 && toks[1].Is("TEMPORARY"))
	}
	return false
}

// CreateTableName returns the table a CREATE [OR REPLACE] TABLE statement
// creates, resolved with default database defaultDB, and the span of sql
// that names it ([schema.]table); ok is false for another statement.
func CreateTableName(sql []byte, defaultDB string) (name Name, start, end int, ok bool) {
	toks, spans := sqlscan.TokenSpans(sql, 0)
	p := &ddlParser{toks: toks, db: defaultDB}
	if !p.word("CREATE") {
		return Name{}, 0, 0, false
	}
	p.word("OR")
	p.word("REPLACE")
	if !p.word("TABLE") {
		return Name{}, 0, 0, false
	}
	p.ifExists()
	first := p.i
	if name, ok = p.name(); !ok {
		return Name{}, 0, 0, false
	}
	return name, spans[first].Start, spans[p.i-1].End, true
}

// IsCreateSelect reports whether sql is CREATE [OR REPLACE] TABLE ...
// SELECT: a table created and filled by one statement. (A column
// definition, default or check cannot hold a subquery, so a SELECT
// anywhere after TABLE is the statement's.)
func IsCreateSelect(sql []byte) bool {
	toks := sqlscan.Tokens(sql, 0)
	p := &ddlParser{toks: toks}
	if !p.word("CREATE") {
		return false
	}
	p.word("OR")
	p.word("REPLACE")
	if !p.word("TABLE") {
		return false
	}
	for _, t := range toks[p.i:] {
		if t.Is("SELECT") {
			return true
		}
	}
	return false
}

// IsCreateOrReplaceTable reports whether sql is CREATE OR REPLACE TABLE
// (with or without a SELECT): it replaces the table whole, so running it
// again on the same state of the other tables gives the same table.
func IsCreateOrReplaceTable(sql []byte) bool {
	p := &ddlParser{toks: sqlscan.Tokens(sql, 4)}
	return p.word("CREATE") && p.word("OR") && p.word("REPLACE") && p.word("TABLE")
}
