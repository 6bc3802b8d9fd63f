package compact

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The tests build real row events, byte for byte as MariaDB 10.11 writes
// them (v1 row events after their table map, with the CRC32 of the
// repository's MariaDB fixture's format), decode them with the binlog
// decoder, compact groups of them, and decode what the compaction wrote
// again: a model of the target then applies both, strictly (an insert
// needs the row absent, an update or delete the row present and equal to
// its before image), and the states must be equal.

// format returns the format description of the repository's MariaDB 10.11
// fixture, with checksums.
func format(t testing.TB) (*txn.Format, bool) {
	t.Helper()
	path := filepath.Join(fixtures.Repo(t), "mariadb-10.11/row/mysql-bin.000001")
	r, err := binlog.NewReader([]string{path}, binlog.Options{DecodeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			t.Fatal("the fixture has no transaction")
		}
		if err != nil {
			t.Fatal(err)
		}
		if tx.Format != nil {
			fm, err := event.ParseFormat(tx.Format.Raw, tx.Format.Pos)
			if err != nil {
				t.Fatal(err)
			}
			return tx.Format, fm.Checksum
		}
	}
}

// maker builds the events of tables (id INT, v INT, s VARCHAR(20)).
type maker struct {
	t        testing.TB
	f        *txn.Format
	checksum bool
	dec      *binlog.Decoder
	pos      uint64
	// minimal leaves the column s out of the images it makes.
	minimal bool
}

func newMaker(t testing.TB) *maker {
	f, checksum := format(t)
	dec, err := binlog.NewDecoder(f)
	if err != nil {
		t.Fatal(err)
	}
	return &maker{t: t, f: f, checksum: checksum, dec: dec, pos: 1000}
}

// row is a row of a test table: id, v and s.
type trow struct {
	id, v int32
	s     string
}

// event seals body as an event of type typ and decodes it.
func (m *maker) event(typ byte, body []byte) txn.Event {
	m.t.Helper()
	raw := make([]byte, event.HeaderSize, event.HeaderSize+len(body)+4)
	binary.LittleEndian.PutUint32(raw[0:], 1700000000)
	raw[4] = typ
	binary.LittleEndian.PutUint32(raw[5:], 1)
	raw = append(raw, body...)
	size := len(raw)
	if m.checksum {
		size += 4
	}
	binary.LittleEndian.PutUint32(raw[9:], uint32(size))
	m.pos += uint64(size)
	binary.LittleEndian.PutUint32(raw[13:], uint32(m.pos))
	if m.checksum {
		raw = binary.LittleEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
	}
	e, err := m.dec.Decode(raw, txn.Position{File: "test-bin.000001", Offset: m.pos - uint64(size)})
	if err != nil {
		m.t.Fatalf("decode the event made: %v", err)
	}
	return e
}

// tableMap returns the table map of table (id 7 for t1, 8 for others).
func (m *maker) tableMap(table string) txn.Event {
	body := make([]byte, 8)
	body[0] = tableID(table)
	body = append(body, 4)
	body = append(body, "test"...)
	body = append(body, 0, byte(len(table)))
	body = append(body, table...)
	body = append(body, 0, 3, 3, 3, 15) // 3 columns: INT, INT, VARCHAR
	body = append(body, 2, 80, 0)       // metadata: VARCHAR(20) of 4-byte chars
	body = append(body, 0b110)          // v and s nullable
	return m.event(event.TypeTableMap, body)
}

func tableID(table string) byte {
	if table == "t1" {
		return 7
	}
	return 8
}

// image returns the row image of r.
func (m *maker) image(r trow) []byte {
	b := []byte{0} // null bitmap: no NULL
	b = binary.LittleEndian.AppendUint32(b, uint32(r.id))
	b = binary.LittleEndian.AppendUint32(b, uint32(r.v))
	if !m.minimal {
		b = append(b, byte(len(r.s)))
		b = append(b, r.s...)
	}
	return b
}

