package pipeline

import (
	"context"
	"sync/atomic"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The SQL apply path (sqlgen.Generator.ApplySQL) applies every row event
// as SQL made from its decoded images: the read stage must decode every
// row event (SkipDecode), and no BINLOG statement is sent, not even the
// format description (needsFormat). With TriggersFire, the target's
// triggers fire for the rows applied as SQL: their writes are in no write
// set, so a write to a table with triggers is a barrier (newKeyer).

// applySQL reports whether every row event is applied as SQL.
func (p *Pipeline) applySQL() bool {
	if p.deps.Gen == nil {
		return false
	}
	applySQL, _ := p.deps.Gen.Modes()
	return applySQL
}

// SkipDecode is what the read stage's reader reads to know whether to
// decode row images (binlog.Options.SkipDecode): off in serial stretches
// (internal/pipeline/adapt). It is nil when every row event is applied as SQL, whose
// statements are made from the images: they are then always decoded.
func (p *Pipeline) SkipDecode() *atomic.Bool {
	if p.applySQL() {
		return nil
	}
	return p.serial.SkipFlag()
}

// needsFormat reports whether t's row events are passed through in
// BINLOG statements, which need the binlog's format description installed
// on the session first.
func (p *Pipeline) needsFormat(t *txn.Txn) bool {
	return hasRowEvents(t) && !p.applySQL()
}

// newKeyer returns the write-set keyer of the dispatch.
func (p *Pipeline) newKeyer() *partition.Keyer {
	k := partition.NewKeyer(p.deps.Tables)
	if p.deps.Gen != nil {
		_, k.TriggersFire = p.deps.Gen.Modes()
	}
	return k
}

// groupGenerator is a Generator that makes the statements of a whole
// group at once (sqlgen.Generator.AppendGroup): on the SQL apply path,
// row events of several transactions then share statements.
type groupGenerator interface {
	AppendGroup(ctx context.Context, dst []sqlgen.Stmt, txns []*txn.Txn) ([]sqlgen.Stmt, error)
}

// txnOf returns the transaction of txns that holds s's event, or the
// first when s is nil or none does.
func txnOf(txns []*txn.Txn, s *sqlgen.Stmt) *txn.Txn {
	if s != nil {
		for _, t := range txns {
			for i := range t.Events {
				if &t.Events[i] == s.Event {
					return t
				}
			}
		}
	}
	return txns[0]
}
