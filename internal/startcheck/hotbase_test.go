package startcheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestHotBaseRisk: from a mariabackup base, a transaction that changed
// non-transactional tables and committed transactionally (XID) or was
// rolled back; from a dump, any that changed non-transactional tables;
// in both, only one whose first statement began by the copy's end (to
// the second).
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
		dump  bool
	}{
		{"mixed, began before the end", tx(true, true, false, at(-3*time.Second), at(time.Second)), ended, true, false},
		{"mixed, began in the end's second", tx(true, true, false, at(0)), ended, true, false},
		{"mixed, began after the end", tx(true, true, false, at(time.Second)), ended, false, false},
		{"rolled back, began before", tx(true, false, true, at(-time.Second)), ended, true, false},
		{"non-transactional only (COMMIT query)", tx(true, false, false, at(-time.Second)), ended, false, false},
		{"transactional only", tx(false, true, false, at(-time.Second)), ended, false, false},
		{"no backup end known", tx(true, true, false, at(-time.Second)), time.Time{}, false, false},
		{"dump: non-transactional only", tx(true, false, false, at(-time.Second)), ended, true, true},
		{"dump: non-transactional only, after", tx(true, false, false, at(time.Second)), ended, false, true},
		{"dump: transactional only", tx(false, true, false, at(-time.Second)), ended, false, true},
	} {
		err := HotBase{Ended: c.ended, Dump: c.dump}.Risk(c.t)
		if got := err != nil; got != c.risk {
			t.Errorf("%s: at risk %v (%v), want %v", c.name, got, err, c.risk)
		}
	}
}

// TestClockBehind: a base's end read before the commit of the last
// transaction it holds (the one before the start in its file) is refused
// as read in another time zone; at or after it, or unknown, it is not.
func TestClockBehind(t *testing.T) {
	dir := "../../testdata/binlogs/mariadb-10.11/row"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, filepath.Join(dir, e.Name()))
	}
	open := func(ctx context.Context, from txn.Position) (*binlog.Reader, error) {
		return binlog.NewReader(files, binlog.Options{Start: from})
	}
	rd, err := binlog.NewReader(files, binlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var txns []*txn.Txn
	for {
		tx, err := rd.Next(t.Context())
		if err != nil {
			break
		}
		txns = append(txns, tx)
	}
	rd.Close()
	var held, start *txn.Txn // two transactions of one file, in order
	for i := 1; i < len(txns); i++ {
		if txns[i].Start.File == txns[i-1].Start.File {
			held, start = txns[i-1], txns[i]
		}
	}
	if start == nil {
		t.Fatal("no file with two transactions")
	}
	for _, c := range []struct {
		name   string
		ended  time.Time
		behind bool
	}{
		{"an hour before the commit it holds", held.Time.Add(-time.Hour), true},
		{"at the commit", held.Time, false},
		{"a minute before (the slack)", held.Time.Add(-time.Minute), false},
		{"unknown", time.Time{}, false},
	} {
		why, err := HotBase{Ended: c.ended}.ClockBehind(t.Context(), open, start.Start)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := why != ""; got != c.behind || c.behind && !strings.Contains(why, "TZ=") {
			t.Errorf("%s: %q, want behind %v", c.name, why, c.behind)
		}
	}
}
