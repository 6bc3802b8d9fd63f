package target

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/txn"
)

// GTIDMode says which GTIDs the replayed transactions get in the target's
// binary log.
//
// With source GTIDs (MariaDB source and target, the target's binlog on),
// each target commit is logged with the GTID of the last source
// transaction in it, as mysqlbinlog's output does for one transaction: the
// restored server's gtid_binlog_pos ends at the source's position, so it
// can serve replicas of the lost server or rejoin replication itself.
// Consecutive source transactions share a commit only when they have the
// same domain and server id, so that every domain's last GTID is logged.
// The checkpoint writes that commit on their own (creating the checkpoint
// table, the marks around a DDL) are kept out of the binlog with
// sql_log_bin=0, which needs BINLOG ADMIN (or SUPER): they would otherwise
// take GTIDs of the target's own in the source's domains and break
// gtid_strict_mode. The checkpoint rows written with the data are logged
// with it, so a replica of the restored server needs the binlog_replay
// database (a replica built from a backup of the restored server has it),
// or replicate_wild_ignore_table=binlog_replay.%.
//
// MySQL GTIDs (uuid:n) cannot be logged by a MariaDB target: their
// transactions get the target's own GTIDs. MySQL targets (gtid_next) are
// not supported yet: they get their own GTIDs too.
type GTIDMode string

// GTID modes.
const (
	// GTIDsAuto keeps the source GTIDs where the target can log them and
	// the user may keep checkpoint writes out of the binlog, and says so
	// at the start; otherwise the target gives its own.
	GTIDsAuto GTIDMode = "auto"
	// GTIDsSource keeps the source GTIDs, or refuses to start.
	GTIDsSource GTIDMode = "source"
	// GTIDsOwn lets the target give the transactions its own GTIDs.
	GTIDsOwn GTIDMode = "own"
)

// ParseGTIDMode parses the value of --target-gtids.
func ParseGTIDMode(s string) (GTIDMode, error) {
	switch m := GTIDMode(strings.ToLower(s)); m {
	case GTIDsAuto, GTIDsSource, GTIDsOwn:
		return m, nil
	}
	return "", fmt.Errorf("target GTIDs %q: want auto, source or own", s)
}

// errNoSourceGTIDs explains why source GTIDs cannot be kept.
type errNoSourceGTIDs string

func (e errNoSourceGTIDs) Error() string { return string(e) }

// DecideGTIDs works out, for mode, whether the run keeps the source GTIDs
// (see KeepGTIDs), on conn (whose sql_log_bin it may change and restores).
func (t *Target) DecideGTIDs(ctx context.Context, conn *sql.Conn, mode GTIDMode) (bool, error) {
	keep, err := t.decideGTIDs(ctx, conn, mode)
	t.keepGTIDs = keep
	return keep, err
}

func (t *Target) decideGTIDs(ctx context.Context, conn *sql.Conn, mode GTIDMode) (bool, error) {
	if mode == "" {
		mode = GTIDsAuto
	}
	if mode == GTIDsOwn {
		return false, nil
	}
	why, err := sourceGTIDsBlocked(ctx, conn, t.mariadb, t.cfg.NoLogBin)
	switch {
	case err != nil:
		return false, err
	case why == "":
		t.logf("target GTIDs: the source's (each target commit is logged with the GTID of its last source transaction)")
		return true, nil
	case mode == GTIDsSource:
		return false, fmt.Errorf("--target-gtids=source: %s", why)
	default:
		t.logf("target GTIDs: the target's own, because %s", why)
		return false, nil
	}
}

// sourceGTIDsBlocked returns why the target (MariaDB or not) cannot keep
// source GTIDs, or "" when it can.
func sourceGTIDsBlocked(ctx context.Context, conn *sql.Conn, mariadb, noLogBin bool) (string, error) {
	switch {
	case noLogBin:
		return "--no-log-bin keeps the replay out of the target's binlog", nil
	case !mariadb:
		return "the target is not MariaDB (MySQL's gtid_next is not supported yet)", nil
	}
	var logBin bool
	if err := conn.QueryRowContext(ctx, "SELECT @@log_bin").Scan(&logBin); err != nil {
		return "", fmt.Errorf("read the target's log_bin: %w", err)
	}
	if !logBin {
		return "the target's binary log is off", nil
	}
	_, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin=1")
	switch {
	case IsMySQLError(err, errSpecificAccessDenied):
		return "the target user may not set sql_log_bin (grant it BINLOG ADMIN to keep the source GTIDs)", nil
	case err != nil:
		return "", fmt.Errorf("check that the target user may set sql_log_bin: %w", err)
	}
	// GTIDStatement sets gtid_domain_id, server_id and gtid_seq_no, which
	// need BINLOG REPLAY (or SUPER): a user applying row events as SQL
	// may have BINLOG ADMIN without it. Set to what it is, nothing changes.
	_, err = conn.ExecContext(ctx, "SET SESSION gtid_domain_id=@@SESSION.gtid_domain_id")
	switch {
	case IsMySQLError(err, errSpecificAccessDenied):
		return "the target user may not set gtid_domain_id and gtid_seq_no (grant it BINLOG REPLAY to keep the source GTIDs)", nil
	case err != nil:
		return "", fmt.Errorf("check that the target user may set gtid_domain_id: %w", err)
	}
	return "", nil
}

