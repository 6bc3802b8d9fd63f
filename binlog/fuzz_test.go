package binlog

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
)

// fuzzInputTimeout is how long one input may take: a reader that takes
// longer on at most 1 MiB hangs, for an operator.
const fuzzInputTimeout = 10 * time.Second

// fuzzSeedFixtures are the external fixtures whose transactions seed
// FuzzReader (docs/testing.md): MySQL 5.7
// and 8.0 row events, JSON and partial JSON, compressed transaction
// payloads, user variables in statement format, MariaDB 10.0 and 10.5.
var fuzzSeedFixtures = []string{crcFixture,
	"rust_mysql_common/test-data/binlogs/mariadb-bin.000001",
	"mysql-cdc-rs/tests/events/5.7/14_user_var/log.bin",
	"rust_mysql_common/test-data/binlogs/json.binlog.000001",
	"rust_mysql_common/test-data/binlogs/transaction_compression.000001",
	"binlog-parser/data/fixtures/mysql-bin.07",
	"mysql-binlog-connector-rust/tests/parse_file_tests/mysql-bin.000057",
	"rust_mysql_common/test-data/binlogs/vector.binlog",
}

// maxSeedBytes bounds a seed cut from a fixture: small inputs are what the
// fuzzer mutates quickly.
const maxSeedBytes = 8 << 10

// cutTransactions returns small binlog files cut from the binlog file at
// path: each the magic number, the file's format description and the
// events of one transaction, for at most max transactions of at most
// maxSeedBytes each. Event positions in the headers are left as they were:
// the reader does not check them.
func cutTransactions(t testing.TB, path string, max int) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader([]string{path}, Options{})
	if err != nil {
		t.Fatalf("cut %s: %v", path, err)
	}
	defer r.Close()
	var out [][]byte
	for len(out) < max {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) || err != nil && len(out) > 0 {
			break
		}
		if err != nil {
			t.Fatalf("cut %s: %v", path, err)
		}
		n := int(tx.End.Offset - tx.Start.Offset)
		if n+len(tx.Format.Raw)+len(event.Magic) > maxSeedBytes {
			continue
		}
		seed := append(append([]byte(nil), event.Magic...), tx.Format.Raw...)
		out = append(out, append(seed, data[tx.Start.Offset:tx.End.Offset]...))
	}
	return out
}

// FuzzReader feeds mutated binlog files to the reader with row decoding on:
// whatever the bytes, it must return transactions or an error, never panic
// or hang. Event checksums are recomputed after mutation so that the
// fuzzer reaches the decoders instead of stopping at the CRC check.
//
// The seeds are small: a format description and one transaction each,
// from testdata/fuzz/FuzzReader (cut from MariaDB 10.11 binlogs written by
// TestWriteFuzzSeeds) and cut from the external corpus's MySQL and
// MariaDB fixtures at start-up. Run it with
// `go test -run '^$' -fuzz '^FuzzReader$' -fuzztime 30s ./binlog`; plain
// `go test` runs the seeds.
func FuzzReader(f *testing.F) {
	corpus := fixtures.Dir(f)
	for _, rel := range fuzzSeedFixtures {
		for _, seed := range cutTransactions(f, filepath.Join(corpus, rel), 4) {
			f.Add(seed)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		data = append([]byte(nil), data...)
		for pos := 4; pos+event.HeaderSize <= len(data); {
			size := int(binary.LittleEndian.Uint32(data[pos+9:]))
			if size < event.HeaderSize+4 || pos+size > len(data) {
				break
			}
			fixChecksum(data[pos : pos+size])
			pos += size
		}
		p := filepath.Join(dir, "mysql-bin.000001")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader([]string{p}, Options{DecodeRows: true})
		if err != nil {
			return
		}
		defer r.Close()
		done := make(chan string, 1)
		go func() {
			for i := 0; i < 100000; i++ {
				if _, err := r.Next(context.Background()); err != nil {
					done <- ""
					return
				}
			}
			done <- "more than 100000 transactions from at most 1 MiB"
		}()
		timer := time.NewTimer(fuzzInputTimeout)
		defer timer.Stop()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatal(msg)
			}
		case <-timer.C:
			t.Fatalf("reading %d bytes took more than %v", len(data), fuzzInputTimeout)
		}
	})
}
