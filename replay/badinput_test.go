package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/binlog/event"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// badInputScenario writes 300 one-row transactions into one binlog file and
// returns the scenario and a private copy of the files up to that one.
func badInputScenario(t *testing.T) (*replaytest.Scenario, []string) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE bad", "CREATE TABLE bad.t (id INT PRIMARY KEY, v VARCHAR(40))")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 300; i++ {
				if _, err := db.ExecContext(ctx, "INSERT INTO bad.t VALUES (?, ?)", i, strings.Repeat("x", i%40)); err != nil {
					return err
				}
			}
			return nil
		})
	dir := t.TempDir()
	var files []string
	for _, f := range sc.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		if filepath.Base(f) == sc.Start.File {
			break // the workload's file is the last one given
		}
	}
	return sc, files
}

// completeBefore counts the transactions the reader returns before its
// first error, and returns that error.
func completeBefore(t *testing.T, files []string, start txn.Position) (int, error) {
	r, err := binlog.NewReader(files, binlog.Options{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
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

func countRows(t *testing.T, db *sql.DB) int {
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM bad.t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTruncatedLastFile(t *testing.T) {
	sc, files := badInputScenario(t)
	last := files[len(files)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()*3/5); err != nil {
		t.Fatal(err)
	}
	complete, readErr := completeBefore(t, files, sc.Start)
	if !errors.Is(readErr, binlog.ErrTruncated) || complete < 10 {
		t.Fatalf("reader: %d transactions then %v; want many, then a truncation", complete, readErr)
	}
	t.Run("default applies every complete transaction", func(t *testing.T) {
		tgt, db := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartPosition = files, tgt.DSN(""), sc.Start
		sum, err := replay.Run(context.Background(), o, io.Discard)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if !strings.Contains(sum.StopReason, "ends inside a transaction") {
			t.Errorf("stop reason %q does not say the file was cut", sum.StopReason)
		}
		if got := countRows(t, db); got != complete || int(sum.Applied) != complete {
			t.Errorf("target has %d rows, summary %d applied; want the %d complete transactions", got, sum.Applied, complete)
		}
	})
	t.Run("strict refuses", func(t *testing.T) {
		tgt, _ := sc.Target(t)
		o := opts(4)
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Strict = files, tgt.DSN(""), sc.Start, true
		if _, err := replay.Run(context.Background(), o, io.Discard); !errors.Is(err, binlog.ErrTruncated) {
			t.Fatalf("replay --strict on a truncated binlog: %v, want ErrTruncated", err)
		}
	})
	// A stop point before the transaction the file ends inside is
	// reached there, --strict or not: before, the replay said the stop
	// point was never reached (exit 3) when it was that transaction's
	// GTID, and --strict refused.
	partial := binlog.PartialTxn(readErr)
	if partial == nil || partial.GTID.IsZero() || partial.Seq != uint64(complete+1) {
		t.Fatalf("what was read of the cut transaction: %+v; want its GTID, #%d", partial, complete+1)
	}
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprint("stop before it, strict=", strict), func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(4)
			o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Strict = files, tgt.DSN(""), sc.Start, strict
			o.Select.StopBeforeGTID = partial.GTID
			sum, err := replay.Run(context.Background(), o, io.Discard)
			if err != nil || !strings.Contains(sum.StopReason, "--stop-before-gtid") {
				t.Fatalf("replay: %v, stop %q; want stopped before GTID %s", err, sum.StopReason, partial.GTID)
			}
			if got := countRows(t, db); got != complete || int(sum.Applied) != complete {
				t.Errorf("target has %d rows, summary %d applied; want the %d complete transactions", got, sum.Applied, complete)
			}
			rep, err := plan.Run(context.Background(), plan.Options{Files: files, StartPosition: sc.Start, StopBeforeGTID: partial.GTID})
			if err != nil || rep.Replay.Fails || rep.Replay.StoppedBefore == nil || rep.Replay.StoppedBefore.Start != partial.Start {
				t.Fatalf("plan: %v, fails %v, stops before %+v; want a stop before %s", err, rep.Replay.Fails, rep.Replay.StoppedBefore, partial.Start)
			}
		})
	}
}

func TestFlippedByte(t *testing.T) {
	sc, files := badInputScenario(t)
	last := files[len(files)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	off := len(data) * 3 / 5
	data[off] ^= 0x5a
	if err := os.WriteFile(last, data, 0o600); err != nil {
		t.Fatal(err)
	}
	complete, readErr := completeBefore(t, files, sc.Start)
	var be *event.Error
	if !errors.As(readErr, &be) {
		t.Fatalf("reader after a flipped byte: %v, want an *event.Error", readErr)
	}
	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition = files, tgt.DSN(""), sc.Start
	sum, err := replay.Run(context.Background(), o, io.Discard)
	if !errors.As(err, &be) || be.File != filepath.Base(last) {
		t.Fatalf("replay: %v, want an *event.Error naming %s", err, filepath.Base(last))
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", be.Offset)) {
		t.Errorf("error %q does not name the offset", err)
	}
	if got := countRows(t, db); got != complete || int(sum.Applied) != complete {
		t.Errorf("target has %d rows, summary %d applied; want the %d transactions before the bad byte", got, sum.Applied, complete)
	}
}
