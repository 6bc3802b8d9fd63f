package plan_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

const (
	nInserts = 40
	mDeletes = 15
	bigRows  = 2000
)

// truth is what the source server itself says about the workload.
type truth struct {
	dropGTID  string       // @@last_gtid after the DROP
	dropStart txn.Position // the DROP's GTID event, from SHOW BINLOG EVENTS
}

func setupTables(ctx context.Context, db *sql.DB) error {
	for _, q := range []string{
		"CREATE DATABASE app",
		"CREATE TABLE app.t1 (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE app.t2 (id INT PRIMARY KEY, v VARCHAR(20))",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// workload runs N inserts and M deletes on t1, one 2000-row insert and one
// 2000-row DELETE on t2, then beforeDrop (if not nil) and, a second later,
// DROP TABLE t1; it returns the DROP's GTID.
func workload(ctx context.Context, db *sql.DB, beforeDrop func() error) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	for i := 1; i <= nInserts; i++ {
		if _, err := conn.ExecContext(ctx, "INSERT INTO app.t1 VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
			return "", err
		}
	}
	for i := 1; i <= mDeletes; i++ {
		if _, err := conn.ExecContext(ctx, "DELETE FROM app.t1 WHERE id = ?", i); err != nil {
			return "", err
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	for i := 0; i < bigRows; i += 500 {
		vals := make([]string, 500)
		for j := range vals {
			vals[j] = fmt.Sprintf("(%d, 'x')", i+j+1)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO app.t2 VALUES "+strings.Join(vals, ",")); err != nil {
			tx.Rollback()
			return "", err
		}
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM app.t2"); err != nil {
		return "", err
	}
	if beforeDrop != nil {
		if err := beforeDrop(); err != nil {
			return "", err
		}
	}
	time.Sleep(1100 * time.Millisecond) // the DROP's second is later than everything before it
	if _, err := conn.ExecContext(ctx, "DROP TABLE app.t1"); err != nil {
		return "", err
	}
	var gtid string
	err = conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid)
	return gtid, err
}

// dropStart finds the DROP's transaction start with SHOW BINLOG EVENTS:
// the Gtid event just before the DROP query.
func dropStart(t *testing.T, db *sql.DB, files []string) txn.Position {
	t.Helper()
	for _, f := range files {
		name := f[strings.LastIndexByte(f, '/')+1:]
		rows, err := db.Query("SHOW BINLOG EVENTS IN '" + name + "'")
		if err != nil {
			t.Fatalf("show binlog events: %v", err)
		}
		var gtidPos uint64
		for rows.Next() {
			var log, typ, info string
			var pos, serverID, end uint64
			if err := rows.Scan(&log, &pos, &typ, &serverID, &end, &info); err != nil {
				t.Fatal(err)
			}
			if typ == "Gtid" {
				gtidPos = pos
			}
			if typ == "Query" && strings.HasPrefix(info, "DROP TABLE") && strings.Contains(info, "t1") {
				rows.Close()
				return txn.Position{File: name, Offset: gtidPos}
			}
		}
		rows.Close()
	}
	t.Fatal("no DROP TABLE in SHOW BINLOG EVENTS")
	return txn.Position{}
}

// TestPlanGeneratedBinlog plans a binlog of known SQL written by MariaDB and
// checks the counts, the DDL list and the stop flags against what the
// server says; then replays with each stop flag and checks the target is
// the source just before the DROP, as plan predicted.
func TestPlanGeneratedBinlog(t *testing.T) {
	ctx := context.Background()
	var tr truth
	var beforeDrop map[string]string
	sc := replaytest.New(t, "ROW", setupTables, func(ctx context.Context, db *sql.DB) error {
		var err error
		tr.dropGTID, err = workload(ctx, db, func() error {
			var err error
			beforeDrop, err = verify.Checksum(ctx, db, verify.Options{Databases: []string{"app"}})
			return err
		})
		return err
	})
	tr.dropStart = dropStart(t, sc.SourceDB, sc.Files)

	rep, err := plan.Run(ctx, plan.Options{Files: sc.Files, StartPosition: sc.Start})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := plan.WriteText(&text, rep, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("plan report:\n%s", text.String())

	c := rep.Contents
	// N + M autocommit statements, one insert and one delete transaction
	// on t2, the DROP.
	if c.Transactions != nInserts+mDeletes+3 || c.ByKind["rows"] != nInserts+mDeletes+2 || c.ByKind["ddl"] != 1 {
		t.Errorf("transactions %d by kind %v", c.Transactions, c.ByKind)
	}
	want := map[string]plan.OpCounts{
		"app.t1": {Insert: nInserts, Delete: mDeletes},
		"app.t2": {Insert: bigRows, Delete: bigRows},
	}
	if len(c.Tables) != 2 {
		t.Errorf("tables %+v", c.Tables)
	}
	for _, tc := range c.Tables {
		if tc.Rows != want[tc.Table] {
			t.Errorf("%s: rows %+v, want %+v", tc.Table, tc.Rows, want[tc.Table])
		}
	}
	if len(c.GTIDs) != 1 || c.GTIDs[0].Count != c.Transactions || !c.GTIDs[0].Contiguous || c.GTIDs[0].Last != tr.dropGTID {
		t.Errorf("GTIDs %+v, DROP's GTID %s", c.GTIDs, tr.dropGTID)
	}
	if len(rep.Candidates) != 2 {
		t.Fatalf("candidates %+v", rep.Candidates)
	}
	big, drop := rep.Candidates[0], rep.Candidates[1]
	if big.Kind != "big-delete" || !strings.Contains(big.Detail, "DELETE of 2000 rows: app.t2 (2000)") {
		t.Errorf("first candidate %+v", big)
	}
	if drop.Kind != "drop-table" || !strings.HasPrefix(drop.Detail, "DROP TABLE") || c.DDL != 1 {
		t.Errorf("second candidate %+v, DDL %d", drop, c.DDL)
	}
	// The DELETE can be undone, as far as the binlog tells; the DROP not.
	if want := []string{"--start-position " + big.Start.String(), "--stop-position " + big.End.String()}; !slices.Equal(big.Undo, want) || big.UndoRefusal != "" {
		t.Errorf("the DELETE's undo flags %q (refusal %q), want %q", big.Undo, big.UndoRefusal, want)
	}
	// And by its GTID, which the source gave it.
	if g, err := txn.ParseGTID(big.GTID); err != nil || !slices.Equal(big.UndoGTIDs, []string{fmt.Sprintf("--gtids %s..%d", g, g.Seq)}) {
		t.Errorf("the DELETE (GTID %s) undone by GTID with %q (%v)", big.GTID, big.UndoGTIDs, err)
	}
	if drop.Undo != nil || !strings.Contains(drop.UndoRefusal, "DDL") {
		t.Errorf("the DROP's undo flags %q, refusal %q; want a refusal naming DDL", drop.Undo, drop.UndoRefusal)
	}
	if drop.StopPosition != tr.dropStart.String() || drop.StopBeforeGTID != tr.dropGTID || len(drop.Warnings) != 0 {
		t.Errorf("DROP's flags %q %q (warnings %q), server says start %s GTID %s",
			drop.StopPosition, drop.StopBeforeGTID, drop.Warnings, tr.dropStart, tr.dropGTID)
	}
	checkFlags(t, sc, rep, drop, beforeDrop)
}

// checkFlags replays with each of the DROP candidate's stop flags and
// checks that the replay applied exactly what plan predicted for that
// flag, and that the target equals the source just before the DROP.
func checkFlags(t *testing.T, sc *replaytest.Scenario, base *plan.Report, drop plan.Candidate, before map[string]string) {
	ctx := context.Background()
	dt, err := time.ParseInLocation("2006-01-02 15:04:05", drop.StopDatetime, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	pos := drop.Ref.Start
	g, err := txn.ParseGTID(drop.StopBeforeGTID)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*plan.Options, *replay.Options){
		"position": func(p *plan.Options, r *replay.Options) { p.StopPosition, r.Select.StopPosition = pos, pos },
		"datetime": func(p *plan.Options, r *replay.Options) { p.StopDatetime, r.Select.StopDatetime = dt, dt },
		"gtid":     func(p *plan.Options, r *replay.Options) { p.StopBeforeGTID, r.Select.StopBeforeGTID = g, g },
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			po := plan.Options{Files: sc.Files, StartPosition: sc.Start}
			ro := replay.DefaultOptions()
			set(&po, &ro)
			pred, err := plan.Run(ctx, po)
			if err != nil {
				t.Fatal(err)
			}
			p := pred.Replay
			if p.StoppedBefore == nil || p.StoppedBefore.Seq != drop.Seq || p.Applied != drop.Seq-1 {
				t.Fatalf("plan predicts stop before %+v after %d, want before #%d", p.StoppedBefore, p.Applied, drop.Seq)
			}
			tgt, db := sc.Target(t)
			ro.Files, ro.TargetDSN, ro.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
			var log strings.Builder
			sum, err := replay.Run(ctx, ro, &log)
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, log.String())
			}
			if sum.Applied != p.Applied || sum.Last == nil || sum.Last.Seq != p.Last.Seq || sum.Last.Start != p.Last.Start {
				t.Errorf("replay applied %d, last %+v; plan predicted %d, last %+v", sum.Applied, sum.Last, p.Applied, p.Last)
			}
			got, err := verify.Checksum(ctx, db, verify.Options{Databases: []string{"app"}})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(before) {
				t.Errorf("target %v, want the source before the DROP %v", got, before)
			}
		})
	}
}

