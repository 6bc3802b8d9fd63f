package sqlgen

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The statements of the SQL apply path, and how they are batched.
//
// Rows become statements in the order of their row events (a
// transaction's, or a group's as AppendGroup orders them: group.go), each
// statement checked to change the rows it carries (RowCheck):
//
//   - Inserts: consecutive rows of one table with the same columns present
//     and the same session settings share one INSERT INTO t (cols) VALUES
//     (...), (...), up to the statement size limit. A multi-row INSERT
//     inserts its rows in order, one at a time, as a replica applies a
//     WRITE_ROWS event: the same rows, the same key checks, the same
//     AUTO_INCREMENT values (they are given).
//   - Deletes: one DELETE per row, found by the primary key when the
//     before image holds it (WHERE pk = ..), else by every column the image
//     holds, LIMIT 1, as a replica finds them; the statements share
//     packets. (A multi-row DELETE ... WHERE pk IN (...) was as fast on
//     the reference workload, and MariaDB 10.11 read the whole table for
//     some of them in a replay, about one per group on sysbench's hot rows,
//     with or without FORCE INDEX in the multi-table form: 1.9 times slower
//     than single-row DELETEs there.)
//   - Updates: where the order of the rows cannot matter (see
//     updateBatchable: an exact primary key that the update keeps, other
//     unique keys unchanged, no foreign key referencing the table, no
//     triggers), consecutive rows share one UPDATE t FORCE INDEX (PRIMARY)
//     SET c = CASE pk WHEN .. THEN .. END, .. WHERE pk IN (..), setting
//     the after image's columns but the key's (up to maxUpdateRows rows).
//     Otherwise one UPDATE per row, found by the primary key or, without
//     one, by every column of the before image (LIMIT 1). The hint:
//     MariaDB 10.11 read the whole primary key for a multi-row UPDATE
//     (EXPLAIN: type index), 5.3 ms for 13 rows of a 20,000-row table
//     against 0.17 ms with it.
//
// Several statements go in one multi-statement packet (see Stmt.Check).
//
// An UPDATE that reports fewer rows changed than it carries may have found
// some already holding their after images: its RowCheck.Found query, the
// UPDATE's own WHERE clause, run after the packet, tells whether it found
// them all. Later statements of the same packet
// must not change what that query sees, so a statement touching a row an
// UPDATE of the packet found (its primary key value, or any row of a table
// updated without a primary key, or any row of another table through
// triggers or cascading foreign keys) starts a new packet (Stmt.Alone).
// Key values are compared conservatively: text and floating-point key
// columns, which can be equal under the server's comparison with other
// bytes, are left out of the comparison, so that two keys that might be
// the same row are taken as the same.

// DefaultMaxStatementBytes is the size limit of one SQL apply statement
// when Generator.MaxStatementBytes is 0.
const DefaultMaxStatementBytes = 1 << 20

// maxUpdateRows bounds the rows of one multi-row UPDATE, whatever the
// size limit: the server evaluates each CASE by trying its WHENs in
// order for every row it updates, so an UPDATE of n rows costs n*n
// comparisons (a 32 MiB statement of 100,000 rows took minutes on
// MariaDB 10.11). A few hundred rows per statement already save what
// batching saves (parsing, round trips: statements share packets).
const maxUpdateRows = 200

// sqlOptions are a Generator's choices for the SQL apply path.
type sqlOptions struct {
	maxStatement int
	triggersFire bool
	// crossEvents lets statements and packets span row events (ApplySQL);
	// otherwise each row event has statements and packets of its own.
	crossEvents bool
}

// colPlan is what rendering needs of one column.
type colPlan struct {
	col           *schema.Column
	name          string // quoted
	typ           byte   // logged type, ENUM and SET told apart
	meta          uint16
	unsignedKnown bool
	writable      bool  // neither generated nor hidden
	text          bool  // character data: compared as bytes when finding a row
	exactKey      bool  // its literal identifies its value (not text, not floating point)
	classErr      error // set when a logged value cannot go into the column
	introducer    string
	padLen        int // fixed length its bytes are padded to with 0x00 (see fixedLen)
}

// fixedLen returns the length of a column's values that the binlog logs
// without their trailing 0x00 bytes, as BINARY(n): BINARY itself and
// MariaDB's fixed binary types INET6, UUID (16 bytes) and INET4 (4); 0
// for other columns.
func fixedLen(c *schema.Column) int {
	switch c.DataType {
	case "inet6", "uuid":
		return 16
	case "inet4":
		return 4
	}
	return c.BinaryPadLen
}