// rows returns a row event of op on table with images (before and after
// alternating for an update), ending its statement when end.
func (m *maker) rows(table string, op txn.Op, end bool, images ...trow) txn.Event {
	typ := map[txn.Op]byte{txn.OpInsert: 23, txn.OpUpdate: 24, txn.OpDelete: 25}[op]
	body := make([]byte, 8)
	body[0] = tableID(table)
	if end {
		body[6] = txn.RowsFlagStmtEnd
	}
	bitmap := byte(0b111)
	if m.minimal {
		bitmap = 0b011
	}
	body = append(body, 3, bitmap)
	if op == txn.OpUpdate {
		body = append(body, bitmap)
	}
	for _, r := range images {
		body = append(body, m.image(r)...)
	}
	return m.event(typ, body)
}

// stmt is one statement of a test transaction: a table map and a row
// event of table, or a query.
type stmt struct {
	table  string
	op     txn.Op
	images []trow
	query  string
}

func ins(table string, rows ...trow) stmt { return stmt{table: table, op: txn.OpInsert, images: rows} }
func del(table string, rows ...trow) stmt { return stmt{table: table, op: txn.OpDelete, images: rows} }

// upd takes before and after images, alternating.
func upd(table string, rows ...trow) stmt { return stmt{table: table, op: txn.OpUpdate, images: rows} }

// txn makes a row transaction of the statements, each a table map and a
// row event that ends the statement.
func (m *maker) txn(stmts ...stmt) *txn.Txn {
	t := &txn.Txn{Kind: txn.KindRows, Format: m.f}
	for _, s := range stmts {
		if s.query != "" {
			t.Kind = txn.KindStatement
			t.Events = append(t.Events, txn.Event{Kind: txn.EventQuery, Query: &txn.Query{SQL: []byte(s.query), Schema: "test"}})
			continue
		}
		t.Events = append(t.Events, m.tableMap(s.table), m.rows(s.table, s.op, true, s.images...))
	}
	return t
}

// tables is a fake TableSource.
type tables map[string]*schema.Table

func (ts tables) Table(_ context.Context, schemaName, table string) (*schema.Table, error) {
	t := ts[table]
	if t == nil {
		return nil, fmt.Errorf("%s.%s: %w", schemaName, table, schema.ErrNoTable)
	}
	return t, nil
}

// safeTable returns the definition of a table the compaction takes.
func safeTable(name string) *schema.Table {
	return &schema.Table{Schema: "test", Name: name, Engine: "InnoDB", Transactional: true,
		Columns: []schema.Column{{Name: "id", Ordinal: 0, DataType: "int"}, {Name: "v", Ordinal: 1, DataType: "int", Nullable: true},
			{Name: "s", Ordinal: 2, DataType: "varchar", Nullable: true, Collation: "utf8mb4_bin"}},
		Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}}}}
}

// state is the model target: each table's rows by id, and the highest id
// inserted per table (what moves an AUTO_INCREMENT counter).
type state struct {
	rows    map[string]map[int64][]any
	maxID   map[string]int64
	applied int // row images applied
}

// apply applies the row events of txns to s, strictly, after decoding
// them again from their bytes (checking that their decoded Rows are what
// the bytes say); and checks that every statement's last row event ends
// it and that no statement is left without a row event.
func (m *maker) apply(s *state, txns []*txn.Txn) error {
	dec, err := binlog.NewDecoder(m.f)
	if err != nil {
		return err
	}
	for _, t := range txns {
		pendingMap := false
		for i := range t.Events {
			e := &t.Events[i]
			if e.Kind == txn.EventTableMap {
				if _, err := dec.Decode(e.Raw, e.Pos); err != nil {
					return err
				}
				pendingMap = true
				continue
			}
			if e.Kind != txn.EventRows {
				continue
			}
			pendingMap = false
			de, err := dec.Decode(e.Raw, e.Pos)
			if err != nil {
				return fmt.Errorf("decode %s at %s again: %w", e.TypeName, e.Pos, err)
			}
			if !reflect.DeepEqual(de.Rows.Rows, e.Rows.Rows) || de.Rows.Flags != e.Rows.Flags || de.Rows.Op != e.Rows.Op {
				return fmt.Errorf("%s at %s: its bytes decode to %v (flags %d), its Rows say %v (flags %d)",
					e.TypeName, e.Pos, de.Rows.Rows, de.Rows.Flags, e.Rows.Rows, e.Rows.Flags)
			}
			if err := s.applyRows(de.Rows); err != nil {
				return fmt.Errorf("%s at %s: %w", e.TypeName, e.Pos, err)
			}
			next := i + 1
			if next == len(t.Events) || t.Events[next].Kind == txn.EventTableMap {
				if de.Rows.Flags&txn.RowsFlagStmtEnd == 0 {
					return fmt.Errorf("%s at %s ends a statement without STMT_END_F", e.TypeName, e.Pos)
				}
			}
		}
		if pendingMap {
			return errors.New("a table map without row events after it")
		}
	}
	return nil
}

