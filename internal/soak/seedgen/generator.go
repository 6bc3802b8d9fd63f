package seedgen

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"
)

// Script is one unit a source session runs: a transaction, an autocommit
// statement or a DDL, as a list of statements run in order. A failing
// statement is counted and the script goes on, except when the server
// rolled the whole transaction back (a deadlock or lock wait timeout):
// then the session rolls back and goes to its next script.
type Script struct {
	// Kind names what the script does, for error counts.
	Kind  string
	Stmts []string
	// Pause is how long the session sleeps before the script, so that
	// the binlog spans several seconds (for --stop-datetime).
	Pause time.Duration
}

// Workload is a seed's generated source workload.
type Workload struct {
	// Setup builds the base (run before the snapshot, not replayed).
	Setup []string
	// Crash and AfterCrash are the statements of the transaction the
	// source crashes while writing, and those the restarted source runs
	// (Plan.Crash), on one session each.
	Crash, AfterCrash []string
	// Sessions holds the scripts of each concurrent session.
	Sessions [][]Script
	// Files are the LOAD DATA input files to write before the workload,
	// by absolute path.
	Files map[string][]byte
}

// Generate makes the workload of plan p. fileDir is a directory the source
// server can read: LOAD DATA INFILE reads its files from there.
func Generate(p Plan, fileDir string) *Workload {
	w := &Workload{Setup: setupSQL(p), Files: map[string][]byte{}}
	for i := 0; i < p.Sessions; i++ {
		g := &sessionGen{p: p, rng: NewRand(p.Seed, streamSession+uint64(i)), id: i, fileDir: fileDir, files: w.Files}
		if i == 0 && p.Has(FeatDDL, FeatRename, FeatCTAS, FeatTruncate, FeatProcedure) {
			g.ddl = newDDLModel()
		}
		w.Sessions = append(w.Sessions, g.scripts(p.TxnsPerSession))
	}
	if p.Has(FeatAccident) {
		// From a stream of its own: the other scripts stay what they were.
		rng := NewRand(p.Seed, streamPlan+300)
		s := rng.IntN(len(w.Sessions))
		at := rng.IntN(len(w.Sessions[s]) + 1)
		accident := Script{Kind: AccidentKind,
			Stmts: []string{fmt.Sprintf("DELETE FROM t1 WHERE id <= %d AND id %% 7 = %d", baseRows, rng.IntN(7))}}
		w.Sessions[s] = append(w.Sessions[s][:at], append([]Script{accident}, w.Sessions[s][at:]...)...)
	}
	if p.Crash != nil {
		rng := NewRand(p.Seed, streamPlan+500)
		table := "tc_i"
		if p.Crash.NonTrans {
			table = "tc_m"
		}
		id := 1 + rng.IntN(baseRows)
		w.Crash = []string{"BEGIN",
			fmt.Sprintf("UPDATE %s SET v = v + 1000 WHERE id <= %d", table, 1+rng.IntN(20)),
			fmt.Sprintf("INSERT INTO %s VALUES (%d, 7)", table, baseRows+1+rng.IntN(1000)),
			fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, id),
			"COMMIT"}
		w.AfterCrash = []string{
			fmt.Sprintf("UPDATE tc_i SET v = v + 1 WHERE id <= %d", 1+rng.IntN(30)),
			fmt.Sprintf("UPDATE tc_m SET v = v + 1 WHERE id <= %d", 1+rng.IntN(30)),
			"INSERT INTO t1 (k, v) VALUES (1, 'after the crash')"}
	}
	return w
}

// AccidentKind is the Kind of the accident's script (FeatAccident): one
// statement, run with autocommit.
const AccidentKind = "accident"

// sessionGen generates the scripts of one session.
type sessionGen struct {
	p       Plan
	rng     *rand.Rand
	id      int
	n       int // scripts generated so far
	nextID  int // for keys this session invents
	fileDir string
	files   map[string][]byte
	// tmpOpen tells whether the session's temporary table exists.
	tmpOpen bool
	// ddl is the model of the DDL tables, for the DDL session only.
	ddl *ddlModel
	// seqNos counts the session's scripts logged with a lower GTID
	// sequence number (FeatSeqNo), each under a server id of its own;
	// ahead says the last script was logged ahead of its domain under
	// one, and the next goes on under it just below (aheadSeqNo).
	seqNos int
	ahead  bool
}