// tablePlan is one table map's table on the target, for one Body call.
type tablePlan struct {
	tm      *txn.TableMap
	t       *schema.Table
	name    string // quoted `schema`.`table`
	cols    []colPlan
	pk      []int // primary key columns; nil without a usable one
	selfRef bool  // a foreign key of the table references the table
	// sideEffects: writing it may change other tables (triggers that
	// fire, cascading foreign keys).
	sideEffects bool
	// multiUpdate: rows may share an UPDATE (see updateBatchable).
	multiUpdate bool
}

// newTablePlan checks that tm's row events can be applied as SQL to t.
func newTablePlan(tm *txn.TableMap, t *schema.Table, name string, opt sqlOptions) (*tablePlan, error) {
	if !sameColumns(t, len(tm.ColumnTypes)) {
		return nil, fmt.Errorf("table %s: the binlog has %d columns, the target's table %d", name, len(tm.ColumnTypes), len(t.Columns))
	}
	if d := renamedColumn(tm, t); d != "" {
		return nil, fmt.Errorf("table %s: %s: the target's table differs from the source's", name, d)
	}
	if t.HasTriggers && !opt.triggersFire {
		return nil, fmt.Errorf("table %s has triggers on the target, which SQL statements would fire (row events do not); "+
			"MariaDB cannot turn them off for a session: apply by passthrough, drop the triggers on the target, or accept that they fire", name)
	}
	if t.SystemVersioned {
		return nil, fmt.Errorf("table %s is system-versioned: its row events carry the history rows the source wrote, "+
			"which SQL statements would have the target version again; apply it by passthrough", name)
	}
	p := &tablePlan{tm: tm, t: t, name: name, cols: make([]colPlan, len(tm.ColumnTypes)), sideEffects: t.HasTriggers}
	for i := range p.cols {
		c := &t.Columns[i]
		meta := columnMeta(tm, i)
		typ := realType(tm.ColumnTypes[i], meta)
		cp := colPlan{col: c, name: QuoteIdent(c.Name), typ: typ, meta: meta, unsignedKnown: len(tm.Unsigned) > i,
			writable: !c.Generated && !c.Hidden, text: c.Charset != "" && targetClass(c.DataType) == "string"}
		cp.exactKey = !cp.text && typ != typeFloat && typ != typeDouble
		cp.padLen = fixedLen(c)
		if lc, tc := loggedClass(typ), targetClass(c.DataType); lc != tc {
			cp.classErr = fmt.Errorf("a logged value of type %d cannot be written to a %s column", typ, c.ColumnType)
		}
		if c.Charset != "" {
			cp.introducer = "_" + c.Charset + " "
		}
		p.cols[i] = cp
	}
	if pk := t.PrimaryKey(); pk != nil {
		p.pk = pk.Columns
		for _, i := range pk.Columns {
			if i < 0 || i >= len(p.cols) || !p.cols[i].writable {
				p.pk = nil // an expression or generated key part: not usable
				break
			}
		}
	}
	for _, fk := range t.ForeignKeys {
		if fk.RefSchema == t.Schema && fk.RefTable == t.Name {
			p.selfRef = true
		}
	}
	for i := range t.ReferencedBy {
		if t.ReferencedBy[i].ChangesChildren(true) || t.ReferencedBy[i].ChangesChildren(false) {
			p.sideEffects = true
		}
	}
	p.multiUpdate = p.pk != nil && !p.selfRef && len(t.ReferencedBy) == 0 && !t.HasTriggers
	for _, i := range p.pk {
		p.multiUpdate = p.multiUpdate && p.cols[i].exactKey
	}
	return p, nil
}

// updateBatchable reports whether the update of one row may share a
// multi-row UPDATE with others: a multi-row UPDATE changes its rows in key
// order, not in the source's, so only where the order cannot matter. The
// table has a primary key of exact values (no text, no floating point),
// is referenced by no foreign key and has no triggers; the update keeps
// the primary key and every other unique key's columns unchanged (no
// transient duplicate can depend on the order) and logs no JSON diff.
func (p *tablePlan) updateBatchable(before, after []bool, bimg, aimg []any) bool {
	if !p.multiUpdate || !hasAll(before, p.pk) {
		return false
	}
	same := func(i int) bool {
		if i < 0 || i >= len(p.cols) {
			return false
		}
		if i >= len(after) || !after[i] {
			return true // not written
		}
		if i >= len(before) || !before[i] || i >= len(bimg) || i >= len(aimg) {
			return false
		}
		x, err1 := appendValue(nil, bimg[i], &p.cols[i])
		y, err2 := appendValue(nil, aimg[i], &p.cols[i])
		return err1 == nil && err2 == nil && string(x) == string(y)
	}
	for _, idx := range p.t.Indexes {
		if !idx.Unique {
			continue
		}
		for _, i := range idx.Columns {
			if !same(i) {
				return false
			}
		}
	}
	for i := range aimg {
		if _, diff := aimg[i].([]txn.JSONDiff); diff {
			return false
		}
	}
	return true
}

