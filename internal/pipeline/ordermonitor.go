package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A commit-order deadlock (see sequencer) shows on the target only as a
// lock wait of the earliest pending group: InnoDB sees no cycle, because the
// later group holding the lock waits in this process, not in the server.
// Waiting for innodb_lock_wait_timeout to end it costs seconds each time;
// the order monitor ends it in about a tenth of a second instead. While a
// later group waits for its turn to commit and the earliest pending group
// has been running its body for a while, it asks the target whether any
// transaction is in a lock wait (other than the early bodies, which wait
// on purpose for the groups they depend on to commit), and if so makes the
// later groups roll back
// (Sequencer.AbortLater): their locks go, the earliest group's statement
// continues, and they run again after it commits. Commits are never
// reordered. At worst a wrong guess (the lock wait was another one) makes
// the waiting groups run their bodies again.
//
// It cannot ask which session waits: MariaDB 10.11 reports the lock waits
// of BINLOG statements under another session's id in
// information_schema.INNODB_TRX (seen on the unique-key churn workload:
// the session running the statement listed as RUNNING, a session idle in
// its transaction as LOCK WAIT). Without the PROCESS privilege the monitor
// stops, and lock wait timeouts resolve commit-order deadlocks as before.

// Order monitor timing: how often it looks, how long the earliest group's
// body must have run before the target is asked, and how long after an
// abort it waits before aborting again for the same group, and how old
// the target's view of lock waits may be.
const (
	monitorTick      = 5 * time.Millisecond
	monitorPatience  = 10 * time.Millisecond
	monitorReabortIn = 50 * time.Millisecond
	monitorViewAge   = 120 * time.Millisecond
)

// bodies records which groups are running their bodies, since when.
type bodies struct {
	mu      sync.Mutex
	running map[uint64]body // by the group's first ticket
}

// body is a group running its body: since when, and, for an early start
// (worker.go), the ticket it waits for without having waited.
type body struct {
	since time.Time
	early uint64
}

// start records that the group starting at first runs its body; early,
// when not 0, is the ticket it depends on, not committed when it started.
func (b *bodies) start(first, early uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		b.running = map[uint64]body{}
	}
	b.running[first] = body{since: time.Now(), early: early}
}

func (b *bodies) end(first uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.running, first)
}

// since returns when the group starting at first began its body, if it is
// running it.
func (b *bodies) since(first uint64) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bd, ok := b.running[first]
	return bd.since, ok
}

// waitingOn counts the bodies that started early on a ticket not yet
// committed (committed is the last ticket committed): they may wait on
// purpose for its group's commit.
func (b *bodies) waitingOn(committed uint64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, bd := range b.running {
		if bd.early > committed {
			n++
		}
	}
	return n
}

// monitorOrder runs the order monitor until ctx is done.
func (p *Pipeline) monitorOrder(ctx context.Context) {
	tick := time.NewTicker(monitorTick)
	defer tick.Stop()
	var lastTicket uint64
	var lastAbort time.Time
	// early holds the count of early bodies waiting on purpose at the
	// latest ticks (bodies.waitingOn): the
	// target's view of lock waits may be that old (target.LockWaits).
	var early [monitorViewAge / monitorTick]int64
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		early[i%len(early)] = p.bodies.waitingOn(p.seq.CommittedUpTo())
		if p.counts.waiting.Load() == 0 {
			continue
		}
		earliest := p.seq.CommittedUpTo() + 1
		since, ok := p.bodies.since(earliest)
		if !ok || time.Since(since) < monitorPatience {
			continue
		}
		if earliest == lastTicket && time.Since(lastAbort) < monitorReabortIn {
			continue
		}
		// Early bodies (worker.go) may wait on purpose, for the commit
		// of a group they depend on: only more waits than there were
		// such bodies tell of a commit-order deadlock. One whose groups
		// have committed is no longer one: it waits for a later group.
		waits, err := p.deps.Target.LockWaits(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.logf("commit-order monitor stopped (lock waits will be resolved by innodb_lock_wait_timeout instead): %v", err)
			}
			return
		}
		if int64(waits) > slices.Max(early[:]) {
			// Counted first: the abort lets the run end, and its
			// summary must include it.
			p.counts.orderAborts.Add(1)
			p.seq.AbortLater(earliest)
			lastTicket, lastAbort = earliest, time.Now()
		}
	}
}
