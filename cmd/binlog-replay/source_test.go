package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
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
	if ro.StartPosition.String() != "mysql-bin.000007:1234" || ro.Source.StartGTID != "" || ro.Source.ServerID < 1<<31 ||
		!strings.Contains(ro.Source.DSN, ":source-pw@") || !strings.Contains(ro.TargetDSN, ":target-pw@") || len(ro.Files) != 0 {
		t.Fatalf("options %+v", ro)
	}
	o, rest = parse("--target", "root@tcp(t:3306)/", "--source", "repl@tcp(s:3306)/", "--source-start", "0-1-100,1-2-5", "--source-server-id", "77")
	if ro, err = o.options(rest, io.Discard); err != nil {
		t.Fatal(err)
	}
	if ro.Source.StartGTID != "0-1-100,1-2-5" || ro.Source.ServerID != 77 || !ro.StartPosition.IsZero() || ro.StartGTIDs.String() == "" {
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
	setup := func(ctx context.Context, db *sql.DB) error {
		for _, q := range []string{"CREATE DATABASE cli", "CREATE TABLE cli.t (id INT PRIMARY KEY, v INT)",
			"CREATE USER 'repl'@'%' IDENTIFIED BY '" + pwd + "'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
	work := func(ctx context.Context, db *sql.DB) error {
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
	sc := replaytest.New(t, "ROW", setup, work)
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

// newTestFlagSet returns the replay command's flags, bound to o.
func newTestFlagSet(o *ReplayOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	return fs
}
