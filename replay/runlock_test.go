package replay_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
)

// delayProxy forwards MySQL protocol connections to a server, holding each
// packet from the client for a while: a distant target, so that a replay
// lasts long enough for a test to act while it runs.
type delayProxy struct {
	ln    net.Listener
	delay time.Duration

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// newDelayProxy starts a proxy to tgt and returns the DSN that reaches tgt
// through it.
func newDelayProxy(t *testing.T, tgt *sandbox.Server, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, delay: delay}
	server := fmt.Sprintf("127.0.0.1:%d", tgt.Port)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", server)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				io.Copy(c, s)
			}()
			go func() {
				defer p.wg.Done()
				defer s.Close()
				p.forward(c, s)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), 1)
}

// forward copies the client's packets to the server, each after the delay.
func (p *delayProxy) forward(c, s net.Conn) {
	for {
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
		packet := make([]byte, 4+n)
		copy(packet, head[:])
		if _, err := io.ReadFull(c, packet[4:]); err != nil {
			return
		}
		time.Sleep(p.delay)
		if _, err := s.Write(packet); err != nil {
			return
		}
	}
}

// replayResult is what a replay run in the background returned.
type replayResult struct {
	sum *replay.Summary
	err error
	log string
}

// TestSecondRunRefusedWhileFirstRuns starts a second replay on a target
// while a first one is applying to it (another terminal, a service
// restarted while the old process lives): without --resume and with it,
// the second run must be refused within seconds, naming the first run's
// session holding the target's replay lock, before it ends or writes
// anything; the first run must finish unaffected (never losing the
// target, no retries) with the target equal to the source. Without the
// lock, the run without --resume is refused only for the checkpoint, and
// the resuming run ends the first run's idle sessions (they look like a
// lost run's) and applies the same binlogs alongside it.
func TestSecondRunRefusedWhileFirstRuns(t *testing.T) {
	ctx := context.Background()
	sc := counterScenario(t, 500)
	total := len(scenarioTxns(t, sc))
	tgt, db := sc.Target(t)
	first := opts(2)
	first.Apply.GroupTxns = 1
	first.Files, first.Select.StartPosition = sc.Files, sc.Start
	first.TargetDSN = newDelayProxy(t, tgt, 5*time.Millisecond) // about 10 s for the 1000 transactions
	done := make(chan replayResult, 1)
	go func() {
		var log strings.Builder
		sum, err := replay.Run(ctx, first, &log)
		done <- replayResult{sum, err, log.String()}
	}()
	running := func() {
		t.Helper()
		select {
		case res := <-done:
			t.Fatalf("the first run ended (%v) before the second was refused: make the workload bigger\nlog:\n%s", res.err, res.log)
		default:
		}
	}
	// Wait until the first run applies.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		running()
		if time.Now().After(deadline) {
			t.Fatal("the first run applied nothing in 30 s")
		}
		if cp, err := replay.ReadCheckpoint(ctx, db); err == nil && cp != nil && cp.Applied >= 10 {
			break
		}
	}
	holder := replayLockHolder(t, db)
	if holder == 0 || !slices.Contains(recordedSessions(t, db), holder) {
		t.Fatalf("the running replay's lock is held by connection %d, want one of its recorded sessions %v", holder, recordedSessions(t, db))
	}
	ids := recordedSessions(t, db)

	for _, resume := range []bool{false, true} {
		second := opts(2)
		second.Files, second.TargetDSN, second.Recovery.Resume = sc.Files, tgt.DSN(""), resume
		if !resume {
			second.Select.StartPosition = sc.Start
		}
		var log strings.Builder
		start := time.Now()
		_, err := replay.Run(ctx, second, &log)
		took := time.Since(start)
		running()
		want := fmt.Sprintf("holds the target's replay lock, GET_LOCK('binlog_replay'): connection %d (user ", holder)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("a second run (resume %v) while the first runs: %v, want a refusal saying %q\nlog:\n%s", resume, err, want, log.String())
		}
		if took > 7*time.Second {
			t.Fatalf("the second run (resume %v) was refused after %s, want within seconds", resume, took)
		}
		if strings.Contains(log.String(), "ended session") {
			t.Fatalf("the second run (resume %v) ended sessions of the first\nlog:\n%s", resume, log.String())
		}
		t.Logf("second run, resume %v: refused in %s: %v\nlog:\n%s", resume, took.Round(time.Millisecond), err, log.String())
	}
	if now := recordedSessions(t, db); !slices.Equal(now, ids) {
		t.Fatalf("the recorded sessions changed from %v to %v while the first run ran", ids, now)
	}

	res := <-done
	if res.err != nil {
		t.Fatalf("the first run: %v\nlog:\n%s", res.err, res.log)
	}
	if strings.Contains(res.log, "lost the target") || res.sum.Retries != 0 || res.sum.Applied != uint64(total) {
		t.Fatalf("the first run was disturbed: %d retries, %d of %d transactions applied\nlog:\n%s", res.sum.Retries, res.sum.Applied, total, res.log)
	}
	t.Logf("the first run applied %d transactions in %s", res.sum.Applied, res.sum.Elapsed.Round(time.Millisecond))
	replaytest.RequireEqual(t, db, sc.SourceDB, "cc")
	if cp, err := replay.ReadCheckpoint(ctx, db); err != nil || cp == nil || cp.Applied != uint64(total) {
		t.Fatalf("checkpoint %+v (%v), want %d transactions", cp, err, total)
	}
	if holder := replayLockHolder(t, db); holder != 0 {
		t.Fatalf("connection %d holds the replay lock after the run ended", holder)
	}
}

