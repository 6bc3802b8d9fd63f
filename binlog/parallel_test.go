package binlog

import (
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// parallelWorkers is the worker count the tests compare with inline
// decoding: more than the cores of a small machine, to mix up the order in
// which transactions finish decoding.
const parallelWorkers = 4

// sameRead reads files inline and with parallelWorkers decode workers and
// fails the test unless both give deep-equal transactions and the same
// final error. It returns what the inline read gave.
func sameRead(t *testing.T, files []string, opts Options) ([]*txn.Txn, error) {
	t.Helper()
	opts.DecodeWorkers = 1
	want, wantErr := readAll(t, files, opts)
	opts.DecodeWorkers = parallelWorkers
	got, gotErr := readChecked(t, files, opts)
	if len(got) != len(want) {
		t.Fatalf("%d workers: %d transactions, inline: %d", parallelWorkers, len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%d workers: transaction %d (%s) differs from the inline one", parallelWorkers, i+1, want[i].Start)
		}
	}
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("%d workers: error %v, inline: %v", parallelWorkers, gotErr, wantErr)
	}
	return want, wantErr
}

// readChecked is readAll checking, after every Next, that the read-ahead
// queue stays within its bounds.
func readChecked(t *testing.T, files []string, opts Options) ([]*txn.Txn, error) {
	t.Helper()
	r, err := NewReader(files, opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	var out []*txn.Txn
	for {
		tx, err := r.Next(context.Background())
		if len(r.ahead.queue) > r.maxQueued() || r.ahead.queuedBytes < 0 {
			t.Fatalf("queue holds %d transactions (limit %d), %d bytes", len(r.ahead.queue), r.maxQueued(), r.ahead.queuedBytes)
		}
		// The last transaction queued may cross the byte limit, not the
		// ones before it.
		if n := len(r.ahead.queue); n > 1 && r.ahead.queuedBytes-r.ahead.queue[n-1].t.Bytes >= r.ahead.limit {
			t.Fatalf("queue holds %d bytes before its last transaction, read-ahead limit %d", r.ahead.queuedBytes-r.ahead.queue[n-1].t.Bytes, r.ahead.limit)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tx)
	}
}

// TestParallelMatchesInline reads every fixture with row decoding inline and
// with decode workers: transactions and errors must be the same.
func TestParallelMatchesInline(t *testing.T) {
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) { parallelMatchesInline(t, c.Dir) })
}

