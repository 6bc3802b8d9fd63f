package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// replayInto replays the scenario's binlogs into a fresh target restored
// from the base and returns the target. A replay applying row events as
// SQL must have applied every one so (Summary.Apply; SQLRowEvents when
// the binlogs hold row events).
func replayInto(t *testing.T, sc *replaytest.Scenario, o replay.Options) (*sql.DB, *replay.Summary) {
	t.Helper()
	return replayIntoPrepared(t, sc, o, nil)
}

// replayIntoPrepared is replayInto with prepare, when set, run on the
// target before the replay.
func replayIntoPrepared(t *testing.T, sc *replaytest.Scenario, o replay.Options, prepare func(*testing.T, *sql.DB)) (*sql.DB, *replay.Summary) {
	t.Helper()
	tgt, db := sc.Target(t)
	if prepare != nil {
		prepare(t, db)
	}
	o.Files = sc.Files
	o.TargetDSN = tgt.DSN("")
	if o.Select.StartPosition.IsZero() {
		o.Select.StartPosition = sc.Start
	}
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	checkApplied(t, o, sum, log.String())
	return db, sum
}

// applyModes are the two ways of applying row events that the equivalence
// tests run: passthrough in BINLOG statements, and SQL made from the row
// images.
var applyModes = []replay.ApplyMode{replay.ApplyBinlog, replay.ApplySQL}

// withApply returns o applying row events by mode.
func withApply(o replay.Options, mode replay.ApplyMode) replay.Options {
	o.Apply.Mode = mode
	return o
}

// checkApplied fails t unless a replay run with o applied row events as o
// asks (when it names a mode, not auto) and said so in its log.
func checkApplied(t *testing.T, o replay.Options, sum *replay.Summary, log string) {
	t.Helper()
	switch {
	case !strings.Contains(log, "row events: "):
		t.Fatalf("the log does not say how row events are applied\nlog:\n%s", log)
	case o.Apply.Mode != replay.ApplyAuto && o.Apply.Mode != "" && sum.Apply != o.Apply.Mode:
		t.Fatalf("--apply %s: the replay applied row events by %q\nlog:\n%s", o.Apply.Mode, sum.Apply, log)
	}
}

// dropTriggers drops every trigger on the target: a row-format source
// logged what its triggers wrote, and SQL statements applying the rows
// would fire them again (the SQL apply path refuses such tables: see
// replay.TriggerMode). Statement-format binlogs need them kept.
func dropTriggers(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query("SELECT TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS")
	if err != nil {
		t.Fatal(err)
	}
	var drops []string
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		drops = append(drops, "DROP TRIGGER "+quoteName(s)+"."+quoteName(n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := replaytest.ExecAll(context.Background(), db, drops...); err != nil {
		t.Fatal(err)
	}
}

// sqlPrepare returns what to run on a target before replaying binlogs of
// the given format with mode: for SQL of row-format binlogs, dropTriggers.
func sqlPrepare(mode replay.ApplyMode, format string) func(*testing.T, *sql.DB) {
	if mode == replay.ApplySQL && format == "ROW" {
		return dropTriggers
	}
	return nil
}

func opts(workers int) replay.Options {
	o := replay.DefaultOptions()
	o.Apply.Workers = workers
	return o
}

// scenarioTxns reads the transactions of the scenario's binlogs from its
// start.
func scenarioTxns(t *testing.T, sc *replaytest.Scenario) []*txn.Txn {
	t.Helper()
	return readTxns(t, sc.Files, binlog.Options{Start: sc.Start})
}

// readTxns reads every transaction of files.
func readTxns(t *testing.T, files []string, opts binlog.Options) []*txn.Txn {
	t.Helper()
	r, err := binlog.NewReader(files, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*txn.Txn
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read the binlogs: %v", err)
		}
		out = append(out, tx)
	}
}

// queryStrings returns the first column of every row query returns.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// domainConns returns one connection of db per domain, each logging in
// that GTID domain; the caller closes them.
func domainConns(ctx context.Context, db *sql.DB, domains ...int) ([]*sql.Conn, error) {
	conns := make([]*sql.Conn, 0, len(domains))
	for _, d := range domains {
		c, err := db.Conn(ctx)
		if err == nil {
			_, err = c.ExecContext(ctx, fmt.Sprintf("SET SESSION gtid_domain_id=%d", d))
			conns = append(conns, c)
		}
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
	}
	return conns, nil
}

// oneSession returns a workload that runs stmts in order on one
// connection (replaytest.ExecAll), so that session settings (SET
// TIMESTAMP, server_id, gtid_seq_no) carry from one statement to the next.
func oneSession(stmts ...string) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error { return replaytest.ExecAll(ctx, db, stmts...) }
}

// requireRows fails t unless table holds want rows on db.
func requireRows(t *testing.T, db *sql.DB, table string, want int) {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil || n != want {
		t.Fatalf("%s holds %d rows (%v), want %d", table, n, err, want)
	}
}
