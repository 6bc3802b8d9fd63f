package replay

import (
	"context"
	"database/sql"

	"github.com/binlog-replay/binlog-replay/internal/target"
)

// CheckpointSchema is the target database where binlog-replay keeps its
// checkpoint (see internal/target's checkpoint.go for its tables).
const CheckpointSchema = target.CheckpointSchema

// Checkpoint is the saved progress of a replay on a target.
type Checkpoint = target.Checkpoint

// Pending is the transaction a checkpoint names as started but not known
// to be finished.
type Pending = target.Pending

// ReadCheckpoint returns the checkpoint saved on the target, or nil when
// there is none. db may be any connection to the target.
func ReadCheckpoint(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (*Checkpoint, error) {
	return target.ReadCheckpoint(ctx, db)
}

// GTIDMode says which GTIDs the replayed transactions get in the target's
// binary log (see internal/target's gtids.go).
type GTIDMode = target.GTIDMode

// GTID modes.
const (
	// GTIDsAuto keeps the source GTIDs where the target can log them and
	// the user may keep checkpoint writes out of the binlog, and says so
	// at the start; otherwise the target gives its own.
	GTIDsAuto = target.GTIDsAuto
	// GTIDsSource keeps the source GTIDs, or refuses to start.
	GTIDsSource = target.GTIDsSource
	// GTIDsOwn lets the target give the transactions its own GTIDs.
	GTIDsOwn = target.GTIDsOwn
)

// ParseGTIDMode parses the value of --target-gtids.
func ParseGTIDMode(s string) (GTIDMode, error) { return target.ParseGTIDMode(s) }
