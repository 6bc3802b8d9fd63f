package binlog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
)

// writeCompressed writes data to dir/name compressed by its suffix.
func writeCompressed(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	switch filepath.Ext(name) {
	case ".gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ".zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		b.Write(data)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompressedFiles reads a sequence of three files, plain, .gz and .zst,
// found by logfile.Resolve in a directory: the transactions, names and
// positions must be those of the plain files. The three files are copies of
// one file, not a real sequence: the continuity check is off.
func TestCompressedFiles(t *testing.T) {
	data, err := os.ReadFile(fixture(t, crcFixture))
	if err != nil {
		t.Fatal(err)
	}
	plainDir, dir := t.TempDir(), t.TempDir()
	var plain []string
	for i, name := range []string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"} {
		plain = append(plain, writeCompressed(t, plainDir, name, data))
		writeCompressed(t, dir, name+[]string{"", ".gz", ".zst"}[i], data)
	}
	files, err := logfile.Resolve([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || filepath.Base(files[1]) != "mysql-bin.000002.gz" || logfile.Name(files[2]) != "mysql-bin.000003" {
		t.Fatalf("logfile.Resolve: %v", files)
	}
	for _, workers := range []int{1, 4} {
		want := mustReadAll(t, plain, Options{DecodeRows: true, DecodeWorkers: workers, NoContinuityCheck: true})
		got := mustReadAll(t, files, Options{DecodeRows: true, DecodeWorkers: workers, NoContinuityCheck: true})
		if len(got) != len(want) || len(got) != 180 {
			t.Fatalf("%d transactions from the compressed files, %d from the plain ones", len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("transaction %d (%s) differs from the plain file's", i+1, want[i].Start)
			}
		}
	}
	// Starting inside the compressed file, named without its suffix.
	start := mustReadAll(t, plain, Options{NoContinuityCheck: true})[100].Start
	if start.File != "mysql-bin.000002" {
		t.Fatalf("start %s", start)
	}
	if got := mustReadAll(t, files, Options{Start: start, NoContinuityCheck: true}); len(got) != 80 {
		t.Errorf("%d transactions from %s, want 80", len(got), start)
	}
}

// TestCompressedFileTruncated cuts a .gz binlog inside its last
// transaction: the reader returns the complete transactions, then a
// truncation, as for a plain file.
func TestCompressedFileTruncated(t *testing.T) {
	data, err := os.ReadFile(fixture(t, crcFixture))
	if err != nil {
		t.Fatal(err)
	}
	all := mustReadAll(t, []string{fixture(t, crcFixture)}, Options{})
	last := all[len(all)-1]
	cut := data[:last.Start.Offset+30]
	p := writeCompressed(t, t.TempDir(), "mysql-bin.000001.gz", cut)
	got, err := readAll(t, []string{p}, Options{})
	var te *TruncatedError
	if len(got) != len(all)-1 || !errors.As(err, &te) || te.LastEnd.Offset != all[len(all)-2].End.Offset ||
		te.Size != uint64(len(cut)) {
		t.Fatalf("got %d transactions and %v; want %d and a truncation", len(got), err, len(all)-1)
	}
	// Cut at a transaction's end inside the last one's events: the size
	// is where the data ends.
	mid := last.Events[len(last.Events)-1].Pos.Offset
	p2 := writeCompressed(t, t.TempDir(), "mysql-bin.000001.zst", data[:mid])
	if _, err := readAll(t, []string{p2}, Options{}); !errors.As(err, &te) || te.InEvent || te.Size != mid {
		t.Fatalf("cut at an event boundary inside a transaction: %v; want a truncation at %d", err, mid)
	}
	// Corrupt compressed data is an error naming the file, not a truncation.
	gz, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	gz[len(gz)/2] ^= 0xff
	if err := os.WriteFile(p, gz, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, []string{p}, Options{}); err == nil || errors.As(err, &te) && te.File == "" {
		t.Fatalf("corrupt gzip data: %v", err)
	} else {
		t.Logf("corrupt gzip data: %v", err)
	}
}