// parallelMatchesInline checks every fixture of the corpus in dir.
func parallelMatchesInline(t *testing.T, dir string) {
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || fixtures.Meta(d.Name()) {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen++
		t.Run(rel, func(t *testing.T) {
			sameRead(t, []string{p}, Options{DecodeRows: true})
			// A small read-ahead: the queue is often full.
			sameRead(t, []string{p}, Options{DecodeRows: true, ReadAheadBytes: 4 << 10})
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no fixtures")
	}
}

// tableMapAt returns the offset in raw of the column types of the TABLE_MAP
// event raw (a MySQL 5.6+ event: 6-byte table id), and the column count.
func tableMapColumns(t *testing.T, raw []byte) (int, int) {
	t.Helper()
	pos := event.HeaderSize + 6 + 2 // table id, flags
	pos += 1 + int(raw[pos]) + 1
	pos += 1 + int(raw[pos]) + 1
	n, pos, err := event.LengthEncodedInt(raw, pos)
	if err != nil {
		t.Fatal(err)
	}
	return pos, int(n)
}

// breakTableMap makes the table map of tx undecodable for the rows after it
// (a column type go-mysql cannot decode, with no metadata, so the table map
// itself still parses) in b, the file's bytes, and returns the offset of
// the first rows event of tx.
func breakTableMap(t *testing.T, b []byte, tx *txn.Txn) uint64 {
	t.Helper()
	tm := tx.Events[0]
	if tm.Kind != txn.EventTableMap || tx.Events[1].Kind != txn.EventRows {
		t.Fatalf("transaction %s does not start with a table map and rows", tx.Start)
	}
	at, n := tableMapColumns(t, tm.Raw)
	raw := b[tm.Pos.Offset : tm.Pos.Offset+uint64(len(tm.Raw))]
	for i := 0; i < n; i++ {
		switch raw[at+i] {
		case 1, 2, 3, 8, 9: // integer types: no metadata
			raw[at+i] = 0 // MYSQL_TYPE_DECIMAL, which go-mysql does not decode
			fixChecksum(raw)
			return tx.Events[1].Pos.Offset
		}
	}
	t.Fatalf("table map at %s has no integer column", tm.Pos)
	return 0
}

// TestParallelErrorInTheMiddle breaks the row images of a transaction in the
// middle of a file: with decode workers as inline, every transaction before
// it is returned, then the error naming its rows event. When the same
// transaction also holds a later event that fails grouping (a bad
// checksum), the decoding error, which comes first, wins; a grouping error
// in a later transaction comes after it too.
func TestParallelErrorInTheMiddle(t *testing.T) {
	src := fixture(t, crcFixture)
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	all := mustReadAll(t, []string{src}, Options{})
	const k = 30
	cases := []struct {
		name  string
		later func(b []byte) // another corruption after the bad rows
	}{
		{"decoding error", func([]byte) {}},
		{"then a bad checksum in the same transaction", func(b []byte) {
			b[all[k].End.Offset-1] ^= 0xff // the XID event's checksum
		}},
		{"then a bad checksum in a later transaction", func(b []byte) {
			b[all[k+2].Start.Offset+event.HeaderSize] ^= 0xff
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), orig...)
			rowsAt := breakTableMap(t, b, all[k])
			c.later(b)
			p := filepath.Join(t.TempDir(), "mysql-bin.000001")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := sameRead(t, []string{p}, Options{DecodeRows: true})
			if len(got) != k || !reflect.DeepEqual(ends(got), ends(all[:k])) {
				t.Errorf("got %d transactions ending at %v, want the first %d", len(got), ends(got), k)
			}
			var e *event.Error
			if !errors.As(err, &e) || e.File != "mysql-bin.000001" || e.Offset != rowsAt ||
				!strings.Contains(e.EventType, "ROWS") || !strings.Contains(err.Error(), "unsupport") {
				t.Errorf("got %v, want the decoding error of the rows event at %d", err, rowsAt)
			}
		})
	}
}

// TestParallelCorruptBodies flips bytes inside event bodies, keeping the
// checksums right, and reads each result inline and with decode workers:
// both must return the same transactions and the same error.
func TestParallelCorruptBodies(t *testing.T) {
	rng := rand.New(rand.NewSource(seedForTest()))
	for _, rel := range []string{crcFixture,
		"mysql-binlog-connector-java/src/test/resources/mysql-bin.compressed",
		"rust_mysql_common/test-data/binlogs/mariadb-bin.000001",
		"rust_mysql_common/test-data/binlogs/transaction_compression.000001",
	} {
		orig, err := os.ReadFile(fixture(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		events := eventSpans(orig)
		dir := t.TempDir()
		for i := 0; i < itersForTest()/2; i++ {
			b := append([]byte(nil), orig...)
			ev := events[rng.Intn(len(events))]
			for k := 0; k < 1+rng.Intn(3); k++ {
				b[ev[0]+event.HeaderSize+rng.Intn(ev[1]-ev[0]-event.HeaderSize-4)] = byte(rng.Intn(256))
			}
			fixChecksum(b[ev[0]:ev[1]])
			p := filepath.Join(dir, "mysql-bin.000001")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			sameRead(t, []string{p}, Options{DecodeRows: true})
		}
	}
}

// decodeWorkersRunning counts the goroutines running decode workers.
func decodeWorkersRunning() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "binlog.(*decoders).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitNoWorkers fails the test unless no decode worker runs within a second
// (a worker may still be returning after it said it was done).
func waitNoWorkers(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for decodeWorkersRunning() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d decode workers still running", decodeWorkersRunning())
		}
		time.Sleep(time.Millisecond)
	}
}

// manyTxns is a MySQL 8.0 binlog of 3 MB: 12 transactions, 7056 row
// events.
const manyTxns = "msmp/test/binlog.000001"

