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

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestHotBackupDrill rehearses the recovery the tool is for with the real
// backup tool: a base taken by mariabackup while sessions write (InnoDB
// and MyISAM tables, in each binlog format), prepared, a target started
// from it, and `replay --from-backup` with the source's binlog files. The
// backup's recorded binlog position is the only start point given: the
// target must then equal the source table by table, exit 0. A start
// taken before the backup's position would apply statements twice, one
// after it would lose transactions: both show here as a difference.
func TestHotBackupDrill(t *testing.T) {
	requireMariabackup(t)
	for _, format := range []string{"ROW", "MIXED", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			d := newBackupDrill(t, format, hotBackupSetup...)
			stop := d.load(true) // before, during and after the backup
			time.Sleep(500 * time.Millisecond)
			backup := d.mariabackup()
			time.Sleep(500 * time.Millisecond)
			stop()
			files := d.binlogs()
			tgt, tgtDB := d.target(backup)
			inBase, all := d.midLoad(tgtDB)
			code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", backup}, files...)...)
			if code != 0 {
				t.Fatalf("replay --from-backup: exit %d:\n%s", code, out)
			}
			replaytest.RequireEqual(t, tgtDB, d.srcDB, "hb")
			t.Logf("%s: the backup held %d of %d transactions; the replay applied the rest", format, inBase, all)
		})
	}
}

// backupDrill is a source server with its binlog on, the base of a drill.
type backupDrill struct {
	t     *testing.T
	src   *sandbox.Server
	srcDB *sql.DB
}

// newBackupDrill starts a source in format and runs setup on it.
func newBackupDrill(t *testing.T, format string, setup ...string) *backupDrill {
	t.Helper()
	d := &backupDrill{t: t, src: sandbox.ForTest(t, sandbox.Options{Binlog: true, BinlogFormat: format})}
	var err error
	if d.srcDB, err = d.src.Open(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.srcDB.Close() })
	if err := replaytest.ExecAll(t.Context(), d.srcDB, setup...); err != nil {
		t.Fatal(err)
	}
	return d
}

// load starts four sessions of hotBackupLoad; the function returned stops
// them and fails the test on a session's error.
func (d *backupDrill) load(myisam bool) (stop func()) {
	ctx, cancel := context.WithCancel(d.t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for s := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hotBackupLoad(ctx, d.srcDB, s, myisam); err != nil {
				errs <- err
			}
		}()
	}
	return func() {
		d.t.Helper()
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			d.t.Fatal(err)
		}
	}
}

// mariabackup takes a hot backup of the source into a new directory,
// prepared.
func (d *backupDrill) mariabackup() string {
	d.t.Helper()
	dir := filepath.Join(d.t.TempDir(), "backup")
	if err := d.src.HotBackup(d.t.Context(), dir); err != nil {
		d.t.Fatal(err)
	}
	return dir
}

// binlogs closes the source's binlog and returns its files.
func (d *backupDrill) binlogs() []string {
	d.t.Helper()
	if _, err := d.srcDB.ExecContext(d.t.Context(), "FLUSH BINARY LOGS"); err != nil {
		d.t.Fatal(err)
	}
	files, err := d.src.BinlogFiles()
	if err != nil {
		d.t.Fatal(err)
	}
	return files
}

// target starts a server (from datadir, when given) and opens it.
func (d *backupDrill) target(datadir string) (*sandbox.Server, *sql.DB) {
	d.t.Helper()
	tgt := sandbox.ForTest(d.t, sandbox.Options{FromDatadir: datadir})
	db, err := tgt.Open(d.t.Context(), "")
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { db.Close() })
	return tgt, db
}

