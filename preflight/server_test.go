package preflight_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/preflight"
	"github.com/binlog-replay/binlog-replay/replay"
)

// shopScenario is a source with a shop database of baseRows rows and a
// workload written after its base: rows inserts of about padBytes each,
// in transactions of ten with an update and a delete.
func shopScenario(t *testing.T, baseRows, rows, padBytes int) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE shop",
				"CREATE TABLE shop.items (id INT PRIMARY KEY, k INT NOT NULL, pad VARCHAR(8000) NOT NULL, KEY (k)) ENGINE=InnoDB",
				fmt.Sprintf("INSERT INTO shop.items SELECT seq, seq %% 100, REPEAT('x', 100) FROM shop.seq_1_to_%d", baseRows))
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < rows; i += 10 {
				if err := replaytest.ExecAll(ctx, db, "BEGIN",
					fmt.Sprintf("INSERT INTO shop.items SELECT seq, seq %% 100, REPEAT('y', %d) FROM shop.seq_%d_to_%d", padBytes, 1000001+i, 1000010+i),
					fmt.Sprintf("UPDATE shop.items SET k = k + 1 WHERE id = %d", 1+i%baseRows),
					fmt.Sprintf("DELETE FROM shop.items WHERE id = %d", baseRows/2+i/10),
					"COMMIT"); err != nil {
					return err
				}
			}
			return nil
		})
}

// options are preflight options for the scenario's binlogs from its base,
// with a small probe.
func options(sc *replaytest.Scenario, dsn string) preflight.Options {
	return preflight.Options{TargetDSN: dsn, Selection: preflight.Selection{Files: sc.Files, Start: sc.Start},
		Workers: 2, ProbeSettings: preflight.ProbeSettings{Commits: 60, SampleTxns: 300}}
}

func check(t *testing.T, rep *preflight.Report, name string) preflight.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in the report", name)
	return preflight.Check{}
}

func report(t *testing.T, rep *preflight.Report) string {
	t.Helper()
	var b strings.Builder
	if err := preflight.WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestHealthyTarget: a target restored from the base passes every check,
// the probe applies the binlogs' own first transactions without a refusal,
// the scratch schema is gone afterwards, and the estimate is made.
func TestHealthyTarget(t *testing.T) {
	sc := shopScenario(t, 2000, 2000, 100)
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true})
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := preflight.Run(context.Background(), options(sc, tgt.DSN("")))
	if err != nil {
		t.Fatal(err)
	}
	text := report(t, rep)
	if f := rep.Failed(); len(f) > 0 {
		t.Fatalf("checks failed on a healthy target: %+v\n%s", f, text)
	}
	a := rep.Probe.Apply
	if a == nil || a.Method != "passthrough" || a.Refused > 0 || a.Txns < 100 {
		t.Fatalf("apply probe: %+v\n%s", a, text)
	}
	if rep.Binlogs.Transactions != 200 || rep.Binlogs.RowTxns != 200 {
		t.Errorf("binlogs: %d transactions, %d row, want 200", rep.Binlogs.Transactions, rep.Binlogs.RowTxns)
	}
	if !rep.Target.Local || rep.Target.Disk == nil {
		t.Errorf("a sandbox target is local: %+v", rep.Target)
	}
	if rep.ETA.Seconds <= 0 || rep.ETA.LowSeconds > rep.ETA.Seconds || rep.ETA.HighSeconds < rep.ETA.Seconds {
		t.Errorf("estimate: %+v", rep.ETA)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE schema_name = ?", preflight.DefaultScratchSchema).Scan(&n); err != nil || n != 0 {
		t.Errorf("the scratch schema is left on the target (%d, %v)", n, err)
	}
	// The target is untouched: the replay applies everything from the base.
	ro := replay.DefaultOptions()
	ro.Files, ro.TargetDSN, ro.Select.StartPosition, ro.Apply.Workers = sc.Files, tgt.DSN(""), sc.Start, 2
	if _, err := replay.Run(context.Background(), ro, io.Discard); err != nil {
		t.Fatalf("replay after the preflight: %v", err)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "shop")
	t.Logf("\n%s", text)
}

