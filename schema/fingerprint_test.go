package schema

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

func TestDDLObjects(t *testing.T) {
	tbl := func(s, n string) Object { return Object{Kind: ObjTable, Schema: s, Name: n} }
	for _, c := range []struct {
		sql  string
		want []Object
	}{
		{"RENAME TABLE a TO tmp, b TO a", []Object{tbl("d", "a"), tbl("d", "tmp"), tbl("d", "b"), tbl("d", "a")}},
		{"ALTER TABLE t ADD INDEX (v)", []Object{tbl("d", "t")}},
		{"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @x = 1", []Object{tbl("d", "t"), {ObjTrigger, "d", "tr"}}},
		{"DROP TRIGGER IF EXISTS x.tr", []Object{{ObjTrigger, "x", "tr"}}},
		{"CREATE DATABASE IF NOT EXISTS `n`", []Object{{ObjDatabase, "", "n"}}},
		{"ALTER DATABASE CHARACTER SET latin1", []Object{{ObjDatabase, "", "d"}}},
		{"DROP SCHEMA n", []Object{{ObjDatabase, "", "n"}}},
		{"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() SELECT 1", []Object{{ObjRoutine, "d", "p"}}},
		{"DROP FUNCTION IF EXISTS x.f", []Object{{ObjRoutine, "x", "f"}}},
		{"CREATE OR REPLACE ALGORITHM=MERGE DEFINER=CURRENT_USER SQL SECURITY INVOKER VIEW v AS SELECT 1", []Object{tbl("d", "v")}},
		{"DROP VIEW IF EXISTS v1, x.v2", []Object{tbl("d", "v1"), tbl("x", "v2")}},
		{"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO SELECT 1", []Object{{ObjEvent, "d", "e"}}},
		{"GRANT SELECT ON d.* TO u", []Object{{Kind: ObjAccounts}}},
		{"CREATE USER u IDENTIFIED BY 'x'", []Object{{Kind: ObjAccounts}}},
		{"SET PASSWORD FOR u = PASSWORD('x')", []Object{{Kind: ObjAccounts}}},
		{"CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'h')", []Object{{Kind: ObjServers}}},
		{"INSTALL SONAME 'ha_example'", []Object{{Kind: ObjPlugins}}},
		{"ANALYZE TABLE t", nil},
		{"SOMETHING NEW", []Object{{Kind: ObjEverything}}},
	} {
		if got := DDLObjects([]byte(c.sql), "d"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("DDLObjects(%q) = %v, want %v", c.sql, got, c.want)
		}
	}
}

// TestFingerprint takes prints before and after DDL statements on a real
// server: every statement that changes something changes the digest of
// the objects it names (the swap of two InnoDB tables of one definition
// too, by their table ids), one that changes nothing leaves it, and a swap
// of two MyISAM tables of one definition, which would leave it, is
// flagged ambiguous beforehand.
func TestFingerprint(t *testing.T) {
	ctx := context.Background()
	conn := sessionWith(t, "CREATE DATABASE d", "USE d",
		"CREATE TABLE a (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "CREATE TABLE b LIKE a",
		"CREATE TABLE ma (id INT PRIMARY KEY) ENGINE=MyISAM", "CREATE TABLE mb LIKE ma",
		"CREATE TABLE `we ird-name` (id INT PRIMARY KEY) ENGINE=InnoDB", "CREATE TABLE `x.y` LIKE `we ird-name`",
		"CREATE TABLE tp (id INT PRIMARY KEY, v INT) ENGINE=InnoDB PARTITION BY RANGE (id) "+
			"(PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN (200), PARTITION p2 VALUES LESS THAN MAXVALUE)",
		"CREATE TABLE tpx (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
		"INSERT INTO tp VALUES (1, 1), (150, 2), (300, 3)", "INSERT INTO tpx VALUES (160, 4)",
		"CREATE TABLE mp (id INT PRIMARY KEY) ENGINE=MyISAM PARTITION BY RANGE (id) "+
			"(PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN MAXVALUE)",
		"CREATE TABLE mpx (id INT PRIMARY KEY) ENGINE=MyISAM", "INSERT INTO mp VALUES (1), (200)", "INSERT INTO mpx VALUES (300)")
	for _, c := range []struct {
		sql       string
		changes   bool
		ambiguous string
	}{
		{"RENAME TABLE a TO tmp, b TO a, tmp TO b", true, ""},
		{"ALTER TABLE a ADD INDEX (v)", true, ""},
		{"ALTER TABLE a ADD INDEX (v)", true, ""}, // a second index v_2
		{"CREATE TABLE IF NOT EXISTS a (x INT)", false, ""},
		{"RENAME TABLE `we ird-name` TO w2, `x.y` TO `we ird-name`, w2 TO `x.y`", true, ""}, // names InnoDB encodes
		{"CREATE PROCEDURE p() SELECT 1", true, ""},
		{"CREATE DATABASE n", true, ""},
		{"DROP DATABASE n", true, ""},
		{"CREATE USER u", true, ""},
		{"GRANT SELECT ON d.* TO u", true, ""},
		{"TRUNCATE TABLE a", true, ""}, // InnoDB gives the table a new id
		// Partitions change places or ids, definitions stay (exchanging
		// a partition that is not tp's first: its smallest id stays).
		{"ALTER TABLE tp EXCHANGE PARTITION p1 WITH TABLE tpx", true, ""},
		{"ALTER TABLE tp TRUNCATE PARTITION p2", true, ""},
		{"ALTER TABLE tp CONVERT PARTITION p2 TO TABLE tq", true, ""},
		{"RENAME TABLE ma TO tmp, mb TO ma, tmp TO mb", false, "same definition"},
		{"ALTER TABLE mp EXCHANGE PARTITION p1 WITH TABLE mpx", false, "EXCHANGE PARTITION swaps rows"},
	} {
		t.Run(c.sql, func(t *testing.T) {
			before, err := Fingerprint(ctx, conn, []byte(c.sql), "d")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, c.sql); err != nil {
				t.Fatal(err)
			}
			after, err := Fingerprint(ctx, conn, []byte(c.sql), "d")
			if err != nil {
				t.Fatal(err)
			}
			if changed := before.Digest != after.Digest; changed != c.changes {
				t.Errorf("digest changed: %v, want %v", changed, c.changes)
			}
			if c.ambiguous == "" && before.Ambiguous != "" || !strings.Contains(before.Ambiguous, c.ambiguous) {
				t.Errorf("ambiguous %q, want %q", before.Ambiguous, c.ambiguous)
			}
		})
	}
}

