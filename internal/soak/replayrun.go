package soak

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/binlog-replay/binlog-replay/sandbox"
)

// runTimeout bounds one replay process: longer is a hang.
const runTimeout = 4 * time.Minute

// ReplayConfig is how a seed's replay is run, drawn from the seed.
type ReplayConfig struct {
	Workers   int
	GroupTxns int    // 0: the default
	Memory    string // "": the default
	Stop      Stop
	// NeverOK adds --stop-never-reached-ok (with the new exit statuses).
	NeverOK bool
	// Kills is how many times the replay is killed with SIGKILL;
	// Restarts how many times the target is restarted (Crash: killed)
	// during it.
	Kills, Restarts int
	Crash           bool
	// Apply is --apply ("": the default, auto).
	Apply string
}

// String describes the configuration in one line.
func (c ReplayConfig) String() string {
	s := fmt.Sprintf("workers=%d group=%d stop=%q kills=%d restarts=%d", c.Workers, c.GroupTxns, c.Stop.Desc, c.Kills, c.Restarts)
	if c.Crash {
		s += " (crash)"
	}
	if c.Memory != "" {
		s += " memory=" + c.Memory
	}
	if c.Apply != "" {
		s += " apply=" + c.Apply
	}
	return s
}

// chooseReplay draws the replay configuration. Restarts are left out when
// the plan has MEMORY tables (a restart empties them, as it would on any
// server), and crashes when it has MyISAM tables (not crash safe).
func chooseReplay(rng *rand.Rand, p Plan, txns []BinTxn, newExits bool) ReplayConfig {
	c := ReplayConfig{Workers: 1 + rng.IntN(8)}
	if rng.IntN(3) > 0 {
		c.GroupTxns = []int{1, 2, 4, 16, 64}[rng.IntN(5)]
	}
	if p.has(FeatSmallMem) && rng.IntN(2) == 0 {
		c.Memory = []string{"1M", "4M", "16M"}[rng.IntN(3)]
	}
	c.Stop = chooseStop(rng, p.Features, txns)
	c.NeverOK = newExits && rng.IntN(2) == 0
	if p.has(FeatKill) {
		c.Kills = rng.IntN(4)
	}
	if p.has(FeatRestart, FeatCrash) && !p.has(FeatMemory) {
		c.Restarts = rng.IntN(3)
		c.Crash = p.has(FeatCrash) && !p.has(FeatMyISAM, FeatErrorCode, FeatRollback) &&
			(!p.has(FeatRestart) || rng.IntN(2) == 0)
	}
	// Row events as SQL, but not with triggers: their row events are
	// refused (they would fire the triggers again). Drawn last, so that
	// a seed's other choices stay what they were.
	if !p.has(FeatTriggers) && rng.IntN(3) == 0 {
		c.Apply = "sql"
	}
	return c
}

// Outcome is what the replay did: the last process's exit status and
// output, and the chaos that happened on the way.
type Outcome struct {
	Exit     int
	Stdout   string
	Stderr   string
	Summary  *summaryJSON
	Runs     int
	Kills    int
	Restarts int
	// Hung is true when a process outlived runTimeout.
	Hung bool
	// Log holds every run's command and output, for reports.
	Log strings.Builder
}

// summaryJSON is the part of the replay's --json summary the check reads.
type summaryJSON struct {
	Applied uint64 `json:"applied"`
	Last    *struct {
		GTID string `json:"gtid"`
	} `json:"last"`
	StopReason string `json:"stop_reason"`
	Next       struct {
		File   string `json:"file"`
		Offset uint64 `json:"offset"`
	} `json:"next"`
	Error string `json:"error"`
}

// replayer runs the binlog-replay binary against a target.
type replayer struct {
	bin    string
	target *sandbox.Server
	src    *Source
	cfg    ReplayConfig
	rng    *rand.Rand
	// txns are the transactions, applied how many of them the replay is
	// expected to apply: chaos events wait for progress among them.
	txns    []BinTxn
	applied int
}

// args returns one run's command line.
func (r *replayer) args(resume bool, workers int) []string {
	a := []string{"replay", "--target", r.target.DSN(""), "--workers", fmt.Sprint(workers),
		"--progress", "none", "--json", "--reconnect-for", "90s"}
	if r.cfg.GroupTxns > 0 {
		a = append(a, "--group-txns", fmt.Sprint(r.cfg.GroupTxns))
	}
	if r.cfg.Memory != "" {
		a = append(a, "--memory", r.cfg.Memory)
	}
	if r.cfg.Apply != "" {
		a = append(a, "--apply", r.cfg.Apply)
	}
	a = append(a, r.cfg.Stop.Args...)
	if r.cfg.NeverOK {
		a = append(a, "--stop-never-reached-ok")
	}
	if resume {
		a = append(a, "--resume")
	} else {
		a = append(a, "--start-position", fmt.Sprintf("%s:%d", r.src.StartFile, r.src.StartPos))
	}
	return append(a, r.src.Files...)
}

