// Package probe measures a target in a scratch schema it creates and drops:
// the round trip and the latency of a small durable commit (CommitProbe),
// and the rate at which the target applies a sample of the binlogs' own
// transactions (RunApplyProbe) or synthetic inserts (InsertProbe).
package probe

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// ApplyProbe is what applying a sample of the binlogs' own transactions
// to scratch copies of their tables measured: one session applying them
// in groups as a replay worker does, then Sessions sessions at once, each
// on copies of its own.
type ApplyProbe struct {
	// Method is "passthrough" (the binlogs' transactions, as BINLOG
	// statements) or "inserts" (multi-row inserts, when no sample could be
	// applied: Why says why).
	Method string `json:"method"`
	Why    string `json:"why,omitempty"`
	// Txns, Rows and Bytes are what one session applied (Bytes: of
	// binlog), Groups the target transactions it committed, Seconds how
	// long it took.
	Txns    int     `json:"txns"`
	Rows    int     `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Groups  int     `json:"groups"`
	Seconds float64 `json:"seconds"`
	// Refused counts the sample's transactions the target refused (rolled
	// back and left out of the timing); LeftOut names the tables whose
	// transactions were left out of the sample, with why.
	Refused int      `json:"refused,omitempty"`
	LeftOut []string `json:"left_out,omitempty"`
	// Sessions applied the sample at once in ParallelSeconds; Scaling is
	// how many times one session's rate that was.
	Sessions        int     `json:"sessions,omitempty"`
	ParallelSeconds float64 `json:"parallel_seconds,omitempty"`
	Scaling         float64 `json:"scaling,omitempty"`
	// Compacted says the groups were compacted as the replay's would be
	// (ApplyOptions.Compact); RowsApplied is then the rows one session
	// wrote of the Rows the sample changes.
	Compacted   bool `json:"compacted,omitempty"`
	RowsApplied int  `json:"rows_applied,omitempty"`
}

// TxnsPerSec is the single session's rate in source transactions.
func (a *ApplyProbe) TxnsPerSec() float64 {
	if a.Seconds <= 0 {
		return 0
	}
	return float64(a.Txns) / a.Seconds
}

// RowsPerSec is the single session's rate in rows.
func (a *ApplyProbe) RowsPerSec() float64 {
	if a.Seconds <= 0 {
		return 0
	}
	return float64(a.Rows) / a.Seconds
}

// BytesPerSec is the single session's rate in binlog bytes.
func (a *ApplyProbe) BytesPerSec() float64 {
	if a.Seconds <= 0 {
		return 0
	}
	return float64(a.Bytes) / a.Seconds
}

// sourceTable is a table the sample writes, as the target has it.
type sourceTable struct {
	schema, name string
	columns      int
	key          []int // ordinal positions (from 0) of the primary key's columns
	bytes        int64
	// whole copies the whole table (no primary key, and small).
	whole bool
	// keys are the primary key values the sample's updates and deletes
	// find, as SQL tuples.
	keys map[string]bool
	// copies are the scratch copies' bare names, one per session set;
	// failed is set when they could not be made.
	copies []string
	failed bool
}

// wholeCopyLimit is the largest table without a primary key that is
// copied whole for the sample.
const wholeCopyLimit = 16 << 20

// ApplyOptions say how to group the sample, as the replay would.
type ApplyOptions struct {
	// GroupTxns and GroupBytes bound a group, as the replay's options do.
	GroupTxns  int
	GroupBytes int64
	// Sessions is the number of sessions applying groups at once.
	Sessions int
	// Compact, when set, rewrites each group's transactions as the
	// replay's net-effect compaction does (compact.Compactor.Group), so
	// the probe applies what the replay would.
	Compact func(ctx context.Context, txns []*txn.Txn) []*txn.Txn
}

// RunApplyProbe applies the sample to scratch copies of its tables.
func RunApplyProbe(ctx context.Context, sc *Scratch, sample []*txn.Txn, o ApplyOptions) (*ApplyProbe, error) {
	p := &ApplyProbe{Method: "passthrough"}
	tables, err := sampleTables(ctx, sc.db, sample, p)
	if err != nil {
		return nil, err
	}
	sample = usable(sample, tables)
	if len(sample) < 10 {
		return nil, nil
	}
	sets := 1
	if o.Sessions > 1 {
		sets += o.Sessions
	}
	conn, err := sc.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for i, t := range sortedTables(tables) {
		if err := makeCopies(ctx, conn, sc, t, i, sets); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.LeftOut = append(p.LeftOut, fmt.Sprintf("%s.%s (%v)", t.schema, t.name, err))
			t.failed = true
		}
	}
	sample = usable(sample, tables)
	if len(sample) < 10 {
		return nil, nil
	}
	var maxPacket int
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		return nil, fmt.Errorf("read max_allowed_packet: %w", err)
	}
	limit := max(maxPacket/2, 64<<10)
	batches := splitGroups(sample, o)
	if o.Compact != nil {
		p.Compacted = true
		for i, b := range batches {
			b.apply = o.Compact(ctx, b.txns)
			p.RowsApplied += countRows(b.apply)
			batches[i] = b
		}
	}
	var groups [][]group
	for s := 0; s < sets; s++ {
		ckpt, _ := sc.table(fmt.Sprintf("ckpt_%d", s))
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+ckpt+" (id INT PRIMARY KEY, seq BIGINT, file VARCHAR(255), pos BIGINT) ENGINE=InnoDB"); err != nil {
			return nil, fmt.Errorf("create the probe's checkpoint table: %w", err)
		}
		gs, err := buildGroups(sc, batches, tables, s, ckpt, limit)
		if err != nil {
			return nil, err
		}
		groups = append(groups, gs)
	}
	for _, g := range groups[0] {
		p.Groups++
		p.Txns += g.txns
		p.Rows += g.rows
		p.Bytes += g.bytes
	}
	d, refused, err := runGroups(ctx, conn, groups[0])
	if err != nil {
		return nil, err
	}
	p.Seconds, p.Refused = d.Seconds(), refused
	if p.Refused > 0 {
		p.Txns -= p.Refused // an estimate: refused groups are rolled back
	}
	if sets > 1 {
		pd, err := runParallel(ctx, sc, groups[1:])
		if err != nil {
			return nil, err
		}
		p.Sessions, p.ParallelSeconds = sets-1, pd.Seconds()
		if pd > 0 {
			p.Scaling = float64(sets-1) * d.Seconds() / pd.Seconds()
		}
	}
	return p, nil
}

// sampleTables looks up on the target the tables the sample writes: a
// table the target lacks, whose columns differ from the binlog's, or
// without a primary key and too large to copy is left out (named in p).
func sampleTables(ctx context.Context, db *sql.DB, sample []*txn.Txn, p *ApplyProbe) (map[string]*sourceTable, error) {
	tables := map[string]*sourceTable{}
	for _, t := range sample {
		for i := range t.Events {
			e := &t.Events[i]
			if e.Kind != txn.EventTableMap {
				continue
			}
			key := e.TableMap.Schema + "." + e.TableMap.Table
			if _, ok := tables[key]; ok {
				continue
			}
			st, why, err := lookupTable(ctx, db, e.TableMap)
			if err != nil {
				return nil, err
			}
			if why != "" {
				p.LeftOut = append(p.LeftOut, fmt.Sprintf("%s (%s)", key, why))
			}
			tables[key] = st
		}
	}
	for _, t := range sample {
		for i := range t.Events {
			e := &t.Events[i]
			if e.Kind != txn.EventRows || e.Rows == nil || e.Rows.Table == nil {
				continue
			}
			st := tables[e.Rows.Table.Schema+"."+e.Rows.Table.Table]
			if st == nil || st.whole || e.Rows.Op == txn.OpInsert {
				continue
			}
			step := 1
			if e.Rows.Op == txn.OpUpdate {
				step = 2 // before and after images
			}
			for r := 0; r < len(e.Rows.Rows); r += step {
				if k, ok := keyTuple(e.Rows.Rows[r], st.key); ok {
					st.keys[k] = true
				}
			}
		}
	}
	return tables, nil
}

// lookupTable returns the target's table tm names, or nil with why it
// cannot be used.
func lookupTable(ctx context.Context, db *sql.DB, tm *txn.TableMap) (*sourceTable, string, error) {
	var bytes sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT COALESCE(data_length, 0) + COALESCE(index_length, 0) FROM information_schema.TABLES "+
		"WHERE table_schema = ? AND table_name = ? AND table_type = 'BASE TABLE'", tm.Schema, tm.Table).Scan(&bytes)
	if err == sql.ErrNoRows {
		return nil, "the target does not have it", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("look up %s.%s on the target: %w", tm.Schema, tm.Table, err)
	}
	st := &sourceTable{schema: tm.Schema, name: tm.Table, bytes: bytes.Int64, keys: map[string]bool{}}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE table_schema = ? AND table_name = ?",
		tm.Schema, tm.Table).Scan(&st.columns); err != nil {
		return nil, "", fmt.Errorf("look up %s.%s on the target: %w", tm.Schema, tm.Table, err)
	}
	if st.columns != len(tm.ColumnTypes) {
		return nil, fmt.Sprintf("the target's table has %d columns, the binlog's %d", st.columns, len(tm.ColumnTypes)), nil
	}
	rows, err := db.QueryContext(ctx, "SELECT c.ordinal_position FROM information_schema.STATISTICS s "+
		"JOIN information_schema.COLUMNS c ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = s.column_name "+
		"WHERE s.table_schema = ? AND s.table_name = ? AND s.index_name = 'PRIMARY' ORDER BY s.seq_in_index", tm.Schema, tm.Table)
	if err != nil {
		return nil, "", fmt.Errorf("look up the primary key of %s.%s on the target: %w", tm.Schema, tm.Table, err)
	}
	for rows.Next() {
		var pos int
		if err := rows.Scan(&pos); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("look up the primary key of %s.%s: %w", tm.Schema, tm.Table, err)
		}
		st.key = append(st.key, pos-1)
	}
	if err := closeRows(rows); err != nil {
		return nil, "", fmt.Errorf("look up the primary key of %s.%s: %w", tm.Schema, tm.Table, err)
	}
	if len(st.key) == 0 {
		if st.bytes > wholeCopyLimit {
			return nil, "no primary key, and too large to copy", nil
		}
		st.whole = true
	}
	return st, "", nil
}

// keyTuple renders the key columns of a row image as an SQL tuple, or
// false when a value cannot be rendered (absent, or of a type not
// handled).
func keyTuple(row []any, key []int) (string, bool) {
	parts := make([]string, 0, len(key))
	for _, c := range key {
		if c >= len(row) {
			return "", false
		}
		switch v := row[c].(type) {
		case int64:
			parts = append(parts, strconv.FormatInt(v, 10))
		case uint64:
			parts = append(parts, strconv.FormatUint(v, 10))
		case string:
			parts = append(parts, sqlgen.Quote(v))
		case []byte:
			parts = append(parts, "X'"+hex.EncodeToString(v)+"'")
		default:
			return "", false
		}
	}
	return "(" + strings.Join(parts, ", ") + ")", true
}

// usable returns the transactions of sample whose every table is usable.
func usable(sample []*txn.Txn, tables map[string]*sourceTable) []*txn.Txn {
	var out []*txn.Txn
	for _, t := range sample {
		ok := true
		for i := range t.Events {
			e := &t.Events[i]
			if e.Kind == txn.EventTableMap {
				st := tables[e.TableMap.Schema+"."+e.TableMap.Table]
				ok = ok && st != nil && !st.failed
			}
		}
		if ok {
			out = append(out, t)
		}
	}
	return out
}

// sortedTables returns the tables in name order (nil entries left out).
func sortedTables(tables map[string]*sourceTable) []*sourceTable {
	var out []*sourceTable
	for _, t := range tables {
		if t != nil {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].schema+"."+out[i].name < out[j].schema+"."+out[j].name })
	return out
}

// makeCopies creates sets scratch copies of t, each holding the rows the
// sample's updates and deletes find (or the whole table).
func makeCopies(ctx context.Context, conn *sql.Conn, sc *Scratch, t *sourceTable, index, sets int) error {
	src := sqlgen.QuoteIdent(t.schema) + "." + sqlgen.QuoteIdent(t.name)
	var keys []string
	for k := range t.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cols := make([]string, len(t.key))
	var where string
	if !t.whole {
		rows, err := conn.QueryContext(ctx, "SELECT column_name FROM information_schema.COLUMNS WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
			t.schema, t.name)
		if err != nil {
			return fmt.Errorf("read its columns: %w", err)
		}
		var all []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return fmt.Errorf("read its columns: %w", err)
			}
			all = append(all, c)
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("read its columns: %w", err)
		}
		for i, k := range t.key {
			cols[i] = sqlgen.QuoteIdent(all[k])
		}
		where = "(" + strings.Join(cols, ", ") + ") IN "
	}
	t.copies = nil
	for s := 0; s < sets; s++ {
		qualified, bare := sc.table(fmt.Sprintf("t%d_%d", index, s))
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+qualified+" LIKE "+src); err != nil {
			return fmt.Errorf("copy its definition: %w", err)
		}
		t.copies = append(t.copies, bare)
		if _, err := conn.ExecContext(ctx, "SET SESSION autocommit=1"); err != nil {
			return err
		}
		if t.whole {
			if _, err := conn.ExecContext(ctx, "INSERT INTO "+qualified+" SELECT * FROM "+src); err != nil {
				return fmt.Errorf("copy its rows: %w", err)
			}
			continue
		}
		for i := 0; i < len(keys); i += 500 {
			chunk := keys[i:min(i+500, len(keys))]
			if _, err := conn.ExecContext(ctx, "INSERT IGNORE INTO "+qualified+" SELECT * FROM "+src+" WHERE "+
				where+"("+strings.Join(chunk, ", ")+")"); err != nil {
				return fmt.Errorf("copy the rows the sample finds: %w", err)
			}
		}
	}
	return nil
}

// group is one target transaction of the probe: its BINLOG statements
// and its commit.
type group struct {
	stmts []string
	txns  int
	rows  int
	bytes int64
}

// batch is the sample's transactions that one group commits (txns), and
// what it applies of them (apply: txns, or their compaction).
type batch struct {
	txns, apply []*txn.Txn
}

// splitGroups cuts the sample into batches of at most o.GroupTxns
// transactions and o.GroupBytes bytes, as a replay worker groups them.
func splitGroups(sample []*txn.Txn, o ApplyOptions) []batch {
	var (
		out   []batch
		cur   []*txn.Txn
		bytes int64
	)
	for _, t := range sample {
		if len(cur) > 0 && (len(cur) >= o.GroupTxns || bytes+t.Bytes > o.GroupBytes) {
			out = append(out, batch{txns: cur, apply: cur})
			cur, bytes = nil, 0
		}
		cur = append(cur, t)
		bytes += t.Bytes
	}
	if len(cur) > 0 {
		out = append(out, batch{txns: cur, apply: cur})
	}
	return out
}

// countRows counts the rows the row events of txns change (an update's
// before and after images are one row).
func countRows(txns []*txn.Txn) int {
	n := 0
	for _, t := range txns {
		for i := range t.Events {
			if r := t.Events[i].Rows; t.Events[i].Kind == txn.EventRows && r != nil {
				n += r.Count()
			}
		}
	}
	return n
}

// buildGroups turns the batches into groups writing to the copies of set
// s: each batch's applied transactions as BINLOG statements of at most
// limit bytes (the format description first when it changes), then a
// checkpoint-like row written with the COMMIT. A group counts its batch's
// source transactions, rows and bytes.
func buildGroups(sc *Scratch, batches []batch, tables map[string]*sourceTable, s int, ckpt string, limit int) ([]group, error) {
	var (
		out    []group
		events []*txn.Event
		format *txn.Format
	)
	for seq, b := range batches {
		cur := group{txns: len(b.txns), rows: countRows(b.txns)}
		flushEvents := func() {
			if len(events) > 0 {
				cur.stmts = append(cur.stmts, sqlgen.BinlogStatement(events))
				events = nil
			}
		}
		for _, t := range b.txns {
			cur.bytes += t.Bytes
		}
		for _, t := range b.apply {
			if t.Format != format {
				flushEvents()
				cur.stmts = append(cur.stmts, sqlgen.BinlogStatement([]*txn.Event{{Raw: t.Format.Raw}}))
				format = t.Format
			}
			var evs []*txn.Event
			for i := range t.Events {
				e := t.Events[i]
				switch e.Kind {
				case txn.EventTableMap:
					st := tables[e.TableMap.Schema+"."+e.TableMap.Table]
					raw, err := event.RetargetTableMap(e.Raw, t.Format, sc.Schema, st.copies[s])
					if err != nil {
						return nil, err
					}
					e.Raw = raw
				case txn.EventRows:
				default:
					continue
				}
				evs = append(evs, &e)
			}
			if len(events) > 0 && sqlgen.BinlogSize(append(events[:len(events):len(events)], evs...)) > limit {
				flushEvents()
			}
			events = append(events, evs...)
		}
		flushEvents()
		cur.stmts = append(cur.stmts, fmt.Sprintf("INSERT INTO %s VALUES (1, %d, 'mysql-bin.000001', %d) ON DUPLICATE KEY UPDATE "+
			"seq=VALUES(seq), file=VALUES(file), pos=VALUES(pos);\nCOMMIT", ckpt, seq+1, (seq+1)*1000))
		out = append(out, cur)
	}
	return out, nil
}

// runGroups applies groups on conn and returns how long it took, timing
// only the groups, and how many transactions the target refused (their
// group is rolled back).
func runGroups(ctx context.Context, conn *sql.Conn, groups []group) (time.Duration, int, error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION autocommit=0, SESSION innodb_lock_wait_timeout=2"); err != nil {
		return 0, 0, fmt.Errorf("probe session: %w", err)
	}
	refused := 0
	start := time.Now()
	for _, g := range groups {
		for _, s := range g.stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				if ctx.Err() != nil {
					return 0, 0, ctx.Err()
				}
				if errorNumber(err) == 0 {
					return 0, 0, fmt.Errorf("apply the sample: %w", err)
				}
				_, _ = conn.ExecContext(ctx, "ROLLBACK")
				refused += g.txns
				break
			}
		}
	}
	return time.Since(start), refused, nil
}

// runParallel applies each set of groups on a session of its own, all at
// once, and returns how long they took together.
func runParallel(ctx context.Context, sc *Scratch, sets [][]group) (time.Duration, error) {
	conns := make([]*sql.Conn, len(sets))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range sets {
		c, err := sc.conn(ctx)
		if err != nil {
			return 0, err
		}
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sets))
	start := time.Now()
	for i := range sets {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, errs[i] = runGroups(ctx, conns[i], sets[i])
		}(i)
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return d, nil
}
