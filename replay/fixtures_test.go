package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/fixtures"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload/reference"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/verify"
)

// fixtureTimeout bounds one fixture's replay: a replay still running then
// is taken as hung.
const fixtureTimeout = 30 * time.Second

// fixtureEntry is one line of the shared fixtures' MANIFEST.tsv.
type fixtureEntry struct {
	file    string // path under the fixtures directory
	version string // server_version
	notes   string
}

// selfContained reports whether the fixture holds the DDL of every table
// its rows touch (or is statement-format with its own CREATE TABLE).
func (f fixtureEntry) selfContained() bool {
	return strings.Contains(f.notes, "ddl_self_contained=yes") ||
		strings.Contains(f.notes, "ddl_self_contained=has CREATE TABLE")
}

// readFixtureManifest returns the manifest entries of the corpus in dir,
// in manifest order.
func readFixtureManifest(t *testing.T, dir string) []fixtureEntry {
	t.Helper()
	var out []fixtureEntry
	for _, m := range fixtures.Manifest(t, dir) {
		out = append(out, fixtureEntry{file: m.File, version: m.Version, notes: m.Notes})
	}
	return out
}

// fixtureOutcome is what happened to one fixture, for the summary table.
type fixtureOutcome struct {
	file, result string
}

// TestFixturesReplayMatchesAnchor replays every self-contained fixture,
// whole, into a fresh target with replay.Run and into another fresh target
// with mariadb-binlog | mariadb, and compares the two targets. Databases the
// fixture uses without creating them are created on both targets first (a
// fixture holds its tables' DDL, not always its databases'). Where the
// anchor fails (MariaDB cannot run the fixture's DDL or events), the replay
// must either succeed or fail with an error naming file, offset and event;
// where the anchor succeeds, the replay must succeed with the same data.
// Where the replay succeeds (row events passed through, as root may), a
// third replay applying row events as SQL (--apply sql) must succeed too,
// to the same data, or stop where that path refuses by design (tables
// with triggers), naming where. Both corpora: the external one has over 30
// self-contained fixtures, the repository's 4.
func TestFixturesReplayMatchesAnchor(t *testing.T) {
	fixtures.Each(t, func(t *testing.T, c fixtures.Corpus) {
		min := 4
		if c.External {
			min = 30
		}
		replayCorpus(t, c.Dir, min)
	})
}

// replayCorpus replays the self-contained fixtures of the corpus in dir,
// min of them at least.
func replayCorpus(t *testing.T, dir string, min int) {
	entries := readFixtureManifest(t, dir)
	var (
		mu       sync.Mutex
		outcomes []fixtureOutcome
		selected int
	)
	t.Run("each", func(t *testing.T) {
		for _, e := range entries {
			if !e.selfContained() {
				continue
			}
			selected++
			t.Run(e.file, func(t *testing.T) {
				t.Parallel()
				res := "FAILED: see the subtest's log"
				defer func() {
					mu.Lock()
					defer mu.Unlock()
					outcomes = append(outcomes, fixtureOutcome{file: e.file, result: res})
				}()
				replayFixture(t, filepath.Join(dir, e.file), e, &res)
			})
		}
	})
	if selected < min {
		t.Errorf("only %d fixtures selected; the manifest has %d self-contained ones or more", selected, min)
	}
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].file < outcomes[j].file })
	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "\n  %-80s %s", o.file, o.result)
	}
	t.Logf("fixture outcomes:%s", b.String())
}

