package workload

import (
	"fmt"
	"math/rand/v2"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// bigGen is the BigTxn profile. Session 0 runs, spread over its share of
// transactions: one transaction inserting BigRows(Scale) rows, updating
// them all and deleting a third of them; later one autocommit UPDATE of
// every row of bt_big; later still one autocommit DELETE of a fifth of it.
// All other transactions are small updates and inserts.
type bigGen struct{ o Options }

func newBigGen(o Options) generator { return &bigGen{o: o} }

func (*bigGen) stateless() {}

// BigRows returns how many rows BigTxn's big transaction inserts at scale:
// 500 per base row, at least 1000 (100,000 at the default Scale).
func BigRows(scale int) int {
	if scale == 0 {
		scale = DefaultScale
	}
	return max(1000, 500*scale)
}

func bigRow(r *rand.Rand, id int) []string {
	return []string{fmt.Sprint(id), fmt.Sprint(r.IntN(1e6)), sqlvals.Str(sqlvals.RandASCII(r, 10+r.IntN(40))), sqlvals.Str(sqlvals.RandASCII(r, 60))}
}

func (g *bigGen) setup(r *rand.Rand) []unit.Unit {
	var big, small [][]string
	for id := 1; id <= g.o.Scale; id++ {
		big = append(big, bigRow(r, id))
		small = append(small, []string{fmt.Sprint(id), fmt.Sprint(r.IntN(100))})
	}
	return []unit.Unit{
		unit.Auto(`CREATE TABLE bt_big (
  id INT NOT NULL PRIMARY KEY,
  k INT NOT NULL,
  v VARCHAR(64) NOT NULL,
  pad CHAR(100) NOT NULL,
  KEY k_k (k)
) ENGINE=InnoDB`),
		unit.Auto(`CREATE TABLE bt_small (
  id INT NOT NULL PRIMARY KEY,
  n INT NOT NULL
) ENGINE=InnoDB`),
		unit.Tx(sqlvals.InsertRows("bt_big", sqlvals.Idents("id", "k", "v", "pad"), big, 100)...),
		unit.Tx(sqlvals.InsertRows("bt_small", sqlvals.Idents("id", "n"), small, 100)...),
	}
}

func (g *bigGen) session(s int, r *rand.Rand) txnSource {
	n := 0
	for i := s; i < g.o.Txns; i += g.o.Threads {
		n++
	}
	return &bigSession{g: g, r: r, s: s, local: n,
		alloc: idset.NewAlloc(idset.Owner{S: s, N: g.o.Threads}, g.o.Scale+BigRows(g.o.Scale))}
}

type bigSession struct {
	g     *bigGen
	r     *rand.Rand
	s     int
	local int
	alloc *idset.Alloc // ids for bt_small
}

func (b *bigSession) next(i int) []unit.Unit {
	k := (i - b.s) / b.g.o.Threads
	var units []unit.Unit
	if b.s == 0 && k == 0 {
		units = append(units, b.bigTxn())
	}
	if b.s == 0 && k == b.local/3 {
		units = append(units, unit.Auto("UPDATE bt_big SET k=k+7, v=REVERSE(v)"))
	}
	if b.s == 0 && k == 2*b.local/3 {
		units = append(units, unit.Auto("DELETE FROM bt_big WHERE id % 5 = 1"))
	}
	return append(units, b.small())
}

// bigTxn inserts BigRows rows after the base ones (1000 per statement),
// updates them all and deletes a third, in one transaction.
func (b *bigSession) bigTxn() unit.Unit {
	first, n := b.g.o.Scale+1, BigRows(b.g.o.Scale)
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = bigRow(b.r, first+i)
	}
	stmts := sqlvals.InsertRows("bt_big", sqlvals.Idents("id", "k", "v", "pad"), rows, 1000)
	return unit.Tx(append(stmts,
		fmt.Sprintf("UPDATE bt_big SET k=k+1, v=CONCAT(LEFT(v, 50), '-u') WHERE id >= %d", first),
		fmt.Sprintf("DELETE FROM bt_big WHERE id >= %d AND id %% 3 = 0", first),
	)...)
}

func (b *bigSession) small() unit.Unit {
	r := b.r
	big := 1 + r.IntN(b.g.o.Scale+BigRows(b.g.o.Scale))
	switch r.IntN(3) {
	case 0:
		return unit.Auto(fmt.Sprintf("INSERT INTO bt_small (id, n) VALUES (%d, %d)", b.alloc.Fresh(), r.IntN(100)))
	case 1:
		return unit.Auto(fmt.Sprintf("UPDATE bt_small SET n=n+1 WHERE id=%d", 1+r.IntN(b.g.o.Scale)))
	default:
		return unit.Tx(fmt.Sprintf("UPDATE bt_big SET k=k-1 WHERE id=%d", big),
			fmt.Sprintf("UPDATE bt_small SET n=n-1 WHERE id=%d", 1+r.IntN(b.g.o.Scale)))
	}
}
