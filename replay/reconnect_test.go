package replay_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestTargetRestartedMidReplay kills the target server (SIGKILL) during the
// replay and starts it again a second later: the replay must reconnect,
// resume from the checkpoint and end equal to the source, row events
// passed through and applied as SQL.
func TestTargetRestartedMidReplay(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE rs", "CREATE TABLE rs.t (id INT PRIMARY KEY, n INT, v VARCHAR(30))")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 8000; i++ {
				q := fmt.Sprintf("INSERT INTO rs.t VALUES (%d, 0, 'v') ON DUPLICATE KEY UPDATE n = n + 1", i%3000)
				if _, err := db.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
	for _, apply := range applyModes {
		t.Run(fmt.Sprint("apply=", apply), func(t *testing.T) { testTargetRestartedMidReplay(t, sc, apply) })
	}
}

func testTargetRestartedMidReplay(t *testing.T, sc *replaytest.Scenario, apply replay.ApplyMode) {
	tgt, db := sc.Target(t)
	o := withApply(opts(4), apply)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Apply.GroupTxns = 2
	var (
		wg      sync.WaitGroup
		restart error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		if err := tgt.Kill(); err != nil {
			restart = err
			return
		}
		time.Sleep(time.Second)
		restart = tgt.Restart(context.Background())
	}()
	var log strings.Builder
	sum, err := replay.Run(context.Background(), o, &log)
	wg.Wait()
	if restart != nil {
		t.Fatalf("kill/restart the target: %v", restart)
	}
	if err != nil {
		t.Fatalf("replay across a target restart: %v\nlog:\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "lost the target") {
		t.Fatalf("the target was never lost (the replay finished in %v, before the kill?): make the workload bigger\nlog:\n%s", sum.Elapsed, log.String())
	}
	checkApplied(t, o, sum, log.String())
	replaytest.RequireEqual(t, db, sc.SourceDB, "rs")
}

// TestInterruptedEarly cancels a replay where it cannot stop at a
// transaction boundary of its own: before it starts, and while it waits to
// reconnect to a target that was killed. Each must end with an
// *InterruptedError (the command's exit 130), and a --resume once the
// target is back must end equal to the source.
func TestInterruptedEarly(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE ie", "CREATE TABLE ie.t (id INT PRIMARY KEY, n INT)")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 8000; i++ {
				q := fmt.Sprintf("INSERT INTO ie.t VALUES (%d, 0) ON DUPLICATE KEY UPDATE n = n + 1", i%3000)
				if _, err := db.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
	tgt, db := sc.Target(t)
	o := opts(4)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Apply.GroupTxns, o.Recovery.Reconnect = 2, time.Minute

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ie *replay.InterruptedError
	if _, err := replay.Run(ctx, o, io.Discard); !errors.As(err, &ie) {
		t.Fatalf("replay cancelled before it started: %v, want an *InterruptedError", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var log syncLog
	go func() {
		time.Sleep(300 * time.Millisecond)
		if err := tgt.Kill(); err != nil {
			t.Errorf("kill the target: %v", err)
		}
		for !strings.Contains(log.String(), "lost the target") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	sum, err := replay.Run(ctx, o, &log)
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "waiting to reconnect") {
		t.Fatalf("replay cancelled while waiting to reconnect: %v, want an *InterruptedError saying so (applied %v)\nlog:\n%s",
			err, sum != nil && sum.Applied > 0, log.String())
	}
	if err := tgt.Restart(context.Background()); err != nil {
		t.Fatalf("restart the target: %v", err)
	}
	o.Recovery.Resume, o.Select.StartPosition = true, txn.Position{}
	if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
		t.Fatalf("resume: %v", err)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "ie")
}

// TestAsInterruptedKeepsOtherErrors: only a cancellation reaching the
// replay's work becomes an *InterruptedError; an error of its own, an
// uncertain outcome, or an error without a cancellation stays as it is.
func TestAsInterruptedKeepsOtherErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	wrapped := fmt.Errorf("read the checkpoint: %w", context.Canceled)
	var ie *replay.InterruptedError
	if err := replay.AsInterrupted(cancelled, wrapped); !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled, %v: got %v, want an *InterruptedError wrapping it", wrapped, err)
	}
	// A connection the cancel broke: the next statement on it fails with
	// "driver: bad connection" (soak seed 9350).
	badConn := fmt.Errorf("reset the recorded target sessions: %w", driver.ErrBadConn)
	if err := replay.AsInterrupted(cancelled, badConn); !errors.As(err, &ie) || !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("cancelled, %v: got %v, want an *InterruptedError wrapping it", badConn, err)
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
	}{
		{"not cancelled", context.Background(), wrapped},
		{"a lost connection, not cancelled", context.Background(), badConn},
		{"an error of its own", cancelled, errors.New("Table 'x.t' doesn't exist")},
		{"uncertain", cancelled, &replay.UncertainError{What: "cut", Err: wrapped}},
		{"nil", cancelled, nil},
	} {
		if err := replay.AsInterrupted(c.ctx, c.err); err != c.err {
			t.Errorf("%s: got %v, want the error as it was (%v)", c.name, err, c.err)
		}
	}
}

