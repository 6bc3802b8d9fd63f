package binlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/txn"
)

// crcFixture is a MySQL 5.7 binlog with 60 row transactions and checksums.
const crcFixture = "mysql-binlog-connector-java/src/test/resources/mysql-bin.checksum-crc32"

// ends returns the End offsets of txns.
func ends(txns []*txn.Txn) []uint64 {
	out := make([]uint64, len(txns))
	for i, tx := range txns {
		out[i] = tx.End.Offset
	}
	return out
}

func TestTruncated(t *testing.T) {
	src := fixture(t, crcFixture)
	all := mustReadAll(t, []string{src}, Options{})
	if len(all) != 60 {
		t.Fatalf("%d transactions, want 60", len(all))
	}
	k := all[10]
	tm := k.Events[0] // the table map after BEGIN
	cases := []struct {
		name    string
		cut     uint64
		inEvent bool
		partial uint64
	}{
		{"inside the format description", 50, true, 4},
		{"inside an event header", tm.Pos.Offset + 7, true, k.Start.Offset},
		{"inside an event body", tm.Pos.Offset + uint64(len(tm.Raw)) - 3, true, k.Start.Offset},
		{"at a boundary inside a transaction", tm.Pos.Offset + uint64(len(tm.Raw)), false, k.Start.Offset},
		{"at a boundary inside GTID+BEGIN", k.Start.Offset + 65, false, k.Start.Offset},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := copyFile(t, src, t.TempDir(), "mysql-bin.000001", int(c.cut))
			got, err := readAll(t, []string{p}, Options{DecodeRows: true})
			var want []*txn.Txn
			for _, tx := range all {
				if tx.End.Offset <= c.cut {
					want = append(want, tx)
				}
			}
			if !reflect.DeepEqual(ends(got), ends(want)) {
				t.Errorf("got transactions ending at %v, want %v", ends(got), ends(want))
			}
			var te *TruncatedError
			if !errors.As(err, &te) || !errors.Is(err, ErrTruncated) {
				t.Fatalf("got %v, want a truncation error", err)
			}
			var lastEnd txn.Position
			if len(want) > 0 {
				lastEnd = txn.Position{File: "mysql-bin.000001", Offset: want[len(want)-1].End.Offset}
			}
			if te.InEvent != c.inEvent || te.Partial.Offset != c.partial || te.LastEnd != lastEnd || te.Size != c.cut {
				t.Errorf("got %+v, want inEvent=%v partial=%d lastEnd=%s size=%d", te, c.inEvent, c.partial, lastEnd, c.cut)
			}
			if !strings.Contains(err.Error(), "mysql-bin.000001") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestCutAtTransactionEndIsClean(t *testing.T) {
	src := fixture(t, crcFixture)
	all := mustReadAll(t, []string{src}, Options{})
	p := copyFile(t, src, t.TempDir(), "mysql-bin.000001", int(all[20].End.Offset))
	got := mustReadAll(t, []string{p}, Options{})
	if !reflect.DeepEqual(ends(got), ends(all[:21])) {
		t.Errorf("got %v, want %v", ends(got), ends(all[:21]))
	}
}

func TestTruncatedNotLastFile(t *testing.T) {
	src := fixture(t, crcFixture)
	all := mustReadAll(t, []string{src}, Options{})
	dir := t.TempDir()
	cut := all[5].Start.Offset + 100
	f1 := copyFile(t, src, dir, "mysql-bin.000001", int(cut))
	f2 := copyFile(t, src, dir, "mysql-bin.000002", -1)
	got, err := readAll(t, []string{f1, f2}, Options{})
	if len(got) != 5 {
		t.Errorf("got %d transactions before the error, want 5", len(got))
	}
	var e *event.Error
	if !errors.As(err, &e) || errors.Is(err, ErrTruncated) || e.File != "mysql-bin.000001" ||
		!strings.Contains(err.Error(), "more files follow") {
		t.Fatalf("got %v, want an *event.Error for the first file", err)
	}
}

func TestTwoFiles(t *testing.T) {
	src := fixture(t, crcFixture)
	dir := t.TempDir()
	f1 := copyFile(t, src, dir, "mysql-bin.000001", -1)
	f2 := copyFile(t, src, dir, "mysql-bin.000002", -1)
	got := mustReadAll(t, []string{f1, f2}, Options{})
	if len(got) != 120 {
		t.Fatalf("got %d transactions, want 120", len(got))
	}
	a, b := got[59], got[60]
	if b.Seq != 61 || a.End.File != "mysql-bin.000001" || b.Start.File != "mysql-bin.000002" ||
		a.Format == b.Format || b.Format.Pos.File != "mysql-bin.000002" {
		t.Errorf("file change wrong: %+v / %+v", a, b)
	}
}

func TestChecksumMismatch(t *testing.T) {
	src := fixture(t, crcFixture)
	all := mustReadAll(t, []string{src}, Options{})
	ev := all[30].Events[1] // a row event
	for name, off := range map[string]uint64{
		"row event": ev.Pos.Offset + event.HeaderSize + 5,
		"format":    4 + event.HeaderSize + 10,
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		b[off] ^= 0x40
		p := t.TempDir() + "/mysql-bin.000001"
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, []string{p}, Options{DecodeRows: true})
		want := ev.Pos.Offset
		typ := ev.TypeName
		if name == "format" {
			want, typ = 4, "FORMAT_DESCRIPTION_EVENT"
		} else if len(got) != 30 {
			t.Errorf("%s: %d transactions before the error, want 30", name, len(got))
		}
		wantError(t, err, "mysql-bin.000001", want, typ, "checksum mismatch")
	}
}

func TestStartPosition(t *testing.T) {
	src := fixture(t, crcFixture)
	dir := t.TempDir()
	f1 := copyFile(t, src, dir, "mysql-bin.000001", -1)
	f2 := copyFile(t, src, dir, "mysql-bin.000002", -1)
	files := []string{f1, f2}
	all := mustReadAll(t, []string{f1}, Options{})
	k := all[7]
	at := func(off uint64) Options { return Options{Start: txn.Position{File: "mysql-bin.000001", Offset: off}} }

	got := mustReadAll(t, files, at(k.Start.Offset))
	if len(got) != 120-7 || got[0].Seq != 1 || got[0].Start != k.Start {
		t.Errorf("from a transaction start: %d transactions, first %+v", len(got), got[0])
	}
	got = mustReadAll(t, files, at(all[59].End.Offset))
	if len(got) != 60 || got[0].Start.File != "mysql-bin.000002" {
		t.Errorf("from the end of the first file: %d transactions", len(got))
	}
	got = mustReadAll(t, files, Options{Start: txn.Position{File: "mysql-bin.000002", Offset: 4}})
	if len(got) != 60 {
		t.Errorf("from the second file: %d transactions", len(got))
	}

	// Not an event boundary: the error names the transaction it falls in.
	_, err := readAll(t, files, at(k.Start.Offset+3))
	wantError(t, err, "mysql-bin.000001", k.Start.Offset+3, "", "nearest transaction boundary is mysql-bin.000001:"+fmt.Sprint(k.Start.Offset))
	// An event boundary inside a transaction.
	inside := k.Events[1].Pos.Offset
	_, err = readAll(t, files, at(inside))
	wantError(t, err, "mysql-bin.000001", inside, "", "inside the transaction starting at mysql-bin.000001:"+fmt.Sprint(k.Start.Offset))
	// Inside the FORMAT_DESCRIPTION event: the next boundary is after it.
	_, err = readAll(t, files, at(60))
	wantError(t, err, "mysql-bin.000001", 60, "", "not an event boundary")
	// Beyond the end of the file.
	_, err = readAll(t, files, at(1<<20))
	wantError(t, err, "mysql-bin.000001", 1<<20, "", "beyond the end")

	for _, bad := range []txn.Position{{File: "mysql-bin.000009", Offset: 4}, {File: "mysql-bin.000001", Offset: 2}} {
		if _, err := NewReader(files, Options{Start: bad}); err == nil {
			t.Errorf("NewReader accepted start %s", bad)
		}
	}
}

func TestContextCancel(t *testing.T) {
	src := fixture(t, crcFixture)
	r, err := NewReader([]string{src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	n := 0
	for {
		_, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 60 {
		t.Errorf("read %d transactions after the cancelled call, want 60", n)
	}
	if _, err := r.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("after EOF got %v", err)
	}
}

func TestRawBytesAreTheFile(t *testing.T) {
	src := fixture(t, "mariadb-poc/mariadb-binlog/binlogs/domain_id_0/mariadb-repl-bin.000005")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range mustReadAll(t, []string{src}, Options{DecodeRows: true}) {
		for _, e := range tx.Events {
			if string(e.Raw) != string(b[e.Pos.Offset:e.Pos.Offset+uint64(len(e.Raw))]) {
				t.Fatalf("event at %s: Raw differs from the file", e.Pos)
			}
		}
		if string(tx.Format.Raw) != string(b[4:4+len(tx.Format.Raw)]) {
			t.Fatal("Format.Raw differs from the file")
		}
	}
}

func TestFlavorFromMariaDBEvents(t *testing.T) {
	// A MariaDB 10.0 binlog (no checksums) whose version string no longer
	// says MariaDB: its MariaDB events still tell the flavor.
	src := fixture(t, "binlog-parser/data/fixtures/mysql-bin.07")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b[:200]), "MariaDB")
	if i < 0 {
		t.Fatal("no MariaDB in the version string")
	}
	copy(b[i:], "Xxxxxxx")
	p := t.TempDir() + "/mysql-bin.000007"
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	txns := mustReadAll(t, []string{p}, Options{DecodeRows: true})
	if len(txns) != 2 {
		t.Fatalf("%d transactions, want 2", len(txns))
	}
	for _, tx := range txns {
		if tx.Format.Flavor != txn.FlavorMariaDB || tx.GTID.Flavor != txn.FlavorMariaDB ||
			!strings.Contains(tx.Format.ServerVersion, "Xxxxxxx") {
			t.Errorf("txn %d: format %+v GTID %s", tx.Seq, tx.Format, tx.GTID)
		}
	}
}

// TestReadFormat reads only the format description of a file, plain and
// gzip-compressed, and it equals the one the reader gives its transactions.
func TestReadFormat(t *testing.T) {
	src := fixture(t, crcFixture)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := writeCompressed(t, dir, "mysql-bin.000001", data)
	gz := writeCompressed(t, dir, "mysql-bin.000002.gz", data)
	want := mustReadAll(t, []string{plain}, Options{})[0].Format
	for _, p := range []string{plain, gz} {
		f, err := logfile.ReadFormat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(f.Raw, want.Raw) || f.Flavor != want.Flavor || f.Checksum != want.Checksum || f.Pos.File != logfile.Name(p) {
			t.Errorf("%s: format %+v, want %+v", p, f, want)
		}
	}
	if _, err := logfile.ReadFormat(writeCompressed(t, dir, "mysql-bin.000003", data[:10])); err == nil {
		t.Error("a file cut inside its format description: no error")
	}
}
