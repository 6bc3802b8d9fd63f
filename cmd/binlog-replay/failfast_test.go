package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The first-minute mistakes of docs/troubleshooting.md: each fails within
// seconds, before anything is written on the target, saying what to check.

// magicOnlyBinlog writes a file that passes for a binlog when the files
// are listed (it has the magic number) and returns its path.
func magicOnlyBinlog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mysql-bin.000001")
	if err := os.WriteFile(path, []byte{0xfe, 'b', 'i', 'n'}, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort returns a loopback TCP address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// runReplayCLI runs the replay command and returns its exit status, its
// output and how long it took.
func runReplayCLI(t *testing.T, args ...string) (int, string, time.Duration) {
	t.Helper()
	var stdout, stderr strings.Builder
	begin := time.Now()
	code := runReplay(t.Context(), append([]string{"--progress", "none"}, args...), &stdout, &stderr)
	return code, stdout.String() + stderr.String(), time.Since(begin)
}

// requireMessage fails t unless out holds every one of want.
func requireMessage(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in:\n%s", w, out)
		}
	}
}

// TestFailFastUnreachableTarget: nothing listening on the target's port,
// or no socket at its path, is an error within seconds naming the
// address and what to check, not two minutes of reconnecting.
func TestFailFastUnreachableTarget(t *testing.T) {
	file := magicOnlyBinlog(t)
	addr := closedPort(t)
	code, out, took := runReplayCLI(t, "--target", "root@tcp("+addr+")/", file)
	if code != 1 || took > 5*time.Second || strings.Contains(out, "retrying") {
		t.Errorf("closed port: exit %d after %s:\n%s", code, took, out)
	}
	requireMessage(t, out, "cannot connect to the target at tcp("+addr+"): nothing listens there",
		"connection refused", "Check that the server is running and the host and port in --target", "Nothing was applied")

	sock := filepath.Join(t.TempDir(), "no", "mysqld.sock")
	code, out, took = runReplayCLI(t, "--target", "root@unix("+sock+")/", file)
	if code != 1 || took > 5*time.Second {
		t.Errorf("missing socket: exit %d after %s:\n%s", code, took, out)
	}
	requireMessage(t, out, "cannot connect to the target at unix("+sock+"): there is no socket at that path",
		"the socket path in --target", "SELECT @@socket")
}

// TestReplayRunNeverConnected: replay.Run itself (without the command's
// check) does not reconnect to a target it never reached: the backoff of
// --reconnect-for is for a target lost after the replay connected.
func TestReplayRunNeverConnected(t *testing.T) {
	opts := replay.DefaultOptions()
	opts.Files = []string{magicOnlyBinlog(t)}
	opts.TargetDSN = "root@tcp(" + closedPort(t) + ")/"
	opts.Recovery.Reconnect = 2 * time.Minute
	var log strings.Builder
	begin := time.Now()
	_, err := replay.Run(t.Context(), opts, &log)
	if err == nil || time.Since(begin) > 5*time.Second || strings.Contains(log.String(), "lost the target") {
		t.Fatalf("error %v after %s; log:\n%s", err, time.Since(begin), log.String())
	}
	if !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("error: %v", err)
	}
}

// TestFailFastNotAServer: an address where something other than a MySQL
// server answers, or where nothing answers, is an error within the
// connect timeout.
func TestFailFastNotAServer(t *testing.T) {
	for _, tc := range []struct {
		name, banner, want string
	}{
		{"other protocol", "SSH-2.0-OpenSSH_9.2\r\n", "what answered is not a MySQL or MariaDB server"},
		{"silent", "", "no MySQL or MariaDB server answered within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					if tc.banner == "" {
						defer c.Close() // silent: keeps the connection open
						continue
					}
					io.WriteString(c, tc.banner) // another protocol's greeting, then it hangs up
					c.Close()
				}
			}()
			begin := time.Now()
			err = checkServer(t.Context(), "target", "root@tcp("+ln.Addr().String()+")/", nil, 500*time.Millisecond)
			if err == nil || time.Since(begin) > 3*time.Second {
				t.Fatalf("error %v after %s", err, time.Since(begin))
			}
			requireMessage(t, err.Error(), "cannot connect to the target at tcp("+ln.Addr().String()+")", tc.want, "--target")
		})
	}
}

