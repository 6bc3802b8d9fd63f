package target

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/schema"
	"github.com/binlog-replay/binlog-replay/txn"
)

// CheckpointSchema is the target database where binlog-replay keeps its
// checkpoint. It holds three tables: the checkpoint,
//
//	binlog_replay.checkpoint (
//	  channel     VARCHAR(64) PRIMARY KEY,  -- always 'default' for now
//	  seq         BIGINT UNSIGNED,          -- source transactions applied so far in this run
//	  file        VARCHAR(255),             -- binlog file of the next transaction to apply
//	  pos         BIGINT UNSIGNED,          -- its offset (the end of the last applied one)
//	  gtid        VARCHAR(255),             -- GTID of the last applied transaction, '' if none
//	  source_time DATETIME(6),              -- the latest commit time applied so far, on the source (UTC)
//	  state       VARCHAR(16),              -- 'running', or 'ddl' / 'nontrans' (see below)
//	  ddl_file, ddl_pos                     -- start of the pending transaction, when state is not 'running'
//	  pending_gtid, pending_print,          -- its GTID, the DDL's fingerprint before it ran,
//	  pending_what                          -- and why it is applied apart
//	  temp_tables                           -- the binlog's temporary tables open at this point
//	  rewrite_db                            -- the --rewrite-db rules of the replay that made it
//	  start_gtids                           -- and its --start-gtid set, which a resume goes on skipping
//	  exclude_gtids                         -- and the --exclude-gtids of its runs, which a resume goes on skipping
//	  selection                             -- and the last run's stop point and include filters, which a resume keeps
//	  updated_at  TIMESTAMP(6))
//
// binlog_replay.sessions, where each run records its sessions on the
// target, so that a later run can end those a lost run left holding locks
// (see sessions.go), and binlog_replay.turns, which orders chained commits
// (see turns.go).
//
// The checkpoint row is updated inside the same target transaction as the
// data it describes, so after any crash it names exactly the prefix of the
// source history that the target holds. Two kinds of transactions cannot
// commit with it, and are bracketed instead: a mark naming the transaction
// (state 'ddl' or 'nontrans') is committed before it, and 'running' with
// the new position after it.
//   - DDL commits implicitly. With the mark goes a fingerprint of the
//     objects it changes (schema.Fingerprint): after a crash, the same
//     fingerprint taken again tells whether the DDL ran (see pending.go).
//   - A transaction that writes non-transactional tables (MyISAM, Aria...)
//     leaves its writes there even when it is rolled back: after a crash
//     its outcome is unknown, and the replay stops rather than apply it
//     twice (see solo.go).
const CheckpointSchema = "binlog_replay"

// Channels name the rows of the checkpoint table: a replay keeps its
// checkpoint in ReplayChannel, an undo (package undo) in UndoChannel, so
// that neither ever resumes from the other's.
const (
	ReplayChannel = "default"
	UndoChannel   = "undo"
)

// Checkpoint is the saved progress of a replay on a target.
type Checkpoint struct {
	// Next is where the replay continues: the end of the last applied
	// transaction.
	Next txn.Position
	// Applied counts the transactions applied (in all runs so far).
	Applied uint64
	// GTID is the last applied transaction's GTID, if it had one.
	GTID string
	// SourceTime is the latest commit time among the transactions applied
	// (in all runs so far): a binlog's commit times need not rise (a
	// statement that ran long, SET TIMESTAMP), and a --stop-datetime at or
	// before it is behind the checkpoint.
	SourceTime time.Time
	// State is "running", or StateDDL / StateNonTrans when the process
	// stopped between the mark before such a transaction and the commit
	// after it: the transaction at Pending.Start may or may not have been
	// applied (see Pending).
	State string
	// Pending describes that transaction, when State is not "running".
	Pending Pending
	// TempTables names the temporary tables the binlog had created and
	// not dropped at Next: they lived in the session that applied them.
	TempTables string
	// RewriteDB are the --rewrite-db rules of the replay that made the
	// checkpoint (rewrite.Rules.String), "" for none: a resume must give
	// the same, or it would apply the rest of the binlogs elsewhere.
	RewriteDB string
	// StartGTIDs is the --start-gtid set of the replay that made the
	// checkpoint (txn.GTIDSet.String), "" for none: its transactions
	// are skipped wherever they come, also after the checkpoint (before
	// the first commit, the checkpoint is where the reading started; a
	// set from several domains may name transactions written after
	// others it lacks), so a resume goes on skipping them.
	StartGTIDs string
	// ExcludeGTIDs are the --exclude-gtids of the runs so far
	// (filter.GTIDs.String), "" for none: a resume goes on skipping them
	// (a resume that forgot them would apply the transaction the operator
	// meant to skip: the DROP, the DELETE).
	ExcludeGTIDs string
	// Selection is the rest of the last run's selection that a resume
	// keeps (its stop point, --databases, --tables: JSON the replay
	// package reads), "" from a version that did not keep it.
	Selection string
}

