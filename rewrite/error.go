package rewrite

import (
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/txn"
)

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
	// Flag is the flag that refuses it: --rewrite-db, or --tables or
	// --databases for a Rewriter without rules.
	Flag string
	// gtid is the transaction's GTID, for the flags that skip it.
	gtid txn.GTID
}

// Error says what is refused, why, and how to skip it or stop before it.
func (e *Error) Error() string { return e.Flag + " cannot apply " + e.Detail() }

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
	err := &Error{Txn: t.Ref(), Event: fmt.Sprintf("%s at %s", e.TypeName, e.Pos), Why: string(why), Flag: "--rewrite-db", gtid: t.GTID}
	switch {
	case len(rw.to) > 0:
	case rw.filter.FiltersTables():
		err.Flag = "--tables"
	default:
		err.Flag = "--databases"
	}
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
