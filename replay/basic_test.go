package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
)

// TestReplayHandwritten replays a small hand-written history that touches
// the hazards one by one: triggers on the source, a cascading foreign key,
// a table without a primary key, latin1 bytes, DDL in the middle, a
// statement with NOW() and user variables in statement format, a MariaDB
// JSON column (which goes by passthrough, unlike MySQL's).
func TestReplayHandwritten(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"CREATE DATABASE h",
			"CREATE TABLE h.parent (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB",
			"CREATE TABLE h.child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES h.parent(id) ON DELETE CASCADE)",
			"CREATE TABLE h.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))",
			"CREATE TABLE h.nopk (a INT, b VARCHAR(10))",
			"CREATE TABLE h.l1 (id INT PRIMARY KEY, s VARCHAR(20) CHARACTER SET latin1, b BINARY(4), t TIMESTAMP(6) NULL)",
			"CREATE TABLE h.js (id INT PRIMARY KEY, j JSON)",
			"CREATE TRIGGER h.parent_ai AFTER INSERT ON h.parent FOR EACH ROW INSERT INTO h.audit (what) VALUES (CONCAT('ins ', NEW.id))",
		)
	}
	work := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db,
			"INSERT INTO h.parent VALUES (1,'a'),(2,'b'),(3,'c')",
			"INSERT INTO h.child VALUES (10,1),(11,1),(20,2)",
			"DELETE FROM h.parent WHERE id = 1",
			"INSERT INTO h.nopk VALUES (1,'x'),(1,'x'),(2,'y')",
			`INSERT INTO h.js VALUES (1, '{"a": [1, 2]}'), (2, 'null')`,
			`UPDATE h.js SET j = JSON_SET(j, '$.b', 'c') WHERE id = 1`,
			"DELETE FROM h.nopk WHERE a = 1 LIMIT 1",
			"SET time_zone = '+05:30'",
			"INSERT INTO h.l1 VALUES (1, _latin1 X'E9E8', X'41000000', '2026-01-02 03:04:05.123456')",
			"SET @v := 'uservar'",
			"UPDATE h.l1 SET s = CONCAT(@v, '-', (SELECT COUNT(*) FROM h.parent)), t = NOW(6) WHERE id = 1",
			"ALTER TABLE h.parent ADD COLUMN extra INT DEFAULT 5",
			"INSERT INTO h.parent (id, name) VALUES (4, 'd')",
			"UPDATE h.parent SET extra = extra + 1",
		)
	}
	for _, format := range []string{"ROW", "MIXED", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			sc := replaytest.New(t, format, setup, work)
			for _, workers := range []int{1, 4} {
				t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
					db, sum := replayInto(t, sc, opts(workers))
					if sum.Applied == 0 {
						t.Fatal("nothing applied")
					}
					// A MariaDB binlog's row events, JSON (LONGTEXT)
					// included, all go by passthrough.
					if sum.SQLRowEvents != 0 {
						t.Errorf("%d row events applied as SQL, want 0", sum.SQLRowEvents)
					}
					replaytest.RequireEqual(t, db, sc.SourceDB, "h")
				})
			}
		})
	}
}