// Pending is the transaction a checkpoint names as started but not known
// to be finished.
type Pending struct {
	// Start is where it starts in the binlogs, GTID its GTID.
	Start txn.Position
	GTID  string
	// Print is the DDL's fingerprint taken before it ran (a digest, or
	// AmbiguousPrint and why a digest cannot tell).
	Print string
	// What says why it was applied apart (the non-transactional tables it
	// writes...).
	What string
}

// Checkpoint states.
const (
	StateRunning  = "running"
	StateDDL      = "ddl"
	StateNonTrans = "nontrans"
)

// AmbiguousPrint begins a Pending.Print that says, instead of a digest,
// why a digest cannot tell whether the DDL ran.
const AmbiguousPrint = "ambiguous: "

// EnsureTables creates the checkpoint schema, the checkpoint
// table, the sessions table (see sessions.go) and the turns table (see
// turns.go) if missing. conn is a connection of the target's pool (Open),
// which takes several statements at once: the four CREATEs go in one
// round trip.
func EnsureTables(ctx context.Context, conn *sql.Conn) error {
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS `" + CheckpointSchema + "`",
		"CREATE TABLE IF NOT EXISTS `" + CheckpointSchema + "`.`checkpoint` (" +
			"channel VARCHAR(64) NOT NULL PRIMARY KEY, " +
			"seq BIGINT UNSIGNED NOT NULL, " +
			"file VARCHAR(255) NOT NULL, " +
			"pos BIGINT UNSIGNED NOT NULL, " +
			"gtid VARCHAR(255) NOT NULL DEFAULT '', " +
			"source_time DATETIME(6) NULL, " +
			"state VARCHAR(16) NOT NULL, " +
			"ddl_file VARCHAR(255) NOT NULL DEFAULT '', " +
			"ddl_pos BIGINT UNSIGNED NOT NULL DEFAULT 0, " +
			"updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), " +
			strings.Join(addedColumns, ", ") +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
		sessionsTableSQL,
		turnsTableSQL,
	}
	if _, err := conn.ExecContext(ctx, strings.Join(stmts, ";\n")); err != nil {
		return fmt.Errorf("create the checkpoint, sessions and turns tables: %w", err)
	}
	if err := addCheckpointColumns(ctx, conn); err != nil {
		return err
	}
	return fillTurns(ctx, conn)
}

// addedColumns are the checkpoint's columns that earlier versions did not
// create: addCheckpointColumns adds them to a table of such a version.
var addedColumns = []string{
	"pending_gtid VARCHAR(255) NOT NULL DEFAULT ''",
	"pending_print VARCHAR(2048) NOT NULL DEFAULT ''",
	"pending_what VARCHAR(2048) NOT NULL DEFAULT ''",
	"temp_tables VARCHAR(4096) NOT NULL DEFAULT ''",
	"rewrite_db VARCHAR(4096) NOT NULL DEFAULT ''",
	"start_gtids TEXT NULL",
	"exclude_gtids TEXT NULL",
	"selection TEXT NULL",
}

