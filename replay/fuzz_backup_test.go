package replay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/txn"
)

// backupFileNames are the files StartFromBackup reads, by the fuzzer's
// choice.
var backupFileNames = []string{"xtrabackup_binlog_info", "mariadb_backup_binlog_info", "metadata"}

// FuzzStartFromBackup reads a base backup's binlog position from a
// metadata file with the fuzzer's content (xtrabackup and mariabackup's
// FILE<TAB>POS[<TAB>GTIDS], mydumper's two formats): an error or a start
// with a binlog file name that is not empty and holds no line break or
// tab, and a GTID set whose text parses back to the same set.
func FuzzStartFromBackup(f *testing.F) {
	f.Add(byte(0), "mysql-bin.000042\t1234\t3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5\n")
	f.Add(byte(1), "mysql-bin.000042\t1234\t0-1-99\n")
	f.Add(byte(2), "Started dump at: 2026-11-20 10:00:00\nSHOW MASTER STATUS:\n\tLog: mysql-bin.000007\n\tPos: 889\n\tGTID:0-1-5\n\nFinished dump at: 2026-11-20 10:01:00\n")
	f.Add(byte(2), "# Started dump at: 2026-11-20 10:00:00\n[config]\nquote_character = BACKTICK\n\n[source]\nFile = mysql-bin.000008\nPosition = 4\nExecuted_Gtid_Set = \n")
	f.Add(byte(2), "[master]\nFile = \"mysql-bin.000009\"\nPosition = 5\nExecuted_Gtid_Set = \"0-1-3,1-2-4\"\n[replication]\nFile = other.000001\nPosition = 9\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which byte, content string) {
		name := backupFileNames[int(which)%len(backupFileNames)]
		for _, n := range backupFileNames {
			os.Remove(filepath.Join(dir, n))
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		bs, err := StartFromBackup(dir)
		if err != nil {
			return
		}
		if bs.Position.File == "" || strings.ContainsAny(bs.Position.File, "\t\r\n") {
			t.Fatalf("%s holding %q: start at file %q", name, content, bs.Position.File)
		}
		again, err := txn.ParseGTIDSet(bs.GTIDs.String())
		if err != nil || again.String() != bs.GTIDs.String() {
			t.Fatalf("%s holding %q: GTID set %q parses back as %q, %v", name, content, bs.GTIDs.String(), again.String(), err)
		}
	})
}
