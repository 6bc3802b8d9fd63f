package seedgen

import "fmt"

// Partitioned tables (FeatPartition): tp is partitioned by ranges of its
// key, one partition for the base rows and one for each session's new
// keys (see newKey), so that rows move between partitions when their key
// changes; tpx is a plain table whose rows fit partition p1, which
// EXCHANGE PARTITION swaps with it. The exchange leaves both definitions
// as they were: a replay that runs it twice swaps the rows back.

// partitionSetupSQL creates tp and tpx with base rows.
func partitionSetupSQL() []string {
	return []string{
		"CREATE TABLE tp (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(32)) ENGINE=InnoDB PARTITION BY RANGE (id) (" +
			"PARTITION p0 VALUES LESS THAN (1000000), PARTITION p1 VALUES LESS THAN (2000000), " +
			"PARTITION p2 VALUES LESS THAN (3000000), PARTITION p3 VALUES LESS THAN MAXVALUE)",
		"CREATE TABLE tpx (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(32)) ENGINE=InnoDB",
		fill("tp", "SELECT seq, seq % 10, 'base'"),
		fill("tpx", "SELECT 1000000 + seq, seq % 10, 'base'"),
	}
}

// partitionTxn writes tp or tpx in a transaction, or now and then runs a
// partition DDL on its own.
func (g *sessionGen) partitionTxn() []string {
	switch g.rng.IntN(20) {
	case 0:
		return []string{"ALTER TABLE tp EXCHANGE PARTITION p1 WITH TABLE tpx"}
	case 1:
		return []string{fmt.Sprintf("ALTER TABLE tp TRUNCATE PARTITION p%d", 2+g.rng.IntN(2))}
	}
	var stmts []string
	for i := 1 + g.rng.IntN(3); i > 0; i-- {
		switch g.rng.IntN(5) {
		case 0:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO tp VALUES (%d, %d, '%s') ON DUPLICATE KEY UPDATE v = '%s'",
				g.newKey(), g.rng.IntN(10), g.word(), g.word()))
		case 1:
			stmts = append(stmts, fmt.Sprintf("UPDATE tp SET k = k + 1, v = '%s' WHERE id = %d", g.word(), g.anyKey()))
		case 2: // to another partition
			stmts = append(stmts, fmt.Sprintf("UPDATE tp SET id = id + %d WHERE id = %d", 1_000_000*(1+g.rng.IntN(2)), g.anyKey()))
		case 3:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM tp WHERE k = %d AND id %% 7 = %d", g.rng.IntN(10), g.rng.IntN(7)))
		default:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO tpx VALUES (%d, %d, '%s') ON DUPLICATE KEY UPDATE k = k + 1",
				1_000_001+g.rng.IntN(2*baseRows), g.rng.IntN(10), g.word()))
		}
	}
	return txn(stmts...)
}
