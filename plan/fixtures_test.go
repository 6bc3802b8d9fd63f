package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/txn"
)

// manifestEntry is one line of MANIFEST.tsv: the event counts a separate
// tool (mariadb-binlog and a raw event walk) found in the file.
type manifestEntry struct {
	file    string
	events  map[string]int // outside compressed payloads
	payload map[string]int // inside TRANSACTION_PAYLOAD events
	// notFull counts the row events whose images are not FULL.
	notFull uint64
}

var notFullRE = regexp.MustCompile(`non-FULL row images in (\d+)/\d+ rows events`)

// readManifest returns the entries of the MANIFEST.tsv of the corpus in
// dir.
func readManifest(t *testing.T, dir string) []manifestEntry {
	t.Helper()
	var out []manifestEntry
	for _, m := range fixtures.Manifest(t, dir) {
		_, list, _ := strings.Cut(m.Notes, "events: ")
		outer, inner, _ := strings.Cut(list, " | in TRANSACTION_PAYLOAD(ZSTD): ")
		e := manifestEntry{file: m.File, events: eventCounts(outer), payload: eventCounts(inner)}
		if sm := notFullRE.FindStringSubmatch(m.Notes); sm != nil {
			e.notFull, _ = strconv.ParseUint(sm[1], 10, 64)
		}
		out = append(out, e)
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

// sum adds the counts of the named event types, in and out of payloads.
func (m manifestEntry) sum(names ...string) uint64 {
	var n int
	for _, name := range names {
		n += m.events[name] + m.payload[name]
	}
	return uint64(n)
}

// TestFixtureCounts plans every fixture of both corpora that the reader
// reads to its end and checks the report's counts against MANIFEST.tsv.
func TestFixtureCounts(t *testing.T) {
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) { fixtureCounts(t, c) })
}

// fixtureCounts checks the fixtures of corpus c: over 60 of the external
// corpus read to their end, every one of the repository's.
func fixtureCounts(t *testing.T, c fixtures.Corpus) {
	checked := 0
	dir := c.Dir
	manifest := readManifest(t, dir)
	for _, m := range manifest {
		path := filepath.Join(dir, m.file)
		rep, err := Run(context.Background(), Options{Files: []string{path}})
		if err != nil {
			t.Errorf("%s: %v", m.file, err)
			continue
		}
		if rep.Problems.ReadError != nil {
			t.Logf("%s: not read to the end: %s", m.file, rep.Problems.ReadError.Message)
			continue
		}
		checked++
		checkCounts(t, m, rep, path)
	}
	if want := len(manifest); c.External && checked < 60 || !c.External && checked < want {
		t.Errorf("only %d fixtures were read to the end", checked)
	}
}

