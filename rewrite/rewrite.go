// Package rewrite renames databases in the transactions a replay applies
// (--rewrite-db old=new, as mysqlbinlog --rewrite-db): the backup of one
// database, or of one table, restored under another name on a running
// server is rolled forward there, leaving the original alone. Without
// rules it applies the include filters alone, with the same care for the
// statements (see New).
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
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Config configures a Rewriter.
type Config struct {
	// Rules are the databases to rename: at least one, unless the filters
	// are set (--databases or --tables), which a Rewriter without rules
	// applies alone (see New).
	Rules Rules
	// Filter holds the include filters, which Apply applies first.
	Filter *filter.Filter
	// LogValues lets refusals quote the statement's literals (by default
	// replaced by ?).
	LogValues bool
	// OtherTables are the tables ("db.table") of the databases of
	// --tables that --tables leaves out: a statement kept for a table of
	// --tables that also names one of them is refused (it would read or
	// write that table as the target holds it, not as the source did).
	OtherTables []string
	// Bodies are, for each table of the databases of --tables that has
	// triggers, and each stored routine there (by name), the names the
	// bodies give: with --tables, a statement naming the table or the
	// routine counts as naming them too (in statement format they run
	// again on the target).
	Bodies map[string][]string
	// Unseen are databases of --tables whose other tables, and their
	// triggers, the target does not show (with --rewrite-db, the
	// database as the binlogs name it is not on the target): a statement
	// run there that names no table of --tables is refused rather than
	// left out, since a trigger of a table it changes may write one.
	Unseen []string
}

// Rewriter applies the include filters and the rules to transactions, in
// source order. It is not safe for concurrent use.
type Rewriter struct {
	to        map[string]string // old name -> new name
	filter    *filter.Filter
	tables    []string            // the table names of --tables, lower case
	others    map[string]string   // the table names of OtherTables, lower case -> db.table
	temps     map[tempTable]bool  // the temporary tables created and not dropped
	bodies    map[string][]string // Bodies, and the triggers and routines the binlog creates
	unseen    map[string]bool     // Unseen, lower case
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
//
// Without rules it applies the filters alone, with the same care for
// statements that the rules need (rather than filter.Filter.Include's,
// mysqlbinlog --database's, keeping them by their default database): a
// statement kept that names, qualified, a database left out is refused;
// one whose default database is left out that names a database kept is
// applied when it has no default database, left out when it only reads
// it, and refused otherwise; with --tables a statement is kept by the
// tables it names, and one that names a table of --tables and another is
// refused.
func New(c Config) (*Rewriter, error) {
	if len(c.Rules) == 0 && (c.Filter == nil || !c.Filter.Filtering()) {
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
	rw.others, rw.temps, rw.bodies = map[string]string{}, map[tempTable]bool{}, map[string][]string{}
	for t, names := range c.Bodies {
		rw.bodies[strings.ToLower(t)] = slices.Clone(names)
	}
	rw.unseen = map[string]bool{}
	for _, db := range c.Unseen {
		rw.unseen[strings.ToLower(db)] = true
	}
	for _, t := range c.OtherTables {
		_, table, _ := strings.Cut(t, ".")
		rw.others[strings.ToLower(table)] = t
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

// tempTable is a temporary table of one source session (as the server
// scopes them: one connection that changes its server id has two
// sessions), by its name in lower case.
type tempTable struct {
	session txn.Session
	name    string
}

// temp reports whether name is a temporary table that session s created
// and has not dropped.
func (rw *Rewriter) temp(s txn.Session, name string) bool {
	return rw.temps[tempTable{s, strings.ToLower(name)}]
}

// disconnect forgets the temporary tables that a disconnect drop of
// session sess naming names ended (txn.EndDisconnected): its own and
// those its connection held under other server ids. It reports false when
// which sessions' tables it ended cannot be told.
func (rw *Rewriter) disconnect(sess txn.Session, names []schema.Name) bool {
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n.Table)
	}
	holders := func(name string) []txn.Session {
		var out []txn.Session
		for k := range rw.temps {
			if k.name == name {
				out = append(out, k.session)
			}
		}
		return out
	}
	return txn.EndDisconnected(sess, lower, holders, func(s txn.Session, name string) {
		delete(rw.temps, tempTable{s, name})
	})
}

// SourceRestarted forgets the temporary tables the binlogs' sessions
// had open: a source that restarted (txn.Txn.ServerRestarted) ended them
// without logging their drop, and a table of one's name created later is
// another, permanent one, which --tables leaves out unless it names it.
func (rw *Rewriter) SourceRestarted() { clear(rw.temps) }

// Apply removes from t the events the include filters do not keep, as
// filter.Filter.Include does but for the statements (see keepQuery), and
// renames the databases of the others. It returns an *Error, leaving t in
// an unspecified state, when t cannot be applied with certainty under the
// rules.
func (rw *Rewriter) Apply(t *txn.Txn) error {
	var refused *Error
	err := rw.filter.IncludeWith(t, func(e *txn.Event) bool {
		keep, why := rw.keepQuery(t.SessionOf(e.Query), e.Query)
		if why != "" && refused == nil {
			refused = rw.refuse(t, e, why)
		}
		return keep
	})
	switch {
	case refused != nil:
		return refused
	case err != nil:
		return err
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
	raw, err := event.RetargetTableMap(e.Raw, t.Format, tm.Schema, tm.Table)
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
