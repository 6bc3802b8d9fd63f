package binlog

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// manifestEntry is one line of the fixtures' MANIFEST.tsv.
type manifestEntry struct {
	file, version, notes string
	events               map[string]int // event counts outside payloads
	payload              map[string]int // event counts inside TRANSACTION_PAYLOADs
}

// readManifest parses the MANIFEST.tsv of the corpus in dir
// (fixtures.Manifest), with each entry's event counts.
func readManifest(t *testing.T, dir string) map[string]manifestEntry {
	t.Helper()
	out := map[string]manifestEntry{}
	for _, m := range fixtures.Manifest(t, dir) {
		e := manifestEntry{file: m.File, version: m.Version, notes: m.Notes}
		_, list, _ := strings.Cut(e.notes, "events: ")
		outer, inner, _ := strings.Cut(list, " | in TRANSACTION_PAYLOAD(ZSTD): ")
		e.events, e.payload = eventCounts(outer), eventCounts(inner)
		out[e.file] = e
	}
	return out
}

// eventCounts parses "A:1,B:2".
func eventCounts(s string) map[string]int {
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), ":")
		if n, err := strconv.Atoi(v); ok && err == nil {
			out[k] += n
		}
	}
	return out
}

// expectedFailure is how a fixture must fail; decodeOnly when it fails only
// with Options.DecodeRows.
type expectedFailure struct {
	decodeOnly bool
	check      func(t *testing.T, err error)
}

// expectedFailures are the fixtures that must not read to the end, with the
// error each must give.
var expectedFailures = map[string]expectedFailure{
	// MyFlash writes its flashback file with a stale checksum on the table map.
	"MyFlash/binlog_output_base.flashback": {check: func(t *testing.T, err error) {
		wantError(t, err, "binlog_output_base.flashback", 120, "TABLE_MAP_EVENT", "checksum mismatch")
	}},
	// The file ends after BEGIN.
	"mysql-binlog-connector-java/src/test/resources/mysql-bin.aurora-padding": {check: func(t *testing.T, err error) {
		var te *TruncatedError
		if !errors.As(err, &te) || te.Partial.Offset != 216 || te.InEvent || !te.LastEnd.IsZero() {
			t.Errorf("want truncation inside the transaction at 216, got %v", err)
		}
	}},
	// MariaDB 10.0 hi-res TIMESTAMP(n) in the pre-10.1 format: the table map
	// does not say its size, and go-mysql's decoding runs off the image.
	"tiflow/mysql-bin.000001": {decodeOnly: true, check: func(t *testing.T, err error) {
		wantError(t, err, "mysql-bin.000001", 1819, "WRITE_ROWS_EVENT_V1", "steven")
	}},
}

// wantError checks that err is an *event.Error with these details.
func wantError(t *testing.T, err error, file string, offset uint64, typ, text string) {
	t.Helper()
	var e *event.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *event.Error, got %T %v", err, err)
	}
	if e.File != file || e.Offset != offset || e.EventType != typ || !strings.Contains(e.Error(), text) {
		t.Errorf("got %q (file %q offset %d type %q), want file %q offset %d type %q containing %q",
			e.Error(), e.File, e.Offset, e.EventType, file, offset, typ, text)
	}
}

// TestFixtures reads every fixture of both corpora to its end, with and
// without row decoding, and checks what MANIFEST.tsv says about it.
func TestFixtures(t *testing.T) {
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) { checkCorpus(t, c.Dir) })
}

