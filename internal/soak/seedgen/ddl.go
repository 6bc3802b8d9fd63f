package seedgen

import (
	"fmt"
	"slices"
)

// ddlModel follows the shape of the DDL session's tables as its DDL
// changes them, so that later statements name columns and indexes that
// exist (when a DDL fails on the source, later ones may fail too: they are
// counted, not fatal).
type ddlModel struct {
	tables  []*ddlTable // by current name
	col     int         // columns added so far, for unique names
	ctas    int         // CREATE TABLE ... SELECT tables made so far
	procs   []string    // procedures that exist
	proc    int
	t2Extra []string // columns added to the shared table t2
}

// ddlTable is one table of the DDL session.
type ddlTable struct {
	name    string
	cols    []string          // added INT columns
	indexes map[string]string // index name -> column
}

func newDDLModel() *ddlModel {
	m := &ddlModel{}
	for _, n := range ddlTableNames {
		m.tables = append(m.tables, &ddlTable{name: n, indexes: map[string]string{}})
	}
	return m
}

func (g *sessionGen) ddlKinds() []kind {
	return []kind{
		{"ddl-dml", 10, []Feature{FeatDDL, FeatRename, FeatCTAS, FeatTruncate, FeatProcedure}, (*sessionGen).ddlTableDML},
		{"alter-column", 3, []Feature{FeatDDL}, (*sessionGen).alterColumn},
		{"alter-index", 3, []Feature{FeatDDL}, (*sessionGen).alterIndex},
		{"alter-shared", 1, []Feature{FeatDDL}, (*sessionGen).alterShared},
		{"rename", 2, []Feature{FeatRename}, (*sessionGen).renameTables},
		{"ctas", 3, []Feature{FeatCTAS}, (*sessionGen).createSelect},
		{"truncate", 1, []Feature{FeatTruncate}, (*sessionGen).truncate},
		{"proc", 2, []Feature{FeatProcedure}, (*sessionGen).procedure},
	}
}

func (g *sessionGen) ddlTable() *ddlTable {
	return g.ddl.tables[g.rng.IntN(len(g.ddl.tables))]
}

