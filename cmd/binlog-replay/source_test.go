package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/verify"
)

func TestSourceFlags(t *testing.T) {
	t.Setenv("MYSQL_PWD", "target-pw")
	t.Setenv(sourcePwdEnv, "source-pw")
	parse := func(args ...string) (*ReplayOptions, []string) {
		var o ReplayOptions
		fs := newTestFlagSet(&o)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &o, fs.Args()
	}
	o, rest := parse("--target", "root@tcp(t:3306)/", "--source", "repl@tcp(s:3306)/", "--source-start", "mysql-bin.000007:1234")
	ro, err := o.options(rest, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ro.Select.StartPosition.String() != "mysql-bin.000007:1234" || ro.Source.StartGTID != "" || ro.Source.ServerID < 1<<31 ||
		!strings.Contains(ro.Source.DSN, ":source-pw@") || !strings.Contains(ro.TargetDSN, ":target-pw@") || len(ro.Files) != 0 {
		t.Fatalf("options %+v", ro)
	}
	o, rest = parse("--target", "root@tcp(t:3306)/", "--source", "repl@tcp(s:3306)/", "--source-start", "0-1-100,1-2-5", "--source-server-id", "77")
	if ro, err = o.options(rest, io.Discard); err != nil {
		t.Fatal(err)
	}
	if ro.Source.StartGTID != "0-1-100,1-2-5" || ro.Source.ServerID != 77 || !ro.Select.StartPosition.IsZero() || ro.Select.StartGTIDs.String() == "" {
		t.Fatalf("options %+v", ro)
	}
	for _, bad := range [][]string{
		{"--source", "repl@tcp(s:3306)/", "--source-start", "f.000001:4", "some-file"},             // files and --source
		{"--source", "repl@tcp(s:3306)/"},                                                          // no start
		{"--source-start", "f.000001:4", "some-file"},                                              // --source-start without --source
		{"--source", "repl@tcp(s:3306)/", "--source-start", "f.000001:4", "--start-gtid", "0-1-5"}, // two starts
	} {
		o, rest := parse(append([]string{"--target", "root@tcp(t:3306)/"}, bad...)...)
		if _, err := o.options(rest, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestReplayFromSourceCLI runs the replay command against a live source
// whose replication user's password comes from the environment, and
// checks that the target ends equal and the password is never printed.
func TestReplayFromSourceCLI(t *testing.T) {
	const pwd = "s3cret-repl-pw"
	sc := replaytest.New(t, "ROW", sourceSetup(pwd), sourceWork)
	tgt, db := sc.Target(t)
	t.Setenv(sourcePwdEnv, pwd)
	source := fmt.Sprintf("repl@tcp(127.0.0.1:%d)/", sc.Source.Port)
	var stdout, stderr strings.Builder
	code := runReplay(context.Background(), []string{"--target", tgt.DSN(""), "--source", source,
		"--source-start", sc.Start.String(), "--progress", "plain", "--workers", "2"}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != 0 || !strings.Contains(out, "reached the end of the source's binlog") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, pwd) {
		t.Fatalf("the source password is printed:\n%s", out)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "cli")
}

// sourceSetup creates the cli.t table and a replication user 'repl' with
// password pwd.
func sourceSetup(pwd string) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		for _, q := range []string{"CREATE DATABASE cli", "CREATE TABLE cli.t (id INT PRIMARY KEY, v INT)",
			"CREATE USER 'repl'@'%' IDENTIFIED BY '" + pwd + "'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
}

// sourceWork inserts 196 rows into cli.t, flushing the binlog every 50th
// statement.
func sourceWork(ctx context.Context, db *sql.DB) error {
	for i := 1; i <= 200; i++ {
		q := fmt.Sprintf("INSERT INTO cli.t VALUES (%d, %d)", i, i)
		if i%50 == 0 {
			q = "FLUSH BINARY LOGS"
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// TestPlanFromSourceCLI runs plan --source: the report names the source
// and counts the workload's transactions; files with --source are refused.
func TestPlanFromSourceCLI(t *testing.T) {
	const pwd = "plan-repl-pw"
	sc := replaytest.New(t, "ROW", sourceSetup(pwd), sourceWork)
	t.Setenv(sourcePwdEnv, pwd)
	source := fmt.Sprintf("repl@tcp(127.0.0.1:%d)/", sc.Source.Port)
	var stdout, stderr strings.Builder
	code := runPlan(context.Background(), []string{"--source", source, "--source-start", sc.Start.String(), "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	var rep plan.Report
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if rep.Source != fmt.Sprintf("127.0.0.1:%d", sc.Source.Port) || rep.Contents.Transactions != 196 || len(rep.Files) != 4 {
		t.Errorf("source %q, %d transactions, %d files", rep.Source, rep.Contents.Transactions, len(rep.Files))
	}
	if strings.Contains(stdout.String()+stderr.String(), pwd) {
		t.Error("the source password is printed")
	}
	// A user without REPLICATION SLAVE: the source refuses the dump.
	if _, err := sc.SourceDB.Exec("CREATE USER 'norepl'@'%' IDENTIFIED BY '" + pwd + "'"); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	norepl := fmt.Sprintf("norepl@tcp(127.0.0.1:%d)/", sc.Source.Port)
	if code := runPlan(context.Background(), []string{"--source", norepl, "--source-start", sc.Start.String()}, io.Discard, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "REPLICATION SLAVE") {
		t.Errorf("a user without REPLICATION SLAVE: exit %d, %s", code, stderr.String())
	}
	stderr.Reset()
	if code := runPlan(context.Background(), []string{"--source", source, "--source-start", sc.Start.String(), sc.Files[0]},
		io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "not both") {
		t.Errorf("files and --source: exit %d, %s", code, stderr.String())
	}
}

// TestDryRunFromSource checks replay --dry-run --source: the check reads
// the source's binlog, and the replay that follows applies what was
// checked and stops there, even when the source logs more in between.
func TestDryRunFromSource(t *testing.T) {
	const pwd = "dry-repl-pw"
	ctx := context.Background()
	sc := replaytest.New(t, "ROW", sourceSetup(pwd), sourceWork)
	tgt, db := sc.Target(t)
	t.Setenv(sourcePwdEnv, pwd)
	source := fmt.Sprintf("repl@tcp(127.0.0.1:%d)/", sc.Source.Port)
	var o ReplayOptions
	fs := newTestFlagSet(&o)
	if err := fs.Parse([]string{"--target", tgt.DSN(""), "--source", source, "--source-start", sc.Start.String(),
		"--dry-run", "--workers", "2"}); err != nil {
		t.Fatal(err)
	}
	ro, err := o.options(fs.Args(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if code := dryRunCheck(ctx, &ro, &log); code != 0 || !strings.Contains(log.String(), "196 transactions to apply") ||
		!strings.Contains(log.String(), "the replay stops there") {
		t.Fatalf("dry-run check: exit %d\n%s", code, log.String())
	}
	want, err := verify.Checksum(ctx, sc.SourceDB, verify.Options{Databases: []string{"cli"}})
	if err != nil {
		t.Fatal(err)
	}
	// The source logs more after the check: the replay must not apply it.
	if _, err := sc.SourceDB.ExecContext(ctx, "INSERT INTO cli.t VALUES (1000, 1000)"); err != nil {
		t.Fatal(err)
	}
	sum, err := replay.Run(ctx, ro, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, err := verify.Checksum(ctx, db, verify.Options{Databases: []string{"cli"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Applied != 196 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("applied %d (want the 196 checked); target %v, source when checked %v", sum.Applied, got, want)
	}

	var stderr strings.Builder
	if code := runReplay(ctx, []string{"--target", tgt.DSN(""), "--source", source, "--dry-run", "--resume"}, io.Discard, &stderr); code != 2 {
		t.Errorf("--dry-run --resume --source: exit %d, want 2\n%s", code, stderr.String())
	}
}

// newTestFlagSet returns the replay command's flags, bound to o.
func newTestFlagSet(o *ReplayOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	return fs
}