// GTIDOrigin is what must not change within a group when source GTIDs are
// kept: the group's commit is logged with one GTID only.
func GTIDOrigin(g txn.GTID) txn.GTID {
	g.Seq = 0
	return g
}

// GTIDStatement returns the SETs that make the next target commit be
// logged with g: a MariaDB GTID, or the target's own for any other.
func GTIDStatement(g txn.GTID) string {
	if g.Flavor != txn.FlavorMariaDB || g.Seq == 0 {
		return "SET SESSION gtid_domain_id=DEFAULT, SESSION server_id=DEFAULT"
	}
	// Two statements: the server checks gtid_seq_no (under
	// gtid_strict_mode) against the domain and server id in force before
	// the statement.
	return fmt.Sprintf("SET SESSION gtid_domain_id=%d, SESSION server_id=%d;\nSET SESSION gtid_seq_no=%d",
		g.Domain, g.Server, g.Seq)
}

// Unlogged wraps sql, statements ending in a COMMIT, so that they stay out
// of the target's binlog when source GTIDs are kept.
func (t *Target) Unlogged(sql string) string {
	if !t.keepGTIDs {
		return sql
	}
	return "SET SESSION sql_log_bin=0;\n" + sql + ";\nSET SESSION sql_log_bin=1"
}

// OpenMemoryTables opens every MEMORY table of the target on conn, whose
// sql_log_bin the caller has set to 0. The first open of a MEMORY table
// after the server started logs "TRUNCATE TABLE ... generated by server
// for memory table after a restart" under the session's GTID: a GTID of
// the target's own (which, under gtid_strict_mode, makes the source's
// next GTID in that domain out of order) or the source GTID the replay set
// for its next transaction, which that transaction then finds taken. The
// source's binlog holds its own such TRUNCATE, which the replay applies in
// its place; opened here, out of the binlog, the target logs none of its
// own.
func OpenMemoryTables(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "+
		"WHERE ENGINE = 'MEMORY' AND TABLE_TYPE = 'BASE TABLE' "+
		"AND TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'mysql', 'sys')")
	if err != nil {
		return fmt.Errorf("list the target's MEMORY tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var sch, table string
		if err := rows.Scan(&sch, &table); err != nil {
			rows.Close()
			return fmt.Errorf("list the target's MEMORY tables: %w", err)
		}
		names = append(names, sqlgen.QuoteIdent(sch)+"."+sqlgen.QuoteIdent(table))
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("list the target's MEMORY tables: %w", err)
	}
	for _, name := range names {
		if _, err := conn.ExecContext(ctx, "SELECT 1 FROM "+name+" LIMIT 0"); err != nil {
			return fmt.Errorf("open the MEMORY table %s out of the binlog: %w", name, err)
		}
	}
	return nil
}

// CheckNothingLoggedPast returns an error when, resuming with source GTIDs
// kept, the target's binlog holds a GTID of the domain of last (the last
// transaction applied, as the checkpoint says) with a higher sequence
// number, other than pending (the transaction the checkpoint names as
// pending, which may have run): the next source transactions would be
// logged out of order (refused under gtid_strict_mode) or twice (without
// it). The server logs such a GTID itself when a session ends with
// temporary tables open (their DROP, under the session's domain and server
// id) after the replay process was killed; other clients' writes in that
// domain do the same.
//
// highest, when above last's sequence number, is the highest one of last's
// domain in the source's binlogs up to the checkpoint: with
// gtid_strict_mode off there they need not rise, and the target logged the
// higher ones before last (0 when unknown).
func CheckNothingLoggedPast(ctx context.Context, conn *sql.Conn, last, pending string, highest uint64) error {
	if last == "" {
		return nil
	}
	lastGTID, err := txn.ParseGTID(last)
	if err != nil || lastGTID.Flavor != txn.FlavorMariaDB {
		return nil
	}
	state, err := binlogState(ctx, conn)
	if err != nil {
		return err
	}
	return loggedPast(state, lastGTID.Domain, max(lastGTID.Seq, highest), lastGTID.Seq+1, last, pending)
}

