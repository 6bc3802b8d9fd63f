package partition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/schema"
)

// group is one key space a written row has a value in: a primary or unique
// key of the table, the parent key a foreign key points to, or the columns a
// child table references when they are not a unique key.
type group struct {
	what     string           // for barrier reasons: "key `u`", "foreign key `fk`"
	prefix   hasher           // hash of the key space's schema, table and name
	cols     []int            // ordinals in the written table's row images
	specs    []*schema.Column // how to normalize each value (the key owner's columns)
	prefixes []int            // key prefix lengths, 0 for whole values
	identity bool             // the key that identifies the row (PK or NOT NULL unique)
	own      bool             // a primary or unique key of the table itself (not a foreign key's)
}

// cascade is a foreign key from a child table whose ON DELETE or ON UPDATE
// action makes the server write child rows that the binlog does not show.
type cascade struct {
	child    string
	cols     []int // referenced columns, ordinals in this (parent) table
	onDelete bool
	onUpdate bool
}

// parentRef remembers which parent table a plan was built with, to notice
// when the TableSource has a newer one.
type parentRef struct {
	schema, table string
	t             *schema.Table // nil when the parent did not exist
}

// plan is how to key the rows of one table, computed once per table.
type plan struct {
	table    *schema.Table
	groups   []group
	cascades []cascade
	parents  []parentRef
	// unusable, when set, is why the table's rows cannot be keyed.
	unusable string
}

// buildPlan computes the plan of t. Parent tables of t's foreign keys are
// read from tables; errors other than a missing table are returned.
func buildPlan(ctx context.Context, t *schema.Table, tables TableSource) (*plan, error) {
	p := &plan{table: t}
	name := quote(t.Schema, t.Name)
	identity := identityIndex(t)
	if identity < 0 {
		p.unusable = "table " + name + " has no primary key and no unique key on NOT NULL columns"
		return p, nil
	}
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		g := group{what: "key `" + idx.Name + "` of " + name, prefix: keyPrefix(t.Schema, t.Name, idx.Name),
			cols: idx.Columns, prefixes: prefixesOf(idx), identity: i == identity, own: true}
		for _, c := range idx.Columns {
			if c < 0 || c >= len(t.Columns) {
				p.unusable = g.what + " has an unknown column"
				return p, nil
			}
			g.specs = append(g.specs, &t.Columns[c])
		}
		p.groups = append(p.groups, g)
	}
	for i := range t.ForeignKeys {
		if err := p.addForeignKey(ctx, &t.ForeignKeys[i], tables); err != nil || p.unusable != "" {
			return p, err
		}
	}
	p.addReferencedBy()
	return p, nil
}

// prefixesOf returns the key prefix lengths of idx, all 0 when it has none.
func prefixesOf(idx *schema.Index) []int {
	if len(idx.Prefix) == len(idx.Columns) {
		return idx.Prefix
	}
	return make([]int, len(idx.Columns))
}

// identityIndex returns the position in t.Indexes of the primary key, or
// else of the first unique key on NOT NULL columns only, or -1.
func identityIndex(t *schema.Table) int {
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		if idx.Primary {
			return i
		}
		notNull := len(idx.Columns) > 0
		for _, c := range idx.Columns {
			if c < 0 || c >= len(t.Columns) || t.Columns[c].Nullable {
				notNull = false
			}
		}
		if notNull {
			return i
		}
	}
	return -1
}

