package plan

import (
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// synth builds synthetic transactions laid out back to back in binlog
// files, as the reader would return them.
type synth struct {
	txns []*txn.Txn
	file string
	off  uint64
	now  time.Time
	tms  map[string]*txn.TableMap
}

func newSynth(file string) *synth {
	return &synth{file: file, off: 256, now: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), tms: map[string]*txn.TableMap{}}
}

// rotate continues in a new file.
func (s *synth) rotate(file string) { s.file, s.off = file, 256 }

// tick moves the commit clock.
func (s *synth) tick(d time.Duration) { s.now = s.now.Add(d) }

func (s *synth) add(kind txn.Kind, g txn.GTID, size uint64, events ...txn.Event) *txn.Txn {
	t := &txn.Txn{Seq: uint64(len(s.txns) + 1), Kind: kind, GTID: g,
		Start: txn.Position{File: s.file, Offset: s.off}, End: txn.Position{File: s.file, Offset: s.off + size},
		Time: s.now, Bytes: int64(size), Events: events,
		Format: &txn.Format{Flavor: txn.FlavorMariaDB, ServerVersion: "10.11.0-MariaDB-log"}}
	for i := range t.Events {
		t.Events[i].Raw = []byte{1}
		t.Events[i].Pos = t.Start
	}
	s.off += size
	s.txns = append(s.txns, t)
	return t
}

// table returns a table map with columns (id, v); pk says whether the
// optional metadata gives id as its primary key.
func (s *synth) table(schema, name string, pk bool) *txn.TableMap {
	key := schema + "." + name
	if tm, ok := s.tms[key]; ok {
		return tm
	}
	tm := &txn.TableMap{ID: uint64(len(s.tms) + 1), Schema: schema, Table: name, ColumnTypes: []byte{3, 15}}
	if pk {
		tm.PrimaryKey = []int{0}
		tm.ColumnNames = []string{"id", "v"}
	}
	s.tms[key] = tm
	return tm
}

func mgtid(seq uint64) txn.GTID {
	return txn.GTID{Flavor: txn.FlavorMariaDB, Domain: 0, Server: 1, Seq: seq}
}

func ddl(schema, sql string) txn.Event {
	return txn.Event{Kind: txn.EventQuery, Query: &txn.Query{Schema: schema, SQL: []byte(sql)}}
}

func tmapEv(tm *txn.TableMap) txn.Event {
	return txn.Event{Kind: txn.EventTableMap, TableMap: tm}
}

// rowsEv is a decoded row event with full images of (id, v) rows; for
// updates give before and after images in turn.
func rowsEv(op txn.Op, tm *txn.TableMap, ids ...int64) txn.Event {
	r := &txn.Rows{Op: op, Table: tm, Decoded: true, Columns: []bool{true, true}}
	if op == txn.OpUpdate {
		r.ColumnsAfter = []bool{true, true}
	}
	for _, id := range ids {
		r.Rows = append(r.Rows, []any{id, []byte("x")})
	}
	return txn.Event{Kind: txn.EventRows, Rows: r}
}

// rowsTxn is a KindRows transaction writing rows of one table.
func (s *synth) rowsTxn(g txn.GTID, op txn.Op, tm *txn.TableMap, ids ...int64) *txn.Txn {
	return s.add(txn.KindRows, g, 100+10*uint64(len(ids)), tmapEv(tm), rowsEv(op, tm, ids...))
}

// analyse runs the analyzer over txns with o, as Run does after reading.
func analyse(o Options, txns []*txn.Txn) *Report {
	opts := o.withDefaults()
	if opts.Location == nil || o.Location == nil {
		opts.Location = time.UTC
	}
	rep := &Report{Candidates: []Candidate{}}
	a := newAnalyzer(&opts, rep)
	for _, t := range txns {
		a.add(cloneTxn(t))
	}
	a.finish(nil, txn.Position{})
	return rep
}

// cloneTxn copies t's event list, which the include filters change.
func cloneTxn(t *txn.Txn) *txn.Txn {
	c := *t
	c.Events = append([]txn.Event(nil), t.Events...)
	return &c
}