func (s *state) applyRows(r *txn.Rows) error {
	table := r.Table.Table
	if s.rows[table] == nil {
		s.rows[table] = map[int64][]any{}
	}
	rows := s.rows[table]
	per := 1
	if r.Op == txn.OpUpdate {
		per = 2
	}
	for k := 0; k < len(r.Rows); k += per {
		s.applied++
		im := r.Rows[k]
		id := im[0].(int64)
		cur, ok := rows[id]
		switch r.Op {
		case txn.OpInsert:
			if ok {
				return fmt.Errorf("insert of id %d: duplicate key", id)
			}
			rows[id] = im
			s.maxID[table] = max(s.maxID[table], id)
		case txn.OpUpdate, txn.OpDelete:
			if !ok || !reflect.DeepEqual(cur, im) {
				return fmt.Errorf("%s of id %d: row %v not found (the row is %v)", r.Op, id, im, cur)
			}
			if r.Op == txn.OpDelete {
				delete(rows, id)
				continue
			}
			after := r.Rows[k+1]
			if after[0].(int64) != id {
				rows[after[0].(int64)] = after
				delete(rows, id)
				continue
			}
			rows[id] = after
		}
	}
	return nil
}

func newState() *state { return &state{rows: map[string]map[int64][]any{}, maxID: map[string]int64{}} }

// rowCount counts the row images (pairs for updates) of txns.
func rowCount(txns []*txn.Txn) int {
	n := 0
	for _, t := range txns {
		for i := range t.Events {
			if t.Events[i].Kind == txn.EventRows {
				n += t.Events[i].Rows.Count()
			}
		}
	}
	return n
}

// check compacts group, applies it and the original to the model from
// initial rows, and checks the states are equal, the highest id inserted
// too, and that wantRows rows are written once compacted (-1: as many as
// before, and the group unchanged).
func (m *maker) check(ts tables, initial []trow, group []*txn.Txn, wantRows int) []*txn.Txn {
	m.t.Helper()
	c := New(ts)
	out := c.Group(context.Background(), group)
	if len(out) != len(group) {
		m.t.Fatalf("%d transactions compacted to %d", len(group), len(out))
	}
	for i := range out {
		if out[i].GTID != group[i].GTID || out[i].Start != group[i].Start || out[i].Kind != group[i].Kind {
			m.t.Fatalf("transaction %d is not the same transaction once compacted", i)
		}
	}
	if wantRows < 0 {
		if &out[0] != &group[0] {
			m.t.Fatalf("the group was compacted (%d rows to %d), want it left alone", rowCount(group), rowCount(out))
		}
	} else if got := rowCount(out); got != wantRows {
		m.t.Fatalf("the group was compacted from %d rows to %d, want %d", rowCount(group), got, wantRows)
	}
	before, after := newState(), newState()
	for _, st := range []*state{before, after} {
		st.rows["t1"] = map[int64][]any{}
		for _, r := range initial {
			st.rows["t1"][int64(r.id)] = []any{int64(r.id), int64(r.v), []byte(r.s)}
		}
	}
	if err := m.apply(before, group); err != nil {
		m.t.Fatalf("the group as logged: %v", err)
	}
	if err := m.apply(after, out); err != nil {
		m.t.Fatalf("the compacted group: %v", err)
	}
	if !reflect.DeepEqual(before.rows, after.rows) {
		m.t.Fatalf("the compacted group leaves %v, the group %v", after.rows, before.rows)
	}
	if ts["t1"] != nil && slices.ContainsFunc(ts["t1"].Columns, func(c schema.Column) bool { return c.AutoIncrement }) &&
		!reflect.DeepEqual(before.maxID, after.maxID) {
		m.t.Fatalf("the compacted group inserts ids up to %v, the group %v (AUTO_INCREMENT)", after.maxID, before.maxID)
	}
	return out
}

func r(id, v int32, s string) trow { return trow{id, v, s} }

