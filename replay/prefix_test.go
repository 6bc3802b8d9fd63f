package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/netdelay"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
)

// prefixLanes is how many independent tables the prefix workload spreads
// over: enough for every worker to have work. Runs of prefixRun
// consecutive transactions go to the same lane, the next run to the next
// lane: with groups of prefixRun transactions, consecutive groups are
// independent and commit out of order unless the replay orders them.
const (
	prefixLanes = 8
	prefixRun   = 8
)

// lane returns the lane of transaction i.
func lane(i int) int { return (i - 1) / prefixRun % prefixLanes }

// prefixWork returns a workload of n transactions, committed one after
// another by one session: transaction i inserts row i into table
// t<lane(i)> and records i as that lane's last row in
// prefix.lanes; with hot > 0, every hot-th also adds 1 to the hot row
// (prefix.hot): each group then waits for the one before it, and runs the
// transactions of its lane before its first hot one beside it (docs/
// design.md, "Head start"). Transactions of different lanes are independent, so a
// parallel replay runs them concurrently; a target holding a prefix of
// the source history holds rows 1..k and, for each lane, the largest of
// them in the lane.
func prefixWork(n, hot int) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		for i := 1; i <= n; i++ {
			lane := lane(i)
			stmts := []string{
				"BEGIN",
				fmt.Sprintf("INSERT INTO prefix.t%d VALUES (%d, REPEAT('x', %d))", lane, i, 20+i%50),
				fmt.Sprintf("UPDATE prefix.lanes SET last = %d WHERE lane = %d", i, lane),
				"COMMIT",
			}
			if hot > 0 && i%hot == 0 {
				stmts = slices.Insert(stmts, 3, "UPDATE prefix.hot SET n = n + 1 WHERE id = 1")
			}
			for _, s := range stmts {
				if _, err := conn.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("transaction %d: %s: %w", i, s, err)
				}
			}
		}
		return nil
	}
}

func prefixSetup(ctx context.Context, db *sql.DB) error {
	stmts := []string{"CREATE DATABASE prefix",
		"CREATE TABLE prefix.lanes (lane INT PRIMARY KEY, last INT NOT NULL)",
		"CREATE TABLE prefix.hot (id INT PRIMARY KEY, n INT NOT NULL)",
		"INSERT INTO prefix.hot VALUES (1, 0)"}
	for lane := range prefixLanes {
		stmts = append(stmts,
			fmt.Sprintf("CREATE TABLE prefix.t%d (id INT PRIMARY KEY, pad VARCHAR(100))", lane),
			fmt.Sprintf("INSERT INTO prefix.lanes VALUES (%d, 0)", lane))
	}
	return replaytest.ExecAll(ctx, db, stmts...)
}

// prefixSample is what one consistent snapshot of the target holds.
type prefixSample struct {
	ids     []int       // every row id, sorted
	lanes   map[int]int // lane -> last
	hot     int         // prefix.hot's count
	every   int         // the workload's hot: a prefix 1..k counts k/every
	applied int64       // checkpoint seq, -1 when the snapshot has no checkpoint
}

// takePrefixSample reads the target in one consistent snapshot.
//
// The target must write a binary log for the snapshot to be an oracle of
// commit order. InnoDB builds a read view by walking its lock-free hash
// of active transactions (trx_sys_t::snapshot_ids), which is not atomic:
// a walk that records transaction A as active, then reaches B's slot after
// A and then B have committed, sees B's rows and not A's, even when B's
// commit waited on the server for A's (MariaDB releases A's locks only
// after A leaves the hash). With a binary log, commits become visible
// under LOCK_commit_ordered, which START TRANSACTION WITH CONSISTENT
// SNAPSHOT also holds, so a snapshot falls between two commits. Durable
// state is a prefix either way: B's commit is logged after A's (InnoDB
// redo is written in order), which the kill-and-resume tests check.
func takePrefixSample(ctx context.Context, db *sql.DB, hot int) (prefixSample, error) {
	s := prefixSample{lanes: map[int]int{}, applied: -1, every: hot}
	conn, err := db.Conn(ctx)
	if err != nil {
		return s, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return s, err
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return s, err
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	var parts []string
	for lane := range prefixLanes {
		parts = append(parts, fmt.Sprintf("SELECT id FROM prefix.t%d", lane))
	}
	rows, err := conn.QueryContext(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return s, err
		}
		s.ids = append(s.ids, id)
	}
	if err := rows.Close(); err != nil {
		return s, err
	}
	sort.Ints(s.ids)
	rows, err = conn.QueryContext(ctx, "SELECT lane, last FROM prefix.lanes")
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var lane, last int
		if err := rows.Scan(&lane, &last); err != nil {
			rows.Close()
			return s, err
		}
		s.lanes[lane] = last
	}
	if err := rows.Close(); err != nil {
		return s, err
	}
	if err := conn.QueryRowContext(ctx, "SELECT n FROM prefix.hot").Scan(&s.hot); err != nil {
		return s, err
	}
	// The checkpoint table appears with the replay's first commit.
	err = conn.QueryRowContext(ctx, "SELECT seq FROM binlog_replay.checkpoint").Scan(&s.applied)
	if err != nil && !isNoTable(err) && err != sql.ErrNoRows {
		return s, err
	}
	return s, nil
}

