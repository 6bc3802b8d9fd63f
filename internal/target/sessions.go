package target

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
)

// When the connection to the target is lost without the server noticing
// (a network partition, the replay host losing power), the server keeps
// the lost run's sessions, each idle in its open transaction and holding
// its row locks, until it drops them (wait_timeout, hours by default). The
// resumed run would wait on those locks and give up. So a run that resumes
// (replay.Options.Recovery.Resume, or a reconnection), once it holds the
// target's replay lock (below), first ends the lost run's sessions that
// are still there: their work was not committed and is applied again. It ends those running
// a statement too (a lock wait, a long statement, a frozen process's
// statement): left alone, such a session ends its statement idle in its
// transaction, holding its locks, or, its process woken, commits a group
// the resumed run applies again. A COMMIT in progress commits or rolls back
// whole when ended, and the checkpoint is then read with a locking read,
// which waits for it to settle (ReadCheckpointSettled). The run waits for
// the ended sessions to roll back before it goes on. A run that does not
// resume ends nothing: it refuses a target that has a checkpoint anyway.
//
// The lost run's sessions are known two ways, merged: the reconnecting
// process remembers its own (Options.stale), and every run records the
// connection ids of its sessions on the target, with the server's start
// time, in binlog_replay.sessions (see sessionsTableSQL), so that a new
// process resuming after the loss finds them too. Connection ids are only
// compared on the same run of the server, recognized by its start time;
// ids grow within a server run, so only ids below the connection asking
// are ended, which keeps the run's own connections out. Each run replaces
// the recorded sessions with its own once it has ended the stale ones.
//
// An idle session of a lost run looks exactly like an idle session of a
// run that is still alive: a second process started with --resume while
// the first one still runs (another terminal, a service restarted while
// the old process lives) would end the live run's sessions, then both
// would apply the same binlogs, fighting over the target. So one run at a
// time holds the target's replay lock (runlock.go), a named lock
// (GET_LOCK) on a connection of its own that it keeps for its whole
// duration, records in binlog_replay.sessions like its workers, and keeps
// visibly alive: a statement every lockHeartbeat, so that its idle time in
// the process list stays small. At the start, before ending any session
// or writing anything, a run takes the lock; when it is held, the holder
// tells a live run from a lost one:
//   - a session an earlier run recorded on this server run, idle (Sleep)
//     for lockStaleAfter or more, is a lost run's when this run resumes: it
//     is ended, then the lock taken and the lost run's other sessions
//     ended;
//   - the same, idle for less: the run waits, looking every second, until
//     it has been idle long enough or shows activity (its idle time drops);
//   - anything else (a holder that is active, not recorded by an earlier
//     run, or seen by a run that does not resume) is refused at once, the
//     error naming the holder's connection id, user, host and idle time.
// The process's own lock connection from before a reconnection is ended
// without waiting: the process knows that run is over.

// sessionsTableSQL creates the table where each run records its sessions
// on the target: one row per slot (0 for the first session the run opens,
// 1 for the next...), overwritten by each run; id 0 marks a slot the
// current run has not opened. It holds the connection holding the replay
// lock (slot 0, see runlock.go) and the worker sessions (the statement
// session included): the run's other connections never leave a
// transaction open.
const sessionsTableSQL = "CREATE TABLE IF NOT EXISTS `" + CheckpointSchema + "`.`sessions` (" +
	"slot INT UNSIGNED NOT NULL PRIMARY KEY, " +
	"run VARCHAR(64) NOT NULL, " + // the run that opened the session (a random id)
	"server_start BIGINT NOT NULL, " + // the target's start time then (Unix seconds)
	"id BIGINT UNSIGNED NOT NULL, " + // the session's CONNECTION_ID(), 0 if not opened
	"updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

// Stale are the target sessions of a lost run.
type Stale struct {
	ids         []uint64
	serverStart int64 // the target's start time (Unix seconds) when they were opened
}

// add returns s with the sessions of a later run, t, added: merged when
// they are on the same server run, t's alone when the server restarted in
// between (the earlier ones are gone).
func (s Stale) Add(t Stale) Stale {
	switch {
	case len(t.ids) == 0:
		return s
	case len(s.ids) == 0 || abs(s.serverStart-t.serverStart) > 2:
		return t
	}
	return Stale{ids: append(slices.Clone(s.ids), t.ids...), serverStart: t.serverStart}
}

