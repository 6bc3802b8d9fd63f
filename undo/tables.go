package undo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// tableInfo is what an undo knows of a table its range writes.
type tableInfo struct {
	name string // db.table
	def  *schema.Table
	// identity is the key that identifies a row (the primary key, else a
	// unique key on NOT NULL columns), nil when there is none: then the
	// table's rows have no write-set keys, and any later write to the
	// table conflicts with all of them.
	identity *schema.Index
	// unkeyed says why the table's rows have no write-set keys ("" when
	// they have).
	unkeyed string
	// rows counts the rows of the range on the table, by operation of the
	// range (not of the undo).
	rows map[txn.Op]int64
}

// tables are the tables of a range, checked on first sight (see check).
type tables struct {
	defs  *schema.Cache
	byKey map[string]*tableInfo
	// warnf receives the warnings (triggers).
	warnf func(format string, args ...any)
}

func newTables(defs *schema.Cache, warnf func(string, ...any)) *tables {
	return &tables{defs: defs, byKey: map[string]*tableInfo{}, warnf: warnf}
}

// of returns the table of the row event e, checking it the first time (see
// check) and e itself every time: an undo refuses a write to a table
// referenced by a foreign key whose action writes child rows (ON DELETE
// or ON UPDATE CASCADE, SET NULL, SET DEFAULT): the server made those
// writes without logging them, so they cannot be undone, and undoing the
// parent's change would make the server write child rows again.
func (ts *tables) of(ctx context.Context, t *txn.Txn, e *txn.Event) (*tableInfo, error) {
	tm := e.Rows.Table
	name := tm.Schema + "." + tm.Table
	ti := ts.byKey[name]
	if ti == nil {
		var err error
		if ti, err = ts.check(ctx, t, tm); err != nil {
			return nil, err
		}
		ts.byKey[name] = ti
	}
	for _, fk := range ti.def.ReferencedBy {
		child := fk.Schema + "." + fk.Table
		switch {
		case e.Rows.Op != txn.OpUpdate && fk.ChangesChildren(true):
			return nil, &RefusedError{Txn: t.Ref(), Why: fmt.Sprintf("%s at %s %ss rows of %s, which foreign key `%s` of %s references ON DELETE %s: "+
				"the server changed the child rows without logging them, and an undo cannot restore them (nor change %s back without the server changing them again)",
				e.TypeName, e.Pos, e.Rows.Op, name, fk.Name, child, fk.OnDelete, name)}
		case e.Rows.Op == txn.OpUpdate && fk.ChangesChildren(false) && changesColumns(e.Rows, ti.def, fk.RefColumns):
			return nil, &RefusedError{Txn: t.Ref(), Why: fmt.Sprintf("%s at %s changes columns of %s that foreign key `%s` of %s references ON UPDATE %s: "+
				"the server changed the child rows without logging them, and an undo cannot restore them",
				e.TypeName, e.Pos, name, fk.Name, child, fk.OnUpdate)}
		}
	}
	return ti, nil
}

// check reads the definition of the table of tm on the target and refuses
// what an undo cannot write: a table missing there, or of another column
// count, or non-transactional.
func (ts *tables) check(ctx context.Context, t *txn.Txn, tm *txn.TableMap) (*tableInfo, error) {
	name := tm.Schema + "." + tm.Table
	def, err := ts.defs.Table(ctx, tm.Schema, tm.Table)
	if errors.Is(err, schema.ErrNoTable) {
		return nil, &RefusedError{Txn: t.Ref(), Why: "its table " + name + " does not exist on the target"}
	}
	if err != nil {
		return nil, fmt.Errorf("read the definition of %s on the target: %w", name, err)
	}
	if !sameColumns(def, len(tm.ColumnTypes)) {
		return nil, &RefusedError{Txn: t.Ref(), Why: fmt.Sprintf("the binlog has %d columns for %s, the target's table %d: "+
			"its definition changed since (an undo needs the table as the binlog wrote it)", len(tm.ColumnTypes), name, len(def.Columns))}
	}
	if !def.Transactional {
		return nil, &RefusedError{Txn: t.Ref(), Why: fmt.Sprintf("it writes %s, a %s table on the target: an undo applies its changes "+
			"in transactions, which a non-transactional table does not roll back", name, def.Engine)}
	}
	ti := &tableInfo{name: name, def: def, identity: identity(def), rows: map[txn.Op]int64{}}
	if def.HasTriggers {
		ts.warnf("warning: %s has triggers on the target: the undo's row events do not fire them (as a replica's do not); "+
			"the rows triggers wrote in the range are in the binlog, and are undone with the others", name)
	}
	return ti, nil
}

// sameColumns reports whether the target's table t has the n columns of a
// table map, or more that are hidden ones the server computes (see
// schema's package comment).
func sameColumns(t *schema.Table, n int) bool {
	if len(t.Columns) < n {
		return false
	}
	for _, c := range t.Columns[n:] {
		if !c.Hidden {
			return false
		}
	}
	return true
}

