package plan

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/partition"
	"github.com/binlog-replay/binlog-replay/redact"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Why a table's rows were keyed by the whole table.
const (
	wholeNoPK      = "no primary key in the table map (binlog_row_metadata is not FULL)"
	wholeForced    = "--table-keys"
	wholeUndecoded = "row event not decoded (e.g. PARTIAL_UPDATE_ROWS)"
	wholeMissing   = "primary key columns absent from a row image"
	wholeNoTable   = "row event without its table map"
)

// writeSet is what one transaction writes, as plan can tell without a
// schema: a key per row whose primary key the table map gives, and the
// tables written as a whole (no primary key known) or by rows.
type writeSet struct {
	rows  []rowRef
	whole []string // "schema.table", sorted, unique
	byRow []string // tables some of whose rows are keyed, sorted, unique
	// why maps a table of whole to the reason it is keyed whole.
	why map[string]string
}

// rowRef is one row key and where its values are, to name it in reports.
type rowRef struct {
	key   partition.Key
	table *txn.TableMap
	img   []any
	cols  []bool // which columns img holds; nil means all
	base  []any  // where a column absent from img is taken (update after images)
}

// value returns the row's value of column c.
// It is nil when neither holds it (addRow refuses such rows).
func (r *rowRef) value(c int) any {
	if r.has(c) {
		return r.img[c]
	}
	if c < len(r.base) {
		return r.base[c]
	}
	return nil
}

// has reports whether img holds column c.
func (r *rowRef) has(c int) bool {
	return c < len(r.img) && (r.cols == nil || c < len(r.cols) && r.cols[c])
}

// label names the row: "schema.table [id=5]", or "schema.table [id=?]"
// with hideValues.
func (r *rowRef) label(hideValues bool) string {
	var b strings.Builder
	b.WriteString(r.table.Schema + "." + r.table.Table + " [")
	for i, c := range r.table.PrimaryKey {
		if i > 0 {
			b.WriteString(",")
		}
		if c < len(r.table.ColumnNames) {
			b.WriteString(r.table.ColumnNames[c])
		} else {
			fmt.Fprintf(&b, "@%d", c+1)
		}
		b.WriteString("=")
		if hideValues {
			b.WriteString(redact.Mark)
			continue
		}
		b.WriteString(renderValue(r.value(c)))
	}
	b.WriteString("]")
	return b.String()
}

func renderValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return strconv.Quote(shortSQL(x, 40))
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprint(v)
}

// keyer computes write sets from decoded row images.
type keyer struct {
	tableOnly bool
	ws        writeSet
	names     tableNames
}

// writeSetOf returns the write set of t's row events. The result is reused
// by the next call.
func (k *keyer) writeSetOf(t *txn.Txn) *writeSet {
	ws := &k.ws
	ws.rows, ws.whole, ws.byRow = ws.rows[:0], ws.whole[:0], ws.byRow[:0]
	clear(ws.why)
	for i := range t.Events {
		e := &t.Events[i]
		if e.Kind != txn.EventRows || e.Rows == nil {
			continue
		}
		k.addRows(e.Rows)
	}
	slices.SortFunc(ws.rows, func(a, b rowRef) int { return cmpKey(a.key, b.key) })
	ws.rows = slices.CompactFunc(ws.rows, func(a, b rowRef) bool { return a.key == b.key })
	slices.Sort(ws.whole)
	ws.whole = slices.Compact(ws.whole)
	slices.Sort(ws.byRow)
	ws.byRow = slices.Compact(ws.byRow)
	return ws
}

