package replay

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// TestBackupEnded: the end of a mariabackup backup is read from its
// xtrabackup_info (mariadb_backup_info from MariaDB 11) in this host's
// time zone; a backup without one has none.
func TestBackupEnded(t *testing.T) {
	for _, info := range []string{"xtrabackup_info", "mariadb_backup_info"} {
		dir := t.TempDir()
		files := map[string]string{
			"xtrabackup_binlog_info": "mysql-bin.000001\t1501\t0-7-6\n",
			info:                     "tool_name = mariadb-backup\nstart_time = 2026-12-07 18:33:50\nend_time = 2026-12-07 18:33:51\nlock_time = 0\n",
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		bs, err := StartFromBackup(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, 12, 7, 18, 33, 51, 0, time.Local); !bs.Ended.Equal(want) {
			t.Errorf("%s: ended %s, want %s", info, bs.Ended, want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "xtrabackup_binlog_info"), []byte("mysql-bin.000001\t4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if bs, err := StartFromBackup(dir); err != nil || !bs.Ended.IsZero() {
		t.Errorf("no info file: ended %s, %v; want none", bs.Ended, err)
	}
}

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
		err := hotBaseRisk(c.t, c.ended)
		if got := err != nil; got != c.risk {
			t.Errorf("%s: at risk %v (%v), want %v", c.name, got, err, c.risk)
		}
	}
}
