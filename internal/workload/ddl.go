package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// ddlGen is the DDL profile. Setup creates ddl_base; in Run each session
// copies it into its own table d<s>_main and walks once through ddlSteps
// (ADD/DROP/MODIFY/CHANGE COLUMN, CREATE/DROP INDEX, RENAME TABLE, CREATE
// TABLE ... LIKE / AS SELECT, DROP and TRUNCATE TABLE, temporary tables,
// dropping and re-adding the primary key), spread evenly over its
// transactions, with DML on the current shapes in between.
type ddlGen struct{ o Options }

func newDDLGen(o Options) generator { return &ddlGen{o: o} }

func (*ddlGen) stateless() {}

func (g *ddlGen) setup(r *rand.Rand) []unit.Unit {
	var rows [][]string
	for id := 1; id <= g.o.Scale; id++ {
		rows = append(rows, []string{fmt.Sprint(id), fmt.Sprint(r.IntN(1e6)), sqlvals.Str(fmt.Sprintf("b-%d-%s", id, sqlvals.RandASCII(r, 6)))})
	}
	return []unit.Unit{
		unit.Auto(`CREATE TABLE ddl_base (
  id INT NOT NULL PRIMARY KEY,
  a INT NOT NULL,
  b VARCHAR(32) NOT NULL
) ENGINE=InnoDB`),
		unit.Tx(sqlvals.InsertRows("ddl_base", sqlvals.Idents("id", "a", "b"), rows, 100)...),
	}
}

// ddlTable is the model of one of a session's tables.
type ddlTable struct {
	name string
	cols []ddlCol
	rows *idset.Set
}

// ddlCol is a column; kind picks the values DML writes into it.
type ddlCol struct{ name, kind string }

