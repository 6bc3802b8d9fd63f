// Package partition computes the write set of each transaction and, from the
// write sets, which earlier transaction each one must wait for, so that
// independent transactions can be applied in parallel while the target ends
// up as if they had been applied one by one in source order.
//
// A write set is a set of Keys: hashes of (schema, table, key name,
// normalized values) for every primary and unique key value a transaction's
// row images hold, before and after, plus the parent keys its foreign keys
// point to. Two transactions that share a key touch the same row, the same
// unique value, or a parent and child row, and must not overlap. A
// transaction that cannot be keyed safely is a barrier: it runs alone.
package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Key is one element of a write set: a 64-bit hash of a schema, a table, a
// key name and the key's normalized values. Equal values under the column's
// collation give equal Keys; a hash collision only adds a false dependency.
type Key uint64

// TableSource gives table definitions; *schema.Cache implements it. Table's
// error wraps schema.ErrNoTable when the table does not exist.
type TableSource interface {
	Table(ctx context.Context, schema, table string) (*schema.Table, error)
}

// KeysOf returns the write set of t, computing every table's plan afresh;
// a Keyer reuses them across transactions. See Keyer.KeysOf.
func KeysOf(ctx context.Context, t *txn.Txn, tables TableSource) (keys []Key, barrier bool, reason string, err error) {
	return NewKeyer(tables).KeysOf(ctx, t)
}

// Keyer computes write sets, keeping per table what it worked out from the
// table's definition until the TableSource returns a new definition. It is
// safe for concurrent use; set TriggersFire before the first KeysOf.
type Keyer struct {
	// TriggersFire makes every write to a table that has triggers on the
	// target a barrier. Set it when rows are applied as SQL statements,
	// which fire the target's triggers (their writes are in no write set);
	// leave it unset for BINLOG passthrough, where row events do not fire
	// them (MariaDB slave_run_triggers_for_rbr=NO, the default).
	TriggersFire bool
	// OwnKeysOnly leaves out of the keys those of foreign keys (a child
	// row keyed with its parent's key, a parent's referenced columns): a
	// row's keys are then those of its table's own primary and unique
	// keys, which say whether two writes wrote the same row (or the same
	// unique value). Set it before the first KeysOf.
	OwnKeysOnly bool

	tables TableSource

	mu    sync.Mutex
	plans map[tableKey]*plan
}

type tableKey struct{ schema, table string }

// NewKeyer returns a Keyer reading table definitions from tables.
func NewKeyer(tables TableSource) *Keyer {
	return &Keyer{tables: tables, plans: map[tableKey]*plan{}}
}

