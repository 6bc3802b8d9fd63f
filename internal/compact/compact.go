// Package compact applies the net effect of a group's writes to each row:
// several row events that write the same row within one target commit
// become one, where that provably leaves the target as the writes one by
// one would, row for row, with nothing else observable differing.
//
// It takes only what is clearly safe and leaves everything else as it is:
//
//   - a group of row transactions only (table maps and row events; a
//     statement event, DDL or anything else leaves the group alone), all
//     read with one format description;
//   - rows of tables that, on the target, have a primary key and no other
//     unique key (two unique keys may conflict transiently in another
//     order), no triggers (and no table of the group has triggers: a
//     trigger firing on another table could read the row), no foreign keys
//     either way (cascades, checks), no system versioning (history rows),
//     a transactional engine, and no hidden columns; row events that hold
//     every column in every image (binlog_row_image=FULL), decoded, of the
//     types the row editor takes, with the table map's columns the same
//     in every event of the table;
//   - a table where an update changes a primary key value is left alone
//     in the group.
//
// Rows are identified by the exact values of their primary key columns.
// Between an insert and a delete a row keeps those bytes (an update that
// changes them leaves the table alone), so a run of writes with the same
// values is one lifetime of one row (or of a row the collation calls
// equal, whose lifetimes never overlap: each run's result stays between
// its first and last write). Per row, each lifetime (a run ending with its
// delete, or at the group's end) becomes:
//
//   - INSERT, UPDATE...: one INSERT of the last after image (where the
//     insert was);
//   - UPDATE, UPDATE...: one UPDATE from the first before image to the last
//     after image (where the last update was);
//   - UPDATE..., DELETE: one DELETE of the first before image (where the
//     delete was);
//   - INSERT, UPDATE..., DELETE: nothing; with an AUTO_INCREMENT column,
//     whose counter the insert moves, the INSERT and a DELETE of its image
//     for the one such lifetime of the table that inserted the largest
//     value (the counter ends past it whatever the others inserted), and
//     nothing for the others (every one kept as INSERT and DELETE when a
//     value is not a non-negative integer);
//   - anything else (a single write, a run the rules above do not describe)
//     is left as it is; a DELETE then an INSERT of the same key stay two.
//
// Row events are rebuilt on their bytes (rowedit), so values keep their
// exact binary form; a statement (table maps and the row events up to the
// one that ends it) left without rows is dropped whole, and the last row
// event left in a statement ends it. The transactions stay the same
// transactions: the group commits as one target transaction with its
// checkpoint, and only its statements change.
package compact

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/binlog-replay/binlog-replay/binlog/rowedit"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TableSource gives the target's table definitions; *schema.Cache
// implements it.
type TableSource interface {
	Table(ctx context.Context, schema, table string) (*schema.Table, error)
}

// Compactor compacts groups of transactions (Group). It is safe for
// concurrent use.
type Compactor struct {
	tables TableSource

	mu      sync.Mutex
	editors map[*txn.Format]*rowedit.Editor

	rowsIn, rowsOut atomic.Uint64
}

// New returns a Compactor that reads table definitions from tables.
func New(tables TableSource) *Compactor {
	return &Compactor{tables: tables, editors: map[*txn.Format]*rowedit.Editor{}}
}

// Stats returns how many rows (images, or before/after pairs) the groups
// Group compacted held, and how many they hold once compacted.
func (c *Compactor) Stats() (in, out uint64) { return c.rowsIn.Load(), c.rowsOut.Load() }

// Group returns the transactions to apply in place of txns, a group that
// commits as one target transaction: txns itself when nothing is
// compacted, else a slice of the same length in which the transactions
// some of whose rows were compacted are shallow copies with other events
// (possibly none). Anything it cannot read (a table definition the target
// does not give, an event the row editor refuses) leaves the table, or the
// group, as it is.
func (c *Compactor) Group(ctx context.Context, txns []*txn.Txn) []*txn.Txn {
	if len(txns) == 0 {
		return txns
	}
	ed := c.editor(txns[0].Format)
	if ed == nil {
		return txns
	}
	g := &groupRows{ed: ed}
	for i, t := range txns {
		if t.Kind != txn.KindRows || t.Format != txns[0].Format {
			return txns
		}
		for j := range t.Events {
			e := &t.Events[j]
			switch e.Kind {
			case txn.EventTableMap:
			case txn.EventRows:
				g.add(i, j, e)
			default:
				return txns
			}
		}
	}
	if !g.check(ctx, c.tables) {
		return txns
	}
	plan := map[rowRef]action{}
	var in, kept uint64
	for _, tr := range g.order {
		if tr.unsafe != "" {
			continue
		}
		in += uint64(len(tr.rows))
		kept += uint64(tr.compact(plan))
	}
	if len(plan) == 0 {
		return txns
	}
	out, err := rewrite(ed, txns, plan)
	if err != nil {
		return txns
	}
	c.rowsIn.Add(in)
	c.rowsOut.Add(kept)
	return out
}

