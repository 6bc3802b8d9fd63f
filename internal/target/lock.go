package target

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
)

// One run at a time applies to a target: each holds the target's replay
// lock for its whole duration, and a run that finds it held tells a lost
// run (ended when resuming) from a live one (refused). See the top of
// stale.go.

const (
	// lockName is the server-wide named lock (GET_LOCK) a run holds.
	lockName = CheckpointSchema
	// lockHeartbeat is how often the connection holding the lock runs a
	// statement, so that its idle time in the process list stays small
	// while the run lives.
	lockHeartbeat = 2 * time.Second
	// lockStaleAfter is how long the holder must have been idle (five
	// heartbeats missed) before a resuming run takes it for a lost run's.
	lockStaleAfter = 10 * time.Second
	// lockPoll is how long each wait for the lock lasts, between looks at
	// its holder.
	lockPoll = time.Second
	// lockTakeOver bounds the wait for the lock once its lost holder was
	// ended (the server releases it as the session ends).
	lockTakeOver = 5 * time.Second
)

// errKillDenied is the server's error 1095: the session is another user's.
const errKillDenied = 1095

// replayLock is the target's replay lock, held on a connection of its own
// (a pool of its own too, so that no other statement ever runs on it and
// that closing it ends the session).
type replayLock struct {
	db   *sql.DB
	conn *sql.Conn
	id   uint64 // the connection's CONNECTION_ID()
	slot int    // its slot in binlog_replay.sessions
	held bool

	stop context.CancelFunc // stops the heartbeat, and its statement in flight
	done chan struct{}      // closed when the heartbeat has stopped
	lost chan struct{}      // closed when the heartbeat failed: the lock may be gone
	mu   sync.Mutex
	err  error // why it was lost
}

// LockLostError stops a run whose lock connection failed: it no longer
// knows that it holds the lock. It counts as a lost target: the run
// reconnects, and takes the lock again or is refused.
type LockLostError struct{ err error }

func (e LockLostError) Error() string {
	return "lost the connection holding the target's replay lock: " + e.err.Error()
}

func (e LockLostError) Unwrap() error { return e.err }

// lockHolder is the session holding the replay lock, as the process list
// shows it.
type lockHolder struct {
	id         uint64
	user, host string
	command    string
	idle       int64 // seconds in its current state (TIME)
	visible    bool  // the target user sees it in the process list
}

func (h lockHolder) String() string {
	if !h.visible {
		return fmt.Sprintf("connection %d", h.id)
	}
	return fmt.Sprintf("connection %d (user %s@%s, %s for %ds)", h.id, h.user, h.host, h.command, h.idle)
}

// TakeLock takes the target's replay lock for the run, before anything is
// ended or written (see the top of stale.go): at once when it is free;
// after ending its holder when that is a lost run's; not at all, with an
// error naming the holder, when another run (or some session) holds it.
func (t *Target) TakeLock(ctx context.Context) error {
	db, err := openPool(t.cfg.DSN, t.cfg.TLS, 1)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return fmt.Errorf("connect to target: %w", err)
	}
	lk := &replayLock{db: db, conn: conn, done: make(chan struct{}), lost: make(chan struct{})}
	t.lock = lk // released by runOnce whatever happens from here
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&lk.id); err != nil {
		return fmt.Errorf("connect to target: %w", err)
	}
	// The first try waits a moment: a session ending (its process killed
	// a moment ago) releases the lock as the server notices.
	got, err := lk.get(ctx, lockPoll)
	var (
		holder    lockHolder
		known     []uint64 // the sessions of earlier runs, read when the holder changes
		lastIdle  int64    // the holder's idle time at the last look, -1 for none
		waiting   bool     // said so
		invisible int      // looks at the holder that did not find it in the process list
		ended     uint64   // the holder ended as a lost run's
	)
	for !got && err == nil {
		var h lockHolder
		if h, err = lk.holder(ctx); err != nil {
			break
		}
		switch {
		case h.id == 0: // released since
		case h.id == ended:
			return fmt.Errorf("the target's replay lock is still held by connection %d, which was ended as a lost run's: see SHOW PROCESSLIST on the target", h.id)
		default:
			if h.id != holder.id {
				holder, lastIdle, invisible = h, -1, 0
				known = t.knownSessions(ctx, conn)
			}
			if !h.visible {
				if invisible++; invisible < 2 {
					break // it may have ended since: the next look tells
				}
			}
			if h.command == "Killed" {
				break // being ended: it releases the lock
			}
			why, stale := t.judgeHolder(h, known, lastIdle)
			switch {
			case why != "":
				return lockHeldError(h, why)
			case stale:
				if err = t.endLockHolder(ctx, conn, h); err != nil {
					return err
				}
				ended = h.id
				got, err = lk.get(ctx, lockTakeOver)
				continue
			case !waiting:
				waiting = true
				t.logf("the target's replay lock is held by %s, a session of an earlier run: "+
					"waiting until it has been idle for %s, then ending it as a lost run's "+
					"(a live run keeps it busy every %s, and this run then stops)", h, lockStaleAfter, lockHeartbeat)
			}
			lastIdle = h.idle
		}
		got, err = lk.get(ctx, lockPoll)
	}
	if err != nil {
		return fmt.Errorf("take the target's replay lock: %w", err)
	}
	lk.held = true
	lk.slot = t.addSession(lk.id)
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	lk.stop = stop
	go lk.heartbeat(hctx)
	return nil
}

