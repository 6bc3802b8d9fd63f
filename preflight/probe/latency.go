package probe

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Latency summarises timed round trips, in milliseconds.
type Latency struct {
	Samples  int     `json:"samples"`
	MedianMs float64 `json:"median_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// Ratio is the p99 over the median: how erratic the latencies are.
func (l Latency) Ratio() float64 {
	if l.MedianMs <= 0 {
		return 0
	}
	return l.P99Ms / l.MedianMs
}

// Summarise returns the latency of the durations ds.
func Summarise(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p99 := s[min(len(s)-1, (len(s)*99+99)/100-1)]
	return Latency{Samples: len(s), MedianMs: ms(s[len(s)/2]), P99Ms: ms(p99), MaxMs: ms(s[len(s)-1])}
}

// CommitProbe times round trips (DO 1) and n small commits (one row
// updated, autocommit) on the scratch table, with the target's own
// durability settings.
func CommitProbe(ctx context.Context, sc *Scratch, n int) (rtt, commit Latency, local bool, err error) {
	conn, err := sc.conn(ctx)
	if err != nil {
		return rtt, commit, false, err
	}
	defer conn.Close()
	table, bare := sc.table("commit")
	if _, err := conn.ExecContext(ctx, "CREATE TABLE "+table+" (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"); err != nil {
		return rtt, commit, false, fmt.Errorf("create the probe's table: %w", err)
	}
	var datadir string
	if err := conn.QueryRowContext(ctx, "SELECT @@datadir").Scan(&datadir); err == nil {
		local = sc.localFile(datadir, bare)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION autocommit=1"); err != nil {
		return rtt, commit, local, fmt.Errorf("probe session: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1, 0)"); err != nil {
		return rtt, commit, local, fmt.Errorf("probe's first row: %w", err)
	}
	rounds := max(n/5, 20)
	var ds []time.Duration
	for i := 0; i < rounds+5; i++ {
		t0 := time.Now()
		if _, err := conn.ExecContext(ctx, "DO 1"); err != nil {
			return rtt, commit, local, fmt.Errorf("time a round trip: %w", err)
		}
		if i >= 5 {
			ds = append(ds, time.Since(t0))
		}
	}
	rtt = Summarise(ds)
	ds = ds[:0]
	update := "UPDATE " + table + " SET n = n + 1 WHERE id = 1"
	for i := 0; i < n+10; i++ {
		t0 := time.Now()
		if _, err := conn.ExecContext(ctx, update); err != nil {
			return rtt, commit, local, fmt.Errorf("time a commit: %w", err)
		}
		if i >= 10 { // the first ones warm up
			ds = append(ds, time.Since(t0))
		}
	}
	return rtt, Summarise(ds), local, nil
}
