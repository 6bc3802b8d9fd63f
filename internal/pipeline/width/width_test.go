package width

import "testing"

func TestWidth(t *testing.T) {
	type g struct{ last, dependsOn uint64 }
	for _, tc := range []struct {
		name   string
		groups []g
		want   float64
	}{
		{"serial", []g{{1, 0}, {2, 1}, {3, 2}, {4, 3}}, 1},
		{"independent", []g{{1, 0}, {2, 0}, {3, 0}, {4, 0}}, 4},
		// Groups {1,2} and {3,4} side by side, then {5} waits for 3,
		// so for {3,4}: 3 groups over a longest chain of 2.
		{"grouped", []g{{2, 0}, {4, 0}, {5, 3}}, 1.5},
		// A dependency on a ticket inside a group counts that group.
		{"mid-group", []g{{3, 0}, {6, 0}, {7, 2}, {8, 7}}, 4.0 / 3},
	} {
		var w Meter
		var got float64
		for _, x := range tc.groups {
			got = w.Add(x.last, x.dependsOn)
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestWidthWindow checks that dependencies on groups no longer kept still
// lengthen the chain.
func TestWidthWindow(t *testing.T) {
	var w Meter
	var got float64
	n := uint64(5 * widthWindow)
	for i := uint64(1); i <= n; i++ {
		got = w.Add(i, i-1) // serial
	}
	if got != 1 {
		t.Fatalf("serial through the window: %v, want 1", got)
	}
	for i := n + 1; i <= 2*n; i++ {
		got = w.Add(i, i/2) // waits for a long-gone group
	}
	if w.chain <= n || got >= 2 {
		t.Fatalf("chain %d, parallelism %v after depending on dropped groups", w.chain, got)
	}
}
