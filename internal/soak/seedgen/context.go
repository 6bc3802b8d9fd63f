package seedgen

import "fmt"

// Statement context and value types (FeatContext). A statement-format
// binlog carries, beside each statement, what it needs to give the same
// result again: user variables, LAST_INSERT_ID and the next
// AUTO_INCREMENT value, RAND()'s seeds, the statement's time (to the
// microsecond), and the session's time zone, character sets and SQL mode.
// A row-format binlog carries every column type's binary image instead:
// DECIMAL, DOUBLE, BIT, ENUM and SET, BLOB and binary strings with NUL
// bytes, JSON, fractional seconds, generated and invisible columns, a
// latin1 column. The scripts below use each of them on one table, cx,
// whose AUTO_INCREMENT key is written by every session.

// contextSetupSQL creates cx and the sequence its inserts draw from.
func contextSetupSQL() []string {
	return []string{
		"CREATE TABLE cx (id INT AUTO_INCREMENT PRIMARY KEY, ref INT NOT NULL DEFAULT 0, " +
			"d DECIMAL(20,6), f DOUBLE, bits BIT(10), e ENUM('a','b','c'), st SET('x','y','z'), " +
			"b BLOB, vb VARBINARY(32), j JSON, l1 VARCHAR(32) CHARACTER SET latin1, u VARCHAR(32), " +
			"ts TIMESTAMP(6) NULL, dt DATETIME(6), tm TIME(3), yr YEAR, tiny TINYINT, " +
			"sq BIGINT, gv INT AS (ref * 2) VIRTUAL, gs VARCHAR(40) AS (CONCAT(u, '!')) STORED, " +
			"hid INT INVISIBLE DEFAULT 7, KEY (ref), CONSTRAINT cx_ref CHECK (ref >= 0)) ENGINE=InnoDB",
		"CREATE SEQUENCE cx_seq START WITH 1000 INCREMENT BY 3",
		fill("cx", "(ref, u) SELECT seq, CONCAT('base', seq)"),
	}
}

