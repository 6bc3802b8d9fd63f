package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
)

func TestPreflightUsage(t *testing.T) {
	for _, args := range [][]string{
		{"preflight", "--target", "root@unix(/nonexistent)/"}, // no binlogs
		{"preflight", "testdata"},                             // no target
		{"preflight", "--target", "root@unix(/x)/", "--workers", "-1", "../../testdata/binlogs/mariadb-10.11/row/mysql-bin.000001"}, // bad workers
		{"preflight", "--target", "root@unix(/x)/", "--start-gtid", "target"},                                                       // no set
	} {
		var stdout, stderr bytes.Buffer
		if code := runMain(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit status %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

// TestPreflightCommand: binlogs holding a 3 MB row against a target whose
// max_allowed_packet is 1 MB: preflight exits 1 naming the check (also
// with --json), and replay --dry-run prints the checks and applies
// nothing, and so does replay --estimate; with 16 MB both go ahead, the
// dry run printing the estimate, and replay --estimate prints it before
// and compares it with the replay's duration after.
func TestPreflightCommand(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "CREATE DATABASE big")
			if err == nil {
				_, err = db.ExecContext(ctx, "CREATE TABLE big.blobs (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB")
			}
			return err
		},
		func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "INSERT INTO big.blobs SELECT seq, REPEAT('z', 100) FROM big.seq_1_to_50")
			if err == nil {
				_, err = db.ExecContext(ctx, "INSERT INTO big.blobs VALUES (1000, REPEAT('b', 3000000))")
			}
			return err
		})
	small := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true, Args: []string{"--max-allowed-packet=1M"}})
	args := func(cmd, dsn string, extra ...string) []string {
		a := []string{cmd, "--target", dsn, "--start-position", sc.Start.String(), "--workers", "2"}
		if cmd == "preflight" {
			a = append(a, "--sample", "500", "--commits", "50")
		} else {
			a = append(a, "--progress", "none")
		}
		return append(append(a, extra...), sc.Files...)
	}
	var stdout, stderr bytes.Buffer
	if code := runMain(args("preflight", small.DSN("")), &stdout, &stderr); code != 1 ||
		!strings.Contains(stdout.String(), "FAIL    max_allowed_packet: too small") || !strings.Contains(stderr.String(), "the replay would fail: max_allowed_packet") {
		t.Fatalf("preflight on a 1 MB max_allowed_packet: exit status %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("preflight, 1 MB max_allowed_packet:\n%s", stdout.String())
	stdout.Reset()
	if code := runMain(args("preflight", small.DSN(""), "--json"), &stdout, &stderr); code != 1 {
		t.Fatalf("preflight --json: exit status %d, want 1", code)
	}
	var rep struct {
		Checks []struct{ Name, Status string }
		ETA    struct{ Seconds float64 }
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Checks) == 0 || rep.ETA.Seconds <= 0 {
		t.Fatalf("preflight --json: %v\n%s", err, stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := runMain(args("replay", small.DSN(""), "--dry-run"), &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "nothing applied: a preflight check failed") {
		t.Fatalf("replay --dry-run on a 1 MB max_allowed_packet: exit status %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	db, err := small.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp != nil {
		t.Fatalf("the refused dry run wrote a checkpoint: %+v, %v", cp, err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := runMain(args("replay", small.DSN(""), "--estimate"), &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "replay --estimate: nothing applied: a preflight check failed") {
		t.Fatalf("replay --estimate on a 1 MB max_allowed_packet: exit status %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp != nil {
		t.Fatalf("the refused replay --estimate wrote a checkpoint: %+v, %v", cp, err)
	}

	big := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true, Args: []string{"--max-allowed-packet=16M"}})
	stdout.Reset()
	stderr.Reset()
	if code := runMain(args("preflight", big.DSN("")), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "ESTIMATE: the replay should take about") {
		t.Fatalf("preflight on a 16 MB max_allowed_packet: exit status %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := runMain(args("replay", big.DSN(""), "--dry-run"), &stdout, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "ESTIMATE: the replay should take about") || !strings.Contains(stdout.String(), "applied 2 transactions") {
		t.Fatalf("replay --dry-run on a 16 MB max_allowed_packet: exit status %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	// --estimate: the estimate before, the replay, and the comparison after.
	fresh := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true, Args: []string{"--max-allowed-packet=16M"}})
	stdout.Reset()
	stderr.Reset()
	if code := runMain(args("replay", fresh.DSN(""), "--estimate"), &stdout, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "ESTIMATE: the replay should take about") || !strings.Contains(stdout.String(), "applied 2 transactions") ||
		!regexp.MustCompile(`estimate: about [0-9.]+m?s \([0-9.]+m?s to [0-9.]+m?s\); the replay took [0-9.]+m?s`).MatchString(stderr.String()) {
		t.Fatalf("replay --estimate on a 16 MB max_allowed_packet: exit status %d, want 0, the estimate before and the comparison after\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestReplayInterruptedWhileChecking: SIGINT or SIGTERM while the replay
// checks the target before anything is applied (here: a context already
// cancelled, and no server behind the address) exits 130, interrupted,
// not 1 (soak seed 10096: "context canceled. Nothing was applied", exit 1).
func TestReplayInterruptedWhileChecking(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	args := []string{"--target", "root@tcp(127.0.0.1:1)/", "--resume", "--progress", "none", "../../testdata/binlogs/mariadb-10.11/row/mysql-bin.000001"}
	if code := runReplay(ctx, args, io.Discard, &stderr); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted while checking the target") {
		t.Fatalf("exit status %d, want %d (interrupted)\n%s", code, exitInterrupted, stderr.String())
	}
	// The same while --dry-run reads the binlogs as plan does.
	stderr.Reset()
	ro := replay.DefaultOptions()
	ro.Files = args[len(args)-1:]
	if code := dryRunCheck(ctx, &ro, &stderr); code != exitInterrupted {
		t.Fatalf("--dry-run's check: exit status %d, want %d (interrupted)\n%s", code, exitInterrupted, stderr.String())
	}
}
