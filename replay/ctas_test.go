package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
)

// ctasScenario runs, in row format, CREATE TABLE ... SELECT (one GTID
// group holding the CREATE and the rows), writes to the new table, then
// CREATE OR REPLACE TABLE ... SELECT over it (a table the replay already
// knows, with another definition), a CREATE TABLE ... SELECT into a
// MyISAM table, a CREATE OR REPLACE TABLE ... SELECT over that one (the
// server shows no identity of a MyISAM table: replaced, it may look the
// same), and a last transaction writing it (non-transactional: logged by
// the target as its statement ends, before the COMMIT).
func ctasScenario(t *testing.T) *replaytest.Scenario {
	t.Helper()
	return replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE cs", "CREATE TABLE cs.src (id INT PRIMARY KEY, v VARCHAR(10))",
				"INSERT INTO cs.src VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
		},
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db,
				"CREATE TABLE cs.c ENGINE=InnoDB SELECT * FROM cs.src",
				"INSERT INTO cs.c VALUES (5, 'e')",
				"UPDATE cs.src SET v = 'z' WHERE id = 2",
				"CREATE OR REPLACE TABLE cs.c (id INT PRIMARY KEY, v VARCHAR(10), w INT DEFAULT 7) SELECT * FROM cs.src WHERE id < 4",
				"INSERT INTO cs.c (id, v) VALUES (6, 'f')",
				"CREATE TABLE cs.m ENGINE=MyISAM SELECT * FROM cs.src",
				"INSERT INTO cs.src VALUES (9, 'i')",
				"CREATE OR REPLACE TABLE cs.m (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM SELECT * FROM cs.src WHERE id > 1",
				"INSERT INTO cs.m VALUES (10, 'j')")
		})
}

// TestCreateTableSelect replays CREATE TABLE ... SELECT and CREATE OR
// REPLACE TABLE ... SELECT: the target must end equal to the source, with
// 1 and 4 workers (the table the replay knew is read again after the
// CREATE OR REPLACE), row events passed through and applied as SQL (the
// rows after the CREATE, made from the table it created).
func TestCreateTableSelect(t *testing.T) {
	sc := ctasScenario(t)
	for _, workers := range []int{1, 4} {
		for _, apply := range applyModes {
			t.Run(fmt.Sprintf("%d workers, apply=%s", workers, apply), func(t *testing.T) {
				db, _ := replayInto(t, sc, withApply(opts(workers), apply))
				replaytest.RequireEqual(t, db, sc.SourceDB, "cs")
			})
		}
	}
}

// TestCreateTableSelectResume loses the target between the CREATE of a
// CREATE TABLE ... SELECT (committed on its own) and the commit of its
// rows, for the first CREATE and for the CREATE OR REPLACE: the resumed
// run must see that the table was created, apply the rows, and end equal
// to the source. A CREATE OR REPLACE over a MyISAM table (soak seed 9224:
// over an Aria or MyISAM table, which the server shows no identity of, the
// resume refused it as a DDL whose outcome cannot be told) is run again
// whole, and ends equal to the source too.
func TestCreateTableSelectResume(t *testing.T) {
	sc := ctasScenario(t)
	for _, c := range []struct{ name, stmt, log string }{
		{"CREATE TABLE", "CREATE TABLE `cs`.`c`", "applying the rows it writes"},
		{"CREATE OR REPLACE TABLE", "CREATE OR REPLACE TABLE `cs`.`c`", "running it again"},
		{"CREATE OR REPLACE TABLE over MyISAM", "CREATE OR REPLACE TABLE `cs`.`m`", "running it again"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			// The packet after the CREATE: the one passing its rows through.
			seen := false
			match := func(b []byte) bool {
				if bytes.Contains(b, []byte(c.stmt)) {
					seen = true
					return false
				}
				return seen && bytes.HasPrefix(b, []byte("BINLOG"))
			}
			proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutBefore, 1, match)
			o := opts(4)
			o.Files, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, sc.Start, 30*time.Second
			o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
			var log strings.Builder
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			if cut, _ := proxy.state(); !cut || !strings.Contains(log.String(), c.log) {
				t.Fatalf("the connection was not cut between the CREATE and its rows\nlog:\n%s", log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "cs")
		})
	}
}

// TestCreateTableSelectKeepsGTIDs replays CREATE TABLE ... SELECT into a
// target that keeps the source's GTIDs in its binlog, under
// gtid_strict_mode: each must be logged under its source GTID alone, the
// CREATE and its rows together (as the source logged them), with no GTID
// of the target's own; and the target must end equal to the source, also
// when the connection is cut just before or just after the statement
// that creates the table. Row events applied as SQL go to the staging
// table the same way (no cut).
func TestCreateTableSelectKeepsGTIDs(t *testing.T) {
	sc := ctasScenario(t)
	srcPos, _ := gtidState(t, sc.SourceDB)
	for _, c := range []struct {
		name, cut string
		apply     replay.ApplyMode
		args      []string
	}{
		{"no cut", "", replay.ApplyBinlog, nil},
		{"cut before the CREATE ... SELECT", "before", replay.ApplyBinlog, nil},
		{"cut after the CREATE ... SELECT", "after", replay.ApplyBinlog, nil},
		{"no cut, apply=sql", "", replay.ApplySQL, nil},
		// binlog_replay, where the staging table is, made in utf8mb4: the
		// staging table's columns take cs's latin1 (they took utf8mb4, and
		// the rows were refused: "cannot be converted from type
		// 'varchar(10 octets)'").
		{"no cut, the server's character set utf8mb4", "", replay.ApplyBinlog,
			[]string{"--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true, Args: append([]string{"--gtid-strict-mode=1"}, c.args...)})
			db, err := tgt.Open(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			o := withApply(opts(4), c.apply)
			o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
			if c.cut != "" {
				// The statement that creates cs.c from the staging table.
				match := func(b []byte) bool {
					return bytes.Contains(b, []byte("SELECT `id`, `v` FROM `binlog_replay`.`ctas_stage`"))
				}
				mode := cutBefore
				if c.cut == "after" {
					mode = cutAfter
				}
				proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), mode, 1, match)
				o.Recovery.Reconnect = 30 * time.Second
				o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(proxy.ln.Addr().(*net.TCPAddr).Port), 1)
				defer func() {
					if cut, _ := proxy.state(); !cut {
						t.Errorf("the connection was not cut")
					}
				}()
			}
			sum, log := replayKeepingGTIDs(t, o, db, sc, srcPos, "cs")
			checkApplied(t, o, sum, log)
			seen := map[string]bool{}
			rows, err := db.Query("SHOW BINLOG EVENTS")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var logName, typ, info string
				var pos, serverID, end uint64
				if err := rows.Scan(&logName, &pos, &typ, &serverID, &end, &info); err != nil {
					t.Fatal(err)
				}
				if typ != "Gtid" {
					continue
				}
				g := info[strings.LastIndexByte(info, ' ')+1:]
				if serverID == uint64(tgt.ServerID) || seen[g] {
					t.Fatalf("target binlog holds GTID %s (server id %d, seen before: %v): a GTID the source did not give", g, serverID, seen[g])
				}
				seen[g] = true
			}
		})
	}
}
