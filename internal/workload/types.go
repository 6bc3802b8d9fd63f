package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// typesGen is the Types profile: one table per type family (typeTables),
// base rows at the limits, then inserts, updates of every column, deletes,
// zero dates under a permissive sql_mode and TIMESTAMPs in another zone.
type typesGen struct {
	o      Options
	tables []typeTable
	rows   []*idSet // ids in each table after Setup
}

func newTypesGen(o Options) generator { return &typesGen{o: o, tables: typeTables()} }

// invalidDatesSQLMode accepts dates like 2021-02-31 as they are.
const invalidDatesSQLMode = "ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

func (g *typesGen) setup(r *rand.Rand) []unit {
	var units []unit
	g.rows = nil
	for _, t := range g.tables {
		defs := []string{"id INT NOT NULL PRIMARY KEY"}
		for _, c := range t.cols {
			defs = append(defs, ident(c.name)+" "+c.def)
		}
		defs = append(defs, t.extra...)
		units = append(units, autoUnit(fmt.Sprintf("CREATE TABLE %s (\n  %s\n) ENGINE=InnoDB",
			ident(t.name), strings.Join(defs, ",\n  "))))
		ids := newIDSet()
		var rows [][]string
		edgeRows := maxEdges(t)
		for id := 1; id <= g.o.Scale; id++ {
			k := id - 1
			row := []string{fmt.Sprint(id)}
			for _, c := range t.cols {
				switch {
				case k < len(c.edges):
					row = append(row, c.edges[k])
				case k < edgeRows:
					row = append(row, c.gen(r))
				case k == edgeRows:
					row = append(row, "NULL")
				default:
					row = append(row, orNull(r, 6, c.gen(r)))
				}
			}
			rows = append(rows, row)
			ids.add(id)
		}
		units = append(units, txUnit(insertRows(ident(t.name), t.columnList(), rows, 20)...))
		if z := t.zeroUpdate(r, g.o.Scale, invalidDatesSQLMode); z != nil && g.o.Scale > edgeRows+2 {
			units = append(units, *z, *t.zeroUpdate(r, g.o.Scale-1, permissiveSQLMode))
		}
		g.rows = append(g.rows, ids)
	}
	return units
}

// tableIndex returns the index of the table called name (0 if none).
func (g *typesGen) tableIndex(name string) int {
	for i, t := range g.tables {
		if t.name == name {
			return i
		}
	}
	return 0
}

func maxEdges(t typeTable) int {
	n := 0
	for _, c := range t.cols {
		n = max(n, len(c.edges))
	}
	return n
}

// columnList returns "id" and the writable columns, quoted.
func (t typeTable) columnList() []string {
	cols := []string{"id"}
	for _, c := range t.cols {
		cols = append(cols, ident(c.name))
	}
	return cols
}

// zeroUpdate returns an autocommit update of row id setting every column
// that has zero values to one of them, under mode; nil if t has none.
func (t typeTable) zeroUpdate(r *rand.Rand, id int, mode string) *unit {
	var sets []string
	for _, c := range t.cols {
		if len(c.zeros) > 0 {
			sets = append(sets, ident(c.name)+"="+c.zeros[r.IntN(len(c.zeros))])
		}
	}
	if len(sets) == 0 {
		return nil
	}
	u := autoUnit(fmt.Sprintf("UPDATE %s SET %s WHERE id=%d", ident(t.name), strings.Join(sets, ", "), id)).
		with(env{sqlMode: mode})
	return &u
}

func (g *typesGen) session(s int, r *rand.Rand) txnSource {
	o := owner{s: s, n: g.o.Threads}
	ts := &typesSession{g: g, r: r, alloc: newIDAlloc(o, g.o.Scale), cycle: make([]int, len(g.tables))}
	for _, ids := range g.rows {
		ts.rows = append(ts.rows, ids.owned(o))
	}
	return ts
}

type typesSession struct {
	g     *typesGen
	r     *rand.Rand
	alloc *idAlloc
	rows  []*idSet
	cycle []int // next column each table's single-column update writes
}

