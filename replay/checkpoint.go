package replay

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/txn"
)

// CheckpointSchema is the target database where binlog-replay keeps its
// checkpoint. It holds two tables: the checkpoint,
//
//	binlog_replay.checkpoint (
//	  channel     VARCHAR(64) PRIMARY KEY,  -- always 'default' for now
//	  seq         BIGINT UNSIGNED,          -- source transactions applied so far in this run
//	  file        VARCHAR(255),             -- binlog file of the next transaction to apply
//	  pos         BIGINT UNSIGNED,          -- its offset (the end of the last applied one)
//	  gtid        VARCHAR(255),             -- GTID of the last applied transaction, '' if none
//	  source_time DATETIME(6),              -- its commit time on the source (UTC)
//	  state       VARCHAR(16),              -- 'running', 'ddl' (a DDL was started) or 'done'
//	  ddl_file, ddl_pos                     -- start of the DDL being applied, when state='ddl'
//	  updated_at  TIMESTAMP(6))
//
// and binlog_replay.sessions, where each run records its sessions on the
// target, so that a later run can end those a lost run left holding locks
// (see stale.go).
//
// The checkpoint row is updated inside the same target transaction as the
// data it describes, so after any crash it names exactly the prefix of the
// source history that the target holds. DDL commits implicitly on MySQL and
// MariaDB, so a DDL is bracketed: state='ddl' is committed before it and
// 'running' with the new position after it (see Checkpoint.State).
const CheckpointSchema = "binlog_replay"

const checkpointChannel = "default"

// Checkpoint is the saved progress of a replay on a target.
type Checkpoint struct {
	// Next is where the replay continues: the end of the last applied
	// transaction.
	Next txn.Position
	// Applied counts the transactions applied (in all runs so far).
	Applied uint64
	// GTID is the last applied transaction's GTID, if it had one.
	GTID string
	// SourceTime is the last applied transaction's commit time.
	SourceTime time.Time
	// State is "running", "done", or "ddl" when the process stopped between
	// starting a DDL and recording its end: the DDL at DDLStart may or may
	// not have been applied.
	State    string
	DDLStart txn.Position
}

// ensureCheckpointTable creates the checkpoint schema, the checkpoint
// table and the sessions table (see stale.go) if missing.
func ensureCheckpointTable(ctx context.Context, conn *sql.Conn) error {
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
			"updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create checkpoint table: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, sessionsTableSQL); err != nil {
		return fmt.Errorf("create sessions table: %w", err)
	}
	return nil
}

// ReadCheckpoint returns the checkpoint saved on the target, or nil when
// there is none (no table or no row). db may be any connection to the target.
func ReadCheckpoint(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (*Checkpoint, error) {
	return readCheckpoint(ctx, db, "")
}

// queryRower is a *sql.DB, *sql.Conn or *sql.Tx.
type queryRower interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// readCheckpointSettled reads the checkpoint with a locking read: when a
// commit of an earlier run is still in progress on the target (its
// connection was lost while the server was committing: an ambiguous
// commit, or a commit waiting for disk space), the read waits for it to
// end, so that the checkpoint says whether it committed. It fails after
// the target's innodb_lock_wait_timeout.
func readCheckpointSettled(ctx context.Context, db queryRower) (*Checkpoint, error) {
	cp, err := readCheckpoint(ctx, db, " LOCK IN SHARE MODE")
	if isMySQLError(err, errLockWaitTimeout) {
		return nil, fmt.Errorf("another session holds the checkpoint (a commit of an earlier run still in progress on the target, "+
			"waiting for disk space or a lock?): see SHOW PROCESSLIST on the target, then run again: %w", err)
	}
	return cp, err
}

func readCheckpoint(ctx context.Context, db queryRower, lock string) (*Checkpoint, error) {
	var (
		cp      Checkpoint
		srcTime sql.NullString
	)
	err := db.QueryRowContext(ctx,
		"SELECT seq, file, pos, gtid, source_time, state, ddl_file, ddl_pos FROM `"+
			CheckpointSchema+"`.`checkpoint` WHERE channel = ?"+lock, checkpointChannel).
		Scan(&cp.Applied, &cp.Next.File, &cp.Next.Offset, &cp.GTID, &srcTime, &cp.State,
			&cp.DDLStart.File, &cp.DDLStart.Offset)
	if errors.Is(err, sql.ErrNoRows) || isMySQLError(err, errNoSuchTable, errBadDB) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if srcTime.Valid {
		cp.SourceTime, _ = time.Parse("2006-01-02 15:04:05.999999", srcTime.String)
	}
	return &cp, nil
}

// checkpointSQL returns the statement that records t as the last applied
// transaction, applied being the running count. It is sent in the same
// multi-statement batch as COMMIT, so values are literals.
func checkpointSQL(t *txn.Txn, applied uint64, state string) string {
	srcTime := "NULL"
	if !t.Time.IsZero() {
		srcTime = quote(t.Time.UTC().Format("2006-01-02 15:04:05.999999"))
	}
	return fmt.Sprintf("INSERT INTO `%s`.`checkpoint` (channel, seq, file, pos, gtid, source_time, state, ddl_file, ddl_pos) "+
		"VALUES (%s, %d, %s, %d, %s, %s, %s, '', 0) ON DUPLICATE KEY UPDATE "+
		"seq=VALUES(seq), file=VALUES(file), pos=VALUES(pos), gtid=VALUES(gtid), "+
		"source_time=VALUES(source_time), state=VALUES(state), ddl_file='', ddl_pos=0",
		CheckpointSchema, quote(checkpointChannel), applied, quote(t.End.File), t.End.Offset,
		quote(t.GTID.String()), srcTime, quote(state))
}

// ddlStartSQL records that the DDL t is about to be applied.
func ddlStartSQL(t *txn.Txn) string {
	return fmt.Sprintf("UPDATE `%s`.`checkpoint` SET state='ddl', ddl_file=%s, ddl_pos=%d WHERE channel=%s",
		CheckpointSchema, quote(t.Start.File), t.Start.Offset, quote(checkpointChannel))
}

// quote returns s as an SQL string literal that means the same under any
// sql_mode and character set: plain '...' when s holds only harmless ASCII,
// a hex literal otherwise.
func quote(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte(" ._:-+/,", c) >= 0
		if !safe {
			return "X'" + hex.EncodeToString([]byte(s)) + "'"
		}
	}
	return "'" + s + "'"
}
