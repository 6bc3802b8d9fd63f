package seedgen

import "fmt"

// DB is the database every generated table lives in.
const DB = "soak"

// baseRows is how many rows the keyed tables hold in the base.
const baseRows = 200

// setupSQL returns the statements that build the base: the tables, triggers
// and rows the plan's features need. They run in one session before the
// base snapshot, so they are not replayed.
func setupSQL(p Plan) []string {
	s := []string{
		"CREATE DATABASE " + DB,
		"USE " + DB,
		"CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64), n INT NOT NULL DEFAULT 0, KEY (k)) ENGINE=InnoDB",
		"CREATE TABLE t2 (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64), n INT NOT NULL DEFAULT 0, KEY (k)) ENGINE=InnoDB",
		fill("t1", "(k, v) SELECT seq % 100, CONCAT('base', seq)"),
		fill("t2", "(k, v) SELECT seq % 100, CONCAT('base', seq)"),
	}
	if p.Crash != nil {
		s = append(s, "CREATE TABLE tc_i (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB",
			"CREATE TABLE tc_m (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=MyISAM",
			fill("tc_i", "SELECT seq, seq"), fill("tc_m", "SELECT seq, seq"))
	}
	if p.Has(FeatUniqueKeys) {
		s = append(s, "CREATE TABLE tu (id INT PRIMARY KEY, u INT, w VARCHAR(32), UNIQUE KEY (u)) ENGINE=InnoDB",
			fill("tu", "SELECT seq, seq, 'base'"))
	}
	if p.Has(FeatForeignKeys) {
		s = append(s, "CREATE TABLE par (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
			"CREATE TABLE chi (id INT AUTO_INCREMENT PRIMARY KEY, pid INT, v INT, "+
				"FOREIGN KEY (pid) REFERENCES par (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
			fill("par", "SELECT seq, seq"),
			fill("chi", "(pid, v) SELECT seq, seq * 2"))
	}
	if p.Has(FeatSelfRef) {
		s = append(s, "CREATE TABLE tree (id INT PRIMARY KEY, parent INT NULL, v INT, "+
			"FOREIGN KEY (parent) REFERENCES tree (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
			"INSERT INTO tree VALUES (1, NULL, 1)",
			fmt.Sprintf("INSERT INTO tree SELECT seq, seq DIV 2, seq FROM seq_2_to_%d", baseRows/4))
	}
	if p.Has(FeatNoKey) {
		s = append(s, "CREATE TABLE nk (a INT, b VARCHAR(32)) ENGINE=InnoDB",
			fill("nk", "SELECT seq % 20, 'base'"))
	}
	if p.Has(FeatMyISAM, FeatErrorCode, FeatRollback) {
		s = append(s, "CREATE TABLE m1 (id INT PRIMARY KEY, u INT, v VARCHAR(32), UNIQUE KEY (u)) ENGINE=MyISAM",
			fill("m1", "SELECT seq, seq, 'base'"),
			"CREATE TABLE mcount (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=MyISAM",
			"INSERT INTO mcount VALUES (1, 0)")
	}
	if p.Has(FeatAria) {
		s = append(s, "CREATE TABLE a1 (id INT PRIMARY KEY, v VARCHAR(32), n INT NOT NULL DEFAULT 0) ENGINE=Aria",
			fill("a1", "(id, v) SELECT seq, 'base'"))
	}
	if p.Has(FeatMemory) {
		s = append(s, "CREATE TABLE mem1 (id INT PRIMARY KEY, v VARCHAR(32), n INT NOT NULL DEFAULT 0) ENGINE=MEMORY",
			fill("mem1", "(id, v) SELECT seq, 'base'"))
	}
	if p.Has(FeatTriggers) {
		s = append(s, triggerSQL(p)...)
	}
	if p.Has(FeatDDL, FeatRename, FeatCTAS, FeatTruncate, FeatProcedure) {
		for _, t := range ddlTableNames {
			s = append(s, fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=InnoDB", t),
				fill(t, "SELECT seq, 'base'"))
		}
	}
	if p.Has(FeatBigTxn) {
		s = append(s, "CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, k INT, pad VARCHAR(100)) ENGINE=InnoDB")
	}
	if p.Has(FeatLoadData) {
		s = append(s, "CREATE TABLE ld (id INT PRIMARY KEY, v VARCHAR(32), n INT) ENGINE=InnoDB")
		if p.Has(FeatMyISAM) {
			s = append(s, "CREATE TABLE ldm (id INT PRIMARY KEY, v VARCHAR(32), n INT) ENGINE=MyISAM")
		}
	}
	if p.Has(FeatContext) {
		s = append(s, contextSetupSQL()...)
	}
	if p.Has(FeatCollationKeys) {
		s = append(s, collationSetupSQL()...)
	}
	if p.Has(FeatPartition) {
		s = append(s, partitionSetupSQL()...)
	}
	if p.Has(FeatKeyTypes) {
		s = append(s, keyTypesSetupSQL()...)
	}
	if p.Has(FeatNames) {
		s = append(s, namesSetupSQL()...)
	}
	return s
}

// fill inserts baseRows rows into table from the sequence engine; cols is
// the column list and SELECT list over seq.
func fill(table, cols string) string {
	return fmt.Sprintf("INSERT INTO %s %s FROM seq_1_to_%d", table, cols, baseRows)
}

// triggerSQL creates an audit table and triggers on t1 counting into it;
// with MyISAM, a trigger on t2 also counts into a MyISAM table (an InnoDB
// transaction changing a non-transactional table through a trigger). The
// audit table has no AUTO_INCREMENT: a trigger inserting into one makes a
// statement-format event that replays differently (the source only logs the
// first table's insert id), with mariadb-binlog | mariadb too.
func triggerSQL(p Plan) []string {
	count := func(ref, op string) string {
		return fmt.Sprintf("INSERT INTO audit VALUES ('t1', %s, '%s', 1) ON DUPLICATE KEY UPDATE n = n + 1", ref, op)
	}
	s := []string{
		"CREATE TABLE audit (tbl VARCHAR(8), ref INT, op CHAR(1), n INT NOT NULL, PRIMARY KEY (tbl, ref, op)) ENGINE=InnoDB",
		"CREATE TRIGGER t1_ai AFTER INSERT ON t1 FOR EACH ROW " + count("NEW.id", "i"),
		"CREATE TRIGGER t1_au AFTER UPDATE ON t1 FOR EACH ROW " + count("NEW.id", "u"),
		"CREATE TRIGGER t1_bd BEFORE DELETE ON t1 FOR EACH ROW " + count("OLD.id", "d"),
	}
	if p.Has(FeatMyISAM) {
		s = append(s, "CREATE TRIGGER t2_ai AFTER INSERT ON t2 FOR EACH ROW UPDATE mcount SET n = n + 1 WHERE id = 1")
	}
	return s
}

// ddlTableNames are the tables only the DDL session changes (their columns,
// indexes and names move under DDL, so only it knows their shape).
var ddlTableNames = []string{"d1", "d2", "d3"}
