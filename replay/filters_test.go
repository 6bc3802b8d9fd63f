package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/verify"
)

// replayFiltered replays sc's binlogs with workers into a target restored
// from its base, keeping tables (--tables) or dbs (--databases), and
// returns the target, the summary, the log and the error.
func replayFiltered(t *testing.T, sc *replaytest.Scenario, workers int, tables, dbs []string) (*sql.DB, *replay.Summary, string, error) {
	t.Helper()
	tgt, db := sc.Target(t)
	o := opts(workers)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Select.Tables, o.Select.Databases = tables, dbs
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	return db, sum, log.String(), err
}

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
			db, sum, log, err := replayFiltered(t, sc, 2, c.tables, c.dbs)
			if c.refusal != "" {
				if err == nil || !strings.Contains(err.Error(), c.refusal) || !strings.HasPrefix(err.Error(), "nothing applied") {
					t.Fatalf("replay: %v, want a refusal saying %q\nlog:\n%s", err, c.refusal, log)
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
				t.Fatalf("replay: %v\nlog:\n%s", err, log)
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

// TestTablesKeepStatementsByTable: with --tables, statement-format events
// were kept by their default database (as mysqlbinlog --database keeps
// them), so a statement on another table of that database was applied to
// it: a table --tables leaves out was written, exit 0. They are kept by
// the tables they name now: the other table stays as the base had it,
// a temporary table filling a table of --tables is kept with it, so is
// a ROLLBACK TO SAVEPOINT (which names no table) undoing row events, and a
// statement that names a table of --tables and another (it reads the
// other as the target holds it), or one on the other table whose trigger
// writes a table of --tables, is refused before anything is applied.
func TestTablesKeepStatementsByTable(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE d",
			"CREATE TABLE d.t1 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"CREATE TABLE d.t2 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"INSERT INTO d.t2 VALUES (1, 1), (2, 2)", "CREATE TABLE d.m (id INT) ENGINE=MyISAM")
	}
	// The MyISAM write keeps the rolled-back row events in the binlog,
	// followed by the ROLLBACK TO (without one, the server drops them).
	work := []string{"USE d", "INSERT INTO t2 VALUES (3, 3)", "UPDATE t2 SET v = v + 100", "INSERT INTO t1 VALUES (5, 5)",
		"UPDATE t1 SET v = v + 1", "CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, v INT)", "INSERT INTO tmp VALUES (7, 7), (8, 8)",
		"INSERT INTO t1 SELECT * FROM tmp", "DROP TEMPORARY TABLE tmp", "SET SESSION binlog_format = 'ROW'", "INSERT INTO t2 VALUES (4, 4)", "INSERT INTO t1 VALUES (6, 6)",
		"START TRANSACTION", "UPDATE t1 SET v = v + 1", "INSERT INTO m VALUES (1)", "SAVEPOINT sp", "UPDATE t1 SET v = v + 1000", "ROLLBACK TO SAVEPOINT sp", "COMMIT"}
	run := func(t *testing.T, sc *replaytest.Scenario) (*sql.DB, error) {
		db, _, _, err := replayFiltered(t, sc, 2, []string{"d.t1"}, nil)
		return db, err
	}
	t.Run("other table left out", func(t *testing.T) {
		sc := replaytest.New(t, "STATEMENT", setup, func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, work...)
		})
		db, err := run(t, sc)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		rep, err := verify.Compare(context.Background(), db, sc.SourceDB, verify.Options{Tables: []string{"d.t1"}})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Equal() || len(rep.Tables) != 1 {
			t.Fatalf("d.t1 differs from the source's:\n%s", rep)
		}
		if got := strings.Join(queryStrings(t, db, "SELECT CONCAT(id, '=', v) FROM d.t2 ORDER BY id"), " "); got != "1=1 2=2" {
			t.Fatalf("d.t2, which --tables leaves out, holds %s: want the base's 1=1 2=2", got)
		}
	})
	t.Run("temporary table per source session", func(t *testing.T) {
		// One connection holds tmp, switches its server id, creates and
		// drops a tmp of its own there, and switches back: its first tmp
		// is still there (the server scopes temporary tables by server id
		// and thread id), and t1 is filled from it. Before, --tables took
		// the drop for the first tmp's, left out the write to it as one
		// to a permanent table, and t1 got the stale rows, exit 0 (soak
		// seed 127011).
		sc := replaytest.New(t, "STATEMENT", setup, func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE d",
				"CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, v INT) ENGINE=MEMORY", "INSERT INTO tmp VALUES (1, 1)",
				"SET SESSION server_id = 777",
				"CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "INSERT INTO tmp VALUES (50, 50)",
				"DROP TEMPORARY TABLE tmp",
				"SET SESSION server_id = @@GLOBAL.server_id",
				"INSERT INTO tmp VALUES (2, 2)", "INSERT INTO t1 SELECT * FROM tmp")
		})
		db, err := run(t, sc)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if got := strings.Join(queryStrings(t, sc.SourceDB, "SELECT CONCAT(id, '=', v) FROM d.t1 ORDER BY id"), " "); got != "1=1 2=2" {
			t.Fatalf("the source's d.t1 holds %s, want 1=1 2=2 (the server scopes temporary tables otherwise?)", got)
		}
		rep, err := verify.Compare(context.Background(), db, sc.SourceDB, verify.Options{Tables: []string{"d.t1"}})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Equal() {
			t.Fatalf("d.t1 differs from the source's:\n%s", rep)
		}
	})
	t.Run("trigger across refused", func(t *testing.T) {
		sc := replaytest.New(t, "STATEMENT", func(ctx context.Context, db *sql.DB) error {
			if err := setup(ctx, db); err != nil {
				return err
			}
			return replaytest.ExecAll(ctx, db, "CREATE TRIGGER d.copy AFTER INSERT ON d.t2 FOR EACH ROW INSERT INTO d.t1 VALUES (NEW.id, NEW.v)")
		}, func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "USE d", "INSERT INTO t1 VALUES (50, 50)", "INSERT INTO t2 VALUES (3, 3)")
		})
		db, err := run(t, sc)
		want := "and d.t2, which --tables leaves out (itself or through a trigger or a routine)"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("replay: %v, want a refusal saying %q", err, want)
		}
		if n := queryStrings(t, db, "SELECT COUNT(*) FROM d.t1"); n[0] != "0" {
			t.Fatalf("refused, yet d.t1 holds %s rows", n[0])
		}
		// Into a side database holding t1 alone: beside the live d, the
		// same refusal (the trigger read from d); on a target without d,
		// whose triggers cannot be read, the statement on t2 is refused
		// all the same. Before, it was left out and d_side.t1 lacked the
		// row the trigger wrote, exit 0 (soak seed 72019).
		for _, live := range []bool{true, false} {
			_, err := replaySide(t, sc, "d.t1", live)
			want := "and d.t2, which --tables leaves out (itself or through a trigger or a routine)"
			if !live {
				want = "it changes a table of `d` that --tables leaves out, whose triggers the target does not show"
			}
			if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "nothing applied: --rewrite-db cannot apply") {
				t.Fatalf("replay into d_side (d on the target: %v): %v, want a refusal saying %q", live, err, want)
			}
		}
	})
	t.Run("statement naming both refused", func(t *testing.T) {
		sc := replaytest.New(t, "STATEMENT", setup, func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, append(work, "SET SESSION binlog_format = 'STATEMENT'",
				"INSERT INTO t1 SELECT id + 10, v FROM t2")...)
		})
		db, err := run(t, sc)
		want := "it names `t1`, a table of --tables, and d.t2, which --tables leaves out"
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "nothing applied: --tables cannot apply 1 transaction") {
			t.Fatalf("replay: %v, want a refusal saying %q", err, want)
		}
		if n := queryStrings(t, db, "SELECT COUNT(*) FROM d.t1"); n[0] != "0" {
			t.Fatalf("refused, yet d.t1 holds %s rows", n[0])
		}
		// Into a side database holding t1 alone, beside the live d: the
		// same refusal (it was applied, and stopped at the first such
		// statement on error 1146, d_side.t2 missing: soak seed 67026).
		db, err = replaySide(t, sc, "d.t1", true)
		want = "it names `t1`, a table of --tables, and d.t2, which --tables leaves out"
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "nothing applied: --rewrite-db cannot apply 1 transaction") {
			t.Fatalf("replay into d_side: %v, want a refusal saying %q", err, want)
		}
		if n := queryStrings(t, db, "SELECT COUNT(*) FROM d_side.t1"); n[0] != "0" {
			t.Fatalf("refused, yet d_side.t1 holds %s rows", n[0])
		}
	})
}