// TestTargetLostWhileStarting cuts the connection to the target while the
// replay starts, after it reached the target: before it decided where to
// start (at the replay lock) and after (creating the checkpoint tables),
// once closing both sides and once leaving the server's sessions open (the
// replay lock held by the lost attempt). The replay must reconnect and end
// equal to the source. A target that holds an earlier run's checkpoint,
// lost before the decision, must still be refused without --resume.
func TestTargetLostWhileStarting(t *testing.T) {
	sc := replaytest.New(t, "ROW",
		func(ctx context.Context, db *sql.DB) error {
			return replaytest.ExecAll(ctx, db, "CREATE DATABASE ls", "CREATE TABLE ls.t (id INT PRIMARY KEY, n INT)")
		},
		func(ctx context.Context, db *sql.DB) error {
			for i := 0; i < 300; i++ {
				if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO ls.t VALUES (%d, %d)", i, i)); err != nil {
					return err
				}
			}
			return nil
		})
	lock := func(b []byte) bool { return bytes.Contains(b, []byte("GET_LOCK(")) }
	turns := func(b []byte) bool { return bytes.Contains(b, []byte("`turns`")) }
	proxied := func(tgt *sandbox.Server, p *cutProxy) string {
		return strings.Replace(tgt.TCPDSN(""), fmt.Sprint(tgt.Port), fmt.Sprint(p.ln.Addr().(*net.TCPAddr).Port), 1)
	}
	for _, c := range []struct {
		name  string
		match func([]byte) bool
		mode  cutMode
	}{
		{"at the replay lock", lock, cutBefore},
		{"creating the turns table", turns, cutBefore},
		{"creating the turns table, server unaware", turns, cutAllServerUnaware},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := sc.Target(t)
			proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), c.mode, 1, c.match)
			o := opts(2)
			o.Files, o.Select.StartPosition, o.Recovery.Reconnect, o.TargetDSN = sc.Files, sc.Start, 30*time.Second, proxied(tgt, proxy)
			var log strings.Builder
			if _, err := replay.Run(context.Background(), o, &log); err != nil {
				t.Fatalf("replay lost while starting: %v\nlog:\n%s", err, log.String())
			}
			if cut, _ := proxy.state(); !cut || !strings.Contains(log.String(), "lost the target") {
				t.Fatalf("the connection was not cut\nlog:\n%s", log.String())
			}
			replaytest.RequireEqual(t, db, sc.SourceDB, "ls")
		})
	}
	t.Run("an earlier run's checkpoint", func(t *testing.T) {
		tgt, _ := sc.Target(t)
		o := opts(2)
		o.Files, o.Select.StartPosition, o.TargetDSN = sc.Files, sc.Start, tgt.DSN("")
		if _, err := replay.Run(context.Background(), o, io.Discard); err != nil {
			t.Fatalf("first replay: %v", err)
		}
		proxy := newMatchingCutProxy(t, fmt.Sprintf("127.0.0.1:%d", tgt.Port), cutBefore, 1, lock)
		o.Recovery.Reconnect, o.TargetDSN = 30*time.Second, proxied(tgt, proxy)
		var log strings.Builder
		_, err := replay.Run(context.Background(), o, &log)
		if cut, _ := proxy.state(); !cut {
			t.Fatalf("the connection was not cut\nlog:\n%s", log.String())
		}
		if err == nil || !strings.Contains(err.Error(), "checkpoint from an earlier replay") {
			t.Fatalf("second replay without --resume, lost while starting: %v, want the refusal of the earlier run's checkpoint\nlog:\n%s", err, log.String())
		}
	})
}
