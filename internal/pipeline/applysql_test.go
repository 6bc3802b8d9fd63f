package pipeline

import (
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestApplySQLSettings checks what the SQL apply path changes in the
// pipeline: row images always decoded (no SkipDecode for the reader), no
// format description sent for row events, and, with triggers firing,
// writes to tables with triggers keyed as barriers.
func TestApplySQLSettings(t *testing.T) {
	rows := &txn.Txn{Events: []txn.Event{{Kind: txn.EventTableMap}, {Kind: txn.EventRows}}}
	for _, c := range []struct {
		gen                    *sqlgen.Generator
		skip, format, triggers bool
	}{
		{nil, true, true, false},
		{&sqlgen.Generator{}, true, true, false},
		{&sqlgen.Generator{ApplySQL: true}, false, false, false},
		{&sqlgen.Generator{ApplySQL: true, TriggersFire: true}, false, false, true},
	} {
		p := New(Config{Workers: 4}, Deps{Gen: c.gen})
		if got := p.SkipDecode() != nil; got != c.skip {
			t.Errorf("%+v: SkipDecode set %v, want %v", c.gen, got, c.skip)
		}
		if got := p.needsFormat(rows); got != c.format {
			t.Errorf("%+v: format description needed %v, want %v", c.gen, got, c.format)
		}
		if got := p.newKeyer().TriggersFire; got != c.triggers {
			t.Errorf("%+v: keyer TriggersFire %v, want %v", c.gen, got, c.triggers)
		}
	}
	if p := New(Config{}, Deps{Gen: &sqlgen.Generator{ApplySQL: true}}); p.needsFormat(&txn.Txn{}) {
		t.Error("a transaction without row events needs a format description")
	}
}