// judgeHolder decides about the session h holding the lock, given the
// sessions of earlier runs (known) and h's idle time at the last look
// (lastIdle, -1 for none): why the run must not go on (""
// when it may), and whether h is a lost run's, to end now (false: wait).
func (t *Target) judgeHolder(h lockHolder, known []uint64, lastIdle int64) (why string, stale bool) {
	own := t.ownStale(h.id)
	switch {
	case !h.visible:
		return "the target user cannot see that session in the process list: it is another user's " +
			"(seeing it needs the PROCESS privilege, ending it CONNECTION ADMIN or SUPER)", false
	case own && h.command == "Sleep":
		// This process's, before it reconnected (perhaps lost while it
		// started, before it recorded its sessions): that attempt is over.
		return "", true
	case !t.cfg.Resume:
		return "this run does not resume (only --resume ends a lost run's sessions)", false
	case !slices.Contains(known, h.id):
		return fmt.Sprintf("it is not a session an earlier run recorded in `%s`.`sessions` on this run of the server", CheckpointSchema), false
	case h.command != "Sleep":
		return fmt.Sprintf("it is active (command %s)", h.command), false
	case lastIdle >= 0 && h.idle < lastIdle:
		return fmt.Sprintf("it is active (its idle time went from %ds to %ds: a live run keeps it busy every %s)",
			lastIdle, h.idle, lockHeartbeat), false
	}
	return "", h.idle >= int64(lockStaleAfter/time.Second)
}

// lockHeldError is the refusal to run while h holds the lock.
func lockHeldError(h lockHolder, why string) error {
	return fmt.Errorf("another binlog-replay run (or some other session) holds the target's replay lock, GET_LOCK('%s'): %s; %s. "+
		"Stop that run first (or end that session). If it was a run that was lost (its host down, the network to the target cut), "+
		"--resume ends it once it has been idle for %s", lockName, h, why, lockStaleAfter)
}

// endLockHolder ends h, the lost run's session holding the lock.
func (t *Target) endLockHolder(ctx context.Context, conn *sql.Conn, h lockHolder) error {
	_, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", h.id))
	switch {
	case err == nil, IsMySQLError(err, errNoSuchThread):
		t.logf("ended session %d of the lost run, which held the target's replay lock, idle for %ds", h.id, h.idle)
		return nil
	case IsMySQLError(err, errKillDenied, errSpecificAccessDenied):
		return fmt.Errorf("could not end %s, a lost run's session holding the target's replay lock: "+
			"it is another user's, and ending it needs CONNECTION ADMIN or SUPER (or end it yourself: KILL CONNECTION %d): %w", h, h.id, err)
	default:
		return fmt.Errorf("could not end %s, a lost run's session holding the target's replay lock: %w", h, err)
	}
}

// get tries to take the lock, waiting up to wait for it.
func (lk *replayLock) get(ctx context.Context, wait time.Duration) (bool, error) {
	var got sql.NullInt64
	err := lk.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT GET_LOCK(%s, %d)", sqlgen.Quote(lockName), int(wait/time.Second))).Scan(&got)
	return got.Valid && got.Int64 == 1, err
}

// holder returns the session holding the lock (id 0: none).
func (lk *replayLock) holder(ctx context.Context) (lockHolder, error) {
	var id sql.NullInt64
	if err := lk.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT IS_USED_LOCK(%s)", sqlgen.Quote(lockName))).Scan(&id); err != nil || !id.Valid {
		return lockHolder{}, err
	}
	h := lockHolder{id: uint64(id.Int64), visible: true}
	err := lk.conn.QueryRowContext(ctx, "SELECT COALESCE(USER, ''), COALESCE(HOST, ''), COALESCE(COMMAND, ''), COALESCE(TIME, 0) "+
		"FROM information_schema.PROCESSLIST WHERE ID = ?", h.id).Scan(&h.user, &h.host, &h.command, &h.idle)
	if errors.Is(err, sql.ErrNoRows) {
		// Another user's session, or one that ended since: the next look
		// tells (the lock is then free).
		h.visible, err = false, nil
	}
	return h, err
}

// heartbeat keeps the lock's connection busy every lockHeartbeat until ctx
// is done; when a statement fails, it marks the lock lost and stops.
func (lk *replayLock) heartbeat(ctx context.Context) {
	defer close(lk.done)
	tick := time.NewTicker(lockHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		hctx, cancel := context.WithTimeout(ctx, lockStaleAfter)
		_, err := lk.conn.ExecContext(hctx, "DO 1")
		cancel()
		if ctx.Err() != nil {
			return // stopped
		}
		if err != nil {
			lk.mu.Lock()
			lk.err = LockLostError{err}
			lk.mu.Unlock()
			close(lk.lost)
			return
		}
	}
}

// lostErr returns why the lock was lost, or nil.
func (lk *replayLock) lostErr() error {
	if lk == nil {
		return nil
	}
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return lk.err
}

// lostC returns a channel closed when the lock is lost (never, with no lock).
func (lk *replayLock) lostC() <-chan struct{} {
	if lk == nil {
		return nil
	}
	return lk.lost
}

// release stops the heartbeat, releases the lock and closes its
// connection. Called once, when the run ends (the workers' sessions are
// closed by then).
func (lk *replayLock) release() {
	if lk == nil {
		return
	}
	if lk.held {
		lk.stop()
		<-lk.done
		if lk.lostErr() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), lockHeartbeat)
			_, _ = lk.conn.ExecContext(ctx, fmt.Sprintf("DO RELEASE_LOCK(%s)", sqlgen.Quote(lockName)))
			cancel()
		}
	}
	lk.conn.Close()
	lk.db.Close()
}

// LockLost returns a channel closed when the connection holding the
// replay lock fails: the run no longer knows that no other run applies,
// and must stop (LockErr says why).
func (t *Target) LockLost() <-chan struct{} { return t.lock.lostC() }

// LockErr returns why the replay lock was lost (a *LockLostError), or nil.
func (t *Target) LockErr() error { return t.lock.lostErr() }
