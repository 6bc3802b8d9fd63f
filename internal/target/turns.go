package target

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Chained commits keep the source order of commits on the server, so that
// a group's COMMIT need not wait in the client for the one before it to be
// acknowledged: over a network, the commits of several sessions are then in
// flight at once, one round trip for all of them instead of one each.
//
// The table binlog_replay.turns has TurnSlots rows (slot, ticket), and a
// guard row, slot -1. A group of source transactions numbered first..last:
//
//  1. takes its turn slot as the first statement of its target
//     transaction: UPDATE turns SET ticket = last WHERE slot = first mod
//     TurnSlots (TurnTakeSQL). It holds that row's lock until it commits
//     or rolls back.
//
//  2. sends its COMMIT either once the group before it is acknowledged
//     (as without chaining), or, once that group's COMMIT is sent,
//     chained on it: the packet
//
//     UPDATE turns SET slot = IF(ticket = first-1, slot, -1) WHERE slot = <the group before's slot>;
//     <checkpoint>; COMMIT
//
//     (TurnWaitSQL). The UPDATE waits on the server for the row lock the
//     group before holds until its commit or rollback; then it reads the
//     committed ticket. If the group before committed, the ticket is
//     first-1 and the COMMIT follows at once. If it rolled back, the
//     ticket is older: the UPDATE moves the row onto the guard row's key
//     and fails with a duplicate key error (IsTurnLost), so the packet
//     stops before the COMMIT, and the group runs again after the one
//     before commits.
//
// A committed ticket equal to first-1 in that slot therefore means that a
// group ending at first-1 committed, and by induction every group before
// it: the commits on the target follow source order, and the target is
// always a prefix of the source history. The pipeline resets the tickets
// when it starts (ResetTurnsSQL) and keeps the groups that use one slot
// far apart (TurnSlots), so that no ticket of another run or another group
// is mistaken for the one awaited.
const TurnSlots = 4096

// turnsTable is the turns table's qualified name.
const turnsTable = "`" + CheckpointSchema + "`.`turns`"

// turnsTableSQL creates the turns table, without its rows (fillTurns).
const turnsTableSQL = "CREATE TABLE IF NOT EXISTS " + turnsTable + " (" +
	"slot INT NOT NULL PRIMARY KEY, ticket BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB"

// fillTurns writes the rows the turns table lacks.
func fillTurns(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+turnsTable).Scan(&n); err != nil {
		return fmt.Errorf("read the turns table: %w", err)
	}
	if n == TurnSlots+1 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT IGNORE INTO " + turnsTable + " (slot, ticket) VALUES (-1, 0)")
	for i := 0; i < TurnSlots; i++ {
		fmt.Fprintf(&b, ",(%d,0)", i)
	}
	if _, err := conn.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("fill the turns table: %w", err)
	}
	return nil
}

// ResetTurnsSQL clears the tickets of earlier runs (run on its own, with
// no group in flight).
const ResetTurnsSQL = "UPDATE " + turnsTable + " SET ticket = 0 WHERE ticket <> 0"

// turnSlot is the slot of the group whose first ticket is first.
func turnSlot(first uint64) uint64 { return first % TurnSlots }

// TurnTakeSQL takes the turn slot of the group of tickets first..last: the
// first statement of its target transaction.
func TurnTakeSQL(first, last uint64) string {
	return fmt.Sprintf("UPDATE %s SET ticket = %d WHERE slot = %d", turnsTable, last, turnSlot(first))
}

// TurnWaitSQL waits for the group of tickets before..first-1 to commit,
// and fails with a duplicate key error (IsTurnLost) when it rolled back
// instead.
func TurnWaitSQL(before, first uint64) string {
	return fmt.Sprintf("UPDATE %s SET slot = IF(ticket = %d, slot, -1) WHERE slot = %d",
		turnsTable, first-1, turnSlot(before))
}

// IsTurnLost reports whether err is TurnWaitSQL's failure: the group
// awaited rolled back.
func IsTurnLost(err error) bool { return IsMySQLError(err, errDupEntry) }

// errDupEntry is the server's duplicate key error.
const errDupEntry = 1062
