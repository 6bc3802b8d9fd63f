// Package sequencer orders the commits of the groups the pipeline's
// workers apply concurrently: each group commits in its turn, in source
// order, and a group that needs an earlier pending group's locks can have
// the later ones roll back (see Sequencer).
package sequencer

import (
	"context"
	"slices"
	"sync"
)

// Sequencer orders the commits of concurrently applied groups.
//
// Every group of source transactions handed to a worker gets a contiguous
// range of tickets [first, last], numbered from 1 in source order, and a
// dependsOn ticket: the last ticket that must be committed before the group
// may even start (its body would touch rows an earlier uncommitted
// transaction also touches). A group:
//
//  1. waits until committed >= dependsOn, then runs its body on its own
//     connection inside one target transaction;
//  2. waits until committed == first-1 (its turn), then writes the
//     checkpoint and commits;
//  3. calls Done(last), which wakes the next in line.
//
// With chained commits (target/turns.go), step 2 also ends when the group
// before has sent its COMMIT (Sending): the group then sends its own,
// chained on it, and the server holds it until the one before commits.
//
// Worked example, 3 workers, groups in source order:
//
//	group  tickets  dependsOn  (why)
//	A      1..2     0          first
//	B      3..3     0          disjoint keys from A
//	C      4..5     2          shares a key with ticket 2 (in A)
//
// A and B run their bodies at once; C waits for A's commit. B finishes its
// body first but waits for its turn (committed == 2). A commits
// (committed = 2): B may commit and C may start. B commits (committed = 3),
// C runs and commits (committed = 5). The target only ever holds a prefix of
// the source history: after A, after A+B, after A+B+C.
//
// Early start (chained commits only): a group may also start once every
// ticket up to dependsOn is committed or belongs to a group that has run
// its body (Ran) and holds its locks until it commits: the server's row
// locks then hold the later group's statements until the earlier one
// commits, and it sees its rows (WaitRan). Should such an earlier group
// roll back instead (RolledBack), the later one ran on rows it may not
// see again: RanSince tells it to roll back and run again.
//
// Commit-order deadlock: B may hold a lock (a gap lock, a unique check) that
// A's body needs while B waits for its turn; InnoDB sees no cycle and A's
// lock wait times out. The worker of the earliest pending group (A) then
// calls AbortLater: every group waiting for its turn with a later ticket
// rolls back and waits for A to commit before it runs its body again, and A
// retries. Commits are never reordered.
type Sequencer struct {
	mu        sync.Mutex
	committed uint64
	// abortGen counts AbortLater calls; abortFrom is the ticket of the group
	// that asked (groups after it must roll back).
	abortGen  uint64
	abortFrom uint64
	// sentFirst..sentLast is the latest group that sent its COMMIT.
	sentFirst, sentLast uint64
	// ran holds the groups not committed that have run their bodies, by
	// first ticket: their last ticket. rerunGen counts the rollbacks of
	// such groups; reruns are the latest (see RanSince).
	ran      map[uint64]uint64
	rerunGen uint64
	reruns   []rerun
	changed  chan struct{} // closed and replaced on every state change
	failed   error
}

// rerun records that the group starting at first rolled back after it had
// run its body; gen is rerunGen after it.
type rerun struct{ gen, first uint64 }

// maxReruns bounds the rollbacks remembered: a group that started early
// before the oldest one remembered runs again (RanSince).
const maxReruns = 256

// New returns a sequencer whose tickets up to committed count as committed.
func New(committed uint64) *Sequencer {
	return &Sequencer{committed: committed, changed: make(chan struct{}), ran: map[uint64]uint64{}}
}

// notifyLocked wakes every waiter. s.mu must be held.
func (s *Sequencer) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) is true, ctx is done or
// the sequencer failed.
func (s *Sequencer) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if s.failed != nil {
			err := s.failed
			s.mu.Unlock()
			return err
		}
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitCommitted blocks until every ticket up to n is committed.
func (s *Sequencer) WaitCommitted(ctx context.Context, n uint64) error {
	return s.waitFor(ctx, func() bool { return s.committed >= n })
}

// ErrAborted tells a group waiting for its turn that an earlier group needs
// its locks: roll back and run the body again after that group commits.
type ErrAborted struct{ Until uint64 }

// Error implements error.
func (e ErrAborted) Error() string { return "rolled back to let an earlier transaction commit" }

// WaitTurn blocks until the group starting at first may commit. It returns
// errAborted when an earlier group asked later ones to roll back after
// this group started waiting (gen is the abort generation seen when its
// body started). With chain, it also returns when the group before has
// sent its COMMIT, with that group's first ticket (after): the COMMIT must
// then be chained on it. after is 0 when every ticket before first is
// committed.
func (s *Sequencer) WaitTurn(ctx context.Context, first, gen uint64, chain bool) (after uint64, err error) {
	var aborted *ErrAborted
	err = s.waitFor(ctx, func() bool {
		switch {
		case s.committed == first-1:
			return true
		case s.abortGen != gen && s.committed < first-1:
			aborted = &ErrAborted{Until: s.abortFrom}
			return true
		case chain && s.sentLast == first-1:
			after = s.sentFirst
			return true
		}
		return false
	})
	if err != nil {
		return 0, err
	}
	if aborted != nil {
		return 0, *aborted
	}
	return after, nil
}

