package replay_test

import (
	"context"
	"database/sql"
	"io"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestLargeStatementSmallPacket replays one statement whose row events are
// many times larger than the target's max_allowed_packet (1 MB here, 16 MB
// by default on real servers): it must be split, not refused.
func TestLargeStatementSmallPacket(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE big",
				"CREATE TABLE big.t (id INT PRIMARY KEY, pad VARCHAR(200))")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db,
				"INSERT INTO big.t SELECT seq, REPEAT(CHAR(65 + seq % 26), 150) FROM big.seq_1_to_60000",
				"UPDATE big.t SET pad = REVERSE(pad) WHERE id % 3 = 0")
		})
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Args: []string{"--max-allowed-packet=1M"}})
	db, err := tgt.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("replay into a 1 MB max_allowed_packet target: %v", err)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "big")
}
