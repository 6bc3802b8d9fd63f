// Package temptables follows the temporary tables a binlog's statements
// open and close, so that a replay can record them in its checkpoint and
// refuse to resume where one is open.
package temptables

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/sqlscan"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Tables follows, in source order, the temporary tables that the
// binlog's statements (STATEMENT and MIXED formats) create and drop. They
// live in the target session that applies those statements (the run's
// statement session, as on the source each lived in its own session): a
// session lost with a temporary table open loses the table, and a statement
// using it later would fail, or worse, write the permanent table of the
// same name. The checkpoint therefore records the tables open at each
// point, and a run resuming where some are open refuses to go on
// (Lost).
//
// The zero value is ready to use; it is not safe for concurrent use.
type Tables struct {
	open map[tempKey]bool
	// ambiguous: a trigger, routine or view calls CONNECTION_ID(), so
	// that the server's flag no longer tells a statement using a
	// temporary table (see beforeStart).
	ambiguous bool
}

// FlagAmbiguous turns off Apply's finding of statements that use a
// temporary table created before the start point: the target has
// triggers, routines or views calling CONNECTION_ID(), and a statement
// firing one is flagged as one using a temporary table is.
func (tt *Tables) FlagAmbiguous() { tt.ambiguous = true }

// tempKey is a temporary table of one source session.
type tempKey struct {
	session txn.Session
	name    schema.Name
}

// Ended is a temporary table of another source session that a disconnect
// drop ended (txn.EndDisconnected): the table its connection held under
// another server id.
type Ended struct {
	Session txn.Session
	Name    schema.Name
}

// Apply follows the statements of t. It returns the first of them that
// uses a temporary table its session created before the binlogs read
// (see beforeStart), nil when none does; the tables of other sessions its
// disconnect drops ended (see disconnect); and the first disconnect drop
// whose tables cannot be told (unsure: two sessions of its thread id
// under other server ids hold a table it names once more), nil when none.
func (tt *Tables) Apply(t *txn.Txn) (before *txn.Query, ended []Ended, unsure *txn.Query) {
	for i := range t.Events {
		q := t.Events[i].Query
		if q == nil {
			continue
		}
		sess := t.SessionOf(q)
		if before == nil && tt.beforeStart(sess, q) {
			before = q
		}
		e, sure := tt.statement(sess, q)
		ended = append(ended, e...)
		if !sure && unsure == nil {
			unsure = q
		}
	}
	return before, ended, unsure
}