// kind is a weighted script generator enabled by features.
type kind struct {
	name   string
	weight int
	needs  []Feature // any of them enables it; none: always
	gen    func(*sessionGen) []string
}

func (g *sessionGen) kinds() []kind {
	ks := []kind{
		{"innodb", 10, nil, (*sessionGen).innoDBTxn},
		{"innodb-multi", 4, nil, (*sessionGen).innoDBMulti},
		{"uk", 4, []Feature{FeatUniqueKeys}, (*sessionGen).uniqueTxn},
		{"fk", 4, []Feature{FeatForeignKeys}, (*sessionGen).fkTxn},
		{"selfref", 3, []Feature{FeatSelfRef}, (*sessionGen).treeTxn},
		{"nokey", 3, []Feature{FeatNoKey}, (*sessionGen).noKeyTxn},
		{"myisam", 4, []Feature{FeatMyISAM}, (*sessionGen).myISAMStmt},
		{"mixed-commit", 2, []Feature{FeatMyISAM}, (*sessionGen).mixedCommit},
		{"aria", 3, []Feature{FeatAria}, (*sessionGen).ariaStmt},
		{"memory", 3, []Feature{FeatMemory}, (*sessionGen).memoryStmt},
		{"errcode", 1, []Feature{FeatErrorCode}, (*sessionGen).errorCodeStmt},
		{"rollback", 1, []Feature{FeatRollback}, (*sessionGen).mixedRollback},
		{"temp", 2, []Feature{FeatTempTables}, (*sessionGen).tempTxn},
		{"loaddata", 1, []Feature{FeatLoadData}, (*sessionGen).loadData},
		{"xa", 1, []Feature{FeatXA}, (*sessionGen).xaTxn},
		{"context", 4, []Feature{FeatContext}, (*sessionGen).contextTxn},
		{"collkeys", 4, []Feature{FeatCollationKeys}, (*sessionGen).collationTxn},
		{"partition", 3, []Feature{FeatPartition}, (*sessionGen).partitionTxn},
		{"keytypes", 4, []Feature{FeatKeyTypes}, (*sessionGen).keyTypesTxn},
		{"names", 4, []Feature{FeatNames}, (*sessionGen).namesTxn},
		{"hotcold", 20, []Feature{FeatHotCold}, (*sessionGen).hotColdTxn},
	}
	if g.ddl != nil {
		ks = append(ks, g.ddlKinds()...)
	}
	return ks
}