// run replays until a process ends by itself: each chaos event (a kill of
// the replay, a restart of the target) happens at a random moment of a
// run; after a kill the next run resumes.
func (r *replayer) run(ctx context.Context) (*Outcome, error) {
	out := &Outcome{}
	kills, restarts := r.cfg.Kills, r.cfg.Restarts
	resume := false
	workers := r.cfg.Workers
	for {
		out.Runs++
		if out.Runs > 20 {
			return out, errors.New("replay: more than 20 runs")
		}
		// The target restarts in the first run (the replay rides them
		// out), then a kill ends each run while kills remain.
		var events []chaosEvent
		for ; restarts > 0; restarts-- {
			events = append(events, r.chaosAt("restart"))
		}
		if kills > 0 {
			events, kills = append(events, r.chaosAt("kill")), kills-1
		}
		killed, err := r.runOnce(ctx, out, resume, workers, events)
		if err != nil {
			return out, err
		}
		if !killed {
			return out, nil
		}
		out.Kills++
		if resume, err = r.hasCheckpoint(ctx); err != nil {
			return out, err
		}
		if r.rng.IntN(2) == 0 {
			workers = 1 + r.rng.IntN(8)
		}
	}
}

// runOnce runs one replay process, with the chaos events during it, one
// after the other. It reports whether the process was killed; otherwise out
// holds its exit status and output.
func (r *replayer) runOnce(ctx context.Context, out *Outcome, resume bool, workers int, events []chaosEvent) (bool, error) {
	runCtx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	args := r.args(resume, workers)
	cmd := exec.CommandContext(runCtx, r.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	fmt.Fprintf(&out.Log, "$ binlog-replay %s\n", strings.Join(args[:len(args)-len(r.src.Files)], " "))
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start replay: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed, waitErr, err := r.chaos(runCtx, ctx, cmd, done, events, out)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(&out.Log, "%s%s", indent(compactSummary(stdout.String())), indent(stderr.String()))
	if runCtx.Err() == context.DeadlineExceeded {
		out.Hung = true
	}
	if killed {
		return true, nil
	}
	out.Exit = exitCode(waitErr)
	out.Stdout, out.Stderr = stdout.String(), stderr.String()
	out.Summary = parseSummary(out.Stdout)
	return false, nil
}

// hasCheckpoint reports whether the target holds a checkpoint row.
func (r *replayer) hasCheckpoint(ctx context.Context) (bool, error) {
	cp, err := readTargetCheckpoint(ctx, r.target)
	return cp != nil, err
}

// targetCheckpoint is the checkpoint row as the target holds it.
type targetCheckpoint struct {
	Seq  uint64
	File string
	Pos  uint64
	GTID string
}

// readTargetCheckpoint reads binlog_replay.checkpoint; nil when there is
// none.
func readTargetCheckpoint(ctx context.Context, s *sandbox.Server) (*targetCheckpoint, error) {
	dbh, err := s.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	}
	defer dbh.Close()
	var n int
	if err := dbh.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = 'binlog_replay' AND TABLE_NAME = 'checkpoint'").Scan(&n); err != nil {
		return nil, fmt.Errorf("look for the checkpoint: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	var cp targetCheckpoint
	err = dbh.QueryRowContext(ctx, "SELECT seq, file, pos, gtid FROM binlog_replay.checkpoint").
		Scan(&cp.Seq, &cp.File, &cp.Pos, &cp.GTID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the checkpoint: %w", err)
	}
	return &cp, nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() >= 0 {
			return ee.ExitCode()
		}
		return 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
	}
	return -1
}

// parseSummary decodes the --json summary on stdout (nil when there is
// none, e.g. for a usage error).
func parseSummary(stdout string) *summaryJSON {
	i := strings.IndexByte(stdout, '{')
	if i < 0 {
		return nil
	}
	var s summaryJSON
	if err := json.NewDecoder(strings.NewReader(stdout[i:])).Decode(&s); err != nil {
		return nil
	}
	return &s
}

// compactSummary shortens the --json summary to the fields the check
// reads, on one line, for the log.
func compactSummary(stdout string) string {
	s := parseSummary(stdout)
	if s == nil {
		return stdout
	}
	last := ""
	if s.Last != nil {
		last = s.Last.GTID
	}
	return fmt.Sprintf("summary: applied=%d last=%s next=%s:%d stop_reason=%q", s.Applied, last, s.Next.File, s.Next.Offset, s.StopReason)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  | " + strings.ReplaceAll(s, "\n", "\n  | ") + "\n"
}