// editor returns the row editor of format f, nil when there is none.
func (c *Compactor) editor(f *txn.Format) *rowedit.Editor {
	if f == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ed, ok := c.editors[f]; ok {
		return ed
	}
	ed, err := rowedit.NewEditor(f)
	if err != nil {
		ed = nil
	}
	c.editors[f] = ed
	return ed
}

// rowRef names one row of a group: the row-th row (image, or before/after
// pair) of event ev of transaction tx.
type rowRef struct{ tx, ev, row int }

// row is one write of a group to a table.
type row struct {
	ref rowRef
	op  txn.Op
	ev  *txn.Event
	// values are the row's decoded images (before and after for an
	// update).
	values [][]any
}

// image names one image of a row: the k-th image of the row event ev,
// whose decoded values are values.
type image struct {
	ev     *txn.Event
	k      int
	values []any
}

// imageOf returns the before image (or only image) of r, or with after
// the after image of an update.
func (r *row) imageOf(after bool) image {
	per, k := 1, 0
	if r.op == txn.OpUpdate {
		per = 2
	}
	if after {
		k = 1
	}
	return image{ev: r.ev, k: r.ref.row*per + k, values: r.values[k]}
}

// action is what becomes of a row: dropped, or written with other images.
type action struct {
	drop   bool
	images []image
}

// tableRows are the writes of a group to one table.
type tableRows struct {
	schema, name string
	tm           *txn.TableMap // the first event's
	def          *schema.Table
	rows         []row
	// unsafe says why the table's rows are left as they are.
	unsafe string
}

// groupRows are the writes of a group, by table.
type groupRows struct {
	ed *rowedit.Editor
	// bad says the group is left alone as a whole.
	bad   bool
	order []*tableRows
}

// add records the rows of the row event e, event j of transaction i.
func (g *groupRows) add(i, j int, e *txn.Event) {
	r := e.Rows
	if r == nil || r.Table == nil {
		g.unknown()
		return
	}
	tr := g.table(r.Table)
	if tr.unsafe != "" {
		return
	}
	if reason := eventUnsafe(tr.tm, e); reason != "" {
		tr.unsafe = reason
		return
	}
	per := 1
	if r.Op == txn.OpUpdate {
		per = 2
	}
	if len(r.Rows)%per != 0 {
		tr.unsafe = "an update without before/after pairs"
		return
	}
	for k := 0; k < len(r.Rows); k += per {
		tr.rows = append(tr.rows, row{ref: rowRef{i, j, k / per}, op: r.Op, ev: e, values: r.Rows[k : k+per : k+per]})
	}
}

// table returns the writes to the table of tm, recorded from now on.
func (g *groupRows) table(tm *txn.TableMap) *tableRows {
	for _, tr := range g.order {
		if tr.schema == tm.Schema && tr.name == tm.Table {
			return tr
		}
	}
	tr := &tableRows{schema: tm.Schema, name: tm.Table, tm: tm}
	g.order = append(g.order, tr)
	return tr
}

// unknown marks the whole group as one to leave alone: a row event
// without its table map.
func (g *groupRows) unknown() {
	g.bad = true
}

// eventUnsafe says why the rows of the row event e cannot be compacted
// with those of the table's first event, whose table map is first; ""
// when they can.
func eventUnsafe(first *txn.TableMap, e *txn.Event) string {
	r, tm := e.Rows, e.Rows.Table
	switch {
	case len(e.Raw) < 5 || !rowedit.Editable(e.Raw[4]):
		return e.TypeName + " events cannot be edited"
	case !r.Decoded:
		return "rows not decoded"
	case r.Op != txn.OpInsert && r.Op != txn.OpUpdate && r.Op != txn.OpDelete:
		return "unknown row operation"
	case !full(r.Columns, len(tm.ColumnTypes)) || (r.Op == txn.OpUpdate && !full(r.ColumnsAfter, len(tm.ColumnTypes))):
		return "images without every column (binlog_row_image MINIMAL or NOBLOB)"
	case !slices.Equal(tm.ColumnTypes, first.ColumnTypes) || !slices.Equal(tm.ColumnMeta, first.ColumnMeta):
		return "table maps with other columns"
	}
	return ""
}

