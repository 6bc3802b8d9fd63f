package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// typesGen is the Types profile: one table per type family (typeTables),
// base rows at the limits, then inserts, updates of every column, deletes,
// zero dates under a permissive sql_mode and TIMESTAMPs in another zone.
type typesGen struct {
	o      Options
	tables []sqlvals.TypeTable
	rows   []*idset.Set // ids in each table after Setup
}

func newTypesGen(o Options) generator { return &typesGen{o: o, tables: sqlvals.TypeTables()} }

// invalidDatesSQLMode accepts dates like 2021-02-31 as they are.
const invalidDatesSQLMode = "ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

func (g *typesGen) setup(r *rand.Rand) []unit.Unit {
	var units []unit.Unit
	g.rows = nil
	for _, t := range g.tables {
		defs := []string{"id INT NOT NULL PRIMARY KEY"}
		for _, c := range t.Cols {
			defs = append(defs, sqlvals.Ident(c.Name)+" "+c.Def)
		}
		defs = append(defs, t.Extra...)
		units = append(units, unit.Auto(fmt.Sprintf("CREATE TABLE %s (\n  %s\n) ENGINE=InnoDB",
			sqlvals.Ident(t.Name), strings.Join(defs, ",\n  "))))
		ids := idset.New()
		var rows [][]string
		edgeRows := maxEdges(t)
		for id := 1; id <= g.o.Scale; id++ {
			k := id - 1
			row := []string{fmt.Sprint(id)}
			for _, c := range t.Cols {
				switch {
				case k < len(c.Edges):
					row = append(row, c.Edges[k])
				case k < edgeRows:
					row = append(row, c.Gen(r))
				case k == edgeRows:
					row = append(row, "NULL")
				default:
					row = append(row, sqlvals.OrNull(r, 6, c.Gen(r)))
				}
			}
			rows = append(rows, row)
			ids.Add(id)
		}
		units = append(units, unit.Tx(sqlvals.InsertRows(sqlvals.Ident(t.Name), t.ColumnList(), rows, 20)...))
		if z := zeroUpdate(t, r, g.o.Scale, invalidDatesSQLMode); z != nil && g.o.Scale > edgeRows+2 {
			units = append(units, *z, *zeroUpdate(t, r, g.o.Scale-1, unit.PermissiveSQLMode))
		}
		g.rows = append(g.rows, ids)
	}
	return units
}

// tableIndex returns the index of the table called name (0 if none).
func (g *typesGen) tableIndex(name string) int {
	for i, t := range g.tables {
		if t.Name == name {
			return i
		}
	}
	return 0
}

func maxEdges(t sqlvals.TypeTable) int {
	n := 0
	for _, c := range t.Cols {
		n = max(n, len(c.Edges))
	}
	return n
}

// zeroUpdate returns an autocommit update of row id setting every column
// that has zero values to one of them, under mode; nil if t has none.
func zeroUpdate(t sqlvals.TypeTable, r *rand.Rand, id int, mode string) *unit.Unit {
	var sets []string
	for _, c := range t.Cols {
		if len(c.Zeros) > 0 {
			sets = append(sets, sqlvals.Ident(c.Name)+"="+c.Zeros[r.IntN(len(c.Zeros))])
		}
	}
	if len(sets) == 0 {
		return nil
	}
	u := unit.Auto(fmt.Sprintf("UPDATE %s SET %s WHERE id=%d", sqlvals.Ident(t.Name), strings.Join(sets, ", "), id)).
		With(unit.Env{SQLMode: mode})
	return &u
}

func (g *typesGen) session(s int, r *rand.Rand) txnSource {
	o := idset.Owner{S: s, N: g.o.Threads}
	ts := &typesSession{g: g, r: r, alloc: idset.NewAlloc(o, g.o.Scale), cycle: make([]int, len(g.tables))}
	for _, ids := range g.rows {
		ts.rows = append(ts.rows, ids.Owned(o))
	}
	return ts
}

type typesSession struct {
	g     *typesGen
	r     *rand.Rand
	alloc *idset.Alloc
	rows  []*idset.Set
	cycle []int // next column each table's single-column update writes
}

func (s *typesSession) next(int) []unit.Unit {
	r := s.r
	if r.IntN(10) == 0 {
		return []unit.Unit{s.zeroUnit()}
	}
	var stmts []string
	for range 1 + r.IntN(4) {
		stmts = append(stmts, s.op(r.IntN(len(s.g.tables)))...)
	}
	u := unit.Auto(stmts...)
	if len(stmts) > 1 || r.IntN(3) == 0 {
		u = unit.Tx(stmts...)
	}
	if r.IntN(4) == 0 {
		u.Env.TimeZone = "+05:30"
	}
	return []unit.Unit{u}
}

