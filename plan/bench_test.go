package plan

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
)

// benchFiles are the largest ROW fixtures, and any binlogs named in
// PLAN_BENCH_FILES (comma-separated paths), e.g. a generated 300 MB one.
func benchFiles(b *testing.B) map[string][]string {
	out := map[string][]string{}
	for _, rel := range []string{"msmp/test/binlog.000001", "mysql-binlog-connector-java/src/test/resources/mysql-bin.sakila"} {
		out[filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel)] = []string{fixtures.External(b, rel)}
	}
	if env := os.Getenv("PLAN_BENCH_FILES"); env != "" {
		files := strings.Split(env, ",")
		out["env/"+filepath.Base(files[0])] = files
	}
	return out
}

func totalSize(b *testing.B, files []string) int64 {
	var n int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// BenchmarkPlan measures Run end to end, in MB/s of binlog.
func BenchmarkPlan(b *testing.B) {
	for name, files := range benchFiles(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(totalSize(b, files))
			for b.Loop() {
				rep, err := Run(context.Background(), Options{Files: files})
				if err != nil || rep.Problems.ReadError != nil {
					b.Fatal(err, rep.Problems.ReadError)
				}
			}
		})
	}
}

// BenchmarkReadOnly measures the binlog reader alone, decoding rows as
// plan asks it to, and without decoding: the floor under BenchmarkPlan.
func BenchmarkReadOnly(b *testing.B) {
	for name, files := range benchFiles(b) {
		for _, decode := range []bool{true, false} {
			sub := name + "/decode"
			if !decode {
				sub = name + "/raw"
			}
			b.Run(sub, func(b *testing.B) {
				b.SetBytes(totalSize(b, files))
				for b.Loop() {
					r, err := binlog.NewReader(files, binlog.Options{DecodeRows: decode})
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
			})
		}
	}
}
