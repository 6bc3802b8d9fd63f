package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
)

// TestAwkwardNamesAndValues replays, in each binlog format, with 1 and 4
// workers and a DDL in the middle, a database, tables and columns whose
// names hold backticks, quotes, spaces, unicode and reserved words, and
// values holding quotes, backslashes, NUL bytes, comment and statement
// separators: the target must equal the source, and nothing in a name or
// value may run as SQL (a smuggled statement would create the table
// pwned).
func TestAwkwardNamesAndValues(t *testing.T) {
	const (
		dbName  = "we`ird 'db\" ü"
		tblName = "select"
		colName = "or`der"
	)
	q := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	tbl := q(dbName) + "." + q(tblName)
	values := []string{
		"it's", `back\slash`, "nul\x00byte", `"; CREATE TABLE pwned (a INT); -- `, "`) ; DROP DATABASE x; #",
		"/* comment */", "ünïcødé ✓", "'", `\`, "",
	}
	for _, format := range []string{"ROW", "MIXED", "STATEMENT"} {
		t.Run(format, func(t *testing.T) {
			sc := replaytest.New(t, format, func(ctx context.Context, db *sql.DB) error {
				return replaytest.ExecAll(ctx, db,
					"CREATE DATABASE "+q(dbName),
					"CREATE TABLE "+tbl+" (id INT PRIMARY KEY, "+q(colName)+" VARBINARY(64), `ä ö` TEXT CHARACTER SET utf8mb4, "+
						"UNIQUE KEY "+q("k`ey")+" ("+q(colName)+"))")
			}, func(ctx context.Context, db *sql.DB) error {
				conn, err := db.Conn(ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				// The statements' default database is the awkward one: a
				// statement-format replay must USE it.
				if _, err := conn.ExecContext(ctx, "USE "+q(dbName)); err != nil {
					return err
				}
				for i, v := range values {
					if _, err := conn.ExecContext(ctx, "INSERT INTO "+tbl+" (id, "+q(colName)+", `ä ö`) VALUES (?, ?, ?)", i, v, v); err != nil {
						return fmt.Errorf("insert %q: %w", v, err)
					}
					if i == len(values)/2 {
						if _, err := conn.ExecContext(ctx, "ALTER TABLE "+tbl+" ADD COLUMN "+q("new'col")+" INT DEFAULT 7"); err != nil {
							return err
						}
					}
				}
				for i := range values {
					if _, err := conn.ExecContext(ctx, "UPDATE "+q(tblName)+" SET `ä ö` = CONCAT(`ä ö`, ?) WHERE id = ?", values[len(values)-1-i], i); err != nil {
						return err
					}
				}
				_, err = conn.ExecContext(ctx, "DELETE FROM "+tbl+" WHERE "+q(colName)+" = ?", values[0])
				return err
			})
			for _, workers := range []int{1, 4} {
				t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
					db, sum := replayInto(t, sc, opts(workers))
					if sum.Applied == 0 {
						t.Fatal("nothing applied")
					}
					replaytest.RequireEqual(t, db, sc.SourceDB, dbName)
					var n int
					if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'pwned'").Scan(&n); err != nil || n != 0 {
						t.Fatalf("a value ran as SQL: %d tables pwned (%v)", n, err)
					}
					var got string
					if err := db.QueryRow("SELECT " + q(colName) + " FROM " + tbl + " WHERE id = 2").Scan(&got); err != nil || got != values[2] {
						t.Fatalf("value with a NUL byte: %q, %v; want %q", got, err, values[2])
					}
				})
			}
		})
	}
}