// TestFailFastBackupDir: --from-backup naming a directory that does not
// exist, or one without a position file (a copy of the datadir), is a
// usage error saying what the directory should hold.
func TestFailFastBackupDir(t *testing.T) {
	file := magicOnlyBinlog(t)
	missing := filepath.Join(t.TempDir(), "nope")
	code, out, _ := runReplayCLI(t, "--target", "root@tcp(127.0.0.1:3306)/", "--from-backup", missing, file)
	if code != 2 {
		t.Errorf("missing dir: exit %d", code)
	}
	requireMessage(t, out, "--from-backup "+missing+": no such directory", "give the directory of the restored base backup")

	empty := t.TempDir()
	code, out, _ = runReplayCLI(t, "--target", "root@tcp(127.0.0.1:3306)/", "--from-backup", empty, file)
	if code != 2 {
		t.Errorf("empty dir: exit %d", code)
	}
	requireMessage(t, out, "has none of mariadb_backup_binlog_info, xtrabackup_binlog_info, metadata",
		"a copy of the datadir alone has none", "--start-position FILE:POS")
}

// TestFailFastBinlogFiles: a binlog path that does not exist, a directory
// without binlogs and no files at all are usage errors saying what to give.
func TestFailFastBinlogFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "mysql-bin.000001")
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{missing}, missing + " does not exist: give the directory that holds the binlogs"},
		{[]string{empty}, "no binlog files in " + empty + ": a binlog file is named like mysql-bin.000042"},
		{nil, "no binlog files given: give the directory that holds them"},
	} {
		code, out, _ := runReplayCLI(t, append([]string{"--target", "root@tcp(127.0.0.1:3306)/"}, tc.args...)...)
		if code != 2 {
			t.Errorf("%q: exit %d", tc.args, code)
		}
		requireMessage(t, out, tc.want)
	}
	var stdout, stderr strings.Builder
	if code := runPlan(t.Context(), []string{missing}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "does not exist") {
		t.Errorf("plan: exit %d: %s", code, stderr.String())
	}
}

// TestFollowsBackup checks the GTID continuity between a backup's
// position and the first transaction at it.
func TestFollowsBackup(t *testing.T) {
	backup := func(gtids string) replay.BackupStart {
		set, err := txn.ParseGTIDSet(gtids)
		if err != nil {
			t.Fatal(err)
		}
		servers := map[uint32]uint32{}
		for _, part := range strings.Split(gtids, ",") {
			if g, err := txn.ParseGTID(part); err == nil && g.Flavor == txn.FlavorMariaDB {
				servers[g.Domain] = g.Server
			}
		}
		return replay.BackupStart{Position: txn.Position{File: "mysql-bin.000002", Offset: 342}, GTIDs: set, ServerIDs: servers,
			Source: "xtrabackup_binlog_info"}
	}
	first := func(gtid string) *txn.Txn {
		g, err := txn.ParseGTID(gtid)
		if err != nil {
			t.Fatal(err)
		}
		return &txn.Txn{GTID: g}
	}
	for _, tc := range []struct {
		backup, first, want string // want "" means it follows
	}{
		{"0-1-10", "0-1-11", ""},
		{"0-1-10", "0-7-11", ""},      // another server id of the same domain (a failover)
		{"0-1-10,1-1-5", "2-3-1", ""}, // a new domain's first transaction
		{"0-1-10", "0-1-10", "the backup already holds it"},
		{"0-1-10", "0-1-7", "the backup already holds it"},
		{"2-1-97", "2-12011-84", ""}, // logged out of order under another server id
		{"0-1-10", "0-2-57", "the next of domain 0 would be sequence number 11, so 46 transactions would be in neither"},
		// A domain the position leaves out: mariabackup records
		// gtid_current_pos, without a domain last written under another
		// server id.
		{"1-1-5", "0-1-11", ""},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-20", "3e11fa47-71ca-11e1-9e33-c80aa9429562:15", "the backup already holds it"},
		{"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-20", "4e11fa47-71ca-11e1-9e33-c80aa9429562:1", ""},
	} {
		err := followsBackup(first(tc.first), backup(tc.backup))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s after %s: %v", tc.first, tc.backup, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s after %s: %v, want %q", tc.first, tc.backup, err, tc.want)
		case err != nil:
			requireMessage(t, err.Error(), "the binlogs do not follow the base backup", "--no-continuity-check", "Nothing was applied")
		}
	}
}

