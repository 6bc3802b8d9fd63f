package replay

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

func TestStartFromBackup(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                txn.Position
		gtids               string
	}{
		{"mariabackup", "mariadb_backup_binlog_info", "mysql-bin.000042\t1234\t0-1-99\n",
			txn.Position{File: "mysql-bin.000042", Offset: 1234}, "0-1-99"},
		{"xtrabackup", "xtrabackup_binlog_info", "binlog.000003\t157\t3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5\n",
			txn.Position{File: "binlog.000003", Offset: 157}, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},
		{"mydumper old", "metadata", "Started dump at: 2026-11-20 10:00:00\nSHOW MASTER STATUS:\n\tLog: mysql-bin.000007\n\tPos: 889\n\tGTID:0-1-5\n\nFinished dump at: 2026-11-20 10:01:00\n",
			txn.Position{File: "mysql-bin.000007", Offset: 889}, "0-1-5"},
		{"mydumper ini", "metadata", "# Started dump at: 2026-11-20 10:00:00\n[config]\nquote_character = BACKTICK\n\n[source]\nFile = mysql-bin.000008\nPosition = 4\nExecuted_Gtid_Set = \n",
			txn.Position{File: "mysql-bin.000008", Offset: 4}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			bs, err := StartFromBackup(dir)
			if err != nil {
				t.Fatal(err)
			}
			if bs.Position != tt.want || bs.GTIDs.String() != tt.gtids {
				t.Errorf("got %s %q, want %s %q", bs.Position, bs.GTIDs.String(), tt.want, tt.gtids)
			}
		})
	}
	if _, err := StartFromBackup(t.TempDir()); err == nil {
		t.Error("empty dir: want an error")
	}
}

// TestStartFromDump: the position a mysqldump or mariadb-dump made with
// --master-data (commented with =2) or --source-data records at its top,
// plain or gzip-compressed; a dump without one is refused, saying why.
func TestStartFromDump(t *testing.T) {
	head := "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n--\n-- Position to start replication or point-in-time recovery from\n--\n\n"
	for name, tc := range map[string]struct {
		content string
		want    txn.Position
	}{
		"mariadb-dump --master-data=2": {head + "-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=803;\n\nCREATE TABLE t (id INT);\n",
			txn.Position{File: "mysql-bin.000001", Offset: 803}},
		"mariadb-dump --master-data=1 --gtid": {head + "CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000004', MASTER_LOG_POS=77;\n",
			txn.Position{File: "mysql-bin.000004", Offset: 77}},
		"mysqldump --source-data": {"-- MySQL dump 10.13\nCHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000012', SOURCE_LOG_POS=157;\n",
			txn.Position{File: "binlog.000012", Offset: 157}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, gz := range []bool{false, true} {
				path := filepath.Join(t.TempDir(), "dump.sql")
				data := []byte(tc.content)
				if gz {
					path += ".gz"
					var b bytes.Buffer
					w := gzip.NewWriter(&b)
					w.Write(data)
					w.Close()
					data = b.Bytes()
				}
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				bs, err := StartFromBackup(path)
				if err != nil || bs.Position != tc.want || bs.Source != path {
					t.Errorf("gzip %v: got %+v, %v; want %s", gz, bs, err, tc.want)
				}
			}
		})
	}
	path := filepath.Join(t.TempDir(), "plain.sql")
	if err := os.WriteFile(path, []byte(head+"CREATE TABLE t (id INT);\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := StartFromBackup(path); err == nil || !strings.Contains(err.Error(), "--master-data") {
		t.Errorf("a dump without a position: %v", err)
	}
}
