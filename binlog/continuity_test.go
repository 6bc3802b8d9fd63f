package binlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestContinuityFixtures reads every run of consecutively numbered fixture
// files (real MySQL and MariaDB sequences) with and without the
// continuity check: the check must not refuse any of them.
func TestContinuityFixtures(t *testing.T) {
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) {
		// The external corpus has 5 or more runs, the repository's 2.
		minRuns := 2
		if c.External {
			minRuns = 5
		}
		continuityFixtures(t, c.Dir, minRuns)
	})
}

// continuityFixtures checks the multi-file runs of the corpus in dir:
// there must be minRuns of them at least.
func continuityFixtures(t *testing.T, dir string, minRuns int) {
	type numbered struct {
		path string
		num  uint64
	}
	byBase := map[string][]numbered{}
	for _, e := range fixtures.Manifest(t, dir) {
		p := filepath.Join(dir, e.File)
		base, n, ok := logfile.SplitName(logfile.Name(p))
		if !ok {
			continue
		}
		key := filepath.Join(filepath.Dir(p), base)
		byBase[key] = append(byBase[key], numbered{p, n})
	}
	runs := 0
	for _, files := range byBase {
		sort.Slice(files, func(i, j int) bool { return files[i].num < files[j].num })
		for i := 0; i < len(files); {
			j := i + 1
			for j < len(files) && files[j].num == files[j-1].num+1 {
				j++
			}
			if j-i >= 2 {
				var paths []string
				for _, f := range files[i:j] {
					paths = append(paths, f.path)
				}
				runs++
				t.Run(strings.TrimPrefix(paths[0], dir+"/"), func(t *testing.T) {
					checked, errChecked := readAll(t, paths, Options{})
					free, errFree := readAll(t, paths, Options{NoContinuityCheck: true})
					if fmt.Sprint(errChecked) != fmt.Sprint(errFree) || len(checked) != len(free) {
						t.Fatalf("%d files: with the continuity check %d transactions, %v; without %d, %v",
							len(paths), len(checked), errChecked, len(free), errFree)
					}
					t.Logf("%d files, %d transactions, %v", len(paths), len(checked), errChecked)
				})
			}
			i = j
		}
	}
	if runs < minRuns {
		t.Fatalf("only %d multi-file sequences among the fixtures", runs)
	}
}