// dumpTarget starts an empty server, loads the dump at path into it with
// the mariadb client, and opens it.
func (d *backupDrill) dumpTarget(path string) (*sandbox.Server, *sql.DB) {
	d.t.Helper()
	tgt, db := d.target("")
	in, err := os.Open(path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer in.Close()
	load := exec.CommandContext(d.t.Context(), "mariadb", "--no-defaults", "--user=root", "--socket="+tgt.Socket)
	load.Stdin = in
	if out, err := load.CombinedOutput(); err != nil {
		d.t.Fatalf("load the dump: %v\n%s", err, tail(out))
	}
	return tgt, db
}

// midLoad fails the test unless the base (on tgtDB) holds some of the
// transactions hb.log counts on the source and not all: a drill means
// something only when the base was taken during the load.
func (d *backupDrill) midLoad(tgtDB *sql.DB) (inBase, all int) {
	d.t.Helper()
	ctx := d.t.Context()
	if err := tgtDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM hb.log").Scan(&inBase); err != nil {
		d.t.Fatal(err)
	}
	if err := d.srcDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM hb.log").Scan(&all); err != nil {
		d.t.Fatal(err)
	}
	if inBase == 0 || inBase == all {
		d.t.Fatalf("the base holds %d of the %d logged transactions: not taken during the load", inBase, all)
	}
	return inBase, all
}

// requireMariabackup skips the test without mariadb-backup, or fails it
// when CI=true (scripts/install-mariadb.sh installs it), and returns its
// path.
func requireMariabackup(t *testing.T) string {
	t.Helper()
	tool, err := sandbox.BackupTool()
	if err == nil {
		return tool
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v: required when CI=true", err)
	}
	t.Skip(err)
	return ""
}

// tail returns the last lines of a command's output.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// hotBackupSetup makes the drill's tables: InnoDB with a unique key and an
// auto-increment log of every transaction, and MyISAM, which a hot backup
// copies under a lock of its own.
var hotBackupSetup = []string{
	"CREATE DATABASE hb",
	"CREATE TABLE hb.acct (id INT PRIMARY KEY, owner VARCHAR(20), bal INT NOT NULL, UNIQUE KEY (owner)) ENGINE=InnoDB",
	"INSERT INTO hb.acct SELECT seq, CONCAT('o', seq), 1000 FROM hb.seq_1_to_200",
	"CREATE TABLE hb.log (id INT AUTO_INCREMENT PRIMARY KEY, sess INT, note VARCHAR(40)) ENGINE=InnoDB",
	"CREATE TABLE hb.hits (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM",
	"INSERT INTO hb.hits SELECT seq, 0 FROM hb.seq_1_to_50",
}

// hotBackupLoad writes from session s until ctx ends: transfers between
// accounts (statement-format increments: applied twice, or not at all,
// they change the totals), owners moved between accounts through the
// unique key, new and deleted accounts, each with a row in the log, and
// MyISAM counters (when myisam). Deadlocks and duplicate keys are the
// workload's own and skipped.
func hotBackupLoad(ctx context.Context, db *sql.DB, s int, myisam bool) error {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(uint64(s), 7))
	next := 1000 * (s + 1)
	for i := 0; ctx.Err() == nil; i++ {
		a, b := 1+rng.IntN(200), 1+rng.IntN(200)
		var stmts []string
		choice := rng.IntN(4)
		if !myisam && choice == 3 {
			choice = 0
		}
		switch choice {
		case 0, 1:
			stmts = []string{"BEGIN",
				fmt.Sprintf("UPDATE hb.acct SET bal = bal - 7 WHERE id = %d", a),
				fmt.Sprintf("UPDATE hb.acct SET bal = bal + 7 WHERE id = %d", b),
				fmt.Sprintf("INSERT INTO hb.log (sess, note) VALUES (%d, 'transfer %d %d')", s, a, b), "COMMIT"}
		case 2:
			next++
			stmts = []string{"BEGIN",
				fmt.Sprintf("DELETE FROM hb.acct WHERE id = %d AND bal < 1000", 1000+rng.IntN(next-999)),
				fmt.Sprintf("INSERT INTO hb.acct VALUES (%d, 'n%d', 500)", next, next),
				fmt.Sprintf("INSERT INTO hb.log (sess, note) VALUES (%d, 'open %d')", s, next), "COMMIT"}
		default:
			stmts = []string{
				fmt.Sprintf("UPDATE hb.hits SET n = n + 1 WHERE id = %d", 1+rng.IntN(50)),
				"BEGIN",
				fmt.Sprintf("UPDATE hb.acct SET owner = CONCAT('o', id, '-', %d) WHERE id = %d", i, a),
				fmt.Sprintf("INSERT INTO hb.log (sess, note) VALUES (%d, 'rename %d')", s, a), "COMMIT"}
		}
		for _, stmt := range stmts {
			if _, err := conn.ExecContext(context.Background(), stmt); err != nil {
				var me *mysql.MySQLError
				if errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1062) {
					_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
					break
				}
				return fmt.Errorf("session %d: %s: %w", s, stmt, err)
			}
		}
	}
	return nil
}

