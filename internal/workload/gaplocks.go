package workload

import (
	"fmt"
	"math/rand/v2"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// gapGen is the GapLocks profile: gl_rows has a secondary index on k (base
// values 10 apart, leaving gaps) and a nullable unique key u. Transactions
// delete ranges of k, insert into the gaps, move rows along k, lock ranges
// with SELECT ... FOR UPDATE and refill deleted ranges. With several
// threads the sessions contend on the same gaps (deadlocks are retried).
// Fresh ids and u values keep every statement valid without a model.
type gapGen struct{ o Options }

func newGapGen(o Options) generator { return &gapGen{o: o} }

func (*gapGen) stateless() {}

func (g *gapGen) setup(r *rand.Rand) []unit.Unit {
	var rows [][]string
	for id := 1; id <= g.o.Scale; id++ {
		u := "NULL"
		if id%2 == 0 {
			u = fmt.Sprint(id)
		}
		rows = append(rows, []string{fmt.Sprint(id), fmt.Sprint(id * 10), u, sqlvals.Str(sqlvals.RandASCII(r, 8))})
	}
	return []unit.Unit{
		unit.Auto(`CREATE TABLE gl_rows (
  id INT NOT NULL PRIMARY KEY,
  k INT NOT NULL,
  u INT NULL,
  v VARCHAR(20) NOT NULL,
  KEY k_k (k),
  UNIQUE KEY uk_u (u)
) ENGINE=InnoDB`),
		unit.Tx(sqlvals.InsertRows("gl_rows", sqlvals.Idents("id", "k", "u", "v"), rows, 100)...),
	}
}

func (g *gapGen) session(s int, r *rand.Rand) txnSource {
	return &gapSession{g: g, r: r, alloc: idset.NewAlloc(idset.Owner{S: s, N: g.o.Threads}, g.o.Scale)}
}

type gapSession struct {
	g     *gapGen
	r     *rand.Rand
	alloc *idset.Alloc // ids and u values
}

// insertAt inserts a new row at k.
func (s *gapSession) insertAt(k int) string {
	u := "NULL"
	if s.r.IntN(2) == 0 {
		u = fmt.Sprint(s.alloc.Fresh())
	}
	return fmt.Sprintf("INSERT INTO gl_rows (id, k, u, v) VALUES (%d, %d, %s, %s)", s.alloc.Fresh(), k, u, sqlvals.Str(sqlvals.RandASCII(s.r, 8)))
}

func (s *gapSession) next(int) []unit.Unit {
	r := s.r
	a := r.IntN(s.g.o.Scale * 10)
	switch r.IntN(8) {
	case 0:
		return []unit.Unit{unit.Auto(fmt.Sprintf("DELETE FROM gl_rows WHERE k BETWEEN %d AND %d", a, a+20))}
	case 1:
		return []unit.Unit{unit.Auto(s.insertAt(a + 1 + r.IntN(9)))}
	case 2:
		return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE gl_rows SET v=%s WHERE k > %d AND k < %d", sqlvals.Str(sqlvals.RandASCII(r, 6)), a, a+30))}
	case 3:
		return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE gl_rows SET k=k+5 WHERE k BETWEEN %d AND %d", a, a+15))}
	case 4: // empty a range and fill it again
		return []unit.Unit{unit.Tx(fmt.Sprintf("DELETE FROM gl_rows WHERE k BETWEEN %d AND %d", a, a+20),
			s.insertAt(a+3), s.insertAt(a+11), s.insertAt(a+11))}
	case 5: // lock a range, then write into it
		return []unit.Unit{unit.Tx(fmt.Sprintf("SELECT id FROM gl_rows WHERE k BETWEEN %d AND %d FOR UPDATE", a, a+25),
			s.insertAt(a+7), fmt.Sprintf("UPDATE gl_rows SET u=NULL WHERE k BETWEEN %d AND %d", a, a+25))}
	case 6:
		if !s.g.o.safeOnly() {
			return []unit.Unit{unit.Auto(fmt.Sprintf("DELETE FROM gl_rows WHERE k > %d ORDER BY k LIMIT 3", a))}
		}
		return []unit.Unit{unit.Auto(fmt.Sprintf("DELETE FROM gl_rows WHERE k > %d AND k < %d", a, a+8))}
	default:
		return []unit.Unit{unit.Tx(s.insertAt(a+2), fmt.Sprintf("UPDATE gl_rows SET v=CONCAT(LEFT(v, 10), 'g') WHERE k BETWEEN %d AND %d", a, a+10))}
	}
}
