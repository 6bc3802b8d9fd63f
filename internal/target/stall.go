package target

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// A replay can stall with nothing failing: a MariaDB target whose disk is
// full waits for space ("Waiting for someone to free space", retrying every
// minute, for ever) while writing its binlog or an Aria/MyISAM table, and
// the statement or COMMIT the replay sent simply does not return. So while
// groups are being applied and none has committed for
// replay.Options.Report.StallReport, the replay says what its sessions on the target are doing, and again
// after each further period, until a commit goes through.

// addSession records the target connection id of one of the run's workers
// (or of the session holding its replay lock) and returns its slot: how
// many the run had opened before it.
func (t *Target) addSession(id uint64) (slot int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sessions = append(t.sessions, id)
	return len(t.sessions) - 1
}

// WatchStalls reports stalls (see above), every period, until ctx is
// done: progress returns how many transactions the run has committed and
// whether it is applying some.
func (t *Target) WatchStalls(ctx context.Context, every time.Duration, progress func() (applied uint64, busy bool)) {
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var lastApplied uint64
	lastProgress := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		applied, busy := progress()
		if applied != lastApplied || !busy {
			lastApplied, lastProgress = applied, time.Now()
			continue
		}
		t.logf("%s", t.stallReport(ctx, time.Since(lastProgress)))
	}
}

// stallReport describes what the run's sessions on the target are doing.
func (t *Target) stallReport(ctx context.Context, d time.Duration) string {
	msg := fmt.Sprintf("still applying: no transaction committed for %s", d.Round(time.Second))
	t.mu.Lock()
	var ids []uint64
	for _, id := range t.sessions {
		if t.lock == nil || id != t.lock.id { // the replay lock's session applies nothing
			ids = append(ids, id)
		}
	}
	t.mu.Unlock()
	if len(ids) == 0 {
		return msg
	}
	rows, err := t.db.QueryContext(ctx, "SELECT ID, COALESCE(STATE, ''), TIME, COALESCE(LEFT(INFO, 60), '') "+
		"FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep' AND ID <> CONNECTION_ID() AND ID IN ("+idList(ids)+")")
	if err != nil {
		return fmt.Sprintf("%s (cannot read the target's process list: %v)", msg, err)
	}
	defer rows.Close()
	var (
		parts    []string
		diskFull bool
	)
	for rows.Next() {
		var (
			id          uint64
			state, info string
			secs        int64
		)
		if err := rows.Scan(&id, &state, &secs, &info); err != nil {
			return fmt.Sprintf("%s (cannot read the target's process list: %v)", msg, err)
		}
		diskFull = diskFull || strings.Contains(state, "free space")
		info = strings.Join(strings.Fields(info), " ")
		parts = append(parts, fmt.Sprintf("session %d %q for %ds (%s)", id, state, secs, abbreviate(info, 60)))
	}
	if len(parts) == 0 {
		return msg + "; none of its sessions is running a statement on the target"
	}
	msg += "; on the target: " + strings.Join(parts, ", ")
	if diskFull {
		msg += ". The target's disk is full: free space there (its binlog or data directory); the server retries the write every minute"
	}
	return msg
}
