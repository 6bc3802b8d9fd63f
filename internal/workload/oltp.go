package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// oltpGen is sysbench oltp_write_only with uniformly drawn ids (OLTP) or
// sysbench 1.0's default "special" distribution (OLTPSpecial), or the same
// on few, hot rows (HotRows). Its statements do not depend on which rows
// exist, so sessions share every row and really contend.
type oltpGen struct {
	o       Options
	hot     bool
	special bool
}

func newOLTPGen(o Options) generator {
	return &oltpGen{o: o, hot: o.Profile == HotRows, special: o.Profile == OLTPSpecial}
}

func (*oltpGen) stateless() {}

// hotRows is how many rows HotRows transactions mostly touch.
const hotRows = 5

func oltpTable(t int) string { return sqlvals.Ident(fmt.Sprintf("sbtest%d", t)) }

// sysbenchString returns groups of 11 random digits joined by '-', as
// sysbench fills c (10 groups) and pad (5 groups).
func sysbenchString(r *rand.Rand, groups int) string {
	parts := make([]string, groups)
	for i := range parts {
		var b strings.Builder
		for j := 0; j < 11; j++ {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, "-")
}

func (g *oltpGen) setup(r *rand.Rand) []unit.Unit {
	var units []unit.Unit
	for t := 1; t <= g.o.Tables; t++ {
		units = append(units, unit.Auto(fmt.Sprintf(`CREATE TABLE %s (
  id INT NOT NULL AUTO_INCREMENT,
  k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '',
  pad CHAR(60) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY k_%d (k)
) ENGINE=InnoDB`, oltpTable(t), t)))
		rows := make([][]string, g.o.Scale)
		for i := range rows {
			rows[i] = []string{fmt.Sprint(i + 1), fmt.Sprint(1 + r.IntN(g.o.Scale)),
				sqlvals.Str(sysbenchString(r, 10)), sqlvals.Str(sysbenchString(r, 5))}
		}
		units = append(units, unit.Tx(sqlvals.InsertRows(oltpTable(t), sqlvals.Idents("id", "k", "c", "pad"), rows, 100)...))
	}
	return units
}

func (g *oltpGen) session(s int, r *rand.Rand) txnSource {
	return &oltpSession{g: g, r: r}
}

type oltpSession struct {
	g *oltpGen
	r *rand.Rand
}

// id returns a row id: uniform, from the special distribution for
// OLTPSpecial, or for HotRows one of the first hotRows ids nine times in
// ten.
func (s *oltpSession) id() int {
	switch {
	case s.g.special:
		return specialID(s.r, s.g.o.Scale)
	case s.g.hot && s.r.IntN(10) != 0:
		return 1 + s.r.IntN(min(hotRows, s.g.o.Scale))
	}
	return 1 + s.r.IntN(s.g.o.Scale)
}

// specialID returns an id in [1, n] drawn as sysbench 1.0 draws one with
// its default --rand-type=special (--rand-spec-pct=1, --rand-spec-res=75):
// one draw in four is the mean of 12 uniform draws over the whole range (a
// bell around its middle); the other three fall uniformly in a window of
// under 1% of the range just past its middle (sysbench reuses the draw that
// chose the branch, so the window's first quarter is never hit). Of 20,000
// rows, about 150 take three quarters of the writes.
func specialID(r *rand.Rand, n int) int {
	span := float64(n - 1)
	pick := r.Float64()
	if pick < 0.25 {
		sum := 0.0
		for range 12 {
			sum += r.Float64()
		}
		return 1 + int(sum*span/12)
	}
	return 1 + int(pick*(span*0.01+1)+span/2-span*0.005)
}

// k returns the k of an inserted row: as sysbench draws it, from the
// distribution of ids for OLTPSpecial, else uniform.
func (s *oltpSession) k() int {
	if s.g.special {
		return specialID(s.r, s.g.o.Scale)
	}
	return 1 + s.r.IntN(s.g.o.Scale)
}

func (s *oltpSession) table() string { return oltpTable(1 + s.r.IntN(s.g.o.Tables)) }

func (s *oltpSession) next(int) []unit.Unit {
	r := s.r
	if s.g.hot && r.IntN(8) == 0 {
		return []unit.Unit{unit.Auto(fmt.Sprintf("UPDATE %s SET k=k+1 WHERE id=%d", s.table(), s.id()))}
	}
	del, delTable := s.id(), s.table()
	return []unit.Unit{unit.Tx(
		fmt.Sprintf("UPDATE %s SET k=k+1 WHERE id=%d", s.table(), s.id()),
		fmt.Sprintf("UPDATE %s SET c=%s WHERE id=%d", s.table(), sqlvals.Str(sysbenchString(r, 10)), s.id()),
		fmt.Sprintf("DELETE FROM %s WHERE id=%d", delTable, del),
		fmt.Sprintf("INSERT INTO %s (id, k, c, pad) VALUES (%d, %d, %s, %s)", delTable, del,
			s.k(), sqlvals.Str(sysbenchString(r, 10)), sqlvals.Str(sysbenchString(r, 5))),
	)}
}