// scripts generates n scripts for the session.
func (g *sessionGen) scripts(n int) []Script {
	var enabled []kind
	total := 0
	for _, k := range g.kinds() {
		if len(k.needs) == 0 || g.p.Has(k.needs...) {
			enabled = append(enabled, k)
			total += k.weight
		}
	}
	var out []Script
	bigAt := -1
	if g.p.Has(FeatBigTxn) && g.rng.IntN(2) == 0 {
		bigAt = g.rng.IntN(n)
	}
	for g.n = 0; g.n < n; g.n++ {
		var sc Script
		switch {
		case g.n == bigAt:
			sc = Script{Kind: "bigtxn", Stmts: g.bigTxn()}
		default:
			k := pick(g.rng, enabled, total)
			sc = Script{Kind: k.name, Stmts: k.gen(g)}
		}
		if g.rng.IntN(40) == 0 {
			sc.Pause = time.Duration(200+g.rng.IntN(600)) * time.Millisecond
		}
		const ownSeqNo = "SET SESSION server_id = @@GLOBAL.server_id, SESSION gtid_seq_no = 0"
		switch {
		case g.ahead:
			// Under the server id of the script before, just below the
			// number it started at: that server id's numbers go down.
			sc.Stmts = append(append([]string{"SET SESSION gtid_seq_no = GREATEST(1, @seqno_ahead - 1)"}, sc.Stmts...), ownSeqNo)
			g.ahead = false
		case !g.p.Has(FeatSeqNo) || g.rng.IntN(12) != 0:
		case g.rng.IntN(3) == 0:
			sc.Stmts = append(g.aheadSeqNo(), sc.Stmts...)
			g.ahead = true
		default:
			// Prepended before the domain is: it runs after the session
			// switches domain, and takes that domain's last sequence number.
			// The number is dropped at the end when no statement logged it
			// (all failed): the server's own id would log it again.
			sc.Stmts = append(append([]string{g.lowerSeqNo()}, sc.Stmts...), ownSeqNo)
		}
		if g.p.Has(FeatDomains) && g.rng.IntN(8) == 0 {
			sc.Stmts = append([]string{fmt.Sprintf("SET SESSION gtid_domain_id = %d", g.rng.IntN(3))}, sc.Stmts...)
		}
		if g.p.Has(FeatClock) && g.rng.IntN(10) == 0 {
			// A script that stops at a deadlock leaves the clock set: the
			// session's next scripts are logged at that time too.
			shift := []string{"- 3600", "- 3", "- 1", "+ 1", "+ 3", "+ 3600"}[g.rng.IntN(6)]
			sc.Stmts = append(append([]string{"SET TIMESTAMP = UNIX_TIMESTAMP(NOW(6)) " + shift}, sc.Stmts...), "SET TIMESTAMP = DEFAULT")
		}
		if g.p.Has(FeatFormatSwap) && g.rng.IntN(25) == 0 && !g.tmpOpen {
			formats := []string{"ROW", "MIXED", "STATEMENT"}
			sc.Stmts = append([]string{"SET SESSION binlog_format = '" + formats[g.rng.IntN(3)] + "'"}, sc.Stmts...)
		}
		out = append(out, sc)
	}
	return out
}

// lowerSeqNo returns a statement that logs the script's first transaction
// with a sequence number 1 to 40 below the last one the server's own id
// logged in its domain (at least 1; the domain's last GTID when it has
// none there), under a server id no other script uses: odd, so that one
// above it (a stop point "of another server id") is never logged. The
// GTID is new, its domain's sequence numbers are out of order.
func (g *sessionGen) lowerSeqNo() string {
	own := "REGEXP_SUBSTR(@@gtid_binlog_state, CONCAT('(^|,)', @@gtid_domain_id, '-', @@GLOBAL.server_id, '-[0-9]+'))"
	return fmt.Sprintf("SET SESSION server_id = %d, SESSION gtid_seq_no = GREATEST(1, %s - %d)",
		g.seqNoServerID(), lastSeq(own, domainLastGTID), 1+g.rng.IntN(40))
}

// domainLastGTID is an SQL expression for the session's domain's last GTID
// in the server's binlog position (NULL when it has none).
const domainLastGTID = "REGEXP_SUBSTR(@@gtid_binlog_pos, CONCAT('(^|,)', @@gtid_domain_id, '-[0-9]+-[0-9]+'))"

// lastSeq returns an SQL expression for the sequence number of the first
// of the GTID expressions gtids that is not NULL (1 when all are).
func lastSeq(gtids ...string) string {
	return "CAST(SUBSTRING_INDEX(COALESCE(" + strings.Join(gtids, ", ") + ", '0-0-1'), '-', -1) AS SIGNED)"
}

// seqNoServerID returns the server id of the session's next script logged
// out of order (FeatSeqNo): odd, and no other script's.
func (g *sessionGen) seqNoServerID() int {
	g.seqNos++
	return 10001 + 2*(g.id*1000+g.seqNos)
}

