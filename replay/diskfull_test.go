package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// padScenario creates table df.t, then inserts rows rows of 900 bytes in
// each of txns transactions.
func padScenario(t *testing.T, txns, rows int) *replaytest.Scenario {
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error { return replaytest.ExecAll(ctx, db, "CREATE DATABASE df") },
		func(ctx context.Context, db *sql.DB) error {
			// Created by the replay: in TestDiskFullTarget, in the
			// target's system tablespace.
			if err := replaytest.ExecAll(ctx, db, "CREATE TABLE df.t (id INT PRIMARY KEY, pad VARCHAR(1000) NOT NULL)"); err != nil {
				return err
			}
			for i := 0; i < txns; i++ {
				q := fmt.Sprintf("INSERT INTO df.t SELECT %d * %d + seq, REPEAT('p', 900) FROM df.seq_1_to_%d", i, rows, rows)
				if err := replaytest.ExecAll(ctx, db, q); err != nil {
					return err
				}
			}
			return nil
		})
}

// fillTablespace creates tables in db (database filler) until the target's
// tablespace is full (error 1114), and returns how many it created.
func fillTablespace(t *testing.T, db *sql.DB) int {
	t.Helper()
	ctx := context.Background()
	if err := replaytest.ExecAll(ctx, db, "CREATE DATABASE filler"); err != nil {
		t.Fatal(err)
	}
	batch := "INSERT INTO filler.f%d (pad) SELECT REPEAT('f', 255) FROM filler.seq_1_to_500"
	for n := 1; n <= 200; n++ {
		if err := replaytest.ExecAll(ctx, db, fmt.Sprintf("CREATE TABLE filler.f%d (id INT AUTO_INCREMENT PRIMARY KEY, pad CHAR(255) NOT NULL)", n)); err != nil {
			if isTableFull(err) {
				return n - 1
			}
			t.Fatal(err)
		}
		for i := 0; i < 8; i++ {
			if err := replaytest.ExecAll(ctx, db, fmt.Sprintf(batch, n)); err != nil {
				if isTableFull(err) {
					return n
				}
				t.Fatal(err)
			}
		}
	}
	t.Fatal("the tablespace never filled up")
	return 0
}

// waitForSpace waits until InnoDB reports at least want bytes free in the
// system tablespace, which holds table (dropped tables' pages are freed in
// the background).
func waitForSpace(t *testing.T, db *sql.DB, table string, want int64) {
	t.Helper()
	var free int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		err := db.QueryRow("SELECT DATA_FREE FROM information_schema.TABLES WHERE CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) = ?", table).Scan(&free)
		if err != nil {
			t.Fatal(err)
		}
		if free >= want {
			return
		}
	}
	t.Fatalf("only %d bytes free in the tablespace after 30 s", free)
}

func isTableFull(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1114
}

