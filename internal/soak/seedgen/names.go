package seedgen

import "fmt"

// Tables and columns whose names need quoting (FeatNames), written by
// every statement form: the replay writes names into SQL (the apply as
// SQL, the checkpoint, a DDL's fingerprint, the staging of CREATE ...
// SELECT, verify, --tables and --rewrite-db), and a name quoted wrong
// either fails or, worse, names another table. The names:
//   - `wéird tåble`: letters beyond ASCII and a space, columns named by a
//     reserved word, with a backtick, a dot, quotes (single and double:
//     ANSI_QUOTES targets, FeatTargetConfig) and letters beyond ASCII,
//     a unique key over one of them;
//   - `T1`, beside t1: a name that differs in letter case only, a
//     different table where lower_case_table_names is 0 (Linux);
//   - `x.y`: a dot in a table name ("soak.x.y" in --tables), a comma in a
//     column name;
//   - `order`: a reserved word, its columns reserved words too;
//   - a table and columns of 64 characters, the longest names allowed.
//
// Some transactions add or drop a column of `wéird tåble` named with a
// backtick and a space (IF [NOT] EXISTS: sessions race), so that the
// table's shape changes under the replay.

// namesLong is the 64-character table name; its columns are as long.
const namesLong = "t_" + "abcdefghijklmnopqrstuvwxyz0123456789_abcdefghijklmnopqrstuvwx"

// namesLongCol returns the 64-character name of the long table's column c.
func namesLongCol(c byte) string {
	return string(c) + namesLong[1:]
}

// namesSetupSQL creates the tables with their base rows.
func namesSetupSQL() []string {
	long := fmt.Sprintf("CREATE TABLE `%s` (`%s` INT PRIMARY KEY, `%s` INT NOT NULL DEFAULT 0, `%s` VARCHAR(32)) ENGINE=InnoDB",
		namesLong, namesLongCol('i'), namesLongCol('n'), namesLongCol('v'))
	return []string{
		"CREATE TABLE `wéird tåble` (`ïd` INT PRIMARY KEY, `select` INT NOT NULL DEFAULT 0, `v``q` VARCHAR(32), " +
			"`n.dot` INT, `Ünï ké` VARCHAR(20), `it's \"q\"` VARCHAR(20), UNIQUE KEY `ü k` (`Ünï ké`)) ENGINE=InnoDB",
		fill("`wéird tåble`", "(`ïd`, `v``q`, `n.dot`) SELECT seq, CONCAT('bäse', seq), seq"),
		"CREATE TABLE `T1` (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64), n INT NOT NULL DEFAULT 0) ENGINE=InnoDB",
		fill("`T1`", "(id, k, v) SELECT seq, seq % 7, CONCAT('upper', seq)"),
		"CREATE TABLE `x.y` (`a,b` INT PRIMARY KEY, `c d` INT NOT NULL DEFAULT 0) ENGINE=InnoDB",
		fill("`x.y`", "SELECT seq, seq"),
		"CREATE TABLE `order` (`key` INT PRIMARY KEY, `desc` VARCHAR(16), `group` INT) ENGINE=InnoDB",
		fill("`order`", "SELECT seq, 'base', seq % 3"),
		long,
		fill("`"+namesLong+"`", fmt.Sprintf("(`%s`, `%s`) SELECT seq, 'base'", namesLongCol('i'), namesLongCol('v'))),
	}
}

// namesUnique is the pool of `Ünï ké`'s values: some equal under the
// column's collation (utf8mb4_general_ci: 'ä' is 'a', 'ß' is 's').
var namesUnique = []string{"'a'", "'ä'", "'A'", "'ß'", "'s'", "'öl'", "'ol'", "NULL"}

// namesTxn writes the tables of FeatNames: one to three statements in a
// transaction, sometimes a column added or dropped instead.
func (g *sessionGen) namesTxn() []string {
	if g.rng.IntN(12) == 0 {
		if g.rng.IntN(2) == 0 {
			return []string{"ALTER TABLE `wéird tåble` ADD COLUMN IF NOT EXISTS `nëw ``col` INT NOT NULL DEFAULT 5"}
		}
		return []string{"ALTER TABLE `wéird tåble` DROP COLUMN IF EXISTS `nëw ``col`"}
	}
	var stmts []string
	for i := 1 + g.rng.IntN(3); i > 0; i-- {
		u := namesUnique[g.rng.IntN(len(namesUnique))]
		switch g.rng.IntN(10) {
		case 0:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO `wéird tåble` (`ïd`, `select`, `v``q`, `Ünï ké`, `it's \"q\"`) "+
				"VALUES (%d, %d, '%s', %s, 'it''s')", g.newKey(), g.rng.IntN(100), g.word(), u))
		case 1:
			stmts = append(stmts, fmt.Sprintf("UPDATE `wéird tåble` SET `select` = `select` + 1, `n.dot` = %d, `Ünï ké` = %s "+
				"WHERE `ïd` = %d", g.rng.IntN(1000), u, g.anyKey()))
		case 2:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM `wéird tåble` WHERE `ïd` = %d", g.anyKey()))
		case 3:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO `T1` (id, k, v) VALUES (%d, %d, '%s')", g.newKey(), g.rng.IntN(7), g.word()))
		case 4: // t1 and T1 in one statement
			stmts = append(stmts, fmt.Sprintf("UPDATE t1 JOIN `T1` USING (id) SET t1.n = t1.n + 1, `T1`.n = `T1`.n + 2 "+
				"WHERE t1.id = %d", g.anyKey()))
		case 5:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM `T1` WHERE id = %d", g.anyKey()))
		case 6:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO `x.y` VALUES (%d, 1) ON DUPLICATE KEY UPDATE `c d` = `c d` + 1",
				1+g.rng.IntN(baseRows+20)))
		case 7:
			stmts = append(stmts, fmt.Sprintf("REPLACE INTO `order` (`key`, `desc`, `group`) VALUES (%d, '%s', %d)",
				1+g.rng.IntN(baseRows+20), g.word(), g.rng.IntN(3)))
		case 8:
			stmts = append(stmts, fmt.Sprintf("UPDATE `order` SET `group` = `group` + 1 WHERE `key` = %d", g.anyKey()))
		default:
			stmts = append(stmts, fmt.Sprintf("UPDATE `%s` SET `%s` = `%s` + 1, `%s` = '%s' WHERE `%s` = %d",
				namesLong, namesLongCol('n'), namesLongCol('n'), namesLongCol('v'), g.word(), namesLongCol('i'), g.anyKey()))
		}
	}
	return txn(stmts...)
}
