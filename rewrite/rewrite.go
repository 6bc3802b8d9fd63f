// Package rewrite renames databases in the transactions a replay applies
// (--rewrite-db old=new, as mysqlbinlog --rewrite-db): the backup of one
// database, or of one table, restored under another name on a running
// server is rolled forward there, leaving the original alone.
//
// What is renamed, in the events the include filters keep:
//   - table maps: their raw event (which row events passed through in a
//     BINLOG statement use) and their decoded form (which the write sets,
//     the schema cache and the SQL apply path use);
//   - the default database of statements and DDL, and the database of
//     their qualified names (see sql.go for what is renamed, and what is
//     refused because it cannot be renamed with certainty).
//
// The include filters (--databases, --tables) name the databases and
// tables as the binlogs do: they decide what is applied, and the rules
// then say where it goes. They are needed: without them every other
// database would be applied as it is too. Rewriting adjusts how they
// treat statements, so that nothing is applied to or lost from a
// database in silence:
//   - a statement the filters keep that names, qualified, a database they
//     do not keep is refused (it would read or write that database on the
//     target as it is there now);
//   - a statement without a default database that names a renamed
//     database is applied, renamed (the filters, which keep statements by
//     their default database, would leave it out: an ALTER TABLE shop.t
//     run without USE); one whose default database is not kept is left
//     out when it only reads it (INSERT or REPLACE into a table of
//     another database) and refused otherwise;
//   - with --tables, a statement or DDL is kept only when it names a table
//     of --tables (the side database holds those tables only), and one
//     that changes both such a table and another is refused.
//
// A refusal is an *Error naming the transaction (file, position, GTID),
// the event and why, with the flags that skip it or stop before it.
package rewrite

import (
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Config configures a Rewriter.
type Config struct {
	// Rules are the databases to rename (at least one).
	Rules Rules
	// Filter holds the include filters, which Apply applies first.
	Filter *filter.Filter
	// LogValues lets refusals quote the statement's literals (by default
	// replaced by ?).
	LogValues bool
}

// Rewriter applies the include filters and the rules to transactions, in
// source order. It is not safe for concurrent use.
type Rewriter struct {
	to        map[string]string // old name -> new name
	filter    *filter.Filter
	tables    []string // the table names of --tables, lower case
	logValues bool
	// renamed are the renamed copies of the reader's table maps, which
	// transactions share (read-only): the same copy for the same map.
	renamed map[*txn.TableMap]*txn.TableMap
}

// maxRenamed bounds the table map copies kept.
const maxRenamed = 4096

// New returns a Rewriter for c, or why its rules cannot be applied with
// its filters: rules need --databases or --tables (else every other
// database of the binlogs would be applied as it is too), each old name
// must be kept by them, and they must name no new name (they name the
// databases as the binlogs do).
func New(c Config) (*Rewriter, error) {
	if len(c.Rules) == 0 {
		return nil, errNoRules
	}
	if err := c.Rules.Check(); err != nil {
		return nil, err
	}
	if c.Filter == nil || !c.Filter.Filtering() {
		return nil, fmt.Errorf("--rewrite-db %s needs --databases or --tables: without them every other database "+
			"of the binlogs would be applied as it is to the target too; name what to restore (e.g. --databases %s)",
			c.Rules[0], c.Rules[0].From)
	}
	if err := checkFilters(c.Rules, c.Filter); err != nil {
		return nil, err
	}
	rw := &Rewriter{to: map[string]string{}, filter: c.Filter, logValues: c.LogValues,
		renamed: map[*txn.TableMap]*txn.TableMap{}}
	for _, r := range c.Rules {
		rw.to[r.From] = r.To
	}
	for _, t := range c.Filter.Tables() {
		_, table, _ := strings.Cut(t, ".")
		rw.tables = append(rw.tables, strings.ToLower(table))
	}
	return rw, nil
}

// checkFilters refuses include filters that do not keep an old name, or
// that name a new one.
func checkFilters(rules Rules, f *filter.Filter) error {
	var named []string
	for _, t := range f.Tables() {
		db, _, _ := strings.Cut(t, ".")
		named = append(named, db)
	}
	named = append(named, f.Databases()...)
	for _, r := range rules {
		for _, db := range named {
			if strings.EqualFold(db, r.To) {
				return fmt.Errorf("--databases or --tables names %s, the new name of --rewrite-db %s: "+
					"they name the databases as the binlogs do (here %s)", db, r, r.From)
			}
		}
	}
	for _, r := range rules {
		if !f.KeepsSchema(r.From) {
			return fmt.Errorf("--rewrite-db %s renames %s, which --databases and --tables do not apply", r, r.From)
		}
	}
	return nil
}

// Apply removes from t the events the include filters do not keep, as
// filter.Filter.Include does but for the statements (see keepQuery), and
// renames the databases of the others. It returns an *Error, leaving t in
// an unspecified state, when t cannot be applied with certainty under the
// rules.
func (rw *Rewriter) Apply(t *txn.Txn) error {
	var refused *Error
	rw.filter.IncludeWith(t, func(e *txn.Event) bool {
		keep, why := rw.keepQuery(e.Query)
		if why != "" && refused == nil {
			refused = rw.refuse(t, e, why)
		}
		return keep
	})
	if refused != nil {
		return refused
	}
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case txn.EventTableMap:
			if err := rw.renameTableMap(t, e); err != nil {
				return err
			}
		case txn.EventRows:
			if e.Rows != nil && e.Rows.Table != nil {
				if tm := rw.renamedTable(e.Rows.Table); tm != e.Rows.Table {
					rows := *e.Rows
					rows.Table = tm
					e.Rows = &rows
				}
			}
		case txn.EventQuery:
			q, why := rw.renameQuery(e.Query)
			if why != "" {
				return rw.refuse(t, e, why)
			}
			if t.Begin == e.Query {
				t.Begin = q
			}
			e.Query = q
		}
	}
	if b := t.Begin; b != nil {
		if to, ok := rw.to[b.Schema]; ok {
			q := *b
			q.Schema = to
			t.Begin = &q
		}
	}
	return nil
}

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
func (rw *Rewriter) keepQuery(q *txn.Query) (bool, refusal) {
	if !rw.filter.KeepsSchema(q.Schema) {
		keep, why := rw.outside(q)
		if !keep || why != "" {
			return false, why
		}
	}
	return rw.concernsTables(q)
}

