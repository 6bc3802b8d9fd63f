package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// buildBinary builds the command into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "binlog-replay")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// resumeWorkload writes rows whose double application would be detected:
// inserts of fresh keys (a second insert fails), and statement-format
// increments (a second one changes the total).
func resumeWorkload(ctx context.Context, db *sql.DB) error {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 15000; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		k := rng.IntN(50)
		stmts := []string{
			fmt.Sprintf("INSERT INTO kr.log (id, k, v) VALUES (%d, %d, 'v%d')", i+1, k, i),
			fmt.Sprintf("UPDATE kr.counter SET n = n + 1, last = %d WHERE id = %d", i, k),
		}
		if i%7 == 0 {
			stmts = append(stmts, fmt.Sprintf("DELETE FROM kr.log WHERE id = %d", i/2+1))
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if i == 5000 {
			if _, err := db.ExecContext(ctx, "ALTER TABLE kr.log ADD COLUMN extra INT DEFAULT 7"); err != nil {
				return err
			}
		}
	}
	return nil
}

func resumeSetup(ctx context.Context, db *sql.DB) error {
	for _, s := range []string{
		"CREATE DATABASE kr",
		"CREATE TABLE kr.log (id INT PRIMARY KEY, k INT, v VARCHAR(20), KEY(k))",
		"CREATE TABLE kr.counter (id INT PRIMARY KEY, n INT NOT NULL, last INT)",
		"INSERT INTO kr.counter (id, n) SELECT seq, 0 FROM kr.seq_0_to_49",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// TestKillAndResume kills the tool with SIGKILL at random moments, at least
// twenty times, resumes each time, and checks the final state equals the
// source: a transaction applied twice would fail (duplicate key) or change
// a counter; one lost would leave a difference. Row-format binlogs are
// replayed with row events passed through and applied as SQL.
func TestKillAndResume(t *testing.T) {
	for _, c := range []struct{ format, apply string }{{"ROW", "binlog"}, {"ROW", "sql"}, {"STATEMENT", "binlog"}} {
		t.Run(c.format+",apply="+c.apply, func(t *testing.T) {
			testKillAndResume(t, c.format, c.apply)
		})
	}
}

func testKillAndResume(t *testing.T, format, apply string) {
	bin := buildBinary(t)
	sc := replaytest.New(t, format, resumeSetup, resumeWorkload)
	tgt, db := sc.Target(t)
	rng := rand.New(rand.NewPCG(11, uint64(len(format))))
	// kills counts the runs killed; midApply those after which the
	// checkpoint had moved: killed between commits, not while starting.
	kills, midApply := 0, 0
	var applied uint64
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for run := 0; ; run++ {
		if run > 300 {
			t.Fatal("replay did not finish after 300 runs")
		}
		args := []string{"replay", "--target", tgt.DSN(""), "--workers", "4", "--group-txns", "2", "--progress", "none",
			"--apply", apply}
		cp, err := replay.ReadCheckpoint(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if cp != nil {
			args = append(args, "--resume")
			if cp.Applied > applied && run > 0 {
				midApply++
			}
			applied = cp.Applied
		} else {
			args = append(args, "--start-position", sc.Start.String())
		}
		cmd := exec.Command(bin, append(args, sc.Files...)...)
		// The kill is timed from the moment the run says how it applies
		// row events, once it has connected and checked the target, so
		// that it lands among the commits whatever the machine's speed.
		out := newWatchWriter("row events: ")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer, poll <-chan time.Time
		if kills < 20 {
			select {
			case <-out.seen:
				timer = time.After(time.Duration(20+rng.IntN(130)) * time.Millisecond)
			case err := <-done:
				t.Fatalf("run %d ended before it started applying: %v\n%s", run, err, out)
			}
			if kills%2 == 1 {
				// Every other kill lands soon after the run's first
				// commit, however slow the machine is at the moment.
				timer, poll = nil, ticker.C
			}
		}
		for killed := false; !killed; {
			select {
			case <-poll:
				if cp, err := replay.ReadCheckpoint(context.Background(), db); err == nil && cp != nil && cp.Applied > applied {
					timer, poll = time.After(time.Duration(rng.IntN(40))*time.Millisecond), nil
				}
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d failed: %v\n%s", run, err, out)
				}
				if kills < 20 {
					t.Fatalf("replay finished after only %d kills: the workload is too small for this test", kills)
				}
				if want := "row events: passed through"; apply == "sql" && !strings.Contains(out.String(), "row events: applied as SQL") ||
					apply == "binlog" && !strings.Contains(out.String(), want) {
					t.Fatalf("the last run does not say it applied row events by %s:\n%s", apply, out)
				}
				if midApply < 5 {
					t.Fatalf("only %d of %d kills landed after a commit of the run killed: the test did not kill mid-apply", midApply, kills)
				}
				replaytest.RequireEqual(t, db, sc.SourceDB, "kr")
				t.Logf("%s, apply=%s: finished after %d kills (%d after a commit of the run killed) and %d runs", format, apply, kills, midApply, run+1)
				return
			case <-timer:
				_ = cmd.Process.Kill()
				<-done
				kills, killed = kills+1, true
			}
		}
	}
}

// watchWriter collects a process's output and closes seen once the
// output holds marker.
type watchWriter struct {
	mu     sync.Mutex
	b      strings.Builder
	marker string
	found  bool // marker is in b: seen is closed
	seen   chan struct{}
}

func newWatchWriter(marker string) *watchWriter {
	return &watchWriter{marker: marker, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if !w.found && strings.Contains(w.b.String(), w.marker) {
		w.found = true
		close(w.seen)
	}
	return len(p), nil
}

// String returns the output so far.
func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestInterruptAndResume sends SIGINT (Ctrl-C) mid-replay: the tool must
// stop at a transaction boundary on its own, report it and save the
// checkpoint; --resume then finishes with the target equal to the source.
func TestInterruptAndResume(t *testing.T) {
	bin := buildBinary(t)
	sc := replaytest.New(t, "ROW", resumeSetup, resumeWorkload)
	tgt, db := sc.Target(t)
	args := []string{"replay", "--target", tgt.DSN(""), "--workers", "4", "--group-txns", "2", "--progress", "none"}
	cmd := exec.Command(bin, append(append(args, "--start-position", sc.Start.String()), sc.Files...)...)
	out := newWatchWriter("row events: ")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once the run has committed (its checkpoint moved), however slow the
	// machine is at the moment: an interrupt while it starts is another
	// test's (TestInterruptedEarly).
	<-out.seen
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if cp, err := replay.ReadCheckpoint(context.Background(), db); err == nil && cp != nil && cp.Applied > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay committed nothing in a minute:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("interrupted replay: %v, want exit status 130\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "interrupted: stopped at a transaction boundary") {
		t.Fatalf("the summary does not say it was interrupted (did it finish before the signal?):\n%s", out.String())
	}
	cp, err := replay.ReadCheckpoint(context.Background(), db)
	if err != nil || cp == nil || cp.Applied == 0 {
		t.Fatalf("checkpoint after interrupt: %+v, %v", cp, err)
	}
	resume := exec.Command(bin, append(append(args, "--resume"), sc.Files...)...)
	if b, err := resume.CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "kr")
}

// TestVerifyAgainst replays into a staging target and compares it with a
// reference at the end: equal to the source it exits 0; against a
// reference that differs by one row it exits 1 and names the table.
func TestVerifyAgainst(t *testing.T) {
	bin := buildBinary(t)
	sc := replaytest.New(t, "ROW", resumeSetup, resumeWorkload)
	run := func(target, reference string) (string, error) {
		out, err := exec.Command(bin, append([]string{"replay", "--target", target, "--progress", "none",
			"--start-position", sc.Start.String(), "--verify-against", reference}, sc.Files...)...).CombinedOutput()
		return string(out), err
	}
	tgt1, db1 := sc.Target(t)
	if out, err := run(tgt1.DSN(""), sc.Source.DSN("")); err != nil {
		t.Fatalf("replay --verify-against the source: %v\n%s", err, out)
	}
	if _, err := db1.Exec("UPDATE kr.counter SET n = n + 100 WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	tgt2, _ := sc.Target(t)
	out, err := run(tgt2.DSN(""), tgt1.DSN(""))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "counter") {
		t.Fatalf("replay --verify-against a reference differing in kr.counter: %v, want exit 1 naming the table\n%s", err, out)
	}
}

// TestDryRun rehearses on a staging target: with clean binlogs it replays,
// verifies against the source and reports; with a flipped byte in the
// binlogs it refuses before applying anything (the staging target gets no
// checkpoint), where a plain replay would apply everything before the bad
// byte first.
func TestDryRun(t *testing.T) {
	bin := buildBinary(t)
	sc := replaytest.New(t, "ROW", resumeSetup, resumeWorkload)
	run := func(target string, files []string) (string, error) {
		out, err := exec.Command(bin, append([]string{"replay", "--dry-run", "--target", target, "--progress", "none",
			"--start-position", sc.Start.String(), "--verify-against", sc.Source.DSN("")}, files...)...).CombinedOutput()
		return string(out), err
	}
	tgt, _ := sc.Target(t)
	out, err := run(tgt.DSN(""), sc.Files)
	if err != nil || !strings.Contains(out, "dry run: the binlogs read cleanly") || !strings.Contains(out, "equals the reference") {
		t.Fatalf("dry run on clean binlogs: %v\n%s", err, out)
	}
	// A flipped byte in the middle of the workload's file.
	dir := t.TempDir()
	var files []string
	for _, f := range sc.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == sc.Start.File {
			data[len(data)/2] ^= 0x20
		}
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	tgt2, db2 := sc.Target(t)
	out, err = run(tgt2.DSN(""), files)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "nothing applied") || !strings.Contains(out, sc.Start.File) {
		t.Fatalf("dry run on a corrupt binlog: %v, want exit 1 before applying, naming the file\n%s", err, out)
	}
	if cp, err := replay.ReadCheckpoint(context.Background(), db2); err != nil || cp != nil {
		t.Fatalf("the refused dry run wrote a checkpoint: %+v, %v", cp, err)
	}
}
