package sqlgen

import (
	"context"
	"fmt"
	"sync"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// A group of source transactions that the pipeline commits as one target
// transaction is, on the SQL apply path, one sequence of row events: the
// statements of consecutive events of one table and kind share multi-row
// statements (sqlbatch.go). Source transactions rarely hold two such
// events in a row (sysbench's four writes alternate tables and kinds), so
// AppendGroup first moves each row event back next to the last earlier
// event of its table and kind, past events it commutes with:
//
//   - events of tables that, on the target, are transactional, have no
//     triggers, no foreign keys either way, no system versioning and are
//     not sequences (nothing but the rows the event carries changes, and
//     nothing reads other rows), with every row keyed by its own primary
//     and unique keys (partition.Keyer with OwnKeysOnly: values the
//     server calls equal give equal keys, NULLs none);
//   - and whose keys share none: they write other rows and other unique
//     values, so neither can change what the other finds, refuses or
//     writes, and the rows end the same in either order.
//
// Any other event (of a table not so, or one that cannot be keyed) stays
// where it is and nothing moves past it. An event joins the latest earlier
// event of its table and kind only when it commutes with every event after
// that one; otherwise it stays after them all. Two events that share a key
// therefore keep their order, and what the group's commit leaves is what
// the events one by one leave: the same rows, the same AUTO_INCREMENT
// counters (the rows carry their values; the counter ends past the largest
// either way). The order inside the group is not observable from outside:
// the group commits as one transaction.

// maxGroupRuns bounds how far back AppendGroup looks for an event's table
// and kind: past that many runs of events it stays where it is.
const maxGroupRuns = 64

// groupKeyer is the key source of AppendGroup, made on first use.
type groupKeyer struct {
	once  sync.Once
	keyer *partition.Keyer
}

// tableSource adapts a TableFunc to partition.TableSource.
type tableSource TableFunc

func (f tableSource) Table(ctx context.Context, schemaName, table string) (*schema.Table, error) {
	return f(ctx, schemaName, table)
}

// run is a sequence of row events AppendGroup keeps together: of one
// table and kind, or a single event nothing moves past (barrier).
type run struct {
	table   *txn.TableMap
	op      txn.Op
	barrier bool
	events  []*txn.Event
	keys    map[partition.Key]struct{}
}

// AppendGroup appends to dst the statements that apply txns as one target
// transaction, without BEGIN and COMMIT, each statement's Txn set to the
// transaction of its first row event. On the SQL apply path, when every
// transaction holds only table maps and row events, the row events are
// applied in an order that batches them across transactions (see above);
// otherwise it is AppendBody for each transaction in turn.
func (sa *Generator) AppendGroup(ctx context.Context, dst []Stmt, txns []*txn.Txn) ([]Stmt, error) {
	if !sa.groupable(txns) {
		for _, t := range txns {
			from := len(dst)
			var err error
			if dst, err = sa.AppendBody(ctx, dst, t); err != nil {
				return nil, err
			}
			for i := from; i < len(dst); i++ {
				dst[i].Txn = t
			}
		}
		return dst, nil
	}
	events, err := sa.groupOrder(ctx, txns)
	if err != nil {
		return nil, err
	}
	from := len(dst)
	out := dst
	batch := newBatcher(ctx, sa.Tables, sa.sqlOptions(), &out)
	for _, e := range events {
		if err := batch.add(e); err != nil {
			return nil, err
		}
	}
	batch.end()
	owner := make(map[*txn.Event]*txn.Txn, len(events))
	for _, t := range txns {
		for i := range t.Events {
			owner[&t.Events[i]] = t
		}
	}
	for i := from; i < len(out); i++ {
		e := out[i].Event
		if c := out[i].Check; c != nil && len(c.Events) > 0 {
			e = c.Events[0] // the statement's own row event (see Stmt.Check)
		}
		out[i].Txn = owner[e]
	}
	return out, nil
}

// groupable reports whether txns can be applied as one sequence of row
// events made into SQL.
func (sa *Generator) groupable(txns []*txn.Txn) bool {
	if sa == nil || !sa.ApplySQL || sa.Tables == nil || len(txns) < 2 {
		return false
	}
	for _, t := range txns {
		if t.Kind != txn.KindRows {
			return false
		}
		for i := range t.Events {
			e := &t.Events[i]
			switch e.Kind {
			case txn.EventTableMap:
			case txn.EventRows:
				if e.Rows == nil || e.Rows.Table == nil || !e.Rows.Decoded {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

// groupOrder returns the row events of txns in the order AppendGroup
// applies them.
func (sa *Generator) groupOrder(ctx context.Context, txns []*txn.Txn) ([]*txn.Event, error) {
	sa.keys.once.Do(func() {
		sa.keys.keyer = partition.NewKeyer(tableSource(sa.Tables))
		sa.keys.keyer.OwnKeysOnly = true
		sa.keys.keyer.TriggersFire = sa.TriggersFire
	})
	var runs []*run
	n := 0
	for _, t := range txns {
		for i := range t.Events {
			e := &t.Events[i]
			if e.Kind != txn.EventRows {
				continue
			}
			n++
			keys, err := sa.movable(ctx, e)
			if err != nil {
				return nil, err
			}
			if keys == nil {
				runs = append(runs, &run{barrier: true, events: []*txn.Event{e}})
				continue
			}
			if r := joinable(runs, e, keys); r != nil {
				r.events = append(r.events, e)
				for _, k := range keys {
					r.keys[k] = struct{}{}
				}
				continue
			}
			r := &run{table: e.Rows.Table, op: e.Rows.Op, events: []*txn.Event{e}, keys: make(map[partition.Key]struct{}, len(keys))}
			for _, k := range keys {
				r.keys[k] = struct{}{}
			}
			runs = append(runs, r)
		}
	}
	events := make([]*txn.Event, 0, n)
	for _, r := range runs {
		events = append(events, r.events...)
	}
	return events, nil
}

// joinable returns the run e may join: the latest of its table and kind
// such that e shares no key with any run after it; nil when there is none.
func joinable(runs []*run, e *txn.Event, keys []partition.Key) *run {
	for i, seen := len(runs)-1, 0; i >= 0 && seen < maxGroupRuns; i, seen = i-1, seen+1 {
		r := runs[i]
		if r.barrier {
			return nil
		}
		if r.op == e.Rows.Op && r.table.Schema == e.Rows.Table.Schema && r.table.Table == e.Rows.Table.Table {
			return r
		}
		for _, k := range keys {
			if _, ok := r.keys[k]; ok {
				return nil
			}
		}
	}
	return nil
}

// movable returns the keys of the rows of row event e when e may move
// past the events of other rows (see above), and nil when it may not.
// err is set only when the target's table definitions cannot be read.
func (sa *Generator) movable(ctx context.Context, e *txn.Event) ([]partition.Key, error) {
	tm := e.Rows.Table
	t, err := sa.Tables(ctx, tm.Schema, tm.Table)
	if err != nil {
		return nil, &RowsError{Event: e, Err: fmt.Errorf("SQL apply: table %s: read its definition on the target: %w",
			QuoteIdent(tm.Schema)+"."+QuoteIdent(tm.Table), err)}
	}
	if !t.Transactional || t.HasTriggers || len(t.ForeignKeys) > 0 || len(t.ReferencedBy) > 0 || t.SystemVersioned || t.Sequence {
		return nil, nil
	}
	rows, reason, err := sa.keys.keyer.RowKeys(ctx, e)
	if err != nil {
		return nil, &RowsError{Event: e, Err: fmt.Errorf("SQL apply: %w", err)}
	}
	if reason != "" {
		return nil, nil
	}
	keys := make([]partition.Key, 0, 2*len(rows))
	for _, r := range rows {
		keys = append(keys, r...)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}
