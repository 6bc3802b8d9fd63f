package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/undo"
)

// undoSetup creates the tables of the undo's kill test.
func undoSetup(ctx context.Context, db *sql.DB) error {
	stmts := []string{
		"CREATE DATABASE ku",
		"CREATE TABLE ku.acct (id INT PRIMARY KEY, bal BIGINT NOT NULL, note VARCHAR(200))",
		"CREATE TABLE ku.log (id INT PRIMARY KEY, acct INT NOT NULL, amount INT, pad VARCHAR(200), KEY (acct))",
		"INSERT INTO ku.acct SELECT seq, 1000, REPEAT('n', 150) FROM ku.seq_1_to_500",
		"INSERT INTO ku.log SELECT seq, seq % 500 + 1, seq, REPEAT('p', 150) FROM ku.seq_1_to_20000",
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// undoAccident is the accident of the kill test: 8,000 transactions that
// move money and log it (rows inserted, updated and deleted, many rows
// touched by several of them), then one large DELETE (about 3 MB of row
// events, read and applied in pieces under --memory 1M).
func undoAccident(ctx context.Context, db *sql.DB) error {
	rng := rand.New(rand.NewPCG(5, 9))
	for i := 0; i < 8000; i++ {
		from, to := rng.IntN(500)+1, rng.IntN(500)+1
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, s := range []string{
			fmt.Sprintf("UPDATE ku.acct SET bal = bal - %d WHERE id = %d", i%97, from),
			fmt.Sprintf("UPDATE ku.acct SET bal = bal + %d WHERE id = %d", i%97, to),
			fmt.Sprintf("INSERT INTO ku.log VALUES (%d, %d, %d, 'moved')", 100000+i, from, i%97),
			fmt.Sprintf("DELETE FROM ku.log WHERE id = %d", 1+rng.IntN(10000)),
		} {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err := db.ExecContext(ctx, "DELETE FROM ku.log WHERE id > 10000")
	return err
}

// TestUndoKillAndResume kills undo with SIGKILL at random moments, resumes
// it each time, and checks the end state equals a replay of the binlogs
// that skips the accident: an inverse applied twice or lost would leave a
// difference (or fail on a row check). The undo runs on the source itself,
// whose binlog gets the undo's writes: a resume must not take them for
// later writes to the range.
func TestUndoKillAndResume(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t)
	var first, last *txn.Txn
	sc := replaytest.New(t, "ROW", undoSetup, func(ctx context.Context, db *sql.DB) error {
		if err := undoAccident(ctx, db); err != nil {
			return err
		}
		_, err := db.ExecContext(ctx, "INSERT INTO ku.acct VALUES (9001, 1, 'after the accident')")
		return err
	})
	txns := readUndoTxns(t, sc.Files, sc.Start)
	first, last = txns[0], txns[len(txns)-2] // all but the unrelated insert
	// The reference: the binlogs without the accident.
	ref, refDB := sc.Target(t)
	for i, r := range [][2]txn.Position{{last.End, {}}} {
		o := replay.DefaultOptions()
		o.Files, o.TargetDSN, o.Select.StartPosition, o.Select.StopPosition = sc.Files, ref.DSN(""), r[0], r[1]
		o.Select.StopNeverReachedOK = true
		if _, err := replay.Run(ctx, o, io.Discard); err != nil {
			t.Fatalf("reference replay %d: %v", i, err)
		}
	}
	// A killed undo must leave no spool file behind (its inverse row
	// events: the size of the range's).
	spoolDir := t.TempDir()
	requireNoSpool := func(when string) {
		t.Helper()
		if left, err := os.ReadDir(spoolDir); err != nil || len(left) > 0 {
			t.Fatalf("%s, the spool directory holds %d files (%v)", when, len(left), err)
		}
	}
	args := []string{"undo", "--target", sc.Source.DSN(""), "--workers", "4", "--group-txns", "2", "--memory", "1M",
		"--spool-dir", spoolDir, "--start-position", first.Start.String(), "--stop-position", last.End.String()}
	rng := rand.New(rand.NewPCG(13, 17))
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	kills := 0
	for run := 0; ; run++ {
		if run > 200 {
			t.Fatal("undo did not finish after 200 runs")
		}
		a := args
		if state := undoState(t, sc.SourceDB); state == "running" {
			a = append(a, "--resume")
		}
		cmd := exec.Command(bin, append(a, sc.Files...)...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		seq := undoApplied(t, sc.SourceDB)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Every other kill lands soon after the run's first commit, so
		// that half the killed runs undo some and are killed while they
		// write, however long reading the binlogs takes on this machine;
		// the others within 300 ms of the start, mostly while it reads.
		var (
			poll  <-chan time.Time
			timer <-chan time.Time
		)
		switch {
		case kills >= 12:
		case kills%2 == 0:
			poll = ticker.C
		default:
			timer = time.After(time.Duration(30+rng.IntN(270)) * time.Millisecond)
		}
		for killed := false; !killed; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d failed: %v\n%s", run, err, out.String())
				}
				if kills < 12 {
					t.Fatalf("undo finished after only %d kills: the accident is too small for this test\n%s", kills, out.String())
				}
				if !strings.Contains(out.String(), "finished: the range") {
					t.Fatalf("the last run does not say the undo finished:\n%s", out.String())
				}
				replaytest.RequireEqual(t, sc.SourceDB, refDB, "ku")
				requireNoSpool("after the last run")
				t.Logf("finished after %d kills and %d runs; last run:\n%s", kills, run+1, out.String())
				return
			case <-poll:
				if undoApplied(t, sc.SourceDB) != seq {
					poll, timer = nil, time.After(time.Duration(rng.IntN(80))*time.Millisecond)
				}
			case <-timer:
				_ = cmd.Process.Kill()
				<-done
				requireNoSpool(fmt.Sprintf("after kill %d", kills+1))
				kills, killed = kills+1, true
			}
		}
	}
}

// undoApplied returns the undo checkpoint's count of inverse transactions
// committed, -1 before the first.
func undoApplied(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	seq := int64(-1)
	err := db.QueryRow("SELECT seq FROM binlog_replay.checkpoint WHERE channel = 'undo'").Scan(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "1146") {
		t.Fatal(err)
	}
	return seq
}

// TestUndoSummaryText checks the lines of the undo's summary that depend
// on how far it got: no "later writes" line when it stopped before the
// scan, no "undone" line when it stopped before applying anything (a
// refusal over later writes), and both once it applied.
func TestUndoSummaryText(t *testing.T) {
	p := func(file string, off uint64) txn.Position { return txn.Position{File: file, Offset: off} }
	rng := undo.Summary{RangeStart: p("mysql-bin.000001", 400), RangeEnd: p("mysql-bin.000001", 900), RangeTxns: 2}
	scanned := rng
	scanned.ScannedTo, scanned.LaterTxns = p("mysql-bin.000002", 300), 5
	stopped := scanned // stopped on its first inverse transaction
	stopped.Next = stopped.RangeEnd
	finished := stopped
	finished.Undone, finished.Next, finished.Finished = 2, finished.RangeStart, true
	finished.Tables = []undo.TableRows{{Table: "app.t", Inserted: 7}}
	for _, c := range []struct {
		name    string
		sum     undo.Summary
		want    []string
		notWant []string
	}{
		{"stopped before the scan", rng, []string{"range: 2 transactions"}, []string{"later writes", "undone"}},
		{"refused over later writes", scanned, []string{"later writes: 5 transactions read after the range, to mysql-bin.000002:300"},
			[]string{"undone"}},
		{"stopped at its first transaction", stopped, []string{"undone 0 transactions", "checkpoint: the range is undone from mysql-bin.000001:900"}, nil},
		{"finished", finished, []string{"later writes: 5", "undone 2 transactions", "app.t: 7 inserted back", "finished: the range"}, nil},
	} {
		var b strings.Builder
		printUndoSummary(&b, &c.sum, false, nil)
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: the summary lacks %q:\n%s", c.name, w, b.String())
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: the summary says %q:\n%s", c.name, w, b.String())
			}
		}
	}
}

