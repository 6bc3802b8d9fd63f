package replay

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupEnded: the end of a mariabackup backup is read from its
// xtrabackup_info (mariadb_backup_info from MariaDB 11), a dump's from
// its last line, plain or compressed, in this host's time zone; a base
// without one has none.
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
		hb, err := ReadHotBase(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, 12, 7, 18, 33, 51, 0, time.Local); !hb.Ended.Equal(want) || hb.Dump {
			t.Errorf("%s: %+v, want ended %s, not a dump", info, hb, want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "xtrabackup_binlog_info"), []byte("mysql-bin.000001\t4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if hb, err := ReadHotBase(dir); err != nil || !hb.Ended.IsZero() {
		t.Errorf("no info file: %+v, %v; want no end", hb, err)
	}
	dump := "-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000002', MASTER_LOG_POS=1187;\n" +
		strings.Repeat("INSERT INTO `t` VALUES (1);\n", 200) + "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-12-07 18:44:32\n"
	for name, data := range map[string][]byte{"dump.sql": []byte(dump), "dump.sql.gz": gzipped(t, dump),
		"nodate.sql": []byte(strings.Replace(dump, "-- Dump completed on 2026-12-07 18:44:32", "-- Dump completed", 1))} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		hb, err := ReadHotBase(path)
		want := time.Date(2026, 12, 7, 18, 44, 32, 0, time.Local)
		if name == "nodate.sql" {
			want = time.Time{}
		}
		if err != nil || !hb.Ended.Equal(want) || !hb.Dump {
			t.Errorf("%s: %+v, %v; want a dump ended %s", name, hb, err, want)
		}
	}
}

// gzipped returns s compressed with gzip.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