// checkCorpus runs checkFixture on every file of the corpus in dir.
func checkCorpus(t *testing.T, dir string) {
	manifest := readManifest(t, dir)
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || fixtures.Meta(d.Name()) {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seen++
		t.Run(rel, func(t *testing.T) {
			entry, ok := manifest[rel]
			if !ok {
				t.Fatalf("%s is not in MANIFEST.tsv", rel)
			}
			for _, decode := range []bool{false, true} {
				checkFixture(t, p, entry, decode)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < len(manifest) {
		t.Errorf("walked %d files, manifest lists %d", seen, len(manifest))
	}
}

// checkFixture reads one fixture and checks it against its manifest entry.
func checkFixture(t *testing.T, path string, m manifestEntry, decode bool) {
	txns, err := readAll(t, []string{path}, Options{DecodeRows: decode})
	if f, ok := expectedFailures[m.file]; ok && (decode || !f.decodeOnly) {
		if err == nil {
			t.Fatalf("decode=%v: read to the end, want an error", decode)
		}
		f.check(t, err)
		return
	}
	if err != nil {
		t.Fatalf("decode=%v: %v", decode, err)
	}
	var c counts
	for i, tx := range txns {
		checkTxn(t, tx, uint64(i+1), filepath.Base(path), decode)
		c.add(tx)
	}
	c.check(t, m, txns)
}

// counts tallies what a fixture's transactions hold.
type counts struct {
	tableMaps, rows, groups, gtids, payloadEvents int
	versions                                      map[string]bool
	flavor                                        map[txn.Flavor]bool
	checksum                                      map[bool]bool
}

func (c *counts) add(tx *txn.Txn) {
	if c.versions == nil {
		c.versions, c.flavor, c.checksum = map[string]bool{}, map[txn.Flavor]bool{}, map[bool]bool{}
	}
	c.versions[tx.Format.ServerVersion] = true
	c.flavor[tx.Format.Flavor] = true
	c.checksum[tx.Format.Checksum] = true
	if tx.Kind != txn.KindDDL {
		c.groups++
	}
	if !tx.GTID.IsZero() {
		c.gtids++
	}
	for _, e := range tx.Events {
		if e.InPayload > 0 {
			c.payloadEvents++
		}
		switch e.Kind {
		case txn.EventTableMap:
			c.tableMaps++
		case txn.EventRows:
			c.rows++
		}
	}
}

// check compares the tallies with the manifest's event counts.
func (c *counts) check(t *testing.T, m manifestEntry, txns []*txn.Txn) {
	t.Helper()
	ev := func(names ...string) (n int) {
		for _, name := range names {
			n += m.events[name] + m.payload[name]
		}
		return n
	}
	if n := ev("GTID", "ANONYMOUS_GTID", "MARIA_GTID"); n > 0 && n != len(txns) {
		t.Errorf("%d transactions, manifest has %d GTID events", len(txns), n)
	}
	if n := ev("TABLE_MAP"); n != c.tableMaps {
		t.Errorf("%d table maps, manifest has %d", c.tableMaps, n)
	}
	rows := ev("WRITE_ROWS_V1", "UPDATE_ROWS_V1", "DELETE_ROWS_V1", "WRITE_ROWS_V2",
		"UPDATE_ROWS_V2", "DELETE_ROWS_V2", "PARTIAL_UPDATE_ROWS")
	if rows != c.rows {
		t.Errorf("%d row events, manifest has %d", c.rows, rows)
	}
	if xids := ev("XID"); c.groups < xids {
		t.Errorf("%d BEGIN..COMMIT groups, manifest has %d XID events", c.groups, xids)
	}
	if strings.Contains(m.notes, "GTIDs;") != (c.gtids > 0) {
		t.Errorf("%d transactions with a GTID; manifest notes: %q", c.gtids, m.notes)
	}
	if len(m.payload) > 0 && c.payloadEvents == 0 {
		t.Errorf("manifest lists events inside TRANSACTION_PAYLOAD, none came out")
	}
	if len(txns) == 0 {
		return
	}
	wantFlavor := txn.FlavorMySQL
	if strings.Contains(m.version, "MariaDB") {
		wantFlavor = txn.FlavorMariaDB
	}
	wantChecksum := strings.Contains(m.notes, "checksum=CRC32")
	if len(c.versions) != 1 || !c.versions[m.version] || len(c.flavor) != 1 || !c.flavor[wantFlavor] ||
		len(c.checksum) != 1 || !c.checksum[wantChecksum] {
		t.Errorf("formats: versions %v flavors %v checksums %v; want %q %v %v",
			c.versions, c.flavor, c.checksum, m.version, wantFlavor, wantChecksum)
	}
}

// checkTxn checks the invariants every transaction must hold.
func checkTxn(t *testing.T, tx *txn.Txn, seq uint64, file string, decode bool) {
	t.Helper()
	if tx.Seq != seq || tx.Start.File != file || tx.End.File != file || tx.End.Offset <= tx.Start.Offset ||
		tx.Bytes != int64(tx.End.Offset-tx.Start.Offset) || tx.Format == nil || tx.Time.IsZero() {
		t.Fatalf("bad transaction %+v", tx)
	}
	if tx.Kind == txn.KindDDL && (tx.Begin == nil || len(tx.Events) != 1 || tx.Events[0].Query != tx.Begin) {
		t.Errorf("txn %d: DDL must hold its one query as Begin and Events[0]", seq)
	}
	for i, e := range tx.Events {
		if e.Pos.Offset < tx.Start.Offset || e.Pos.Offset >= tx.End.Offset || e.TypeName == "" {
			t.Errorf("txn %d event %d: position %s outside [%s, %s)", seq, i, e.Pos, tx.Start, tx.End)
		}
		if e.Raw != nil && (len(e.Raw) < event.HeaderSize || e.Raw[4] != e.Type) {
			t.Errorf("txn %d event %d: Raw does not hold the event", seq, i)
		}
		if e.Rows != nil {
			want := decode
			if e.Rows.Decoded != want || (want && len(e.Rows.Rows) == 0) || e.Rows.Table == nil {
				t.Errorf("txn %d event %d: Decoded=%v with %d rows, want decoded=%v", seq, i, e.Rows.Decoded, len(e.Rows.Rows), want)
			}
		}
		if tx.Kind == txn.KindRows && e.Kind != txn.EventTableMap && e.Kind != txn.EventRows {
			t.Errorf("txn %d: KindRows holds a %s", seq, e.TypeName)
		}
	}
}
