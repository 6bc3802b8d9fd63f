package seedgen

import (
	"fmt"
	"strings"
)

// Unique keys over every kind of value whose bytes in a row image can
// differ while the server calls the values equal (FeatKeyTypes). The
// partitioner must give such values one key, or it lets a transaction
// that frees a value run beside one that takes it under another
// spelling. Table tk has a unique key on each of:
//   - BIGINT UNSIGNED and INT UNSIGNED, values beyond the signed range
//     (a decoder without the signedness returns them negative);
//   - DOUBLE, where -0 and 0 are one value;
//   - DECIMAL(9,3), 1.5 and 1.500, -0 and 0;
//   - BINARY(4), padded with 0x00: 'a', 'a\0' and 'a\0\0\0' are one value,
//     as are '' and '\0';
//   - DATETIME(3) and TIME(1), fractions beyond the column's precision cut
//     off, a date alone as its midnight;
//   - TIMESTAMP(2), written as the same instant under several session
//     time zones;
//   - YEAR, two-digit years;
//   - an ENUM (case-insensitive names) with a BIT(3), together.
//
// Every value comes from a small pool, so that sessions free and take the
// same value often; the source refuses some statements with a duplicate
// key (1062), which the workload counts and goes on.

// keyTypeColumns are tk's unique columns: a name (or the columns of one
// key set together) and the pool of literals its values come from.
var keyTypeColumns = []struct {
	cols string
	pool []string
}{
	{"ub", []string{"0", "1", "9223372036854775807", "9223372036854775808", "18446744073709551615"}},
	{"ui", []string{"0", "2147483647", "2147483648", "4294967295"}},
	{"dbl", []string{"0", "-0e0", "1.5", "15e-1", "-1e300", "0.1"}},
	{"dcm", []string{"1.5", "1.500", "-0", "0.000", "12.25", "-12.250"}},
	{"bin", []string{"X'61'", "X'6100'", "X'61000000'", "X''", "X'00'", "X'6120'"}},
	{"dt", []string{"'2026-01-01 00:00:00'", "'2026-01-01 00:00:00.000'", "'2026-01-01 00:00:00.0004'", "'2026-01-01'", "'2026-01-01 00:00:00.001'"}},
	{"tm", []string{"'10:00:00'", "'10:00:00.04'", "'-00:00:01'", "'-00:00:01.0'", "'838:59:59'"}},
	{"ts", []string{"FROM_UNIXTIME(1780000000)", "FROM_UNIXTIME(1780000000.004)", "FROM_UNIXTIME(1780000000.01)", "FROM_UNIXTIME(1780003600)"}},
	{"yr", []string{"70", "1970", "69", "2069", "'0'", "2000"}},
	{"en, bt", []string{"'x', b'1'", "'X', 1", "'x', b'001'", "'y', 4", "'Y', b'100'"}},
}

// keyTypesSetupSQL creates tk with its base rows, every unique column NULL.
func keyTypesSetupSQL() []string {
	return []string{
		"CREATE TABLE tk (id INT PRIMARY KEY, ub BIGINT UNSIGNED NULL, ui INT UNSIGNED NULL, dbl DOUBLE NULL, " +
			"dcm DECIMAL(9,3) NULL, bin BINARY(4) NULL, dt DATETIME(3) NULL, tm TIME(1) NULL, ts TIMESTAMP(2) NULL, " +
			"yr YEAR NULL, en ENUM('x','y','z') NULL, bt BIT(3) NULL, " +
			"UNIQUE KEY (ub), UNIQUE KEY (ui), UNIQUE KEY (dbl), UNIQUE KEY (dcm), UNIQUE KEY (bin), UNIQUE KEY (dt), " +
			"UNIQUE KEY (tm), UNIQUE KEY (ts), UNIQUE KEY (yr), UNIQUE KEY (en, bt)) ENGINE=InnoDB",
		fill("tk", "(id) SELECT seq"),
	}
}

// keyTypesTxn writes tk: one to three statements moving pooled values
// between rows, in a transaction, under a session time zone drawn for the
// script.
func (g *sessionGen) keyTypesTxn() []string {
	pick := func() (string, string) {
		c := keyTypeColumns[g.rng.IntN(len(keyTypeColumns))]
		return c.cols, c.pool[g.rng.IntN(len(c.pool))]
	}
	// set is an assignment list: "en, bt" and "'x', 1" make "en = 'x', bt = 1".
	set := func(cols, vals string) string {
		cs, vs := strings.Split(cols, ", "), strings.Split(vals, ", ")
		parts := make([]string, len(cs))
		for i := range cs {
			parts[i] = cs[i] + " = " + vs[i]
		}
		return strings.Join(parts, ", ")
	}
	where := func(cols, vals string) string {
		return strings.ReplaceAll(set(cols, vals), ", ", " AND ")
	}
	var stmts []string
	for i := 1 + g.rng.IntN(3); i > 0; i-- {
		cols, vals := pick()
		switch g.rng.IntN(7) {
		case 0, 1: // a new row holding one or two values
			c2, v2 := pick()
			if c2 == cols {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO tk (id, %s) VALUES (%d, %s)", cols, g.newKey(), vals))
			} else {
				stmts = append(stmts, fmt.Sprintf("INSERT INTO tk (id, %s, %s) VALUES (%d, %s, %s)", cols, c2, g.newKey(), vals, v2))
			}
		case 2:
			stmts = append(stmts, fmt.Sprintf("UPDATE tk SET %s WHERE id = %d", set(cols, vals), g.anyKey()))
		case 3: // free a value under another spelling than it was written
			nulls := strings.ReplaceAll(cols, ", ", " = NULL, ") + " = NULL"
			stmts = append(stmts, fmt.Sprintf("UPDATE tk SET %s WHERE %s", nulls, where(cols, vals)))
		case 4: // the row moves: its values go with it
			stmts = append(stmts, fmt.Sprintf("UPDATE tk SET id = %d WHERE id = %d", g.newKey(), g.anyKey()))
		case 5: // deletes the rows holding the value
			stmts = append(stmts, fmt.Sprintf("REPLACE INTO tk (id, %s) VALUES (%d, %s)", cols, g.anyKey(), vals))
		default:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM tk WHERE %s", where(cols, vals)))
		}
	}
	zone := []string{"'+00:00'", "'+02:00'", "'-07:30'"}[g.rng.IntN(3)]
	return append(append([]string{"SET time_zone = " + zone}, txn(stmts...)...), "SET time_zone = DEFAULT")
}