// TestTempTableBeforeBackup: a hot backup taken while a session holds a
// temporary table that shadows a permanent one (STATEMENT format): the
// session's statements after the backup write its temporary table, which
// the base does not hold. Applied on the target they would write the
// permanent table instead, in silence; the replay refuses the first of
// them, naming it, with every transaction before it applied and nothing
// of it.
func TestTempTableBeforeBackup(t *testing.T) {
	requireMariabackup(t)
	ctx := t.Context()
	d := newBackupDrill(t, "STATEMENT", "CREATE DATABASE tb", "CREATE TABLE tb.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		"INSERT INTO tb.t SELECT seq, 'base' FROM tb.seq_1_to_10", "CREATE TABLE tb.other (id INT PRIMARY KEY) ENGINE=InnoDB")
	sess, err := d.srcDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, s := range []string{"CREATE TEMPORARY TABLE tb.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB", "INSERT INTO tb.t VALUES (1, 'temporary')"} {
		if _, err := sess.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	backup := d.mariabackup()
	// After the backup: one transaction of another table, then the
	// session's write to its temporary table.
	if err := replaytest.ExecAll(ctx, d.srcDB, "INSERT INTO tb.other VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// The session ends as one that disconnects: the server logs DROP
	// TEMPORARY TABLE IF EXISTS, which on the target drops nothing.
	for _, s := range []string{"UPDATE tb.t SET v = 'temporary, changed'", "DROP TEMPORARY TABLE IF EXISTS tb.t"} {
		if _, err := sess.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	files := d.binlogs()
	// plan predicts the stop, exit status 1.
	var planOut, planErr strings.Builder
	if code := runPlan(ctx, append([]string{"--from-backup", backup}, files...), &planOut, &planErr); code != 1 {
		t.Fatalf("plan: exit %d:\n%s%s", code, planOut.String(), planErr.String())
	}
	requireMessage(t, planOut.String(), "stops before #2", "UPDATE tb.t SET v = ? uses a temporary table its session")

	tgt, tgtDB := d.target(backup)
	code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", backup}, files...)...)
	if code != 1 {
		t.Fatalf("replay: exit %d, want 1:\n%s", code, out)
	}
	requireMessage(t, out, "statement UPDATE tb.t SET v = ?", "it uses a temporary table created before the start point",
		"Nothing of this transaction was applied")
	var changed, other int
	if err := tgtDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM tb.t WHERE v <> 'base'").Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if err := tgtDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM tb.other").Scan(&other); err != nil {
		t.Fatal(err)
	}
	if changed != 0 || other != 1 {
		t.Errorf("target: %d rows of the permanent tb.t changed (want 0), tb.other holds %d rows (want 1, the transaction before)", changed, other)
	}
}

// TestConnectionIDTrigger: a trigger calling CONNECTION_ID() makes its
// source flag the statements firing it as it flags those using a
// temporary table (STATEMENT format): with such a trigger on the target,
// those statements are applied, not refused as using a temporary table
// created before the start point, and the replay says why it cannot tell.
func TestConnectionIDTrigger(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE ci", "CREATE TABLE ci.t (id INT PRIMARY KEY, conn BIGINT)",
			"CREATE TRIGGER ci.stamp BEFORE INSERT ON ci.t FOR EACH ROW SET NEW.conn = CONNECTION_ID()")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "INSERT INTO ci.t (id) VALUES (1)", "INSERT INTO ci.t (id) VALUES (2)")
	}
	sc := replaytest.New(t, "STATEMENT", setup, work)
	tgt, tgtDB := sc.Target(t)
	code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--start-position", sc.Start.String()}, sc.Files...)...)
	if code != 0 {
		t.Fatalf("replay: exit %d, want 0:\n%s", code, out)
	}
	requireMessage(t, out, "calling CONNECTION_ID() (ci.stamp)")
	replaytest.RequireEqual(t, tgtDB, sc.SourceDB, "ci")
}

