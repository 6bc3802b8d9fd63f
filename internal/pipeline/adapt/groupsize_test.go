package adapt

import "testing"

// feed observes n groups of size txns each; chained says whether each
// depends on the group just before it.
func feed(s *GroupSizer, next *uint64, n, txns int, chained bool) {
	for i := 0; i < n; i++ {
		first, dependsOn := *next, uint64(0)
		if chained && *next > 1 {
			dependsOn = *next - 1
		}
		*next += uint64(txns)
		s.Observe(first, dependsOn)
	}
}

func TestGroupSizerGrowsOnChainsAndShrinksWhenParallel(t *testing.T) {
	s := NewGroupSizer(0)
	next := uint64(1)
	if got := s.MaxTxns(); got != baseGroupTxns {
		t.Fatalf("initial limit %d, want %d", got, baseGroupTxns)
	}
	// One chain: the limit doubles every window up to the maximum.
	feed(s, &next, sizeWindow, s.MaxTxns(), true)
	if got := s.MaxTxns(); got != 2*baseGroupTxns {
		t.Fatalf("after one chained window: limit %d, want %d", got, 2*baseGroupTxns)
	}
	for i := 0; i < 10; i++ {
		feed(s, &next, sizeWindow, s.MaxTxns(), true)
	}
	if got := s.MaxTxns(); got != maxGroupTxns {
		t.Fatalf("after many chained windows: limit %d, want %d", got, maxGroupTxns)
	}
	// Groups that run side by side: it halves back to the base.
	feed(s, &next, sizeWindow, s.MaxTxns(), false)
	if got := s.MaxTxns(); got != maxGroupTxns/2 {
		t.Fatalf("after one parallel window: limit %d, want %d", got, maxGroupTxns/2)
	}
	for i := 0; i < 10; i++ {
		feed(s, &next, sizeWindow, s.MaxTxns(), false)
	}
	if got := s.MaxTxns(); got != baseGroupTxns {
		t.Fatalf("after many parallel windows: limit %d, want %d", got, baseGroupTxns)
	}
}

func TestGroupSizerHoldsInBetween(t *testing.T) {
	s := NewGroupSizer(0)
	next := uint64(1)
	feed(s, &next, sizeWindow, 64, true)
	// 10 of 16 chained: neither nearly all nor under half.
	feed(s, &next, 10, 128, true)
	feed(s, &next, sizeWindow-10, 128, false)
	if got := s.MaxTxns(); got != 128 {
		t.Fatalf("limit %d, want 128 kept", got)
	}
}

func TestGroupSizerFixed(t *testing.T) {
	s := NewGroupSizer(16)
	next := uint64(1)
	feed(s, &next, 5*sizeWindow, 16, true)
	if got := s.MaxTxns(); got != 16 {
		t.Fatalf("a configured size changed to %d", got)
	}
	if GroupTxnsBound(16) != 16 || GroupTxnsBound(0) != maxGroupTxns {
		t.Fatalf("groupTxnsBound: %d, %d", GroupTxnsBound(16), GroupTxnsBound(0))
	}
}