// Stale returns the run's target sessions, for the next attempt to end
// if the target was lost (replay's runResilient).
func (t *Target) Stale() Stale {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stale{ids: slices.Clone(t.sessions), serverStart: t.serverStart}
}

// ownStale reports whether id is a session this process opened on the
// target in an earlier attempt, on the server run it is connected to.
func (t *Target) ownStale(id uint64) bool {
	return t.sameServerRun(t.cfg.Stale.serverStart) && slices.Contains(t.cfg.Stale.ids, id)
}

// newRunID returns a random identity for a run, recorded with its sessions.
func newRunID() string {
	return rand.Text()
}

// serverStart returns when the target server started, in Unix seconds
// (within a second).
func serverStart(ctx context.Context, db *sql.DB) (int64, error) {
	// SHOW GLOBAL STATUS, not information_schema.GLOBAL_STATUS: MySQL 8
	// has no such table (5.7 refuses it by default).
	var (
		name        string
		uptime, now int64
	)
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Uptime'").Scan(&name, &uptime); err != nil {
		return 0, fmt.Errorf("read the target's uptime: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT CAST(UNIX_TIMESTAMP() AS SIGNED)").Scan(&now); err != nil {
		return 0, fmt.Errorf("read the target's clock: %w", err)
	}
	return now - uptime, nil
}

// sameServerRun reports whether sessions opened when the target's start
// time was start are on the server run the replay is connected to.
func (t *Target) sameServerRun(start int64) bool {
	return t.serverStart != 0 && abs(t.serverStart-start) <= 2
}

// EndStaleSessions ends, when the run resumes, the sessions of the lost
// run that the target still holds, idle in their transactions or running
// a statement (see above), and waits for them to go. Errors are logged: at
// worst the resumed run waits on their locks.
func (t *Target) EndStaleSessions(ctx context.Context) {
	if !t.cfg.Resume {
		return
	}
	conn, err := t.db.Conn(ctx)
	if err != nil {
		t.logf("could not look for the lost run's sessions on the target: %v", err)
		return
	}
	defer conn.Close()
	known := t.knownSessions(ctx, conn)
	if len(known) == 0 {
		return // nothing known, or the server restarted: they are gone
	}
	// Holding the replay lock, the run knows that no run is alive that
	// recorded these sessions: every one of them still there is a lost
	// run's, idle or not.
	rows, err := conn.QueryContext(ctx, "SELECT ID, COALESCE(COMMAND, ''), COALESCE(STATE, '') FROM information_schema.PROCESSLIST "+
		"WHERE ID < CONNECTION_ID() AND ID IN ("+idList(known)+")")
	if err != nil {
		t.logf("could not look for the lost run's sessions on the target: %v", err)
		return
	}
	type session struct {
		id             uint64
		command, state string
	}
	var found []session
	for rows.Next() {
		var s session
		if err := rows.Scan(&s.id, &s.command, &s.state); err != nil {
			break
		}
		found = append(found, s)
	}
	rows.Close()
	var ended []uint64
	for _, s := range found {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", s.id)); err != nil && !IsMySQLError(err, errNoSuchThread) {
			t.logf("could not end session %d of the lost run on the target: %v", s.id, err)
			continue
		}
		what := "left idle on the target in its transaction"
		if s.command != "Sleep" {
			what = fmt.Sprintf("still running a statement on the target (%s: %s)", s.command, s.state)
		}
		t.logf("ended session %d of the lost run, %s", s.id, what)
		ended = append(ended, s.id)
	}
	t.awaitEnded(ctx, conn, ended)
}

// endedWait bounds the wait for ended sessions to go (rolling back a large
// transaction takes a while); the run goes on after it, and waits on the
// locks of a session still rolling back as on any other lock.
const endedWait = 5 * time.Minute