// addCheckpointColumns adds the addedColumns a checkpoint table made by an
// earlier version lacks.
func addCheckpointColumns(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'checkpoint'", CheckpointSchema)
	if err != nil {
		return fmt.Errorf("read the checkpoint table's columns: %w", err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read the checkpoint table's columns: %w", err)
		}
		have[strings.ToLower(name)] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the checkpoint table's columns: %w", err)
	}
	var add []string
	for _, c := range addedColumns {
		if name, _, _ := strings.Cut(c, " "); !have[name] {
			add = append(add, "ADD COLUMN "+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "ALTER TABLE `"+CheckpointSchema+"`.`checkpoint` "+strings.Join(add, ", ")); err != nil {
		return fmt.Errorf("add columns to the checkpoint table of an earlier version: %w", err)
	}
	return nil
}

// ReadCheckpoint returns the checkpoint saved on the target, or nil when
// there is none (no table or no row). db may be any connection to the target.
func ReadCheckpoint(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (*Checkpoint, error) {
	return readCheckpoint(ctx, db, ReplayChannel, "")
}

// queryRower is a *sql.DB, *sql.Conn or *sql.Tx.
type queryRower interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// ReadCheckpointSettled reads the checkpoint with a locking read: when a
// commit of an earlier run is still in progress on the target (its
// connection was lost while the server was committing: an ambiguous
// commit, or a commit waiting for disk space), the read waits for it to
// end, so that the checkpoint says whether it committed. It fails after
// the target's innodb_lock_wait_timeout.
func ReadCheckpointSettled(ctx context.Context, db queryRower) (*Checkpoint, error) {
	return ReadChannelSettled(ctx, db, ReplayChannel)
}

// ReadChannelSettled is ReadCheckpointSettled for the checkpoint of the
// given channel.
func ReadChannelSettled(ctx context.Context, db queryRower, channel string) (*Checkpoint, error) {
	cp, err := readCheckpoint(ctx, db, channel, " LOCK IN SHARE MODE")
	if IsMySQLError(err, errLockWaitTimeout) {
		return nil, fmt.Errorf("another session holds the checkpoint (a commit of an earlier run still in progress on the target, "+
			"waiting for disk space or a lock?): see SHOW PROCESSLIST on the target, then run again: %w", err)
	}
	return cp, err
}

func readCheckpoint(ctx context.Context, db queryRower, channel, lock string) (*Checkpoint, error) {
	var (
		cp      Checkpoint
		srcTime sql.NullString
	)
	err := db.QueryRowContext(ctx,
		"SELECT seq, file, pos, gtid, source_time, state, ddl_file, ddl_pos, "+
			"pending_gtid, pending_print, pending_what, temp_tables FROM `"+
			CheckpointSchema+"`.`checkpoint` WHERE channel = ?"+lock, channel).
		Scan(&cp.Applied, &cp.Next.File, &cp.Next.Offset, &cp.GTID, &srcTime, &cp.State,
			&cp.Pending.Start.File, &cp.Pending.Start.Offset, &cp.Pending.GTID, &cp.Pending.Print,
			&cp.Pending.What, &cp.TempTables)
	if errors.Is(err, sql.ErrNoRows) || IsMySQLError(err, errNoSuchTable, errBadDB) {
		return nil, nil
	}
	if IsMySQLError(err, errBadField) {
		return readOldCheckpoint(ctx, db, channel, lock)
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if srcTime.Valid {
		cp.SourceTime, _ = time.Parse("2006-01-02 15:04:05.999999", srcTime.String)
	}
	if cp.State == StateDDL && !strings.HasPrefix(cp.Pending.Print, AmbiguousPrint) &&
		!strings.HasPrefix(cp.Pending.Print, schema.DigestVersion) {
		cp.Pending.Print = AmbiguousPrint + "the DDL's fingerprint was taken by an earlier version, which read the objects " +
			"otherwise: it cannot be compared with this version's"
	}
	if cp.RewriteDB, err = readAddedColumn(ctx, db, channel, ColumnRewriteDB); err != nil {
		return nil, err
	}
	if cp.StartGTIDs, err = readAddedColumn(ctx, db, channel, ColumnStartGTIDs); err != nil {
		return nil, err
	}
	if cp.ExcludeGTIDs, err = readAddedColumn(ctx, db, channel, ColumnExcludeGTIDs); err != nil {
		return nil, err
	}
	if cp.Selection, err = readAddedColumn(ctx, db, channel, ColumnSelection); err != nil {
		return nil, err
	}
	return &cp, nil
}

// readAddedColumn reads column, one of the addedColumns, of the
// checkpoint of channel: "" when NULL, or from a table made by a version
// without it.
func readAddedColumn(ctx context.Context, db queryRower, channel, column string) (string, error) {
	var v sql.NullString
	err := db.QueryRowContext(ctx, "SELECT "+column+" FROM `"+CheckpointSchema+"`.`checkpoint` WHERE channel = ?",
		channel).Scan(&v)
	switch {
	case IsMySQLError(err, errBadField), errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read checkpoint: %w", err)
	}
	return v.String, nil
}

// The replay's settings its checkpoint keeps (Checkpoint.RewriteDB,
// StartGTIDs, ExcludeGTIDs): the column each is in.
const (
	ColumnRewriteDB    = "rewrite_db"
	ColumnStartGTIDs   = "start_gtids"
	ColumnExcludeGTIDs = "exclude_gtids"
	ColumnSelection    = "selection"
)

// SettingSQL records value in column, one of the settings the replay's
// checkpoint keeps, in the transaction that creates it (or, for
// ColumnExcludeGTIDs and ColumnSelection, at a resume's start).
func SettingSQL(column, value string) string {
	return fmt.Sprintf("UPDATE `%s`.`checkpoint` SET %s=%s WHERE channel=%s",
		CheckpointSchema, column, sqlgen.Quote(value), sqlgen.Quote(ReplayChannel))
}

// readOldCheckpoint reads a checkpoint table made by an earlier version,
// which lacks the pending_* and temp_tables columns (the first run of this
// version adds them).
func readOldCheckpoint(ctx context.Context, db queryRower, channel, lock string) (*Checkpoint, error) {
	var (
		cp      Checkpoint
		srcTime sql.NullString
	)
	err := db.QueryRowContext(ctx,
		"SELECT seq, file, pos, gtid, source_time, state, ddl_file, ddl_pos FROM `"+
			CheckpointSchema+"`.`checkpoint` WHERE channel = ?"+lock, channel).
		Scan(&cp.Applied, &cp.Next.File, &cp.Next.Offset, &cp.GTID, &srcTime, &cp.State,
			&cp.Pending.Start.File, &cp.Pending.Start.Offset)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if srcTime.Valid {
		cp.SourceTime, _ = time.Parse("2006-01-02 15:04:05.999999", srcTime.String)
	}
	if cp.State == StateDDL {
		cp.Pending.Print = AmbiguousPrint + "the checkpoint was written by an earlier version, which kept no fingerprint of the DDL"
	}
	return &cp, nil
}

// CheckpointSQL returns the statement that records t as the last applied
// transaction, applied being the running count, and temps as the
// temporary tables open after it; the checkpoint's source time becomes
// t.Time where that is later than the one it holds. It is sent in the same multi-statement
// batch as COMMIT, so values are literals.
func CheckpointSQL(t *txn.Txn, applied uint64, temps string) string {
	return ChannelCheckpointSQL(ReplayChannel, t, applied, temps)
}

// ChannelCheckpointSQL is CheckpointSQL for the checkpoint of the given
// channel.
func ChannelCheckpointSQL(channel string, t *txn.Txn, applied uint64, temps string) string {
	srcTime := "NULL"
	if !t.Time.IsZero() {
		srcTime = sqlgen.Quote(t.Time.UTC().Format("2006-01-02 15:04:05.999999"))
	}
	return fmt.Sprintf("INSERT INTO `%s`.`checkpoint` (channel, seq, file, pos, gtid, source_time, state, ddl_file, ddl_pos, temp_tables) "+
		"VALUES (%s, %d, %s, %d, %s, %s, %s, '', 0, %s) ON DUPLICATE KEY UPDATE "+
		"seq=VALUES(seq), file=VALUES(file), pos=VALUES(pos), gtid=VALUES(gtid), "+
		"source_time=COALESCE(GREATEST(source_time, VALUES(source_time)), VALUES(source_time), source_time), "+
		"state=VALUES(state), ddl_file='', ddl_pos=0, "+
		"pending_gtid='', pending_print='', pending_what='', temp_tables=VALUES(temp_tables)",
		CheckpointSchema, sqlgen.Quote(channel), applied, sqlgen.Quote(t.End.File), t.End.Offset,
		sqlgen.Quote(t.GTID.String()), srcTime, sqlgen.Quote(StateRunning), sqlgen.Quote(temps))
}

// PendingSQL records that t is about to be applied apart, in state
// (StateDDL or StateNonTrans), with the DDL's fingerprint print and what
// makes it apart.
func PendingSQL(t *txn.Txn, state, print, what string) string {
	return ChannelPendingSQL(ReplayChannel, t, state, print, what)
}

// ChannelPendingSQL is PendingSQL for the checkpoint of the given channel.
func ChannelPendingSQL(channel string, t *txn.Txn, state, print, what string) string {
	return fmt.Sprintf("UPDATE `%s`.`checkpoint` SET state=%s, ddl_file=%s, ddl_pos=%d, "+
		"pending_gtid=%s, pending_print=%s, pending_what=%s WHERE channel=%s",
		CheckpointSchema, sqlgen.Quote(state), sqlgen.Quote(t.Start.File), t.Start.Offset,
		sqlgen.Quote(t.GTID.String()), sqlgen.Quote(clip(print)), sqlgen.Quote(clip(what)), sqlgen.Quote(channel))
}

// clip shortens s to fit a pending_* column, keeping it valid UTF-8.
func clip(s string) string {
	return strings.ToValidUTF8(abbreviate(s, 2000), "")
}
