package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// Cache reads table definitions from a server and keeps them until they are
// invalidated. It is safe for concurrent use.
//
// A table's own definition (columns, keys, triggers) is cached per table.
// Foreign keys are read for the whole server once and cached apart, because
// a DDL on one table (ALTER TABLE child ADD FOREIGN KEY ...) changes what
// another table is referenced by; Invalidate has the constraints that the
// DDL may have changed read again (see fkGraph), InvalidateAll all of them.
type Cache struct {
	db *sql.DB

	mu        sync.RWMutex
	gen       uint64              // bumped by every invalidation
	own       map[tableKey]*Table // definitions without foreign keys
	fks       *fkGraph            // nil until loaded
	dirty     []tableKey          // invalidated since fks was read
	assembled map[tableKey]*Table // own + foreign keys, as handed out
	shapes    map[tableKey]*Table // without weights and foreign keys (Shape)
	mariadb   *bool               // server flavor, nil until asked

	collMu     sync.Mutex
	collations map[string]*Collation // by name, never invalidated
}

type tableKey struct{ schema, table string }

// NewCache returns an empty cache that reads from db.
func NewCache(db *sql.DB) *Cache {
	return &Cache{
		db:        db,
		own:       map[tableKey]*Table{},
		assembled: map[tableKey]*Table{},
		shapes:    map[tableKey]*Table{},
	}
}

// Shape returns the columns (in binlog order, hidden ones included), keys
// and HasTriggers of schema.table, for callers that need no more, such as a
// check of a row image's column count: the Table read by Table when there
// is one, else one read without its collations' weights and foreign keys
// (Weights nil, no foreign keys), which is cheaper; Table reads only those
// on top of it. Errors are Table's.
func (c *Cache) Shape(ctx context.Context, schema, table string) (*Table, error) {
	k := tableKey{schema, table}
	c.mu.RLock()
	t, ok := c.own[k]
	if !ok {
		t, ok = c.shapes[k]
	}
	gen, flavor := c.gen, c.mariadb
	c.mu.RUnlock()
	if ok {
		return t, nil
	}
	var err error
	if flavor == nil {
		if flavor, err = c.isMariaDB(ctx); err != nil {
			return nil, err
		}
	}
	if t, err = loadShape(ctx, c.db, schema, table, *flavor); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mariadb = flavor
	if c.gen == gen { // nothing was invalidated while we read
		c.shapes[k] = t
	}
	return t, nil
}

// Table returns the definition of schema.table, reading it from the server
// the first time and after an invalidation. The returned Table is shared and
// must not be modified. When the table does not exist the error wraps
// ErrNoTable (missing tables are not cached); other errors are those of the
// server or of ctx.
func (c *Cache) Table(ctx context.Context, schema, table string) (*Table, error) {
	k := tableKey{schema, table}
	c.mu.RLock()
	t, ok := c.assembled[k]
	c.mu.RUnlock()
	if ok {
		return t, nil
	}
	return c.load(ctx, k)
}

// load reads what is missing for k and assembles its Table.
func (c *Cache) load(ctx context.Context, k tableKey) (*Table, error) {
	c.mu.RLock()
	gen, own, shape, fks, flavor := c.gen, c.own[k], c.shapes[k], c.fks, c.mariadb
	dirty := c.dirty
	c.mu.RUnlock()

	var err error
	if flavor == nil {
		if flavor, err = c.isMariaDB(ctx); err != nil {
			return nil, err
		}
	}
	if own == nil && shape == nil {
		if shape, err = loadShape(ctx, c.db, k.schema, k.table, *flavor); err != nil {
			return nil, err
		}
	}
	if own == nil {
		if own, err = withWeights(ctx, shape, c.collation); err != nil {
			return nil, err
		}
	}
	switch {
	case fks == nil:
		fks, err = loadForeignKeys(ctx, c.db)
	case len(dirty) > 0:
		fks, err = fks.refresh(ctx, c.db, dirty)
	}
	if err != nil {
		return nil, err
	}
	t := assemble(own, fks)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.mariadb = flavor
	if c.gen == gen { // nothing was invalidated while we read
		c.own[k] = own
		c.fks, c.dirty = fks, nil
		c.assembled[k] = t
	}
	return t, nil
}

// collation returns the Collation called name, reading it the first time
// (a few queries returning up to 330,000 rows: 13 collations, among them
// utf8mb4_unicode_520_ci with its supplementary planes, took 1.3 s on the
// test machine); the lock makes concurrent callers wait for it.
func (c *Cache) collation(ctx context.Context, name, charset string) (*Collation, error) {
	c.collMu.Lock()
	defer c.collMu.Unlock()
	if coll, ok := c.collations[name]; ok {
		return coll, nil
	}
	coll, err := loadCollation(ctx, c.db, name, charset)
	if err != nil {
		return nil, err
	}
	if c.collations == nil {
		c.collations = map[string]*Collation{}
	}
	c.collations[name] = coll
	return coll, nil
}

// isMariaDB asks the server whether it is MariaDB.
func (c *Cache) isMariaDB(ctx context.Context) (*bool, error) {
	var version string
	if err := c.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	m := containsFold(version, "mariadb")
	return &m, nil
}

// Invalidate forgets the definition of schema.table and the foreign keys it
// holds or that reference it (they are read again on the next Table call).
// Call it after every DDL that may have changed, created, dropped or renamed
// the table, once per table the DDL names (RENAME TABLE a TO b: both a and
// b); when the tables are not all known (DROP DATABASE, CALL...) call
// InvalidateAll.
//
// Names are matched ignoring case, which is right whatever the target's
// lower_case_table_names: at worst a table is read again for nothing.
func (c *Cache) Invalidate(schema, table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.own {
		if strings.EqualFold(k.schema, schema) && strings.EqualFold(k.table, table) {
			delete(c.own, k)
			c.dirty = append(c.dirty, k)
		}
	}
	for k := range c.shapes {
		if strings.EqualFold(k.schema, schema) && strings.EqualFold(k.table, table) {
			delete(c.shapes, k)
		}
	}
	c.dirty = append(c.dirty, tableKey{schema, table})
	c.assembled = map[tableKey]*Table{}
}

// InvalidateAll forgets everything the cache read. Reading all foreign keys
// again scans information_schema for every table of the server: prefer
// Invalidate when the DDL's tables are known.
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.own = map[tableKey]*Table{}
	c.fks, c.dirty = nil, nil
	c.assembled = map[tableKey]*Table{}
	c.shapes = map[tableKey]*Table{}
}

// assemble returns a copy of own with its foreign keys in both directions.
func assemble(own *Table, g *fkGraph) *Table {
	t := *own
	k := tableKey{own.Schema, own.Name}
	t.ForeignKeys = nil
	for _, fk := range g.byChild[k] {
		fk.Columns = make([]int, len(fk.ColumnNames))
		for i, name := range fk.ColumnNames {
			fk.Columns[i] = t.ColumnIndex(name)
		}
		t.ForeignKeys = append(t.ForeignKeys, fk)
	}
	t.ReferencedBy = g.byParent[k]
	return &t
}
