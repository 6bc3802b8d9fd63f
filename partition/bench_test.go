package partition

import (
	"context"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// sbtest is sysbench's table: id INT PK, k INT (non-unique), c CHAR(120),
// pad CHAR(60).
func sbtest() *schema.Table {
	return table("sbtest1", []schema.Column{intCol("id", false), intCol("k", false),
		textCol("c", "latin1_swedish_ci", false), textCol("pad", "latin1_swedish_ci", false)}, "PRIMARY:id")
}

// oltpWriteOnly is one sysbench oltp_write_only transaction: two updates,
// a delete and an insert.
func oltpWriteOnly(tab *schema.Table, id int64) *txn.Txn {
	c := []byte(strings.Repeat("12345678901-", 10))
	pad := []byte(strings.Repeat("abcdefghij-", 5))
	r := func(id, k int64) []any { return row(id, k, c, pad) }
	return rowsTxn(
		ev(tab, txn.OpUpdate, r(id, 1), r(id, 2)),
		ev(tab, txn.OpUpdate, r(id+1, 1), r(id+1, 1)),
		ev(tab, txn.OpDelete, r(id+2, 5)),
		ev(tab, txn.OpInsert, r(id+2, 5)),
	)
}

func BenchmarkKeysOf(b *testing.B) {
	tab := sbtest()
	tb := fakeTables{"db.sbtest1": tab}
	k := NewKeyer(tb)
	ctx := context.Background()
	txns := make([]*txn.Txn, 1024)
	for i := range txns {
		txns[i] = oltpWriteOnly(tab, int64(i*3))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, barrier, reason, err := k.KeysOf(ctx, txns[i%len(txns)]); barrier || err != nil {
			b.Fatal(reason, err)
		}
	}
}

// BenchmarkKeysOfUniqueText keys inserts into a table with a
// case-insensitive unique e-mail column: the folding path.
func BenchmarkKeysOfUniqueText(b *testing.B) {
	users := testTables()["db.users"]
	tb := fakeTables{"db.users": users}
	k := NewKeyer(tb)
	ctx := context.Background()
	tx := rowsTxn(ev(users, txn.OpInsert, row(int64(1), []byte("Some.Body@Example.COM"), []byte("somebody"), nil)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, barrier, reason, err := k.KeysOf(ctx, tx); barrier || err != nil {
			b.Fatal(reason, err)
		}
	}
}

func BenchmarkTrackerAdd(b *testing.B) {
	tr := NewTracker(1 << 16)
	keys := make([]Key, 4)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range keys {
			keys[j] = Key(uint64(i*4+j) * 0x9E3779B97F4A7C15 % 100000)
		}
		tr.Add(uint64(i+1), keys, false)
	}
}