// TestRowFormatCreateFromTemporary: in ROW format a CREATE TABLE ...
// SELECT from a temporary table is logged flagged as using a temporary
// table, as the new table's definition, while the temporary table's own
// CREATE is not logged: the replay applies it (it is not a statement
// using a temporary table created before the start point).
func TestRowFormatCreateFromTemporary(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE rt")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE TEMPORARY TABLE rt.tmp (id INT PRIMARY KEY, v INT)",
			"INSERT INTO rt.tmp VALUES (1, 10), (2, 20)", "CREATE TABLE rt.made SELECT * FROM rt.tmp",
			"TRUNCATE TABLE rt.tmp", "DROP TEMPORARY TABLE rt.tmp")
	}
	sc := replaytest.New(t, "ROW", setup, work)
	tgt, tgtDB := sc.Target(t)
	code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--start-position", sc.Start.String()}, sc.Files...)...)
	if code != 0 {
		t.Fatalf("replay: exit %d, want 0:\n%s", code, out)
	}
	replaytest.RequireEqual(t, tgtDB, sc.SourceDB, "rt")
}

// TestHotBackupSysbench is the drill with sysbench's OLTP write load
// (oltp_write_only, its default distribution) in each binlog format: the
// base taken by mariabackup while sysbench writes, `replay --from-backup`
// equal to the source. Without sysbench it is skipped, or fails when
// CI=true (scripts/install-mariadb.sh installs it).
func TestHotBackupSysbench(t *testing.T) {
	requireMariabackup(t)
	sysbench, err := exec.LookPath("sysbench")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sysbench is required when CI=true (apt-get install sysbench)")
		}
		t.Skip("sysbench not installed (apt-get install sysbench)")
	}
	for _, format := range []string{"ROW", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			ctx := t.Context()
			d := newBackupDrill(t, format, "CREATE DATABASE sbtest")
			sb := func(args ...string) *exec.Cmd {
				return exec.CommandContext(ctx, sysbench, append([]string{"oltp_write_only", "--db-driver=mysql",
					"--mysql-socket=" + d.src.Socket, "--mysql-user=root", "--mysql-db=sbtest", "--tables=4", "--table-size=2000"}, args...)...)
			}
			if out, err := sb("prepare").CombinedOutput(); err != nil {
				t.Fatalf("sysbench prepare: %v\n%s", err, tail(out))
			}
			load := sb("--threads=4", "--time=4", "run")
			var loadOut strings.Builder
			load.Stdout, load.Stderr = &loadOut, &loadOut
			if err := load.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			backup := d.mariabackup()
			if err := load.Wait(); err != nil {
				t.Fatalf("sysbench run: %v\n%s", err, loadOut.String())
			}
			// Some load after the backup, however long it took.
			if out, err := sb("--threads=2", "--events=300", "--time=0", "run").CombinedOutput(); err != nil {
				t.Fatalf("sysbench run after the backup: %v\n%s", err, tail(out))
			}
			files := d.binlogs()
			tgt, tgtDB := d.target(backup)
			code, outText, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", backup}, files...)...)
			if code != 0 {
				t.Fatalf("replay --from-backup: exit %d:\n%s", code, outText)
			}
			// The replay must have had work to do: the base is not the end.
			if !strings.Contains(outText, "applied ") || strings.Contains(outText, "applied 0 transactions") {
				t.Fatalf("nothing applied after the backup:\n%s", outText)
			}
			replaytest.RequireEqual(t, tgtDB, d.srcDB, "sbtest")
			for _, line := range strings.Split(outText, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "applied ") {
					t.Logf("%s: %s", format, strings.TrimSpace(line))
				}
			}
		})
	}
}

