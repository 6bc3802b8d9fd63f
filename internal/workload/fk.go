package workload

import (
	"fmt"
	"math/rand/v2"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// fkGen is the ForeignKeys profile: fk_parent <- fk_child <- fk_grandchild
// with ON DELETE CASCADE ON UPDATE CASCADE, fk_ref with ON DELETE SET NULL,
// and fk_order <- fk_line filled through AUTO_INCREMENT and LAST_INSERT_ID().
// Parent and child writes interleave; parents with children are deleted and
// re-keyed; some transactions run with foreign_key_checks=0, inserting a
// child before its parent or orphaning children (no cascade then). A model
// of the rows, cascades included, keeps every statement valid.
type fkGen struct {
	o        Options
	parents  []int
	children map[int]int // child -> parent (0 is NULL)
	grand    map[int]int // grandchild -> child
	refs     map[int]int // ref -> parent (0 is NULL)
	maxID    int
}

func newFKGen(o Options) generator { return &fkGen{o: o} }

const fkSchema = `CREATE TABLE fk_parent (
  id INT NOT NULL PRIMARY KEY,
  name VARCHAR(40) NOT NULL,
  v INT NOT NULL DEFAULT 0
) ENGINE=InnoDB;
CREATE TABLE fk_child (
  id INT NOT NULL PRIMARY KEY,
  parent_id INT NULL,
  note VARCHAR(40) NULL,
  KEY k_parent (parent_id),
  CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES fk_parent (id)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB;
CREATE TABLE fk_grandchild (
  id INT NOT NULL PRIMARY KEY,
  child_id INT NOT NULL,
  qty INT NOT NULL DEFAULT 0,
  KEY k_child (child_id),
  CONSTRAINT fk_grand_child FOREIGN KEY (child_id) REFERENCES fk_child (id)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB;
CREATE TABLE fk_ref (
  id INT NOT NULL PRIMARY KEY,
  parent_id INT NULL,
  KEY k_parent (parent_id),
  CONSTRAINT fk_ref_parent FOREIGN KEY (parent_id) REFERENCES fk_parent (id)
    ON DELETE SET NULL ON UPDATE CASCADE
) ENGINE=InnoDB;
CREATE TABLE fk_order (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sess INT NOT NULL,
  tag VARCHAR(20) NOT NULL,
  KEY k_sess_tag (sess, tag)
) ENGINE=InnoDB;
CREATE TABLE fk_line (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_id INT NOT NULL,
  qty INT NOT NULL,
  CONSTRAINT fk_line_order FOREIGN KEY (order_id) REFERENCES fk_order (id) ON DELETE CASCADE
) ENGINE=InnoDB`

func (g *fkGen) setup(r *rand.Rand) []unit.Unit {
	g.parents, g.children, g.grand, g.refs = nil, map[int]int{}, map[int]int{}, map[int]int{}
	var units []unit.Unit
	for _, q := range sqlvals.SplitStatements(fkSchema) {
		units = append(units, unit.Auto(q))
	}
	n := g.o.Scale
	var parents, children, grand, refs [][]string
	for id := 1; id <= n; id++ {
		g.parents = append(g.parents, id)
		parents = append(parents, []string{fmt.Sprint(id), sqlvals.Str(fmt.Sprintf("parent %d", id)), fmt.Sprint(r.IntN(100))})
	}
	for id := 1; id <= 2*n; id++ {
		p := 1 + r.IntN(n)
		if r.IntN(10) == 0 {
			p = 0
		}
		g.children[id] = p
		children = append(children, []string{fmt.Sprint(id), nullInt(p), sqlvals.Str(sqlvals.RandASCII(r, 8))})
	}
	for id := 1; id <= n; id++ {
		c := 1 + r.IntN(2*n)
		g.grand[id] = c
		grand = append(grand, []string{fmt.Sprint(id), fmt.Sprint(c), fmt.Sprint(r.IntN(50))})
		g.refs[id] = 1 + r.IntN(n)
		refs = append(refs, []string{fmt.Sprint(id), fmt.Sprint(g.refs[id])})
	}
	g.maxID = 2 * n
	units = append(units,
		unit.Tx(sqlvals.InsertRows("fk_parent", sqlvals.Idents("id", "name", "v"), parents, 100)...),
		unit.Tx(sqlvals.InsertRows("fk_child", sqlvals.Idents("id", "parent_id", "note"), children, 100)...),
		unit.Tx(sqlvals.InsertRows("fk_grandchild", sqlvals.Idents("id", "child_id", "qty"), grand, 100)...),
		unit.Tx(sqlvals.InsertRows("fk_ref", sqlvals.Idents("id", "parent_id"), refs, 100)...),
		unit.Tx("INSERT INTO fk_order (sess, tag) VALUES (-1, 'base')",
			"INSERT INTO fk_line (order_id, qty) VALUES (LAST_INSERT_ID(), 1), (LAST_INSERT_ID(), 2)"))
	return units
}

// nullInt returns id, or NULL for 0.
func nullInt(id int) string {
	if id == 0 {
		return "NULL"
	}
	return fmt.Sprint(id)
}

// session gives session s the parents it owns by id, and every row that
// hangs below them (or, for a NULL parent, the rows it owns by id), so that
// cascades never reach another session's rows.
func (g *fkGen) session(s int, r *rand.Rand) txnSource {
	o := idset.Owner{S: s, N: g.o.Threads}
	fs := &fkSession{r: r, s: s, alloc: idset.NewAlloc(o, g.maxID), parents: idset.New(),
		children: idset.New(), grand: idset.New(), refs: idset.New(),
		childOf: map[int]int{}, grandOf: map[int]int{}, refOf: map[int]int{}}
	for _, p := range g.parents {
		if o.Owns(p) {
			fs.parents.Add(p)
		}
	}
	mine := func(p, id int) bool { return (p != 0 && o.Owns(p)) || (p == 0 && o.Owns(id)) }
	for id := 1; id <= g.maxID; id++ {
		if p, ok := g.children[id]; ok && mine(p, id) {
			fs.children.Add(id)
			fs.childOf[id] = p
		}
		if p, ok := g.refs[id]; ok && mine(p, id) {
			fs.refs.Add(id)
			fs.refOf[id] = p
		}
	}
	for id := 1; id <= g.maxID; id++ {
		if c, ok := g.grand[id]; ok && fs.children.Has(c) {
			fs.grand.Add(id)
			fs.grandOf[id] = c
		}
	}
	return fs
}

type fkSession struct {
	r                              *rand.Rand
	s                              int
	alloc                          *idset.Alloc
	parents, children, grand, refs *idset.Set
	childOf, grandOf, refOf        map[int]int
	orders                         []string // tags of this session's orders
	nOrders                        int
}

func (f *fkSession) next(int) []unit.Unit {
	r := f.r
	if f.parents.Len() < 3 || f.children.Len() < 3 {
		return []unit.Unit{f.family()}
	}
	switch r.IntN(14) {
	case 0, 1:
		return []unit.Unit{f.family()}
	case 2:
		return []unit.Unit{unit.Auto(f.insertChild(f.parents.Pick(r)))}
	case 3:
		p, c := f.parents.Pick(r), f.children.Pick(r)
		return []unit.Unit{unit.Tx(fmt.Sprintf("UPDATE fk_parent SET v=v+1 WHERE id=%d", p),
			fmt.Sprintf("UPDATE fk_child SET note=%s WHERE id=%d", sqlvals.Str(sqlvals.RandASCII(r, 6)), c))}
	case 4:
		return []unit.Unit{unit.Auto(f.rekeyParent(true))}
	case 5:
		return []unit.Unit{unit.Auto(f.deleteParent(f.parents.Pick(r), true))}
	case 6:
		c, p := f.children.Pick(r), f.parents.Pick(r)
		f.childOf[c] = p
		return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE fk_child SET parent_id=%d WHERE id=%d", p, c))}
	case 7:
		return []unit.Unit{unit.Auto(f.deleteChild(f.children.Pick(r)))}
	case 8:
		return []unit.Unit{unit.Auto(f.rekeyChild())}
	case 9:
		p := f.parents.Pick(r)
		return []unit.Unit{unit.Tx(f.deleteParent(p, true), f.insertParent(p), f.insertChild(p))}
	case 10, 11:
		return []unit.Unit{f.orderUnit()}
	default:
		return []unit.Unit{f.noChecksUnit()}
	}
}

// family inserts two parents and their children, interleaved, and a
// grandchild, in one transaction.
func (f *fkSession) family() unit.Unit {
	p1, p2 := f.alloc.Fresh(), f.alloc.Fresh()
	stmts := []string{f.insertParent(p1), f.insertChild(p1), f.insertParent(p2), f.insertChild(p2)}
	stmts = append(stmts, f.insertGrand(f.children.IDs[len(f.children.IDs)-2]))
	return unit.Tx(stmts...)
}

func (f *fkSession) insertParent(p int) string {
	f.parents.Add(p)
	return fmt.Sprintf("INSERT INTO fk_parent (id, name, v) VALUES (%d, %s, %d)", p,
		sqlvals.Str(fmt.Sprintf("parent %d", p)), f.r.IntN(100))
}

func (f *fkSession) insertChild(p int) string {
	c := f.alloc.Fresh()
	f.children.Add(c)
	f.childOf[c] = p
	return fmt.Sprintf("INSERT INTO fk_child (id, parent_id, note) VALUES (%d, %d, %s)", c, p, sqlvals.Str(sqlvals.RandASCII(f.r, 8)))
}

func (f *fkSession) insertGrand(c int) string {
	g := f.alloc.Fresh()
	f.grand.Add(g)
	f.grandOf[g] = c
	return fmt.Sprintf("INSERT INTO fk_grandchild (id, child_id, qty) VALUES (%d, %d, %d)", g, c, f.r.IntN(50))
}

// deleteParent deletes parent p; with checks its children (and theirs) go
// by cascade and its refs become NULL, without checks they stay as orphans.
func (f *fkSession) deleteParent(p int, checks bool) string {
	f.parents.Remove(p)
	if checks {
		for _, c := range append([]int(nil), f.children.IDs...) {
			if f.childOf[c] == p {
				f.dropChild(c)
			}
		}
		for _, id := range f.refs.IDs {
			if f.refOf[id] == p {
				f.refOf[id] = 0
			}
		}
	}
	return fmt.Sprintf("DELETE FROM fk_parent WHERE id=%d", p)
}

func (f *fkSession) deleteChild(c int) string {
	f.dropChild(c)
	return fmt.Sprintf("DELETE FROM fk_child WHERE id=%d", c)
}

// dropChild removes child c and its grandchildren from the model.
func (f *fkSession) dropChild(c int) {
	f.children.Remove(c)
	delete(f.childOf, c)
	for _, g := range append([]int(nil), f.grand.IDs...) {
		if f.grandOf[g] == c {
			f.grand.Remove(g)
			delete(f.grandOf, g)
		}
	}
}

// rekeyParent gives a parent a new primary key; with checks the children
// and refs follow (ON UPDATE CASCADE), without they become orphans.
func (f *fkSession) rekeyParent(checks bool) string {
	p, np := f.parents.Pick(f.r), f.alloc.Fresh()
	f.parents.Remove(p)
	f.parents.Add(np)
	if checks {
		for _, c := range f.children.IDs {
			if f.childOf[c] == p {
				f.childOf[c] = np
			}
		}
		for _, id := range f.refs.IDs {
			if f.refOf[id] == p {
				f.refOf[id] = np
			}
		}
	}
	return fmt.Sprintf("UPDATE fk_parent SET id=%d WHERE id=%d", np, p)
}

// rekeyChild gives a child a new primary key; grandchildren follow. An
// orphan child is deleted instead: moving its key would check its own
// foreign key against the missing parent.
func (f *fkSession) rekeyChild() string {
	c := f.children.Pick(f.r)
	if p := f.childOf[c]; p != 0 && !f.parents.Has(p) {
		return f.deleteChild(c)
	}
	nc := f.alloc.Fresh()
	f.children.Remove(c)
	f.children.Add(nc)
	f.childOf[nc] = f.childOf[c]
	delete(f.childOf, c)
	for _, g := range f.grand.IDs {
		if f.grandOf[g] == c {
			f.grandOf[g] = nc
		}
	}
	return fmt.Sprintf("UPDATE fk_child SET id=%d WHERE id=%d", nc, c)
}

// orderUnit inserts an order and its lines through LAST_INSERT_ID(), or
// deletes one of this session's orders (its lines go by cascade).
func (f *fkSession) orderUnit() unit.Unit {
	if len(f.orders) > 0 && f.r.IntN(3) == 0 {
		i := f.r.IntN(len(f.orders))
		tag := f.orders[i]
		f.orders = append(f.orders[:i], f.orders[i+1:]...)
		return unit.Auto(fmt.Sprintf("DELETE FROM fk_order WHERE sess=%d AND tag=%s", f.s, sqlvals.Str(tag)))
	}
	f.nOrders++
	tag := fmt.Sprintf("o%d", f.nOrders)
	f.orders = append(f.orders, tag)
	return unit.Tx(
		fmt.Sprintf("INSERT INTO fk_order (sess, tag) VALUES (%d, %s)", f.s, sqlvals.Str(tag)),
		"SET @o := LAST_INSERT_ID()",
		fmt.Sprintf("INSERT INTO fk_line (order_id, qty) VALUES (LAST_INSERT_ID(), %d), (@o, %d)",
			f.r.IntN(10), f.r.IntN(10)),
		"UPDATE fk_line SET qty=qty+100 WHERE id=LAST_INSERT_ID() AND order_id=@o",
	)
}

// noChecksUnit runs with foreign_key_checks=0: a child inserted before its
// parent, or a parent deleted or re-keyed leaving orphans.
func (f *fkSession) noChecksUnit() unit.Unit {
	e := unit.Env{NoFKChecks: true}
	switch f.r.IntN(3) {
	case 0:
		p := f.alloc.Fresh()
		child := f.insertChild(p)
		return unit.Tx(child, f.insertParent(p)).With(e)
	case 1:
		return unit.Auto(f.deleteParent(f.parents.Pick(f.r), false)).With(e)
	default:
		return unit.Tx(f.rekeyParent(false), fmt.Sprintf("UPDATE fk_parent SET v=v+1 WHERE id=%d",
			f.parents.Pick(f.r))).With(e)
	}
}
