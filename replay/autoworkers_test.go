package replay

import (
	"testing"
	"time"
)

// TestAutoWorkers: twice the processors locally (4 to 16), one more per
// 250 µs of round trip from 200 µs on, at most 32.
func TestAutoWorkers(t *testing.T) {
	for _, c := range []struct {
		cpus int
		rtt  time.Duration
		want int
	}{
		{1, 0, 4},
		{2, 50 * time.Microsecond, 4},
		{4, 199 * time.Microsecond, 8},
		{16, 0, 16},
		{2, 250 * time.Microsecond, 5},
		{2, time.Millisecond, 8},
		{2, 5 * time.Millisecond, 24},
		{8, 5 * time.Millisecond, 32},
		{2, time.Second, 32},
	} {
		if got := AutoWorkers(c.cpus, c.rtt); got != c.want {
			t.Errorf("AutoWorkers(%d, %s) = %d, want %d", c.cpus, c.rtt, got, c.want)
		}
	}
}