// TestDiskFullTarget replays into a target whose InnoDB system tablespace
// has a fixed size (a second data file of 24 MB, no autoextend;
// innodb_file_per_table=0, so the tables the replay creates live in it)
// and is nearly full (filled, then 3 MB freed): the replay must stop
// with the server's "table is full" error (1114) naming the transaction,
// with the checkpoint naming exactly what the target holds; once space is
// freed, --resume must finish and the target equal the source.
func TestDiskFullTarget(t *testing.T) {
	const txns, rows, freed = 200, 50, 3
	sc := padScenario(t, txns, rows)
	st, err := os.Stat(filepath.Join(sc.Base, "ibdata1"))
	if err != nil {
		t.Fatal(err)
	}
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: []string{
		fmt.Sprintf("--innodb-data-file-path=ibdata1:%dM;ibdata2:24M", st.Size()>>20), "--innodb-file-per-table=0"}})
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := fillTablespace(t, db)
	if tables < freed+1 {
		t.Fatalf("only %d filler tables", tables)
	}
	// Room for a part of the workload only.
	for i := 1; i <= freed; i++ {
		if err := replaytest.ExecAll(context.Background(), db, fmt.Sprintf("DROP TABLE filler.f%d", i)); err != nil {
			t.Fatalf("free some space: %v", err)
		}
	}
	waitForSpace(t, db, fmt.Sprintf("filler.f%d", freed+1), 6<<20) // 4 MB reported free when full, and 3 MB more
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
	began := time.Now()
	sum, err := replay.Run(context.Background(), o, nil)
	var ae *replay.ApplyError
	if !errors.As(err, &ae) || !isTableFull(err) {
		t.Fatalf("replay into a full target: %v (summary %+v); want an ApplyError with error 1114", err, sum)
	}
	t.Logf("after %v: %v", time.Since(began).Round(time.Millisecond), err)
	cp, cerr := replay.ReadCheckpoint(context.Background(), db)
	var n int
	if qerr := db.QueryRow("SELECT COUNT(*) FROM df.t").Scan(&n); qerr != nil || cerr != nil || cp == nil {
		t.Fatalf("count rows: %v; checkpoint %+v, %v", qerr, cp, cerr)
	}
	// Transaction 1 creates the table, each later one inserts rows.
	if cp.Applied < 1 || cp.Applied >= txns+1 || n != int(cp.Applied-1)*rows || sum.Applied != cp.Applied || ae.Seq != cp.Applied+1 {
		t.Fatalf("target holds %d rows, checkpoint says %d transactions applied, summary %d, failed transaction #%d: "+
			"want a prefix with %d rows per transaction after the first, failing at the next one", n, cp.Applied, sum.Applied, ae.Seq, rows)
	}
	// Space is back.
	for i := freed + 1; i <= tables; i++ {
		if err := replaytest.ExecAll(context.Background(), db, fmt.Sprintf("DROP TABLE filler.f%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitForSpace(t, db, "df.t", 16<<20)
	o.Select.StartPosition, o.Recovery.Resume = txn.Position{}, true
	if sum, err = replay.Run(context.Background(), o, nil); err != nil {
		t.Fatalf("resume once space is back: %v", err)
	}
	t.Logf("resumed: %d more transactions", sum.Applied)
	replaytest.RequireEqual(t, db, sc.SourceDB, "df")
}

// smallTmpfs mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends (after the servers it registers cleanups for before
// it). It skips the test when it cannot mount (not root, no mount
// command): TestDiskFullTarget covers a full target without mounting.
func smallTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (TestDiskFullTarget covers a full target without it)")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("mount a tmpfs: %v: %s (TestDiskFullTarget covers a full target without it)", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestTargetBinlogDiskFull replays into a target whose own binlog is on a
// 1 MB tmpfs: when it fills up, MariaDB does not fail the COMMIT but waits
// for space ("Waiting for someone to free space", retrying every minute).
// The replay must not wait silently: within seconds it must report the full
// disk, while the target holds a prefix matching its checkpoint. (An
// interrupt waits for the commit in flight, as always; the command exits at
// once on a second one.) The server is then killed, as an operator would
// do with one that cannot even shut down: the replay stops at once.
func TestTargetBinlogDiskFull(t *testing.T) {
	sc := padScenario(t, 40, 50)
	dir := smallTmpfs(t, 1<<20)
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: []string{
		"--log-bin=" + filepath.Join(dir, "target-bin"), "--binlog-format=ROW"}})
	t.Cleanup(func() { tgt.Kill() }) // it waits for space even to shut down
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
	o.Report.StallReport = time.Second
	var log syncLog
	done := make(chan error, 1)
	go func() {
		_, err := replay.Run(context.Background(), o, &log)
		done <- err
	}()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(log.String(), "The target's disk is full") {
		select {
		case err := <-done:
			t.Fatalf("the replay ended (%v) before the target's binlog filled up; log:\n%s", err, log.String())
		case <-deadline:
			t.Fatalf("no report of the full disk after 60 s; log:\n%s", log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("log:\n%s", log.String())
	// The target holds a prefix, as its checkpoint says.
	cp, err := replay.ReadCheckpoint(context.Background(), db)
	var n int
	if qerr := db.QueryRow("SELECT COUNT(*) FROM df.t").Scan(&n); err != nil || qerr != nil || cp == nil || n != int(cp.Applied-1)*50 {
		t.Fatalf("while waiting: %d rows, checkpoint %+v (%v, %v)", n, cp, err, qerr)
	}
	if err := tgt.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the replay succeeded, yet its target was killed")
		}
		t.Logf("target killed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the replay did not stop within 10 s of its target being killed")
	}
}
