package binlog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFuzzSeeds rewrites the seed corpus of FuzzReader,
// testdata/fuzz/FuzzReader: the transactions of the package's MariaDB
// workload (every common column type, row and statement format, DDL,
// MyISAM), as written by a MariaDB server here with and without
// log_bin_compress, each cut with its format description into a small
// binlog file. It runs only when BINLOG_WRITE_FUZZ_SEEDS=1:
//
//	BINLOG_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./binlog
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("BINLOG_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set BINLOG_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzReader")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, args := range [][]string{nil, {"--log-bin-compress=ON", "--log-bin-compress-min-len=10"}} {
		files, _, _ := serverBinlog(t, args...)
		for _, f := range files {
			for _, seed := range cutTransactions(t, f, 100) {
				if err := writeCorpusFile(dir, seed); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	t.Logf("wrote %d seeds to %s", n, dir)
}

// writeCorpusFile writes data to dir as a seed in Go's fuzzing corpus
// format, named by its hash as `go test -fuzz` names the inputs it keeps.
func writeCorpusFile(dir string, data []byte) error {
	sum := sha256.Sum256(data)
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	p := filepath.Join(dir, hex.EncodeToString(sum[:])[:16])
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return fmt.Errorf("write seed: %w", err)
	}
	return nil
}