// tableName returns the table's name.
func (p *tablePlan) tableName() tableName { return tableName{p.tm.Schema, p.tm.Table} }

// hasAll reports whether the image's present columns include every column
// of cols.
func hasAll(present []bool, cols []int) bool {
	for _, i := range cols {
		if i >= len(present) || !present[i] {
			return false
		}
	}
	return true
}

// complete reports whether present holds every writable column.
func (p *tablePlan) complete(present []bool) bool {
	for i := range p.cols {
		if p.cols[i].writable && (i >= len(present) || !present[i]) {
			return false
		}
	}
	return true
}

// appendLiteral appends column i's value in img as an SQL literal, with the
// table and column's names in errors (never the value).
func (p *tablePlan) appendLiteral(b []byte, i int, img []any) ([]byte, error) {
	cp := &p.cols[i]
	if i >= len(img) {
		return b, fmt.Errorf("table %s column %s: the image has %d values", p.name, cp.name, len(img))
	}
	out, err := appendValue(b, img[i], cp)
	if err != nil {
		return b, fmt.Errorf("table %s column %s: %w", p.name, cp.name, err)
	}
	return out, nil
}

// key returns the comparison key of the primary key value in img (see the
// file comment: text and floating-point columns left out), and false when
// the table has no usable primary key or the image lacks part of it.
func (p *tablePlan) key(present []bool, img []any) (string, bool, error) {
	if p.pk == nil || !hasAll(present, p.pk) {
		return "", false, nil
	}
	var b []byte
	for _, i := range p.pk {
		if !p.cols[i].exactKey {
			continue
		}
		var err error
		if b, err = p.appendLiteral(b, i, img); err != nil {
			return "", false, err
		}
		b = append(b, 0)
	}
	return string(b), true, nil
}

// lax reports whether img holds a value the strict sql_mode refuses: an
// ENUM's empty error value (ordinal 0), which a non-strict source stores
// for a value not in the list.
func (p *tablePlan) lax(present []bool, img []any) bool {
	for i := range p.cols {
		if p.cols[i].typ == typeEnum && i < len(present) && present[i] && i < len(img) {
			switch v := img[i].(type) {
			case int64:
				if v == 0 {
					return true
				}
			case uint64:
				if v == 0 {
					return true
				}
			}
		}
	}
	return false
}

// keySet is what the UPDATEs of a packet found in one table: rows by
// primary key, or the whole table.
type keySet struct {
	all  bool
	keys map[string]bool
}

// stmtKind is the kind of multi-row statement being built.
type stmtKind uint8

const (
	kindNone stmtKind = iota
	kindInsert
	kindUpdate
)

// batcher turns the row events of one transaction into SQL apply
// statements (see the file comment).
type batcher struct {
	ctx    context.Context
	tables TableFunc
	opt    sqlOptions
	out    *[]Stmt
	plans  map[tableName]*tablePlan
	prefix map[prefixKey]string
	row    []byte // scratch

	cur struct {
		kind   stmtKind
		plan   *tablePlan
		prefix string
		cols   []bool // insert, update: the image's present columns
		buf    []byte // insert: the statement; update: its keys
		rows   int
		events []*txn.Event
		// update: the columns set and, per column, its WHEN ... THEN
		// list
		set   []int
		whens [][]byte
		size  int
	}
	group struct {
		event     *txn.Event
		alone     bool
		stmts     int
		sensitive map[tableName]*keySet
	}
}

// tableName is a table's schema and name.
type tableName struct{ schema, table string }

// sameMap reports whether two table maps describe the same columns (each
// source statement logs its own table map).
func sameMap(a, b *txn.TableMap) bool {
	if a == b {
		return true
	}
	if a.Schema != b.Schema || a.Table != b.Table || string(a.ColumnTypes) != string(b.ColumnTypes) ||
		len(a.ColumnMeta) != len(b.ColumnMeta) || (a.Unsigned == nil) != (b.Unsigned == nil) {
		return false
	}
	for i := range a.ColumnMeta {
		if a.ColumnMeta[i] != b.ColumnMeta[i] {
			return false
		}
	}
	return true
}