// awaitEnded waits until the sessions ids, just ended, have left the
// process list: until then they roll back and hold their locks.
func (t *Target) awaitEnded(ctx context.Context, conn *sql.Conn, ids []uint64) {
	if len(ids) == 0 {
		return
	}
	q := "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (" + idList(ids) + ")"
	start, said := time.Now(), false
	for {
		var left int
		if err := conn.QueryRowContext(ctx, q).Scan(&left); err != nil {
			t.logf("could not check that the lost run's sessions have ended: %v", err)
			return
		}
		waited := time.Since(start)
		switch {
		case left == 0:
			if said {
				t.logf("the lost run's sessions have ended, after %s", waited.Round(time.Second))
			}
			return
		case waited > endedWait:
			t.logf("%d sessions of the lost run are still rolling back after %s: going on", left, endedWait)
			return
		case waited > 2*time.Second && !said:
			said = true
			t.logf("waiting for %d ended sessions of the lost run to roll back", left)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// idList returns connection ids as an SQL list: "7,9,12".
func idList(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(s, ",")
}

// knownSessions returns the sessions of earlier runs on this server run:
// those this process opened before a reconnection and those recorded in
// binlog_replay.sessions, sorted, without duplicates. Errors are logged.
func (t *Target) knownSessions(ctx context.Context, conn *sql.Conn) []uint64 {
	var known []uint64
	if stale := t.cfg.Stale; t.sameServerRun(stale.serverStart) {
		known = append(known, stale.ids...)
	}
	known = append(known, t.recordedSessions(ctx, conn)...)
	slices.Sort(known)
	return slices.Compact(known)
}

// recordedSessions returns the connection ids that earlier runs recorded
// in binlog_replay.sessions on this server run. Errors are logged.
func (t *Target) recordedSessions(ctx context.Context, conn *sql.Conn) []uint64 {
	rows, err := conn.QueryContext(ctx, "SELECT run, server_start, id FROM `"+CheckpointSchema+"`.`sessions` WHERE id <> 0")
	if IsMySQLError(err, errNoSuchTable, errBadDB) {
		return nil // no run recorded any
	}
	if err != nil {
		t.logf("could not read the sessions recorded by the earlier run: %v", err)
		return nil
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var (
			run   string
			start int64
			id    uint64
		)
		if err := rows.Scan(&run, &start, &id); err != nil {
			t.logf("could not read the sessions recorded by the earlier run: %v", err)
			return ids
		}
		if run != t.runID && t.sameServerRun(start) {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.logf("could not read the sessions recorded by the earlier run: %v", err)
	}
	return ids
}

// ResetSessions replaces the sessions recorded by earlier runs with the
// current run's, none opened yet, on conn (whose sql_log_bin the caller
// has set). Called once the stale sessions were ended.
func (t *Target) ResetSessions(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "UPDATE `"+CheckpointSchema+"`.`sessions` SET run = ?, server_start = ?, id = 0",
		t.runID, t.serverStart)
	if err != nil {
		return fmt.Errorf("reset the recorded target sessions: %w", err)
	}
	return nil
}

// RecordSession records a session the run opened, as slot, on that
// session's own connection (which runs with autocommit off), out of the
// target's binlog when source GTIDs are kept. It touches only the slot's
// row, which no other session holds locked.
func (t *Target) RecordSession(ctx context.Context, conn *sql.Conn, slot int) error {
	if _, err := conn.ExecContext(ctx, t.Unlogged(t.sessionSQL(slot, "CONNECTION_ID()")+";\nCOMMIT")); err != nil {
		return fmt.Errorf("record target session: %w", err)
	}
	return nil
}

// RecordLockSession records the connection holding the replay lock, on
// conn (whose sql_log_bin the caller has set, as for ResetSessions).
func (t *Target) RecordLockSession(ctx context.Context, conn *sql.Conn) error {
	if t.lock == nil || !t.lock.held {
		return nil
	}
	if _, err := conn.ExecContext(ctx, t.sessionSQL(t.lock.slot, fmt.Sprint(t.lock.id))); err != nil {
		return fmt.Errorf("record target session: %w", err)
	}
	return nil
}

// sessionSQL records the session whose connection id is id (an SQL
// expression) as slot.
func (t *Target) sessionSQL(slot int, id string) string {
	return fmt.Sprintf("INSERT INTO `%s`.`sessions` (slot, run, server_start, id) VALUES (%d, %s, %d, %s) "+
		"ON DUPLICATE KEY UPDATE run=VALUES(run), server_start=VALUES(server_start), id=VALUES(id)",
		CheckpointSchema, slot, sqlgen.Quote(t.runID), t.serverStart, id)
}

// errNoSuchThread: KILL of a connection that is already gone.
const errNoSuchThread = 1094

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
