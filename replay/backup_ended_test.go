package replay

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