func newBatcher(ctx context.Context, tables TableFunc, opt sqlOptions, out *[]Stmt) *batcher {
	if opt.maxStatement <= 0 {
		opt.maxStatement = DefaultMaxStatementBytes
	}
	return &batcher{ctx: ctx, tables: tables, opt: opt, out: out,
		plans: map[tableName]*tablePlan{}, prefix: map[prefixKey]string{}}
}

// plan returns the plan of e's table, reading the target's definition once
// per table and columns.
func (b *batcher) plan(e *txn.Event) (*tablePlan, error) {
	tm := e.Rows.Table
	k := tableName{tm.Schema, tm.Table}
	if p, ok := b.plans[k]; ok && sameMap(p.tm, tm) {
		return p, nil
	}
	name := QuoteIdent(tm.Schema) + "." + QuoteIdent(tm.Table)
	t, err := b.tables(b.ctx, tm.Schema, tm.Table)
	if err != nil {
		return nil, fmt.Errorf("table %s: read its definition on the target: %w", name, err)
	}
	p, err := newTablePlan(tm, t, name, b.opt)
	if err != nil {
		return nil, err
	}
	b.plans[k] = p
	return p, nil
}

// add renders row event e.
func (b *batcher) add(e *txn.Event) error {
	if err := b.addRows(e); err != nil {
		return &RowsError{Event: e, Err: fmt.Errorf("SQL apply: %w", err)}
	}
	return nil
}

func (b *batcher) addRows(e *txn.Event) error {
	rows := e.Rows
	if !rows.Decoded {
		return fmt.Errorf("table %s: the row images were not decoded",
			QuoteIdent(rows.Table.Schema)+"."+QuoteIdent(rows.Table.Table))
	}
	p, err := b.plan(e)
	if err != nil {
		return err
	}
	if b.group.event == nil || !b.opt.crossEvents {
		b.newGroup(e, false)
	}
	switch rows.Op {
	case txn.OpInsert:
		for i, img := range rows.Rows {
			if err := b.insert(e, p, img); err != nil {
				return fmt.Errorf("row %d: %w", i+1, err)
			}
		}
	case txn.OpUpdate:
		if len(rows.Rows)%2 != 0 {
			return fmt.Errorf("table %s: update event with %d images (not before/after pairs)", p.name, len(rows.Rows))
		}
		for i := 0; i < len(rows.Rows); i += 2 {
			if err := b.update(e, p, rows.Rows[i], rows.Rows[i+1]); err != nil {
				return fmt.Errorf("row %d: %w", i/2+1, err)
			}
		}
	case txn.OpDelete:
		for i, img := range rows.Rows {
			if err := b.delete(e, p, img); err != nil {
				return fmt.Errorf("row %d: %w", i+1, err)
			}
		}
	default:
		return fmt.Errorf("table %s: row operation %v", p.name, rows.Op)
	}
	return nil
}

// newGroup ends the statement being built and starts a packet group named
// by event e; alone makes its first statement start a new packet even
// where the previous group has the same event.
func (b *batcher) newGroup(e *txn.Event, alone bool) {
	b.finish()
	b.group.event, b.group.alone, b.group.stmts = e, alone, 0
	clear(b.group.sensitive)
}

// touch starts a new packet group when a statement writing the row of key
// (ok false: an unknown row) of p would change what a Found query of the
// group sees.
func (b *batcher) touch(e *txn.Event, p *tablePlan, key string, ok bool) {
	if len(b.group.sensitive) == 0 {
		return
	}
	conflict := false
	if p.sideEffects {
		conflict = true
	} else if s := b.group.sensitive[p.tableName()]; s != nil {
		conflict = s.all || !ok || s.keys[key]
	}
	if conflict {
		b.newGroup(e, true)
	}
}

// sense records that a Found query of the group looks at the row of key
// (ok false: at any row) of p.
func (b *batcher) sense(p *tablePlan, key string, ok bool) {
	if b.group.sensitive == nil {
		b.group.sensitive = map[tableName]*keySet{}
	}
	s := b.group.sensitive[p.tableName()]
	if s == nil {
		s = &keySet{}
		b.group.sensitive[p.tableName()] = s
	}
	if !ok {
		s.all = true
		return
	}
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	s.keys[key] = true
}

// prefixKey selects a SET STATEMENT prefix.
type prefixKey struct {
	flags     uint16
	lax       bool
	timestamp uint32 // 0: not set
}