// TestBackupOtherServerIDDomain: mariabackup records the source's
// gtid_current_pos, which leaves out a domain whose last transaction was
// logged under another server id: `replay --from-backup` must not take
// the first transaction of that domain after the backup for binlogs of
// another server (it refused them before 2026-12-07).
func TestBackupOtherServerIDDomain(t *testing.T) {
	requireMariabackup(t)
	other := "SET SESSION gtid_domain_id = 1, SESSION server_id = 999"
	own := "SET SESSION gtid_domain_id = 0, SESSION server_id = @@GLOBAL.server_id"
	// ExecAll runs them on one connection: the session's settings hold.
	d := newBackupDrill(t, "ROW", "CREATE DATABASE od", "CREATE TABLE od.t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO od.t VALUES (1, 1)", other, "INSERT INTO od.t VALUES (2, 2)", own)
	backup := d.mariabackup()
	if err := replaytest.ExecAll(t.Context(), d.srcDB, other, "UPDATE od.t SET v = v + 10", own, "INSERT INTO od.t VALUES (3, 3)"); err != nil {
		t.Fatal(err)
	}
	files := d.binlogs()
	tgt, tgtDB := d.target(backup)
	code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", backup}, files...)...)
	if code != 0 {
		t.Fatalf("replay --from-backup: exit %d, want 0:\n%s", code, out)
	}
	replaytest.RequireEqual(t, tgtDB, d.srcDB, "od")
}

// TestDumpBackupDrill is the drill with a logical base: mariadb-dump
// --single-transaction --master-data=2 while sessions write InnoDB tables
// (a dump is consistent for InnoDB alone), loaded into an empty target,
// then `replay --from-backup DUMP` (the position at the dump's top): the
// target must equal the source.
func TestDumpBackupDrill(t *testing.T) {
	for _, format := range []string{"ROW", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			ctx := t.Context()
			d := newBackupDrill(t, format, hotBackupSetup...)
			stop := d.load(false)
			time.Sleep(500 * time.Millisecond)
			dump := filepath.Join(t.TempDir(), "base.sql")
			f, err := os.Create(dump)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, "mariadb-dump", "--no-defaults", "--user=root", "--socket="+d.src.Socket,
				"--single-transaction", "--master-data=2", "--databases", "hb")
			var dumpErr strings.Builder
			cmd.Stdout, cmd.Stderr = f, &dumpErr
			runErr := cmd.Run()
			f.Close()
			time.Sleep(500 * time.Millisecond)
			stop()
			if runErr != nil {
				t.Fatalf("mariadb-dump: %v\n%s", runErr, dumpErr.String())
			}
			files := d.binlogs()
			tgt, tgtDB := d.dumpTarget(dump)
			inBase, all := d.midLoad(tgtDB)
			code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", dump}, files...)...)
			if code != 0 {
				t.Fatalf("replay --from-backup %s: exit %d:\n%s", dump, code, out)
			}
			replaytest.RequireEqual(t, tgtDB, d.srcDB, "hb")
			t.Logf("%s: the dump held %d of %d transactions; the replay applied the rest", format, inBase, all)
		})
	}
}