// TestFailFastFirstMinute runs the mistakes that need a server against a
// real target: each fails before the target is written to (no checkpoint
// database is left), with its message; then the corrected command
// replays, not refused by a checkpoint an earlier mistake left.
func TestFailFastFirstMinute(t *testing.T) {
	ctx := context.Background()
	setup := func(rows int) func(context.Context, *sql.DB) error {
		return func(ctx context.Context, db *sql.DB) error {
			for _, q := range []string{"CREATE DATABASE ff", "CREATE TABLE ff.t (id INT PRIMARY KEY, v INT)"} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			for i := 1; i <= rows; i++ {
				if _, err := db.ExecContext(ctx, "INSERT INTO ff.t VALUES (?, 0)", -i); err != nil {
					return err
				}
			}
			return nil
		}
	}
	work := func(ctx context.Context, db *sql.DB) error {
		for i := 1; i <= 50; i++ {
			if _, err := db.ExecContext(ctx, "INSERT INTO ff.t VALUES (?, ?)", i, i); err != nil {
				return err
			}
		}
		return nil
	}
	// Two servers: the backup is of a; b's binlogs are another server's,
	// with the same file names and the same start offset.
	a := replaytest.New(t, "ROW", setup(3), work)
	b := replaytest.New(t, "ROW", setup(7), work)
	tgt, db := a.Target(t)
	backupDir := t.TempDir()
	var gtidPos string
	if err := a.SourceDB.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", a.Start.File, a.Start.Offset).Scan(&gtidPos); err != nil {
		t.Fatal(err)
	}
	info := fmt.Sprintf("%s\t%d\t%s\n", a.Start.File, a.Start.Offset, gtidPos)
	if err := os.WriteFile(filepath.Join(backupDir, "mariadb_backup_binlog_info"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	if b.Start != a.Start {
		t.Logf("b's binlogs start at %s, a's at %s", b.Start, a.Start)
	}
	for _, q := range []string{"CREATE USER nopriv@localhost", "CREATE USER binlogonly@localhost",
		"GRANT BINLOG REPLAY ON *.* TO binlogonly@localhost"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	target := tgt.DSN("")
	targetAt := func(user, database string) string {
		cfg, err := mysql.ParseDSN(target)
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.DBName = user, database
		return cfg.FormatDSN()
	}
	start := a.Start.String()
	for _, tc := range []struct {
		name  string
		args  []string
		files []string // default a's
		want  []string
	}{
		{"wrong database in the DSN", []string{"--target", targetAt("root", "nosuchdb"), "--start-position", start},
			nil, []string{`the --target DSN names the database "nosuchdb", which the target at unix(` + tgt.Socket + `) does not have`,
				"Unknown database", "leave it out (user@unix(" + tgt.Socket + ")/)"}},
		{"user without privileges", []string{"--target", targetAt("nopriv", ""), "--start-position", start},
			nil, []string{"denied to user 'nopriv'", "GRANT ALL ON binlog_replay.* TO <account>", "GRANT BINLOG REPLAY ON *.* TO <account>"}},
		{"user with BINLOG REPLAY only", []string{"--target", targetAt("binlogonly", ""), "--start-position", start},
			nil, []string{"denied to user 'binlogonly'", "GRANT ALL ON binlog_replay.* TO <account>"}},
		{"start file not among the files", []string{"--target", target, "--start-position", "mysql-bin.000009:4"},
			nil, []string{"the start position mysql-bin.000009:4 (from --start-position) is in mysql-bin.000009, which is not among the binlog files given"}},
		{"start inside an event", []string{"--target", target, "--start-position", fmt.Sprintf("%s:%d", a.Start.File, a.Start.Offset+1)},
			nil, []string{"start position is not an event boundary", "the nearest transaction boundary is " + start}},
		{"start beyond the end of the file", []string{"--target", target, "--start-position", a.Start.File + ":999999999"},
			nil, []string{"start offset is beyond the end of the file"}},
		{"source unreachable", []string{"--target", target, "--source", "root@tcp(" + closedPort(t) + ")/", "--source-start", start},
			[]string{}, []string{"cannot connect to the source at tcp(", "nothing listens there", "--source"}},
		{"binlogs of another server", []string{"--target", target, "--from-backup", backupDir}, b.Files,
			[]string{"the binlogs do not follow the base backup", "after sequence number", "--no-continuity-check"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files
			if files == nil {
				files = a.Files
			}
			code, out, took := runReplayCLI(t, append(tc.args, files...)...)
			t.Logf("exit %d after %s:\n%s", code, took.Round(time.Millisecond), out)
			if code != 1 || took > 10*time.Second {
				t.Errorf("exit %d after %s, want 1 within seconds", code, took)
			}
			requireMessage(t, out, tc.want...)
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
				replay.CheckpointSchema).Scan(&n); err != nil || n != 0 {
				t.Errorf("the target was written to: %s exists (%v)", replay.CheckpointSchema, err)
			}
		})
	}
	// The corrected command: the backup's own binlogs.
	code, out, _ := runReplayCLI(t, append([]string{"--target", target, "--from-backup", backupDir}, a.Files...)...)
	if code != 0 {
		t.Fatalf("the right binlogs: exit %d:\n%s", code, out)
	}
	replaytest.RequireEqual(t, db, a.SourceDB, "ff")
}

// TestCheckStartTruncated: the last binlog ends inside the transaction
// at the start position (the source crashed while writing it). The start
// check takes what was read of it as the first transaction, as for one a
// crash cut in an earlier file: the position is a boundary, and the
// backup's continuity is checked on its GTID; the replay then stops
// before it or reports the truncation. Before, the start check refused
// the files whatever the stop point, where the replay stops before such
// a transaction.
func TestCheckStartTruncated(t *testing.T) {
	dir := t.TempDir()
	src := "../../testdata/binlogs/mariadb-10.11/row"
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(dir, e.Name()))
		if err := os.WriteFile(files[len(files)-1], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The last transaction of the last file.
	rd, err := binlog.NewReader(files, binlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var last *txn.Txn
	for {
		tx, err := rd.Next(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tx.Start.File == filepath.Base(files[len(files)-1]) {
			last = tx
		}
	}
	rd.Close()
	if last == nil || last.GTID.IsZero() {
		t.Fatalf("no transaction with a GTID in %s", files[len(files)-1])
	}
	backupAt := func(gtid string) string {
		d := t.TempDir()
		info := fmt.Sprintf("%s\t%d\t%s\n", last.Start.File, last.Start.Offset, gtid)
		if err := os.WriteFile(filepath.Join(d, "mariadb_backup_binlog_info"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	before := txn.GTID{Flavor: last.GTID.Flavor, Domain: last.GTID.Domain, Server: last.GTID.Server, Seq: last.GTID.Seq - 1}
	if err := os.Truncate(files[len(files)-1], int64(last.Start.Offset+last.End.Offset)/2); err != nil {
		t.Fatal(err)
	}
	ro := replay.DefaultOptions()
	ro.Files, ro.Select.StartPosition = files, last.Start
	if err := checkStart(t.Context(), &ro, ""); err != nil {
		t.Errorf("start at it: %v", err)
	}
	if err := checkStart(t.Context(), &ro, backupAt(before.String())); err != nil {
		t.Errorf("a backup just before it: %v", err)
	}
	if err := checkStart(t.Context(), &ro, backupAt(last.GTID.String())); err == nil || !strings.Contains(err.Error(), "the backup already holds it") {
		t.Errorf("a backup that holds it: %v, want the continuity check's refusal", err)
	}
}
