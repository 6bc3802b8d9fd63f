package pipeline

import (
	"context"
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
// transaction is in a lock wait, and if so makes the later groups roll back
// (Sequencer.AbortLater): their locks go, the earliest group's statement
// continues, and they run again after it commits. Commits are never
// reordered. At worst a wrong guess (the lock wait was another one) makes
// the waiting groups run their bodies again.
//
// A group started early (worker.go, Pipeline.earlyStart) waits on the
// target on purpose, for the groups it depends on to commit. It starts
// only once every group up to those has run its body, the earliest
// pending group among them, so none waits on purpose while the earliest
// runs its body, when the monitor looks. Should the earliest roll back and
// run its body again, a group that started on it must run again anyway
// (Sequencer.RanSince), and the monitor makes it roll back.
//
// It cannot ask which session waits: MariaDB 10.11 reports the lock waits
// of BINLOG statements under another session's id in
// information_schema.INNODB_TRX (seen on the unique-key churn workload:
// the session running the statement listed as RUNNING, a session idle in
// its transaction as LOCK WAIT). Without the PROCESS privilege the monitor
// stops, and lock wait timeouts resolve commit-order deadlocks as before.

// Order monitor timing: how often it looks, how long the earliest group's
// body must have run before the target is asked, and how long after an
// abort it waits before aborting again for the same group.
const (
	monitorTick      = 5 * time.Millisecond
	monitorPatience  = 10 * time.Millisecond
	monitorReabortIn = 50 * time.Millisecond
)

// bodies records which groups are running their bodies, since when.
type bodies struct {
	mu      sync.Mutex
	running map[uint64]time.Time // by the group's first ticket
}

func (b *bodies) start(first uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		b.running = map[uint64]time.Time{}
	}
	b.running[first] = time.Now()
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
	t, ok := b.running[first]
	return t, ok
}

// monitorOrder runs the order monitor until ctx is done.
func (p *Pipeline) monitorOrder(ctx context.Context) {
	tick := time.NewTicker(monitorTick)
	defer tick.Stop()
	var lastTicket uint64
	var lastAbort time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
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
		waiting, err := p.deps.Target.LockWaiting(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.logf("commit-order monitor stopped (lock waits will be resolved by innodb_lock_wait_timeout instead): %v", err)
			}
			return
		}
		if waiting {
			// Counted first: the abort lets the run end, and its
			// summary must include it.
			p.counts.orderAborts.Add(1)
			p.seq.AbortLater(earliest)
			lastTicket, lastAbort = earliest, time.Now()
		}
	}
}
