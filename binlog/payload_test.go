package binlog

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/txn"
)

func TestTransactionPayload(t *testing.T) {
	p := fixture(t, "mysql-binlog-connector-java/src/test/resources/mysql-bin.compressed")
	txns := mustReadAll(t, []string{p}, Options{DecodeRows: true})
	if len(txns) != 1 {
		t.Fatalf("%d transactions, want 1", len(txns))
	}
	tx := txns[0]
	if tx.Kind != txn.KindRows || tx.Begin == nil || string(tx.Begin.SQL) != "BEGIN" || len(tx.Events) != 2 {
		t.Fatalf("txn %+v", tx)
	}
	payloadPos := tx.Events[0].Pos
	for i, e := range tx.Events {
		// The payload's first event is the BEGIN (tx.Begin).
		if e.InPayload != i+2 || e.Pos != payloadPos || e.Pos.Offset <= tx.Start.Offset {
			t.Errorf("event %s: payload index %d at %s, want %d at the payload's position", e.TypeName, e.InPayload, e.Pos, i+2)
		}
		// The stand-alone form: a whole event with its size in its header
		// and a CRC32, since the file has checksums.
		if n := len(e.Raw); n < event.HeaderSize+4 || int(binary.LittleEndian.Uint32(e.Raw[9:])) != n || e.Raw[4] != e.Type ||
			crc32.ChecksumIEEE(e.Raw[:n-4]) != binary.LittleEndian.Uint32(e.Raw[n-4:]) {
			t.Errorf("event %s: stand-alone form of %d bytes is not a whole checksummed event", e.TypeName, len(e.Raw))
		}
	}
	tm, rows := tx.Events[0].TableMap, tx.Events[1].Rows
	if tm.Schema != "demo" || tm.Table != "movies" || rows.Op != txn.OpUpdate || len(rows.Rows) != 2 {
		t.Errorf("table map %+v rows %+v", tm, rows)
	}

	p = fixture(t, "mysql-binlog-connector-rust/tests/parse_file_tests/mysql-bin.000057")
	txns = mustReadAll(t, []string{p}, Options{DecodeRows: true})
	var kinds []txn.Kind
	for _, tx := range txns {
		kinds = append(kinds, tx.Kind)
		if tx.GTID.IsZero() {
			t.Errorf("txn %d has no GTID", tx.Seq)
		}
	}
	if len(kinds) != 3 || kinds[0] != txn.KindDDL || kinds[1] != txn.KindRows || kinds[2] != txn.KindRows {
		t.Errorf("kinds %v, want ddl rows rows", kinds)
	}
}

func TestSkippedEventsAreCounted(t *testing.T) {
	// An Aurora padding event (type 100) carries the IGNORABLE flag.
	p := fixture(t, "mysql-binlog-connector-java/src/test/resources/mysql-bin.aurora-padding")
	r, err := NewReader([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := readFrom(r); !errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v, want the truncation after BEGIN", err)
	}
	if st := r.Stats(); st.Skipped["EVENT_TYPE_100"] != 1 || st.Events != 5 {
		t.Errorf("stats %+v", st)
	}

	// LOAD DATA events are read, not skipped: the statement comes with
	// its file.
	p = fixture(t, "mysql-cdc-rs/tests/events/5.7/17_18_load/log.bin")
	txns, err := readAll(t, []string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var load *txn.LoadData
	for _, tx := range txns {
		for _, e := range tx.Events {
			if e.Query != nil && e.Query.Load != nil {
				load = e.Query.Load
			}
		}
	}
	if load == nil || len(load.Data) == 0 || load.FileStart >= load.FileEnd {
		t.Fatalf("LOAD DATA read as %+v in %d transactions", load, len(txns))
	}
}

// readFrom counts the transactions r returns before its first error.
func readFrom(r *Reader) (int, error) {
	n := 0
	for {
		_, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// fixChecksum recomputes the CRC32 that ends an event.
func fixChecksum(ev []byte) {
	n := len(ev) - 4
	binary.LittleEndian.PutUint32(ev[n:], crc32.ChecksumIEEE(ev[:n]))
}

// TestCorruptBodiesDoNotPanic flips bytes inside event bodies (keeping the
// checksums right, as a bug in the writer would) and reads the result: every
// outcome must be transactions and then nil, or a descriptive error.
func TestCorruptBodiesDoNotPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(seedForTest()))
	for _, rel := range []string{crcFixture,
		"mysql-binlog-connector-java/src/test/resources/mysql-bin.compressed",
		"rust_mysql_common/test-data/binlogs/json.binlog.000001",
		"rust_mysql_common/test-data/binlogs/mariadb-bin.000001",
		"mysql-cdc-rs/tests/events/5.7/14_user_var/log.bin",
		"rust_mysql_common/test-data/binlogs/vector.binlog",
	} {
		src := fixture(t, rel)
		orig, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		events := eventSpans(orig)
		dir := t.TempDir()
		for i := 0; i < itersForTest(); i++ {
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
			for _, decode := range []bool{false, true} {
				_, err := readAll(t, []string{p}, Options{DecodeRows: decode})
				var e *event.Error
				if err != nil && (!errors.As(err, &e) || e.File == "" || e.Error() == "") {
					t.Fatalf("%s: corrupt event at %d: error %T %v is not a descriptive *Error", rel, ev[0], err, err)
				}
			}
		}
	}
}

// seedForTest and itersForTest let a longer run be asked for:
// BINLOG_CORRUPT_SEED=n BINLOG_CORRUPT_ITERS=n go test -run TestCorrupt.
func seedForTest() int64 {
	n, _ := strconv.ParseInt(os.Getenv("BINLOG_CORRUPT_SEED"), 10, 64)
	return n + 1
}

func itersForTest() int {
	if n, err := strconv.Atoi(os.Getenv("BINLOG_CORRUPT_ITERS")); err == nil {
		return n
	}
	return 300
}
