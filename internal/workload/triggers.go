package workload

import (
	"fmt"
	"math/rand/v2"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// triggersGen is the Triggers profile: tr_items has BEFORE triggers that
// rewrite the row and AFTER INSERT/UPDATE/DELETE triggers that append to
// tr_audit (keyed by item and a per-item sequence the trigger computes) and
// keep running totals in tr_totals. A replay that fires the triggers again
// for row events doubles the audit rows and totals.
type triggersGen struct {
	o     Options
	items []int
}

func newTriggersGen(o Options) generator { return &triggersGen{o: o} }

// triggersSchema holds one statement per element (trigger bodies contain
// semicolons).
var triggersSchema = []string{
	`CREATE TABLE tr_items (
  id INT NOT NULL PRIMARY KEY,
  name VARCHAR(40) NOT NULL,
  qty INT NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  updated_at DATETIME(6) NULL
) ENGINE=InnoDB`,
	`CREATE TABLE tr_audit (
  item_id INT NOT NULL,
  seq INT NOT NULL,
  op CHAR(1) NOT NULL,
  old_qty INT NULL,
  new_qty INT NULL,
  at DATETIME(6) NOT NULL,
  PRIMARY KEY (item_id, seq)
) ENGINE=InnoDB`,
	`CREATE TABLE tr_totals (
  op CHAR(1) NOT NULL PRIMARY KEY,
  n INT NOT NULL,
  qty BIGINT NOT NULL
) ENGINE=InnoDB`,
	`CREATE TRIGGER tr_items_bi BEFORE INSERT ON tr_items FOR EACH ROW
  SET NEW.name = UPPER(NEW.name), NEW.updated_at = NOW(6)`,
	`CREATE TRIGGER tr_items_bu BEFORE UPDATE ON tr_items FOR EACH ROW
  SET NEW.updated_at = NOW(6)`,
	`CREATE TRIGGER tr_items_ai AFTER INSERT ON tr_items FOR EACH ROW BEGIN
  INSERT INTO tr_audit (item_id, seq, op, old_qty, new_qty, at)
    SELECT NEW.id, COALESCE(MAX(seq), 0) + 1, 'I', NULL, NEW.qty, NOW(6) FROM tr_audit WHERE item_id = NEW.id;
  INSERT INTO tr_totals (op, n, qty) VALUES ('I', 1, NEW.qty)
    ON DUPLICATE KEY UPDATE n = n + 1, qty = qty + NEW.qty;
END`,
	`CREATE TRIGGER tr_items_au AFTER UPDATE ON tr_items FOR EACH ROW BEGIN
  INSERT INTO tr_audit (item_id, seq, op, old_qty, new_qty, at)
    SELECT NEW.id, COALESCE(MAX(seq), 0) + 1, 'U', OLD.qty, NEW.qty, NOW(6) FROM tr_audit WHERE item_id = NEW.id;
  INSERT INTO tr_totals (op, n, qty) VALUES ('U', 1, NEW.qty - OLD.qty)
    ON DUPLICATE KEY UPDATE n = n + 1, qty = qty + NEW.qty - OLD.qty;
END`,
	`CREATE TRIGGER tr_items_ad AFTER DELETE ON tr_items FOR EACH ROW BEGIN
  INSERT INTO tr_audit (item_id, seq, op, old_qty, new_qty, at)
    SELECT OLD.id, COALESCE(MAX(seq), 0) + 1, 'D', OLD.qty, NULL, NOW(6) FROM tr_audit WHERE item_id = OLD.id;
  INSERT INTO tr_totals (op, n, qty) VALUES ('D', 1, OLD.qty)
    ON DUPLICATE KEY UPDATE n = n + 1, qty = qty + OLD.qty;
END`,
}

func (g *triggersGen) setup(r *rand.Rand) []unit.Unit {
	var units []unit.Unit
	for _, q := range triggersSchema {
		units = append(units, unit.Auto(q))
	}
	g.items = nil
	var rows [][]string
	for id := 1; id <= g.o.Scale; id++ {
		g.items = append(g.items, id)
		rows = append(rows, itemRow(r, id))
	}
	return append(units, unit.Tx(sqlvals.InsertRows("tr_items", sqlvals.Idents("id", "name", "qty", "price"), rows, 100)...))
}

func itemRow(r *rand.Rand, id int) []string {
	return []string{fmt.Sprint(id), sqlvals.Str(fmt.Sprintf("item %d %s", id, sqlvals.RandASCII(r, 4))),
		fmt.Sprint(r.IntN(100)), fmt.Sprintf("%d.%02d", r.IntN(1000), r.IntN(100))}
}

func (g *triggersGen) session(s int, r *rand.Rand) txnSource {
	o := idset.Owner{S: s, N: g.o.Threads}
	ts := &triggersSession{r: r, o: o, alloc: idset.NewAlloc(o, g.o.Scale), items: idset.New()}
	for _, id := range g.items {
		if o.Owns(id) {
			ts.items.Add(id)
		}
	}
	return ts
}

type triggersSession struct {
	r     *rand.Rand
	o     idset.Owner
	alloc *idset.Alloc
	items *idset.Set
}

func (t *triggersSession) next(int) []unit.Unit {
	var stmts []string
	for range 1 + t.r.IntN(3) {
		stmts = append(stmts, t.op()...)
	}
	if len(stmts) > 1 && t.r.IntN(4) != 0 {
		return []unit.Unit{unit.Tx(stmts...)}
	}
	return []unit.Unit{unit.Auto(stmts...)}
}

func (t *triggersSession) op() []string {
	r := t.r
	if t.items.Len() < 3 {
		return []string{t.insert(2)}
	}
	id := t.items.Pick(r)
	switch r.IntN(8) {
	case 0, 1:
		return []string{t.insert(1 + r.IntN(3))}
	case 2, 3:
		return []string{fmt.Sprintf("UPDATE tr_items SET qty=qty+%d WHERE id=%d", 1+r.IntN(5), id)}
	case 4:
		where := fmt.Sprintf("id BETWEEN %d AND %d", id, id+5*t.o.N)
		if t.o.N > 1 {
			where += fmt.Sprintf(" AND (id-1) %% %d = %d", t.o.N, t.o.S)
		}
		return []string{fmt.Sprintf("UPDATE tr_items SET qty=(qty*2) %% 100000, price=price+0.01 WHERE %s", where)}
	case 5:
		t.items.Remove(id)
		return []string{fmt.Sprintf("DELETE FROM tr_items WHERE id=%d", id)}
	case 6: // deleted and inserted again: the audit sequence carries on
		return []string{fmt.Sprintf("DELETE FROM tr_items WHERE id=%d", id),
			sqlvals.InsertRows("tr_items", sqlvals.Idents("id", "name", "qty", "price"), [][]string{itemRow(r, id)}, 1)[0]}
	default:
		return []string{fmt.Sprintf("UPDATE tr_items SET name=%s WHERE id=%d", sqlvals.Str(sqlvals.RandText(r, 20)), id)}
	}
}

// insert inserts n new items in one statement.
func (t *triggersSession) insert(n int) string {
	var rows [][]string
	for range n {
		id := t.alloc.Fresh()
		t.items.Add(id)
		rows = append(rows, itemRow(t.r, id))
	}
	return sqlvals.InsertRows("tr_items", sqlvals.Idents("id", "name", "qty", "price"), rows, n)[0]
}