// contextTxn is one script of the statement-context kind.
func (g *sessionGen) contextTxn() []string {
	switch g.rng.IntN(12) {
	case 10: // settings a query event carries only when not at their default
		incr := 2 + g.rng.IntN(4)
		return []string{fmt.Sprintf("SET SESSION auto_increment_increment = %d, auto_increment_offset = %d, lc_time_names = '%s'",
			incr, 1+g.rng.IntN(incr), []string{"de_DE", "fr_FR", "ja_JP"}[g.rng.IntN(3)]),
			fmt.Sprintf("INSERT INTO cx (ref, u) VALUES (%d, DATE_FORMAT(NOW(), '%%W %%M')), (%d, MONTHNAME(NOW()))", g.rng.IntN(100), g.rng.IntN(100)),
			"SET SESSION auto_increment_increment = DEFAULT, auto_increment_offset = DEFAULT, lc_time_names = DEFAULT",
			fmt.Sprintf("INSERT INTO cx (ref, u) VALUES (%d, DATE_FORMAT(NOW(), '%%W %%M')), (%d, 'default')", g.rng.IntN(100), g.rng.IntN(100))}
	case 11: // MariaDB's options in a query event's flags2
		if g.rng.IntN(2) == 0 {
			return []string{"SET SESSION check_constraint_checks = 0",
				fmt.Sprintf("INSERT INTO cx (ref, u) VALUES (-%d, 'unchecked')", 1+g.rng.IntN(100)),
				"SET SESSION check_constraint_checks = DEFAULT"}
		}
		// Without explicit defaults, a TIMESTAMP column is NOT NULL DEFAULT
		// CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP.
		t := fmt.Sprintf("cxt_%d_%d", g.id, g.n)
		return []string{"SET SESSION explicit_defaults_for_timestamp = 0",
			fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, v INT, ts TIMESTAMP) ENGINE=InnoDB", t),
			"SET SESSION explicit_defaults_for_timestamp = DEFAULT",
			fmt.Sprintf("INSERT INTO %s (id, v) VALUES (1, 1), (2, 2)", t),
			fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = 1", t)}
	case 0: // user variables, LAST_INSERT_ID and INSERT_ID
		return txn(fmt.Sprintf("SET @r := %d, @w := '%s'", g.rng.IntN(100), g.word()),
			"INSERT INTO cx (ref, u) VALUES (@r, @w)",
			"UPDATE t1 SET n = n + 1, k = LAST_INSERT_ID() % 100 WHERE id = @r + 1",
			fmt.Sprintf("INSERT INTO cx (ref, u) VALUES (LAST_INSERT_ID() %% 1000, CONCAT(@w, '-2')), (%d, 'second')", g.rng.IntN(100)))
	case 1: // RAND() and the statement's time
		return []string{fmt.Sprintf("INSERT INTO cx (ref, f, ts, dt, tm, u) VALUES (%d, RAND(), NOW(6), NOW(6), CURTIME(3), '%s')",
			g.rng.IntN(100), g.word())}
	case 2: // the session's time zone
		zone := []string{"'+05:30'", "'-08:00'", "'+00:00'", "'+01:00'"}[g.rng.IntN(4)]
		return []string{"SET time_zone = " + zone,
			fmt.Sprintf("INSERT INTO cx (ref, ts, u) VALUES (%d, '2026-03-29 02:30:00.5', '%s')", g.rng.IntN(100), g.word()),
			fmt.Sprintf("UPDATE cx SET ts = FROM_UNIXTIME(%d.25) WHERE ref = %d", 1_700_000_000+g.rng.IntN(1_000_000), g.rng.IntN(100)),
			"SET time_zone = DEFAULT"}
	case 3: // the session's character sets: UTF-8 bytes read as latin1
		return []string{"SET NAMES latin1",
			fmt.Sprintf("INSERT INTO cx (ref, l1, u) VALUES (%d, 'caf\u00e9 %d', 'na\u00efve')", g.rng.IntN(100), g.rng.IntN(100)),
			"SET NAMES utf8mb4"}
	case 4: // the SQL mode: a value clipped with a warning, a zero key kept
		return []string{"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
			fmt.Sprintf("INSERT INTO cx (ref, tiny, u) VALUES (%d, %d, 'clipped')", g.rng.IntN(100), 200+g.rng.IntN(500)),
			fmt.Sprintf("INSERT INTO cx (id, ref, u) VALUES (0, %d, 'zero') ON DUPLICATE KEY UPDATE ref = ref + 1", g.rng.IntN(100)),
			"SET SESSION sql_mode = DEFAULT"}
	case 5: // savepoints
		stmts := []string{"BEGIN",
			fmt.Sprintf("INSERT INTO cx (ref, u) VALUES (%d, 'before-sp')", g.rng.IntN(100)),
			"SAVEPOINT sp1",
			fmt.Sprintf("UPDATE t2 SET n = n + 1 WHERE id = %d", 1+g.rng.IntN(baseRows))}
		if g.p.Has(FeatMyISAM) && g.rng.IntN(2) == 0 {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO m1 (id, u, v) VALUES (%d, %d, 'sp')", g.newKey(), g.newKey()))
		}
		return append(stmts, "ROLLBACK TO SAVEPOINT sp1",
			fmt.Sprintf("INSERT INTO cx (ref, u) VALUES (%d, 'after-sp')", g.rng.IntN(100)), "COMMIT")
	case 6: // multi-table UPDATE and DELETE
		ref := g.rng.IntN(100)
		if g.rng.IntN(2) == 0 {
			return txn(fmt.Sprintf("UPDATE cx JOIN t1 ON t1.id = cx.ref SET cx.d = cx.d + t1.k, t1.n = t1.n + 1 WHERE cx.ref = %d", ref))
		}
		return txn(fmt.Sprintf("DELETE cx FROM cx JOIN t2 ON t2.id = cx.ref WHERE cx.ref = %d AND t2.k < 50", ref))
	case 7: // a sequence, in a third of the seeds: with source GTIDs kept the replay stops before the first use
		if g.p.Seed%3 != 0 {
			return g.contextTxn()
		}
		return []string{fmt.Sprintf("INSERT INTO cx (ref, sq, u) VALUES (%d, NEXTVAL(cx_seq), '%s')", g.rng.IntN(100), g.word())}
	default: // every column type, and updates of some
		if g.rng.IntN(2) == 0 {
			return txn(fmt.Sprintf("UPDATE cx SET d = d * 1.5 + %d.125, bits = b'1010101010' ^ %d, e = '%s', st = '%s', "+
				"b = CONCAT(IFNULL(b, ''), X'00ff'), j = JSON_SET(IFNULL(j, '{}'), '$.n', %d), yr = %d WHERE ref = %d",
				g.rng.IntN(9), g.rng.IntN(1024), []string{"a", "b", "c"}[g.rng.IntN(3)], []string{"", "x", "x,z", "y,z"}[g.rng.IntN(4)],
				g.rng.IntN(1000), 1990+g.rng.IntN(60), g.rng.IntN(100)))
		}
		return txn(fmt.Sprintf("INSERT INTO cx (ref, d, f, bits, e, st, b, vb, j, l1, u, dt, tm, yr, tiny, hid) VALUES "+
			"(%d, %d.%06d, %d.5e-3, b'%b', '%s', 'x,y', X'00010203ff', X'%02x00%02x', '{\"k\": [%d, \"%s\"]}', '%s', '%s', "+
			"'2026-12-05 10:00:00.%06d', '-12:34:56.789', %d, %d, %d)",
			g.rng.IntN(100), g.rng.IntN(1_000_000), g.rng.IntN(1_000_000), g.rng.IntN(1000), g.rng.IntN(1024),
			[]string{"a", "b", "c"}[g.rng.IntN(3)], g.rng.IntN(256), g.rng.IntN(256), g.rng.IntN(100), g.word(), g.word(), g.word(),
			g.rng.IntN(1_000_000), 1990+g.rng.IntN(60), g.rng.IntN(256)-128, g.rng.IntN(100)))
	}
}