// TestIncrementalBackupDrill: a full backup, then an incremental one
// taken while sessions write, both prepared into the full one as
// mariabackup documents it; `replay --from-backup` with the full
// backup's directory must start where the incremental one ended.
func TestIncrementalBackupDrill(t *testing.T) {
	tool := requireMariabackup(t)
	ctx := t.Context()
	d := newBackupDrill(t, "ROW", hotBackupSetup...)
	stop := d.load(true)
	time.Sleep(300 * time.Millisecond)
	full := filepath.Join(t.TempDir(), "full")
	inc := filepath.Join(t.TempDir(), "inc")
	backup := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, tool, append([]string{"--no-defaults", "--backup", "--user=root",
			"--socket=" + d.src.Socket, "--datadir=" + d.src.Datadir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("mariabackup --backup %v: %v\n%s", args, err, tail(out))
		}
	}
	backup("--target-dir=" + full)
	time.Sleep(300 * time.Millisecond)
	backup("--target-dir="+inc, "--incremental-basedir="+full)
	time.Sleep(300 * time.Millisecond)
	stop()
	var starts []txn.Position
	for _, args := range [][]string{{"--target-dir=" + full}, {"--target-dir=" + full, "--incremental-dir=" + inc}} {
		if out, err := exec.CommandContext(ctx, tool, append([]string{"--no-defaults", "--prepare"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("mariabackup --prepare %v: %v\n%s", args, err, tail(out))
		}
		bs, err := replay.StartFromBackup(full)
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, bs.Position)
	}
	// The drill means something only when the incremental backup moved
	// the start.
	if incStart, err := replay.StartFromBackup(inc); err != nil || starts[1] != incStart.Position || starts[0] == starts[1] {
		t.Fatalf("positions: full %s, then %s after the incremental; the incremental's %+v (%v)", starts[0], starts[1], incStart, err)
	}
	files := d.binlogs()
	tgt, tgtDB := d.target(full)
	d.midLoad(tgtDB)
	code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", full}, files...)...)
	if code != 0 {
		t.Fatalf("replay --from-backup: exit %d:\n%s", code, out)
	}
	replaytest.RequireEqual(t, tgtDB, d.srcDB, "hb")
}

// TestHotBaseMixedTransaction: a statement-format transaction that
// changed an InnoDB and a MyISAM table is open while mariabackup runs.
// The backup holds its MyISAM change (made when the statement ran) while
// the binlog logs it, with the transaction, after the backup's position:
// applied from there, the increment would be counted twice, exit 0 (as
// `mariadb-binlog | mariadb` does). The replay refuses it, naming it,
// with nothing of it applied; once the operator has taken the change out
// of the base, --resume --hot-base-checked applies it and the target
// equals the source.
func TestHotBaseMixedTransaction(t *testing.T) {
	requireMariabackup(t)
	ctx := t.Context()
	d := newBackupDrill(t, "STATEMENT", "CREATE DATABASE hm", "CREATE TABLE hm.t (id INT PRIMARY KEY) ENGINE=InnoDB",
		"CREATE TABLE hm.m (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM", "INSERT INTO hm.m VALUES (1, 0)")
	sess, err := d.srcDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, s := range []string{"BEGIN", "INSERT INTO hm.t VALUES (1)", "UPDATE hm.m SET n = n + 1 WHERE id = 1"} {
		if _, err := sess.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	backup := d.mariabackup()
	if _, err := sess.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	files := d.binlogs()
	tgt, tgtDB := d.target(backup)
	requireHotBaseRefusal(t, d, tgt, tgtDB, backup, files, "hm", "hm.m", "hm.t",
		"changed non-transactional tables inside a transaction that began at")
}

// TestDumpBaseNonTransactional: mariadb-dump --single-transaction reads a
// MyISAM table as it is when it reaches it, not at its position. An
// update of a MyISAM counter made after the dump took its position
// (while it waited for a lock on a table dumped before) is in the dump
// and in the binlog after the position: applied from there, it would be
// counted twice, exit 0. The replay refuses it, naming it; plan predicts
// it; with the change taken out of the base, --resume --hot-base-checked
// applies it and the target equals the source.
func TestDumpBaseNonTransactional(t *testing.T) {
	ctx := t.Context()
	d := newBackupDrill(t, "STATEMENT", "CREATE DATABASE hd", "CREATE TABLE hd.a_big (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO hd.a_big VALUES (1)", "CREATE TABLE hd.z_m (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM",
		"INSERT INTO hd.z_m VALUES (1, 0)")
	locker, err := d.srcDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(ctx, "LOCK TABLES hd.a_big WRITE"); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "base.sql")
	f, err := os.Create(dump)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "mariadb-dump", "--no-defaults", "--user=root", "--socket="+d.src.Socket,
		"--single-transaction", "--master-data=2", "--databases", "hd")
	var dumpErr strings.Builder
	cmd.Stdout, cmd.Stderr = f, &dumpErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The dump has taken its position and waits for hd.a_big.
	for waited := 0; ; waited++ {
		var n int
		if err := d.srcDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "+
			"WHERE INFO LIKE '%FROM `a_big`%' AND STATE LIKE 'Waiting for table metadata lock%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if waited == 200 {
			t.Fatalf("mariadb-dump never waited for hd.a_big: %s", dumpErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := d.srcDB.ExecContext(ctx, "UPDATE hd.z_m SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := locker.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	runErr := cmd.Wait()
	f.Close()
	if runErr != nil {
		t.Fatalf("mariadb-dump: %v\n%s", runErr, dumpErr.String())
	}
	files := d.binlogs()
	tgt, tgtDB := d.dumpTarget(dump)
	requireHotBaseRefusal(t, d, tgt, tgtDB, dump, files, "hd", "hd.z_m", "",
		"changed non-transactional tables that began at", "a dump made with --single-transaction")
}

// requireHotBaseRefusal checks a replay --from-backup base (restored on
// tgt) whose counter (row 1 of counterTable, column n) holds a change the
// binlog logs after the base's position, as 1 where the source holds 1:
// plan predicts the refusal of that transaction (exit 1), the replay
// refuses it with want in its error, nothing of it applied (the counter
// still 1, innodbTable, when given, still empty); a bare resume refuses
// again; once the change is taken out of the base (the counter set to 0),
// --resume --hot-base-checked applies it and database db equals the
// source's.
func requireHotBaseRefusal(t *testing.T, d *backupDrill, tgt *sandbox.Server, tgtDB *sql.DB, from string, files []string,
	db, counterTable, innodbTable string, want ...string) {
	t.Helper()
	ctx := t.Context()
	counter := func() int {
		t.Helper()
		var n int
		if err := tgtDB.QueryRowContext(ctx, "SELECT n FROM "+counterTable+" WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := counter(); n != 1 {
		t.Fatalf("the base's counter is %d: want 1, the change the binlog logs after its position (the hazard)", n)
	}
	var planOut, planErr strings.Builder
	if code := runPlan(ctx, append([]string{"--from-backup", from}, files...), &planOut, &planErr); code != 1 {
		t.Fatalf("plan: exit %d:\n%s%s", code, planOut.String(), planErr.String())
	}
	requireMessage(t, planOut.String(), "stops before #1", "before the base backup ended")
	code, out, _ := runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--from-backup", from}, files...)...)
	if code != 1 {
		t.Fatalf("replay: exit %d, want 1:\n%s", code, out)
	}
	requireMessage(t, out, append(want, "before the base backup ended", "Nothing of it was applied", "--hot-base-checked")...)
	if n := counter(); n != 1 {
		t.Fatalf("after the refusal the counter is %d, want 1", n)
	}
	if innodbTable != "" {
		var rows int
		if err := tgtDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+innodbTable).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 0 {
			t.Fatalf("after the refusal %s holds %d rows, want 0", innodbTable, rows)
		}
	}
	// A bare resume is refused again: the checkpoint keeps the base's end.
	code, out, _ = runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--resume"}, files...)...)
	if code != 1 || !strings.Contains(out, "before the base backup ended") {
		t.Fatalf("replay --resume: exit %d, want 1 and the refusal again:\n%s", code, out)
	}
	// The operator takes the change out of the base, then says so.
	if _, err := tgtDB.ExecContext(ctx, "UPDATE "+counterTable+" SET n = 0 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runReplayCLI(t, append([]string{"--target", tgt.DSN(""), "--resume", "--hot-base-checked"}, files...)...)
	if code != 0 {
		t.Fatalf("replay --resume --hot-base-checked: exit %d:\n%s", code, out)
	}
	replaytest.RequireEqual(t, tgtDB, d.srcDB, db)
}
