package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// excludeWork runs 30 transactions, each inserting a row and updating
// another, but those whose number is in skip. No two write the same row:
// in row format a later transaction's images would hold an excluded one's
// effect (excluding a transaction is not undoing it).
func excludeWork(skip map[int]bool) func(ctx context.Context, db *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		for i := 1; i <= 30; i++ {
			if skip[i] {
				continue
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for _, s := range []string{
				fmt.Sprintf("INSERT INTO ex.r VALUES (%d, %d)", i, i*10),
				fmt.Sprintf("UPDATE ex.c SET n = n + %d WHERE id = %d", i, i),
			} {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					tx.Rollback()
					return err
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	}
}

func excludeSetup(ctx context.Context, db *sql.DB) error {
	return replaytest.ExecAll(ctx, db, "CREATE DATABASE ex", "CREATE TABLE ex.r (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE ex.c (id INT PRIMARY KEY, n INT)", "INSERT INTO ex.c SELECT seq, 0 FROM ex.seq_1_to_30")
}

// TestExcludeGTIDRange excludes three transactions by a MariaDB GTID range
// (d-s-12..14): the target must equal a source where those three were
// never run, and exactly three be skipped. The same GTID without a range
// is a position, every transaction of the domain up to it: where that
// skips transactions of the range beside its own (the operator naming one
// transaction would lose the others in silence) it is refused before
// anything is applied; where it skips its own alone (the first of the
// range), it is taken.
func TestExcludeGTIDRange(t *testing.T) {
	for _, format := range []string{"ROW", "STATEMENT"} {
		t.Run(format, func(t *testing.T) { testExcludeGTIDRange(t, format) })
	}
}

func testExcludeGTIDRange(t *testing.T, format string) {
	all := replaytest.New(t, format, excludeSetup, excludeWork(nil))
	without := replaytest.New(t, format, excludeSetup, excludeWork(map[int]bool{12: true, 13: true, 14: true}))
	txns := scenarioTxns(t, all)
	if len(txns) != 30 {
		t.Fatalf("%d transactions in the binlogs, want 30", len(txns))
	}
	first, last := txns[11].GTID, txns[13].GTID
	for _, c := range []struct {
		exclude string
		skipped uint64 // 0: refused
	}{
		{fmt.Sprintf("%d-%d-%d..%d", first.Domain, first.Server, first.Seq, last.Seq), 3},
		{last.String(), 0},
		{txns[0].GTID.String(), 1},
	} {
		t.Run(c.exclude, func(t *testing.T) {
			o := opts(4)
			var err error
			if o.Select.ExcludeGTIDs, err = filter.ParseGTIDs(c.exclude); err != nil {
				t.Fatal(err)
			}
			tgt, db := all.Target(t)
			o.Files, o.TargetDSN, o.Select.StartPosition = all.Files, tgt.DSN(""), all.Start
			sum, err := replay.Run(context.Background(), o, io.Discard)
			if c.skipped == 0 {
				want := fmt.Sprintf("skips transaction %s", txns[0].GTID)
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing applied") {
					t.Fatalf("replay: %v (summary %+v); want a refusal naming %s", err, sum, txns[0].GTID)
				}
				requireRows(t, db, "ex.r", 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Skipped != c.skipped || sum.Applied != 30-c.skipped {
				t.Fatalf("skipped %d, applied %d: want %d skipped", sum.Skipped, sum.Applied, c.skipped)
			}
			if c.skipped == 3 {
				replaytest.RequireEqual(t, db, without.SourceDB, "ex")
			}
		})
	}
}

// TestExcludeGTIDsResume: the checkpoint keeps --exclude-gtids, and a
// resume goes on skipping them, given again or not: a resume that forgot
// them applied the transactions the operator meant to skip. A resume may
// add more, which later resumes keep too. The first run stops (as a kill
// would) before the excluded transactions.
func TestExcludeGTIDsResume(t *testing.T) {
	all := replaytest.New(t, "STATEMENT", excludeSetup, excludeWork(nil))
	without := replaytest.New(t, "STATEMENT", excludeSetup, excludeWork(map[int]bool{12: true, 13: true, 14: true, 25: true}))
	txns := scenarioTxns(t, all)
	first, last, later := txns[11].GTID, txns[13].GTID, txns[24].GTID
	exclude := fmt.Sprintf("%d-%d-%d..%d", first.Domain, first.Server, first.Seq, last.Seq)
	laterRange := fmt.Sprintf("%d-%d-%d..%d", later.Domain, later.Server, later.Seq, later.Seq)
	ctx := context.Background()
	tgt, db := all.Target(t)
	run := func(what, excl string, stop int, resume bool) {
		t.Helper()
		o := opts(2)
		o.Files, o.TargetDSN, o.Recovery.Resume = all.Files, tgt.DSN(""), resume
		if !resume {
			o.Select.StartPosition = all.Start
		}
		if stop > 0 {
			o.Select.StopPosition = txns[stop].Start
		}
		o.Select.ToEnd = resume && stop == 0
		var err error
		if o.Select.ExcludeGTIDs, err = filter.ParseGTIDs(excl); err != nil {
			t.Fatal(err)
		}
		if _, err := replay.Run(ctx, o, io.Discard); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("first run, --exclude-gtids "+exclude+", stopped before them", exclude, 5, false)
	run("resume without --exclude-gtids, stopped before the later one", "", 20, true)
	run("resume adding "+laterRange+", stopped before it", laterRange, 22, true)
	run("resume without --exclude-gtids, to the end", "", 0, true)
	replaytest.RequireEqual(t, db, without.SourceDB, "ex")
}

// TestExcludeGTIDPositionFromSource: reading from the source server (no
// reading ahead), a MariaDB position in --exclude-gtids that would skip a
// transaction beside its own stops the replay at that transaction,
// nothing of it applied.
func TestExcludeGTIDPositionFromSource(t *testing.T) {
	sc := replaytest.New(t, "ROW", excludeSetup, excludeWork(nil))
	txns := scenarioTxns(t, sc)
	tgt, db := sc.Target(t)
	o := sourceOpts(sc, 4)
	o.Select.StartPosition = sc.Start
	var err error
	if o.Select.ExcludeGTIDs, err = filter.ParseGTIDs(txns[13].GTID.String()); err != nil {
		t.Fatal(err)
	}
	sum, _, err := runFrom(tgt.DSN(""), o)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("skips transaction %s", txns[0].GTID)) {
		t.Fatalf("replay: %v (summary %+v); want a refusal naming %s", err, sum, txns[0].GTID)
	}
	requireRows(t, db, "ex.r", 0)
}