func (s *typesSession) next(int) []unit {
	r := s.r
	if r.IntN(10) == 0 {
		return []unit{s.zeroUnit()}
	}
	var stmts []string
	for range 1 + r.IntN(4) {
		stmts = append(stmts, s.op(r.IntN(len(s.g.tables)))...)
	}
	u := autoUnit(stmts...)
	if len(stmts) > 1 || r.IntN(3) == 0 {
		u = txUnit(stmts...)
	}
	if r.IntN(4) == 0 {
		u.env.timeZone = "+05:30"
	}
	return []unit{u}
}

// zeroUnit writes zero or invalid dates (and bad ENUM/SET values) into a
// new or existing row under a permissive sql_mode.
func (s *typesSession) zeroUnit() unit {
	r := s.r
	mode := permissiveSQLMode
	if r.IntN(2) == 0 {
		mode = invalidDatesSQLMode
	}
	ti := s.g.tableIndex("ty_time")
	if r.IntN(3) == 0 {
		ti = s.g.tableIndex("ty_misc")
	}
	t, ids := s.g.tables[ti], s.rows[ti]
	if ids.len() == 0 || r.IntN(3) == 0 {
		id := s.alloc.fresh()
		ids.add(id)
		stmt := s.insert(ti, id)
		return autoUnit(stmt, t.zeroUpdate(r, id, mode).stmts[0]).with(env{sqlMode: mode})
	}
	return *t.zeroUpdate(r, ids.pick(r), mode)
}

// value returns a literal for c: an edge value, NULL or a random one.
func (s *typesSession) value(c column) string {
	r := s.r
	switch {
	case len(c.edges) > 0 && r.IntN(5) == 0:
		return c.edges[r.IntN(len(c.edges))]
	case r.IntN(6) == 0:
		return "NULL"
	}
	return c.gen(r)
}

func (s *typesSession) insert(ti, id int) string {
	t := s.g.tables[ti]
	row := []string{fmt.Sprint(id)}
	for _, c := range t.cols {
		row = append(row, s.value(c))
	}
	return insertRows(ident(t.name), t.columnList(), [][]string{row}, 1)[0]
}

// op returns the statements of one random operation on table ti.
func (s *typesSession) op(ti int) []string {
	r, t, ids := s.r, s.g.tables[ti], s.rows[ti]
	name := ident(t.name)
	k := r.IntN(12)
	if ids.len() == 0 || k < 2 {
		id := s.alloc.fresh()
		ids.add(id)
		return []string{s.insert(ti, id)}
	}
	id := ids.pick(r)
	switch k {
	case 2, 3: // every column
		var sets []string
		for _, c := range t.cols {
			sets = append(sets, ident(c.name)+"="+s.value(c))
		}
		return []string{fmt.Sprintf("UPDATE %s SET %s WHERE id=%d", name, strings.Join(sets, ", "), id)}
	case 4, 5: // the next column in turn, so every column gets updated
		c := t.cols[s.cycle[ti]%len(t.cols)]
		s.cycle[ti]++
		return []string{fmt.Sprintf("UPDATE %s SET %s=%s WHERE id=%d", name, ident(c.name), s.value(c), id)}
	case 6: // NULLs
		c := t.cols[r.IntN(len(t.cols))]
		return []string{fmt.Sprintf("UPDATE %s SET %s=NULL WHERE id=%d", name, ident(c.name), id)}
	case 7:
		ids.remove(id)
		return []string{fmt.Sprintf("DELETE FROM %s WHERE id=%d", name, id)}
	case 8: // deleted and inserted again
		return []string{fmt.Sprintf("DELETE FROM %s WHERE id=%d", name, id), s.insert(ti, id)}
	case 9: // range of rows, values only
		c := t.cols[r.IntN(len(t.cols))]
		return []string{fmt.Sprintf("UPDATE %s SET %s=%s WHERE id BETWEEN %d AND %d",
			name, ident(c.name), s.value(c), id, id+2+r.IntN(5))}
	default:
		return []string{s.serverValue(ti, id)}
	}
}

// serverValue updates row id with values the server computes: NOW(6),
// seeded RAND(), and with the real clock unseeded RAND() and (unless the
// format is STATEMENT) UUID().
func (s *typesSession) serverValue(ti, id int) string {
	r, name := s.r, ident(s.g.tables[ti].name)
	switch s.g.tables[ti].name {
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