// zeroUnit writes zero or invalid dates (and bad ENUM/SET values) into a
// new or existing row under a permissive sql_mode.
func (s *typesSession) zeroUnit() unit.Unit {
	r := s.r
	mode := unit.PermissiveSQLMode
	if r.IntN(2) == 0 {
		mode = invalidDatesSQLMode
	}
	ti := s.g.tableIndex("ty_time")
	if r.IntN(3) == 0 {
		ti = s.g.tableIndex("ty_misc")
	}
	t, ids := s.g.tables[ti], s.rows[ti]
	if ids.Len() == 0 || r.IntN(3) == 0 {
		id := s.alloc.Fresh()
		ids.Add(id)
		stmt := s.insert(ti, id)
		return unit.Auto(stmt, zeroUpdate(t, r, id, mode).Stmts[0]).With(unit.Env{SQLMode: mode})
	}
	return *zeroUpdate(t, r, ids.Pick(r), mode)
}

// value returns a literal for c: an edge value, NULL or a random one.
func (s *typesSession) value(c sqlvals.Column) string {
	r := s.r
	switch {
	case len(c.Edges) > 0 && r.IntN(5) == 0:
		return c.Edges[r.IntN(len(c.Edges))]
	case r.IntN(6) == 0:
		return "NULL"
	}
	return c.Gen(r)
}

func (s *typesSession) insert(ti, id int) string {
	t := s.g.tables[ti]
	row := []string{fmt.Sprint(id)}
	for _, c := range t.Cols {
		row = append(row, s.value(c))
	}
	return sqlvals.InsertRows(sqlvals.Ident(t.Name), t.ColumnList(), [][]string{row}, 1)[0]
}

// op returns the statements of one random operation on table ti.
func (s *typesSession) op(ti int) []string {
	r, t, ids := s.r, s.g.tables[ti], s.rows[ti]
	name := sqlvals.Ident(t.Name)
	k := r.IntN(12)
	if ids.Len() == 0 || k < 2 {
		id := s.alloc.Fresh()
		ids.Add(id)
		return []string{s.insert(ti, id)}
	}
	id := ids.Pick(r)
	switch k {
	case 2, 3: // every column
		var sets []string
		for _, c := range t.Cols {
			sets = append(sets, sqlvals.Ident(c.Name)+"="+s.value(c))
		}
		return []string{fmt.Sprintf("UPDATE %s SET %s WHERE id=%d", name, strings.Join(sets, ", "), id)}
	case 4, 5: // the next column in turn, so every column gets updated
		c := t.Cols[s.cycle[ti]%len(t.Cols)]
		s.cycle[ti]++
		return []string{fmt.Sprintf("UPDATE %s SET %s=%s WHERE id=%d", name, sqlvals.Ident(c.Name), s.value(c), id)}
	case 6: // NULLs
		c := t.Cols[r.IntN(len(t.Cols))]
		return []string{fmt.Sprintf("UPDATE %s SET %s=NULL WHERE id=%d", name, sqlvals.Ident(c.Name), id)}
	case 7:
		ids.Remove(id)
		return []string{fmt.Sprintf("DELETE FROM %s WHERE id=%d", name, id)}
	case 8: // deleted and inserted again
		return []string{fmt.Sprintf("DELETE FROM %s WHERE id=%d", name, id), s.insert(ti, id)}
	case 9: // range of rows, values only
		c := t.Cols[r.IntN(len(t.Cols))]
		return []string{fmt.Sprintf("UPDATE %s SET %s=%s WHERE id BETWEEN %d AND %d",
			name, sqlvals.Ident(c.Name), s.value(c), id, id+2+r.IntN(5))}
	default:
		return []string{s.serverValue(ti, id)}
	}
}

// serverValue updates row id with values the server computes: NOW(6),
// seeded RAND(), and with the real clock unseeded RAND() and (unless the
// format is STATEMENT) UUID().
func (s *typesSession) serverValue(ti, id int) string {
	r, name := s.r, sqlvals.Ident(s.g.tables[ti].Name)
	switch s.g.tables[ti].Name {
	case "ty_time":
		return fmt.Sprintf("UPDATE %s SET dt6=NOW(6), ts6=CURRENT_TIMESTAMP(6), dt0=NOW(), t6=CURTIME(6), "+
			"d=CURDATE(), y=YEAR(NOW()) WHERE id=%d", name, id)
	case "ty_num":
		if s.g.o.RealClock && r.IntN(2) == 0 {
			return fmt.Sprintf("UPDATE %s SET db=RAND(), f=RAND() WHERE id=%d", name, id)
		}
		return fmt.Sprintf("UPDATE %s SET db=RAND(%d), d65=RAND(%d)*1e30 WHERE id=%d", name, r.IntN(1e6), r.IntN(1e6), id)
	case "ty_misc":
		if s.g.o.RealClock && !s.g.o.safeOnly() {
			return fmt.Sprintf("UPDATE %s SET u=UUID() WHERE id=%d", name, id)
		}
		return fmt.Sprintf("UPDATE %s SET j=JSON_OBJECT('k', DATE_FORMAT(NOW(6), '%%f'), 'n', id) WHERE id=%d", name, id)
	case "ty_int":
		return fmt.Sprintf("UPDATE %s SET inv=inv+1, ti=-ti DIV 2 WHERE id=%d", name, id)
	}
	return fmt.Sprintf("UPDATE %s SET id=id WHERE id=%d", name, id)
}