// full reports whether cols lists n columns, all present.
func full(cols []bool, n int) bool { return len(cols) == n && !slices.Contains(cols, false) }

// check reads the definition of every table of the group and marks those
// whose rows cannot be compacted. It returns false when the group must be
// left alone as a whole.
func (g *groupRows) check(ctx context.Context, tables TableSource) bool {
	if g.bad {
		return false
	}
	for _, tr := range g.order {
		def, err := tables.Table(ctx, tr.schema, tr.name)
		if err != nil || def == nil {
			return false
		}
		if def.HasTriggers {
			return false // a trigger may read any table of the group
		}
		tr.def = def
		if tr.unsafe == "" {
			tr.unsafe = tableUnsafe(def, tr.tm)
		}
	}
	return true
}

// tableUnsafe says why the rows of the table def, written with table map
// tm, cannot be compacted; "" when they can.
func tableUnsafe(def *schema.Table, tm *txn.TableMap) string {
	pk := def.PrimaryKey()
	switch {
	case pk == nil:
		return "no primary key"
	case len(def.Indexes) != 1:
		return "a unique key besides the primary key"
	case len(def.ForeignKeys) > 0 || len(def.ReferencedBy) > 0:
		return "foreign keys"
	case def.SystemVersioned:
		return "system versioned"
	case !def.Transactional:
		return "not transactional"
	case len(def.Columns) != len(tm.ColumnTypes):
		return "the table map's columns differ from the target's"
	}
	for _, c := range pk.Columns {
		if c < 0 || c >= len(def.Columns) {
			return "a primary key part that is not a column"
		}
	}
	for i := range def.Columns {
		if def.Columns[i].Hidden {
			return "hidden columns"
		}
	}
	return ""
}

// autoIncrement returns the position of the table's AUTO_INCREMENT
// column, -1 when it has none.
func (tr *tableRows) autoIncrement() int {
	for i := range tr.def.Columns {
		if tr.def.Columns[i].AutoIncrement {
			return i
		}
	}
	return -1
}

// compact adds to plan what becomes of the table's rows and returns how
// many rows are written once compacted. A primary key change leaves the
// table's rows as they are.
func (tr *tableRows) compact(plan map[rowRef]action) int {
	pk := tr.def.PrimaryKey().Columns
	var key, after []byte
	chains := map[string]int{} // positions in lists
	var lists [][]int
	for i := range tr.rows {
		r := &tr.rows[i]
		var ok bool
		if key, ok = appendIdentity(key[:0], r.values[0], pk); !ok {
			return len(tr.rows)
		}
		if r.op == txn.OpUpdate {
			if after, ok = appendIdentity(after[:0], r.values[1], pk); !ok || !bytes.Equal(after, key) {
				return len(tr.rows) // a primary key change
			}
		}
		n, seen := chains[string(key)]
		if !seen {
			n = len(lists)
			chains[string(key)] = n
			lists = append(lists, nil)
		}
		lists[n] = append(lists[n], i)
	}
	autoInc := tr.autoIncrement()
	kept := 0
	var vanished [][]int
	for _, chain := range lists {
		kept += tr.compactChain(chain, autoInc >= 0, plan, &vanished)
	}
	return kept + tr.keepCounter(vanished, autoInc, plan)
}

// keepCounter adds to plan what becomes of the lifetimes that vanish in
// the group (INSERT, UPDATE..., DELETE) of a table with an AUTO_INCREMENT
// column at position col, and returns how many rows remain. Such a
// lifetime leaves nothing but the table's counter moved past its inserted
// value, and the counter only ever moves up to past the largest value
// inserted: the lifetime that inserted the largest value is applied as
// its INSERT and a DELETE of its image, the others not at all. When a
// value is not a non-negative integer (a negative one, or an UNSIGNED
// value read as a signed one), every such lifetime is applied as its
// INSERT and DELETE.
func (tr *tableRows) keepCounter(vanished [][]int, col int, plan map[rowRef]action) int {
	if len(vanished) == 0 {
		return 0
	}
	largest := -1
	var top uint64
	for i, life := range vanished {
		v, ok := counterValue(tr.rows[life[0]].values[0], col)
		if !ok {
			largest = -1
			break
		}
		if largest < 0 || v > top {
			largest, top = i, v
		}
	}
	kept := 0
	for i, life := range vanished {
		if largest >= 0 && i != largest {
			for _, r := range life {
				plan[tr.rows[r].ref] = action{drop: true}
			}
			continue
		}
		kept += 2
		if inner := life[1 : len(life)-1]; len(inner) > 0 {
			for _, r := range inner {
				plan[tr.rows[r].ref] = action{drop: true}
			}
			first, last := &tr.rows[life[0]], &tr.rows[life[len(life)-1]]
			plan[last.ref] = action{images: []image{first.imageOf(false)}}
		}
	}
	return kept
}

