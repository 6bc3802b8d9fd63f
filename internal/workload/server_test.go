package workload_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
)

// small is the scale of the server-backed tests.
func small(p workload.Profile, seed int64, format string) workload.Options {
	return workload.Options{Profile: p, Seed: seed, Scale: 20, Txns: 80, Format: format}
}

func open(t *testing.T, s *sandbox.Server) *sql.DB {
	t.Helper()
	db, err := s.Open(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checksums returns the checksums of schema, failing t if it has no tables.
func checksums(t *testing.T, db *sql.DB, schema string) map[string]uint64 {
	t.Helper()
	sums, err := reference.Checksums(t.Context(), db, schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		t.Fatalf("schema %s has no tables", schema)
	}
	return sums
}

// TestReplayMatchesSource runs every profile on a ROW, a MIXED and a
// STATEMENT source, replays the workload with mariadb-binlog | mariadb into
// a target that ran the same Setup with the binlog off, and compares every
// table.
func TestReplayMatchesSource(t *testing.T) {
	for _, format := range []string{workload.FormatRow, workload.FormatMixed, workload.FormatStatement} {
		t.Run(format, func(t *testing.T) {
			src := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format})
			dst := sandbox.ForTest(t, sandbox.Options{})
			srcDB, dstDB := open(t, src), open(t, dst)
			for _, p := range workload.Profiles() {
				t.Run(string(p), func(t *testing.T) {
					replayAndCompare(t, src, srcDB, dst, dstDB, small(p, 1, format))
				})
			}
		})
	}
}

// TestReplayMatchesSourceThreads is TestReplayMatchesSource with four
// concurrent sessions on a ROW and a STATEMENT source: the binlog then holds
// interleaved, contending transactions, and a sequential replay must still
// match.
func TestReplayMatchesSourceThreads(t *testing.T) {
	for _, format := range []string{workload.FormatRow, workload.FormatStatement} {
		t.Run(format, func(t *testing.T) {
			src := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format})
			dst := sandbox.ForTest(t, sandbox.Options{})
			srcDB, dstDB := open(t, src), open(t, dst)
			for _, p := range workload.Profiles() {
				t.Run(string(p), func(t *testing.T) {
					o := small(p, 3, format)
					o.Threads = 4
					replayAndCompare(t, src, srcDB, dst, dstDB, o)
				})
			}
		})
	}
}

func replayAndCompare(t *testing.T, src *sandbox.Server, srcDB *sql.DB, dst *sandbox.Server, dstDB *sql.DB, o workload.Options) {
	t.Helper()
	ctx := t.Context()
	start := time.Now()
	if err := workload.Setup(ctx, srcDB, o); err != nil {
		t.Fatal(err)
	}
	if err := workload.Setup(ctx, dstDB, o); err != nil {
		t.Fatal(err)
	}
	file, pos, err := reference.BinlogPosition(ctx, srcDB)
	if err != nil {
		t.Fatal(err)
	}
	schema := "wl_" + string(o.Profile)
	base := checksums(t, srcDB, schema)
	setupDone := time.Now()
	if err := workload.Run(ctx, srcDB, o); err != nil {
		t.Fatal(err)
	}
	runDone := time.Now()
	files, err := src.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	if err := reference.ReplayWithMariaDBBinlog(ctx, files, file, pos, dst.Socket); err != nil {
		t.Fatal(err)
	}
	replayDone := time.Now()
	want, got := checksums(t, srcDB, schema), checksums(t, dstDB, schema)
	if len(reference.DiffChecksums(base, want)) == 0 {
		t.Errorf("Run changed no table of %s", schema)
	}
	for _, d := range reference.DiffChecksums(want, got) {
		t.Errorf("target differs from source after replay: %s", d)
	}
	t.Logf("%d tables; setup %v, run %v, replay %v", len(want), setupDone.Sub(start).Round(time.Millisecond),
		runDone.Sub(setupDone).Round(time.Millisecond), replayDone.Sub(runDone).Round(time.Millisecond))
}

