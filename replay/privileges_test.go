package replay_test

import (
	"context"
	"database/sql"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestMissingBinlogPrivilege replays with --apply binlog as a target user
// that has every data privilege but not BINLOG REPLAY: the replay must
// stop before writing anything, naming the privilege to grant. With the
// privilege granted, the same user replays the binlogs.
func TestMissingBinlogPrivilege(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE pv", "CREATE TABLE pv.t (id INT PRIMARY KEY, v INT)")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "INSERT INTO pv.t VALUES (1, 1), (2, 2)", "UPDATE pv.t SET v = 3 WHERE id = 2")
	}
	sc := replaytest.New(t, "ROW", setup, work)
	tgt, db := sc.Target(t)
	if err := replaytest.ExecAll(context.Background(), db,
		"CREATE USER 'limited'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('pw')",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX ON *.* TO 'limited'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(tgt.DSN(""), "root@", "limited:pw@", 1)
	o := withApply(opts(2), replay.ApplyBinlog)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, dsn, sc.Start, 0
	_, err := replay.Run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "BINLOG REPLAY") || !strings.Contains(err.Error(), "--apply sql") {
		t.Fatalf("replay without BINLOG REPLAY: %v; want an error naming the privilege and --apply sql", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", replay.CheckpointSchema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the refused replay created the checkpoint database")
	}
	if err := replaytest.ExecAll(context.Background(), db, "GRANT BINLOG REPLAY ON *.* TO 'limited'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	sum, err := replay.Run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatalf("replay with BINLOG REPLAY: %v", err)
	}
	if sum.Applied == 0 || sum.Apply != replay.ApplyBinlog {
		t.Fatalf("%d applied, row events by %q", sum.Applied, sum.Apply)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "pv")
}

// TestApplyAutoWithoutBinlogPrivilege replays several workloads (ROW,
// four source sessions: keys, unique churn, foreign keys, tables without
// keys, DDL, character sets, every type) with --apply auto as a target
// user that has the data and DDL privileges on the workloads' databases
// and all of them on the checkpoint's, but no BINLOG REPLAY nor SUPER: the
// replay must say at the start that it applies row events as SQL and why,
// and end equal to the source. With --apply binlog the same user is
// refused before anything is written.
func TestApplyAutoWithoutBinlogPrivilege(t *testing.T) {
	profiles := []workload.Profile{workload.OLTP, workload.UniqueChurn, workload.ForeignKeys, workload.NoPK,
		workload.DDL, workload.Charset, workload.Types}
	wopts := func(p workload.Profile) workload.Options {
		return workload.Options{Profile: p, Seed: 7, Format: "ROW", Threads: 4, Txns: 400}
	}
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			for _, p := range profiles {
				if err := workload.Setup(ctx, db, wopts(p)); err != nil {
					return err
				}
			}
			return nil
		},
		func(ctx context.Context, db *sql.DB) error {
			for _, p := range profiles {
				if err := workload.Run(ctx, db, wopts(p)); err != nil {
					return err
				}
			}
			return nil
		})
	tgt, db := sc.Target(t)
	if err := replaytest.ExecAll(context.Background(), db,
		"CREATE USER 'dataonly'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('pw')",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES "+
			"ON `wl\\_%`.* TO 'dataonly'@'localhost'",
		"GRANT ALL ON "+replay.CheckpointSchema+".* TO 'dataonly'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(tgt.DSN(""), "root@", "dataonly:pw@", 1)
	o := withApply(opts(4), replay.ApplyBinlog)
	o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, dsn, sc.Start, 0
	if _, err := replay.Run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "BINLOG REPLAY") {
		t.Fatalf("--apply binlog without BINLOG REPLAY: %v; want an error naming the privilege", err)
	}
	o.Apply.Mode = replay.ApplyAuto
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	if sum.Apply != replay.ApplySQL || sum.SQLRowEvents == 0 ||
		!strings.Contains(log.String(), "row events: applied as SQL statements made from their row images (--apply auto: "+
			"the target user may not run BINLOG statements") {
		t.Fatalf("row events applied by %q, %d as SQL; want SQL, said at the start\nlog:\n%s", sum.Apply, sum.SQLRowEvents, log.String())
	}
	t.Logf("%d transactions, %d row events applied as SQL", sum.Applied, sum.SQLRowEvents)
	replaytest.RequireEqual(t, db, sc.SourceDB)
}

// TestSourceGTIDsNeedBinlogReplay replays into a target with its binlog
// on, as a user with BINLOG ADMIN (it may set sql_log_bin) but not BINLOG
// REPLAY, so row events are applied as SQL: the source's GTIDs cannot be
// kept (setting gtid_seq_no needs BINLOG REPLAY), which --target-gtids
// auto says at the start, taking the target's own, and --target-gtids
// source refuses before anything is written.
func TestSourceGTIDsNeedBinlogReplay(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE pv", "CREATE TABLE pv.t (id INT PRIMARY KEY, v INT)")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "INSERT INTO pv.t VALUES (1, 1), (2, 2)", "UPDATE pv.t SET v = 3 WHERE id = 2")
		})
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true})
	db := openServer(t, tgt)
	if err := replaytest.ExecAll(context.Background(), db,
		"CREATE USER 'binadmin'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('pw')",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, BINLOG ADMIN ON *.* TO 'binadmin'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	o := opts(2)
	o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 0
	o.TargetDSN = strings.Replace(tgt.DSN(""), "root@", "binadmin:pw@", 1)
	o.Apply.TargetGTIDs = replay.GTIDsSource
	if _, err := replay.Run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "gtid_seq_no") {
		t.Fatalf("--target-gtids source without BINLOG REPLAY: %v; want it refused naming gtid_seq_no", err)
	}
	o.Apply.TargetGTIDs = replay.GTIDsAuto
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	if err != nil {
		t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
	}
	if sum.SourceGTIDs || sum.Apply != replay.ApplySQL || !strings.Contains(log.String(), "may not set gtid_domain_id and gtid_seq_no") {
		t.Fatalf("source GTIDs %v, row events by %q; want the target's own GTIDs and SQL, said at the start\nlog:\n%s",
			sum.SourceGTIDs, sum.Apply, log.String())
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "pv")
}