// counterValue returns the value of column col of an inserted image as
// the AUTO_INCREMENT counter compares it; false when it is not a
// non-negative integer.
func counterValue(image []any, col int) (uint64, bool) {
	if col < 0 || col >= len(image) {
		return 0, false
	}
	switch v := image[col].(type) {
	case int64:
		return uint64(v), v >= 0
	case uint64:
		return v, true
	}
	return 0, false
}

// compactChain adds to plan what becomes of the writes to one row (rows
// indexes of tr.rows, in order) and returns how many rows remain. With
// autoInc, the lifetimes that vanish are added to vanished instead, for
// keepCounter.
func (tr *tableRows) compactChain(chain []int, autoInc bool, plan map[rowRef]action, vanished *[][]int) int {
	if !wellFormed(tr.rows, chain) {
		return len(chain)
	}
	kept := 0
	for start := 0; start < len(chain); {
		end := start + 1
		for end < len(chain) && tr.rows[chain[end-1]].op != txn.OpDelete {
			end++
		}
		life := chain[start:end]
		if autoInc && len(life) > 1 && tr.rows[life[0]].op == txn.OpInsert && tr.rows[life[len(life)-1]].op == txn.OpDelete {
			*vanished = append(*vanished, life)
		} else {
			kept += tr.compactLife(life, plan)
		}
		start = end
	}
	return kept
}

// wellFormed reports whether the operations of chain follow one another
// as the writes to one row can: an insert or an update is followed by an
// update or a delete, a delete by an insert.
func wellFormed(rows []row, chain []int) bool {
	for i := 1; i < len(chain); i++ {
		prev, op := rows[chain[i-1]].op, rows[chain[i]].op
		if (prev == txn.OpDelete) != (op == txn.OpInsert) {
			return false
		}
	}
	return true
}

// compactLife adds to plan what becomes of the writes of one lifetime of a
// row: [INSERT] UPDATE* [DELETE], at least one write, in a table without
// an AUTO_INCREMENT column when it vanishes (see keepCounter). It returns
// how many remain.
func (tr *tableRows) compactLife(life []int, plan map[rowRef]action) int {
	if len(life) < 2 {
		return len(life)
	}
	first, last := &tr.rows[life[0]], &tr.rows[life[len(life)-1]]
	drop := func(rows []int) {
		for _, i := range rows {
			plan[tr.rows[i].ref] = action{drop: true}
		}
	}
	switch {
	case first.op == txn.OpInsert && last.op == txn.OpDelete:
		drop(life)
		return 0
	case first.op == txn.OpInsert:
		drop(life[1:])
		plan[first.ref] = action{images: []image{last.imageOf(true)}}
		return 1
	case last.op == txn.OpDelete:
		drop(life[:len(life)-1])
		plan[last.ref] = action{images: []image{first.imageOf(false)}}
		return 1
	default: // updates only
		drop(life[:len(life)-1])
		plan[last.ref] = action{images: []image{first.imageOf(false), last.imageOf(true)}}
		return 1
	}
}

// appendIdentity appends to b the exact values of the columns pk of
// image, encoded with their types; false when a value is NULL or of a
// type it does not encode.
func appendIdentity(b []byte, image []any, pk []int) ([]byte, bool) {
	for _, c := range pk {
		if c >= len(image) {
			return b, false
		}
		switch v := image[c].(type) {
		case int64:
			b = binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(v))
		case uint64:
			b = binary.LittleEndian.AppendUint64(append(b, 'u'), v)
		case float32:
			b = binary.LittleEndian.AppendUint32(append(b, 'f'), math.Float32bits(v))
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, 'd'), math.Float64bits(v))
		case string:
			b = binary.AppendUvarint(append(b, 's'), uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.AppendUvarint(append(b, 'b'), uint64(len(v)))
			b = append(b, v...)
		default:
			return b, false
		}
	}
	return b, true
}

// rewrite returns txns with the actions of plan done: the row events
// rebuilt, the statements left without rows dropped.
func rewrite(ed *rowedit.Editor, txns []*txn.Txn, plan map[rowRef]action) ([]*txn.Txn, error) {
	ic := &imageCache{ed: ed, images: map[*txn.Event][][]byte{}}
	changed := map[int]bool{}
	for ref := range plan {
		changed[ref.tx] = true
	}
	out := slices.Clone(txns)
	for i, t := range txns {
		if !changed[i] {
			continue
		}
		events, err := rewriteTxn(ic, i, t, plan)
		if err != nil {
			return nil, err
		}
		c := *t
		c.Events = events
		out[i] = &c
	}
	return out, nil
}