// prefixFor returns the SET STATEMENT prefix of a statement of event e's
// rows: lax for a row with an ENUM error value, the event's time when the
// image lacks columns the target fills with defaults.
func (b *batcher) prefixFor(e *txn.Event, lax, partial bool) string {
	k := prefixKey{flags: e.Rows.Flags & (txn.RowsFlagNoForeignKeyChecks | txn.RowsFlagRelaxedUniqueChecks), lax: lax}
	if partial {
		k.timestamp = e.Timestamp
	}
	if s, ok := b.prefix[k]; ok {
		return s
	}
	s := setStatementFor(k)
	b.prefix[k] = s
	return s
}

// emit appends a finished statement to the output.
func (b *batcher) emit(sql string, check *RowCheck) {
	s := Stmt{SQL: sql, Event: b.group.event, Check: check}
	if b.group.stmts == 0 {
		s.Alone = b.group.alone
	}
	b.group.stmts++
	*b.out = append(*b.out, s)
}

// finish ends the multi-row statement being built, if any.
func (b *batcher) finish() {
	c := &b.cur
	if c.kind == kindNone {
		return
	}
	check := &RowCheck{Rows: int64(c.rows), Events: c.events}
	sql := string(c.buf)
	if c.kind == kindUpdate {
		sql, check.Found = b.updateSQL()
	}
	b.emit(sql, check)
	c.kind, c.plan, c.cols, c.buf, c.rows, c.events, c.set, c.size = kindNone, nil, nil, c.buf[:0], 0, nil, c.set[:0], 0
}

// updateSQL returns the multi-row UPDATE being built and its Found query:
//
//	UPDATE t SET c = CASE `id` WHEN 1 THEN .. WHEN 2 THEN .. END, ... WHERE `id` IN (1, 2)
//
// (CASE WHEN `a` = 1 AND `b` = 2 THEN .. and WHERE (..) OR (..) for a key
// of several columns).
func (b *batcher) updateSQL() (string, string) {
	c := &b.cur
	p := c.plan
	if c.rows == 1 {
		// One row: UPDATE t SET c = .. WHERE `id` = 1.
		cond := c.buf
		if len(p.pk) > 1 {
			cond = cond[1 : len(cond)-1]
		}
		where := " WHERE "
		if len(p.pk) == 1 {
			where += p.cols[p.pk[0]].name + " = "
		}
		where += string(cond)
		out := make([]byte, 0, c.size+len(where)+64)
		out = append(out, c.prefix...)
		out = append(out, "UPDATE "...)
		out = append(out, p.name...)
		out = append(out, " SET "...)
		for j, i := range c.set {
			if j > 0 {
				out = append(out, ", "...)
			}
			out = append(out, p.cols[i].name...)
			out = append(out, " = "...)
			out = append(out, c.whens[j][len(" WHEN ")+len(cond)+len(" THEN "):]...)
		}
		out = append(out, where...)
		return string(out), c.prefix + "SELECT COUNT(*) FROM " + p.name + where
	}
	var where []byte
	where = append(where, " WHERE "...)
	if len(p.pk) == 1 {
		where = append(where, p.cols[p.pk[0]].name...)
		where = append(where, " IN ("...)
		where = append(where, c.buf...)
		where = append(where, ')')
	} else {
		where = append(where, c.buf...)
	}
	out := make([]byte, 0, c.size+len(where)+64)
	out = append(out, c.prefix...)
	out = append(out, "UPDATE "...)
	out = append(out, p.name...)
	out = append(out, " FORCE INDEX (PRIMARY) SET "...) // see the file comment
	for j, i := range c.set {
		if j > 0 {
			out = append(out, ", "...)
		}
		out = append(out, p.cols[i].name...)
		out = append(out, " = CASE"...)
		if len(p.pk) == 1 {
			out = append(out, ' ')
			out = append(out, p.cols[p.pk[0]].name...)
		}
		out = append(out, c.whens[j]...)
		out = append(out, " END"...)
	}
	out = append(out, where...)
	return string(out), c.prefix + "SELECT COUNT(*) FROM " + p.name + string(where)
}

// end finishes what is under way before a statement that is not of the
// SQL apply path (b may be nil): the next row event starts a new group.
func (b *batcher) end() {
	if b == nil {
		return
	}
	b.finish()
	b.group.event = nil
	clear(b.group.sensitive)
}

// addEvent notes that the statement being built carries rows of e.
func (b *batcher) addEvent(e *txn.Event) {
	if n := len(b.cur.events); n == 0 || b.cur.events[n-1] != e {
		b.cur.events = append(b.cur.events, e)
	}
}

// fits reports whether n more bytes keep the statement being built within
// the size limit.
func (b *batcher) fits(n int) bool { return len(b.cur.buf)+n+2 <= b.opt.maxStatement }

