package sequencer

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestSequencerCommitsInOrder runs many groups on several goroutines with
// random body durations and checks that commits happen strictly in ticket
// order and that no group starts before what it depends on committed.
func TestSequencerCommitsInOrder(t *testing.T) {
	const groups = 400
	s := New(0)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	deps := make([]uint64, groups+1)
	delays := make([]time.Duration, groups+1)
	for i := uint64(1); i <= groups; i++ {
		deps[i] = rng.Uint64N(i) // any earlier ticket, or 0
		delays[i] = time.Duration(rng.IntN(200)) * time.Microsecond
	}
	var (
		mu    sync.Mutex
		order []uint64
	)
	work := make(chan uint64)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ticket := range work {
				if err := s.WaitCommitted(ctx, deps[ticket]); err != nil {
					t.Error(err)
					return
				}
				if got := s.CommittedUpTo(); got < deps[ticket] {
					t.Errorf("ticket %d started with %d committed, depends on %d", ticket, got, deps[ticket])
				}
				time.Sleep(delays[ticket])
				if _, err := s.WaitTurn(ctx, ticket, s.Generation(), false); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, ticket)
				mu.Unlock()
				s.Done(ticket)
			}
		}()
	}
	for i := uint64(1); i <= groups; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(order) != groups {
		t.Fatalf("committed %d groups, want %d", len(order), groups)
	}
	for i, ticket := range order {
		if ticket != uint64(i+1) {
			t.Fatalf("commit %d was ticket %d: commits out of order", i+1, ticket)
		}
	}
}

// TestSequencerAbortLater checks that a group waiting for its turn is told
// to roll back when the earliest pending group asks, and the earliest is not.
func TestSequencerAbortLater(t *testing.T) {
	s := New(4) // tickets 1..4 committed; 5 is the earliest pending
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gen := s.Generation()
	got := make(chan error, 1)
	go func() { _, err := s.WaitTurn(ctx, 7, gen, false); got <- err }() // group 7 waits for 5 and 6
	time.Sleep(20 * time.Millisecond)
	s.AbortLater(5)
	err := <-got
	var ab ErrAborted
	if !errors.As(err, &ab) || ab.Until != 5 {
		t.Fatalf("waitTurn(7) after abortLater(5) = %v, want errAborted{until: 5}", err)
	}
	// The earliest pending group itself is never aborted: it is its turn.
	if _, err := s.WaitTurn(ctx, 5, gen, false); err != nil {
		t.Fatalf("waitTurn(5) = %v, want nil", err)
	}
}

// TestSequencerChain: with chained commits, a group may send its COMMIT
// once the group just before it sent its own, chained on that group; not
// earlier, and not on another group.
func TestSequencerChain(t *testing.T) {
	s := New(4) // 1..4 committed; groups 5..6 and 7..9 pending
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type turn struct {
		after uint64
		err   error
	}
	got := make(chan turn, 1)
	go func() { after, err := s.WaitTurn(ctx, 7, s.Generation(), true); got <- turn{after, err} }()
	time.Sleep(20 * time.Millisecond)
	s.Sending(3, 4) // an older group: not the one 7 follows
	select {
	case tu := <-got:
		t.Fatalf("group 7 got its turn (%+v) before group 5..6 sent its COMMIT", tu)
	case <-time.After(20 * time.Millisecond):
	}
	s.Sending(5, 6)
	if tu := <-got; tu.err != nil || tu.after != 5 {
		t.Fatalf("group 7 after 5..6 sent: %+v, want chained on 5", tu)
	}
	// Without chaining, the COMMIT sent is not enough.
	go func() { after, err := s.WaitTurn(ctx, 7, s.Generation(), false); got <- turn{after, err} }()
	select {
	case tu := <-got:
		t.Fatalf("unchained group 7 got its turn (%+v) before 6 committed", tu)
	case <-time.After(20 * time.Millisecond):
	}
	s.Done(6)
	if tu := <-got; tu.err != nil || tu.after != 0 {
		t.Fatalf("group 7 after 6 committed: %+v, want its turn, not chained", tu)
	}
}

// TestSequencerFail wakes waiters with the failure.
func TestSequencerFail(t *testing.T) {
	s := New(0)
	boom := errors.New("boom")
	got := make(chan error, 1)
	go func() { got <- s.WaitCommitted(context.Background(), 10) }()
	time.Sleep(10 * time.Millisecond)
	s.Fail(boom)
	if err := <-got; !errors.Is(err, boom) {
		t.Fatalf("waitCommitted after fail = %v, want %v", err, boom)
	}
}

