package replay_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/verify"
)

// TestFilterSplitsCascade: a child table whose foreign key cascades from
// its parent. A delete of a parent row deletes its children on the source,
// but the binlog logs only the parent's row (row format): --tables with
// the child alone applied the child's own changes and left the rows the
// cascade deleted, exit 0; --tables with the parent alone made the
// target's foreign key delete rows of a table left out. Both are refused
// before anything is applied; both tables (or the database) replay to the
// source's state.
func TestFilterSplitsCascade(t *testing.T) {
	sc := replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE f",
			"CREATE TABLE f.p (id INT PRIMARY KEY) ENGINE=InnoDB",
			"CREATE TABLE f.c (id INT PRIMARY KEY, pid INT, FOREIGN KEY fk_p (pid) REFERENCES f.p (id) ON DELETE CASCADE) ENGINE=InnoDB",
			"CREATE TABLE f.other (id INT PRIMARY KEY) ENGINE=InnoDB",
			"INSERT INTO f.p VALUES (1), (2)", "INSERT INTO f.c VALUES (10, 1), (20, 2)")
	}, func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "DELETE FROM f.p WHERE id = 1", "INSERT INTO f.c VALUES (30, 2)",
			"INSERT INTO f.other VALUES (1)")
	})
	for _, c := range []struct {
		name    string
		tables  []string
		dbs     []string
		refusal string // "" when the replay must reach the source's state
	}{
		{"child alone", []string{"f.c"}, nil, "f.c's foreign key fk_p references f.p ON DELETE CASCADE, which the filters leave out"},
		{"parent alone", []string{"f.p", "f.other"}, nil, "the target's foreign key would change f.c, which the filters leave out"},
		{"both", []string{"f.c", "f.p"}, nil, ""},
		{"database", nil, []string{"f"}, ""},
		{"unrelated table", []string{"f.other"}, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			o := opts(2)
			o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
			o.Select.Tables, o.Select.Databases = c.tables, c.dbs
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if c.refusal != "" {
				if err == nil || !strings.Contains(err.Error(), c.refusal) || !strings.HasPrefix(err.Error(), "nothing applied") {
					t.Fatalf("replay: %v, want a refusal saying %q\nlog:\n%s", err, c.refusal, log.String())
				}
				if sum != nil && sum.Applied > 0 {
					t.Fatalf("refused, yet %d transactions applied", sum.Applied)
				}
				if n := queryStrings(t, db, "SELECT COUNT(*) FROM f.c"); n[0] != "2" {
					t.Fatalf("refused, yet f.c holds %s rows, want the base's 2", n[0])
				}
				return
			}
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			rep, err := verify.Compare(context.Background(), db, sc.SourceDB, verify.Options{Databases: c.dbs, Tables: c.tables})
			if err != nil {
				t.Fatal(err)
			}
			want := len(c.tables)
			if want == 0 {
				want = 3 // the database's
			}
			if !rep.Equal() || len(rep.Tables) != want {
				t.Fatalf("the target differs from the source on what the filters keep (%d tables compared):\n%s", len(rep.Tables), rep)
			}
		})
	}
}