// replayFixture runs both replays of one fixture, checks them and sets
// *res to a one-line description of the outcome.
func replayFixture(t *testing.T, path string, e fixtureEntry, res *string) {
	ctx := context.Background()
	scan := scanFixture(t, path)
	mine := sandbox.ForTest(t, sandbox.Options{})
	mineDB := openServer(t, mine)
	anchor := sandbox.ForTest(t, sandbox.Options{})
	anchorDB := openServer(t, anchor)
	for _, db := range []*sql.DB{mineDB, anchorDB} {
		createMissingDatabases(t, db, scan)
	}
	replayErr := replayFixtureFile(t, path, mine, replay.ApplyBinlog)
	actx, cancel := context.WithTimeout(ctx, fixtureTimeout)
	defer cancel()
	anchorErr := reference.ReplayWithMariaDBBinlog(actx, []string{path}, filepath.Base(path), 4, anchor.Socket)

	switch {
	case anchorErr == nil && replayErr == nil:
		rep, err := verify.Compare(ctx, mineDB, anchorDB, verify.Options{})
		if err != nil {
			t.Fatalf("compare with the anchor: %v", err)
		}
		if !rep.Equal() {
			t.Fatalf("replay differs from mariadb-binlog | mariadb:\n%s", rep.String())
		}
		*res = fmt.Sprintf("equal (%d tables)", len(rep.Tables))
	case anchorErr == nil:
		t.Fatalf("mariadb-binlog | mariadb applied the fixture, replay failed: %v", replayErr)
	case replayErr == nil:
		t.Logf("anchor failed, replay succeeded; anchor: %v", anchorErr)
		*res = "anchor failed (" + anchorReason(anchorErr) + "); replay succeeded"
	default:
		requireLocated(t, replayErr, filepath.Base(path))
		t.Logf("anchor: %v\nreplay: %v", anchorErr, replayErr)
		*res = "anchor failed (" + anchorReason(anchorErr) + "); replay refused: " + shortErr(replayErr)
	}
	if replayErr == nil {
		*res += "; --apply sql: " + replayFixtureSQL(t, path, scan, mineDB)
	}
}

// replayFixtureSQL replays the fixture at path with row events applied as
// SQL into a fresh server, and fails t unless it succeeds with the data of
// want, the target of the passthrough replay, or stops where the SQL
// apply path refuses by design (a row event on a table with triggers or
// a system-versioned table: see replay.TriggerMode), naming file, offset,
// event and table. It returns the outcome in a few words.
func replayFixtureSQL(t *testing.T, path string, scan fixtureScan, want *sql.DB) string {
	t.Helper()
	srv := sandbox.ForTest(t, sandbox.Options{})
	db := openServer(t, srv)
	createMissingDatabases(t, db, scan)
	err := replayFixtureFile(t, path, srv, replay.ApplySQL)
	var ae *replay.ApplyError
	switch {
	case err != nil && errors.As(err, &ae) && ae.Table != "" &&
		(strings.Contains(err.Error(), "has triggers on the target") || strings.Contains(err.Error(), "is system-versioned")):
		requireLocated(t, err, filepath.Base(path))
		return "refused by design: " + shortErr(err)
	case err != nil:
		t.Fatalf("--apply sql failed where --apply binlog replayed the fixture: %v", err)
	}
	rep, err := verify.Compare(context.Background(), db, want, verify.Options{})
	if err != nil {
		t.Fatalf("compare --apply sql with --apply binlog: %v", err)
	}
	if !rep.Equal() {
		t.Fatalf("--apply sql differs from --apply binlog:\n%s", rep.String())
	}
	return "equal"
}

// fixtureScan is what a fixture's transactions say about it.
type fixtureScan struct {
	used    map[string]bool // databases queries run in or rows go to
	created map[string]bool // databases a CREATE DATABASE in the file creates
	// collation is, by database, the collation id its queries say the
	// database (or else the source server) had.
	collation map[string]uint16
	// partialAt is the start offset of the first transaction holding a
	// PARTIAL_UPDATE_ROWS event (0 if none).
	partialAt uint64
}

// createDatabase matches CREATE DATABASE/SCHEMA [IF NOT EXISTS] name.
var createDatabase = regexp.MustCompile("(?is)^\\s*create\\s+(?:database|schema)\\s+" +
	"(?:/\\*!?\\d*\\s*if\\s+not\\s+exists\\s*\\*/\\s*|if\\s+not\\s+exists\\s+)?`?([^`\\s;/]+)")

// scanFixture reads the fixture's transactions (up to the first error,
// which the replay reports itself).
func scanFixture(t *testing.T, path string) fixtureScan {
	t.Helper()
	sc := fixtureScan{used: map[string]bool{}, created: map[string]bool{}, collation: map[string]uint16{}}
	r, err := binlog.NewReader([]string{path}, binlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		tx, err := r.Next(context.Background())
		if err != nil {
			return sc
		}
		for _, e := range tx.Events {
			switch {
			case e.Query != nil && e.Query.Schema != "":
				sc.used[e.Query.Schema] = true
				st := e.Query.Status
				if _, ok := sc.collation[e.Query.Schema]; !ok && st.HasCollationDatabase {
					sc.collation[e.Query.Schema] = st.CollationDatabase
				} else if !ok && st.HasCharset {
					sc.collation[e.Query.Schema] = st.CollationServer
				}
			case e.TableMap != nil:
				sc.used[e.TableMap.Schema] = true
			}
			if e.Query != nil {
				if m := createDatabase.FindSubmatch(e.Query.SQL); m != nil {
					sc.created[string(m[1])] = true
				}
			}
			if sc.partialAt == 0 && e.Type == partialUpdateRows {
				sc.partialAt = tx.Start.Offset
			}
		}
	}
}