// TestSequencerEarlyStart: a group may start once every ticket before
// the one it depends on is committed or in a group that has run its body;
// a rollback of such a group tells the groups that started on it to run
// again, and only those.
func TestSequencerEarlyStart(t *testing.T) {
	s := New(2) // 1..2 committed; groups 3..4, 5..5 and 6..8 pending
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type started struct {
		gen       uint64
		committed bool
		err       error
	}
	got := make(chan started, 1)
	go func() { gen, committed, err := s.WaitRan(ctx, 5); got <- started{gen, committed, err} }()
	s.Ran(5, 5) // not enough: 3..4 has not run
	select {
	case st := <-got:
		t.Fatalf("a group depending on 5 started (%+v) before 3..4 ran its body", st)
	case <-time.After(20 * time.Millisecond):
	}
	s.Ran(3, 4)
	st := <-got
	if st.err != nil || st.committed {
		t.Fatalf("after 3..4 and 5 ran: %+v, want an early start", st)
	}
	if !s.RanSince(st.gen, 5) {
		t.Fatal("RanSince without a rollback: false")
	}
	s.RolledBack(9) // never ran: nothing to tell
	s.RolledBack(6)
	if !s.RanSince(st.gen, 5) {
		t.Fatal("a group depending on 5 told to run again after a rollback of nothing it started on")
	}
	s.Ran(6, 8)
	s.RolledBack(6) // ran, but after 5
	if !s.RanSince(st.gen, 5) {
		t.Fatal("a group depending on 5 told to run again after 6..8 rolled back")
	}
	s.RolledBack(5)
	if s.RanSince(st.gen, 5) || !s.RanSince(st.gen, 4) {
		t.Fatal("after 5 rolled back: a group depending on 5 must run again, one depending on 4 need not")
	}
	if s.RanUpTo(5) {
		t.Fatal("5 rolled back, yet every ticket up to 5 counts as run")
	}
	s.Done(4)
	if !s.RanUpTo(4) || s.RanUpTo(5) {
		t.Fatal("after 3..4 committed: RanUpTo(4) must hold, RanUpTo(5) not")
	}
	if _, committed, err := s.WaitRan(ctx, 4); err != nil || !committed {
		t.Fatalf("WaitRan(4) after 4 committed: committed %v, %v", committed, err)
	}
	// A rollback of a group that committed-and-was-forgotten is not one.
	s.RolledBack(3)
	if gen, _, _ := s.WaitRan(ctx, 4); !s.RanSince(gen, 8) {
		t.Fatal("RanSince after the rollback of a committed group: false")
	}
}

// TestSequencerForgetsReruns: a group that started before the oldest
// rollback remembered is told to run again.
func TestSequencerForgetsReruns(t *testing.T) {
	s := New(0)
	s.Ran(1, 1)
	gen, _, err := s.WaitRan(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(maxReruns + 1) {
		s.Ran(100+i, 100+i)
		s.RolledBack(100 + i)
	}
	if s.RanSince(gen, 1) {
		t.Fatal("RanSince after the rollbacks since were forgotten: true")
	}
}

// TestSequencerWaitRanOrAbort: the wait of a group that has run part of
// its body ends once the groups it waits for have run theirs, or with
// ErrAborted when an earlier group asks later ones to roll back, and not
// for an abort asked before it began (its generation).
func TestSequencerWaitRanOrAbort(t *testing.T) {
	ctx := context.Background()
	s := New(0)
	gen := s.Generation()
	done := make(chan error, 1)
	go func() { done <- s.WaitRanOrAbort(ctx, 4, gen) }()
	s.Ran(1, 2)
	select {
	case err := <-done:
		t.Fatalf("returned %v before tickets 3-4 ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	s.Ran(3, 4)
	if err := <-done; err != nil {
		t.Fatalf("after 1-4 ran: %v", err)
	}

	go func() { done <- s.WaitRanOrAbort(ctx, 6, gen) }()
	s.AbortLater(5)
	err := <-done
	if a, ok := err.(ErrAborted); !ok || a.Until != 5 {
		t.Fatalf("after AbortLater(5): %v, want ErrAborted{5}", err)
	}

	// An abort of an earlier generation is not for it.
	gen = s.Generation()
	s.Done(6)
	go func() { done <- s.WaitRanOrAbort(ctx, 8, gen) }()
	s.Ran(7, 8)
	if err := <-done; err != nil {
		t.Fatalf("with an abort of an earlier generation: %v", err)
	}
}