func TestCompactRules(t *testing.T) {
	m := newMaker(t)
	safe := tables{"t1": safeTable("t1")}
	autoInc := tables{"t1": safeTable("t1")}
	autoInc["t1"].Columns[0].AutoIncrement = true
	a0, a1, a2, a3 := r(1, 0, "a"), r(1, 1, "bb"), r(1, 2, ""), r(1, 3, "dddd")
	b0, b1 := r(2, 0, "x"), r(2, 1, "y")
	cases := []struct {
		name    string
		tables  tables
		initial []trow
		group   []*txn.Txn
		want    int
	}{
		{"insert then updates: one insert of the last after image", safe, nil,
			[]*txn.Txn{m.txn(ins("t1", a0)), m.txn(upd("t1", a0, a1)), m.txn(upd("t1", a1, a2))}, 1},
		{"updates: one update from the first before image to the last after image", safe, []trow{a0},
			[]*txn.Txn{m.txn(upd("t1", a0, a1)), m.txn(upd("t1", a1, a2)), m.txn(upd("t1", a2, a3))}, 1},
		{"updates then delete: one delete of the first before image", safe, []trow{a0},
			[]*txn.Txn{m.txn(upd("t1", a0, a1)), m.txn(upd("t1", a1, a2), del("t1", a2))}, 1},
		{"insert then delete: nothing", safe, nil,
			[]*txn.Txn{m.txn(ins("t1", a0)), m.txn(upd("t1", a0, a1)), m.txn(del("t1", a1))}, 0},
		{"insert then delete with AUTO_INCREMENT: the insert and a delete of its image", autoInc, nil,
			[]*txn.Txn{m.txn(ins("t1", a0)), m.txn(upd("t1", a0, a1)), m.txn(upd("t1", a1, a2)), m.txn(del("t1", a2))}, 2},
		{"rows inserted and deleted with AUTO_INCREMENT: only the largest id's insert and delete", autoInc, nil,
			[]*txn.Txn{m.txn(ins("t1", b0)), m.txn(ins("t1", a0), upd("t1", a0, a1)), m.txn(del("t1", b0), ins("t1", r(3, 0, "c"))),
				m.txn(del("t1", a1), del("t1", r(3, 0, "c"))), m.txn(ins("t1", a2)), m.txn(del("t1", a2))}, 2},
		{"rows inserted and deleted with AUTO_INCREMENT, one id negative: every insert and delete", autoInc, nil,
			[]*txn.Txn{m.txn(ins("t1", r(-5, 0, "n"))), m.txn(ins("t1", b0)), m.txn(del("t1", r(-5, 0, "n")), del("t1", b0))}, 4},
		{"delete then insert: left as they are", safe, []trow{a0},
			[]*txn.Txn{m.txn(del("t1", a0)), m.txn(ins("t1", a1))}, 2},
		{"update, delete, insert, update: a delete, then an insert of the last image", safe, []trow{a0},
			[]*txn.Txn{m.txn(upd("t1", a0, a1)), m.txn(del("t1", a1)), m.txn(ins("t1", a2)), m.txn(upd("t1", a2, a3))}, 2},
		{"a single write: left as it is", safe, []trow{a0},
			[]*txn.Txn{m.txn(upd("t1", a0, a1)), m.txn(ins("t1", b0))}, -1},
		{"two rows in one multi-row event, and other tables' rows between", tables{"t1": safeTable("t1"), "t2": safeTable("t2")}, []trow{a0, b0},
			[]*txn.Txn{m.txn(upd("t1", a0, a1, b0, b1)), m.txn(ins("t2", a0)), m.txn(upd("t1", a1, a2), del("t1", b1)), m.txn(upd("t2", a0, a1))}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m.t = t
			m.check(c.tables, c.initial, c.group, c.want)
		})
	}
}