// partialUpdateRows is MySQL's PARTIAL_UPDATE_ROWS_EVENT type code.
const partialUpdateRows = 39

// missingDatabases returns the databases the fixture uses but does not
// create, except the server's own.
func (sc fixtureScan) missingDatabases() []string {
	var out []string
	for name := range sc.used {
		switch strings.ToLower(name) {
		case "mysql", "information_schema", "performance_schema", "sys":
			continue
		}
		if !sc.created[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// createMissingDatabases creates on db the databases the fixture uses
// without creating them, with the collation its queries give them when the
// server knows it.
func createMissingDatabases(t *testing.T, db *sql.DB, scan fixtureScan) {
	t.Helper()
	ctx := context.Background()
	for _, name := range scan.missingDatabases() {
		q := "CREATE DATABASE " + quoteName(name)
		if id, ok := scan.collation[name]; ok {
			var coll string
			err := db.QueryRowContext(ctx, "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID = ?", id).Scan(&coll)
			switch {
			case err == nil:
				q += " COLLATE " + coll
			case !errors.Is(err, sql.ErrNoRows):
				t.Fatalf("look up collation %d: %v", id, err)
			}
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("create database %s the fixture uses: %v", name, err)
		}
	}
}

// quoteName quotes an identifier with backticks.
func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// replayFixtureFile replays the whole file into srv with four workers,
// row events applied by apply, and returns the replay's error. A replay
// that outlives fixtureTimeout fails the test as hung.
func replayFixtureFile(t *testing.T, path string, srv *sandbox.Server, apply replay.ApplyMode) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fixtureTimeout)
	defer cancel()
	o := withApply(opts(4), apply)
	o.Files, o.TargetDSN, o.Recovery.Reconnect = []string{path}, srv.DSN(""), 0
	sum, err := replay.Run(ctx, o, io.Discard)
	if err == nil && sum.Apply != apply {
		t.Fatalf("--apply %s: row events applied by %q", apply, sum.Apply)
	}
	if ctx.Err() != nil {
		t.Fatalf("replay did not finish within %v (hung?): %v", fixtureTimeout, err)
	}
	if err == nil && sum == nil {
		t.Fatal("replay returned neither a summary nor an error")
	}
	if err == nil && !strings.Contains(sum.StopReason, "end of the binlogs") {
		t.Errorf("replay stopped early without an error: %q", sum.StopReason)
	}
	return err
}

// requireLocated fails t unless err names the file, an offset and the
// event it failed on: an *event.Error with all three, or an *replay.ApplyError
// whose transaction position is in file and whose text names an event.
func requireLocated(t *testing.T, err error, file string) {
	t.Helper()
	var be *event.Error
	var ae *replay.ApplyError
	switch {
	case errors.As(err, &be):
		if be.File != file || be.Offset < 4 || be.EventType == "" {
			t.Errorf("binlog error %q lacks file %s, offset or event type", err, file)
		}
	case errors.As(err, &ae):
		if ae.Start.File != file || ae.Start.Offset < 4 {
			t.Errorf("apply error %q does not name %s and an offset", err, file)
		}
		if ae.Event == "" && !strings.Contains(ae.Err.Error(), "EVENT") {
			t.Errorf("apply error %q names no event", err)
		}
	default:
		t.Errorf("replay error %T %q is neither an *event.Error nor a *replay.ApplyError", err, err)
	}
}

// shortErr describes a replay error in one short line: the event and
// position and the server's message for an *replay.ApplyError.
func shortErr(err error) string {
	var ae *replay.ApplyError
	if !errors.As(err, &ae) {
		return firstLine(err)
	}
	where := "transaction at " + ae.Start.String()
	if ae.Event != "" {
		where = ae.Event
	}
	return firstLine(fmt.Errorf("%s: %w", where, ae.Err))
}

// anchorReason shortens the anchor's error to the client's message.
func anchorReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "ERROR "); i >= 0 {
		msg = msg[i:]
	}
	return firstLine(errors.New(msg))
}

// firstLine returns the first line of err's text, at most 160 bytes.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// openServer opens a pool on srv, closed with the test.
func openServer(t *testing.T, srv *sandbox.Server) *sql.DB {
	t.Helper()
	db, err := srv.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
