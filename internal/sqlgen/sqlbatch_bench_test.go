package sqlgen

import (
	"context"
	"fmt"
	"testing"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// sbTable is sysbench's table: id INT PRIMARY KEY, k INT, c CHAR(120),
// pad CHAR(60).
func sbTable() (*txn.TableMap, map[string]*schema.Table) {
	tm := &txn.TableMap{Schema: "d", Table: "sbtest1", ColumnTypes: []byte{typeLong, typeLong, typeString, typeString},
		ColumnMeta: []uint16{0, 0, 0xfe00 | 480&0xff | (480>>4)&0x300 ^ 0x300, 0xfef0}}
	text := func(name string, n int) schema.Column {
		return schema.Column{Name: name, DataType: "char", ColumnType: fmt.Sprintf("char(%d)", n), Charset: "utf8mb4", Collation: "utf8mb4_general_ci"}
	}
	t := &schema.Table{Schema: "d", Name: "sbtest1", Columns: []schema.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"}, {Name: "k", DataType: "int", ColumnType: "int(11)"}, text("c", 120), text("pad", 60)},
		Indexes: []schema.Index{{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}}}}
	return tm, map[string]*schema.Table{"d.sbtest1": t}
}

// sbTxns returns n sysbench oltp_write_only transactions (an UPDATE of k,
// an UPDATE of c, a DELETE and an INSERT, each a row event of one row),
// or, bulk, n transactions of one UPDATE, DELETE and INSERT event of 100
// rows each.
func sbTxns(n int, bulk bool) []*txn.Txn {
	tm, _ := sbTable()
	all := []bool{true, true, true, true}
	c := []byte("68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-19503783441")
	pad := []byte("22195207048-70116052123-74140395089-76317954521-98694025897")
	row := func(id int) []any { return []any{int64(id), int64(id * 7 % 10000), c, pad} }
	ev := func(op txn.Op, rows ...[]any) txn.Event {
		r := &txn.Rows{Op: op, Table: tm, Flags: txn.RowsFlagStmtEnd, Columns: all, Rows: rows, Decoded: true}
		if op == txn.OpUpdate {
			r.ColumnsAfter = all
		}
		return txn.Event{Kind: txn.EventRows, Type: 30, TypeName: "ROWS", Pos: txn.Position{File: "f", Offset: 4}, Rows: r}
	}
	var out []*txn.Txn
	for i := 0; i < n; i++ {
		tx := &txn.Txn{Seq: uint64(i + 1), Kind: txn.KindRows}
		if !bulk {
			a, b, d := row(i%10000+1), row((i*7)%10000+1), row((i*13)%10000+1)
			a2 := append([]any(nil), a...)
			a2[1] = int64(5)
			tx.Events = []txn.Event{ev(txn.OpUpdate, a, a2), ev(txn.OpUpdate, b, b), ev(txn.OpDelete, d), ev(txn.OpInsert, d)}
		} else {
			var upd, rows [][]any
			for j := 0; j < 100; j++ {
				r := row(i*100 + j + 1)
				upd = append(upd, r, r)
				rows = append(rows, r)
			}
			tx.Events = []txn.Event{ev(txn.OpUpdate, upd...), ev(txn.OpDelete, rows...), ev(txn.OpInsert, rows...)}
		}
		out = append(out, tx)
	}
	return out
}

// BenchmarkApplySQLBody measures making the SQL apply path's statements
// (Generator.Body with ApplySQL) for sysbench-like transactions; it
// reports rows per second of one core.
func BenchmarkApplySQLBody(b *testing.B) {
	_, tables := sbTable()
	for _, bulk := range []bool{false, true} {
		name := "oltp"
		if bulk {
			name = "bulk"
		}
		b.Run(name, func(b *testing.B) {
			txns := sbTxns(100, bulk)
			rows := 0
			for _, tx := range txns {
				for _, e := range tx.Events {
					n := len(e.Rows.Rows)
					if e.Rows.Op == txn.OpUpdate {
						n /= 2
					}
					rows += n
				}
			}
			g := &Generator{TargetMariaDB: true, ApplySQL: true, Tables: fakeTables(tables)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, tx := range txns {
					if _, err := g.Body(ctx, tx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