// replaySide replays sc's binlogs with --tables table (of database d) and
// --rewrite-db d=d_side into a target restored from its base, where d_side
// holds a copy of table alone; live keeps the target's d beside it (else
// it is dropped).
func replaySide(t *testing.T, sc *replaytest.Scenario, table string, live bool) (*sql.DB, error) {
	t.Helper()
	tgt, db := sc.Target(t)
	name := strings.TrimPrefix(table, "d.")
	stmts := []string{"CREATE DATABASE d_side", "CREATE TABLE d_side." + name + " LIKE " + table,
		"INSERT INTO d_side." + name + " SELECT * FROM " + table}
	if !live {
		stmts = append(stmts, "DROP DATABASE d")
	}
	if err := replaytest.ExecAll(context.Background(), db, stmts...); err != nil {
		t.Fatal(err)
	}
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Select.Tables, o.Select.RewriteDB = []string{table}, rewrite.Rules{{From: "d", To: "d_side"}}
	var log strings.Builder
	_, err := replay.Run(context.Background(), o, &log)
	return db, err
}

// TestDatabasesStatementsAcross: with --databases a, statement-format
// events were kept by their default database (as mysqlbinlog --database):
// one run in b that wrote a.t was left out, in silence, and one run in a
// that wrote b.u was applied to b, a database left out. The first is now
// refused, and so is the second; one run in b that only reads a is left
// out, and one without a default database that writes a.t is applied, as
// is a CREATE DATABASE a2 run in b (the server logs it in a2).
func TestDatabasesStatementsAcross(t *testing.T) {
	setup := func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE a", "CREATE DATABASE b",
			"CREATE TABLE a.t (id INT PRIMARY KEY) ENGINE=InnoDB", "CREATE TABLE b.u (id INT PRIMARY KEY) ENGINE=InnoDB")
	}
	base := []string{"INSERT INTO a.t VALUES (1)", "USE b", "INSERT INTO u SELECT id + 10 FROM a.t", "USE a", "INSERT INTO t VALUES (2)",
		"USE b", "CREATE DATABASE a2", "USE a2", "CREATE TABLE x (id INT PRIMARY KEY)", "INSERT INTO x VALUES (1)"}
	for _, c := range []struct {
		name, stmt, refusal string
	}{
		{"reads only", "", ""},
		{"writes the kept from another", "USE b; INSERT INTO a.t VALUES (3)", "it runs in the database `b`, which the include filters do not apply, but it names `a`"},
		{"writes another from the kept", "USE a; INSERT INTO b.u VALUES (3)", "it names the database `b`, which --databases and --tables do not apply"},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := base
			if c.stmt != "" {
				work = append(append([]string(nil), base...), strings.Split(c.stmt, "; ")...)
			}
			sc := replaytest.New(t, "STATEMENT", setup, func(ctx context.Context, db *sql.DB) error {
				return replaytest.ExecAll(ctx, db, work...)
			})
			db, _, _, err := replayFiltered(t, sc, 2, nil, []string{"a", "a2"})
			if c.refusal != "" {
				if err == nil || !strings.Contains(err.Error(), c.refusal) || !strings.HasPrefix(err.Error(), "nothing applied: --databases cannot apply 1 transaction") {
					t.Fatalf("replay: %v, want a refusal saying %q", err, c.refusal)
				}
				if n := queryStrings(t, db, "SELECT COUNT(*) FROM a.t"); n[0] != "0" {
					t.Fatalf("refused, yet a.t holds %s rows", n[0])
				}
				return
			}
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "a", "a2")
			if n := queryStrings(t, db, "SELECT COUNT(*) FROM b.u"); n[0] != "0" {
				t.Fatalf("b.u, left out, holds %s rows", n[0])
			}
		})
	}
}