// KeysOf returns the write set of a KindRows transaction, sorted and without
// duplicates: for every row image (before and after) a key per primary and
// unique key whose values are all non-NULL, and a key per foreign key
// equal to the key the parent row has in the referenced unique key (or in
// the referenced columns, which the parent then emits too).
//
// It returns barrier=true and a reason when t cannot be keyed safely: not a
// KindRows transaction, rows not decoded, a table unknown on the target or
// whose column count differs from the table map, a table with no primary
// key and no unique key on NOT NULL columns, a key column missing from a
// MINIMAL image where its value is needed, a value of an unknown type, a
// delete (or an update of referenced columns) on a parent whose children
// have ON DELETE (ON UPDATE) CASCADE, SET NULL or SET DEFAULT: the server
// writes those child rows without logging them.
//
// With an update whose images do not show a unique key's columns at all
// (MINIMAL), the key did not change: it is left out, the row's identity key
// orders it with every transaction that touches the row.
//
// Values are normalized so that values the server calls equal give equal
// keys: integers by value (int64 or uint64, negative values of unsigned
// columns reinterpreted), DECIMAL text without redundant zeros, BINARY(n)
// without its 0x00 padding, strings by their collation weights as the
// server reports them (schema.Column.Weights), trailing spaces dropped, key
// prefixes applied. A collation with contractions (Czech, Danish...) or in
// a charset whose weights are not read (ucs2, utf16, gbk...) makes every
// value of the key equal: safe, but serial.
//
// With TriggersFire set, a write to a table with triggers is a barrier too.
//
// err is set only when the TableSource fails (server error, ctx done).
func (k *Keyer) KeysOf(ctx context.Context, t *txn.Txn) (keys []Key, barrier bool, reason string, err error) {
	if t.Kind != txn.KindRows {
		return nil, true, "a " + t.Kind.String() + " transaction", nil
	}
	for i := range t.Events {
		ev := &t.Events[i]
		switch ev.Kind {
		case txn.EventTableMap:
			continue
		case txn.EventRows:
		default:
			return nil, true, fmt.Sprintf("%s at %s in a rows transaction", ev.TypeName, ev.Pos), nil
		}
		reason, err := k.addRows(ctx, ev, &keys)
		if err != nil {
			return nil, false, "", err
		}
		if reason != "" {
			return nil, true, reason + " (" + ev.TypeName + " at " + ev.Pos.String() + ")", nil
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), false, "", nil
}

// addRows appends the keys of one row event, or returns why it cannot.
func (k *Keyer) addRows(ctx context.Context, ev *txn.Event, keys *[]Key) (string, error) {
	return k.eachRow(ctx, ev, keys, nil)
}

// RowKeys returns the keys of each row of the row event ev, as KeysOf
// keys them: keys[i] are those of the i-th row (the i-th image, or the
// i-th before/after pair of an update), unsorted. reason says why the
// event cannot be keyed (KeysOf's barrier reasons), with keys nil. err is
// set only when the TableSource fails.
func (k *Keyer) RowKeys(ctx context.Context, ev *txn.Event) (keys [][]Key, reason string, err error) {
	var flat []Key
	var starts []int
	reason, err = k.eachRow(ctx, ev, &flat, func(int) { starts = append(starts, len(flat)) })
	if err != nil || reason != "" {
		return nil, reason, err
	}
	keys = make([][]Key, len(starts))
	for i, start := range starts {
		end := len(flat)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		keys[i] = flat[start:end:end]
	}
	return keys, "", nil
}

// eachRow appends the keys of each row of one row event to keys, calling
// start, when set, before each row; it returns why the event cannot be
// keyed, if it cannot.
func (k *Keyer) eachRow(ctx context.Context, ev *txn.Event, keys *[]Key, start func(row int)) (string, error) {
	r := ev.Rows
	if r == nil || r.Table == nil {
		return "row event without its table map", nil
	}
	if !r.Decoded {
		return "row images not decoded", nil
	}
	p, reason, err := k.planFor(ctx, r.Table.Schema, r.Table.Table)
	if err != nil || reason != "" {
		return reason, err
	}
	if p.unusable != "" {
		return p.unusable, nil
	}
	if reason := checkShape(r, p.table); reason != "" {
		return reason, nil
	}
	begin := func(row int) {
		if start != nil {
			start(row)
		}
	}
	switch r.Op {
	case txn.OpInsert:
		for i, row := range r.Rows {
			begin(i)
			if reason := p.addInsert(image{row, r.Columns}, keys); reason != "" {
				return reason, nil
			}
		}
	case txn.OpDelete:
		for i, row := range r.Rows {
			begin(i)
			if reason := p.addDelete(image{row, r.Columns}, keys); reason != "" {
				return reason, nil
			}
		}
	case txn.OpUpdate:
		for i := 0; i+1 < len(r.Rows); i += 2 {
			begin(i / 2)
			before, after := image{r.Rows[i], r.Columns}, image{r.Rows[i+1], r.ColumnsAfter}
			if reason := p.addUpdate(before, after, keys); reason != "" {
				return reason, nil
			}
		}
	default:
		return "unknown row operation " + r.Op.String(), nil
	}
	return "", nil
}

// planFor returns the plan of a table, building it when the table's
// definition (or a parent's) changed. A table missing on the target gives
// a reason.
func (k *Keyer) planFor(ctx context.Context, schemaName, table string) (*plan, string, error) {
	t, err := k.tables.Table(ctx, schemaName, table)
	if errors.Is(err, schema.ErrNoTable) {
		return nil, "table " + quote(schemaName, table) + " not found on the target", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read table %s: %w", quote(schemaName, table), err)
	}
	key := tableKey{schemaName, table}
	k.mu.Lock()
	p := k.plans[key]
	k.mu.Unlock()
	if p != nil && p.table == t {
		stale, err := p.stale(ctx, k.tables)
		if err != nil {
			return nil, "", err
		}
		if !stale {
			return p, "", nil
		}
	}
	if p, err = buildPlan(ctx, t, k.tables); err != nil {
		return nil, "", err
	}
	if k.OwnKeysOnly {
		p.groups = slices.DeleteFunc(p.groups, func(g group) bool { return !g.own })
	}
	if k.TriggersFire && t.HasTriggers && p.unusable == "" {
		p.unusable = "table " + quote(t.Schema, t.Name) + " has triggers on the target"
	}
	k.mu.Lock()
	k.plans[key] = p
	k.mu.Unlock()
	return p, "", nil
}

// checkShape verifies that the event's images line up with the definition.
func checkShape(r *txn.Rows, t *schema.Table) string {
	n := len(t.Columns)
	name := quote(t.Schema, t.Name)
	if m := len(r.Table.ColumnTypes); m != n {
		return fmt.Sprintf("table map of %s has %d columns, the target's table %d", name, m, n)
	}
	for i, cn := range r.Table.ColumnNames {
		if !strings.EqualFold(cn, t.Columns[i].Name) {
			return fmt.Sprintf("column %d of %s is `%s` in the table map, `%s` on the target", i+1, name, cn, t.Columns[i].Name)
		}
	}
	if len(r.Columns) != n || (r.Op == txn.OpUpdate && len(r.ColumnsAfter) != n) {
		return "column bitmap of " + name + " does not match its column count"
	}
	if r.Op == txn.OpUpdate && len(r.Rows)%2 != 0 {
		return "update of " + name + " with an odd number of images"
	}
	for _, row := range r.Rows {
		if len(row) != n {
			return "row image of " + name + " does not match its column count"
		}
	}
	return ""
}

// image is one row image and the bitmap of the columns it holds.
type image struct {
	vals    []any
	present []bool
}

func (im *image) hasAll(cols []int) bool {
	for _, c := range cols {
		if !im.present[c] {
			return false
		}
	}
	return true
}

func (im *image) hasAny(cols []int) bool {
	for _, c := range cols {
		if im.present[c] {
			return true
		}
	}
	return false
}

func (p *plan) addInsert(after image, keys *[]Key) string {
	for i := range p.groups {
		g := &p.groups[i]
		if !after.hasAll(g.cols) {
			return g.what + ": a column is missing from the inserted image"
		}
		if reason := g.emit(&after, nil, keys); reason != "" {
			return reason
		}
	}
	return ""
}

func (p *plan) addDelete(before image, keys *[]Key) string {
	for _, c := range p.cascades {
		if c.onDelete {
			return "delete from " + quote(p.table.Schema, p.table.Name) + " cascades to " + c.child
		}
	}
	for i := range p.groups {
		g := &p.groups[i]
		if !before.hasAll(g.cols) {
			return g.what + ": a column is missing from the deleted image"
		}
		if reason := g.emit(&before, nil, keys); reason != "" {
			return reason
		}
	}
	return ""
}

// addUpdate keys both images. A group whose columns the after image does
// not hold kept its value: its before key suffices, or, when the before
// image lacks it too (MINIMAL), the row's identity key does.
func (p *plan) addUpdate(before, after image, keys *[]Key) string {
	for _, c := range p.cascades {
		if c.onUpdate && changed(&before, &after, c.cols) {
			return "update of " + quote(p.table.Schema, p.table.Name) + " may cascade to " + c.child
		}
	}
	for i := range p.groups {
		g := &p.groups[i]
		touched := after.hasAny(g.cols)
		switch {
		case before.hasAll(g.cols):
			if reason := g.emit(&before, nil, keys); reason != "" {
				return reason
			}
		case touched || g.identity:
			return g.what + ": a column is missing from the before image"
		}
		if !touched {
			continue
		}
		for _, c := range g.cols {
			if !after.present[c] && !before.present[c] {
				return g.what + ": a column is missing from the after image"
			}
		}
		if reason := g.emit(&after, &before, keys); reason != "" {
			return reason
		}
	}
	return ""
}

// changed reports whether an update may have changed one of cols: the after
// image holds it with another value, or without a before value to compare.
func changed(before, after *image, cols []int) bool {
	for _, c := range cols {
		if after.present[c] && (!before.present[c] || !sameValue(before.vals[c], after.vals[c])) {
			return true
		}
	}
	return false
}

// sameValue compares two decoded values exactly (by bytes for strings).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case int64, uint64, float32, float64, string:
		return a == b
	}
	return false
}

// emit appends g's key for a row whose values come from a, or from b where
// a lacks the column. A NULL value means no key (NULLs never conflict); for
// the identity key it is a reason, as is a value of an unknown type.
func (g *group) emit(a, b *image, keys *[]Key) string {
	h := g.prefix
	for i, c := range g.cols {
		v := a.vals[c]
		if !a.present[c] {
			v = b.vals[c]
		}
		if v == nil {
			if g.identity {
				return g.what + ": NULL in the row's identity key"
			}
			return ""
		}
		if !writeValue(&h, v, g.specs[i], g.prefixes[i]) {
			return fmt.Sprintf("%s: value of unknown type %T", g.what, v)
		}
	}
	*keys = append(*keys, Key(h))
	return ""
}