// addForeignKey adds the group that makes a child row's write conflict with
// writes of the parent row it references: the parent's own key when the
// referenced columns are one of its unique keys, else a key on the
// referenced columns that the parent emits too (see addReferencedBy).
func (p *plan) addForeignKey(ctx context.Context, fk *schema.ForeignKey, tables TableSource) error {
	what := "foreign key `" + fk.Name + "` of " + quote(p.table.Schema, p.table.Name)
	parent, err := tables.Table(ctx, fk.RefSchema, fk.RefTable)
	if errors.Is(err, schema.ErrNoTable) {
		// No parent rows exist to conflict with; if the parent is created
		// later, the plan is rebuilt (parentRef differs).
		p.parents = append(p.parents, parentRef{fk.RefSchema, fk.RefTable, nil})
		return nil
	}
	if err != nil {
		return fmt.Errorf("read parent of %s: %w", what, err)
	}
	p.parents = append(p.parents, parentRef{fk.RefSchema, fk.RefTable, parent})
	if len(fk.Columns) != len(fk.RefColumns) {
		p.unusable = what + " has mismatched column lists"
		return nil
	}
	refs := make([]int, len(fk.RefColumns)) // parent ordinals, in FK order
	for j, name := range fk.RefColumns {
		refs[j] = parent.ColumnIndex(name)
		if refs[j] < 0 || fk.Columns[j] < 0 || fk.Columns[j] >= len(p.table.Columns) {
			p.unusable = what + " has an unknown column"
			return nil
		}
	}
	g := group{what: what}
	idx := matchingIndex(parent, refs)
	var parentCols []int
	if idx != nil {
		g.prefix = keyPrefix(parent.Schema, parent.Name, idx.Name)
		parentCols, g.prefixes = idx.Columns, prefixesOf(idx)
	} else {
		parentCols = slices.Sorted(slices.Values(refs))
		g.prefix = keyPrefix(parent.Schema, parent.Name, refName(parentCols))
		g.prefixes = make([]int, len(parentCols))
	}
	for _, pc := range parentCols {
		j := slices.Index(refs, pc)
		g.cols = append(g.cols, fk.Columns[j])
		g.specs = append(g.specs, &parent.Columns[pc])
	}
	p.groups = append(p.groups, g)
	return nil
}

// addReferencedBy records, for the foreign keys that reference this table,
// the keys on referenced columns that are not a unique key, and the
// referential actions that write child rows.
func (p *plan) addReferencedBy() {
	t := p.table
	seen := map[string]bool{}
	for i := range t.ReferencedBy {
		fk := &t.ReferencedBy[i]
		child := quote(fk.Schema, fk.Table)
		refs := make([]int, len(fk.RefColumns))
		for j, name := range fk.RefColumns {
			if refs[j] = t.ColumnIndex(name); refs[j] < 0 {
				p.unusable = "foreign key `" + fk.Name + "` of " + child + " references an unknown column"
				return
			}
		}
		if matchingIndex(t, refs) == nil {
			cols := slices.Sorted(slices.Values(refs))
			if name := refName(cols); !seen[name] {
				seen[name] = true
				g := group{what: "columns referenced by " + child, prefix: keyPrefix(t.Schema, t.Name, name),
					cols: cols, prefixes: make([]int, len(cols))}
				for _, c := range cols {
					g.specs = append(g.specs, &t.Columns[c])
				}
				p.groups = append(p.groups, g)
			}
		}
		if d, u := fk.ChangesChildren(true), fk.ChangesChildren(false); d || u {
			p.cascades = append(p.cascades, cascade{child: child, cols: refs, onDelete: d, onUpdate: u})
		}
	}
}

// matchingIndex returns the unique key of t whose columns are exactly the
// set cols, or nil.
func matchingIndex(t *schema.Table, cols []int) *schema.Index {
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		if len(idx.Columns) != len(cols) {
			continue
		}
		all := true
		for _, c := range idx.Columns {
			all = all && slices.Contains(cols, c)
		}
		if all {
			return idx
		}
	}
	return nil
}

// refName names the key space of referenced columns that are not a unique
// key: "#ref(2,5)", by parent ordinals. Should a real index have that name,
// the collision only adds false dependencies.
func refName(cols []int) string {
	var b strings.Builder
	b.WriteString("#ref(")
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(c))
	}
	b.WriteByte(')')
	return b.String()
}

// stale reports whether the plan was built from other tables than tables
// now returns.
func (p *plan) stale(ctx context.Context, tables TableSource) (bool, error) {
	for _, ref := range p.parents {
		t, err := tables.Table(ctx, ref.schema, ref.table)
		if errors.Is(err, schema.ErrNoTable) {
			t, err = nil, nil
		}
		if err != nil {
			return false, fmt.Errorf("read table %s: %w", quote(ref.schema, ref.table), err)
		}
		if t != ref.t {
			return true, nil
		}
	}
	return false, nil
}

// quote formats `schema`.`table`, doubling backticks.
func quote(schemaName, table string) string {
	q := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	return q(schemaName) + "." + q(table)
}