// TestSlowCommitsFlagged: the same target behind a proxy that delays every
// answer by 15 ms has its commits flagged as abnormally slow, with the
// round trip named, and a longer estimate.
func TestSlowCommitsFlagged(t *testing.T) {
	sc := shopScenario(t, 2000, 3000, 100)
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true})
	fast, err := preflight.Run(context.Background(), options(sc, tgt.DSN("")))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDelayProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), 15*time.Millisecond)
	dsn := strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.port()), 1)
	slow, err := preflight.Run(context.Background(), options(sc, dsn))
	if err != nil {
		t.Fatal(err)
	}
	text := report(t, slow)
	c := check(t, slow, "commit latency")
	if c.Status != preflight.Warn || !strings.Contains(c.Finding, "ABNORMALLY SLOW") || !strings.Contains(c.Finding, "round trip") {
		t.Fatalf("slow commits not flagged: %+v\n%s", c, text)
	}
	if slow.Probe.Commit.MedianMs < 15 {
		t.Errorf("commit median %.2f ms through a 15 ms proxy", slow.Probe.Commit.MedianMs)
	}
	if fc := check(t, fast, "commit latency"); strings.Contains(fc.Finding, "ABNORMALLY SLOW") {
		t.Errorf("the direct target is flagged too: %+v", fc)
	}
	if slow.ETA.Seconds <= fast.ETA.Seconds {
		t.Errorf("estimate through the proxy %.2f s, direct %.2f s: want it longer", slow.ETA.Seconds, fast.ETA.Seconds)
	}
	t.Logf("\n%s", text)
}

// delayProxy forwards TCP connections to a server, delaying each chunk
// the server sends by a fixed time: every round trip takes that much
// longer, as across a slow network or in front of a slow disk.
type delayProxy struct {
	ln    net.Listener
	delay time.Duration
	mu    sync.Mutex
	conns []net.Conn
}

func newDelayProxy(t *testing.T, server string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, delay: delay}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", server)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go p.backward(c, s)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *delayProxy) backward(c, s net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			time.Sleep(p.delay)
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *delayProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// TestMaxAllowedPacketTooSmall: binlogs holding a row of 3 MB fail the
// check on a target whose max_allowed_packet is 1 MB (and the replay does
// fail there), and pass on one of 16 MB.
func TestMaxAllowedPacketTooSmall(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE big", "CREATE TABLE big.blobs (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "INSERT INTO big.blobs SELECT seq, REPEAT('z', 100) FROM big.seq_1_to_50",
				"INSERT INTO big.blobs VALUES (1000, REPEAT('b', 3000000))")
		})
	small := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: []string{"--max-allowed-packet=1M"}})
	rep, err := preflight.Run(context.Background(), options(sc, small.DSN("")))
	if err != nil {
		t.Fatal(err)
	}
	c := check(t, rep, "max_allowed_packet")
	if c.Status != preflight.Fail || !strings.Contains(c.During, "SET GLOBAL max_allowed_packet=") {
		t.Fatalf("max_allowed_packet of 1 MB against a 3 MB row: %+v\n%s", c, report(t, rep))
	}
	if rep.Binlogs.LargestPacket.Bytes < 4000000 {
		t.Errorf("largest packet %d bytes, want the 3 MB row base64-encoded", rep.Binlogs.LargestPacket.Bytes)
	}
	ro := replay.DefaultOptions()
	ro.Files, ro.TargetDSN, ro.Select.StartPosition = sc.Files, small.DSN(""), sc.Start
	if _, err := replay.Run(context.Background(), ro, io.Discard); err == nil {
		t.Errorf("the replay did not fail where the check failed")
	}
	big := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: []string{"--max-allowed-packet=16M"}})
	rep, err = preflight.Run(context.Background(), options(sc, big.DSN("")))
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, rep, "max_allowed_packet"); c.Status != preflight.OK {
		t.Errorf("16 MB: %+v", c)
	}
}