// TestCompactLeavesAlone checks the groups and tables left as they are.
func TestCompactLeavesAlone(t *testing.T) {
	m := newMaker(t)
	a0, a1, a2 := r(1, 0, "a"), r(1, 1, "b"), r(1, 2, "c")
	chain := func() []*txn.Txn {
		return []*txn.Txn{m.txn(ins("t1", a0)), m.txn(upd("t1", a0, a1)), m.txn(upd("t1", a1, a2))}
	}
	with := func(change func(*schema.Table)) tables {
		def := safeTable("t1")
		change(def)
		return tables{"t1": def}
	}
	cases := []struct {
		name   string
		tables tables
		group  []*txn.Txn
	}{
		{"no primary key", with(func(d *schema.Table) { d.Indexes = nil }), chain()},
		{"a unique key besides the primary key", with(func(d *schema.Table) {
			d.Indexes = append(d.Indexes, schema.Index{Name: "u", Unique: true, Columns: []int{1}})
		}), chain()},
		{"a unique key and no primary key", with(func(d *schema.Table) { d.Indexes[0].Primary = false; d.Indexes[0].Name = "u" }), chain()},
		{"triggers", with(func(d *schema.Table) { d.HasTriggers = true }), chain()},
		{"a foreign key", with(func(d *schema.Table) { d.ForeignKeys = []schema.ForeignKey{{Name: "fk"}} }), chain()},
		{"referenced by a foreign key", with(func(d *schema.Table) { d.ReferencedBy = []schema.ForeignKey{{Name: "fk"}} }), chain()},
		{"system versioned", with(func(d *schema.Table) { d.SystemVersioned = true }), chain()},
		{"not transactional", with(func(d *schema.Table) { d.Transactional = false; d.Engine = "MyISAM" }), chain()},
		{"hidden columns", with(func(d *schema.Table) { d.Columns[2].Hidden = true }), chain()},
		{"columns differ from the table map", with(func(d *schema.Table) { d.Columns = d.Columns[:2] }), chain()},
		{"table unknown on the target", tables{}, chain()},
		{"a primary key change", tables{"t1": safeTable("t1")},
			[]*txn.Txn{m.txn(ins("t1", a0)), m.txn(upd("t1", a0, a1)), m.txn(upd("t1", a1, r(5, 1, "b"))), m.txn(upd("t1", r(5, 1, "b"), r(5, 2, "c")))}},
		{"a statement event in the group", tables{"t1": safeTable("t1")},
			append(chain(), m.txn(stmt{query: "UPDATE t1 SET v = v + 1"}))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m.t = t
			m.check(c.tables, nil, c.group, -1)
		})
	}
	t.Run("a trigger on another table of the group", func(t *testing.T) {
		m.t = t
		ts := tables{"t1": safeTable("t1"), "t2": safeTable("t2")}
		ts["t2"].HasTriggers = true
		m.check(ts, nil, append(chain(), m.txn(ins("t2", a0))), -1)
	})
	t.Run("MINIMAL images", func(t *testing.T) {
		m.t = t
		m.minimal = true
		defer func() { m.minimal = false }()
		m.check(tables{"t1": safeTable("t1")}, nil, chain(), -1)
	})
	t.Run("only the safe table of two", func(t *testing.T) {
		m.t = t
		ts := tables{"t1": safeTable("t1"), "t2": safeTable("t2")}
		ts["t2"].Indexes = append(ts["t2"].Indexes, schema.Index{Name: "u", Unique: true, Columns: []int{1}})
		group := append(chain(), m.txn(ins("t2", a0)), m.txn(upd("t2", a0, a1)))
		m.check(ts, nil, group, 1+2)
	})
}

// TestCompactStatements checks the statements of compacted transactions:
// one left without rows is dropped with its table map, and where the row
// event that ended a statement is dropped, the last one left ends it.
func TestCompactStatements(t *testing.T) {
	m := newMaker(t)
	ts := tables{"t1": safeTable("t1"), "t2": safeTable("t2")}
	a0, a1, a2 := r(1, 0, "a"), r(1, 1, "b"), r(1, 2, "c")
	b0 := r(2, 0, "x")
	// One statement of two row events: an insert of t2 (kept), then the
	// update of t1 (dropped, it ended the statement).
	two := &txn.Txn{Kind: txn.KindRows, Format: m.f, Events: []txn.Event{
		m.tableMap("t1"), m.tableMap("t2"),
		m.rows("t2", txn.OpInsert, false, b0),
		m.rows("t1", txn.OpUpdate, true, a0, a1),
	}}
	group := []*txn.Txn{m.txn(ins("t1", a0)), two, m.txn(upd("t1", a1, a2))}
	out := m.check(ts, nil, group, 2)
	if n := len(out[1].Events); n != 3 {
		t.Fatalf("the statement of two row events has %d events once compacted, want 3 (two table maps, the insert)", n)
	}
	if len(out[2].Events) != 0 {
		t.Fatalf("the transaction whose only row was compacted away keeps %d events", len(out[2].Events))
	}
}