func cmpKey(a, b partition.Key) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// addRows adds the keys of one row event.
func (k *keyer) addRows(r *txn.Rows) {
	tm := r.Table
	switch {
	case tm == nil:
		k.addWhole("?", wholeNoTable)
		return
	case k.tableOnly:
		k.addWhole(k.names.of(tm), wholeForced)
		return
	case !r.Decoded:
		k.addWhole(k.names.of(tm), wholeUndecoded)
		return
	case len(tm.PrimaryKey) == 0:
		k.addWhole(k.names.of(tm), wholeNoPK)
		return
	}
	ok := true
	if r.Op == txn.OpUpdate {
		for i := 0; i+1 < len(r.Rows); i += 2 {
			ok = k.addRow(rowRef{table: tm, img: r.Rows[i], cols: r.Columns}) && ok
			ok = k.addRow(rowRef{table: tm, img: r.Rows[i+1], cols: r.ColumnsAfter, base: r.Rows[i]}) && ok
		}
	} else {
		for _, img := range r.Rows {
			ok = k.addRow(rowRef{table: tm, img: img, cols: r.Columns}) && ok
		}
	}
	if !ok {
		k.addWhole(k.names.of(tm), wholeMissing)
		return
	}
	k.ws.byRow = append(k.ws.byRow, k.names.of(tm))
}

// addRow hashes the primary key of one image into ref.key and adds it. It
// returns false when a key column is in neither the image nor its base.
func (k *keyer) addRow(ref rowRef) bool {
	if allSet(ref.cols) {
		ref.cols = nil
	}
	h := newHash()
	h.str(ref.table.Schema)
	h.str(ref.table.Table)
	for _, c := range ref.table.PrimaryKey {
		if !ref.has(c) && c >= len(ref.base) {
			return false
		}
		h.value(ref.value(c))
	}
	ref.key = partition.Key(h)
	k.ws.rows = append(k.ws.rows, ref)
	return true
}

func (k *keyer) addWhole(table, why string) {
	k.ws.whole = append(k.ws.whole, table)
	if k.ws.why == nil {
		k.ws.why = map[string]string{}
	}
	if _, seen := k.ws.why[table]; !seen {
		k.ws.why[table] = why
	}
}

// tableNames caches "schema.table" strings, to build each once.
type tableNames map[[2]string]string

// of returns tm's "schema.table".
func (n tableNames) of(tm *txn.TableMap) string {
	key := [2]string{tm.Schema, tm.Table}
	name, ok := n[key]
	if !ok {
		name = tm.Schema + "." + tm.Table
		n[key] = name
	}
	return name
}

func allSet(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

// wholeTableKey is the key standing for a whole table in hot-key counts.
func wholeTableKey(table string) partition.Key {
	h := newHash()
	h.str("\x00whole")
	h.str(table)
	return partition.Key(h)
}

// hash is 64-bit FNV-1a.
type hash uint64

func newHash() hash { return 14695981039346656037 }

func (h *hash) byte(b byte) { *h = (*h ^ hash(b)) * 1099511628211 }

func (h *hash) str(s string) {
	for i := 0; i < len(s); i++ {
		h.byte(s[i])
	}
	h.byte(0xff) // terminator: "ab","c" differs from "a","bc"
}

func (h *hash) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	for _, c := range b {
		h.byte(c)
	}
}

// value hashes a key value. Byte strings are folded to ASCII lower case
// without trailing spaces, so that values equal under a case-insensitive,
// PAD SPACE collation hash the same (for a binary column this only adds
// false conflicts). Non-ASCII letters are not folded: under an
// accent-insensitive collation two spellings of one key look like two
// rows (see the package comment).
func (h *hash) value(v any) {
	switch x := v.(type) {
	case nil:
		h.byte(0)
	case int64:
		h.byte(1)
		h.u64(uint64(x))
	case uint64:
		h.byte(1) // same tag as int64: a column decodes one way throughout
		h.u64(x)
	case float32:
		h.byte(2)
		h.u64(math.Float64bits(float64(x)))
	case float64:
		h.byte(2)
		h.u64(math.Float64bits(x))
	case string:
		h.byte(3)
		h.str(x)
	case []byte:
		h.byte(4)
		n := len(x)
		for n > 0 && x[n-1] == ' ' {
			n--
		}
		for _, c := range x[:n] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			h.byte(c)
		}
		h.byte(0xff)
	default:
		h.byte(5)
		h.str(fmt.Sprint(x))
	}
}
