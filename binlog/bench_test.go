package binlog

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchFiles are the largest fixtures: 3 MB of small MySQL 8.0 row events
// and 1.4 MB of MySQL 5.5 multi-row inserts.
var benchFiles = map[string]string{
	"small-rows": "msmp/test/binlog.000001",
	"bulk-rows":  "mysql-binlog-connector-java/src/test/resources/mysql-bin.sakila",
}

// benchInputs returns the benchmark's inputs by name: the fixtures above and,
// when BINLOG_BENCH_FILES names binlogs (comma-separated paths, read as one
// sequence), those too, e.g. a generated 300 MB OLTP binlog.
func benchInputs(b *testing.B) map[string][]string {
	out := map[string][]string{}
	for name, rel := range benchFiles {
		out[name] = []string{fixture(b, rel)}
	}
	if env := os.Getenv("BINLOG_BENCH_FILES"); env != "" {
		files := strings.Split(env, ",")
		out["env-"+filepath.Base(files[0])] = files
	}
	return out
}

// BenchmarkRead reads whole inputs and reports MB/s: without decoding row
// images, and decoding them with 1 (inline) and 2 decode workers. Run:
//
//	go test -bench Read -run '^$' ./binlog
//	BINLOG_BENCH_FILES=/path/mysql-bin.000002 go test -bench Read -run '^$' ./binlog
func BenchmarkRead(b *testing.B) {
	for name, files := range benchInputs(b) {
		b.Run(name+"/raw", func(b *testing.B) { benchRead(b, files, Options{}) })
		for _, w := range []int{1, 2} {
			opts := Options{DecodeRows: true, DecodeWorkers: w}
			b.Run(name+"/decode-w"+string(rune('0'+w)), func(b *testing.B) { benchRead(b, files, opts) })
		}
	}
}

// benchRead reads files b.N times.
func benchRead(b *testing.B, files []string, opts Options) {
	var size int64
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	for b.Loop() {
		r, err := NewReader(files, opts)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}
