package undo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/txn"
)

// The undo's record on the target, next to its checkpoint (channel
// target.UndoChannel of binlog_replay.checkpoint):
//
//	binlog_replay.undo (
//	  channel     VARCHAR(64) PRIMARY KEY,  -- 'undo'
//	  first_file, first_pos                 -- where the range's first transaction starts
//	  end_file, end_pos                     -- where its last one ends
//	  until_file, until_pos                 -- where the scan of the later binlogs stopped
//	  on_conflict VARCHAR(16),              -- refuse or skip
//	  state       VARCHAR(16),              -- 'running' or 'done'
//	  started_at  TIMESTAMP(6))
//
// It is written, with the fresh checkpoint, in the transaction before the
// first inverse is applied, and says what a resume must undo: the same
// range, with the later transactions the first run saw (the undo's own
// writes come after them in the target's binlog, and must not count as
// later writes), and the same choice on conflicts.

// undoTable is the name of the undo's record.
const undoTable = "`" + target.CheckpointSchema + "`.`undo`"

// record is the undo's record on the target.
type record struct {
	first, end, until txn.Position
	onConflict        ConflictMode
	done              bool
}

// Record states.
const (
	stateRunning = "running"
	stateDone    = "done"
)

// errNoSuchTable is the server's error for a missing table.
const errNoSuchTable = 1146

// readRecord returns the undo's record on the target, nil when there is
// none.
func readRecord(ctx context.Context, db *sql.DB) (*record, error) {
	var rec record
	var state, mode string
	err := db.QueryRowContext(ctx, "SELECT first_file, first_pos, end_file, end_pos, until_file, until_pos, on_conflict, state FROM "+
		undoTable+" WHERE channel = ?", target.UndoChannel).Scan(&rec.first.File, &rec.first.Offset,
		&rec.end.File, &rec.end.Offset, &rec.until.File, &rec.until.Offset, &mode, &state)
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.As(err, &me) && me.Number == errNoSuchTable:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the undo's record on the target: %w", err)
	}
	rec.onConflict, rec.done = ConflictMode(mode), state == stateDone
	return &rec, nil
}

// createSQL creates the table of the undo's record.
const createSQL = "CREATE TABLE IF NOT EXISTS " + undoTable + " (" +
	"channel VARCHAR(64) NOT NULL PRIMARY KEY, " +
	"first_file VARCHAR(255) NOT NULL, first_pos BIGINT UNSIGNED NOT NULL, " +
	"end_file VARCHAR(255) NOT NULL, end_pos BIGINT UNSIGNED NOT NULL, " +
	"until_file VARCHAR(255) NOT NULL, until_pos BIGINT UNSIGNED NOT NULL, " +
	"on_conflict VARCHAR(16) NOT NULL, state VARCHAR(16) NOT NULL, " +
	"started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

// startSQL returns the transaction that records a new undo and its fresh
// checkpoint (nothing undone yet, the range ending at rec.end), together.
func startSQL(rec *record) string {
	return "BEGIN;\n" +
		fmt.Sprintf("REPLACE INTO %s (channel, first_file, first_pos, end_file, end_pos, until_file, until_pos, on_conflict, state) "+
			"VALUES (%s, %s, %d, %s, %d, %s, %d, %s, %s);\n", undoTable, sqlgen.Quote(target.UndoChannel),
			sqlgen.Quote(rec.first.File), rec.first.Offset, sqlgen.Quote(rec.end.File), rec.end.Offset,
			sqlgen.Quote(rec.until.File), rec.until.Offset, sqlgen.Quote(string(rec.onConflict)), sqlgen.Quote(stateRunning)) +
		target.ChannelCheckpointSQL(target.UndoChannel, &txn.Txn{End: rec.end}, 0, "") + ";\nCOMMIT"
}

// doneSQL marks the undo finished.
func doneSQL() string {
	return fmt.Sprintf("UPDATE %s SET state = %s WHERE channel = %s", undoTable, sqlgen.Quote(stateDone), sqlgen.Quote(target.UndoChannel))
}