// TestCompactRandom compacts random groups of writes to few rows, with
// several rows per event and several statements per transaction, and
// checks each against the model.
func TestCompactRandom(t *testing.T) {
	m := newMaker(t)
	rng := rand.New(rand.NewPCG(16, 5))
	var compacted, total int
	for round := 0; round < 300; round++ {
		autoInc := round%2 == 1
		ts := tables{"t1": safeTable("t1")}
		ts["t1"].Columns[0].AutoIncrement = autoInc
		live := map[int32]trow{}
		var initial []trow
		for id := int32(1); id <= 4; id++ {
			if rng.IntN(2) == 0 {
				live[id] = r(id, 0, "i")
				initial = append(initial, live[id])
			}
		}
		var group []*txn.Txn
		for range 1 + rng.IntN(8) {
			var stmts []stmt
			for range 1 + rng.IntN(3) {
				st := stmt{table: "t1", op: txn.Op(1 + rng.IntN(3))}
				for range 1 + rng.IntN(2) {
					id := int32(1 + rng.IntN(4))
					cur, ok := live[id]
					if slices.ContainsFunc(st.images, func(x trow) bool { return x.id == id }) {
						continue
					}
					switch {
					case st.op == txn.OpInsert && !ok:
						live[id] = r(id, rng.Int32N(100), fmt.Sprint(rng.IntN(1000)))
						st.images = append(st.images, live[id])
					case st.op == txn.OpUpdate && ok:
						live[id] = r(id, rng.Int32N(100), fmt.Sprint(rng.IntN(1000)))
						st.images = append(st.images, cur, live[id])
					case st.op == txn.OpDelete && ok:
						delete(live, id)
						st.images = append(st.images, cur)
					}
				}
				if len(st.images) > 0 {
					stmts = append(stmts, st)
				}
			}
			if len(stmts) > 0 {
				group = append(group, m.txn(stmts...))
			}
		}
		if len(group) == 0 {
			continue
		}
		m.t = t
		c := New(ts)
		out := c.Group(context.Background(), group)
		total++
		if rowCount(out) < rowCount(group) {
			compacted++
		}
		before, after := newState(), newState()
		for _, st := range []*state{before, after} {
			st.rows["t1"] = map[int64][]any{}
			for _, x := range initial {
				st.rows["t1"][int64(x.id)] = []any{int64(x.id), int64(x.v), []byte(x.s)}
			}
		}
		if err := m.apply(before, group); err != nil {
			t.Fatalf("round %d: the group as generated: %v", round, err)
		}
		if err := m.apply(after, out); err != nil {
			t.Fatalf("round %d: the compacted group: %v", round, err)
		}
		if !reflect.DeepEqual(before.rows, after.rows) {
			t.Fatalf("round %d: the compacted group leaves %v, the group %v", round, after.rows, before.rows)
		}
		if autoInc && !reflect.DeepEqual(before.maxID, after.maxID) {
			t.Fatalf("round %d: the compacted group inserts ids up to %v, the group %v", round, after.maxID, before.maxID)
		}
	}
	if compacted < total/2 {
		t.Fatalf("only %d groups of %d were compacted", compacted, total)
	}
}

// BenchmarkCompactGroup compacts a group of 1024 transactions of three
// updates each to 20 rows, a hot-row group at the largest group size.
func BenchmarkCompactGroup(b *testing.B) {
	m := newMaker(b)
	ts := tables{"t1": safeTable("t1")}
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[int32]trow{}
	for id := int32(1); id <= 20; id++ {
		live[id] = r(id, 0, "i")
	}
	var group []*txn.Txn
	for range 1024 {
		var stmts []stmt
		for range 3 {
			id := int32(1 + rng.IntN(20))
			next := r(id, rng.Int32N(1000), "v")
			stmts = append(stmts, upd("t1", live[id], next))
			live[id] = next
		}
		group = append(group, m.txn(stmts...))
	}
	c := New(ts)
	b.ResetTimer()
	for b.Loop() {
		if out := c.Group(context.Background(), group); rowCount(out) != 20 {
			b.Fatalf("%d rows left", rowCount(out))
		}
	}
}
