package rewrite

import (
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The decisions on statements: kept or left out (keepQuery), renamed or
// refused (renameQuery). sql.go reads their text.

// keepQuery decides whether the statement q is applied, or why it must
// not be left out either. The include filters keep it by its default
// database; rewriting adds:
//   - with --tables, only a statement that names a table of --tables is
//     kept (concernsTables);
//   - a statement whose default database the filters do not keep, but
//     that names a renamed database, may write it: it is kept when it has
//     no default database (every table it names is then qualified, and
//     each is checked when it is renamed), left out when it is an INSERT
//     or REPLACE into a table of another database (it only reads the
//     renamed one), and refused otherwise.
func (rw *Rewriter) keepQuery(sess txn.Session, q *txn.Query) (bool, refusal) {
	if !rw.filter.KeepsSchema(q.Schema) {
		keep, why := rw.outside(q)
		if !keep || why != "" {
			return false, why
		}
	}
	return rw.concernsTables(sess, q)
}

// restored returns the database the statement naming db writes to on
// the target, when it is one the replay restores: the old name of a rule
// (see fromName), or, without rules, db when the filters keep it; ""
// otherwise.
func (rw *Rewriter) restored(db string) string {
	if len(rw.to) == 0 {
		if rw.filter.KeepsSchema(db) {
			return db
		}
		return ""
	}
	from, _ := rw.fromName(db)
	return from
}

// fromName returns the rule whose old name equals name in letter case
// (exact), or in another (folded); "" when none.
func (rw *Rewriter) fromName(name string) (from string, exact bool) {
	if _, ok := rw.to[name]; ok {
		return name, true
	}
	for f := range rw.to {
		if strings.EqualFold(f, name) {
			return f, false
		}
	}
	return "", false
}

// renameQuery returns q with its default database and the databases its
// text names renamed (q itself when nothing changes), or why it cannot be
// renamed with certainty.
func (rw *Rewriter) renameQuery(q *txn.Query) (*txn.Query, refusal) {
	st := parse(q.SQL)
	var edits []edit
	var why refusal
	switch st.kind {
	case kindServer:
		if len(rw.to) == 0 {
			return q, "" // no renaming: applied as an unfiltered replay applies it
		}
		return nil, "it changes the server's accounts, roles, servers or plugins, not a database: " +
			"applied under --rewrite-db it would change the target's"
	case kindDefinition:
		why = rw.checkDefinition(st)
	default:
		if why = rw.checkQuoted(st, q); why == "" {
			edits, why = rw.renameNames(st)
		}
	}
	if why != "" {
		return nil, why
	}
	to, renamedDB := rw.to[q.Schema]
	if len(edits) == 0 && !renamedDB {
		return q, ""
	}
	cp := *q
	if renamedDB {
		cp.Schema = to
	}
	if len(edits) > 0 {
		sql, shift := apply(q.SQL, edits)
		cp.SQL = sql
		if q.Load != nil {
			load := *q.Load
			load.FileStart, load.FileEnd = shift(load.FileStart), shift(load.FileEnd)
			cp.Load = &load
		}
	}
	return &cp, ""
}

// checkQuoted refuses a renamed database named inside a string or a
// comment of DDL, or in double quotes under ANSI_QUOTES (which make them
// an identifier, which the tokens do not show).
func (rw *Rewriter) checkQuoted(st *statement, q *txn.Query) refusal {
	ansi := q.Status.HasSQLMode && q.Status.SQLMode&ansiQuotes != 0
	dml := st.isDML()
	for _, sp := range sqlscan.ValueSpans(st.sql) {
		text := st.sql[sp.Start:sp.End]
		for from := range rw.to {
			if !mentions(text, from) {
				continue
			}
			switch {
			case ansi && text[0] == '"':
				return refusef("it names %s in double quotes under ANSI_QUOTES (an identifier there), which cannot be renamed with certainty", quoteIdent(from))
			case !dml && isString(st.sql, sp):
				return refusef("it names %s inside a string (a COMMENT, DEFAULT or CONNECTION string?), which cannot be renamed with certainty", quoteIdent(from))
			}
		}
	}
	return ""
}

// checkDefinition refuses a view, trigger, routine or event definition
// whose text names a renamed database in any way, or that creates its
// object in a database the filters do not apply.
func (rw *Rewriter) checkDefinition(st *statement) refusal {
	for from := range rw.to {
		if mentions(st.sql, from) {
			return refusef("it defines a %s whose text names %s: the SQL of its body cannot be renamed with certainty",
				st.objectName(), quoteIdent(from))
		}
	}
	// CREATE VIEW db.v, CREATE TRIGGER db.tr ... ON db.t: where it lands.
	for _, i := range []int{st.nameAfter(st.object), st.onTable()} {
		if i >= 0 && st.head(i) && !rw.filter.KeepsSchema(st.toks[i].Text) {
			return rw.otherDatabase(st.toks[i].Text)
		}
	}
	return ""
}

// onTable returns the index of the name after the first ON of a trigger
// definition, -1 for other statements.
func (st *statement) onTable() int {
	if st.object < 0 || !st.word(st.object, "TRIGGER") {
		return -1
	}
	for i := st.object + 1; i < len(st.toks); i++ {
		if st.word(i, "ON") && st.toks[i].Depth == 0 {
			if i+1 < len(st.toks) && st.name(i+1) {
				return i + 1
			}
			return -1
		}
	}
	return -1
}

// renameNames returns the edits that rename the databases a plain or
// database statement names, or why it cannot be renamed with certainty.
func (rw *Rewriter) renameNames(st *statement) ([]edit, refusal) {
	// Names that stand other than as the first part of a qualified name:
	// tables, columns and aliases (a first part equal to one of them is
	// a table or an alias, not a database).
	other := map[string]bool{}
	for i := range st.toks {
		if st.name(i) && !st.head(i) && i != st.dbName {
			other[strings.ToLower(st.toks[i].Text)] = true
		}
	}
	var edits []edit
	for i, tok := range st.toks {
		if !st.head(i) && i != st.dbName {
			continue
		}
		from, exact := rw.fromName(tok.Text)
		switch {
		case from != "" && !exact:
			return nil, refusef("it names %s, which differs from %s of --rewrite-db only in letter case: "+
				"a database or a table of that name? (lower_case_table_names decides)", quoteIdent(tok.Text), quoteIdent(from))
		case from != "" && i != st.dbName && other[strings.ToLower(from)]:
			return nil, refusef("it names %s both as the first part of a qualified name and as a table, column or alias: "+
				"%s.x could be either, so it cannot be renamed with certainty", quoteIdent(from), quoteIdent(from))
		case from != "":
			edits = append(edits, edit{span: st.spans[i], text: quoteIdent(rw.to[from])})
		case i == st.dbName && !rw.filter.KeepsSchema(tok.Text):
			return nil, refusef("it changes the database %s, which the include filters do not apply", quoteIdent(tok.Text))
		case i != st.dbName && !other[strings.ToLower(tok.Text)] && !rw.filter.KeepsSchema(tok.Text) && !metadataSchema(tok.Text):
			return nil, rw.otherDatabase(tok.Text)
		}
	}
	return edits, ""
}

// metadataSchema reports whether db is information_schema or
// performance_schema: views of the server, which a statement reads as an
// unfiltered replay would, not a database the filters leave out.
func metadataSchema(db string) bool {
	return strings.EqualFold(db, "information_schema") || strings.EqualFold(db, "performance_schema")
}

// otherDatabase is the refusal of a statement that names, qualified, a
// database the include filters do not apply.
func (rw *Rewriter) otherDatabase(db string) refusal {
	if len(rw.to) == 0 {
		return refusef("it names the database %s, which --databases and --tables do not apply: "+
			"it would read or write %s on the target as it is there now", quoteIdent(db), quoteIdent(db))
	}
	return refusef("it names the database %s, which the include filters do not apply and --rewrite-db does not rename: "+
		"it would read or write %s on the target as it is there now", quoteIdent(db), quoteIdent(db))
}

// outside decides for a statement whose default database the include
// filters do not keep (see keepQuery).
func (rw *Rewriter) outside(q *txn.Query) (bool, refusal) {
	st := parse(q.SQL)
	named := ""
	switch st.kind {
	case kindServer:
		return false, "" // accounts: no data of the database
	case kindDefinition:
		for from := range rw.to { // it may create its object there
			if mentions(st.sql, from) {
				named = from
			}
		}
	default:
		for i, tok := range st.toks {
			if st.head(i) || i == st.dbName {
				if from := rw.restored(tok.Text); from != "" {
					named = from
					break
				}
			}
		}
	}
	switch {
	case named == "":
		return false, ""
	case q.Schema == "":
		return true, ""
	}
	if db, ok := st.insertInto(q.Schema); ok {
		if from := rw.restored(db); from == "" {
			return false, ""
		}
	}
	return false, refusef("it runs in the database %s, which the include filters do not apply, "+
		"but it names %s, which they apply: it may write both", quoteIdent(q.Schema), quoteIdent(named))
}

// insertInto returns the database of the table an INSERT or REPLACE
// writes (defaultDB when unqualified).
func (st *statement) insertInto(defaultDB string) (string, bool) {
	if !st.word(0, "INSERT") && !st.word(0, "REPLACE") {
		return "", false
	}
	i := 1
	for st.word(i, "LOW_PRIORITY") || st.word(i, "DELAYED") || st.word(i, "HIGH_PRIORITY") || st.word(i, "IGNORE") {
		i++
	}
	if st.word(i, "INTO") {
		i++
	}
	if i >= len(st.toks) || !st.name(i) {
		return "", false
	}
	if st.head(i) {
		return st.toks[i].Text, true
	}
	return defaultDB, true
}

// concernsTables decides, with --tables, whether a statement the filters
// keep (by its default database) is applied: only when it names a table
// of --tables; one that changes both such a table and another is
// refused. Without --tables every kept statement is applied. A temporary
// table is the statement's session's (sess): the server scopes them so.
func (rw *Rewriter) concernsTables(sess txn.Session, q *txn.Query) (bool, refusal) {
	if !rw.filter.FiltersTables() {
		return true, ""
	}
	st := parse(q.SQL)
	if st.kind == kindServer {
		// Refused as such under rules; with --tables alone, no table's.
		return len(rw.to) > 0, ""
	}
	names, ok := schema.DDLTables(q.SQL, q.Schema)
	temporary := st.temporaryTable()
	rw.noteBody(st, names, ok)
	switch {
	case ok && len(names) > 0:
		if txn.IsDisconnectDrop(q.SQL) && !rw.disconnect(sess, names) {
			return false, refusef("it drops the temporary tables of a connection that ended (thread %d), naming a table once "+
				"more than its own session holds, while more sessions of its thread id under other server ids hold one: "+
				"which it ended cannot be told", sess.Thread)
		}
		if st.word(0, "RENAME") || st.word(0, "ALTER") {
			// RENAME TABLE tmp TO t2, ALTER TABLE tmp RENAME t2: names in
			// pairs, the new name a temporary table as the old one.
			for i := 0; i+1 < len(names); i += 2 {
				if from := (tempTable{sess, strings.ToLower(names[i].Table)}); rw.temps[from] {
					delete(rw.temps, from)
					rw.temps[tempTable{sess, strings.ToLower(names[i+1].Table)}] = true
					names[i].Table = names[i+1].Table // the table it is now
				}
			}
		}
		var in, out []string
		for _, n := range names {
			switch name := (tempTable{sess, strings.ToLower(n.Table)}); {
			case temporary || rw.temps[name]:
				// A temporary table lives in the applying session, not in
				// the target's data: kept, so that a table of --tables
				// filled from it gets its rows.
				if st.word(0, "CREATE") {
					rw.temps[name] = true
				} else if st.word(0, "DROP") {
					delete(rw.temps, name)
				}
				in = append(in, n.Schema+"."+n.Table)
			case rw.filter.KeepsTable(n.Schema, n.Table):
				in = append(in, n.Schema+"."+n.Table)
			default:
				out = append(out, n.Schema+"."+n.Table)
			}
		}
		if len(in) > 0 && len(out) > 0 {
			return false, refusef("it changes tables of --tables (%s) and others (%s): --tables applies the first only",
				strings.Join(in, ", "), strings.Join(out, ", "))
		}
		if st.word(0, "CREATE") && len(in) > 0 {
			// CREATE [TEMPORARY] TABLE ... SELECT (or LIKE) a table left
			// out: in statement format it reads it on the target.
			if _, other := rw.namesTables(sess, st); other != "" {
				return false, rw.readsOther(names[0].Table, other)
			}
		}
		if why := rw.cascadeAcross(sess, st, q.Schema, len(in) > 0); why != "" {
			return false, why
		}
		return len(in) > 0, ""
	case ok:
		return false, "" // views, routines, events, ANALYZE...: not a table of --tables
	case st.kind == kindDatabase || schema.IsDDL(q.SQL):
		return true, "" // DROP TRIGGER, a form not known: applied, and it fails if it cannot be
	}
	kept, other := rw.namesTables(sess, st)
	if kept != "" && other != "" {
		return false, rw.readsOther(kept, other)
	}
	if kept == "" && st.mayWrite() && rw.unseen[strings.ToLower(q.Schema)] {
		return false, refusef("it changes a table of %s that --tables leaves out, whose triggers the target does not show "+
			"(the database is not on the target): one may write a table of --tables; restore beside %s as the binlogs "+
			"name it, or use --databases", quoteIdent(q.Schema), quoteIdent(q.Schema))
	}
	return kept != "", ""
}

// namesTables returns the first name st gives, itself or through the
// triggers of a table it names or a routine it calls, of a table of
// --tables (or of a
// temporary table), and of a table of OtherTables ("db.table"); ""
// when it names none.
func (rw *Rewriter) namesTables(sess txn.Session, st *statement) (kept, other string) {
	names := st.names()
	// In statement format a table's triggers, and the stored functions
	// called, run again on the target: what they name counts as named by
	// the statement.
	var inBodies []string
	for _, n := range names {
		inBodies = append(inBodies, rw.bodies[strings.ToLower(n)]...)
	}
	names = append(names, inBodies...)
	for _, n := range names {
		name := strings.ToLower(n)
		if kept == "" && (slices.Contains(rw.tables, name) || rw.temp(sess, name)) {
			kept = n
		}
		if other == "" && !rw.temp(sess, name) {
			other = rw.others[name]
		}
	}
	return kept, other
}

// noteBody records the names a CREATE TRIGGER (for its table) or a
// CREATE FUNCTION or PROCEDURE (for its name) gives in its body, st, which
// runs with the statements that name them from now on.
func (rw *Rewriter) noteBody(st *statement, names []schema.Name, ok bool) {
	if !st.word(0, "CREATE") || st.object < 0 {
		return
	}
	var key string
	switch {
	case st.word(st.object, "TRIGGER") && ok && len(names) == 1:
		key = names[0].Table
	case st.word(st.object, "FUNCTION") || st.word(st.object, "PROCEDURE"):
		i := st.nameAfter(st.object)
		if i < 0 {
			return
		}
		if st.punct(i+1, ".") && i+2 < len(st.toks) {
			i += 2 // db.name
		}
		key = st.toks[i].Text
	default:
		return
	}
	key = strings.ToLower(key)
	rw.bodies[key] = append(rw.bodies[key], st.names()...)
}

// cascadeAcross refuses DDL, kept, that gives a table of --tables a
// foreign key that cascades from a table left out: the changes of that
// table are not applied, and what they changed by cascade on the source
// is not in the binlog (see the replay's check of the target's foreign
// keys at the start). DDL on a table left out is not applied: its
// foreign key never exists on the target.
func (rw *Rewriter) cascadeAcross(sess txn.Session, st *statement, db string, kept bool) refusal {
	if !kept {
		return ""
	}
	cascades := false
	for i := range st.toks {
		cascades = cascades || st.word(i, "CASCADE") || st.word(i, "SET") && (st.word(i+1, "NULL") || st.word(i+1, "DEFAULT"))
	}
	if !cascades {
		return ""
	}
	for i := range st.toks {
		if !st.word(i, "REFERENCES") || i+1 >= len(st.toks) || !st.name(i+1) {
			continue
		}
		pdb, parent := db, st.toks[i+1].Text
		if st.punct(i+2, ".") && i+3 < len(st.toks) && st.name(i+3) {
			pdb, parent = parent, st.toks[i+3].Text
		}
		if !rw.filter.KeepsTable(pdb, parent) && !rw.temp(sess, parent) {
			return refusef("it gives a table of --tables a foreign key that cascades from %s.%s, which --tables leaves out: "+
				"what a cascade changes is not in the binlog; keep both tables", pdb, parent)
		}
	}
	return ""
}

// mayWrite reports whether st is DML that may write tables (and fire
// their triggers): INSERT, REPLACE, UPDATE, DELETE, LOAD DATA, CALL, or a
// WITH before one of them.
func (st *statement) mayWrite() bool {
	for _, w := range []string{"INSERT", "REPLACE", "UPDATE", "DELETE", "LOAD", "CALL", "WITH"} {
		if st.word(0, w) {
			return true
		}
	}
	return false
}

// readsOther refuses a statement kept for table kept that also names
// other, a table --tables leaves out.
func (rw *Rewriter) readsOther(kept, other string) refusal {
	return refusef("it names %s, a table of --tables, and %s, which --tables leaves out (itself or through a trigger or a routine): "+
		"applied, it would read or write %s as the target holds it, not as the source did; add %s to --tables, or use --databases",
		quoteIdent(kept), other, other, other)
}

// temporaryTable reports whether st is CREATE [OR REPLACE] TEMPORARY
// TABLE or DROP TEMPORARY TABLE.
func (st *statement) temporaryTable() bool {
	if !st.word(0, "CREATE") && !st.word(0, "DROP") {
		return false
	}
	for i := 1; i < len(st.toks) && i < 4; i++ {
		if st.word(i, "TEMPORARY") {
			return true
		}
	}
	return false
}