func (t *ddlTable) col(name string) int {
	for i, c := range t.cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

func (g *ddlGen) session(s int, r *rand.Rand) txnSource {
	n := 0
	for i := s; i < g.o.Txns; i += g.o.Threads {
		n++
	}
	return &ddlSession{g: g, r: r, s: s, local: n, tables: map[string]*ddlTable{},
		alloc: idset.NewAlloc(idset.Owner{S: 0, N: 1}, g.o.Scale)}
}

type ddlSession struct {
	g      *ddlGen
	r      *rand.Rand
	s      int
	local  int // transactions this session runs
	done   int // steps done
	tables map[string]*ddlTable
	roles  []string // the keys of tables, in creation order
	alloc  *idset.Alloc
}

// name returns the session's table name for base.
func (d *ddlSession) name(base string) string { return fmt.Sprintf("d%d_%s", d.s, base) }

// q quotes the current name of role's table.
func (d *ddlSession) q(role string) string { return sqlvals.Ident(d.tables[role].name) }

func (d *ddlSession) next(i int) []unit.Unit {
	k := (i - d.s) / d.g.o.Threads
	var units []unit.Unit
	for d.done < len(ddlSteps) && d.done*d.local/len(ddlSteps) <= k {
		units = append(units, ddlSteps[d.done](d)...)
		d.done++
	}
	return append(units, d.dml())
}

// addTable records a new table holding rows.
func (d *ddlSession) addTable(role, name string, cols []ddlCol, rows *idset.Set) {
	d.tables[role] = &ddlTable{name: name, cols: cols, rows: rows}
	d.roles = append(d.roles, role)
}

func (d *ddlSession) dropTable(role string) {
	delete(d.tables, role)
	for i, r := range d.roles {
		if r == role {
			d.roles = append(d.roles[:i], d.roles[i+1:]...)
			break
		}
	}
}

// copyRows returns a copy of the ids of role's table, optionally only those
// up to maxID.
func (d *ddlSession) copyRows(role string, maxID int) *idset.Set {
	out := idset.New()
	for _, id := range d.tables[role].rows.IDs {
		if maxID == 0 || id <= maxID {
			out.Add(id)
		}
	}
	return out
}

func (d *ddlSession) alter(role, clause string) []unit.Unit {
	return []unit.Unit{unit.Auto(fmt.Sprintf("ALTER TABLE %s %s", d.q(role), clause))}
}

// ddlSteps run once per session, in order; each changes the model along.
var ddlSteps = []func(d *ddlSession) []unit.Unit{
	func(d *ddlSession) []unit.Unit {
		rows := idset.New()
		for id := 1; id <= d.g.o.Scale; id++ {
			rows.Add(id)
		}
		d.addTable("main", d.name("main"), []ddlCol{{"id", "id"}, {"a", "int"}, {"b", "str"}}, rows)
		return []unit.Unit{unit.Auto(fmt.Sprintf("CREATE TABLE %s LIKE ddl_base", d.q("main"))),
			unit.Tx(fmt.Sprintf("INSERT INTO %s SELECT * FROM ddl_base ORDER BY id", d.q("main")))}
	},
	func(d *ddlSession) []unit.Unit {
		t := d.tables["main"]
		t.cols = append([]ddlCol{t.cols[0], {"c", "int"}}, t.cols[1:]...)
		return d.alter("main", "ADD COLUMN c INT NOT NULL DEFAULT 7 AFTER id")
	},
	func(d *ddlSession) []unit.Unit {
		return []unit.Unit{unit.Auto(fmt.Sprintf("CREATE INDEX idx_a ON %s (a)", d.q("main")))}
	},
	func(d *ddlSession) []unit.Unit { return d.alter("main", "MODIFY b VARCHAR(100) NULL") },
	func(d *ddlSession) []unit.Unit {
		d.addTable("side", d.name("side"), []ddlCol{{"id", "id"}, {"x", "str"}}, idset.New())
		return []unit.Unit{unit.Auto(fmt.Sprintf("CREATE TABLE %s (id INT NOT NULL PRIMARY KEY, x VARCHAR(40) NOT NULL) ENGINE=InnoDB", d.q("side"))),
			d.insert("side")}
	},
	func(d *ddlSession) []unit.Unit {
		old := d.q("main")
		d.tables["main"].name = d.name("main_r")
		return []unit.Unit{unit.Auto(fmt.Sprintf("RENAME TABLE %s TO %s", old, d.q("main")))}
	},
	func(d *ddlSession) []unit.Unit {
		t := d.tables["main"]
		t.cols = append(t.cols, ddlCol{"j", "json"}, ddlCol{"ts", "dt"})
		return d.alter("main", "ADD COLUMN j JSON NULL, ADD COLUMN ts DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)")
	},
	func(d *ddlSession) []unit.Unit {
		t := d.tables["main"]
		i := t.col("c")
		t.cols = append(t.cols[:i:i], t.cols[i+1:]...)
		return d.alter("main", "DROP COLUMN c")
	},
	func(d *ddlSession) []unit.Unit {
		t := d.tables["main"]
		d.addTable("copy", d.name("copy"), append([]ddlCol(nil), t.cols...), d.copyRows("main", 0))
		return []unit.Unit{unit.Auto(fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s ORDER BY id", d.q("copy"), d.q("main")))}
	},
	func(d *ddlSession) []unit.Unit {
		q := d.q("side")
		d.dropTable("side")
		return []unit.Unit{unit.Auto("DROP TABLE " + q)}
	},
	func(d *ddlSession) []unit.Unit {
		half := d.g.o.Scale / 2
		t := d.tables["main"]
		d.addTable("like", d.name("like"), append([]ddlCol(nil), t.cols...), d.copyRows("main", half))
		return []unit.Unit{unit.Auto(fmt.Sprintf("CREATE TABLE %s LIKE %s", d.q("like"), d.q("main"))),
			unit.Auto(fmt.Sprintf("INSERT INTO %s SELECT * FROM %s WHERE id <= %d ORDER BY id", d.q("like"), d.q("main"), half))}
	},
	(*ddlSession).tempTable,
	func(d *ddlSession) []unit.Unit { return d.alter("main", "ADD UNIQUE KEY uk_b (b)") },
	func(d *ddlSession) []unit.Unit { return d.alter("main", "DROP PRIMARY KEY") },
	func(d *ddlSession) []unit.Unit {
		t := d.tables["main"]
		t.cols[t.col("a")].name = "a2"
		return d.alter("main", "CHANGE a a2 BIGINT NULL")
	},
	func(d *ddlSession) []unit.Unit {
		d.tables["like"].rows = idset.New()
		return []unit.Unit{unit.Auto("TRUNCATE TABLE " + d.q("like"))}
	},
	func(d *ddlSession) []unit.Unit { return d.alter("main", "ADD PRIMARY KEY (id)") },
	func(d *ddlSession) []unit.Unit {
		t := d.tables["main"]
		t.cols = append([]ddlCol{{"e", "enum"}}, t.cols...)
		return d.alter("main", "ADD COLUMN e ENUM('x','y','z') NOT NULL DEFAULT 'y' FIRST")
	},
	func(d *ddlSession) []unit.Unit {
		oldCopy, oldLike := d.q("copy"), d.q("like")
		d.tables["copy"].name, d.tables["like"].name = d.name("copy_r"), d.name("like_r")
		return []unit.Unit{unit.Auto(fmt.Sprintf("DROP INDEX idx_a ON %s", d.q("main"))),
			unit.Auto(fmt.Sprintf("RENAME TABLE %s TO %s, %s TO %s", oldCopy, d.q("copy"), oldLike, d.q("like")))}
	},
	func(d *ddlSession) []unit.Unit {
		q := d.q("copy")
		d.dropTable("copy")
		return []unit.Unit{unit.Auto("DROP TABLE " + q)}
	},
	func(d *ddlSession) []unit.Unit {
		return d.alter("main", "MODIFY b VARCHAR(100) CHARACTER SET latin1 NULL")
	},
}

// tempTable updates main from a temporary table.
func (d *ddlSession) tempTable() []unit.Unit {
	t, like := d.tables["main"], d.tables["like"]
	var vals []string
	for range 5 {
		id := t.rows.Pick(d.r)
		like.rows.Remove(id)
		vals = append(vals, fmt.Sprintf("(%d, %d)", id, d.r.IntN(1000)))
	}
	tmp := sqlvals.Ident(d.name("tmp"))
	return []unit.Unit{
		unit.Auto(fmt.Sprintf("CREATE TEMPORARY TABLE %s (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)", tmp)),
		unit.Auto(fmt.Sprintf("INSERT IGNORE INTO %s (id, v) VALUES %s", tmp, strings.Join(vals, ", "))),
		unit.Tx(fmt.Sprintf("UPDATE %s m JOIN %s t ON t.id = m.id SET m.a = t.v", d.q("main"), tmp),
			fmt.Sprintf("DELETE FROM %s WHERE id IN (SELECT id FROM %s)", d.q("like"), tmp)),
		unit.Auto("DROP TEMPORARY TABLE " + tmp),
	}
}

// value returns a literal for column c of row id.
func (d *ddlSession) value(c ddlCol, id int) string {
	r := d.r
	switch c.kind {
	case "id":
		return fmt.Sprint(id)
	case "int":
		return fmt.Sprint(r.IntN(1e6) - 5e5)
	case "str":
		return sqlvals.Str(fmt.Sprintf("b-%d-%s", id, sqlvals.RandASCII(r, 1+r.IntN(10))))
	case "json":
		return fmt.Sprintf("JSON_OBJECT('n', %d, 's', %s)", r.IntN(100), sqlvals.Str(sqlvals.RandText(r, 5)))
	case "dt":
		if r.IntN(2) == 0 {
			return "NOW(6)"
		}
		return sqlvals.QuotedTime(sqlvals.RandTime(r, 2000, 2030), sqlvals.LayoutDT6)
	default: // enum
		return []string{"'x'", "'y'", "'z'"}[r.IntN(3)]
	}
}

func (d *ddlSession) insert(role string) unit.Unit {
	t := d.tables[role]
	id := d.alloc.Fresh()
	t.rows.Add(id)
	var names, vals []string
	for _, c := range t.cols {
		names = append(names, sqlvals.Ident(c.name))
		vals = append(vals, d.value(c, id))
	}
	return unit.Auto(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", sqlvals.Ident(t.name), strings.Join(names, ", "), strings.Join(vals, ", ")))
}

// dml returns one to three inserts, updates or deletes on the tables that
// exist now, in a transaction or as autocommits.
func (d *ddlSession) dml() unit.Unit {
	var stmts []string
	for range 1 + d.r.IntN(3) {
		role := d.roles[d.r.IntN(len(d.roles))]
		t := d.tables[role]
		switch k := d.r.IntN(5); {
		case t.rows.Len() < 3 || k == 0:
			stmts = append(stmts, d.insert(role).Stmts...)
		case k == 1:
			id := t.rows.Pick(d.r)
			t.rows.Remove(id)
			stmts = append(stmts, fmt.Sprintf("DELETE FROM %s WHERE id=%d", sqlvals.Ident(t.name), id))
		default:
			id := t.rows.Pick(d.r)
			c := t.cols[d.r.IntN(len(t.cols))]
			if c.kind == "id" {
				c = t.cols[len(t.cols)-1]
			}
			stmts = append(stmts, fmt.Sprintf("UPDATE %s SET %s=%s WHERE id=%d", sqlvals.Ident(t.name), sqlvals.Ident(c.name), d.value(c, id), id))
		}
	}
	if len(stmts) > 1 && d.r.IntN(3) != 0 {
		return unit.Tx(stmts...)
	}
	return unit.Auto(stmts...)
}
