package startcheck

import (
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// TestHotBaseRisk: only a transaction that changed non-transactional
// tables and committed transactionally (XID) or was rolled back, one of
// whose statements began by the backup's end (to the second), is at risk.
func TestHotBaseRisk(t *testing.T) {
	ended := time.Date(2026, 12, 7, 18, 33, 51, 0, time.UTC)
	at := func(d time.Duration) uint32 { return uint32(ended.Add(d).Unix()) }
	tx := func(nonTrans, xid, rolledBack bool, stamps ...uint32) *txn.Txn {
		t := &txn.Txn{NonTransactional: nonTrans, XID: xid, RolledBack: rolledBack}
		for _, s := range stamps {
			t.Events = append(t.Events, txn.Event{Kind: txn.EventQuery, Timestamp: s})
		}
		return t
	}
	for _, c := range []struct {
		name  string
		t     *txn.Txn
		ended time.Time
		risk  bool
	}{
		{"mixed, began before the end", tx(true, true, false, at(-3*time.Second), at(time.Second)), ended, true},
		{"mixed, began in the end's second", tx(true, true, false, at(0)), ended, true},
		{"mixed, began after the end", tx(true, true, false, at(time.Second)), ended, false},
		{"rolled back, began before", tx(true, false, true, at(-time.Second)), ended, true},
		{"non-transactional only (COMMIT query)", tx(true, false, false, at(-time.Second)), ended, false},
		{"transactional only", tx(false, true, false, at(-time.Second)), ended, false},
		{"no backup end known", tx(true, true, false, at(-time.Second)), time.Time{}, false},
	} {
		err := HotBase(c.t, c.ended)
		if got := err != nil; got != c.risk {
			t.Errorf("%s: at risk %v (%v), want %v", c.name, got, err, c.risk)
		}
	}
}