func TestCreateTableName(t *testing.T) {
	for _, c := range []struct {
		sql, name, span string
		ok              bool
	}{
		{"CREATE TABLE `c` (\n  `id` int(11) NOT NULL\n)", "d.c", "`c`", true},
		{"CREATE OR REPLACE TABLE `x`.`c` (id INT) SELECT 1", "x.c", "`x`.`c`", true},
		{"CREATE TABLE IF NOT EXISTS x . y (id INT)", "x.y", "x . y", true},
		{"CREATE TEMPORARY TABLE t (id INT)", "", "", false},
		{"CREATE INDEX i ON t (c)", "", "", false},
	} {
		n, start, end, ok := CreateTableName([]byte(c.sql), "d")
		if ok != c.ok || ok && (n.Schema+"."+n.Table != c.name || c.sql[start:end] != c.span) {
			t.Errorf("CreateTableName(%q) = %v %q %v, want %s %q %v", c.sql, n, c.sql[start:end], ok, c.name, c.span, c.ok)
		}
	}
}

// TestFingerprintSessionSettings takes a table's print in sessions whose
// sql_mode quotes, or writes, SHOW CREATE TABLE otherwise (ANSI_QUOTES,
// ORACLE) and with sql_quote_show_create off: the prints must be equal
// (a print taken before a DDL and one after a crash, in a new session
// with the server's ORACLE mode, differed, and the DDL, which had not run,
// was taken as run), and the session's settings must be set back.
func TestFingerprintSessionSettings(t *testing.T) {
	ctx := context.Background()
	conn := sessionWith(t, "CREATE DATABASE d", "USE d",
		"CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10) DEFAULT 'x', ts TIMESTAMP NULL, KEY (v)) ENGINE=InnoDB")
	var first string
	for _, set := range []string{"sql_mode = '', sql_quote_show_create = 1", "sql_mode = 'ANSI_QUOTES', sql_quote_show_create = 1",
		"sql_mode = 'ORACLE', sql_quote_show_create = 1", "sql_mode = 'NO_TABLE_OPTIONS,NO_KEY_OPTIONS,NO_FIELD_OPTIONS', sql_quote_show_create = 0"} {
		if _, err := conn.ExecContext(ctx, "SET SESSION "+set); err != nil {
			t.Fatal(err)
		}
		var modeBefore string
		if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&modeBefore); err != nil {
			t.Fatal(err)
		}
		p, err := Fingerprint(ctx, conn, []byte("ALTER TABLE a ADD COLUMN w INT"), "d")
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		if first == "" {
			first = p.Digest
		} else if p.Digest != first {
			t.Errorf("SET SESSION %s: print %s, in the default settings %s", set, p.Digest, first)
		}
		var modeAfter string
		if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&modeAfter); err != nil || modeAfter != modeBefore {
			t.Errorf("SET SESSION %s: sql_mode %q after the print (%v), %q before", set, modeAfter, err, modeBefore)
		}
	}
}

// sessionWith starts a server and returns a session of it that has run
// stmts, closed with the test.
func sessionWith(t *testing.T, stmts ...string) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	db := openDB(t, sandbox.ForTest(t, sandbox.Options{}), "")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}