// TestTablesStatementEnd: in row format, a statement on t1 whose trigger
// writes audit logs t1's and audit's row events interleaved, the last
// (audit's) ending the statement. With --tables d.t1,d.t2, audit's events
// were left out with that flag, and the server kept the statement open
// into the next one, an UPDATE of t2 (soak seed 52070: t2 differed, exit
// 0). The last row event kept ends the statement now.
func TestTablesStatementEnd(t *testing.T) {
	sc := replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE d",
			"CREATE TABLE d.t1 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"CREATE TABLE d.t2 (id INT PRIMARY KEY, n INT) ENGINE=InnoDB",
			"CREATE TABLE d.audit (id INT PRIMARY KEY, n INT) ENGINE=InnoDB",
			"CREATE TRIGGER d.t1_ai AFTER INSERT ON d.t1 FOR EACH ROW INSERT INTO d.audit VALUES (NEW.id, 1) ON DUPLICATE KEY UPDATE n = n + 1",
			"INSERT INTO d.t2 VALUES (1, 0), (2, 0), (3, 0), (4, 0)")
	}, func(ctx context.Context, db *sql.DB) error {
		var stmts []string
		for i := 0; i < 5; i++ {
			stmts = append(stmts, "START TRANSACTION", fmt.Sprintf("INSERT INTO d.t1 SELECT id + %d, n FROM d.t2", 10*i),
				"UPDATE d.t2 SET n = n + 1 WHERE id <= 3", "COMMIT")
		}
		return replaytest.ExecAll(ctx, db, stmts...)
	})
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			tables := []string{"d.t1", "d.t2"}
			db, _, log, err := replayFiltered(t, sc, workers, tables, nil)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log)
			}
			rep, err := verify.Compare(context.Background(), db, sc.SourceDB, verify.Options{Tables: tables})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Equal() || len(rep.Tables) != 2 {
				t.Fatalf("the tables kept differ from the source's:\n%s", rep)
			}
		})
	}
}