// TestSameSeedSameTables runs every profile with one seed on two fresh
// servers and expects identical tables, and with another seed expects some
// table to differ.
func TestSameSeedSameTables(t *testing.T) {
	a := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW"})
	b := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "ROW"})
	aDB, bDB := open(t, a), open(t, b)
	for _, p := range workload.Profiles() {
		t.Run(string(p), func(t *testing.T) {
			o := small(p, 7, "")
			other := small(p, 8, "")
			other.Schema = fmt.Sprintf("wl_%s_other", p)
			for _, run := range []struct {
				db *sql.DB
				o  workload.Options
			}{{aDB, o}, {bDB, o}, {bDB, other}} {
				if err := setupAndRun(t.Context(), run.db, run.o); err != nil {
					t.Fatal(err)
				}
			}
			sumA, sumB := checksums(t, aDB, "wl_"+string(p)), checksums(t, bDB, "wl_"+string(p))
			for _, d := range reference.DiffChecksums(sumA, sumB) {
				t.Errorf("same seed, different tables: %s", d)
			}
			if len(reference.DiffChecksums(sumB, checksums(t, bDB, other.Schema))) == 0 {
				t.Errorf("seeds 7 and 8 gave identical tables")
			}
		})
	}
}

func setupAndRun(ctx context.Context, db *sql.DB, o workload.Options) error {
	if err := workload.Setup(ctx, db, o); err != nil {
		return err
	}
	return workload.Run(ctx, db, o)
}

// TestRunStopsOnError checks that a failing statement stops Run with an
// error naming it: Run without Setup finds no tables.
func TestRunStopsOnError(t *testing.T) {
	s := sandbox.ForTest(t, sandbox.Options{})
	db := open(t, s)
	o := small(workload.OLTP, 1, workload.FormatRow)
	o.Schema = "wl_missing"
	if _, err := db.ExecContext(t.Context(), "CREATE DATABASE wl_missing"); err != nil {
		t.Fatal(err)
	}
	err := workload.Run(t.Context(), db, o)
	if err == nil {
		t.Fatal("Run on an empty schema succeeded")
	}
	if !strings.Contains(err.Error(), "sbtest") || !strings.Contains(err.Error(), "doesn't exist") {
		t.Errorf("error does not name the statement and cause: %v", err)
	}
}

// TestReplayRealClock replays the Types profile run with the server's clock,
// unseeded RAND() and (ROW, MIXED) UUID().
func TestReplayRealClock(t *testing.T) {
	for _, format := range []string{workload.FormatRow, workload.FormatMixed, workload.FormatStatement} {
		t.Run(format, func(t *testing.T) {
			src := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format})
			dst := sandbox.ForTest(t, sandbox.Options{})
			o := small(workload.Types, 11, format)
			o.RealClock = true
			replayAndCompare(t, src, open(t, src), dst, open(t, dst), o)
		})
	}
}

// TestChecksumsVirtualColumns checks that Checksums is stable for a table
// with a VIRTUAL column (CHECKSUM TABLE is not) and sees a changed value.
func TestChecksumsVirtualColumns(t *testing.T) {
	s := sandbox.ForTest(t, sandbox.Options{})
	db := open(t, s)
	ctx := t.Context()
	for _, q := range []string{
		"CREATE DATABASE wl_sum",
		"CREATE TABLE wl_sum.v (id INT PRIMARY KEY, a INT, b VARCHAR(10), g INT AS (a * 2) VIRTUAL, KEY (g))",
		"INSERT INTO wl_sum.v (id, a, b) VALUES (1, 1, 'x'), (2, NULL, 'y'), (3, 3, NULL)",
		"CREATE TABLE wl_sum.plain (id INT PRIMARY KEY, f FLOAT)",
		"INSERT INTO wl_sum.plain VALUES (1, 1.5)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	first := checksums(t, db, "wl_sum")
	for range 3 {
		if _, err := db.ExecContext(ctx, "SELECT id FROM wl_sum.v WHERE g > 0"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "FLUSH TABLES"); err != nil {
			t.Fatal(err)
		}
		if d := reference.DiffChecksums(first, checksums(t, db, "wl_sum")); len(d) > 0 {
			t.Fatalf("checksums changed without writes: %v", d)
		}
	}
	for _, q := range []string{"UPDATE wl_sum.v SET b='z' WHERE id=3", "UPDATE wl_sum.plain SET f=1.25"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if d := reference.DiffChecksums(first, checksums(t, db, "wl_sum")); len(d) != 2 {
		t.Fatalf("after changing both tables, differences = %v, want 2", d)
	}
}
