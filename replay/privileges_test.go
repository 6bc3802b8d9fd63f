package replay_test

import (
	"context"
	"database/sql"
	"io"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestMissingBinlogPrivilege replays as a target user that has every data
// privilege but not BINLOG REPLAY: the replay must stop before writing
// anything, naming the privilege to grant. With the privilege granted, the
// same user replays the binlogs.
func TestMissingBinlogPrivilege(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return execAll(ctx, db, "CREATE DATABASE pv", "CREATE TABLE pv.t (id INT PRIMARY KEY, v INT)")
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return execAll(ctx, db, "INSERT INTO pv.t VALUES (1, 1), (2, 2)", "UPDATE pv.t SET v = 3 WHERE id = 2")
	}
	sc := replaytest.New(t, "ROW", setup, work)
	tgt, db := sc.Target(t)
	if err := execAll(context.Background(), db,
		"CREATE USER 'limited'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('pw')",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX ON *.* TO 'limited'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(tgt.DSN(""), "root@", "limited:pw@", 1)
	o := opts(2)
	o.Files, o.TargetDSN, o.StartPosition, o.Reconnect = sc.Files, dsn, sc.Start, 0
	_, err := replay.Run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "BINLOG REPLAY") {
		t.Fatalf("replay without BINLOG REPLAY: %v; want an error naming the privilege", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", replay.CheckpointSchema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the refused replay created the checkpoint database")
	}
	if err := execAll(context.Background(), db, "GRANT BINLOG REPLAY ON *.* TO 'limited'@'localhost'"); err != nil {
		t.Fatal(err)
	}
	sum, err := replay.Run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatalf("replay with BINLOG REPLAY: %v", err)
	}
	if sum.Applied == 0 {
		t.Fatal("nothing applied")
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "pv")
}
