package plan

import (
	"sort"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Barrier reasons.
const (
	barrierDDL       = "ddl"
	barrierStatement = "statement"
)

// parallel builds the dependency list of the applied transactions.
//
// Row keys go through a partition.Tracker. Tables keyed whole are handled
// beside it like a table lock: a transaction writing table T whole waits
// for the last transaction that wrote T at all, and one writing rows of T
// waits for the last one that wrote T whole, so that the two keyings of
// one table (a table map with and one without the primary key) still
// conflict.
type parallel struct {
	opts    *Options
	keyer   keyer
	tracker *partition.Tracker
	tables  map[string]*tableLock
	steps   []step
	hot     *hotKeys
	keys    []partition.Key // scratch

	barriers map[string]uint64
	whole    map[string]string // table -> why keyed whole (first reason)
	byRow    map[string]bool
}

// tableLock is the last transactions that wrote a table whole, and at all.
type tableLock struct{ whole, any uint64 }

// step is one applied transaction in the dependency list.
type step struct {
	seq, dependsOn uint64
	rows           uint64
	bytes          int64
}

func newParallel(o *Options) *parallel {
	return &parallel{
		opts: o, keyer: keyer{tableOnly: o.TableKeys, names: tableNames{}}, tracker: partition.NewTracker(0),
		tables: map[string]*tableLock{}, hot: newHotKeys(o.HotKeys, hotKeyLimit, o.HideValues),
		barriers: map[string]uint64{}, whole: map[string]string{}, byRow: map[string]bool{},
	}
}

// add registers the next applied transaction.
func (p *parallel) add(t *txn.Txn) {
	st := step{seq: t.Seq, bytes: t.Bytes}
	for i := range t.Events {
		if r := t.Events[i].Rows; r != nil && r.Decoded {
			st.rows += uint64(r.Count())
		}
	}
	switch t.Kind {
	case txn.KindDDL, txn.KindStatement:
		reason := barrierDDL
		if t.Kind == txn.KindStatement {
			reason = barrierStatement
		}
		p.barriers[reason]++
		st.dependsOn = p.tracker.Add(t.Seq, nil, true)
		p.steps = append(p.steps, st)
		return
	}
	ws := p.keyer.writeSetOf(t)
	p.keys = p.keys[:0]
	for i := range ws.rows {
		p.keys = append(p.keys, ws.rows[i].key)
		p.hot.touchRow(&ws.rows[i])
	}
	dep := p.tracker.Add(t.Seq, p.keys, false)
	for _, name := range ws.whole {
		l := p.lock(name)
		dep = max(dep, l.any)
		l.whole, l.any = t.Seq, t.Seq
		p.hot.touchTable(name)
		if _, ok := p.whole[name]; !ok {
			p.whole[name] = ws.why[name]
		}
	}
	for _, name := range ws.byRow {
		l := p.lock(name)
		dep = max(dep, l.whole)
		l.any = t.Seq
		p.byRow[name] = true
	}
	st.dependsOn = dep
	p.steps = append(p.steps, st)
}

func (p *parallel) lock(table string) *tableLock {
	l := p.tables[table]
	if l == nil {
		l = &tableLock{}
		p.tables[table] = l
	}
	return l
}

// result simulates the dependency list under each cost model.
func (p *parallel) result() Parallelism {
	res := Parallelism{Transactions: len(p.steps), Keys: "primary key where the table map logs it, else the whole table",
		RowTables: len(p.byRow), HotKeys: p.hot.top(), HotKeysApproximate: p.hot.pruned,
		CriticalPath: []PathLength{}, SpeedUp: []SpeedUp{}}
	if p.opts.TableKeys {
		res.Keys = "whole table (--table-keys)"
	}
	for name, why := range p.whole {
		res.WholeTables = append(res.WholeTables, WholeTable{Table: name, Reason: why})
	}
	sort.Slice(res.WholeTables, func(i, j int) bool { return res.WholeTables[i].Table < res.WholeTables[j].Table })
	for _, n := range p.barriers {
		res.Barriers += n
	}
	if len(p.barriers) > 0 {
		res.BarrierReasons = p.barriers
	}
	if len(p.steps) == 0 {
		return res
	}
	res.BarrierShare = float64(res.Barriers) / float64(len(p.steps))
	models := []struct {
		name string
		cost func(step) float64
	}{
		{"txn", func(step) float64 { return 1 }},
		{"row", func(s step) float64 { return float64(max(s.rows, 1)) }},
		{"byte", func(s step) float64 { return float64(max(s.bytes, 1)) }},
	}
	res.SpeedUp = make([]SpeedUp, len(p.opts.Workers))
	steps := make([]partition.Step, len(p.steps))
	for mi, m := range models {
		for i, s := range p.steps {
			steps[i] = partition.Step{Seq: s.seq, DependsOn: s.dependsOn, Cost: m.cost(s)}
		}
		st := partition.Analyze(steps, p.opts.Workers...)
		res.Overlapping = st.Parallel
		var serial float64
		for _, s := range steps {
			serial += s.Cost
		}
		res.CriticalPath = append(res.CriticalPath, PathLength{Cost: m.name, Serial: serial, Path: st.CriticalPath, Share: st.CriticalPath / serial})
		for wi, n := range p.opts.Workers {
			su := &res.SpeedUp[wi]
			su.Workers = n
			switch mi {
			case 0:
				su.ByTxn = st.SpeedUp[n]
			case 1:
				su.ByRow = st.SpeedUp[n]
			case 2:
				su.ByByte = st.SpeedUp[n]
			}
		}
	}
	return res
}