// aheadSeqNo returns statements that log the script's first transaction
// 50 to 89 past the domain's last sequence number, under a server id no
// other script uses (as lowerSeqNo), and keep that number in
// @seqno_ahead: the session's next script logs under the same server id
// just below it (a number no one logged: the domain went on past it), so
// that one server id's numbers go down, as a second stream replicated
// under the same id, or SET gtid_seq_no, makes them. The GTID state then
// holds the lower number for the server id, below one it logged before.
func (g *sessionGen) aheadSeqNo() []string {
	serverID := g.seqNoServerID()
	return []string{fmt.Sprintf("SET @seqno_ahead = %s + %d", lastSeq(domainLastGTID), 50+g.rng.IntN(40)),
		fmt.Sprintf("SET SESSION server_id = %d, SESSION gtid_seq_no = @seqno_ahead", serverID)}
}

func pick(rng *rand.Rand, ks []kind, total int) kind {
	r := rng.IntN(total)
	for _, k := range ks {
		if r < k.weight {
			return k
		}
		r -= k.weight
	}
	return ks[len(ks)-1]
}

// newKey returns a key no other session invents: sessions own disjoint
// ranges above the base rows.
func (g *sessionGen) newKey() int {
	g.nextID++
	return (g.id+1)*1_000_000 + g.nextID
}

// anyKey returns a key that may or may not exist: a base row most often,
// else one this session invented.
func (g *sessionGen) anyKey() int {
	if g.nextID == 0 || g.rng.IntN(3) > 0 {
		return 1 + g.rng.IntN(baseRows)
	}
	return (g.id+1)*1_000_000 + 1 + g.rng.IntN(g.nextID)
}

// word returns a short deterministic string value.
func (g *sessionGen) word() string {
	return fmt.Sprintf("s%d-%d-%d", g.id, g.n, g.rng.IntN(1000))
}

// txn wraps statements in BEGIN/COMMIT.
func txn(stmts ...string) []string {
	return append(append([]string{"BEGIN"}, stmts...), "COMMIT")
}

func (g *sessionGen) innoDBStmt() string {
	t := []string{"t1", "t2"}[g.rng.IntN(2)]
	switch g.rng.IntN(5) {
	case 0, 1:
		return fmt.Sprintf("INSERT INTO %s (k, v) VALUES (%d, '%s')", t, g.rng.IntN(100), g.word())
	case 2:
		return fmt.Sprintf("UPDATE %s SET n = n + 1, v = '%s' WHERE id = %d", t, g.word(), g.rng.IntN(baseRows+400)+1)
	case 3:
		return fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE k = %d", t, g.rng.IntN(100))
	default:
		return fmt.Sprintf("DELETE FROM %s WHERE id = %d", t, g.rng.IntN(baseRows+400)+1)
	}
}

// innoDBTxn is a short InnoDB transaction; sometimes it rolls back (which
// the source does not log).
func (g *sessionGen) innoDBTxn() []string {
	stmts := []string{g.innoDBStmt()}
	for i := g.rng.IntN(4); i > 0; i-- {
		stmts = append(stmts, g.innoDBStmt())
	}
	if g.rng.IntN(15) == 0 {
		return append(append([]string{"BEGIN"}, stmts...), "ROLLBACK")
	}
	if len(stmts) == 1 && g.rng.IntN(2) == 0 {
		return stmts // autocommit
	}
	return txn(stmts...)
}

// hotColdTxn inserts a row of its own and, one time in three, counts
// itself in a row every session writes (FeatHotCold).
func (g *sessionGen) hotColdTxn() []string {
	stmts := []string{fmt.Sprintf("INSERT INTO t1 (k, v) VALUES (%d, '%s')", g.rng.IntN(100), g.word())}
	if g.rng.IntN(3) == 0 {
		stmts = append(stmts, "UPDATE t2 SET n = n + 1 WHERE id = 1")
	}
	return txn(stmts...)
}

// innoDBMulti changes many rows per statement.
func (g *sessionGen) innoDBMulti() []string {
	lo := g.rng.IntN(100)
	return txn(
		fmt.Sprintf("INSERT INTO t1 (k, v) SELECT k, CONCAT('copy', id) FROM t2 WHERE k BETWEEN %d AND %d ORDER BY id", lo, lo+2),
		fmt.Sprintf("UPDATE t2 SET n = n + 1 WHERE k BETWEEN %d AND %d", lo, lo+5),
	)
}