// isNoTable reports whether err says the checkpoint table is not in the
// snapshot: missing, or created after the snapshot began (error 1412).
func isNoTable(err error) bool {
	for _, code := range []string{"Error 1146", "Error 1049", "Error 1412"} {
		if strings.Contains(err.Error(), code) {
			return true
		}
	}
	return false
}

// check returns why s is not a prefix of the source history, or "".
func (s prefixSample) check() string {
	k := len(s.ids)
	for i, id := range s.ids {
		if id != i+1 {
			return fmt.Sprintf("holds %d rows but row %d is missing (has %d at its place)", k, i+1, id)
		}
	}
	for l := range prefixLanes {
		want := 0
		for i := k; i >= 1; i-- {
			if lane(i) == l {
				want = i
				break
			}
		}
		if s.lanes[l] != want {
			return fmt.Sprintf("holds rows 1..%d, lane %d says last=%d, want %d", k, l, s.lanes[l], want)
		}
	}
	want := 0
	if s.every > 0 {
		want = k / s.every
	}
	if s.hot != want {
		return fmt.Sprintf("holds rows 1..%d, the hot row counts %d, want %d", k, s.hot, want)
	}
	// The replay creates its checkpoint before its first commit: a
	// snapshot without one holds no replayed row.
	if s.applied != int64(k) && !(s.applied < 0 && k == 0) {
		return fmt.Sprintf("holds rows 1..%d, the checkpoint says %d transactions applied", k, s.applied)
	}
	return ""
}