// TestPlanFullMetadata: with binlog_row_metadata=FULL the table maps carry
// the primary key, rows are keyed one by one and the critical path is
// short; without it every table is one key.
func TestPlanFullMetadata(t *testing.T) {
	ctx := context.Background()
	for _, full := range []bool{true, false} {
		t.Run(fmt.Sprint("full=", full), func(t *testing.T) {
			var args []string
			if full {
				args = []string{"--binlog-row-metadata=FULL"}
			}
			s := sandbox.ForTest(t, sandbox.Options{Binlog: true, Args: args})
			db, err := s.Open(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := setupTables(ctx, db); err != nil {
				t.Fatal(err)
			}
			var file string
			var pos uint64
			var doDB, ignoreDB sql.NullString
			if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
				t.Fatal(err)
			}
			if _, err := workload(ctx, db, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
				t.Fatal(err)
			}
			files, err := s.BinlogFiles()
			if err != nil {
				t.Fatal(err)
			}
			rep, err := plan.Run(ctx, plan.Options{Files: files, StartPosition: txn.Position{File: file, Offset: pos}})
			if err != nil {
				t.Fatal(err)
			}
			checkParallelism(t, rep.Parallelism, full)
		})
	}
}

// checkParallelism checks the critical path, worked out by hand with one
// unit per transaction and commits in order. With row keys: the N inserts
// run at once and commit at 1; each delete waits for its insert (2); the
// t2 insert may start at 0 but commits after the deletes (2); the t2
// delete waits for it (3); the DROP waits for everything (4). With table
// keys the N inserts and M deletes of t1 form one chain (N+M), the t2
// insert commits after them, the t2 delete at N+M+1, the DROP at N+M+2.
func checkParallelism(t *testing.T, p plan.Parallelism, full bool) {
	t.Helper()
	want := float64(4)
	if !full {
		want = nInserts + mDeletes + 2
	}
	var got float64 = -1
	for _, c := range p.CriticalPath {
		if c.Cost == "txn" {
			got = c.Path
		}
	}
	if got != want {
		t.Errorf("critical path %v transactions, want %v", got, want)
	}
	if p.Barriers != 1 || p.BarrierReasons["ddl"] != 1 {
		t.Errorf("barriers %d %v, want the DROP", p.Barriers, p.BarrierReasons)
	}
	if full && (p.RowTables != 2 || len(p.WholeTables) != 0) || !full && (p.RowTables != 0 || len(p.WholeTables) != 2) {
		t.Errorf("row-keyed tables %d, whole tables %+v", p.RowTables, p.WholeTables)
	}
	if !full && (len(p.HotKeys) < 1 || p.HotKeys[0].Key != "app.t1 (whole table)" || p.HotKeys[0].Txns != nInserts+mDeletes) {
		t.Errorf("hot keys %+v", p.HotKeys)
	}
	if full && (len(p.HotKeys) < 1 || p.HotKeys[0].Txns != 2 || !strings.HasPrefix(p.HotKeys[0].Key, "app.t")) {
		t.Errorf("hot keys %+v", p.HotKeys)
	}
}