// renameTableMap points the table map e at the renamed database, if its
// database is renamed.
func (rw *Rewriter) renameTableMap(t *txn.Txn, e *txn.Event) error {
	tm := rw.renamedTable(e.TableMap)
	if tm == e.TableMap {
		return nil
	}
	if t.Format == nil {
		return rw.refuse(t, e, "the transaction has no format description to rewrite its table map with")
	}
	raw, err := binlog.RetargetTableMap(e.Raw, t.Format, tm.Schema, tm.Table)
	if err != nil {
		return rw.refuse(t, e, refusal(err.Error()))
	}
	e.Raw, e.TableMap = raw, tm
	return nil
}

// renamedTable returns the copy of tm in its renamed database, or tm when
// its database is not renamed.
func (rw *Rewriter) renamedTable(tm *txn.TableMap) *txn.TableMap {
	to, ok := rw.to[tm.Schema]
	if !ok {
		return tm
	}
	if cp, ok := rw.renamed[tm]; ok {
		return cp
	}
	if len(rw.renamed) >= maxRenamed {
		clear(rw.renamed)
	}
	cp := *tm
	cp.Schema = to
	rw.renamed[tm] = &cp
	return &cp
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
		case i != st.dbName && !other[strings.ToLower(tok.Text)] && !rw.filter.KeepsSchema(tok.Text):
			return nil, rw.otherDatabase(tok.Text)
		}
	}
	return edits, ""
}