// TestSettingsAdvice: the settings checks say what the server reports.
func TestSettingsAdvice(t *testing.T) {
	sc := shopScenario(t, 100000, 300, 100)
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Args: []string{
		"--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0", "--innodb-doublewrite=0",
		"--lock-wait-timeout=30", "--innodb-buffer-pool-size=6M"}})
	rep, err := preflight.Run(context.Background(), options(sc, tgt.DSN("")))
	if err != nil {
		t.Fatal(err)
	}
	text := report(t, rep)
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var flush, sync, lockWait int
	var dw, logBin string
	var bp int64
	if err := db.QueryRow("SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@innodb_doublewrite, @@log_bin, @@lock_wait_timeout, @@innodb_buffer_pool_size").
		Scan(&flush, &sync, &dw, &logBin, &lockWait, &bp); err != nil {
		t.Fatal(err)
	}
	if c := check(t, rep, "innodb_flush_log_at_trx_commit"); c.Value != fmt.Sprint(flush) || c.Status != preflight.Warn {
		t.Errorf("innodb_flush_log_at_trx_commit %d on the server: %+v", flush, c)
	}
	if c := check(t, rep, "binlog (log_bin, sync_binlog)"); c.Value != fmt.Sprintf("log_bin=ON sync_binlog=%d", sync) || logBin != "1" ||
		!strings.Contains(c.Finding, "more to the target's binlog") {
		t.Errorf("log_bin %s, sync_binlog %d on the server: %+v", logBin, sync, c)
	}
	if c := check(t, rep, "innodb_doublewrite"); dw != "0" || c.Status != preflight.Warn {
		t.Errorf("innodb_doublewrite %s on the server: %+v", dw, c)
	}
	if c := check(t, rep, "innodb_buffer_pool_size"); rep.Target.DataBytes <= bp || c.Status != preflight.Warn {
		t.Errorf("buffer pool %d, written tables %d: %+v", bp, rep.Target.DataBytes, c)
	}
	if c := check(t, rep, "lock_wait_timeout, innodb_lock_wait_timeout"); !strings.Contains(c.Value, fmt.Sprintf("lock_wait_timeout=%d ", lockWait)) {
		t.Errorf("lock_wait_timeout %d on the server: %+v", lockWait, c)
	}
	// The probe kept out of the target's binlog: no GTID of the target's.
	var pos string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil || pos != "" {
		t.Errorf("the probe wrote the target's binlog: gtid_binlog_pos %q (%v)", pos, err)
	}
	t.Logf("\n%s", text)
}

// TestPrivileges: an account without write privileges on the data nor
// BINLOG REPLAY fails those checks (BINLOG statements only with --apply
// binlog); with the target's binlog on and no BINLOG ADMIN, the probe
// does not write.
func TestPrivileges(t *testing.T) {
	sc := shopScenario(t, 2000, 100, 100)
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Durable: true})
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := replaytest.ExecAll(context.Background(), db, "CREATE USER 'pf'@'localhost' IDENTIFIED BY 'pw'",
		"GRANT ALL ON binlog_replay.* TO 'pf'@'localhost'", "GRANT SELECT ON shop.* TO 'pf'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(tgt.DSN(""), "root@", "pf:pw@", 1)
	o := options(sc, dsn)
	o.Apply = "binlog"
	rep, err := preflight.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	text := report(t, rep)
	for name, want := range map[string]preflight.Status{
		"privilege: BINLOG statements":         preflight.Fail,
		"privilege: writing the data":          preflight.Fail,
		"privilege: binlog_replay.*":           preflight.OK,
		"privilege: BINLOG ADMIN":              preflight.Warn,
		"privilege: PROCESS, CONNECTION ADMIN": preflight.Warn,
		"commit latency":                       preflight.Unknown,
	} {
		if c := check(t, rep, name); c.Status != want {
			t.Errorf("%s: %s, want %s: %+v", name, c.Status, want, c)
		}
	}
	if !strings.Contains(rep.Probe.Skipped, "sql_log_bin") {
		t.Errorf("probe: %+v", rep.Probe)
	}
	t.Logf("\n%s", text)

	// The replay's default, --apply auto, applies the row events as SQL
	// when BINLOG statements are refused: a warning, not a failure; with
	// --apply sql they are not needed.
	for apply, want := range map[string]preflight.Status{"": preflight.Warn, "sql": preflight.OK} {
		o.Apply = apply
		rep, err := preflight.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if c := check(t, rep, "privilege: BINLOG statements"); c.Status != want {
			t.Errorf("--apply %q: BINLOG statements: %s, want %s: %+v", apply, c.Status, want, c)
		}
	}
}

