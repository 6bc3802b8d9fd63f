package partition

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/schema"
)

// TestDependenciesFromRealBinlog writes a workload on MariaDB, reads its
// binlog back, keys every transaction against the server's schema and checks
// the dependencies the Tracker derives, for FULL and MINIMAL row images.
func TestDependenciesFromRealBinlog(t *testing.T) {
	workload := []string{
		"INSERT INTO d.users VALUES (1, 'Alice@x', 0)", // 1
		"INSERT INTO d.users VALUES (2, 'bob@x', 0)",   // 2: other row
		"UPDATE d.users SET n = 1 WHERE id = 1",        // 3: row of 1
		"DELETE FROM d.users WHERE id = 2",             // 4: row of 2
		"INSERT INTO d.users VALUES (3, 'BOB@X', 0)",   // 5: e-mail freed by 4 (_ci)
		"INSERT INTO d.parent VALUES (7)",              // 6
		"INSERT INTO d.child VALUES (1, 7)",            // 7: parent row of 6
		"INSERT INTO d.nopk VALUES (1)",                // 8: no key: barrier
		"INSERT INTO d.users VALUES (4, 'zed', 0)",     // 9: after the barrier
	}
	tests := []struct {
		image    string
		deps     []uint64
		barriers []int // 1-based positions in workload
	}{
		{"FULL", []uint64{0, 0, 1, 2, 4, 0, 6, 7, 8}, []int{8}},
		// MINIMAL: the delete's image lacks the e-mail: a barrier.
		{"MINIMAL", []uint64{0, 0, 1, 3, 4, 4, 6, 7, 8}, []int{4, 8}},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			ctx := context.Background()
			s := sandbox.ForTest(t, sandbox.Options{Binlog: true, Args: []string{"--binlog-row-image=" + tc.image}})
			db, err := s.Open(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{
				"CREATE DATABASE d",
				"CREATE TABLE d.users (id INT PRIMARY KEY, email VARCHAR(64) COLLATE utf8mb4_general_ci UNIQUE, n INT)",
				"CREATE TABLE d.parent (id INT PRIMARY KEY)",
				"CREATE TABLE d.child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES d.parent (id))",
				"CREATE TABLE d.nopk (a INT)",
				"FLUSH BINARY LOGS",
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			before, err := s.BinlogFiles()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range workload {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			files, err := s.BinlogFiles()
			if err != nil {
				t.Fatal(err)
			}
			deps, barriers := dependencies(t, files[len(before)-1:], schema.NewCache(db))
			if !slices.Equal(deps, tc.deps) || !slices.Equal(barriers, tc.barriers) {
				t.Errorf("dependsOn %v barriers %v, want %v %v", deps, barriers, tc.deps, tc.barriers)
			}
		})
	}
}

// dependencies keys every transaction of files and returns the Tracker's
// answers and the positions of barriers.
func dependencies(t *testing.T, files []string, tables TableSource) (deps []uint64, barriers []int) {
	t.Helper()
	ctx := context.Background()
	r, err := binlog.NewReader(files, binlog.Options{DecodeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keyer, tracker := NewKeyer(tables), NewTracker(0)
	for {
		tx, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return deps, barriers
		}
		if err != nil {
			t.Fatalf("read binlog: %v", err)
		}
		keys, barrier, reason, err := keyer.KeysOf(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		if barrier {
			barriers = append(barriers, int(tx.Seq))
			t.Logf("txn %d: barrier: %s", tx.Seq, reason)
		}
		deps = append(deps, tracker.Add(tx.Seq, keys, barrier))
	}
}