// TestReplayLockReleased checks that a run holds the target's replay lock
// on a session it records while it applies, and releases it however it
// ends: interrupted, refused, finished. Each next run, resuming, takes it
// at once (a lock left held by the run's process would look like a lost
// run's to the next one, which would wait for it to be idle for 10 s).
// Without the lock, the first check fails: nothing holds it.
func TestReplayLockReleased(t *testing.T) {
	ctx := context.Background()
	sc := counterScenario(t, 400) // more than the replay reads ahead: the interruption leaves some
	total := len(scenarioTxns(t, sc))
	tgt, db := sc.Target(t)
	noHolder := func(when string) {
		t.Helper()
		// The run releases the lock as it ends, or closes its
		// connection when the release does not answer within a
		// heartbeat (a loaded machine): the server then frees it as it
		// notices the close, a moment later.
		holder := replayLockHolder(t, db)
		for deadline := time.Now().Add(10 * time.Second); holder != 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			holder = replayLockHolder(t, db)
		}
		if holder != 0 {
			t.Fatalf("connection %d holds the replay lock 10 s after %s", holder, when)
		}
	}

	// Interrupted: the first progress report looks at the lock, then
	// cancels the run.
	o := opts(2)
	o.Apply.GroupTxns = 1
	o.Files, o.Select.StartPosition = sc.Files, sc.Start
	o.TargetDSN = newDelayProxy(t, tgt, 2*time.Millisecond)
	o.Report.ProgressInterval = 20 * time.Millisecond
	var (
		once     sync.Once
		holder   uint64
		recorded []uint64
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.Report.Progress = func(replay.Stats) {
		once.Do(func() {
			var id sql.NullInt64
			if err := db.QueryRow("SELECT IS_USED_LOCK('binlog_replay')").Scan(&id); err == nil {
				holder = uint64(id.Int64)
			}
			if rows, err := db.Query("SELECT id FROM binlog_replay.sessions WHERE id <> 0"); err == nil {
				for rows.Next() {
					var id uint64
					if rows.Scan(&id) == nil {
						recorded = append(recorded, id)
					}
				}
				rows.Close()
			}
			cancel()
		})
	}
	var log strings.Builder
	sum, err := replay.Run(runCtx, o, &log)
	if err != nil || !strings.Contains(sum.StopReason, "interrupted") {
		t.Fatalf("interrupted run: %v, %+v\nlog:\n%s", err, sum, log.String())
	}
	if holder == 0 || !slices.Contains(recorded, holder) {
		t.Fatalf("while the run applied, the replay lock was held by connection %d, want one of its recorded sessions %v", holder, recorded)
	}
	noHolder("an interrupted run")

	// Each of these takes the lock at once.
	for _, c := range []struct {
		name   string
		resume bool
		refuse string
	}{
		{"resume after the interrupted run", true, ""},
		{"resume after a finished run", true, ""},
		{"a run without --resume", false, "use --resume"},
	} {
		o := opts(2)
		o.Files, o.TargetDSN, o.Recovery.Resume = sc.Files, tgt.DSN(""), c.resume
		if !c.resume {
			o.Select.StartPosition = sc.Start
		}
		log.Reset()
		start := time.Now()
		_, err := replay.Run(ctx, o, &log)
		took := time.Since(start)
		switch {
		case c.refuse == "" && err != nil, c.refuse != "" && (err == nil || !strings.Contains(err.Error(), c.refuse)):
			t.Fatalf("%s: %v, want refused: %q\nlog:\n%s", c.name, err, c.refuse, log.String())
		case strings.Contains(log.String(), "replay lock") || took > 5*time.Second:
			t.Fatalf("%s took %s, did not take the replay lock at once\nlog:\n%s", c.name, took, log.String())
		}
		t.Logf("%s: %s", c.name, took.Round(time.Millisecond))
		noHolder(c.name)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "cc")
	if cp, err := replay.ReadCheckpoint(ctx, db); err != nil || cp == nil || cp.Applied != uint64(total) {
		t.Fatalf("checkpoint %+v (%v), want %d transactions", cp, err, total)
	}
}

