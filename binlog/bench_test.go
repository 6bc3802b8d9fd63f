package binlog

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
)

// benchFiles are the largest fixtures: 3 MB of small MySQL 8.0 row events
// and 1.4 MB of MySQL 5.5 multi-row inserts.
var benchFiles = map[string]string{
	"small-rows": "msmp/test/binlog.000001",
	"bulk-rows":  "mysql-binlog-connector-java/src/test/resources/mysql-bin.sakila",
}

// BenchmarkRead reads whole fixtures and reports MB/s, with and without
// decoding row images. Run: go test -bench Read -run '^$' ./binlog
func BenchmarkRead(b *testing.B) {
	for name, rel := range benchFiles {
		for _, decode := range []bool{false, true} {
			mode := "raw"
			if decode {
				mode = "decode"
			}
			b.Run(name+"/"+mode, func(b *testing.B) { benchRead(b, fixture(b, rel), decode) })
		}
	}
}

// benchRead reads the file at p b.N times.
func benchRead(b *testing.B, p string, decode bool) {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		r, err := NewReader([]string{p}, Options{DecodeRows: decode})
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