// Sending records that the group of tickets first..last sends its COMMIT:
// the group after it may send its own, chained.
func (s *Sequencer) Sending(first, last uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last > s.sentLast {
		s.sentFirst, s.sentLast = first, last
		s.notifyLocked()
	}
}

// Generation returns the current abort generation.
func (s *Sequencer) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abortGen
}

// AbortLater makes every group that waits for its turn, other than the
// earliest pending one (the caller, whose first ticket is first), roll back
// (see the type's comment).
func (s *Sequencer) AbortLater(first uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abortGen++
	s.abortFrom = first
	s.notifyLocked()
}

// Done marks every ticket up to last as committed.
func (s *Sequencer) Done(last uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last > s.committed {
		s.committed = last
	}
	for first := range s.ran {
		if first <= s.committed {
			delete(s.ran, first)
		}
	}
	s.notifyLocked()
}

// Ran records that the group of tickets first..last has run its body and
// holds its locks until it commits or rolls back.
func (s *Sequencer) Ran(first, last uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if first > s.committed {
		s.ran[first] = last
		s.notifyLocked()
	}
}

// RolledBack records that the group starting at first rolled back: if it
// had run its body, the groups that started on it must run again
// (RanSince).
func (s *Sequencer) RolledBack(first uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ran[first]; !ok {
		return
	}
	delete(s.ran, first)
	s.rerunGen++
	s.reruns = append(s.reruns, rerun{gen: s.rerunGen, first: first})
	if len(s.reruns) > maxReruns {
		s.reruns = slices.Delete(s.reruns, 0, len(s.reruns)-maxReruns/2)
	}
	s.notifyLocked()
}

// ranUpToLocked reports whether every ticket up to n is committed or in a
// group that has run its body. s.mu must be held.
func (s *Sequencer) ranUpToLocked(n uint64) bool {
	t := s.committed
	for t < n {
		last, ok := s.ran[t+1]
		if !ok {
			return false
		}
		t = last
	}
	return true
}

// RanUpTo reports whether every ticket up to n is committed or in a group
// that has run its body (Ran).
func (s *Sequencer) RanUpTo(n uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ranUpToLocked(n)
}

// WaitRan blocks until every ticket up to n is committed or in a group
// that has run its body (Ran). It returns the rerun generation to give
// RanSince, and whether every ticket up to n was committed (the group
// then did not start early).
func (s *Sequencer) WaitRan(ctx context.Context, n uint64) (gen uint64, committed bool, err error) {
	err = s.waitFor(ctx, func() bool {
		if !s.ranUpToLocked(n) {
			return false
		}
		gen, committed = s.rerunGen, s.committed >= n
		return true
	})
	return gen, committed, err
}

// WaitRanOrAbort is WaitRan for a group that has run part of its body
// (the pipeline's head start) and holds locks while it waits: it also
// returns ErrAborted, as WaitTurn does, when an earlier group asked later
// ones to roll back (AbortLater) after the abort generation gen. (While
// a ticket before it has not run, the group is not the earliest pending
// one, which asks.)
func (s *Sequencer) WaitRanOrAbort(ctx context.Context, n, gen uint64) error {
	var aborted *ErrAborted
	err := s.waitFor(ctx, func() bool {
		switch {
		case s.ranUpToLocked(n):
			return true
		case s.abortGen != gen:
			aborted = &ErrAborted{Until: s.abortFrom}
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	if aborted != nil {
		return *aborted
	}
	return nil
}

// RanSince reports whether no group with a ticket up to n has rolled back
// after running its body since WaitRan returned gen: if one has, a group
// that started on it ran on rows it may not see again, and must roll back.
func (s *Sequencer) RanSince(gen, n uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == s.rerunGen {
		return true
	}
	if len(s.reruns) == 0 || s.reruns[0].gen > gen+1 {
		return false // forgotten: assume the worst
	}
	for _, r := range s.reruns {
		if r.gen > gen && r.first <= n {
			return false
		}
	}
	return true
}

// Fail wakes every waiter with err; later waits return it at once.
func (s *Sequencer) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = err
		s.notifyLocked()
	}
}

// Progress returns the last committed ticket and a channel closed at the
// next change of the sequencer's state.
func (s *Sequencer) Progress() (uint64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed, s.changed
}

// CommittedUpTo returns the last committed ticket.
func (s *Sequencer) CommittedUpTo() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}