// undoState returns the state of the undo recorded on the target, "" when
// there is none.
func undoState(t *testing.T, db *sql.DB) string {
	t.Helper()
	var state string
	err := db.QueryRow("SELECT state FROM binlog_replay.undo WHERE channel = 'undo'").Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "1146") {
		t.Fatal(err)
	}
	return state
}

// readUndoTxns reads the transactions of files from start.
func readUndoTxns(t *testing.T, files []string, start txn.Position) []*txn.Txn {
	t.Helper()
	r, err := binlog.NewReader(files, binlog.Options{Start: start})
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
			t.Fatal(err)
		}
		out = append(out, tx)
	}
}

// TestUndoGTIDsFlag checks --gtids on the command line, without a
// server: its ranges reach the undo's options, and what cannot name the
// transactions exactly (a MariaDB position, a MySQL set, overlapping
// ranges) or is combined with the start and stop flags is a usage error
// (exit status 2) saying why, before any connection.
func TestUndoGTIDsFlag(t *testing.T) {
	files := "../../testdata/binlogs/mariadb-10.11/row/"
	var o UndoOptions
	fs := flag.NewFlagSet("undo", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--target", "root@unix(/x)/", "--gtids", "0-1-5001..5003, 1-1-7..7"}); err != nil {
		t.Fatal(err)
	}
	uo, err := o.options([]string{files}, io.Discard)
	want := []filter.GTIDRange{{Domain: 0, Server: 1, First: 5001, Last: 5003}, {Domain: 1, Server: 1, First: 7, Last: 7}}
	if err != nil || !slices.Equal(uo.Range.GTIDs, want) {
		t.Fatalf("options: %+v, %v; want the ranges %+v", uo.Range.GTIDs, err, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--gtids", "0-1-5003"}, "--gtids: \"0-1-5003\" is a MariaDB GTID position, every transaction of domain 0 up to sequence number 5003: " +
			"name transactions exactly with a range, 0-1-5003..5003 for that one alone"},
		{[]string{"--gtids", "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-7"}, "MySQL GTID set"},
		{[]string{"--gtids", "0-1-5..9,0-1-9..12"}, "the ranges 0-1-5..9 and 0-1-9..12 overlap"},
		{[]string{"--gtids", "0-1-5..9", "--stop-position", "mysql-bin.000001:400"}, "by --gtids or by its start and stop"},
		{[]string{"--gtids", "0-1-5..9", "--start-datetime", "2026-12-04 10:00:00"}, "by --gtids or by its start and stop"},
		{nil, "its transactions by --gtids, or its end by --stop-position or --stop-datetime"},
	} {
		var stdout, stderr strings.Builder
		args := append([]string{"--target", "root@unix(/nonexistent/mysqld.sock)/"}, c.args...)
		code := runUndo(context.Background(), append(args, files), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit status %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// TestUndoInterruptedEarly: an undo interrupted before it reaches the
// target (here: cancelled before it starts) exits 130, saying what holds,
// not 1 with a bare "context canceled".
func TestUndoInterruptedEarly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr strings.Builder
	code := runUndo(ctx, []string{"--target", "root@unix(/nonexistent/mysqld.sock)/", "--gtids", "0-1-5001..5003",
		"../../testdata/binlogs/mariadb-10.11/row/"}, &stdout, &stderr)
	if code != 130 || !strings.Contains(stderr.String(), "binlog-replay undo: interrupted (") {
		t.Fatalf("exit status %d, stderr %q; want 130 and the interruption explained", code, stderr.String())
	}
}