// TestParallelCancelAndClose cancels Next while workers decode, resumes,
// and closes the reader in the middle: transactions stay in order, and no
// worker outlives Close or the end of the input.
func TestParallelCancelAndClose(t *testing.T) {
	src := fixture(t, manyTxns)
	waitNoWorkers(t)
	all := mustReadAll(t, []string{src}, Options{DecodeRows: true, DecodeWorkers: 1})
	if len(all) < 8 {
		t.Fatalf("%d transactions, want a larger fixture", len(all))
	}
	if n := decodeWorkersRunning(); n != 0 {
		t.Fatalf("inline decoding started %d workers", n)
	}

	r, err := NewReader([]string{src}, Options{DecodeRows: true, DecodeWorkers: parallelWorkers})
	if err != nil {
		t.Fatal(err)
	}
	var got []*txn.Txn
	for len(got) < len(all)/4 {
		tx, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tx)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a canceled context: %v", err)
	}
	for len(got) < len(all)/2 { // the reader can be used again
		tx, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tx)
	}
	if !reflect.DeepEqual(got, all[:len(got)]) {
		t.Error("transactions read around a cancellation differ from an inline read")
	}
	if n := decodeWorkersRunning(); n != parallelWorkers {
		t.Errorf("%d decode workers running, want %d", n, parallelWorkers)
	}
	for i := 0; i < 20 && r.hasRoom(); i++ { // more in flight
		if p := r.read(); p != nil {
			r.enqueue(p)
		}
	}
	if len(r.ahead.queue) == 0 {
		t.Fatal("nothing in flight when closing")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waits for the workers' WaitGroup; a worker's goroutine may
	// still be returning from run after its deferred Done.
	waitNoWorkers(t)
	if _, err := r.Next(context.Background()); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("Next after Close: %v, want an error", err)
	}

	// Read to the end without Close: the workers stop by themselves.
	if _, err := readAll(t, []string{src}, Options{DecodeRows: true, DecodeWorkers: parallelWorkers}); err != nil {
		t.Fatal(err)
	}
	waitNoWorkers(t)
}

// TestParallelWorkersStopAtEnd checks that reaching io.EOF or an error stops
// the workers even if the caller never calls Close.
func TestParallelWorkersStopAtEnd(t *testing.T) {
	src := fixture(t, crcFixture)
	for _, files := range [][]string{
		{src},
		{copyFile(t, src, t.TempDir(), "mysql-bin.000001", 3000)}, // truncated
	} {
		r, err := NewReader(files, Options{DecodeRows: true, DecodeWorkers: parallelWorkers})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := r.Next(context.Background()); err != nil {
				break
			}
		}
		waitNoWorkers(t)
		r.Close()
	}
}

func TestNegativeDecodeWorkers(t *testing.T) {
	if _, err := NewReader([]string{"x"}, Options{DecodeWorkers: -1}); err == nil {
		t.Error("NewReader accepted -1 decode workers")
	}
}

// TestDecodeMaxBytes leaves undecoded exactly the transactions whose row
// events hold more bytes than the limit, and decodes the others as without
// a limit, inline and with decode workers.
func TestDecodeMaxBytes(t *testing.T) {
	files := []string{fixture(t, "mysql-binlog-connector-java/src/test/resources/mysql-bin.sakila")}
	full := mustReadAll(t, files, Options{DecodeRows: true})
	const limit = 16 << 10
	var big, small int
	for _, workers := range []int{1, parallelWorkers} {
		got := mustReadAll(t, files, Options{DecodeRows: true, DecodeMaxBytes: limit, DecodeWorkers: workers})
		if len(got) != len(full) {
			t.Fatalf("%d transactions, want %d", len(got), len(full))
		}
		big, small = 0, 0
		for i, tx := range got {
			var rowBytes int
			for _, e := range tx.Events {
				if e.Rows != nil {
					rowBytes += len(e.Raw) - event.HeaderSize // the body, without the checksum
					if tx.Format.Checksum {
						rowBytes -= 4
					}
				}
			}
			for j, e := range tx.Events {
				if e.Rows == nil {
					continue
				}
				switch {
				case rowBytes > limit && e.Rows.Decoded:
					t.Fatalf("transaction %d (%d bytes of row events) has decoded images", i+1, rowBytes)
				case rowBytes <= limit && !reflect.DeepEqual(e.Rows, full[i].Events[j].Rows):
					t.Fatalf("transaction %d (%d bytes of row events) differs from the read without a limit", i+1, rowBytes)
				}
			}
			if rowBytes > limit {
				big++
			} else if rowBytes > 0 {
				small++
			}
		}
	}
	if big == 0 || small == 0 {
		t.Fatalf("%d transactions over the limit, %d under: the fixture does not test both", big, small)
	}
}