// beforeStart reports whether q uses a temporary table that its session
// created before the binlogs read: a base taken while the session held
// it (a hot backup), a start position after its CREATE, or the CREATE's
// transaction skipped. On the target such a statement would fail, or
// write a permanent table of the same name. The server flags a statement
// that used a temporary table (txn.Query.ThreadSpecific); q is flagged,
// is a write the server flags for no other reason (see below), calls no
// CONNECTION_ID() (the flag's other cause), and names no temporary table
// open in its session. Once the target or the binlogs have a trigger,
// routine or view calling CONNECTION_ID(), which flags the statements
// firing it, nothing is judged (FlagAmbiguous).
func (tt *Tables) beforeStart(sess txn.Session, q *txn.Query) bool {
	if tt.ambiguous {
		return false
	}
	if !q.ThreadSpecific {
		// A trigger, routine or view the binlogs create that calls
		// CONNECTION_ID() makes the flag ambiguous from then on.
		if first := sqlscan.Tokens(q.SQL, 1); len(first) == 1 && first[0].Is("CREATE") &&
			callsConnectionID(sqlscan.Tokens(q.SQL, 0)) {
			tt.ambiguous = true
		}
		return false
	}
	toks := sqlscan.Tokens(q.SQL, 0)
	if len(toks) == 0 || callsConnectionID(toks) {
		return false
	}
	// The server flags more than the statements that use a temporary
	// table: a multi-table DELETE, every DROP TABLE, CREATE OR REPLACE
	// TABLE (MariaDB 10.11, seen). Only the statements it flags for
	// their temporary tables alone are judged: INSERT, REPLACE, UPDATE,
	// single-table DELETE, LOAD DATA, TRUNCATE, ALTER, RENAME, and CREATE
	// TABLE ... SELECT as a statement. Not a CREATE TABLE without SELECT:
	// in ROW format a CREATE TABLE ... SELECT from a temporary table is
	// logged flagged, as the new table's definition, while the temporary
	// table's own CREATE is not logged at all.
	switch first := toks[0]; {
	case first.Is("INSERT"), first.Is("REPLACE"), first.Is("UPDATE"), first.Is("LOAD"),
		first.Is("TRUNCATE"), first.Is("ALTER"), first.Is("RENAME"):
	case first.Is("DELETE"):
		if multiTableDelete(toks) {
			return false
		}
	case first.Is("CREATE"):
		if len(toks) < 2 || !toks[1].Is("TABLE") || !slices.ContainsFunc(toks, func(t sqlscan.Token) bool { return t.Is("SELECT") }) {
			return false // OR REPLACE, TEMPORARY, other objects, a definition
		}
	default:
		return false
	}
	for _, tok := range toks {
		if tok.Kind != sqlscan.Word && tok.Kind != sqlscan.Ident {
			continue
		}
		for k := range tt.open {
			if k.session == sess && strings.EqualFold(k.name.Table, tok.Text) {
				return false
			}
		}
	}
	return true
}

// callsConnectionID reports whether toks name CONNECTION_ID.
func callsConnectionID(toks []sqlscan.Token) bool {
	for _, tok := range toks {
		if tok.Is("CONNECTION_ID") {
			return true
		}
	}
	return false
}

// multiTableDelete reports whether toks, a DELETE, is in a multi-table
// form: DELETE t1[, t2] FROM ..., or DELETE FROM t1[, t2] USING ....
func multiTableDelete(toks []sqlscan.Token) bool {
	i := 1
	for i < len(toks) && (toks[i].Is("LOW_PRIORITY") || toks[i].Is("QUICK") || toks[i].Is("IGNORE")) {
		i++
	}
	if i >= len(toks) || !toks[i].Is("FROM") {
		return true // tables named before FROM
	}
	for _, tok := range toks[i+1:] {
		if tok.Depth == 0 && (tok.Is("USING") || tok.Is("JOIN") || tok.Kind == sqlscan.Punct && tok.Text == ",") {
			return true
		}
		if tok.Depth == 0 && (tok.Is("WHERE") || tok.Is("ORDER") || tok.Is("LIMIT") || tok.Is("RETURNING")) {
			break
		}
	}
	return false
}

// statement follows one statement: CREATE TEMPORARY TABLE, DROP
// [TEMPORARY] TABLE, RENAME TABLE and ALTER TABLE ... RENAME of a
// temporary table. It returns what a disconnect drop ended of other
// sessions and whether that was sure (see disconnect).
func (tt *Tables) statement(sess txn.Session, q *txn.Query) (ended []Ended, sure bool) {
	toks := sqlscan.Tokens(q.SQL, 4)
	if len(toks) < 2 {
		return nil, true
	}
	names, ok := schema.DDLTables(q.SQL, q.Schema)
	if !ok || len(names) == 0 {
		return nil, true
	}
	if txn.IsDisconnectDrop(q.SQL) {
		return tt.disconnect(sess, names)
	}
	switch {
	case toks[0].Is("CREATE") && toks[1].Is("TEMPORARY"),
		toks[0].Is("CREATE") && toks[1].Is("OR") && len(toks) > 3 && toks[3].Is("TEMPORARY"):
		if tt.open == nil {
			tt.open = map[tempKey]bool{}
		}
		tt.open[tempKey{sess, names[0]}] = true
	case toks[0].Is("DROP"):
		for _, n := range names {
			delete(tt.open, tempKey{sess, n}) // a permanent table's name is not there
		}
	case toks[0].Is("RENAME"), toks[0].Is("ALTER"):
		// names: from, to, from, to... (ALTER: the table, then its new name)
		for i := 0; i+1 < len(names); i += 2 {
			from := tempKey{sess, names[i]}
			if tt.open[from] {
				delete(tt.open, from)
				tt.open[tempKey{sess, names[i+1]}] = true
			}
		}
	}
	return nil, true
}

