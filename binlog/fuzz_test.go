package binlog

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzInputTimeout is how long one input may take: a reader that takes
// longer on at most 1 MiB hangs, for an operator.
const fuzzInputTimeout = 10 * time.Second

// FuzzReader feeds mutated binlog files to the reader with row decoding on:
// whatever the bytes, it must return transactions or an error, never panic
// or hang. Event checksums are recomputed after mutation so that the
// fuzzer reaches the decoders instead of stopping at the CRC check. Run it
// with `go test -run '^$' -fuzz FuzzReader -fuzztime 30s ./binlog`; plain
// `go test` runs the seed corpus (real fixtures).
func FuzzReader(f *testing.F) {
	for _, rel := range []string{crcFixture,
		"rust_mysql_common/test-data/binlogs/mariadb-bin.000001",
		"mysql-cdc-rs/tests/events/5.7/14_user_var/log.bin",
		"rust_mysql_common/test-data/binlogs/json.binlog.000001",
		"rust_mysql_common/test-data/binlogs/transaction_compression.000001",
		"binlog-parser/data/fixtures/mysql-bin.07",
	} {
		data, err := os.ReadFile(fixture(f, rel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		data = append([]byte(nil), data...)
		for pos := 4; pos+headerSize <= len(data); {
			size := int(binary.LittleEndian.Uint32(data[pos+9:]))
			if size < headerSize+4 || pos+size > len(data) {
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
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatal(msg)
			}
		case <-time.After(fuzzInputTimeout):
			t.Fatalf("reading %d bytes took more than %v", len(data), fuzzInputTimeout)
		}
	})
}