func checkCounts(t *testing.T, m manifestEntry, rep *Report, path string) {
	t.Helper()
	c := &rep.Contents
	want := OpCounts{
		Insert: m.sum("WRITE_ROWS_V1", "WRITE_ROWS_V2"),
		Update: m.sum("UPDATE_ROWS_V1", "UPDATE_ROWS_V2", "PARTIAL_UPDATE_ROWS"),
		Delete: m.sum("DELETE_ROWS_V1", "DELETE_ROWS_V2"),
	}
	if c.RowEvents != want {
		t.Errorf("%s: row events %+v, manifest %+v", m.file, c.RowEvents, want)
	}
	var perTable OpCounts
	for _, tc := range c.Tables {
		perTable.Insert += tc.Events.Insert
		perTable.Update += tc.Events.Update
		perTable.Delete += tc.Events.Delete
	}
	if perTable != want {
		t.Errorf("%s: row events by table add up to %+v, manifest %+v", m.file, perTable, want)
	}
	if withGTID := c.Transactions - c.NoGTID; withGTID != m.sum("GTID", "MARIA_GTID") {
		t.Errorf("%s: %d transactions with a GTID, manifest has %d GTID events", m.file, withGTID, m.sum("GTID", "MARIA_GTID"))
	}
	if anon := m.sum("ANONYMOUS_GTID"); anon > 0 && c.NoGTID != anon {
		t.Errorf("%s: %d transactions without GTID, manifest has %d ANONYMOUS_GTID events", m.file, c.NoGTID, anon)
	}
	if got := rep.Problems.UndecodedEvents; got != 0 {
		t.Errorf("%s: %d undecoded row events", m.file, got)
	}
	// A PARTIAL_UPDATE_ROWS event is decoded, but not FULL.
	if got := rep.Problems.MinimalEvents + rep.Problems.UndecodedEvents; got != m.notFull {
		t.Errorf("%s: %d minimal and %d undecoded row events, manifest has %d not FULL",
			m.file, rep.Problems.MinimalEvents, rep.Problems.UndecodedEvents, m.notFull)
	}
	var inPayload uint64
	for _, name := range []string{"TABLE_MAP", "WRITE_ROWS_V2", "UPDATE_ROWS_V2", "DELETE_ROWS_V2"} {
		inPayload += uint64(m.payload[name])
	}
	if rep.Contents.CompressedEvents != inPayload {
		t.Errorf("%s: %d events from compressed payloads, manifest has %d table maps and row events in payloads",
			m.file, rep.Contents.CompressedEvents, inPayload)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.BytesRead+4 != uint64(st.Size()) { // every event after the magic number
		t.Errorf("%s: %d bytes of events read, file has %d after the magic number", m.file, c.BytesRead, st.Size()-4)
	}
	var total int
	for _, n := range m.events {
		total += n
	}
	if c.EventsRead != uint64(total) {
		t.Errorf("%s: %d events read, manifest lists %d", m.file, c.EventsRead, total)
	}
}

// TestFixtureReadErrors: fixtures the reader cannot read to the end give a
// report with the error's place, and a replay that would fail.
func TestFixtureReadErrors(t *testing.T) {
	cases := []struct {
		file      string
		offset    uint64
		truncated bool
	}{
		{"MyFlash/binlog_output_base.flashback", 120, false},
		{"mysql-binlog-connector-java/src/test/resources/mysql-bin.aurora-padding", 216, true},
		{"tiflow/mysql-bin.000001", 1819, false},
	}
	dir := fixtures.Dir(t)
	for _, c := range cases {
		rep, err := Run(context.Background(), Options{Files: []string{filepath.Join(dir, c.file)}})
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		re := rep.Problems.ReadError
		if re == nil || re.File != filepath.Base(c.file) || re.Offset != c.offset || re.Truncated != c.truncated || !rep.Replay.Fails {
			t.Errorf("%s: read error %+v, replay fails %v; want offset %d truncated %v", c.file, re, rep.Replay.Fails, c.offset, c.truncated)
		}
	}
}

// TestRunCancelled: a done context ends Run with its error and no report.
func TestRunCancelled(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "msmp/test/binlog.000001")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Run(ctx, Options{Files: []string{path}})
	if !errors.Is(err, context.Canceled) || rep != nil {
		t.Errorf("got report %v, error %v; want context.Canceled", rep != nil, err)
	}
}

// TestStopPositionPastLastTransaction: a --stop-position after the last
// transaction, at or before the end of the binlogs, is reached, as the
// replay says (it exits 0); past their end it is not (soak seed 66027:
// plan said the replay would never reach a stop at the very end of the
// last file, where the replay reached it).
func TestStopPositionPastLastTransaction(t *testing.T) {
	file := filepath.Join(fixtures.Repo(t), "mariadb-10.11/minimal/mysql-bin.000001") // last transaction ends at 1826, a Stop event at 1849
	for _, c := range []struct {
		offset  uint64
		reached bool
	}{{1826, true}, {1849, true}, {1850, false}, {4000, false}} {
		stop := txn.Position{File: "mysql-bin.000001", Offset: c.offset}
		rep, err := Run(context.Background(), Options{Files: []string{file}, StopPosition: stop})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Replay
		if reached := p.StopNotReached == ""; reached != c.reached || p.StoppedBefore != nil || p.Applied != 7 ||
			c.reached != strings.Contains(p.StopReason, "at or after --stop-position "+stop.String()) {
			t.Errorf("--stop-position %s: %+v; want reached %v, 7 transactions applied", stop, p, c.reached)
		}
	}
}

// TestStopDatetimeBeforeStart: with a start position inside a file and a
// --stop-datetime that a transaction before the start already reached,
// plan says the replay refuses it (its transactions are on the target
// restored to the start), and not with a stop after them.
func TestStopDatetimeBeforeStart(t *testing.T) {
	file := filepath.Join(fixtures.Repo(t), "mariadb-10.11/minimal/mysql-bin.000001")
	all, err := Run(context.Background(), Options{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	first, last := all.Contents.First, all.Contents.Last
	if first == nil || last == nil || first.Start == last.Start {
		t.Fatalf("want several transactions in %s: %+v", file, all.Contents)
	}
	start := last.Start // the base holds every transaction but the last
	for _, c := range []struct {
		stop    time.Time
		refused bool
	}{{first.Time, true}, {last.Time.Add(time.Second), false}} {
		rep, err := Run(context.Background(), Options{Files: []string{file}, StartPosition: start, StopDatetime: c.stop})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(rep.Problems.Refusal, "before the start point"); got != c.refused {
			t.Errorf("--start-position %s --stop-datetime %s: refusal %q, want refused %v", start, c.stop, rep.Problems.Refusal, c.refused)
		}
	}
}
