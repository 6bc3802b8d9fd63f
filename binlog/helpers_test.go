package binlog

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// fixture returns the path of a file of the external corpus, failing the
// test if it is absent.
func fixture(t testing.TB, rel string) string {
	t.Helper()
	return fixtures.External(t, rel)
}

// readAll reads every transaction of files; it returns them with the error
// that ended reading (nil for a clean io.EOF).
func readAll(t testing.TB, files []string, opts Options) ([]*txn.Txn, error) {
	t.Helper()
	r, err := NewReader(files, opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return drain(r)
}

// drain reads every transaction of r and closes it; it returns them with
// the error that ended reading (nil for a clean io.EOF).
func drain(r *Reader) ([]*txn.Txn, error) {
	defer r.Close()
	var out []*txn.Txn
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tx)
	}
}

// mustReadAll is readAll failing the test on any error.
func mustReadAll(t testing.TB, files []string, opts Options) []*txn.Txn {
	t.Helper()
	txns, err := readAll(t, files, opts)
	if err != nil {
		t.Fatalf("read %v: %v", files, err)
	}
	return txns
}

// copyFile copies src to a new file in dir named name, truncated to n bytes
// (n < 0: whole file), and returns its path.
func copyFile(t testing.TB, src, dir, name string, n int) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if n >= 0 {
		b = b[:n]
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventSpans returns the [start, end) offsets of the events of the binlog
// file b after its format description that have a body beyond a checksum.
func eventSpans(b []byte) [][2]int {
	var spans [][2]int
	for pos := 4; pos+event.HeaderSize <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[pos+9:]))
		if pos > 4 && size > event.HeaderSize+4 {
			spans = append(spans, [2]int{pos, pos + size})
		}
		pos += size
	}
	return spans
}
