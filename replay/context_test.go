package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
)

// TestStatementContextDefaults replays statements whose events leave out
// a session setting because it had its default value on the source
// (MariaDB logs auto_increment_increment and _offset only when not 1,
// lc_time_names only when not en_US), after a statement that set it: the
// session that applied the first must not keep its value for the second.
// mysqlbinlog writes the defaults back in its output for such events. And
// MariaDB's options of a query event's flags2 (check_constraint_checks,
// explicit_defaults_for_timestamp) must be applied as the source had them,
// as must a collation_database the session set (which reads a LOAD DATA
// file) over its default database's.
func TestStatementContextDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ld.csv")
	if err := os.WriteFile(file, []byte("1,caf\xc3\xa9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE h",
			"CREATE TABLE h.ai (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB",
			"CREATE TABLE h.ck (id INT PRIMARY KEY, c INT, CHECK (c > 0)) ENGINE=InnoDB",
			"CREATE DATABASE hu CHARACTER SET utf8mb4",
			"CREATE TABLE hu.ld (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
		)
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"SET SESSION auto_increment_increment = 3, auto_increment_offset = 2, lc_time_names = 'de_DE'",
			"INSERT INTO h.ai (v) VALUES (DATE_FORMAT('2026-12-07', '%M %W')), ('set')",
			"SET SESSION auto_increment_increment = 1, auto_increment_offset = 1, lc_time_names = 'en_US'",
			"INSERT INTO h.ai (v) VALUES (DATE_FORMAT('2026-12-07', '%M %W')), ('default'), ('default')",
			"INSERT INTO h.ai (v) VALUES (MONTHNAME('2026-12-07'))",
			"SET SESSION check_constraint_checks = 0",
			"INSERT INTO h.ck VALUES (1, -1)",
			"SET SESSION check_constraint_checks = 1",
			"SET SESSION explicit_defaults_for_timestamp = 0",
			// Without explicit defaults: NOT NULL DEFAULT CURRENT_TIMESTAMP
			// ON UPDATE CURRENT_TIMESTAMP.
			"CREATE TABLE h.ts (id INT PRIMARY KEY, v INT, ts TIMESTAMP) ENGINE=InnoDB",
			"SET SESSION explicit_defaults_for_timestamp = 1",
			"SET TIMESTAMP = 1765000000",
			"INSERT INTO h.ts (id, v) VALUES (1, 1)",
			"SET TIMESTAMP = 1765000100",
			"UPDATE h.ts SET v = 2",
			"USE hu",
			"SET SESSION collation_database = 'latin1_swedish_ci'",
			"LOAD DATA INFILE "+quoteLit(file)+" INTO TABLE ld FIELDS TERMINATED BY ','",
			"SET SESSION collation_database = DEFAULT",
		)
	}
	sc := replaytest.New(t, "STATEMENT", setup, work)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			db, _ := replayInto(t, sc, opts(workers))
			replaytest.RequireEqual(t, db, sc.SourceDB, "h", "hu")
		})
	}
}
