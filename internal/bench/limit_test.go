package bench

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestLimitPacker packs statements as binlog-replay's sessions send them:
// consecutive row events in one BINLOG statement within the size limit,
// consecutive SQL in one packet, a statement that must go alone (or fails
// on the source) in its own.
func TestLimitPacker(t *testing.T) {
	ev := func(n int) []*txn.Event { return []*txn.Event{{Raw: make([]byte, n)}} }
	p := &limitPacker{limit: 1000}
	p.add([]sqlgen.Stmt{
		{Events: ev(100)}, {Events: ev(100)}, // one BINLOG
		{SQL: "SET @a=1"}, {SQL: "SET @b=2"}, // one packet
		{SQL: "INSERT INTO t VALUES (1)", Alone: true},
		{SQL: "SET @c=3"},
		{SQL: "DELETE FROM t", ExpectErr: 1451, Alone: true},
		{Events: ev(600)}, {Events: ev(600)}, // over the limit together: two
	})
	var got []string
	for _, pk := range p.packets {
		s := pk.sql
		if strings.HasPrefix(s, "BINLOG") {
			s = "BINLOG x" + string(rune('0'+strings.Count(s, "\n")-1))
		}
		if pk.expectErr != 0 {
			s += " (expect error)"
		}
		got = append(got, s)
	}
	want := []string{"BINLOG x2", "SET @a=1;\nSET @b=2", "INSERT INTO t VALUES (1)", "SET @c=3",
		"DELETE FROM t (expect error)", "BINLOG x1", "BINLOG x1"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") || p.err != nil {
		t.Errorf("packets %q (err %v), want %q", got, p.err, want)
	}
	p = &limitPacker{limit: 100}
	p.add([]sqlgen.Stmt{{Events: ev(200)}})
	if p.err == nil {
		t.Error("a BINLOG statement over the limit was packed")
	}
}