// identity returns the index that identifies a row of t: the primary key,
// else the first unique key on NOT NULL columns (as the partitioner
// chooses), or nil.
func identity(t *schema.Table) *schema.Index {
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		if idx.Primary {
			return idx
		}
		ok := len(idx.Columns) > 0
		for _, c := range idx.Columns {
			if c < 0 || c >= len(t.Columns) || t.Columns[c].Nullable {
				ok = false
			}
		}
		if ok {
			return idx
		}
	}
	return nil
}

// changesColumns reports whether an update event changes one of the
// columns named, in any of its rows.
func changesColumns(r *txn.Rows, t *schema.Table, names []string) bool {
	if !r.Decoded {
		return true // cannot tell
	}
	for _, n := range names {
		c := t.ColumnIndex(n)
		if c < 0 {
			return true
		}
		for i := 0; i+1 < len(r.Rows); i += 2 {
			if c >= len(r.Rows[i]) || c >= len(r.Rows[i+1]) || !sameValue(r.Rows[i][c], r.Rows[i+1][c]) {
				return true
			}
		}
	}
	return false
}

// sameValue compares two decoded values exactly.
func sameValue(a, b any) bool {
	if x, ok := a.([]byte); ok {
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return a == b
}

// describeKey names a row of t by its identity key's values in img, with
// the values replaced by redact.Mark unless logValues is set: "(`id`=17)".
// A table without one is named by its columns' count.
func describeKey(t *tableInfo, img []any, logValues bool) string {
	if t.identity == nil {
		return "(a row of a table without a key)"
	}
	var parts []string
	for _, c := range t.identity.Columns {
		v := redact.Mark
		if logValues && c < len(img) {
			v = formatValue(img[c])
		}
		parts = append(parts, "`"+t.def.Columns[c].Name+"`="+v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// formatValue shows a decoded value in a report.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", x)
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v)
}

// sortedTables returns the tables by name.
func (ts *tables) sorted() []*tableInfo {
	out := make([]*tableInfo, 0, len(ts.byKey))
	for _, t := range ts.byKey {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// cascade is a table whose writes the server may carry, through foreign
// keys with a referential action that writes child rows (CASCADE, SET
// NULL, SET DEFAULT), to rows of a table of the range, without logging
// those changes: a later delete (onDelete) or update (onUpdate) of one of
// its rows may have changed any row of child.
type cascade struct {
	child              string // db.table, a table of the range
	fk                 string // the first constraint of the chain, `name` of db.table
	onDelete, onUpdate bool
}

// cascades returns, by "db.table", the tables whose later deletes or
// updates may change rows of the range's tables through cascading foreign
// keys: the parents of a range table by such a key (a delete when its ON
// DELETE action writes child rows, an update when its ON UPDATE one does),
// their own parents by such keys (any write that may change the parent:
// conservatively, a delete or an update the key's actions carry), and so
// on; a table referencing itself is its own parent. The definitions of
// the parents are read from the target.
func (ts *tables) cascades(ctx context.Context) (map[string][]cascade, error) {
	out := map[string][]cascade{}
	for _, ti := range ts.sorted() {
		// reach: the tables found for ti, each with what of their
		// writes may change it (through the chain found first).
		reach := map[string]cascade{}
		type edge struct {
			def        *schema.Table
			del, upd   bool // a delete (update) of def's rows may change ti
			constraint string
		}
		queue := []edge{{def: ti.def, del: true, upd: true}}
		for len(queue) > 0 {
			e := queue[0]
			queue = queue[1:]
			for _, fk := range e.def.ForeignKeys {
				d, u := fk.ChangesChildren(true), fk.ChangesChildren(false)
				if !d && !u {
					continue
				}
				parent := fk.RefSchema + "." + fk.RefTable
				if _, seen := reach[parent]; seen {
					continue
				}
				constraint := e.constraint
				if constraint == "" {
					constraint = fmt.Sprintf("`%s` of %s", fk.Name, fk.Schema+"."+fk.Table)
				}
				// A delete of the parent deletes (CASCADE) or updates
				// (SET NULL, SET DEFAULT) the child's rows; an update
				// updates them: either may go on to ti.
				c := cascade{child: ti.name, fk: constraint, onDelete: d && (e.del || e.upd), onUpdate: u && (e.del || e.upd)}
				if !c.onDelete && !c.onUpdate {
					continue
				}
				reach[parent] = c
				pdef, err := ts.defs.Table(ctx, fk.RefSchema, fk.RefTable)
				if errors.Is(err, schema.ErrNoTable) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("read the definition of %s on the target: %w", parent, err)
				}
				queue = append(queue, edge{def: pdef, del: c.onDelete, upd: c.onUpdate, constraint: constraint})
			}
		}
		for parent, c := range reach {
			out[parent] = append(out[parent], c)
		}
	}
	return out, nil
}