// flushBetween runs each batch of statements on s, with FLUSH BINARY LOGS
// after each batch.
func flushBetween(t *testing.T, s *sandbox.Server, batches ...[]string) []string {
	t.Helper()
	ctx := context.Background()
	db, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // session settings (gtid_domain_id) carry over
	for _, batch := range batches {
		for _, q := range append(batch, "FLUSH BINARY LOGS") {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	files, err := s.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestContinuityLegitimateChanges reads a MariaDB binlog sequence whose
// files follow gtid_domain_id and server_id changes, and a server restart:
// every boundary carries on, so nothing is refused.
func TestContinuityLegitimateChanges(t *testing.T) {
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	files := flushBetween(t, s,
		[]string{"CREATE DATABASE c", "CREATE TABLE c.t (id INT PRIMARY KEY)", "INSERT INTO c.t VALUES (1)"},
		[]string{"SET SESSION gtid_domain_id = 7", "INSERT INTO c.t VALUES (2)", "INSERT INTO c.t VALUES (3)"},
		[]string{"SET SESSION server_id = 99", "INSERT INTO c.t VALUES (4)", "SET SESSION gtid_domain_id = 0",
			"INSERT INTO c.t VALUES (5)"},
		[]string{"SET SESSION server_id = DEFAULT", "INSERT INTO c.t VALUES (6)"},
		nil, // an empty file
		[]string{"SET SESSION gtid_domain_id = 7", "INSERT INTO c.t VALUES (7)"},
	)
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	files = flushBetween(t, s, []string{"INSERT INTO c.t VALUES (8)"})
	if len(files) < 8 {
		t.Fatalf("%d binlog files, want 8 or more", len(files))
	}
	txns := mustReadAll(t, files, Options{})
	_, read, known := historyOf(t, files)
	if !known || len(txns) < 10 || !strings.Contains(read.String(), "7-") {
		t.Fatalf("%d transactions, history %q (known %v)", len(txns), read.String(), known)
	}
}

// historyOf reads files to the end and returns the reader's GTID history.
func historyOf(t *testing.T, files []string) (atStart, read fmt.Stringer, known bool) {
	t.Helper()
	r, err := NewReader(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		if _, err := r.Next(context.Background()); err != nil {
			break
		}
	}
	a, b, k := r.GTIDHistory()
	return a, b, k
}

// TestContinuityMixedServers writes binlogs with the same names on two
// servers and mixes them: the reader must refuse the foreign file, naming
// both files and what differs, before returning any of its transactions.
func TestContinuityMixedServers(t *testing.T) {
	batches := [][]string{
		{"CREATE DATABASE c", "CREATE TABLE c.t (id INT PRIMARY KEY)", "INSERT INTO c.t VALUES (1)"},
		{"INSERT INTO c.t VALUES (2)", "INSERT INTO c.t VALUES (3)"},
		{"INSERT INTO c.t VALUES (4)"},
	}
	a := flushBetween(t, sandbox.ForTest(t, sandbox.Options{Binlog: true, ServerID: 1}), batches...)
	b := flushBetween(t, sandbox.ForTest(t, sandbox.Options{Binlog: true, ServerID: 2}),
		append([][]string{{"CREATE DATABASE other", "CREATE DATABASE other2"}}, batches...)...)
	if logfile.Name(a[1]) != logfile.Name(b[1]) {
		t.Fatalf("file names differ: %s and %s", a[1], b[1])
	}
	mixed := []string{a[0], a[1], b[2], a[3]}
	txns, err := readAll(t, mixed, Options{})
	var e *event.Error
	if !errors.As(err, &e) || e.File != logfile.Name(b[2]) ||
		!strings.Contains(err.Error(), logfile.Name(a[1])) || !strings.Contains(err.Error(), "different servers") {
		t.Fatalf("mixed files: %v; want an *event.Error on %s naming %s", err, logfile.Name(b[2]), logfile.Name(a[1]))
	}
	t.Logf("error: %v", err)
	for _, tx := range txns {
		if tx.Start.File == logfile.Name(b[2]) || tx.ServerID == 2 {
			t.Fatalf("transaction %d at %s from the foreign file was returned", tx.Seq, tx.Start)
		}
	}
	if want := len(mustReadAll(t, a[:2], Options{})); len(txns) != want {
		t.Fatalf("%d transactions returned before the error, want the %d of the first two files", len(txns), want)
	}
	// Read on when told to.
	if _, err := readAll(t, mixed, Options{NoContinuityCheck: true}); err != nil {
		t.Fatalf("with NoContinuityCheck: %v", err)
	}
}

// TestContinuityRotate renames a file so that the ROTATE ending the one
// before names another number: refused, naming the ROTATE.
func TestContinuityRotate(t *testing.T) {
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	files := flushBetween(t, s, []string{"CREATE DATABASE c"}, []string{"CREATE DATABASE d"})
	dir := t.TempDir()
	renamed := []string{
		copyFile(t, files[0], dir, "mysql-bin.000007", -1),
		copyFile(t, files[1], dir, "mysql-bin.000008", -1),
	}
	// A file renamed with its number kept is fine.
	if _, err := readAll(t, []string{copyFile(t, files[0], dir, "other.000001", -1),
		copyFile(t, files[1], dir, "other.000002", -1)}, Options{}); err != nil {
		t.Fatalf("renamed base: %v", err)
	}
	_, err := readAll(t, renamed, Options{})
	var e *event.Error
	if !errors.As(err, &e) || e.EventType != "ROTATE_EVENT" || e.File != "mysql-bin.000007" ||
		!strings.Contains(err.Error(), logfile.Name(files[1])) {
		t.Fatalf("renumbered files: %v; want an *event.Error on the ROTATE of mysql-bin.000007", err)
	}
	t.Logf("error: %v", err)
}

// mariaList returns the body of a GTID_LIST event holding gtids
// (domain, server, sequence number).
func mariaList(gtids ...[3]uint64) []byte {
	body := binary.LittleEndian.AppendUint32(nil, uint32(len(gtids)))
	for _, g := range gtids {
		body = binary.LittleEndian.AppendUint32(body, uint32(g[0]))
		body = binary.LittleEndian.AppendUint32(body, uint32(g[1]))
		body = binary.LittleEndian.AppendUint64(body, g[2])
	}
	return body
}

// TestContinuityAfterCrash: where a file the server did not close is
// followed by the first file of a server start, the restarted server's
// GTID list may be behind the history (seen on 10.11), not ahead of it;
// anywhere else it must equal it.
func TestContinuityAfterCrash(t *testing.T) {
	started := &event.Format{Created: 1796648158}
	rotated := &event.Format{}
	for _, tc := range []struct {
		name      string
		notClosed bool
		next      *event.Format
		list      [][3]uint64
		ok        bool
	}{
		{"restart, equal", true, started, [][3]uint64{{0, 1, 5}}, true},
		{"restart, behind", true, started, [][3]uint64{{0, 1, 4}}, true},
		{"restart, ahead", true, started, [][3]uint64{{0, 1, 6}}, false},
		{"restart, another domain", true, started, [][3]uint64{{0, 1, 5}, {1, 1, 1}}, false},
		{"closed, behind", false, started, [][3]uint64{{0, 1, 4}}, false},
		{"rotated, behind", true, rotated, [][3]uint64{{0, 1, 4}}, false},
	} {
		var c continuity
		if err := c.beginFile("mysql-bin.000001", &event.Format{}, tc.notClosed); err != nil {
			t.Fatal(err)
		}
		if err := c.list(event.TypeMariaGTIDList, mariaList()); err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= 5; seq++ {
			c.txnStart(txn.GTID{Flavor: txn.FlavorMariaDB, Domain: 0, Server: 1, Seq: seq}, false)
		}
		if err := c.beginFile("mysql-bin.000002", tc.next, false); err != nil {
			t.Fatal(err)
		}
		err := c.list(event.TypeMariaGTIDList, mariaList(tc.list...))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v; want ok %v", tc.name, err, tc.ok)
		}
	}
}
