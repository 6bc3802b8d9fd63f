package seedgen

import "fmt"

// Unique keys whose values compare by collation (FeatCollationKeys): the
// partitioner must take two values the server calls equal for one key, or
// it runs a transaction that frees a value beside one that takes it under
// another spelling. Table tc has
//   - e, utf8mb4_general_ci: case, accents and trailing spaces are ignored
//     ('ab', 'AB', 'áb ' are one value);
//   - (f(3), g), latin1_swedish_ci: a prefix of three characters and a
//     nullable column (a NULL g never conflicts);
//   - h, utf8mb4_nopad_bin: trailing spaces count ('k' and 'k ' differ).
// Every value comes from a small pool, so that transactions of different
// sessions collide often; the source refuses some statements with a
// duplicate key (1062), which the workload counts and goes on.

// collationSetupSQL creates tc with distinct base values.
func collationSetupSQL() []string {
	return []string{
		"CREATE TABLE tc (id INT PRIMARY KEY, " +
			"e VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL, " +
			"f VARCHAR(16) CHARACTER SET latin1 COLLATE latin1_swedish_ci NULL, g INT NULL, " +
			"h VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL, " +
			"UNIQUE KEY (e), UNIQUE KEY (f(3), g), UNIQUE KEY (h)) ENGINE=InnoDB",
		fill("tc", "SELECT seq, CONCAT('base', seq), NULL, NULL, NULL"),
	}
}

var (
	ciValues    = []string{"ab", "AB", "Ab ", "áb", "ÁB  ", "ss", "SS", "ß", "x", "X "}
	latinValues = []string{"abc", "ABCd", "abC ", "äbc", "xyz", "XYZw"}
	nopadValues = []string{"k", "k ", "K", "k  "}
)

// collationTxn writes tc: one to three statements moving pooled values
// between rows, in a transaction.
func (g *sessionGen) collationTxn() []string {
	pool := func(vs []string) string { return "'" + vs[g.rng.IntN(len(vs))] + "'" }
	gval := func() string {
		if g.rng.IntN(3) == 0 {
			return "NULL"
		}
		return fmt.Sprint(g.rng.IntN(3))
	}
	var stmts []string
	for i := 1 + g.rng.IntN(3); i > 0; i-- {
		switch g.rng.IntN(8) {
		case 0:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO tc VALUES (%d, %s, %s, %s, %s)",
				g.newKey(), pool(ciValues), pool(latinValues), gval(), pool(nopadValues)))
		case 1:
			stmts = append(stmts, fmt.Sprintf("UPDATE tc SET e = %s WHERE id = %d", pool(ciValues), g.anyKey()))
		case 2: // free a value under another spelling than it was written
			stmts = append(stmts, fmt.Sprintf("UPDATE tc SET e = NULL WHERE e = %s", pool(ciValues)))
		case 3: // the same value for the collation, other bytes
			stmts = append(stmts, fmt.Sprintf("UPDATE tc SET e = CONCAT(UPPER(e), ' ') WHERE id = %d", g.anyKey()))
		case 4:
			stmts = append(stmts, fmt.Sprintf("UPDATE tc SET f = %s, g = %s WHERE id = %d", pool(latinValues), gval(), g.anyKey()))
		case 5:
			stmts = append(stmts, fmt.Sprintf("UPDATE tc SET h = %s WHERE id = %d", pool(nopadValues), g.anyKey()))
		case 6: // deletes the rows holding any of its unique values
			stmts = append(stmts, fmt.Sprintf("REPLACE INTO tc VALUES (%d, %s, %s, %s, %s)",
				g.anyKey(), pool(ciValues), pool(latinValues), gval(), pool(nopadValues)))
		default:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM tc WHERE e = %s OR h = %s", pool(ciValues), pool(nopadValues)))
		}
	}
	return txn(stmts...)
}