// TestPlanStatementFormat: in STATEMENT format a DELETE without WHERE is a
// candidate, one with WHERE is not, and every statement transaction is a
// barrier.
func TestPlanStatementFormat(t *testing.T) {
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: "STATEMENT"})
	db, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := setupTables(ctx, db); err != nil {
		t.Fatal(err)
	}
	var file string
	var pos uint64
	var doDB, ignoreDB sql.NullString
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO app.t1 VALUES (1, 'a'), (2, 'b'), (3, 'c')",
		"UPDATE app.t1 SET v = 'x' WHERE id = 1",
		"DELETE FROM app.t1 WHERE id = 2",
		"DELETE /* all of it */ FROM app.t1",
		"FLUSH BINARY LOGS",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	files, err := s.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := plan.Run(ctx, plan.Options{Files: files, StartPosition: txn.Position{File: file, Offset: pos}})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Contents
	if c.Transactions != 4 || c.ByKind["statement"] != 4 || c.Statements != 4 || c.RowEvents.Total() != 0 {
		t.Errorf("contents %+v", c)
	}
	if len(rep.Candidates) != 1 || rep.Candidates[0].Kind != "delete-without-where" || rep.Candidates[0].Seq != 4 {
		t.Errorf("candidates %+v", rep.Candidates)
	}
	if p := rep.Parallelism; p.Barriers != 4 || p.BarrierReasons["statement"] != 4 {
		t.Errorf("barriers %d %v", p.Barriers, p.BarrierReasons)
	}
}