// ddlTableDML writes to a DDL table, setting its added columns too.
func (g *sessionGen) ddlTableDML() []string {
	t := g.ddlTable()
	cols, vals := "id, v", fmt.Sprintf("%d, '%s'", g.anyKey(), g.word())
	for _, c := range t.cols {
		cols += ", " + c
		vals += fmt.Sprintf(", %d", g.rng.IntN(1000))
	}
	switch g.rng.IntN(3) {
	case 0:
		return txn(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON DUPLICATE KEY UPDATE v = '%s'", t.name, cols, vals, g.word()))
	case 1:
		set := fmt.Sprintf("v = '%s'", g.word())
		if len(t.cols) > 0 {
			set += fmt.Sprintf(", %s = %s + 1", t.cols[0], t.cols[0])
		}
		return txn(fmt.Sprintf("UPDATE %s SET %s WHERE id BETWEEN %d AND %d", t.name, set, g.anyKey(), g.anyKey()))
	default:
		return []string{fmt.Sprintf("DELETE FROM %s WHERE id = %d", t.name, g.anyKey())}
	}
}

func (g *sessionGen) alterColumn() []string {
	t := g.ddlTable()
	if len(t.cols) > 0 && g.rng.IntN(3) == 0 {
		c := t.cols[g.rng.IntN(len(t.cols))]
		t.cols = slices.DeleteFunc(t.cols, func(s string) bool { return s == c })
		for name, col := range t.indexes {
			if col == c {
				delete(t.indexes, name)
			}
		}
		return []string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", t.name, c)}
	}
	g.ddl.col++
	c := fmt.Sprintf("c%d", g.ddl.col)
	t.cols = append(t.cols, c)
	return []string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s INT NOT NULL DEFAULT %d", t.name, c, g.rng.IntN(100))}
}

// alterIndex adds a named or unnamed index on an added column, or drops
// one. An unnamed index on column c is named c by the server.
func (g *sessionGen) alterIndex() []string {
	t := g.ddlTable()
	if len(t.indexes) > 0 && g.rng.IntN(2) == 0 {
		names := make([]string, 0, len(t.indexes))
		for n := range t.indexes {
			names = append(names, n)
		}
		slices.Sort(names)
		n := names[g.rng.IntN(len(names))]
		delete(t.indexes, n)
		return []string{fmt.Sprintf("ALTER TABLE %s DROP INDEX %s", t.name, n)}
	}
	var free []string
	for _, c := range t.cols {
		if !slices.Contains(mapValues(t.indexes), c) {
			free = append(free, c)
		}
	}
	if len(free) == 0 {
		return g.alterColumn()
	}
	c := free[g.rng.IntN(len(free))]
	if g.rng.IntN(2) == 0 {
		t.indexes[c] = c
		return []string{fmt.Sprintf("ALTER TABLE %s ADD INDEX (%s)", t.name, c)}
	}
	name := "ix_" + c
	t.indexes[name] = c
	return []string{fmt.Sprintf("ALTER TABLE %s ADD INDEX %s (%s, v)", t.name, name, c)}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// alterShared adds or drops a column of t2, which the other sessions write
// concurrently (they name their columns, so both shapes take them).
func (g *sessionGen) alterShared() []string {
	m := g.ddl
	if len(m.t2Extra) > 0 && g.rng.IntN(2) == 0 {
		c := m.t2Extra[len(m.t2Extra)-1]
		m.t2Extra = m.t2Extra[:len(m.t2Extra)-1]
		return []string{fmt.Sprintf("ALTER TABLE t2 DROP COLUMN %s", c)}
	}
	m.col++
	c := fmt.Sprintf("x%d", m.col)
	m.t2Extra = append(m.t2Extra, c)
	if g.rng.IntN(2) == 0 {
		return []string{fmt.Sprintf("ALTER TABLE t2 ADD COLUMN %s INT DEFAULT %d, ADD INDEX (%s)", c, g.rng.IntN(9), c)}
	}
	return []string{fmt.Sprintf("ALTER TABLE t2 ADD COLUMN %s VARCHAR(16) DEFAULT 'x' AFTER k", c)}
}

// renameTables swaps two tables through a third name in one RENAME, or
// renames one away and back in two.
func (g *sessionGen) renameTables() []string {
	ts := g.ddl.tables
	if g.rng.IntN(3) > 0 {
		i := g.rng.IntN(len(ts))
		j := (i + 1 + g.rng.IntN(len(ts)-1)) % len(ts)
		a, b := ts[i], ts[j]
		stmt := fmt.Sprintf("RENAME TABLE %s TO dtmp, %s TO %s, dtmp TO %s", a.name, b.name, a.name, b.name)
		a.name, b.name = b.name, a.name
		return []string{stmt}
	}
	t := g.ddlTable()
	old := t.name
	return []string{fmt.Sprintf("RENAME TABLE %s TO %s_x", old, old), fmt.Sprintf("RENAME TABLE %s_x TO %s", old, old)}
}

// createSelect makes tables from queries: CREATE TABLE ... SELECT (with a
// key or without, InnoDB or MyISAM), CREATE OR REPLACE TABLE ... SELECT,
// and drops them.
func (g *sessionGen) createSelect() []string {
	m := g.ddl
	if m.ctas > 0 && g.rng.IntN(4) == 0 {
		return []string{fmt.Sprintf("DROP TABLE IF EXISTS cs%d", 1+g.rng.IntN(m.ctas))}
	}
	src := []string{"t1", "t2", g.ddlTable().name}[g.rng.IntN(3)]
	lo := g.rng.IntN(100)
	sel := fmt.Sprintf("SELECT id, v FROM %s WHERE id %% 100 BETWEEN %d AND %d", src, lo, lo+10)
	if m.ctas > 0 && g.rng.IntN(2) == 0 {
		return []string{fmt.Sprintf("CREATE OR REPLACE TABLE cs%d (PRIMARY KEY (id)) %s", 1+g.rng.IntN(m.ctas), sel)}
	}
	m.ctas++
	switch g.rng.IntN(3) {
	case 0:
		return []string{fmt.Sprintf("CREATE TABLE cs%d (PRIMARY KEY (id)) ENGINE=InnoDB %s", m.ctas, sel)}
	case 1:
		return []string{fmt.Sprintf("CREATE TABLE cs%d ENGINE=InnoDB %s", m.ctas, sel)}
	default:
		engine := "InnoDB"
		if g.p.Has(FeatMyISAM) {
			engine = "MyISAM"
		}
		return []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS cs%d (PRIMARY KEY (id)) ENGINE=%s %s", m.ctas, engine, sel)}
	}
}

func (g *sessionGen) truncate() []string {
	if g.ddl.ctas > 0 && g.rng.IntN(2) == 0 {
		return []string{fmt.Sprintf("TRUNCATE TABLE cs%d", 1+g.rng.IntN(g.ddl.ctas))}
	}
	return []string{"TRUNCATE TABLE " + g.ddlTable().name}
}

// procedure creates a procedure that writes two tables, calls one, or
// drops one.
func (g *sessionGen) procedure() []string {
	m := g.ddl
	switch {
	case len(m.procs) > 0 && g.rng.IntN(3) == 0:
		i := g.rng.IntN(len(m.procs))
		p := m.procs[i]
		m.procs = slices.Delete(m.procs, i, i+1)
		return []string{"DROP PROCEDURE IF EXISTS " + p}
	case len(m.procs) > 0 && g.rng.IntN(2) == 0:
		return []string{fmt.Sprintf("CALL %s(%d)", m.procs[g.rng.IntN(len(m.procs))], g.anyKey())}
	}
	m.proc++
	p := fmt.Sprintf("p%d", m.proc)
	m.procs = append(m.procs, p)
	t := g.ddlTable().name
	return []string{fmt.Sprintf("CREATE PROCEDURE %s(x INT) BEGIN "+
		"INSERT INTO %s (id, v) VALUES (x, 'proc') ON DUPLICATE KEY UPDATE v = CONCAT(v, '+'); "+
		"UPDATE t1 SET n = n + 1 WHERE id = x; END", p, t)}
}