// TestTooLittleDisk: a target whose datadir is on a small filesystem (a
// tmpfs, mounted for the test: needs root) with less free space than the
// binlogs' inserts need fails the disk check.
func TestTooLittleDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; TestDiskCheck covers the check with an injected statfs")
	}
	sc := shopScenario(t, 2000, 40000, 1000) // about 40 MB of inserted rows
	mnt, err := os.MkdirTemp("/tmp", "pf-tmpfs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256m"); err != nil {
		os.Remove(mnt)
		t.Skipf("mount a tmpfs: %v", err)
	}
	// Cleanups run last first: the server (ForTest's) is closed before this.
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
			return
		}
		os.Remove(mnt)
	})
	t.Setenv("TMPDIR", mnt)
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true, Args: []string{"--innodb-flush-method=fsync"}})
	// Leave about 30 MB free.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fs); err != nil {
		t.Fatal(err)
	}
	fill := int64(fs.Bavail)*fs.Bsize - 30<<20
	if err := os.WriteFile(filepath.Join(mnt, "filler"), make([]byte, fill), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := preflight.Run(context.Background(), options(sc, tgt.DSN("")))
	if err != nil {
		t.Fatal(err)
	}
	c := check(t, rep, "free disk space")
	if c.Status != preflight.Fail || !strings.Contains(c.Value, mnt) {
		t.Fatalf("a datadir with 30 MB free for about 80 MB of rows: %+v\n%s", c, report(t, rep))
	}
	if rep.Probe.Apply != nil || !strings.Contains(rep.Probe.ApplySkipped, "free") {
		t.Errorf("the apply probe wrote on a nearly full disk: %+v", rep.Probe)
	}
	t.Logf("%s: %s", c.Value, c.Finding)
}

// TestProbeCompacts: on hot rows, the apply probe compacts its groups as
// the replay will (the default) and writes far fewer rows than the sample
// changes, saying so in the estimate's basis; with Compact off it applies
// every row event as logged.
func TestProbeCompacts(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE hot",
				"CREATE TABLE hot.c (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB",
				"INSERT INTO hot.c SELECT seq, 0 FROM hot.seq_1_to_20")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 300; i++ {
				if err := replaytest.ExecAll(ctx, db, "BEGIN",
					fmt.Sprintf("UPDATE hot.c SET n = n + 1 WHERE id = %d", 1+i%20),
					fmt.Sprintf("UPDATE hot.c SET n = n + 2 WHERE id = %d", 1+(i*7)%20),
					"COMMIT"); err != nil {
					return err
				}
			}
			return nil
		})
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Durable: true})
	for _, on := range []bool{true, false} {
		o := options(sc, tgt.DSN(""))
		o.Compact = on
		rep, err := preflight.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		text := report(t, rep)
		a := rep.Probe.Apply
		if a == nil || a.Method != "passthrough" || a.Txns != 300 || a.Rows != 600 {
			t.Fatalf("compact %v: apply probe %+v, want 300 transactions of 600 rows passed through\n%s", on, a, text)
		}
		basis := strings.Join(rep.ETA.Basis, "\n")
		switch {
		case on && (!a.Compacted || a.RowsApplied == 0 || a.RowsApplied > a.Groups*20):
			t.Errorf("compacted probe wrote %d rows in %d groups of a 20-row table: want at most 20 a group\n%s", a.RowsApplied, a.Groups, text)
		case on && !strings.Contains(basis, fmt.Sprintf("%d of the sample's 600 row changes written", a.RowsApplied)):
			t.Errorf("the estimate's basis does not say the probe compacted:\n%s", basis)
		case !on && (a.Compacted || a.RowsApplied != 0 || strings.Contains(basis, "compacted")):
			t.Errorf("probe without compaction: %+v\n%s", a, basis)
		}
	}
}

// TestFiltersFoldCase: on a target whose lower_case_table_names is 1 (as
// the source's, which a restored base shares), --tables names compare in
// lower case, as the replay compares them (replay TestFiltersFoldCase):
// the rows of shop.items count under --tables SHOP.ITEMS. Before, the
// preflight compared exactly and counted none of them.
func TestFiltersFoldCase(t *testing.T) {
	args := []string{"--lower-case-table-names=1"}
	sc := replaytest.NewArgs(t, "ROW", args,
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE shop", "CREATE TABLE shop.items (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE SHOP", "INSERT INTO Items VALUES (1, 1)", "INSERT INTO ITEMS VALUES (2, 2)")
		})
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: args})
	o := options(sc, tgt.DSN(""))
	o.Selection.Filter.Tables = []string{"SHOP.ITEMS"}
	rep, err := preflight.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Binlogs.Tables) != 1 || rep.Binlogs.Tables[0].Schema != "shop" || rep.Binlogs.Tables[0].Table != "items" {
		t.Fatalf("tables the binlogs write under --tables SHOP.ITEMS: %+v, want shop.items\n%s", rep.Binlogs.Tables, report(t, rep))
	}
}
