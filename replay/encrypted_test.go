package replay_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
)

// TestEncryptedBinlogs replays the binlogs of a source that encrypts them
// (encrypt_binlog, keys from file_key_management): its files are refused,
// naming the way on (--source), and read from the source, which sends
// them decrypted, they replay to a target equal to the source.
func TestEncryptedBinlogs(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keys, []byte("1;"+strings.Repeat("a1", 32)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := formatScenario(t, "ROW", []string{"--plugin-load-add=file_key_management",
		"--file-key-management-filename=" + keys, "--encrypt-binlog=ON"}, sourceSetup, sourceWork(100, 10))

	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.Select.StartPosition = sc.Files, sc.Start
	if _, log, err := runFrom(tgt.DSN(""), o); err == nil || !strings.Contains(err.Error(), "encrypted") || !strings.Contains(err.Error(), "--source") {
		t.Fatalf("replay of the encrypted files: %v, want a refusal naming --source\n%s", err, log)
	}

	tgt, db = sc.Target(t)
	o = sourceOpts(sc, 4)
	o.Select.StartPosition = sc.Start
	sum, log, err := runFrom(tgt.DSN(""), o)
	if err != nil {
		t.Fatalf("replay from the source: %v\n%s", err, log)
	}
	if sum.Applied == 0 {
		t.Fatal("nothing applied")
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
}
