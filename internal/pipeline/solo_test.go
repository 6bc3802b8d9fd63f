package pipeline

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/go-sql-driver/mysql"
)

// TestStatementList: a statement-format transaction that writes
// non-transactional tables has no table maps to name them, so the reason
// it is applied apart (and an uncertain refusal) lists its statements,
// values hidden unless asked, and says triggers may write more.
func TestStatementList(t *testing.T) {
	q := func(schema, sql string) txn.Event {
		return txn.Event{Kind: txn.EventQuery, Query: &txn.Query{Schema: schema, SQL: []byte(sql)}}
	}
	tx := &txn.Txn{Kind: txn.KindStatement, NonTransactional: true, Events: []txn.Event{
		q("soak", "BEGIN"), q("soak", "UPDATE m3 SET n = n + 1 WHERE id = 42"),
		q("soak", "INSERT INTO mcount VALUES ('secret', "+strings.Repeat("7", 300)+")"), q("soak", "COMMIT")}}
	got := statementList(tx, false)
	for _, want := range []string{"its statements: (in soak) UPDATE m3 SET", "(in soak) INSERT INTO mcount", "triggers"} {
		if !strings.Contains(got, want) {
			t.Errorf("statementList = %q, want it to hold %q", got, want)
		}
	}
	for _, hidden := range []string{"42", "secret", "BEGIN", "COMMIT"} {
		if strings.Contains(got, hidden) {
			t.Errorf("statementList = %q, holds %q", got, hidden)
		}
	}
	if got := statementList(tx, true); !strings.Contains(got, "WHERE id = 42") || !strings.Contains(got, "777...") {
		t.Errorf("statementList with values = %q, want the values, the long statement cut", got)
	}
	if got := statementList(&txn.Txn{}, false); got != "" {
		t.Errorf("statementList of no statements = %q, want nothing", got)
	}
}

// TestUncertainMemoryHint: a transaction writing a MEMORY table that the
// target refuses with "can't find record" is explained (a base backup
// holds no MEMORY rows); other tables and errors are not.
func TestUncertainMemoryHint(t *testing.T) {
	const hint = "a base backup holds none"
	notFound := &mysql.MySQLError{Number: 1032, Message: "Can't find record in 'm'"}
	cases := []struct {
		what string
		err  error
		want bool
	}{
		{"it writes non-transactional tables: d.m (MEMORY on the target)", notFound, true},
		{"it writes non-transactional tables: d.m (MyISAM on the target)", notFound, false},
		{"it writes non-transactional tables: d.m (MEMORY on the target)", &mysql.MySQLError{Number: 1062}, false},
		{"it writes non-transactional tables: d.m (MEMORY on the target)", nil, false},
	}
	for _, c := range cases {
		msg := (&UncertainError{What: c.what, Err: c.err}).Error()
		if got := strings.Contains(msg, hint); got != c.want {
			t.Errorf("%s, %v: hint %v, want %v: %s", c.what, c.err, got, c.want, msg)
		}
	}
}

// TestSoloNothingLeft: a transaction the binlog marks as writing
// non-transactional tables is applied apart (its outcome can be unknown
// after a lost target), but not once the filters have left nothing of it
// but BEGIN and COMMIT: its commit then holds the checkpoint alone, and a
// resume must not refuse to guess its outcome (soak seed 123082).
func TestSoloNothingLeft(t *testing.T) {
	q := func(sql string) txn.Event {
		return txn.Event{Kind: txn.EventQuery, Query: &txn.Query{Schema: "soak", SQL: []byte(sql)}}
	}
	p := &Pipeline{}
	for _, c := range []struct {
		name   string
		events []txn.Event
		solo   bool
	}{
		{"a statement", []txn.Event{q("BEGIN"), q("INSERT INTO tmp_s0 VALUES (1, 2)"), q("COMMIT")}, true},
		{"BEGIN and COMMIT only", []txn.Event{q("BEGIN"), q("COMMIT")}, false},
		{"no event", nil, false},
		{"rows", []txn.Event{q("BEGIN"), {Kind: txn.EventRows, Rows: &txn.Rows{}}}, true},
	} {
		tx := &txn.Txn{Kind: txn.KindStatement, NonTransactional: true, Events: c.events}
		why, err := p.soloReason(t.Context(), tx)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := why != ""; got != c.solo {
			t.Errorf("%s: applied apart %v (%q), want %v", c.name, got, why, c.solo)
		}
	}
}