// sameBools reports whether a and b are equal.
func sameBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// insert adds an inserted row.
func (b *batcher) insert(e *txn.Event, p *tablePlan, img []any) error {
	present := e.Rows.Columns
	key, ok, err := p.key(present, img)
	if err != nil {
		return err
	}
	b.touch(e, p, key, ok)
	if p.t.Sequence && !p.complete(present) {
		return b.sequenceRow(e, p, present, img)
	}
	row := append(b.row[:0], '(')
	first := true
	for i := range p.cols {
		if !p.cols[i].writable || i >= len(present) || !present[i] {
			continue
		}
		if !first {
			row = append(row, ", "...)
		}
		first = false
		if row, err = p.appendLiteral(row, i, img); err != nil {
			return err
		}
	}
	row = append(row, ')')
	b.row = row
	if first {
		return fmt.Errorf("table %s: the image holds no column the target lets write", p.name)
	}
	prefix := b.prefixFor(e, p.lax(present, img), !p.complete(present))
	c := &b.cur
	if c.kind == kindInsert && c.plan == p && c.prefix == prefix && sameBools(c.cols, present) && b.fits(len(row)) {
		c.buf = append(c.buf, ", "...)
	} else {
		b.finish()
		c.kind, c.plan, c.prefix, c.cols = kindInsert, p, prefix, present
		c.buf = append(c.buf, prefix...)
		c.buf = append(c.buf, "INSERT INTO "...)
		c.buf = append(c.buf, p.name...)
		c.buf = append(c.buf, " ("...)
		first := true
		for i := range p.cols {
			if !p.cols[i].writable || i >= len(present) || !present[i] {
				continue
			}
			if !first {
				c.buf = append(c.buf, ", "...)
			}
			first = false
			c.buf = append(c.buf, p.cols[i].name...)
		}
		c.buf = append(c.buf, ") VALUES "...)
	}
	c.buf = append(c.buf, row...)
	c.rows++
	b.addEvent(e)
	return nil
}

// sequenceRow applies the write of a sequence's row whose image lacks
// columns: with binlog_row_image=MINIMAL a source logs, for NEXTVAL and
// SETVAL, the columns they change (the next value, the cycle count). The
// others keep the sequence's current values (a sequence's columns have no
// defaults, and only ALTER SEQUENCE, a statement, changes them):
//
//	INSERT INTO s (next_not_cached_value, minimum_value, ...) SELECT 1012, minimum_value, ... FROM s
func (b *batcher) sequenceRow(e *txn.Event, p *tablePlan, present []bool, img []any) error {
	var cols, vals []byte
	var err error
	for i := range p.cols {
		if !p.cols[i].writable {
			continue
		}
		if len(cols) > 0 {
			cols = append(cols, ", "...)
			vals = append(vals, ", "...)
		}
		cols = append(cols, p.cols[i].name...)
		if i < len(present) && present[i] {
			if vals, err = p.appendLiteral(vals, i, img); err != nil {
				return err
			}
		} else {
			vals = append(vals, p.cols[i].name...)
		}
	}
	b.finish()
	sql := b.prefixFor(e, p.lax(present, img), false) + "INSERT INTO " + p.name + " (" + string(cols) + ") SELECT " +
		string(vals) + " FROM " + p.name
	b.emit(sql, &RowCheck{Rows: 1, Events: []*txn.Event{e}})
	return nil
}

// delete adds a deleted row.
func (b *batcher) delete(e *txn.Event, p *tablePlan, img []any) error {
	present := e.Rows.Columns
	key, ok, err := p.key(present, img)
	if err != nil {
		return err
	}
	b.touch(e, p, key, ok)
	where, err := b.where(p, present, img)
	if err != nil {
		return err
	}
	b.finish()
	b.emit(b.prefixFor(e, false, false)+"DELETE FROM "+p.name+where, &RowCheck{Rows: 1, Events: []*txn.Event{e}})
	return nil
}

