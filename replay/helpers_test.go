package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// replayInto replays the scenario's binlogs into a fresh target restored
// from the base and returns the target.
func replayInto(t *testing.T, sc *replaytest.Scenario, o replay.Options) (*sql.DB, *replay.Summary) {
	t.Helper()
	tgt, db := sc.Target(t)
	o.Files = sc.Files
	o.TargetDSN = tgt.DSN("")
	if o.StartPosition.IsZero() {
		o.StartPosition = sc.Start
	}
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	return db, sum
}

func opts(workers int) replay.Options {
	o := replay.DefaultOptions()
	o.Workers = workers
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