// TestReplayLockConnectionKilled ends the session holding a running
// replay's lock (as a DBA might, or a resume that took the run for a lost
// one): the run no longer knows that no other run applies, so it must stop
// as when the target is lost, reconnect, take the lock again and finish,
// every transaction applied once. Ignoring the loss, it would go on
// without the lock.
func TestReplayLockConnectionKilled(t *testing.T) {
	ctx := context.Background()
	sc := counterScenario(t, 300)
	total := len(scenarioTxns(t, sc))
	tgt, db := sc.Target(t)
	o := opts(2)
	o.Apply.GroupTxns = 1
	o.Files, o.Select.StartPosition = sc.Files, sc.Start
	o.TargetDSN = newDelayProxy(t, tgt, 3*time.Millisecond)
	done := make(chan replayResult, 1)
	go func() {
		var log strings.Builder
		sum, err := replay.Run(ctx, o, &log)
		done <- replayResult{sum, err, log.String()}
	}()
	var holder uint64
	for deadline := time.Now().Add(30 * time.Second); holder == 0; time.Sleep(20 * time.Millisecond) {
		select {
		case res := <-done:
			t.Fatalf("the run ended (%v) before its lock was seen held\nlog:\n%s", res.err, res.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the run applied nothing in 30 s")
		}
		if cp, err := replay.ReadCheckpoint(ctx, db); err == nil && cp != nil && cp.Applied >= 10 {
			holder = replayLockHolder(t, db)
		}
	}
	if _, err := db.Exec(fmt.Sprintf("KILL CONNECTION %d", holder)); err != nil {
		t.Fatal(err)
	}
	// Within a heartbeat or two the run notices, and takes the lock again.
	var again uint64
	for deadline := time.Now().Add(10 * time.Second); again == 0 || again == holder; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replay lock is held by connection %d 10 s after its holder %d was ended, want a new one", again, holder)
		}
		again = replayLockHolder(t, db)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("the run: %v\nlog:\n%s", res.err, res.log)
	}
	t.Logf("lock holder %d ended, then %d; log:\n%s", holder, again, res.log)
	if !strings.Contains(res.log, "lost the target (lost the connection holding the target's replay lock") || res.sum.Applied != uint64(total) {
		t.Fatalf("the run did not stop and resume when its lock connection was ended (%d of %d transactions counted)\nlog:\n%s",
			res.sum.Applied, total, res.log)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "cc")
	if cp, err := replay.ReadCheckpoint(ctx, db); err != nil || cp == nil || cp.Applied != uint64(total) {
		t.Fatalf("checkpoint %+v (%v), want %d transactions", cp, err, total)
	}
}