// update adds an UPDATE of one before/after pair.
func (b *batcher) update(e *txn.Event, p *tablePlan, bimg, aimg []any) error {
	before, after := e.Rows.Columns, e.Rows.ColumnsAfter
	key, ok, err := p.key(before, bimg)
	if err != nil {
		return err
	}
	// The row's key after the update: the after image's values, the
	// before image's where it lacks them.
	akey, aok := key, ok
	if ok && hasAll(after, p.pk) {
		if akey, aok, err = p.key(after, aimg); err != nil {
			return err
		}
	}
	b.touch(e, p, key, ok)
	if aok && akey != key {
		b.touch(e, p, akey, aok)
	}
	if p.updateBatchable(before, after, bimg, aimg) {
		return b.updateRow(e, p, key, after, bimg, aimg)
	}
	buf := b.row[:0]
	buf = append(buf, b.prefixFor(e, p.lax(after, aimg), !p.complete(after))...)
	buf = append(buf, "UPDATE "...)
	buf = append(buf, p.name...)
	buf = append(buf, " SET "...)
	n := 0
	for i := range p.cols {
		if i >= len(after) || !after[i] || !p.cols[i].writable {
			continue
		}
		if n > 0 {
			buf = append(buf, ", "...)
		}
		n++
		buf = append(buf, p.cols[i].name...)
		buf = append(buf, " = "...)
		if i < len(aimg) {
			if diffs, isDiff := aimg[i].([]txn.JSONDiff); isDiff {
				expr, err := jsonDiffs(p, i, diffs)
				if err != nil {
					return err
				}
				buf = append(buf, expr...)
				continue
			}
		}
		if buf, err = p.appendLiteral(buf, i, aimg); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("table %s: the after image holds no column the target lets write", p.name)
	}
	where, err := b.where(p, before, bimg)
	if err != nil {
		return err
	}
	buf = append(buf, where...)
	b.row = buf
	b.finish()
	found := b.prefixFor(e, false, false) + "SELECT COUNT(*) FROM " + p.name + where
	b.emit(string(buf), &RowCheck{Rows: 1, Found: found, Events: []*txn.Event{e}})
	b.sense(p, key, ok)
	return nil
}

// updateRow adds the update of one row, found by its primary key key,
// which it keeps, to a multi-row UPDATE.
func (b *batcher) updateRow(e *txn.Event, p *tablePlan, key string, after []bool, bimg, aimg []any) error {
	// The row's key, as a CASE condition and in the WHERE list.
	var err error
	cond := b.row[:0]
	for j, i := range p.pk {
		if len(p.pk) > 1 {
			if j > 0 {
				cond = append(cond, " AND "...)
			}
			cond = append(cond, p.cols[i].name...)
			cond = append(cond, " = "...)
		}
		if cond, err = p.appendLiteral(cond, i, bimg); err != nil {
			return err
		}
	}
	b.row = cond
	var vals [][]byte
	size := 2*len(cond) + 16
	n := 0
	for i := range p.cols {
		if i >= len(after) || !after[i] || !p.cols[i].writable || isKey(p.pk, i) {
			continue
		}
		v, err := p.appendLiteral(nil, i, aimg)
		if err != nil {
			return err
		}
		vals = append(vals, v)
		size += len(cond) + len(v) + 12
		n++
	}
	if n == 0 {
		return fmt.Errorf("table %s: the after image holds no column the target lets write", p.name)
	}
	prefix := b.prefixFor(e, p.lax(after, aimg), !p.complete(after))
	c := &b.cur
	if !(c.kind == kindUpdate && c.plan == p && c.prefix == prefix && sameBools(c.cols, after) &&
		c.size+size+len(prefix)+len(p.name)+64 <= b.opt.maxStatement && c.rows < maxUpdateRows) {
		b.finish()
		c.kind, c.plan, c.prefix, c.cols = kindUpdate, p, prefix, after
		c.set = c.set[:0]
		for i := range p.cols {
			if i < len(after) && after[i] && p.cols[i].writable && !isKey(p.pk, i) {
				c.set = append(c.set, i)
			}
		}
		for len(c.whens) < len(c.set) {
			c.whens = append(c.whens, nil)
		}
		for j := range c.set {
			c.whens[j] = c.whens[j][:0]
		}
		c.size = 0
	} else if len(p.pk) == 1 {
		c.buf = append(c.buf, ", "...)
	} else {
		c.buf = append(c.buf, " OR "...)
	}
	if len(p.pk) > 1 {
		c.buf = append(c.buf, '(')
		c.buf = append(c.buf, cond...)
		c.buf = append(c.buf, ')')
	} else {
		c.buf = append(c.buf, cond...)
	}
	for j, v := range vals {
		c.whens[j] = append(c.whens[j], " WHEN "...)
		c.whens[j] = append(c.whens[j], cond...)
		c.whens[j] = append(c.whens[j], " THEN "...)
		c.whens[j] = append(c.whens[j], v...)
	}
	c.size += size
	c.rows++
	b.addEvent(e)
	b.sense(p, key, true)
	return nil
}

// isKey reports whether column i is one of key's.
func isKey(key []int, i int) bool {
	for _, k := range key {
		if k == i {
			return true
		}
	}
	return false
}