func (g *sessionGen) uniqueTxn() []string {
	var stmts []string
	for i := 1 + g.rng.IntN(3); i > 0; i-- {
		switch g.rng.IntN(5) {
		case 0:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO tu VALUES (%d, %d, '%s')", g.newKey(), g.rng.IntN(2*baseRows), g.word()))
		case 1:
			stmts = append(stmts, fmt.Sprintf("UPDATE tu SET u = u + %d WHERE id = %d", 1+g.rng.IntN(3), g.anyKey()))
		case 2:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM tu WHERE u = %d", g.rng.IntN(2*baseRows)))
		case 3:
			stmts = append(stmts, fmt.Sprintf("REPLACE INTO tu VALUES (%d, %d, '%s')", g.anyKey(), g.rng.IntN(2*baseRows), g.word()))
		default:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO tu VALUES (%d, %d, '%s') ON DUPLICATE KEY UPDATE w = '%s'",
				g.anyKey(), g.rng.IntN(2*baseRows), g.word(), g.word()))
		}
	}
	return txn(stmts...)
}

func (g *sessionGen) fkTxn() []string {
	if g.p.Has(FeatFKChecksOff) && g.rng.IntN(4) == 0 {
		return g.fkOffTxn()
	}
	switch g.rng.IntN(5) {
	case 0:
		p := g.newKey()
		return txn(fmt.Sprintf("INSERT INTO par VALUES (%d, %d)", p, g.rng.IntN(100)),
			fmt.Sprintf("INSERT INTO chi (pid, v) VALUES (%d, 1), (%d, 2)", p, p))
	case 1:
		return txn(fmt.Sprintf("INSERT INTO chi (pid, v) VALUES (%d, %d)", g.anyKey(), g.rng.IntN(100)))
	case 2:
		return []string{fmt.Sprintf("DELETE FROM par WHERE id = %d", g.anyKey())}
	case 3:
		return txn(fmt.Sprintf("UPDATE par SET id = %d WHERE id = %d", g.newKey(), g.anyKey()))
	default:
		return txn(fmt.Sprintf("UPDATE chi SET v = v + 1 WHERE pid = %d", g.anyKey()))
	}
}

// fkOffTxn writes par and chi with foreign_key_checks=0 (FeatFKChecksOff):
// nothing checks or cascades, so children are left orphans or point to
// keys no parent has; a script that stops at a deadlock leaves the
// session's checks off for its next scripts.
func (g *sessionGen) fkOffTxn() []string {
	off, on := "SET SESSION foreign_key_checks = 0", "SET SESSION foreign_key_checks = 1"
	switch g.rng.IntN(4) {
	case 0: // an orphan child
		return []string{off, fmt.Sprintf("INSERT INTO chi (pid, v) VALUES (%d, %d)", g.newKey(), g.rng.IntN(100)), on}
	case 1: // a parent deleted, its children kept
		return []string{off, fmt.Sprintf("DELETE FROM par WHERE id = %d", g.anyKey()), on}
	case 2: // a parent's key changed, its children's not
		return append([]string{off}, append(txn(fmt.Sprintf("UPDATE par SET id = %d WHERE id = %d", g.newKey(), g.anyKey())), on)...)
	default: // checks switched off inside a transaction: a cascading delete, then one that does not cascade
		return []string{"BEGIN", fmt.Sprintf("DELETE FROM par WHERE id = %d", g.anyKey()), off,
			fmt.Sprintf("DELETE FROM par WHERE id = %d", g.anyKey()),
			fmt.Sprintf("INSERT INTO chi (pid, v) VALUES (%d, 3)", g.anyKey()), "COMMIT", on}
	}
}

func (g *sessionGen) treeKey() int {
	if g.nextID == 0 || g.rng.IntN(2) == 0 {
		return 1 + g.rng.IntN(baseRows/4)
	}
	return g.anyKey()
}

