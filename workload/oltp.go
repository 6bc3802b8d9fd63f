package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// oltpGen is sysbench oltp_write_only (OLTP), or the same on few, hot rows
// (HotRows). Its statements do not depend on which rows exist, so sessions
// share every row and really contend.
type oltpGen struct {
	o   Options
	hot bool
}

func newOLTPGen(o Options) generator { return &oltpGen{o: o, hot: o.Profile == HotRows} }

func (*oltpGen) stateless() {}

// hotRows is how many rows HotRows transactions mostly touch.
const hotRows = 5

func oltpTable(t int) string { return ident(fmt.Sprintf("sbtest%d", t)) }

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

func (g *oltpGen) setup(r *rand.Rand) []unit {
	var units []unit
	for t := 1; t <= g.o.Tables; t++ {
		units = append(units, autoUnit(fmt.Sprintf(`CREATE TABLE %s (
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
				str(sysbenchString(r, 10)), str(sysbenchString(r, 5))}
		}
		units = append(units, txUnit(insertRows(oltpTable(t), idents("id", "k", "c", "pad"), rows, 100)...))
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

// id returns a row id: uniform, or for HotRows one of the first hotRows
// ids nine times in ten.
func (s *oltpSession) id() int {
	if s.g.hot && s.r.IntN(10) != 0 {
		return 1 + s.r.IntN(min(hotRows, s.g.o.Scale))
	}
	return 1 + s.r.IntN(s.g.o.Scale)
}

func (s *oltpSession) table() string { return oltpTable(1 + s.r.IntN(s.g.o.Tables)) }

func (s *oltpSession) next(int) []unit {
	r := s.r
	if s.g.hot && r.IntN(8) == 0 {
		return []unit{autoUnit(fmt.Sprintf("UPDATE %s SET k=k+1 WHERE id=%d", s.table(), s.id()))}
	}
	del, delTable := s.id(), s.table()
	return []unit{txUnit(
		fmt.Sprintf("UPDATE %s SET k=k+1 WHERE id=%d", s.table(), s.id()),
		fmt.Sprintf("UPDATE %s SET c=%s WHERE id=%d", s.table(), str(sysbenchString(r, 10)), s.id()),
		fmt.Sprintf("DELETE FROM %s WHERE id=%d", delTable, del),
		fmt.Sprintf("INSERT INTO %s (id, k, c, pad) VALUES (%d, %d, %s, %s)", delTable, del,
			1+r.IntN(s.g.o.Scale), str(sysbenchString(r, 10)), str(sysbenchString(r, 5))),
	)}
}
