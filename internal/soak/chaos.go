package soak

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
)

// chaosEvent is a kill of the replay ("kill"), a SIGTERM of the replay
// ("term") or a restart of the target ("restart") during a run: after a delay, or once the target's checkpoint
// has passed a transaction (progress is nil for a delay), and with inDDL
// once the checkpoint also says a DDL is being applied (state 'ddl').
type chaosEvent struct {
	kind     string // "" for none
	delay    time.Duration
	progress *binlogtext.BinTxn
	inDDL    bool
}

// String says when the event happens, for the log.
func (e chaosEvent) String() string {
	switch {
	case e.inDDL:
		return fmt.Sprintf("during the DDL after %s:%d (checkpoint state 'ddl')", e.progress.File, e.progress.End)
	case e.progress != nil:
		return fmt.Sprintf("once the checkpoint passed %s:%d", e.progress.File, e.progress.End)
	}
	return "after " + e.delay.String()
}

// chaosAt draws when an event of kind happens: during a DDL one time in
// three when the replay applies DDL, else mostly once a transaction of
// those it applies has committed, else after a delay (which may fall in
// the replay's start-up).
func (r *replayer) chaosAt(kind string) chaosEvent {
	e := chaosEvent{kind: kind, delay: time.Duration(5+r.rng.IntN(300)) * time.Millisecond}
	if kind == "kill" && r.term && r.rng.IntN(2) == 0 {
		e.kind = "term"
	}
	var ddls []int
	for i, t := range r.txns[:r.applied] {
		if t.DDL && i > 0 {
			ddls = append(ddls, i)
		}
	}
	switch {
	case len(ddls) > 0 && r.rng.IntN(3) == 0:
		e.progress, e.inDDL = &r.txns[ddls[r.rng.IntN(len(ddls))]-1], true
	case r.applied > 0 && r.rng.IntN(3) > 0:
		e.progress = &r.txns[r.rng.IntN(r.applied)]
	}
	return e
}

// trigger returns a channel closed when events[i] is due (nil when there
// is no such event).
func (r *replayer) trigger(ctx context.Context, events []chaosEvent, i int) <-chan struct{} {
	if i >= len(events) {
		return nil
	}
	ev := events[i]
	ch := make(chan struct{})
	go func() {
		if ev.progress == nil {
			select {
			case <-time.After(ev.delay):
				close(ch)
			case <-ctx.Done():
			}
			return
		}
		if r.waitProgress(ctx, ev.progress, ev.inDDL) {
			close(ch)
		}
	}()
	return ch
}

// waitProgress polls the target's checkpoint until it is at or past the
// end of t, in state 'ddl' if inDDL (true), or ctx ends (false). Errors
// (the checkpoint not made yet, the target restarting) are polled through.
func (r *replayer) waitProgress(ctx context.Context, t *binlogtext.BinTxn, inDDL bool) bool {
	dbh, err := sql.Open("mysql", r.target.DSN("")+"&timeout=1s&autocommit=1") // its reads hold no locks (FeatTargetConfig: autocommit=0)
	if err != nil {
		return false
	}
	defer dbh.Close()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		var file, state string
		var pos uint64
		err := dbh.QueryRowContext(ctx, "SELECT file, pos, state FROM binlog_replay.checkpoint").Scan(&file, &pos, &state)
		if err == nil && !binlogtext.PosBefore(file, pos, t.File, t.End) && (!inDDL || state == "ddl") {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// chaos runs the events while the process runs, until it exits (done). A
// restart's next event is armed once the target is back. It returns
// whether the process was killed or sent SIGTERM, and its exit error;
// restarts use serverCtx, which outlives the run.
func (r *replayer) chaos(runCtx, serverCtx context.Context, cmd *exec.Cmd, done <-chan error, events []chaosEvent,
	out *Outcome) (killed, termed bool, waitErr, restartErr error) {
	pollCtx, stopPoll := context.WithCancel(runCtx)
	defer stopPoll()
	i := 0
	due := r.trigger(pollCtx, events, i)
	var restarted chan error
	for {
		select {
		case waitErr = <-done:
			stopPoll()
			if restarted != nil {
				restartErr = <-restarted
			}
			return killed, termed, waitErr, restartErr
		case restartErr = <-restarted:
			restarted = nil
			if restartErr != nil {
				cmd.Process.Signal(syscall.SIGKILL)
				continue
			}
			i++
			due = r.trigger(pollCtx, events, i)
		case <-due:
			due = nil
			ev := events[i]
			if ev.kind == "kill" {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				fmt.Fprintf(&out.Log, "  (killed with SIGKILL %s)\n", ev)
				continue
			}
			if ev.kind == "term" {
				cmd.Process.Signal(syscall.SIGTERM)
				termed = true
				fmt.Fprintf(&out.Log, "  (sent SIGTERM %s)\n", ev)
				continue
			}
			restarted = make(chan error, 1)
			go func() { restarted <- r.restartTarget(serverCtx) }()
			out.Restarts++
			fmt.Fprintf(&out.Log, "  (target restarted %s, crash=%v)\n", ev, r.cfg.Crash)
		}
	}
}

// restartTarget restarts the target: cleanly, or with a kill -9 first
// (cfg.Crash), which leaves InnoDB crash recovery to do.
func (r *replayer) restartTarget(ctx context.Context) error {
	if r.cfg.Crash {
		if err := r.target.Kill(); err != nil {
			return fmt.Errorf("kill target: %w", err)
		}
	}
	if err := r.target.Restart(ctx); err != nil {
		return fmt.Errorf("restart target: %w", err)
	}
	return nil
}
