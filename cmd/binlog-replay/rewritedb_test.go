package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/verify"
)

// copyDatabase creates, on db, the database to with a copy of every table
// of from (an operator restoring a backup of from under another name).
func copyDatabase(t *testing.T, db *sql.DB, from, to string) {
	t.Helper()
	ctx := context.Background()
	tables := []string{}
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", from)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	stmts := []string{"CREATE DATABASE " + to}
	for _, tb := range tables {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s.%s LIKE %s.%s", to, tb, from, tb),
			fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM %s.%s", to, tb, from, tb))
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestRewriteDBKillAndResume restores kr under the name kr_side on a
// target that keeps its own kr, and replays with --rewrite-db kr=kr_side,
// killing the tool with SIGKILL at random moments and resuming each time:
// kr_side must end equal to the source's kr (a transaction applied twice
// would fail on a duplicate key or change a counter), and the target's kr
// be untouched. Every other resume gives the rules without --databases,
// which the checkpoint keeps. A resume without --rewrite-db, or with other
// rules (with --databases or without), is refused and applies nothing.
func TestRewriteDBKillAndResume(t *testing.T) {
	for _, format := range []string{"ROW", "STATEMENT"} {
		t.Run(format, func(t *testing.T) { testRewriteDBKillAndResume(t, format) })
	}
}

func testRewriteDBKillAndResume(t *testing.T, format string) {
	const wantKills = 8
	bin := buildBinary(t)
	sc := replaytest.New(t, format, resumeSetup, resumeWorkload)
	tgt, db := sc.Target(t)
	copyDatabase(t, db, "kr", "kr_side")
	ctx := context.Background()
	before, err := verify.Checksum(ctx, db, verify.Options{Databases: []string{"kr"}})
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"replay", "--target", tgt.DSN(""), "--workers", "4", "--group-txns", "2", "--progress", "none"}
	// Every other resume gives no --databases: the checkpoint keeps it.
	rules, filters := []string{"--rewrite-db", "kr=kr_side"}, []string{"--databases", "kr"}
	rng := rand.New(rand.NewPCG(13, uint64(len(format))))
	kills, refusedChecked := 0, false
	for run := 0; ; run++ {
		if run > 200 {
			t.Fatal("replay did not finish after 200 runs")
		}
		cp, err := replay.ReadCheckpoint(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		args := append(append([]string{}, base...), rules...)
		if cp == nil || run%2 == 0 {
			args = append(args, filters...)
		}
		if cp != nil {
			args = append(args, "--resume")
			if !refusedChecked && cp.Applied > 0 {
				withFilters := append(append([]string{}, base...), filters...)
				checkResumeRefused(t, bin, db, append(append([]string{}, withFilters...), "--resume"), sc.Files)
				checkResumeRefused(t, bin, db, append(append([]string{}, withFilters...), "--resume", "--rewrite-db", "kr=other_side"), sc.Files)
				checkResumeRefused(t, bin, db, append(append([]string{}, base...), "--resume", "--rewrite-db", "kr=other_side"), sc.Files)
				refusedChecked = true
			}
		} else {
			args = append(args, "--start-position", sc.Start.String())
		}
		cmd := exec.Command(bin, append(args, sc.Files...)...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer <-chan time.Time
		if kills < wantKills {
			// Kill while it applies: once the checkpoint has moved (the
			// binlogs are read ahead first, to check the rules).
			var was uint64
			if cp != nil {
				was = cp.Applied
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			timer = afterProgress(runCtx, db, was, time.Duration(rng.IntN(150))*time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed: %v\n%s", run, err, out.String())
			}
			if kills < wantKills {
				t.Fatalf("replay finished after only %d kills: the workload is too small for this test", kills)
			}
			rep, err := verify.Compare(ctx, db, sc.SourceDB, verify.Options{Databases: []string{"kr"},
				TargetNames: map[string]string{"kr": "kr_side"}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Equal() || len(rep.Tables) != 2 {
				t.Fatalf("kr_side differs from the source's kr:\n%s", rep)
			}
			after, err := verify.Checksum(ctx, db, verify.Options{Databases: []string{"kr"}})
			if err != nil {
				t.Fatal(err)
			}
			for name, sum := range before {
				if after[name] != sum {
					t.Fatalf("the target's %s changed: the replay wrote outside kr_side", name)
				}
			}
			t.Logf("%s: finished after %d kills and %d runs", format, kills, run+1)
			return
		case <-timer:
			_ = cmd.Process.Kill()
			<-done
			kills++
		}
	}
}

// afterProgress returns a channel that receives once the checkpoint on db
// has passed applied transactions, and then wait has passed (never when
// ctx ends first).
func afterProgress(ctx context.Context, db *sql.DB, applied uint64, wait time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		for {
			cp, err := replay.ReadCheckpoint(ctx, db)
			if err == nil && cp != nil && cp.Applied > applied {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			ch <- time.Now()
		}
	}()
	return ch
}

// checkResumeRefused runs the tool with args (a resume with other
// --rewrite-db rules than the checkpoint's) and fails unless it exits 1
// saying so, with the checkpoint still where the refused run found it.
// That is read from the run's own log, not before it: the killed run's
// last commit may still be completing on the server until the resume has
// ended the lost run's sessions, which it does before it reads the
// checkpoint.
func checkResumeRefused(t *testing.T, bin string, db *sql.DB, args, files []string) {
	t.Helper()
	out, err := exec.Command(bin, append(args, files...)...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "was made by a replay with --rewrite-db kr=kr_side") {
		t.Fatalf("%v: %v, want exit status 1 naming the checkpoint's rules:\n%s", args, err, out)
	}
	m := regexp.MustCompile(`resuming from checkpoint \S+ \((\d+) transactions applied before\)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%v: the refused run did not say which checkpoint it found:\n%s", args, out)
	}
	cp, err := replay.ReadCheckpoint(context.Background(), db)
	if err != nil || cp == nil || strconv.FormatUint(cp.Applied, 10) != m[1] {
		t.Fatalf("checkpoint %+v (%v) after the refused resume, want the %s transactions applied it found", cp, err, m[1])
	}
}

// TestRewriteDBExitStatus checks the command's answers: --rewrite-db
// without filters, or with a filter naming the new name, is a usage error
// (2); binlogs holding a DDL that cannot be renamed make replay refuse
// before applying anything (1, naming it and the flag that skips it) and
// plan say so (1); skipping it, the replay applies the rest (0), and
// --verify-against finds the target's shop_r equal to the source's shop.
func TestRewriteDBExitStatus(t *testing.T) {
	bin := buildBinary(t)
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			for _, s := range []string{"CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)", "INSERT INTO shop.t VALUES (1)"} {
				if _, err := db.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			return nil
		},
		func(ctx context.Context, db *sql.DB) error {
			for _, s := range []string{"INSERT INTO shop.t VALUES (2)", "CREATE VIEW shop.v AS SELECT id FROM shop.t",
				"INSERT INTO shop.t VALUES (3)"} {
				if _, err := db.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
	tgt, db := sc.Target(t)
	copyDatabase(t, db, "shop", "shop_r")
	var last string // the GTID of the last transaction, the one after the view
	if err := sc.SourceDB.QueryRow("SELECT @@gtid_binlog_pos").Scan(&last); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append(args, sc.Files...)...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return string(out), 0
		case errors.As(err, &exit):
			return string(out), exit.ExitCode()
		}
		t.Fatalf("%v: %v", args, err)
		return "", 0
	}
	replayArgs := []string{"replay", "--target", tgt.DSN(""), "--progress", "none", "--start-position", sc.Start.String()}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{append(replayArgs, "--rewrite-db", "shop=shop_r"), 2, "needs --databases or --tables"},
		{append(replayArgs, "--databases", "shop_r", "--rewrite-db", "shop=shop_r"), 2, "the new name of --rewrite-db shop=shop_r"},
		{append(replayArgs, "--databases", "shop", "--rewrite-db", "shop=binlog_replay"), 2, "cannot be renamed"},
		{append(replayArgs, "--databases", "shop", "--rewrite-db", "shop"), 2, "want OLD=NEW"},
		{append(replayArgs, "--databases", "shop", "--rewrite-db", "shop=shop_r", "--target-gtids", "source"), 2, "GTIDs of its own"},
		{[]string{"plan", "--databases", "shop", "--rewrite-db", "shop=shop_r", "--start-position", sc.Start.String()}, 1,
			"would refuse 1 transactions"},
		{append(replayArgs, "--databases", "shop", "--rewrite-db", "shop=shop_r"), 1,
			"nothing applied: --rewrite-db cannot apply 1 transaction(s)"},
	} {
		out, code := run(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Fatalf("%v: exit status %d, want %d saying %q:\n%s", c.args, code, c.code, c.want, out)
		}
	}
	if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp != nil {
		t.Fatalf("checkpoint %+v (%v) after the refusals: something was applied", cp, err)
	}
	// Skip the view alone.
	var domain, server, seq uint64
	if _, err := fmt.Sscanf(last, "%d-%d-%d", &domain, &server, &seq); err != nil {
		t.Fatalf("gtid_binlog_pos %q: %v", last, err)
	}
	skip := fmt.Sprintf("%d-%d-%d..%d", domain, server, seq-1, seq-1)
	// --verify-against compares the target's shop_r with the source's shop.
	out, code := run(append(replayArgs, "--databases", "shop", "--rewrite-db", "shop=shop_r", "--exclude-gtids", skip,
		"--verify-against", sc.Source.DSN(""))...)
	if code != 0 || !strings.Contains(out, "1 tables compared, all equal") {
		t.Fatalf("replay --exclude-gtids %s --verify-against the source: exit status %d:\n%s", skip, code, out)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM shop_r.t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("shop_r.t holds %d rows (%v), want 3", n, err)
	}
}