func (g *sessionGen) treeTxn() []string {
	switch g.rng.IntN(4) {
	case 0, 1:
		return txn(fmt.Sprintf("INSERT INTO tree VALUES (%d, %d, %d)", g.newKey(), g.treeKey(), g.rng.IntN(100)))
	case 2:
		return []string{fmt.Sprintf("DELETE FROM tree WHERE id = %d", 2+g.rng.IntN(baseRows/4))}
	default:
		return txn(fmt.Sprintf("UPDATE tree SET parent = %d, v = v + 1 WHERE id = %d", g.treeKey(), g.treeKey()))
	}
}

func (g *sessionGen) noKeyTxn() []string {
	a := g.rng.IntN(20)
	switch g.rng.IntN(4) {
	case 0, 1:
		return txn(fmt.Sprintf("INSERT INTO nk VALUES (%d, '%s'), (%d, 'dup'), (%d, 'dup')", a, g.word(), a, a))
	case 2:
		return txn(fmt.Sprintf("UPDATE nk SET b = '%s' WHERE a = %d", g.word(), a))
	default:
		return []string{fmt.Sprintf("DELETE FROM nk WHERE a = %d ORDER BY a, b LIMIT 1", a)}
	}
}

// nonTxStmt is an autocommit statement on a keyed non-transactional table.
func (g *sessionGen) nonTxStmt(table string) string {
	switch g.rng.IntN(4) {
	case 0:
		return fmt.Sprintf("INSERT INTO %s (id, v) VALUES (%d, '%s')", table, g.newKey(), g.word())
	case 1:
		return fmt.Sprintf("UPDATE %s SET v = '%s' WHERE id = %d", table, g.word(), g.anyKey())
	case 2:
		return fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, g.anyKey())
	default:
		return fmt.Sprintf("REPLACE INTO %s (id, v) VALUES (%d, '%s')", table, g.anyKey(), g.word())
	}
}

func (g *sessionGen) myISAMStmt() []string {
	if g.rng.IntN(4) == 0 {
		return []string{fmt.Sprintf("UPDATE m1 SET u = u + 1000000 WHERE id = %d", g.anyKey())}
	}
	return []string{g.nonTxStmt("m1")}
}

func (g *sessionGen) ariaStmt() []string {
	if g.rng.IntN(3) == 0 {
		return []string{fmt.Sprintf("UPDATE a1 SET n = n + 1 WHERE id BETWEEN %d AND %d", g.anyKey(), g.anyKey())}
	}
	return []string{g.nonTxStmt("a1")}
}

func (g *sessionGen) memoryStmt() []string {
	if g.rng.IntN(3) == 0 {
		return []string{fmt.Sprintf("UPDATE mem1 SET n = n + 1 WHERE id <= %d", g.rng.IntN(baseRows))}
	}
	return []string{g.nonTxStmt("mem1")}
}

// mixedCommit changes InnoDB and MyISAM tables in one committed
// transaction.
func (g *sessionGen) mixedCommit() []string {
	return txn(g.innoDBStmt(),
		fmt.Sprintf("INSERT INTO m1 (id, u, v) VALUES (%d, %d, '%s')", g.newKey(), g.newKey(), g.word()),
		"UPDATE mcount SET n = n + 1 WHERE id = 1",
		g.innoDBStmt())
}

// mixedRollback changes InnoDB and MyISAM tables in one transaction that
// rolls back: the MyISAM change stays, and the source logs it with a
// ROLLBACK.
func (g *sessionGen) mixedRollback() []string {
	return []string{"BEGIN", g.innoDBStmt(),
		fmt.Sprintf("INSERT INTO m1 (id, u, v) VALUES (%d, %d, 'rb')", g.newKey(), g.newKey()),
		"ROLLBACK"}
}

// errorCodeStmt is a multi-row insert into MyISAM failing on a duplicate
// key after its first rows went in: STATEMENT and MIXED log it with error
// code 1062.
func (g *sessionGen) errorCodeStmt() []string {
	a, b := g.newKey(), g.newKey()
	if g.rng.IntN(2) == 0 {
		return []string{fmt.Sprintf("INSERT INTO m1 (id, u, v) VALUES (%d, %d, 'e1'), (%d, %d, 'e2'), (%d, %d, 'e3')",
			a, a, b, b, a, g.newKey())}
	}
	lo := g.newKey()
	g.nextID += 10
	return []string{fmt.Sprintf("INSERT INTO m1 (id, u, v) SELECT %d + seq, IF(seq = 5, 1, %d + seq), 'e' FROM seq_1_to_8",
		lo, lo)}
}