// otherDatabase is the refusal of a statement that names, qualified, a
// database the include filters do not apply.
func (rw *Rewriter) otherDatabase(db string) refusal {
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
				if from, _ := rw.fromName(tok.Text); from != "" {
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
		if from, _ := rw.fromName(db); from == "" {
			return false, ""
		}
	}
	return false, refusef("it runs in the database %s, which the include filters do not apply, "+
		"but it names %s, which --rewrite-db restores: it may write both", quoteIdent(q.Schema), quoteIdent(named))
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
// refused. Without --tables every kept statement is applied.
func (rw *Rewriter) concernsTables(q *txn.Query) (bool, refusal) {
	if !rw.filter.FiltersTables() {
		return true, ""
	}
	st := parse(q.SQL)
	if st.kind == kindServer {
		return true, "" // refused as such
	}
	names, ok := schema.DDLTables(q.SQL, q.Schema)
	switch {
	case ok && len(names) > 0:
		var in, out []string
		for _, n := range names {
			if rw.filter.KeepsTable(n.Schema, n.Table) {
				in = append(in, n.Schema+"."+n.Table)
			} else {
				out = append(out, n.Schema+"."+n.Table)
			}
		}
		if len(in) > 0 && len(out) > 0 {
			return false, refusef("it changes tables of --tables (%s) and others (%s): the side database holds the first only",
				strings.Join(in, ", "), strings.Join(out, ", "))
		}
		return len(in) > 0, ""
	case ok:
		return false, "" // views, routines, events, ANALYZE...: not a table of --tables
	case st.kind == kindDatabase || schema.IsDDL(q.SQL):
		return true, "" // DROP TRIGGER, a form not known: applied, and it fails if it cannot be
	}
	for i, tok := range st.toks {
		if st.name(i) {
			for _, t := range rw.tables {
				if strings.EqualFold(tok.Text, t) {
					return true, ""
				}
			}
		}
	}
	return false, ""
}

// Error refuses a transaction that cannot be applied with certainty under
// the rules.
type Error struct {
	// Txn is the transaction refused, Event the event (its type and
	// position).
	Txn   *txn.Ref
	Event string
	// Statement is the statement, its literals replaced by ? unless
	// Config.LogValues.
	Statement string
	// Why says why.
	Why string
	// gtid is the transaction's GTID, for the flags that skip it.
	gtid txn.GTID
}

// Error says what is refused, why, and how to skip it or stop before it.
func (e *Error) Error() string { return "--rewrite-db cannot apply " + e.Detail() }

// Detail is Error without its first words: "the transaction #N at ...".
func (e *Error) Detail() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the transaction #%d at %s", e.Txn.Seq, e.Txn.Start)
	if e.Txn.GTID != "" {
		fmt.Fprintf(&b, " (GTID %s)", e.Txn.GTID)
	}
	fmt.Fprintf(&b, ": %s: %s", e.Event, e.Why)
	if e.Statement != "" {
		fmt.Fprintf(&b, ": %s", e.Statement)
	}
	fmt.Fprintf(&b, "; stop before it (%s)", e.StopFlag())
	if skip := e.SkipFlag(); skip != "" {
		fmt.Fprintf(&b, " or skip it (%s)", skip)
	}
	return b.String()
}

// StopFlag is the flag that stops a replay just before the transaction.
func (e *Error) StopFlag() string {
	if !e.gtid.IsZero() {
		return "--stop-before-gtid " + e.gtid.String()
	}
	return "--stop-position " + e.Txn.Start.String()
}

// SkipFlag is the flag that skips the transaction alone, "" when it has
// no GTID.
func (e *Error) SkipFlag() string {
	if g := e.SkipGTIDs(); g != "" {
		return "--exclude-gtids " + g
	}
	return ""
}

// SkipGTIDs is the value of --exclude-gtids that names the transaction
// alone (a MariaDB range d-s-n..n, or MySQL's uuid:n), "" when it has no
// GTID.
func (e *Error) SkipGTIDs() string {
	switch {
	case e.gtid.IsZero():
		return ""
	case e.gtid.Flavor == txn.FlavorMariaDB:
		return filter.GTIDRange{Domain: e.gtid.Domain, Server: e.gtid.Server, First: e.gtid.Seq, Last: e.gtid.Seq}.String()
	}
	return e.gtid.String()
}

// refuse returns the *Error refusing t because of its event e.
func (rw *Rewriter) refuse(t *txn.Txn, e *txn.Event, why refusal) *Error {
	err := &Error{Txn: t.Ref(), Event: fmt.Sprintf("%s at %s", e.TypeName, e.Pos), Why: string(why), gtid: t.GTID}
	if e.Kind == txn.EventQuery {
		sql := string(e.Query.SQL)
		if !rw.logValues {
			sql = redact.SQL(sql)
		}
		if len(sql) > 300 {
			sql = sql[:300] + "..."
		}
		err.Statement = sql
	}
	return err
}
