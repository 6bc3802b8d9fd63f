package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// noPKGen is the NoPK profile: tables without a primary key (one with no
// index at all, one with a secondary index, one whose only unique key is
// nullable, one whose NOT NULL unique key InnoDB takes as its clustered
// key), holding duplicate rows, FLOAT and BLOB columns. Updates and deletes
// use WHERE clauses that match several (often identical) rows; LIMIT appears
// only when the format is not STATEMENT. Nothing here depends on which rows
// exist, so there is no model.
type noPKGen struct{ o Options }

func newNoPKGen(o Options) generator { return &noPKGen{o: o} }

func (*noPKGen) stateless() {}

const noPKSchema = `CREATE TABLE np_plain (
  a INT NULL,
  b VARCHAR(20) NULL,
  f FLOAT NULL,
  d DOUBLE NULL,
  t TEXT NULL,
  bl BLOB NULL
) ENGINE=InnoDB;
CREATE TABLE np_idx (
  a INT NOT NULL,
  b VARCHAR(20) NOT NULL,
  v INT NOT NULL,
  KEY k_a (a)
) ENGINE=InnoDB;
CREATE TABLE np_uniq_null (
  a INT NULL,
  b INT NOT NULL,
  UNIQUE KEY uk_a (a)
) ENGINE=InnoDB;
CREATE TABLE np_implicit (
  a INT NOT NULL,
  b VARCHAR(20) NULL,
  UNIQUE KEY uk_a (a)
) ENGINE=InnoDB`

var noPKWords = []string{"x", "y", "z", "é", "X", "it's", `back\slash`}

// plainRow returns a random np_plain row from small domains, so rows repeat.
func plainRow(r *rand.Rand) []string {
	floats := []string{"1.5", "0.1", "3.14159", "-2.5e10", "NULL"}
	return []string{
		sqlvals.OrNull(r, 8, fmt.Sprint(r.IntN(10))),
		sqlvals.OrNull(r, 8, sqlvals.Str(noPKWords[r.IntN(len(noPKWords))])),
		floats[r.IntN(len(floats))],
		sqlvals.OrNull(r, 4, fmt.Sprintf("%.3f", float64(r.IntN(1000))/7)),
		sqlvals.OrNull(r, 4, sqlvals.Str(strings.Repeat("t", r.IntN(40)))),
		sqlvals.OrNull(r, 4, sqlvals.HexLit([]byte{byte(r.IntN(3)), 0})),
	}
}

func (g *noPKGen) setup(r *rand.Rand) []unit.Unit {
	var units []unit.Unit
	for _, q := range sqlvals.SplitStatements(noPKSchema) {
		units = append(units, unit.Auto(q))
	}
	var plain, idx, nul, impl [][]string
	for i := 0; i < g.o.Scale; i++ {
		row := plainRow(r)
		plain = append(plain, row)
		if r.IntN(3) == 0 { // an exact duplicate
			plain = append(plain, row)
		}
		idx = append(idx, []string{fmt.Sprint(r.IntN(20)), sqlvals.Str(noPKWords[r.IntN(3)]), fmt.Sprint(r.IntN(5))})
		a := "NULL"
		if i%2 == 0 {
			a = fmt.Sprint(i + 1)
		}
		nul = append(nul, []string{a, fmt.Sprint(r.IntN(10))})
		impl = append(impl, []string{fmt.Sprint(i + 1), sqlvals.Str(noPKWords[r.IntN(len(noPKWords))])})
	}
	return append(units,
		unit.Tx(sqlvals.InsertRows("np_plain", sqlvals.Idents("a", "b", "f", "d", "t", "bl"), plain, 100)...),
		unit.Tx(sqlvals.InsertRows("np_idx", sqlvals.Idents("a", "b", "v"), idx, 100)...),
		unit.Tx(sqlvals.InsertRows("np_uniq_null", sqlvals.Idents("a", "b"), nul, 100)...),
		unit.Tx(sqlvals.InsertRows("np_implicit", sqlvals.Idents("a", "b"), impl, 100)...),
	)
}

func (g *noPKGen) session(s int, r *rand.Rand) txnSource {
	return &noPKSession{g: g, r: r, alloc: idset.NewAlloc(idset.Owner{S: s, N: g.o.Threads}, g.o.Scale)}
}

type noPKSession struct {
	g     *noPKGen
	r     *rand.Rand
	alloc *idset.Alloc // fresh values for the unique keys
}

func (s *noPKSession) next(int) []unit.Unit {
	var stmts []string
	for range 1 + s.r.IntN(3) {
		stmts = append(stmts, s.op())
	}
	if len(stmts) > 1 && s.r.IntN(4) != 0 {
		return []unit.Unit{unit.Tx(stmts...)}
	}
	return []unit.Unit{unit.Auto(stmts...)}
}

func (s *noPKSession) op() string {
	r := s.r
	k, w := r.IntN(10), sqlvals.Str(noPKWords[r.IntN(len(noPKWords))])
	switch r.IntN(14) {
	case 0, 1:
		row := plainRow(r)
		rows := [][]string{row, row}
		if r.IntN(2) == 0 {
			rows = append(rows, plainRow(r))
		}
		return sqlvals.InsertRows("np_plain", sqlvals.Idents("a", "b", "f", "d", "t", "bl"), rows, 10)[0]
	case 2:
		return fmt.Sprintf("UPDATE np_plain SET b=%s WHERE a=%d", w, k)
	case 3:
		return fmt.Sprintf("UPDATE np_plain SET a=a+1, f=f*2 WHERE b=%s AND a<%d", w, k)
	case 4:
		return fmt.Sprintf("DELETE FROM np_plain WHERE a=%d AND b=%s", k, w)
	case 5:
		if !s.g.o.safeOnly() {
			return fmt.Sprintf("DELETE FROM np_plain WHERE a=%d LIMIT 1", k)
		}
		return fmt.Sprintf("DELETE FROM np_plain WHERE a IS NULL AND b=%s", w)
	case 6:
		return fmt.Sprintf("INSERT INTO np_idx (a, b, v) VALUES (%d, %s, 0), (%d, %s, 0)", k, w, k, w)
	case 7:
		return fmt.Sprintf("UPDATE np_idx SET v=v+1 WHERE a BETWEEN %d AND %d", k, k+2)
	case 8:
		return fmt.Sprintf("DELETE FROM np_idx WHERE a=%d AND v>%d", k, r.IntN(3))
	case 9:
		return fmt.Sprintf("INSERT INTO np_uniq_null (a, b) VALUES (NULL, %d), (NULL, %d), (%d, %d)", k, k, s.alloc.Fresh(), k)
	case 10:
		if !s.g.o.safeOnly() {
			return fmt.Sprintf("UPDATE np_uniq_null SET a=%d WHERE a IS NULL LIMIT 1", s.alloc.Fresh())
		}
		return fmt.Sprintf("UPDATE np_uniq_null SET a=NULL WHERE b=%d", k)
	case 11:
		return fmt.Sprintf("DELETE FROM np_uniq_null WHERE a IS NULL AND b=%d", k)
	case 12:
		return fmt.Sprintf("INSERT INTO np_implicit (a, b) VALUES (%d, %s)", s.alloc.Fresh(), w)
	default:
		a := 1 + r.IntN(s.g.o.Scale)
		if r.IntN(2) == 0 {
			return fmt.Sprintf("DELETE FROM np_implicit WHERE a=%d", a)
		}
		return fmt.Sprintf("UPDATE np_implicit SET b=%s WHERE a=%d", w, a)
	}
}