// TestCommitOrderPrefix replays independent transactions with 1, 2, 8 and
// 32 workers while another session samples the target in consistent
// snapshots: every sample must be a prefix of the source history (rows
// 1..k, each lane's last row, and a checkpoint saying k transactions), and
// the samples must never go back.
//
// The replay also runs through a proxy adding 2 ms of round trip, with
// commits chained on the server (the default) and kept in order by the
// client, so that many commits are in flight at once. And on a second
// workload, every fourth transaction also writes a hot row: groups then
// run their heads beside the group before them (docs/design.md, "Head
// start").
func TestCommitOrderPrefix(t *testing.T) {
	const n = 3000
	lanes := replaytest.New(t, "ROW", prefixSetup, prefixWork(n, 0))
	hot := replaytest.New(t, "ROW", prefixSetup, prefixWork(n, 4))
	for _, tc := range []struct {
		workers     int
		rtt         time.Duration
		clientOrder bool
		hot         int
	}{{1, 0, false, 0}, {2, 0, false, 0}, {8, 0, false, 0}, {32, 0, false, 0},
		{8, 2 * time.Millisecond, false, 0}, {32, 2 * time.Millisecond, false, 0}, {8, 2 * time.Millisecond, true, 0},
		{4, 0, false, 4}, {8, 2 * time.Millisecond, false, 4}, {8, 2 * time.Millisecond, true, 4}} {
		name := fmt.Sprint("workers=", tc.workers)
		if tc.rtt > 0 {
			name += fmt.Sprint(",rtt=", tc.rtt, ",client-order=", tc.clientOrder)
		}
		sc := lanes
		if tc.hot > 0 {
			name += fmt.Sprint(",hot=", tc.hot)
			sc = hot
		}
		t.Run(name, func(t *testing.T) {
			tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base, Binlog: true})
			db, err := tgt.Open(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			o := opts(tc.workers)
			o.Files, o.TargetDSN, o.Select.StartPosition, o.Recovery.Reconnect = sc.Files, tgt.DSN(""), sc.Start, 0
			o.Apply.GroupTxns = prefixRun // more commits: more moments to sample
			o.Apply.ClientCommitOrder = tc.clientOrder
			if tc.rtt > 0 {
				proxy, err := netdelay.Listen(context.Background(), fmt.Sprintf("127.0.0.1:%d", tgt.Port), tc.rtt)
				if err != nil {
					t.Fatal(err)
				}
				defer proxy.Close()
				o.TargetDSN = strings.Replace(tgt.TCPDSN(""), fmt.Sprintf(":%d)", tgt.Port), fmt.Sprintf(":%d)", proxy.Addr().Port), 1)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var (
				wg      sync.WaitGroup
				samples []prefixSample
				sampErr error
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					s, err := takePrefixSample(ctx, db, tc.hot)
					if err != nil {
						if ctx.Err() == nil {
							sampErr = err
						}
						return
					}
					samples = append(samples, s)
					time.Sleep(time.Millisecond)
				}
			}()
			sum, err := replay.Run(context.Background(), o, io.Discard)
			cancel()
			wg.Wait()
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			if sampErr != nil {
				t.Fatalf("sample: %v", sampErr)
			}
			if sum.Applied != n {
				t.Fatalf("applied %d transactions, want %d", sum.Applied, n)
			}
			// Over the proxy, commits are chained (in flight together)
			// unless the client keeps the order.
			if chained := sum.ChainedCommits > 0; tc.rtt > 0 && chained == tc.clientOrder {
				t.Fatalf("%d commits chained with client-order=%v", sum.ChainedCommits, tc.clientOrder)
			}
			// Groups start before the ones they depend on commit
			// (docs/design.md, "Early start") only with the order kept on
			// the server; with more workers than lanes, a group's
			// predecessor in its lane is still in flight when it starts.
			if early := sum.EarlyStarts > 0; early && tc.clientOrder || !early && !tc.clientOrder && tc.workers > prefixLanes {
				t.Fatalf("%d early starts with client-order=%v, %d workers", sum.EarlyStarts, tc.clientOrder, tc.workers)
			}
			// On the hot row, each group waits for the one before and runs
			// the transactions before its first hot one as its head, with
			// the order kept on the server; without it, no group waits for
			// the one just before (runs of prefixRun per lane).
			if heads := sum.HeadStarts > 0; heads != (tc.hot > 0 && !tc.clientOrder) {
				t.Fatalf("%d head starts with client-order=%v, %d workers", sum.HeadStarts, tc.clientOrder, tc.workers)
			}
			final, err := takePrefixSample(context.Background(), db, tc.hot)
			if err != nil {
				t.Fatal(err)
			}
			samples = append(samples, final)
			if len(final.ids) != n {
				t.Fatalf("the target holds %d rows at the end, want %d", len(final.ids), n)
			}
			distinct, prev := 0, -1
			for i, s := range samples {
				if msg := s.check(); msg != "" {
					t.Fatalf("sample %d of %d is not a prefix of the source: %s", i+1, len(samples), msg)
				}
				if len(s.ids) < prev {
					t.Fatalf("sample %d holds %d rows, an earlier one %d", i+1, len(s.ids), prev)
				}
				if len(s.ids) != prev {
					distinct++
				}
				prev = len(s.ids)
			}
			// The test proves something only if it saw the target mid-way.
			if distinct < 5 {
				t.Fatalf("only %d distinct states in %d samples: the replay went too fast to sample", distinct, len(samples))
			}
			t.Logf("%d samples, %d distinct prefixes, all consistent; %d commits chained, %d early starts, %d head starts",
				len(samples), distinct, sum.ChainedCommits, sum.EarlyStarts, sum.HeadStarts)
			replaytest.RequireEqual(t, db, sc.SourceDB, "prefix")
		})
	}
}