// binlogState reads the target's @@gtid_binlog_state.
func binlogState(ctx context.Context, conn *sql.Conn) (string, error) {
	var state string
	if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_state").Scan(&state); err != nil {
		return "", fmt.Errorf("read the target's binlog GTID state: %w", err)
	}
	return state, nil
}

// CheckPendingDomainLoggedPast is CheckNothingLoggedPast for the domain of
// pending, the transaction the checkpoint names as pending, when it is not
// the domain of the checkpoint's last transaction (which
// CheckNothingLoggedPast checks): highest is the highest sequence number
// of that domain in the source's binlogs before the checkpoint (0, known
// false, when they have none). MariaDB's crash recovery logs a DDL it
// completes under its own server id in the DDL's domain, whichever domain
// the transactions applied last were in (soak seed 93641).
func CheckPendingDomainLoggedPast(ctx context.Context, conn *sql.Conn, pending string, highest uint64) error {
	p, err := txn.ParseGTID(pending)
	if err != nil || p.Flavor != txn.FlavorMariaDB {
		return nil
	}
	state, err := binlogState(ctx, conn)
	if err != nil {
		return err
	}
	return loggedPast(state, p.Domain, highest, highest+1,
		fmt.Sprintf("of domain %d (sequence number %d before the checkpoint)", p.Domain, highest), pending)
}

// loggedPast returns CheckNothingLoggedPast's error when the GTID state
// holds a GTID of domain past sequence number past, other than pending;
// next is the domain's next number after the transactions applied, what
// the server's own GTID for the pending transaction takes; last names
// the checkpoint's last transaction in the error.
func loggedPast(state string, domain uint32, past, next uint64, last, pending string) error {
	pendingGTID, perr := txn.ParseGTID(pending)
	for _, s := range strings.Split(state, ",") {
		s = strings.TrimSpace(s)
		g, err := txn.ParseGTID(s)
		if err != nil || g.Domain != domain || g.Seq <= past || s == pending {
			continue
		}
		// MariaDB 10.11 logs what its crash recovery does with a DDL
		// it was running (completes it or, for a CREATE OR REPLACE
		// TABLE it cannot complete, drops the table it replaces: soak
		// seed 42185) under its own server id and the domain's next
		// sequence number (the pending transaction's, unless the
		// source's numbers have gaps).
		ownLogged := pending != "" && perr == nil && g.Domain == pendingGTID.Domain &&
			g.Server != pendingGTID.Server && g.Seq == next
		if ownLogged {
			return fmt.Errorf("cannot resume keeping the source's GTIDs: the target's binlog holds GTID %s, next after "+
				"the checkpoint's last transaction %s, under another server id than the pending transaction %s: %s. "+
				"The server logged that transaction itself, as MariaDB's crash recovery does for a DDL the target was running "+
				"when it was lost: it completes the DDL or, for a CREATE OR REPLACE TABLE it cannot complete, drops the table "+
				"it replaces (DROP TABLE ... /* generated by ddl recovery */ in the target's binlog); or another client wrote "+
				"to the target. Resume with --target-gtids own: a DDL's fingerprint then tells whether it ran, and a "+
				"CREATE OR REPLACE TABLE runs again", s, last, pending, LoggedPendingAsOwn)
		}
		return fmt.Errorf("cannot resume keeping the source's GTIDs: the target's binlog holds GTID %s, past the "+
			"checkpoint's last transaction %s: the server logged it when an earlier run's session ended with temporary "+
			"tables open (their DROP), or another client wrote to the target; the next source transactions would be "+
			"logged out of order (refused under gtid_strict_mode) or twice. Resume with --target-gtids own, or replay "+
			"again from the base backup", s, last)
	}
	return nil
}

// LoggedPendingAsOwn is in the error of CheckNothingLoggedPast when the
// GTID past the checkpoint is the domain's next one, under another server
// id than the pending transaction's.
const LoggedPendingAsOwn = "the target logged the pending transaction under a GTID of its own"