// TestFiltersFoldCase: on servers whose lower_case_table_names is 1, a
// statement names a table in any case (TRUNCATE TABLE T1 of table t1),
// and the operator may give --databases and --tables in any case too.
// Before, the names were compared exactly: the statements were left out,
// or everything was, exit 0 (the target kept rows the source truncated).
// Now the replay reads the target's lower_case_table_names and compares
// them in lower case.
func TestFiltersFoldCase(t *testing.T) {
	sc := replaytest.NewArgs(t, "ROW", []string{"--lower-case-table-names=1"}, func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "CREATE DATABASE d", "CREATE TABLE d.t1 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"CREATE TABLE d.t2 (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO d.t1 VALUES (1, 1), (2, 2)")
	}, func(ctx context.Context, db *sql.DB) error {
		return replaytest.ExecAll(ctx, db, "USE D", "INSERT INTO T1 VALUES (3, 3)", "TRUNCATE TABLE T1",
			"INSERT INTO t1 VALUES (9, 9)", "ALTER TABLE T1 ADD COLUMN w INT DEFAULT 5", "INSERT INTO T2 VALUES (1)")
	})
	for _, c := range []struct {
		name        string
		tables, dbs []string
	}{
		{"tables", []string{"d.t1"}, nil},
		{"tables in upper case", []string{"D.T1"}, nil},
		{"databases in upper case", nil, []string{"D"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, _, log, err := replayFiltered(t, sc, 2, c.tables, c.dbs)
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, log)
			}
			// plan, told the target's setting, predicts the two DDL
			// statements on T1 applied; not told, it compares exactly
			// and leaves them out.
			for _, fold := range []bool{true, false} {
				rep, err := plan.Run(context.Background(), plan.Options{Files: sc.Files, StartPosition: sc.Start,
					Tables: c.tables, Databases: c.dbs, FoldCase: fold})
				if err != nil {
					t.Fatal(err)
				}
				want := map[bool]uint64{true: 2, false: 0}[fold] // TRUNCATE TABLE T1, ALTER TABLE T1
				if got := rep.Parallelism.BarrierReasons["ddl"]; got != want {
					t.Errorf("plan with FoldCase %v predicts %d DDL statements applied, want %d", fold, got, want)
				}
			}
			if !strings.Contains(log, "compared in lower case") {
				t.Errorf("the log does not say names are compared in lower case:\n%s", log)
			}
			rep, err := verify.Compare(context.Background(), db, sc.SourceDB, verify.Options{Tables: []string{"d.t1"}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Equal() {
				t.Fatalf("d.t1 differs from the source's:\n%s", rep)
			}
		})
	}
}