// disconnect follows the drop the server logged, under session sess, for
// the temporary tables of a connection that ended (txn.IsDisconnectDrop):
// names holds each table as many times as the connection held one of its
// name, under sess's server id and the others it switched to. It forgets
// each table the drop ended (txn.EndDisconnected) and returns those of
// the other sessions, which the target must drop where they live; sure is
// false when the sessions of one name cannot be told.
func (tt *Tables) disconnect(sess txn.Session, names []schema.Name) (ended []Ended, sure bool) {
	holders := func(n schema.Name) []txn.Session {
		var out []txn.Session
		for k := range tt.open {
			if k.name == n {
				out = append(out, k.session)
			}
		}
		slices.SortFunc(out, func(a, b txn.Session) int {
			return cmp.Or(cmp.Compare(a.Server, b.Server), cmp.Compare(a.Thread, b.Thread))
		})
		return out
	}
	sure = txn.EndDisconnected(sess, names, holders, func(s txn.Session, n schema.Name) {
		delete(tt.open, tempKey{s, n})
		if s != sess {
			ended = append(ended, Ended{Session: s, Name: n})
		}
	})
	return ended, sure
}

// Restarted forgets every temporary table open: the source server
// started again (txn.Txn.ServerRestarted), which ended every session that
// held one, without logging their drop.
func (tt *Tables) Restarted() { tt.open = nil }

// Holds reports whether source session sess has temporary tables open.
func (tt *Tables) Holds(sess txn.Session) bool {
	for k := range tt.open {
		if k.session == sess {
			return true
		}
	}
	return false
}

// String lists the open temporary tables, sorted, "" when none.
func (tt *Tables) String() string {
	var out []string
	for k := range tt.open {
		out = append(out, fmt.Sprintf("%s.%s (session %d of server %d)", k.name.Schema, k.name.Table, k.session.Thread, k.session.Server))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Lost explains why a run cannot resume at checkpoint cp, where
// the binlog has temporary tables open. When cp also names the next
// transaction as pending (applied apart and cut off: a DDL, or writes to
// non-transactional tables), the refusal names it too, since the target
// may hold part of it: the resume that would settle it cannot run.
func Lost(cp *target.Checkpoint) error {
	held := fmt.Sprintf("the target holds every transaction before %s", cp.Next)
	if cp.State == target.StateDDL || cp.State == target.StateNonTrans {
		id := cp.Pending.Start.Named(cp.Pending.GTID)
		what := "a DDL statement"
		if cp.State == target.StateNonTrans {
			what = "writes to non-transactional tables"
		}
		if cp.Pending.What != "" {
			what += ": " + cp.Pending.What
		}
		held += fmt.Sprintf(", and MAY HOLD PART OF THE TRANSACTION AT %s (%s): the earlier run was cut off while applying it, "+
			"and its outcome is not settled (a CREATE OR REPLACE TABLE may have dropped its table without creating it again; "+
			"writes to non-transactional tables may have been made in part)", id, what)
	}
	return fmt.Errorf("cannot resume at %s: the binlog has temporary tables open there (%s). They lived in the target "+
		"session that applied them, which ended with the earlier run (or with the lost connection), so the statements "+
		"after this point that use them cannot be applied as on the source (they would fail, or write a permanent table "+
		"of the same name); %s. Restore the base backup again and replay without interruption, or replay from the base up to "+
		"a point where no temporary table is open", cp.Next, cp.TempTables, held)
}