// rewriteTxn returns the events of t, transaction i of the group, with
// the actions of plan done, statement by statement: a statement is the
// table maps and row events up to the row event that ends it
// (STMT_END_F), or up to the end of t.
func rewriteTxn(ic *imageCache, i int, t *txn.Txn, plan map[rowRef]action) ([]txn.Event, error) {
	var out, stmt []txn.Event
	hadRows := false // whether the statement under way had row events
	last := -1       // where its last row event left is in stmt
	flush := func(ended bool) error {
		switch {
		case hadRows && last < 0:
			// No row left: its table maps go too.
		case last >= 0 && ended && stmt[last].Rows.Flags&txn.RowsFlagStmtEnd == 0:
			// The row event that ended it was dropped: the last one
			// left ends it.
			e, err := ic.ed.SetStmtEnd(&stmt[last])
			if err != nil {
				return err
			}
			stmt[last] = *e
			fallthrough
		default:
			out = append(out, stmt...)
		}
		stmt, hadRows, last = stmt[:0], false, -1
		return nil
	}
	for j := range t.Events {
		e := &t.Events[j]
		if e.Kind != txn.EventRows {
			stmt = append(stmt, *e)
			continue
		}
		hadRows = true
		ne, err := rebuildEvent(ic, rowRef{tx: i, ev: j}, e, plan)
		if err != nil {
			return nil, err
		}
		if ne != nil {
			last = len(stmt)
			stmt = append(stmt, *ne)
		}
		if e.Rows.Flags&txn.RowsFlagStmtEnd != 0 {
			if err := flush(true); err != nil {
				return nil, err
			}
		}
	}
	if len(stmt) > 0 {
		if err := flush(false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rebuildEvent returns the row event e (event at.ev of transaction at.tx)
// with the actions of plan on its rows done: e itself when none applies,
// nil when every row is dropped.
func rebuildEvent(ic *imageCache, at rowRef, e *txn.Event, plan map[rowRef]action) (*txn.Event, error) {
	per := 1
	if e.Rows.Op == txn.OpUpdate {
		per = 2
	}
	n := len(e.Rows.Rows) / per
	touched, left := false, false
	for k := 0; k < n; k++ {
		a, ok := plan[rowRef{at.tx, at.ev, k}]
		touched = touched || ok
		left = left || !ok || !a.drop
	}
	switch {
	case !touched:
		return e, nil
	case !left:
		return nil, nil
	}
	images, err := ic.of(e)
	if err != nil {
		return nil, err
	}
	var outImages [][]byte
	var outValues [][]any
	for k := 0; k < n; k++ {
		a, ok := plan[rowRef{at.tx, at.ev, k}]
		switch {
		case !ok:
			outImages = append(outImages, images[k*per:k*per+per]...)
			outValues = append(outValues, e.Rows.Rows[k*per:k*per+per]...)
		case !a.drop:
			for _, im := range a.images {
				b, v, err := ic.image(im)
				if err != nil {
					return nil, err
				}
				outImages, outValues = append(outImages, b), append(outValues, v)
			}
		}
	}
	if len(outImages) == 0 {
		return nil, nil
	}
	return ic.ed.Rebuild(e, outImages, outValues, e.Rows.Flags&txn.RowsFlagStmtEnd != 0)
}

// imageCache cuts row events into their images (rowedit.Editor.Images)
// once each, for the events a compaction rewrites or takes images from.
type imageCache struct {
	ed     *rowedit.Editor
	images map[*txn.Event][][]byte
}

// of returns the images of the row event e.
func (ic *imageCache) of(e *txn.Event) ([][]byte, error) {
	if images, ok := ic.images[e]; ok {
		return images, nil
	}
	images, err := ic.ed.Images(e)
	if err != nil {
		return nil, err
	}
	if len(images) != len(e.Rows.Rows) {
		return nil, fmt.Errorf("%s at %s: %d images, %d decoded", e.TypeName, e.Pos, len(images), len(e.Rows.Rows))
	}
	ic.images[e] = images
	return images, nil
}

// image returns the bytes and decoded values of im.
func (ic *imageCache) image(im image) ([]byte, []any, error) {
	images, err := ic.of(im.ev)
	if err != nil {
		return nil, nil, err
	}
	return images[im.k], im.values, nil
}

// Describe returns a line saying what c compacted, for a run's log.
func (c *Compactor) Describe() string {
	in, out := c.Stats()
	return fmt.Sprintf("compaction: %d rows of compacted tables written as %d", in, out)
}
