package replay

import (
	"os"
	"path/filepath"
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