// LoggedGTID reports whether the target's binlog holds g (a MariaDB GTID),
// the GTID of a transaction an earlier run left pending: nothing after it
// was committed, so if the target logged it, it is the last GTID its
// domain and server id logged (the GTID state holds that one, the last
// logged, whatever its number) or, if the statement logged more event
// groups after it (a second one takes the domain's next number), it is in
// the newest binlog files. A GTID state below g says it was not logged;
// above g, the newest binlog files are read for it (maxLoggedScan of them;
// not found there while older ones exist, the error wraps
// ErrLoggedUnknown): a domain's numbers need not rise (gtid_strict_mode
// off: SET gtid_seq_no), so an earlier transaction of the same server id
// may have logged a higher number. False for other GTIDs, or when the
// binlog is off.
func LoggedGTID(ctx context.Context, db Queryer, g string) (bool, error) {
	want, err := txn.ParseGTID(g)
	if err != nil || want.Flavor != txn.FlavorMariaDB {
		return false, nil
	}
	var logBin bool
	var state string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@gtid_binlog_state").Scan(&logBin, &state); err != nil {
		return false, fmt.Errorf("read the target's binlog GTID state: %w", err)
	}
	if !logBin {
		return false, nil
	}
	for _, s := range strings.Split(state, ",") {
		have, err := txn.ParseGTID(strings.TrimSpace(s))
		if err != nil || have.Domain != want.Domain || have.Server != want.Server {
			continue
		}
		switch {
		case have.Seq == want.Seq:
			return true, nil
		case have.Seq > want.Seq:
			return binlogHolds(ctx, db, want)
		}
	}
	return false, nil
}

// maxLoggedScan is how many of the newest binlog files LoggedGTID reads.
// The pending transaction was the last the earlier run applied: it is in
// the newest file, or an earlier one if the target rotated since (a
// restart rotates once).
const maxLoggedScan = 5

// ErrLoggedUnknown is in LoggedGTID's error when the target's newest
// binlog files do not hold the GTID and older ones, which may, were not
// read.
var ErrLoggedUnknown = errors.New("cannot tell whether the target logged the GTID")

// binlogHolds reports whether one of the target's newest binlog files
// (maxLoggedScan) holds the GTID g; when they do not and the target has
// older ones, the error wraps ErrLoggedUnknown (the GTID may be there:
// not read, it is not taken as absent).
func binlogHolds(ctx context.Context, db Queryer, g txn.GTID) (bool, error) {
	files, err := binlogFiles(ctx, db)
	if err != nil {
		return false, err
	}
	for i := len(files) - 1; i >= 0 && i >= len(files)-maxLoggedScan; i-- {
		found, err := fileHoldsGTID(ctx, db, files[i], g)
		if err != nil || found {
			return found, err
		}
	}
	if len(files) > maxLoggedScan {
		return false, fmt.Errorf("%w %s: the target's GTID state holds a higher number of its domain and server id (the source "+
			"logged numbers that go down), and the newest %d of the target's %d binlog files, from %s, do not hold it; the older "+
			"ones were not read (see them with SHOW BINLOG EVENTS IN 'file' or mariadb-binlog on the target)",
			ErrLoggedUnknown, g, maxLoggedScan, len(files), files[len(files)-maxLoggedScan])
	}
	return false, nil
}

// binlogFiles lists the target's binlog files, oldest first.
func binlogFiles(ctx context.Context, db Queryer) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("list the target's binlog files, to find a pending transaction's GTID: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var files []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	return files, rows.Err()
}

// fileHoldsGTID reports whether the target's binlog file holds a GTID
// event of g ("BEGIN GTID 0-1-5", "GTID 0-1-5 cid=7" in SHOW BINLOG
// EVENTS).
func fileHoldsGTID(ctx context.Context, db Queryer, file string, g txn.GTID) (bool, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN "+quoteString(file))
	if err != nil {
		return false, fmt.Errorf("read the target's binlog file %s, to find a pending transaction's GTID: %w", file, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	want := g.String()
	for rows.Next() {
		vals := make([]any, len(cols))
		var eventType, info sql.NullString
		for i := range vals {
			vals[i] = new(sql.RawBytes)
		}
		// Log_name, Pos, Event_type, Server_id, End_log_pos, Info
		vals[2], vals[len(vals)-1] = &eventType, &info
		if err := rows.Scan(vals...); err != nil {
			return false, err
		}
		if eventType.String != "Gtid" {
			continue
		}
		fields := strings.Fields(info.String)
		for i := 0; i+1 < len(fields); i++ {
			if fields[i] == "GTID" && fields[i+1] == want {
				return true, nil
			}
		}
	}
	return false, rows.Err()
}

// Queryer is what reads rows: a *sql.DB or a *sql.Conn.
type Queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// quoteString quotes s as an SQL string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}
