package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
)

// TestMariaDBTypes replays MariaDB's own types, INET6, INET4 and UUID (in
// unique keys, whose values move between rows), by passthrough and as SQL,
// and a system-versioned table (its history rows written by the server
// from the row events' row_start and row_end) by passthrough, in every
// format; as SQL, the versioned table's row events are refused (the
// target would version them again) and left out here with --databases. The
// target must end equal to the source, history included.
func TestMariaDBTypes(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE mt",
			"CREATE TABLE mt.n (id INT PRIMARY KEY, a6 INET6, a4 INET4, u UUID, UNIQUE KEY (a6), UNIQUE KEY (u)) ENGINE=InnoDB",
			"CREATE DATABASE mv",
			"CREATE TABLE mv.sv (id INT PRIMARY KEY, v INT) ENGINE=InnoDB WITH SYSTEM VERSIONING",
			"INSERT INTO mv.sv VALUES (1, 1), (2, 2)",
		)
	}
	work := func(ctx context.Context, db *sql.DB) error {
		var stmts []string
		for i := 1; i <= 6; i++ {
			stmts = append(stmts,
				fmt.Sprintf("INSERT INTO mt.n VALUES (%d, '2001:db8::%x', '10.0.0.%d', '%08x-0000-1000-8000-00000000000%d')", i, i, i, i*0x1000001, i),
				fmt.Sprintf("UPDATE mt.n SET a6 = NULL, u = NULL WHERE id = %d", i-1),
				fmt.Sprintf("UPDATE mt.n SET a6 = '2001:db8::%x', u = '%08x-0000-1000-8000-00000000000%d' WHERE id = %d", i-1, (i-1)*0x1000001, i-1, i),
				fmt.Sprintf("UPDATE mv.sv SET v = v + %d WHERE id = %d", i, 1+i%2))
		}
		stmts = append(stmts, "DELETE FROM mv.sv WHERE id = 2", "INSERT INTO mv.sv VALUES (3, 3)")
		return replaytest.ExecAll(ctx, db, stmts...)
	}
	for _, format := range []string{"ROW", "MIXED", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			sc := replaytest.New(t, format, setup, work)
			for _, apply := range []replay.ApplyMode{replay.ApplyAuto, replay.ApplySQL} {
				t.Run(fmt.Sprint(apply), func(t *testing.T) {
					o := withApply(opts(4), apply)
					if apply == replay.ApplySQL {
						o.Select.Databases = []string{"mt"}
					}
					db, sum := replayInto(t, sc, o)
					if apply == replay.ApplySQL && format == "ROW" && sum.SQLRowEvents == 0 {
						t.Error("no row event applied as SQL")
					}
					replaytest.RequireEqual(t, db, sc.SourceDB, "mt")
					if apply == replay.ApplySQL {
						return
					}
					replaytest.RequireEqual(t, db, sc.SourceDB, "mv")
					history := func(d *sql.DB) (n int, sum string) {
						if err := d.QueryRow("SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', id, v, row_start, row_end))), 0) "+
							"FROM mv.sv FOR SYSTEM_TIME ALL").Scan(&n, &sum); err != nil {
							t.Fatal(err)
						}
						return n, sum
					}
					gotN, gotSum := history(db)
					wantN, wantSum := history(sc.SourceDB)
					if gotN != wantN || gotSum != wantSum {
						t.Errorf("history of mv.sv: %d rows (checksum %s), source %d (%s)", gotN, gotSum, wantN, wantSum)
					}
				})
			}
		})
	}
}