// tempTxn uses the session's own temporary table (named after the session:
// two sessions' tables of one name would collide in mariadb-binlog |
// mariadb too).
func (g *sessionGen) tempTxn() []string {
	tmp := fmt.Sprintf("tmp_s%d", g.id)
	var stmts []string
	if !g.tmpOpen {
		engine := []string{"InnoDB", "MyISAM", "Aria", "MEMORY"}[g.rng.IntN(4)]
		stmts = append(stmts, fmt.Sprintf("CREATE TEMPORARY TABLE %s (id INT PRIMARY KEY, v INT) ENGINE=%s", tmp, engine))
		g.tmpOpen = true
	}
	base := g.newKey()
	g.nextID += 3
	stmts = append(stmts,
		fmt.Sprintf("INSERT INTO %s VALUES (%d, %d), (%d, %d), (%d, %d)", tmp, base, g.rng.IntN(100), base+1, g.rng.IntN(100), base+2, g.rng.IntN(100)),
		fmt.Sprintf("INSERT INTO t1 (k, v) SELECT v, CONCAT('tmp', id) FROM %s ORDER BY id", tmp),
		fmt.Sprintf("DELETE FROM %s WHERE id < %d", tmp, base+2))
	if g.rng.IntN(3) == 0 {
		stmts = append(stmts, "DROP TEMPORARY TABLE "+tmp)
		g.tmpOpen = false
	}
	return stmts
}

// bigTxn writes tens of thousands of rows in one transaction.
func (g *sessionGen) bigTxn() []string {
	rows := 10_000 + g.rng.IntN(30_000)
	return txn(
		fmt.Sprintf("INSERT INTO big (k, pad) SELECT seq %% 1000, REPEAT('x', %d) FROM seq_1_to_%d", 20+g.rng.IntN(80), rows),
		fmt.Sprintf("UPDATE big SET k = k + 1 WHERE k < %d", g.rng.IntN(1000)),
		"UPDATE t1 SET n = n + 1 WHERE id = 1")
}

// loadData writes a file and loads it with LOAD DATA INFILE (the source
// logs the file's contents with the statement, or rows). The file holds
// UTF-8 text, which the server reads in the session's
// character_set_database: the database's (latin1), or for a third of the
// loads utf8mb4, set for the statement (the query event then carries it).
func (g *sessionGen) loadData() []string {
	path := filepath.Join(g.fileDir, fmt.Sprintf("load-s%d-%d.csv", g.id, g.n))
	var b strings.Builder
	rows := 5 + g.rng.IntN(200)
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%d,%s\u00e9,%d\n", 1+g.rng.IntN(400), g.word(), g.rng.IntN(1000))
	}
	g.files[path] = []byte(b.String())
	table := "ld"
	if g.p.Has(FeatMyISAM) && g.rng.IntN(2) == 0 {
		table = "ldm"
	}
	mode := []string{"IGNORE", "REPLACE"}[g.rng.IntN(2)]
	load := fmt.Sprintf("LOAD DATA INFILE '%s' %s INTO TABLE %s FIELDS TERMINATED BY ',' (id, v, n)", path, mode, table)
	if g.rng.IntN(3) != 0 {
		return []string{load}
	}
	return []string{"SET SESSION collation_database = 'utf8mb4_general_ci'", load, "SET SESSION collation_database = DEFAULT"}
}

// xaTxn is an XA transaction, which the replay refuses on purpose.
func (g *sessionGen) xaTxn() []string {
	x := fmt.Sprintf("'xa-%d-%d'", g.id, g.n)
	return []string{"XA START " + x, g.innoDBStmt(), "XA END " + x, "XA PREPARE " + x, "XA COMMIT " + x}
}