// where renders the WHERE clause that finds the row of an image as a
// replica does: by the target's primary key when the image holds all of
// it, else by every column the image holds that the target stores
// (LIMIT 1), NULL-safe, text compared as bytes (a replica compares the
// stored bytes: 'a' and 'A' are different rows to it, whatever the
// collation).
func (b *batcher) where(p *tablePlan, present []bool, img []any) (string, error) {
	var w []byte
	var err error
	if p.pk != nil && hasAll(present, p.pk) {
		w = append(w, " WHERE "...)
		for j, i := range p.pk {
			if j > 0 {
				w = append(w, " AND "...)
			}
			w = append(w, p.cols[i].name...)
			w = append(w, " = "...)
			if w, err = p.appendLiteral(w, i, img); err != nil {
				return "", err
			}
		}
		return string(w), nil
	}
	n := 0
	for i := range p.cols {
		if i >= len(present) || !present[i] || !p.cols[i].writable {
			continue
		}
		if n == 0 {
			w = append(w, " WHERE "...)
		} else {
			w = append(w, " AND "...)
		}
		n++
		var lit []byte
		if lit, err = p.appendLiteral(nil, i, img); err != nil {
			return "", err
		}
		w = append(w, p.cols[i].name...)
		w = append(w, " <=> "...)
		w = append(w, lit...)
		if p.cols[i].text && string(lit) != "NULL" {
			// The collation's comparison finds the row by the index;
			// the bytes' tell it apart from rows equal under the
			// collation.
			w = append(w, " AND BINARY "...)
			w = append(w, p.cols[i].name...)
			w = append(w, " = "...)
			w = append(w, lit...)
		}
	}
	if n == 0 {
		return "", fmt.Errorf("table %s: the image holds no column to find its row by", p.name)
	}
	w = append(w, " LIMIT 1"...)
	return string(w), nil
}

// appendValue appends a decoded row value (see binlog's package doc for
// the types) as an SQL literal that stores exactly that value in column
// cp.
func appendValue(b []byte, v any, cp *colPlan) ([]byte, error) {
	if v == nil {
		return append(b, "NULL"...), nil
	}
	if cp.classErr != nil {
		return b, cp.classErr
	}
	switch x := v.(type) {
	case int64:
		if x < 0 && cp.col.Unsigned && !cp.unsignedKnown {
			u, ok := unsignedFix(x, cp.typ)
			if !ok {
				return b, fmt.Errorf("negative value for an unsigned column of type %d", cp.typ)
			}
			return strconv.AppendUint(b, u, 10), nil
		}
		return strconv.AppendInt(b, x, 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float32:
		return appendFloat(b, float64(x))
	case float64:
		return appendFloat(b, x)
	case string:
		if cp.typ == txn.TypeJSON {
			return appendHex(b, []byte(x), cp.introducer), nil
		}
		return appendText(b, x, cp.typ)
	case []byte:
		if pad := cp.padLen; pad > len(x) {
			b = append(b, "X'"...)
			b = hex.AppendEncode(b, x)
			b = append(b, strings.Repeat("00", pad-len(x))...)
			return append(b, '\''), nil
		}
		return appendHex(b, x, cp.introducer), nil
	}
	return b, fmt.Errorf("unexpected decoded value of type %T", v)
}

// appendHex appends bytes as a hexadecimal string literal with the
// column's character set introducer (none for binary columns).
func appendHex(b, x []byte, introducer string) []byte {
	b = append(b, introducer...)
	b = append(b, "X'"...)
	b = hex.AppendEncode(b, x)
	return append(b, '\'')
}

// setStatementFor returns the SET STATEMENT prefix of k.
func setStatementFor(k prefixKey) string {
	return "SET STATEMENT " + strings.Join(settingsFor(k), ", ") + " FOR "
}

// settingsFor returns the settings of the SET STATEMENT prefix of k, each
// name=value.
func settingsFor(k prefixKey) []string {
	mode := sqlMode
	if k.lax {
		mode = laxSQLMode
	}
	settings := []string{"time_zone='+00:00'", "sql_mode='" + mode + "'",
		"foreign_key_checks=" + boolInt(k.flags&txn.RowsFlagNoForeignKeyChecks == 0),
		"unique_checks=" + boolInt(k.flags&txn.RowsFlagRelaxedUniqueChecks == 0),
		"check_constraint_checks=0"}
	if k.timestamp != 0 {
		settings = append(settings, "timestamp="+strconv.FormatUint(uint64(k.timestamp), 10))
	}
	return settings
}
