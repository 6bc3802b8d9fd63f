package pipeline

import "testing"

// feed observes n groups of size txns each; chained says whether each
// depends on the group just before it.
func feed(s *groupSizer, next *uint64, n, txns int, chained bool) {
	for i := 0; i < n; i++ {
		g := &group{first: *next}
		if chained && *next > 1 {
			g.dependsOn = *next - 1
		}
		*next += uint64(txns)
		s.observe(g)
	}
}

func TestGroupSizerGrowsOnChainsAndShrinksWhenParallel(t *testing.T) {
	s := newGroupSizer(0)
	next := uint64(1)
	if got := s.maxTxns(); got != baseGroupTxns {
		t.Fatalf("initial limit %d, want %d", got, baseGroupTxns)
	}
	// One chain: the limit doubles every window up to the maximum.
	feed(s, &next, sizeWindow, s.maxTxns(), true)
	if got := s.maxTxns(); got != 2*baseGroupTxns {
		t.Fatalf("after one chained window: limit %d, want %d", got, 2*baseGroupTxns)
	}
	for i := 0; i < 10; i++ {
		feed(s, &next, sizeWindow, s.maxTxns(), true)
	}
	if got := s.maxTxns(); got != maxGroupTxns {
		t.Fatalf("after many chained windows: limit %d, want %d", got, maxGroupTxns)
	}
	// Groups that run side by side: it halves back to the base.
	feed(s, &next, sizeWindow, s.maxTxns(), false)
	if got := s.maxTxns(); got != maxGroupTxns/2 {
		t.Fatalf("after one parallel window: limit %d, want %d", got, maxGroupTxns/2)
	}
	for i := 0; i < 10; i++ {
		feed(s, &next, sizeWindow, s.maxTxns(), false)
	}
	if got := s.maxTxns(); got != baseGroupTxns {
		t.Fatalf("after many parallel windows: limit %d, want %d", got, baseGroupTxns)
	}
}

func TestGroupSizerHoldsInBetween(t *testing.T) {
	s := newGroupSizer(0)
	next := uint64(1)
	feed(s, &next, sizeWindow, 64, true)
	// 10 of 16 chained: neither nearly all nor under half.
	feed(s, &next, 10, 128, true)
	feed(s, &next, sizeWindow-10, 128, false)
	if got := s.maxTxns(); got != 128 {
		t.Fatalf("limit %d, want 128 kept", got)
	}
}

func TestGroupSizerFixed(t *testing.T) {
	s := newGroupSizer(16)
	next := uint64(1)
	feed(s, &next, 5*sizeWindow, 16, true)
	if got := s.maxTxns(); got != 16 {
		t.Fatalf("a configured size changed to %d", got)
	}
	if groupTxnsBound(16) != 16 || groupTxnsBound(0) != maxGroupTxns {
		t.Fatalf("groupTxnsBound: %d, %d", groupTxnsBound(16), groupTxnsBound(0))
	}
}
