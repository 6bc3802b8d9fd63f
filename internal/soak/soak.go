// Package soak is a seeded, randomized differential soak of binlog-replay.
//
// Each seed starts a MariaDB source with its binlog on, sets up a base,
// snapshots it, and runs a random workload in several concurrent sessions
// (InnoDB and non-transactional tables, keys and foreign keys, triggers,
// DDL, temporary tables, LOAD DATA, big transactions, failing statements,
// ROW / MIXED / STATEMENT). Two targets are then restored from the base:
// one is fed the binlogs by the real binlog-replay binary, with random
// workers, groups, stop points, kill -9 and resume, and target restarts;
// the other, the anchor, by mariadb-binlog | mariadb over the same range.
// The expected range comes from mariadb-binlog's text output, never from
// binlog-replay's own code. The check compares the two targets table by
// table, the exit status and the stop point.
//
// The feature set of a seed is a random subset (drawn from the seed) of a
// mask the caller gives, so a seed and a mask reproduce a run; see
// Features.
package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/target"
)

// Config is what a soak run is given: the same for every seed.
type Config struct {
	// Mask holds the features seeds draw theirs from.
	Mask seedgen.Features
	// Format forces the source's binlog format ("": drawn per seed).
	Format string
	// Bin is the binlog-replay binary.
	Bin string
	// WorkDir holds the seeds' temporary directories.
	WorkDir string
	// Keep, when set, receives the base, binlogs and replay log of each
	// failing or inconclusive seed (the anchor's failure is worth a look
	// too), in Keep/seed-N.
	Keep string
	// From, when set, is such a kept seed's directory: the seed's replay
	// and check run again on its base and binlogs, without a source.
	From string
	// Apply, when set, forces the replay's --apply: "sql" for every seed
	// without triggers (whose row events the SQL path refuses), "binlog"
	// for every seed ("": a third of the seeds without triggers draw sql).
	Apply string
}

// Repro returns the command that reruns seed with this configuration.
func (c Config) Repro(seed uint64) string {
	s := fmt.Sprintf("make soak SEED=%d FEATURES=%s", seed, c.Mask.Compact())
	if c.Format != "" {
		s += " FORMAT=" + c.Format
	}
	if c.Apply != "" {
		s += " APPLY=" + c.Apply
	}
	if c.Keep != "" {
		s += " KEEP=" + c.Keep
	}
	return s
}

// Status is the verdict on a seed.
type Status string

// Verdicts.
const (
	Pass    Status = "PASS"    // the replay did what the oracle expects
	Refused Status = "REFUSED" // as PASS, the replay refusing an input class on purpose
	Fail    Status = "FAIL"    // the replay differs from the oracle
	Harness Status = "HARNESS" // the seed could not be run (source, anchor, servers)
	// Inconclusive: the anchor itself failed statements the source did not
	// log as failed (the binlogs do not replay faithfully, e.g. an unsafe
	// statement in STATEMENT format): the oracle cannot judge.
	Inconclusive Status = "INCONCLUSIVE"
)

// Result is the outcome of one seed.
type Result struct {
	Seed    uint64
	Plan    seedgen.Plan
	Replay  ReplayConfig
	Expect  Expect
	Outcome *Outcome
	Txns    int
	// Domains is the number of GTID domains of those transactions.
	Domains  int
	Status   Status
	Failures []Failure
	// Err is set for Harness: what could not be done.
	Err      error
	Duration time.Duration
	// Timing is the time each phase took ("source 3.1s", ...).
	Timing []string
	Repro  string
	// Notes are observations that are not failures (the anchor against
	// the source, statements the source refused).
	Notes []string
	// Undo says what the undo phase (seedgen.FeatUndo) undid and how it
	// ended; "" when it did not run. undoOnSource is set when it ran on
	// the live source, whose binlogs then hold its writes after the
	// workload's: a kept seed keeps them without (end).
	Undo         string
	undoOnSource bool
	end          binlogtext.BinEnd
	// planRefusal is the refusal plan must foresee reading the files with
	// the replay's start flag (expectStopHeld), "" for none.
	planRefusal string
	// anchorUnfaithful is set when the anchor failed statements the
	// source did not log as failed.
	anchorUnfaithful bool
	// anchorNoGTIDs is set when the anchor logs no binlog though the
	// target does (runAnchor): its GTIDs are not compared.
	anchorNoGTIDs bool
}

// Line is the one-line summary of the seed.
func (r *Result) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d %s %.1fs (%s) %s %d txns", r.Seed, r.Status, r.Duration.Seconds(),
		strings.Join(r.Timing, ", "), r.Plan.Format, r.Txns)
	if r.Domains > 1 {
		fmt.Fprintf(&b, " in %d GTID domains", r.Domains)
	}
	if r.Outcome != nil {
		o := r.Outcome
		fmt.Fprintf(&b, "; %s; exit %d (want %d, %s); %d runs, %d kills, %d SIGTERMs, %d restarts done; %d early starts, %d head starts, %d order aborts",
			r.Replay, o.Exit, r.Expect.Exit, r.Expect.Why, o.Runs, o.Kills, o.Terms, o.Restarts, o.EarlyStarts, o.HeadStarts, o.OrderAborts)
		for _, s := range o.Settled {
			fmt.Fprintf(&b, "; settled %s", s)
		}
	}
	if r.Undo != "" {
		fmt.Fprintf(&b, "; %s", r.Undo)
	}
	fmt.Fprintf(&b, "; features=%s", r.Plan.Features)
	switch {
	case r.Err != nil:
		fmt.Fprintf(&b, "; %v", r.Err)
	case len(r.Failures) > 0:
		classes := make([]string, len(r.Failures))
		for i, f := range r.Failures {
			classes[i] = f.Class
		}
		fmt.Fprintf(&b, "; %s", strings.Join(classes, " | "))
	}
	return b.String()
}

// Report is the failing seed's details: failures, the replay's log, and
// the command that reproduces it.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d %s: reproduce with: %s\n", r.Seed, r.Status, r.Repro)
	fmt.Fprintf(&b, "plan: %s\nreplay: %s\nexpected: exit %d, %d of %d transactions applied (%s)\n",
		r.Plan, r.Replay, r.Expect.Exit, r.Expect.Applied, r.Txns, r.Expect.Why)
	if r.Err != nil {
		fmt.Fprintf(&b, "error: %v\n", r.Err)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "FAILURE %s\n  %s\n", f.Class, strings.ReplaceAll(f.Detail, "\n", "\n  "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Outcome != nil {
		fmt.Fprintf(&b, "replay log:\n%s", tailLines(r.Outcome.Log.String(), 80))
	}
	return b.String()
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("  ... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// RunSeed runs one seed: source and workload, then the replay and the
// anchor on targets restored from the base, then the check. It never
// panics on a server failure: that is a Harness result.
func RunSeed(ctx context.Context, cfg Config, seed uint64) *Result {
	began := time.Now()
	r := &Result{Seed: seed, Plan: seedgen.NewPlan(seed, cfg.Mask, cfg.Format), Repro: cfg.Repro(seed)}
	dir, err := os.MkdirTemp(cfg.WorkDir, fmt.Sprintf("seed-%d-", seed))
	if err != nil {
		r.Status, r.Err = Harness, fmt.Errorf("create seed dir: %w", err)
		return r
	}
	defer os.RemoveAll(dir)
	if err := r.run(ctx, cfg, dir); err != nil {
		r.Status, r.Err = Harness, err
	}
	r.Duration = time.Since(began)
	return r
}

// run does RunSeed's work in dir.
func (r *Result) run(ctx context.Context, cfg Config, dir string) error {
	loadDir := filepath.Join(dir, "load")
	if err := os.Mkdir(loadDir, 0o755); err != nil {
		return fmt.Errorf("create load dir: %w", err)
	}
	began := time.Now()
	src, err := r.source(ctx, cfg, dir, loadDir)
	if src != nil && src.Server != nil {
		defer src.Server.Close()
	}
	if err != nil {
		return err
	}
	if len(src.Errors) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the source refused %s", errorSummary(src.Errors)))
	}
	files := filesFrom(src.Files, src.StartFile)
	txns, cuts, err := binlogtext.ReadBinlogTexts(ctx, files, src.StartPos)
	if err != nil {
		return err
	}
	if src.CrashCut != "" {
		note := "the source crashed, its binlog cut at " + src.CrashCut
		for _, c := range cuts {
			note += fmt.Sprintf("; transaction %s at %s:%d cut, left out", c.GTID, c.File, c.Start)
		}
		r.Notes = append(r.Notes, note)
	}
	r.Txns = len(txns)
	r.Domains = countDomains(txns)
	end, err := binlogEnd(files)
	if err != nil {
		return err
	}
	r.end = end
	r.Replay = chooseReplay(seedgen.NewRand(r.Seed, seedgen.StreamReplay), r.Plan, txns, end)
	r.Replay.Accident, r.Replay.Exclude = accident(src, txns)
	if r.Replay.Accident >= 0 {
		// Without the accident a statement re-executed may read the
		// session's state (LAST_INSERT_ID) where the source's did not,
		// so the binlog does not log it (the rows it changes were gone):
		// left out by a filter, the statement that set it is not there
		// to set it (seed 56269). The history without the accident is
		// then not the same for the anchor and a filtered replay, and
		// neither is the source's: no filter with the accident skipped.
		r.Replay.Filter = false
	}
	switch cfg.Apply {
	case "sql":
		if !r.Plan.Has(seedgen.FeatTriggers) {
			r.Replay.Apply = "sql"
		}
	case "binlog":
		r.Replay.Apply = ""
	}
	var clockBehind string
	if r.Replay.FromBackup {
		// The replay refuses a transaction the hot base may hold in
		// part: one that changed non-transactional tables inside a
		// transaction begun by the backup's end, which it reads in its
		// own time zone (StopZone's when set: seed 125242); and, before
		// anything, an end so read before the last transaction the base
		// holds committed.
		loc := time.Local
		if r.Replay.StopZone != "" {
			if loc, err = time.LoadLocation(r.Replay.StopZone); err != nil {
				return err
			}
		}
		ended, err := backupEnded(src.Base, loc)
		if err != nil {
			return err
		}
		if clockBehind, err = heldAfter(ctx, src, ended); err != nil {
			return err
		}
		binlogtext.MarkHotBase(txns, ended)
		if a := r.Replay.Accident; a >= 0 && txns[a].Refused == binlogtext.HotBaseRisk {
			txns[a].Refused = "" // skipped (--exclude-gtids), not refused
		}
	}
	r.Expect = expect(txns, r.Replay)
	r.expectSeqOrder(src, txns)
	if clockBehind != "" && !r.Replay.Stop.UnknownDomain {
		r.Expect = Expect{Exit: 1, Applied: 0, Refusal: clockRefusal, Why: "refused before anything was applied: " + clockBehind}
	}
	if err := r.expectStopHeld(ctx, src); err != nil {
		return err
	}
	r.phase("source", &began)
	if err := r.checkPlan(ctx, cfg.Bin, src, txns); err != nil {
		return err
	}
	anchor, err := r.runAnchor(ctx, src, files, txns, dir)
	if anchor != nil {
		defer anchor.Close()
	}
	if err != nil {
		return err
	}
	r.phase("anchor", &began)
	if err := r.replayAndCheck(ctx, cfg, src, anchor, txns, files, dir); err != nil {
		return err
	}
	r.Status = verdict(r)
	if (r.Status == Fail || r.Status == Inconclusive) && cfg.Keep != "" && cfg.From == "" {
		if err := keepSeed(cfg.Keep, r, src); err != nil {
			r.Notes = append(r.Notes, err.Error())
		}
	}
	return nil
}

// heldRefusal and beforeStartRefusal are what the replay's error says
// when its --stop-datetime is met on a transaction the target holds: one
// --start-gtid holds (filter.StopHeld), or one before the start position
// (filter.StopBeforeStart).
const (
	heldRefusal        = "says the target already holds"
	beforeStartRefusal = "before the start point"
)

// expectStopHeld makes the expectation a refusal when the replay's
// --stop-datetime is met on a transaction before the base's position
// (committed at or after it): the base, on the target, is past the stop
// point. With --start-gtid and the files, the replay reads every file from
// the start of the first (and finds it among them); from the base's
// position, it reads the start file from its beginning, or the file before
// when none comes before the base there (files or source); with
// --start-gtid from the source, the same from where the source starts
// sending (the base). Plan, reading the files with the same start flag,
// must foresee the files' refusal (r.planRefusal).
func (r *Result) expectStopHeld(ctx context.Context, src *Source) error {
	c := r.Replay
	if c.Stop.Time.IsZero() || c.Stop.UnknownDomain {
		return nil
	}
	byGTID := c.StartGTID && src.StartGTID != ""
	files := src.Files[:len(src.Files)-len(filesFrom(src.Files, src.StartFile))+1] // to the base's
	if !byGTID && len(files) > 2 {
		files = files[len(files)-2:] // the base's and the one before
	}
	pre, _, err := binlogtext.ReadBinlogTexts(ctx, files, 4)
	if err != nil {
		return err
	}
	// The file the replay reads before its start: the base's, or, when no
	// transaction comes before the base there (a rotation just before it),
	// the one before (startcheck.StopDatetimeBehind).
	read := src.StartFile
	if len(files) > 1 && !slices.ContainsFunc(pre, func(t binlogtext.BinTxn) bool {
		return t.File == src.StartFile && binlogtext.PosBefore(t.File, t.Start, src.StartFile, src.StartPos)
	}) {
		read = filepath.Base(files[len(files)-2])
	}
	// held returns the first transaction before the base's position
	// committed at or after the stop, in the file the replay reads before
	// its start, or in every file read.
	held := func(startFile bool) *binlogtext.BinTxn {
		for i, t := range pre {
			if startFile && t.File != read {
				continue
			}
			if binlogtext.PosBefore(t.File, t.Start, src.StartFile, src.StartPos) && !t.Time.Before(c.Stop.Time) {
				return &pre[i]
			}
		}
		return nil
	}
	t, refusal := held(true), beforeStartRefusal
	if byGTID {
		t, refusal = held(false), heldRefusal
	}
	if t != nil {
		r.planRefusal = refusal
	}
	if byGTID && c.Remote && src.Server != nil {
		t, refusal = held(true), beforeStartRefusal
	}
	if t != nil {
		r.Expect = Expect{Exit: 1, Refusal: refusal,
			Why: fmt.Sprintf("refused: --stop-datetime is met on %s at %s:%d, before the base's position", t.GTID, t.File, t.Start)}
	}
	return nil
}

// replayAndCheck replays into a target restored from the base and checks
// it against the anchor.
func (r *Result) replayAndCheck(ctx context.Context, cfg Config, src *Source, anchor *sandbox.Server, txns []binlogtext.BinTxn,
	files []string, dir string) error {
	began := time.Now()
	target, err := sandbox.Start(ctx, targetOptions(src.Base, r.Replay, true))
	if err != nil {
		return fmt.Errorf("start target: %w", err)
	}
	defer target.Close()
	if r.Replay.Filter {
		rng := seedgen.NewRand(r.Seed, seedgen.StreamReplay+200)
		// A quarter with --databases and the workload's database: the
		// whole replay, every statement through the filters' checks,
		// none of which may refuse it.
		if r.Replay.Databases = rng.IntN(4) == 0; !r.Replay.Databases {
			if r.Replay.Tables, err = chooseTables(ctx, rng, target); err != nil {
				return err
			}
			r.Replay.Filter = len(r.Replay.Tables) > 0
		}
	}
	var original map[string]string
	if r.Replay.RewriteDB {
		// Half the time some tables only (--tables), as an operator
		// restores one table beside the live one.
		if rng := seedgen.NewRand(r.Seed, seedgen.StreamReplay+200); rng.IntN(2) == 0 && r.Replay.Accident < 0 {
			if r.Replay.Tables, err = chooseTables(ctx, rng, target); err != nil {
				return err
			}
		}
		if err := makeSideDB(ctx, target, r.Replay.Tables); err != nil {
			return err
		}
		if original, err = digests(ctx, target); err != nil {
			return err
		}
	}
	rp := &replayer{bin: cfg.Bin, target: target, src: src, cfg: r.Replay, rng: seedgen.NewRand(r.Seed, seedgen.StreamReplay+100),
		txns: txns, applied: r.Expect.Applied, files: files, dir: dir, term: r.Replay.Term}
	r.Outcome, err = rp.run(ctx)
	// Refused up front, an operator adds the tables the refusal names
	// and runs again: so does the soak, a few times.
	retried := false
	for try := 0; err == nil && try < 4 && filterRefusal(r.Outcome) != ""; try++ {
		more := addTables(r.Replay.Tables, fullError(r.Outcome))
		if len(more) == len(r.Replay.Tables) {
			break
		}
		retried = true
		r.Replay.Tables, rp.cfg.Tables = more, more
		if r.Replay.RewriteDB {
			if err := makeSideDB(ctx, target, more); err != nil {
				return err
			}
		}
		log := r.Outcome.Log.String()
		r.Outcome, err = rp.run(ctx)
		if r.Outcome != nil {
			prev := log + r.Outcome.Log.String()
			r.Outcome.Log.Reset()
			r.Outcome.Log.WriteString(prev)
		}
	}
	if err == nil && retried {
		r.Outcome.Notes = append(r.Outcome.Notes, "--tables refused up front: run again with the tables the refusal names")
	}
	if err == nil && filterRefusal(r.Outcome) != "" {
		r.Outcome.Notes = append(r.Outcome.Notes, "--tables refused: "+refusalClass(fullError(r.Outcome)))
	}
	if r.Outcome != nil && r.Outcome.TempRefused != nil && r.Outcome.TempRefused.Anchor != nil {
		defer r.Outcome.TempRefused.Anchor.Close()
	}
	if err != nil {
		return err
	}
	r.phase("replay", &began)
	out := r.Outcome
	r.Notes = append(r.Notes, out.Notes...)
	r.Failures = append(r.Failures, out.Failures...)
	if out.RefusalFailed {
		// The check of a refusal failed: the replay went no further.
		return nil
	}
	if tr := out.TempRefused; tr != nil {
		// The replay refused to resume where temporary tables are open:
		// the target must hold what comes before that point.
		r.Expect = Expect{Exit: 1, Applied: tr.Index, Refusal: "temporary tables open there",
			Why: fmt.Sprintf("refused after a kill or a restart: temporary tables open after transaction #%d (%s)", tr.Index, tr.Tables)}
		anchor = tr.Anchor
		// The anchor of the whole range is no longer the one compared
		// with: a statement it failed past the refusal does not matter,
		// and one before it failed on tr.Anchor too.
		r.anchorUnfaithful = false
	}
	if refusal := filterRefusal(out); (r.Replay.Filter || r.Replay.RewriteDB) && refusal != "" {
		// --tables split what the binlog does not log (a cascade, a
		// statement naming a table kept and another), or --rewrite-db
		// cannot rename a statement with certainty: refused before
		// anything was applied, the target must be the base.
		if anchor, err = rp.anchorAt(ctx, 0, out); anchor != nil {
			defer anchor.Close()
		}
		if err != nil {
			return err
		}
		r.anchorUnfaithful, r.anchorNoGTIDs = false, true // as below
		r.Expect = Expect{Exit: 1, Applied: 0, Refusal: refusal, Why: "refused before anything was applied: " + refusal}
	}
	// refusedAt expects the replay refused at txns[k] for refusal, and
	// returns the anchor of what comes before it, where --tables left out
	// the transaction the oracle expected refused for a temporary table
	// of before the start; nil when it did not.
	refusedAt := func(k int, refusal string) (*sandbox.Server, error) {
		if k <= r.Expect.Applied || r.Expect.Refusal != binlogtext.TempBeforeStart || len(r.Replay.Tables) == 0 ||
			txns[k].Refused != binlogtext.TempBeforeStart {
			return nil, nil
		}
		a, err := rp.anchorAt(ctx, k, out)
		if a != nil {
			anchor = a
		}
		if err != nil {
			return a, err
		}
		r.anchorUnfaithful, r.anchorNoGTIDs = false, true
		r.Expect = Expect{Exit: 1, Applied: k, Refusal: refusal,
			Why: fmt.Sprintf("refused on purpose: %s transaction #%d (--tables left out the ones before)", refusal, k+1)}
		return a, nil
	}
	// --tables leaves out a statement that writes only a temporary
	// table (none is of --tables): the replay refuses the first one it
	// keeps that uses a temporary table created before the start (seed
	// 109345). Or the first one it keeps is also one the hot base may
	// hold in part: the reading refuses it for that first, before the
	// target fails its statement (seed 126179).
	a, err := refusedAt(tempRefusedAt(out, txns), binlogtext.TempBeforeStart)
	if a != nil {
		defer a.Close()
	}
	if err != nil {
		return err
	}
	if r.Replay.FromBackup {
		a, err := refusedAt(hotBaseRefusedAt(out, txns), binlogtext.HotBaseRisk)
		if a != nil {
			defer a.Close()
		}
		if err != nil {
			return err
		}
	}
	if r.Expect.Refusal == binlogtext.TempBeforeStart && len(r.Replay.Tables) > 0 && out.Exit == 0 && tempRefusedAt(out, txns) < 0 {
		// --tables left out every statement that uses a temporary
		// table created before the start (each writes another table,
		// or only the temporary one), and the replay ran on (seed
		// 120013). The soak cannot tell from the binlog's text which
		// tables such a statement writes, and its anchor fails them:
		// not judged, as when the anchor fails them past a refusal.
		r.anchorUnfaithful = true
	}
	if k := filterStopAt(out, txns); (r.Replay.Filter || r.Replay.RewriteDB) && r.Replay.Remote && k >= 0 {
		// Reading from the source, --tables (or --rewrite-db) refuses a
		// transaction when it comes (the binlogs cannot be read ahead):
		// the target must hold every transaction before it.
		if k > r.Expect.Applied {
			r.Failures = append(r.Failures, Failure{Class: "--tables refused a transaction past the stop point",
				Detail: fmt.Sprintf("refused transaction #%d, the stop point is before #%d: %s", k+1, r.Expect.Applied+1, lastError(out))})
		}
		if anchor, err = rp.anchorAt(ctx, k, out); anchor != nil {
			defer anchor.Close()
		}
		if err != nil {
			return err
		}
		// The anchor of a refusal is a server without a binlog: the
		// target's GTIDs are compared with the transactions applied.
		r.anchorUnfaithful, r.anchorNoGTIDs = false, true
		r.Notes = append(r.Notes, "--tables refused a transaction read from the source: "+refusalClass(lastError(out)))
		refusal := filterRefusals[0]
		if strings.Contains(lastError(out), "--rewrite-db cannot apply") {
			refusal = "--rewrite-db cannot apply"
		}
		r.Expect = Expect{Exit: 1, Applied: k, Refusal: refusal,
			Why: fmt.Sprintf("refused at transaction #%d, read from the source: %s", k+1, refusalClass(lastError(out)))}
	}
	split, dropped, err := gtidStop(ctx, out, txns, target)
	if err != nil {
		return err
	}
	if split >= 0 {
		// The replay stopped where the target's GTIDs can no longer be
		// the source's (it logged a transaction in parts, or holds a
		// GTID of the source's domain past the checkpoint): the target
		// must hold the first split transactions, and --target-gtids own
		// would go on.
		if anchor, err = rp.anchorAt(ctx, split, out); anchor != nil {
			defer anchor.Close()
		}
		if err != nil {
			return err
		}
		r.anchorUnfaithful = false // as above: anchorAt judges its own (seed 44145)
		r.Expect = Expect{Exit: 1, Applied: split, Refusal: gtidRefusal(out),
			Why: fmt.Sprintf("stopped after transaction #%d: the target's GTIDs can no longer be the source's after it", split)}
	}
	c := &checker{txns: txns, exp: r.Expect, out: out, src: src, target: target, anchor: anchor,
		startGTID: r.Replay.StartGTID && src.StartGTID != "", accident: r.Replay.Accident, tables: r.Replay.Tables,
		rewriteDB: r.Replay.RewriteDB}
	c.remoteGTID = c.startGTID && r.Replay.Remote && src.Server != nil
	if tr := out.TempRefused; tr != nil {
		c.exempt = tr.Exempt
	}
	if dropped != nil {
		c.exempt = dropped
	}
	failures, err := c.check(ctx)
	r.Failures = append(r.Failures, failures...)
	if err != nil {
		return err
	}
	if original != nil {
		failures, err := checkOriginal(ctx, target, original)
		r.Failures = append(r.Failures, failures...)
		if err != nil {
			return err
		}
	}
	r.phase("check", &began)
	if r.Plan.Has(seedgen.FeatStopBehind) && len(r.Failures) == 0 && out.Exit == 0 && r.Expect.Applied >= 2 {
		if err := r.stopBehind(ctx, rp, c); err != nil {
			return err
		}
	}
	// Stopped before a transaction that changes a sequence and other
	// tables, the target's GTIDs are still the source's, up to the stop.
	if r.Replay.TargetBinlog && (split < 0 || gtidRefusal(out) == sequenceRefusal) {
		if err := r.checkGTIDs(ctx, target, anchor, txns); err != nil {
			return err
		}
	}
	// Undo part of what the target holds, when it is the anchor's (not a
	// filtered nor renamed replay, none skipped).
	if r.Plan.Has(seedgen.FeatUndo) && len(r.Failures) == 0 && !r.anchorUnfaithful && !out.AnchorUnfaithful && out.Exit == 0 &&
		r.Expect.Applied > 0 && split < 0 && out.TempRefused == nil && !r.Replay.Filter && !r.Replay.RewriteDB && r.Replay.Accident < 0 {
		return r.undoPhase(ctx, rp, target, anchor)
	}
	return nil
}

// The stops where the target's GTIDs can no longer be the source's: after
// a transaction the target logged in parts; before one that changes a
// sequence and other tables (which it would); or, resuming, because its
// binlog holds a GTID of the source's domain past the checkpoint, or the
// GTID of the pending transaction the soak undid (--uncertain
// not-applied).
const (
	splitRefusal    = "logged this transaction in parts"
	pastRefusal     = "past the checkpoint's last transaction"
	sequenceRefusal = "logs a sequence's change as a transaction of its own"
	// loggedRefusal: --uncertain not-applied for a pending transaction
	// the target logged as it ran, after the soak undid its writes (the
	// replay says to go on with --target-gtids own).
	loggedRefusal = "applying it again keeping the source's GTIDs would log it twice"
	// createRefusal: resuming, a pending CREATE OR REPLACE TABLE whose
	// GTID the target logged for the DROP it generated when the earlier
	// run's statement failed, the table gone (seed 31426).
	createRefusal = "it runs again, logged with a GTID of the target's"
	// ownRefusal: resuming, the target's binlog holds the domain's next
	// GTID under the target's own server id: it completed the pending DDL
	// in its crash recovery and logged it so (seed 37317).
	ownRefusal = target.LoggedPendingAsOwn
)

// reSplit matches the stop after a transaction the target logged in parts,
// reSequence the stop before one that changes a sequence and other tables,
// reCreateMissing the table of createRefusal.
var (
	reCreateMissing = regexp.MustCompile(`but the table ([^ .]+)\.([^ ]+) it creates is not on the target`)
	reSplit         = regexp.MustCompile(`after the transaction at (\S+):(\d+) \(GTID [^)]*\), applied and checkpointed: the target logged this transaction in parts`)
	reSequence      = regexp.MustCompile(`apply transaction #\d+ at (\S+):(\d+) \(GTID [^)]*\): it changes the sequence .* logs a sequence's change as a transaction of its own`)
)

// gtidStop returns how many transactions the target must hold when the
// last run stopped because the target's GTIDs can no longer be the
// source's (see splitRefusal), -1 when it did not; and the table a
// pending CREATE OR REPLACE TABLE left dropped there, with why, to leave
// out of the comparison (createRefusal: its failed earlier run;
// ownRefusal: the target's crash recovery), nil when none.
// cpIndex returns how many of txns come before the checkpoint's next
// position (the first at or after it): its applied count leaves out the
// transactions the replay skipped (--exclude-gtids), which txns hold
// (seed 107287).
func cpIndex(txns []binlogtext.BinTxn, cp *targetCheckpoint) int {
	for i, t := range txns {
		if !binlogtext.PosBefore(t.File, t.Start, cp.File, cp.Pos) {
			return i
		}
	}
	return len(txns)
}

func gtidStop(ctx context.Context, out *Outcome, txns []binlogtext.BinTxn, tgt *sandbox.Server) (split int, dropped map[string]string, err error) {
	if out.Exit != 1 {
		return -1, nil, nil
	}
	msg := lastError(out)
	own := strings.Contains(msg, ownRefusal)
	if own || strings.Contains(msg, pastRefusal) || strings.Contains(msg, loggedRefusal) || strings.Contains(msg, createRefusal) {
		cp, err := readTargetCheckpoint(ctx, tgt)
		if err != nil || cp == nil {
			return -1, nil, err
		}
		if !own {
			if m := reCreateMissing.FindStringSubmatch(msg); m != nil && m[1] == seedgen.DB {
				// The table the failed statement dropped: the stop says so.
				dropped = map[string]string{m[2]: failedReplaceDropped}
			}
			if strings.Contains(msg, loggedRefusal) {
				// Its outcome unknown (a table without identity), the
				// statement was settled not applied; the GTID the target
				// logged may be the DROP of its failed run (seed 93825).
				table, err := loggedDrop(ctx, tgt, msg, reLoggedGTID, reFailedReplaceDrop)
				if err != nil {
					return -1, nil, err
				}
				if table != "" {
					dropped = map[string]string{table: failedReplaceDropped}
				}
			}
			return cpIndex(txns, cp), dropped, nil
		}
		// The target's crash recovery finished the pending DDL: it
		// completed it, or, for a CREATE OR REPLACE TABLE it could not
		// complete, dropped the table it replaces (seed 42185).
		table, err := loggedDrop(ctx, tgt, msg, reOwnGTID, reRecoveryDrop)
		switch {
		case err != nil:
			return -1, nil, err
		case table != "":
			return cpIndex(txns, cp), map[string]string{table: "dropped by the target's crash recovery of the pending CREATE OR REPLACE TABLE"}, nil
		}
		return cpIndex(txns, cp) + 1, nil, nil
	}
	after := 1 // the transaction named is applied
	m := reSplit.FindStringSubmatch(msg)
	if m == nil {
		m, after = reSequence.FindStringSubmatch(msg), 0
	}
	if m == nil {
		return -1, nil, nil
	}
	if i := txnStarting(txns, m[1], m[2]); i >= 0 {
		return i + after, nil, nil
	}
	return -1, nil, nil
}

// failedReplaceDropped says why gtidStop leaves out of the comparison a
// table that a pending CREATE OR REPLACE TABLE's failed earlier run
// dropped.
const failedReplaceDropped = "dropped by the pending CREATE OR REPLACE TABLE's failed earlier run"

// reOwnGTID finds, in ownRefusal's error, the GTID the target logged;
// reRecoveryDrop, in the target's binlog, the DROP its DDL crash recovery
// logs for a CREATE OR REPLACE TABLE it could not complete. reLoggedGTID
// finds, in loggedRefusal's error, the pending transaction's GTID the
// target logged; reFailedReplaceDrop, in the target's binlog, the DROP a
// CREATE OR REPLACE TABLE that failed after dropping the table it
// replaces logs under its GTID (MariaDB 10.11 marks it "generated by
// server", earlier versions "Generated to handle failed CREATE OR
// REPLACE").
var (
	reOwnGTID           = regexp.MustCompile(`the target's binlog holds GTID (\S+), next after`)
	reRecoveryDrop      = regexp.MustCompile("DROP TABLE IF EXISTS `([^`]+)` /\\* generated by ddl recovery \\*/")
	reLoggedGTID        = regexp.MustCompile(`the target's binlog holds GTID (\S+) of the transaction`)
	reFailedReplaceDrop = regexp.MustCompile("DROP TABLE IF EXISTS (?:`[^`]+`\\.)?`([^`]+)` ?/\\* (?:generated by server|Generated to handle failed CREATE OR REPLACE) \\*/")
)

// loggedDrop returns the table whose DROP the target logged under the GTID
// gtid finds in the error msg, when the statement logged there is what
// drop matches (the DROP of a DDL crash recovery, of a failed CREATE OR
// REPLACE TABLE); "" when that GTID holds something else.
func loggedDrop(ctx context.Context, tgt *sandbox.Server, msg string, gtid, drop *regexp.Regexp) (string, error) {
	m := gtid.FindStringSubmatch(msg)
	if m == nil {
		return "", nil
	}
	_, _, first, err := binlogGroups(ctx, tgt)
	if err != nil {
		return "", err
	}
	if d := drop.FindStringSubmatch(first[m[1]]); d != nil {
		return d[1], nil
	}
	return "", nil
}

// gtidRefusal returns which of the stops of gtidStop the last run made.
func gtidRefusal(out *Outcome) string {
	switch msg := lastError(out); {
	case strings.Contains(msg, pastRefusal):
		return pastRefusal
	case strings.Contains(msg, loggedRefusal):
		return loggedRefusal
	case strings.Contains(msg, createRefusal):
		return createRefusal
	case strings.Contains(msg, ownRefusal):
		return ownRefusal
	case strings.Contains(msg, sequenceRefusal):
		return sequenceRefusal
	}
	return splitRefusal
}

// checkGTIDs checks the GTIDs the target logged (gtidFailures): each
// source transaction applied is logged at most once, under its own GTID,
// in order, whatever kills and restarts came on the way. When the replay
// ended refusing where temporary tables are open, the anchor is a server
// without a binlog: the counts are then not compared with it.
func (r *Result) checkGTIDs(ctx context.Context, target, anchor *sandbox.Server, txns []binlogtext.BinTxn) error {
	if r.Outcome.RefusalFailed {
		return nil
	}
	if r.Outcome.OwnGTIDs {
		r.Notes = append(r.Notes, "target binlog: not compared: resumed with --target-gtids own after the strict target's refusal")
		return nil
	}
	exempt := map[string]bool{}
	for _, s := range r.Outcome.Settled {
		exempt[txns[s.Index].GTID] = true
	}
	got, dropped, first, err := binlogGroups(ctx, target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for _, t := range txns[:r.Expect.Applied] {
		// A statement the source's server generated (a MEMORY table's
		// TRUNCATE after its restart) is a source transaction, logged
		// by the target under its GTID: compared like any other (seed
		// 44060).
		if t.Generated {
			delete(dropped, t.GTID)
		}
	}
	if tr := r.Outcome.TempRefused; tr != nil && tr.Index < len(txns) {
		// The transaction a kill left pending at the refusal (a DDL,
		// say) may have run, and been logged; and what the server
		// logged as the lost session ended (its cached statements,
		// with a ROLLBACK) comes after: the replay refuses to go on
		// from there (and so would a resume, finding GTIDs past its
		// checkpoint).
		dropped[txns[tr.Index].GTID] = true
		applied := map[string]bool{}
		for _, t := range txns[:r.Expect.Applied] {
			applied[t.GTID] = true
		}
		past := false
		for _, g := range got {
			if past && !applied[g] {
				dropped[g] = true
			}
			past = past || (r.Expect.Applied > 0 && g == txns[r.Expect.Applied-1].GTID)
		}
	}
	if len(dropped) > 0 {
		// A replay process killed (or a connection lost) with temporary
		// tables open: the server logged their DROP at the disconnect,
		// under the session's GTID domain and server id (a documented
		// limit; the replay ends sessions out of the binlog otherwise).
		var kept []string
		for _, g := range got {
			if !dropped[g] {
				kept = append(kept, g)
			}
		}
		got = kept
		r.Notes = append(r.Notes, "target binlog: not compared: the GTIDs of DROP TEMPORARY TABLE logged by the server at a killed "+
			"session's disconnect (in the source's domain), of a MEMORY table's TRUNCATE at its first open (by the check, when "+
			"the replay refused before it began), or, at a refusal to resume, of the transaction pending and what the lost "+
			"session's end logged after it")
	}
	var want []string
	// The anchor of a refusal is a server without a binlog.
	if r.Outcome.TempRefused == nil && r.Expect.Refusal != sequenceRefusal && !r.anchorNoGTIDs {
		if want, _, err = binlogGTIDs(ctx, anchor); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
	}
	applied := txns[:r.Expect.Applied]
	if a := r.Replay.Accident; a >= 0 && a < len(applied) {
		// Skipped by --exclude-gtids: logged by neither.
		applied = append(append([]binlogtext.BinTxn{}, applied[:a]...), applied[a+1:]...)
	}
	for _, f := range gtidFailures(got, applied, want, exempt) {
		// What the target logged under each GTID the failure names.
		for _, g := range got {
			if info, ok := first[g]; ok && strings.Contains(f.Detail, g) {
				if len(info) > 160 {
					info = info[:160]
				}
				f.Detail += fmt.Sprintf("\n%s: %s", g, info)
			}
		}
		r.Failures = append(r.Failures, f)
	}
	return nil
}

// stopBehind resumes the finished replay with a stop point before its
// checkpoint (an applied transaction's end or GTID): the replay must
// refuse (exit 1) and leave the target as it was.
func (r *Result) stopBehind(ctx context.Context, rp *replayer, c *checker) error {
	rng := seedgen.NewRand(r.Seed, seedgen.StreamReplay+200)
	t := c.txns[rng.IntN(r.Expect.Applied-1)]
	stop := binlogtext.Stop{Desc: "behind the checkpoint: gtid", Args: []string{"--stop-before-gtid", t.GTID}}
	switch rng.IntN(3) {
	case 0:
		stop = binlogtext.Stop{Desc: "behind the checkpoint: position", Args: []string{"--stop-position", fmt.Sprintf("%s:%d", t.File, t.End)}}
	case 1:
		// An applied transaction's commit second: the first transaction
		// committed at or after it is at most that one (commit times need
		// not rise along the binlog: the checkpoint keeps the latest).
		stop = binlogtext.Stop{Desc: "behind the checkpoint: datetime", Args: []string{"--stop-datetime", t.Time.UTC().Format(time.RFC3339)}}
	}
	again := *rp
	again.cfg.Stop, again.cfg.NeverOK, again.cfg.ResumeBare, again.uncertain = stop, false, false, ""
	out := &Outcome{Runs: 1}
	if _, err := again.runOnce(ctx, out, true, rp.cfg.Workers, nil); err != nil {
		return err
	}
	c.out = out
	c.exp = Expect{Exit: 1, Applied: r.Expect.Applied, Why: "refused: the checkpoint is past the stop point (" + stop.Desc + ")"}
	failures, err := c.check(ctx)
	for _, f := range failures {
		f.Class = "stop " + stop.Desc + ": " + f.Class
		r.Failures = append(r.Failures, f)
	}
	r.Outcome.Log.WriteString(out.Log.String())
	return err
}

// phase records the time since *since under name, and resets *since.
func (r *Result) phase(name string, since *time.Time) {
	now := time.Now()
	r.Timing = append(r.Timing, fmt.Sprintf("%s %.1fs", name, now.Sub(*since).Seconds()))
	*since = now
}

// source runs the seed's source, or with cfg.From reads a kept seed's
// base and binlogs instead.
func (r *Result) source(ctx context.Context, cfg Config, dir, loadDir string) (*Source, error) {
	if cfg.From != "" {
		return keptSource(cfg.From)
	}
	return runSource(ctx, r.Plan, seedgen.Generate(r.Plan, loadDir), dir)
}

// binlogEnd returns where the binlogs end: the last file and its size.
func binlogEnd(files []string) (binlogtext.BinEnd, error) {
	if len(files) == 0 {
		return binlogtext.BinEnd{}, fmt.Errorf("no binlog files")
	}
	last := files[len(files)-1]
	st, err := os.Stat(last)
	if err != nil {
		return binlogtext.BinEnd{}, fmt.Errorf("binlog end: %w", err)
	}
	return binlogtext.BinEnd{File: filepath.Base(last), Size: uint64(st.Size())}, nil
}

func verdict(r *Result) Status {
	switch {
	case r.anchorUnfaithful || r.Outcome != nil && r.Outcome.AnchorUnfaithful:
		return Inconclusive
	case len(r.Failures) > 0:
		return Fail
	case r.Expect.Refusal != "" || (r.Expect.Exit == 1 && r.Outcome.Exit == 1):
		return Refused
	}
	return Pass
}

// reSoakTable finds the workload's tables in a refusal.
var reSoakTable = regexp.MustCompile(seedgen.DB + `\.[A-Za-z0-9_]+`)

// addTables returns tables and, after them, the workload's tables that
// msg names and tables lacks.
func addTables(tables []string, msg string) []string {
	out := slices.Clone(tables)
	for _, t := range reSoakTable.FindAllString(msg, -1) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// fullError is the replay's whole error: a refusal lists its
// transactions on the lines after its first.
func fullError(out *Outcome) string {
	if out.Summary != nil && out.Summary.Error != "" {
		return out.Summary.Error
	}
	return out.Stderr
}

// reRefusalReason finds the reason of a filter's first refusal.
var reRefusalReason = regexp.MustCompile(`_EVENT at \S+: (it [^:;]+)`)

// refusalClass reduces a refusal of --tables to its first reason, the
// names in it replaced by ?.
func refusalClass(msg string) string {
	m := reRefusalReason.FindStringSubmatch(msg)
	if m == nil {
		if strings.Contains(msg, "cascading foreign key") {
			return "a cascading foreign key across the tables"
		}
		return "?"
	}
	return reSoakTable.ReplaceAllString(reQuoted.ReplaceAllString(m[1], "?"), "?")
}

// filterRefusals are the refusals of --tables and --rewrite-db before
// anything is applied.
var filterRefusals = []string{"--tables cannot apply", "splits tables that a cascading foreign key joins", "--rewrite-db cannot apply"}

// filterRefusal returns the refusal of --tables that ended out, "" for
// none.
func filterRefusal(out *Outcome) string {
	if out.Exit != 1 || !strings.Contains(lastError(out), "nothing applied: ") {
		return ""
	}
	for _, r := range filterRefusals {
		if strings.Contains(lastError(out), r) {
			return r
		}
	}
	return ""
}

// reFilterAt finds the transaction a refusal of --tables or --rewrite-db
// names.
// reTempAt finds the transaction the refusal of a statement using a
// temporary table created before the start names.
var reTempAt = regexp.MustCompile(`apply transaction #\d+ at (\S+):(\d+) .*` + binlogtext.TempBeforeStart)

// tempRefusedAt returns the index in txns of the transaction refused as
// using a temporary table created before the start, -1 when none was.
func tempRefusedAt(out *Outcome, txns []binlogtext.BinTxn) int {
	m := reTempAt.FindStringSubmatch(lastError(out))
	if m == nil {
		return -1
	}
	return txnStarting(txns, m[1], m[2])
}

var reHotBaseAt = regexp.MustCompile(`the transaction #\d+ at (\S+):(\d+) \(GTID [^)]*\) changed non-transactional tables`)

// hotBaseRefusedAt returns the index in txns of the transaction the
// replay refused as one the hot base may hold in part, -1 for none.
func hotBaseRefusedAt(out *Outcome, txns []binlogtext.BinTxn) int {
	m := reHotBaseAt.FindStringSubmatch(lastError(out))
	if m == nil {
		return -1
	}
	return txnStarting(txns, m[1], m[2])
}

var reFilterAt = regexp.MustCompile(`(?:--tables|--rewrite-db) cannot apply the transaction #\d+ at (\S+):(\d+)`)

// filterStopAt returns the index in txns of the transaction a refusal of
// --tables or --rewrite-db that ended out names, -1 for none.
func filterStopAt(out *Outcome, txns []binlogtext.BinTxn) int {
	if out.Exit != 1 {
		return -1
	}
	m := reFilterAt.FindStringSubmatch(lastError(out))
	if m == nil {
		return -1
	}
	return txnStarting(txns, m[1], m[2])
}

// txnStarting returns the index in txns of the transaction that starts at
// file:pos (as an error message gives them), -1 for none.
func txnStarting(txns []binlogtext.BinTxn, file, pos string) int {
	for i, t := range txns {
		if t.File == file && fmt.Sprint(t.Start) == pos {
			return i
		}
	}
	return -1
}

// runAnchor starts the anchor target and applies the expected range to it.
// An anchor logging its binlog applies mariadb-binlog's output as it is;
// where a single session holding temporary tables could not switch GTID
// domains (error 1953), it is started again without its binlog, the
// switches dropped (anchorRange.NoDomains): its state is then the
// reference, not its GTIDs (anchorNoGTIDs).
func (r *Result) runAnchor(ctx context.Context, src *Source, files []string, txns []binlogtext.BinTxn, dir string) (*sandbox.Server, error) {
	opts := targetOptions(src.Base, r.Replay, false)
	anchor, err := sandbox.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("start anchor: %w", err)
	}
	rs := rangesFor(files, src.StartPos, txns, r.Expect.Applied, r.Replay.Accident)
	if len(rs) == 0 {
		return anchor, nil
	}
	if !opts.Binlog {
		rs = rs.withoutDomains()
	}
	loadDir := filepath.Join(dir, "anchor-load")
	if err := os.Mkdir(loadDir, 0o700); err != nil {
		return anchor, fmt.Errorf("create anchor load dir: %w", err)
	}
	failed, stderr, err := applyAnchors(ctx, rs, anchor.Socket, loadDir)
	if err != nil {
		return anchor, err
	}
	want := wantErrors(txns, r.Expect.Applied, r.Replay.Accident)
	if failed > want && opts.Binlog && strings.Contains(stderr, "ERROR 1953 ") {
		r.Notes = append(r.Notes, fmt.Sprintf("anchor: %d statements failed (%s), one session could not switch GTID domains: "+
			"started again without its binlog, the switches dropped; its GTIDs are not compared: %s",
			failed, rs.Command(anchor.Socket), tailLines(stderr, 3)))
		anchor.Close()
		opts.Binlog, rs, r.anchorNoGTIDs = false, rs.withoutDomains(), true
		if anchor, err = sandbox.Start(ctx, opts); err != nil {
			return nil, fmt.Errorf("start anchor: %w", err)
		}
		if failed, stderr, err = applyAnchors(ctx, rs, anchor.Socket, loadDir); err != nil {
			return anchor, err
		}
	}
	if failed != want {
		r.anchorUnfaithful = failed > want
		r.Notes = append(r.Notes, fmt.Sprintf("anchor: %d statements failed, %d logged with an error code (%s): %s",
			failed, want, rs.Command(anchor.Socket), tailLines(stderr, 5)))
	}
	return anchor, nil
}

// accident returns the index in txns of src's accident (FeatAccident) and
// the --exclude-gtids that names it exactly, or -1: none, or one the
// anchor cannot leave out (temporary tables open there: the ranges before
// and after it run in two client sessions).
func accident(src *Source, txns []binlogtext.BinTxn) (int, string) {
	for i, t := range txns {
		if src.Accident == "" || t.GTID != src.Accident {
			continue
		}
		d, s, n, ok := splitMariaGTID(t.GTID)
		if !ok || t.TempsOpen > 0 {
			return -1, ""
		}
		return i, fmt.Sprintf("%s-%s-%s..%s", d, s, n, n)
	}
	return -1, ""
}

// splitMariaGTID splits a MariaDB GTID into its domain, server id and
// sequence number.
func splitMariaGTID(g string) (domain, server, seq string, ok bool) {
	parts := strings.Split(g, "-")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// countDomains returns the number of GTID domains of txns.
func countDomains(txns []binlogtext.BinTxn) int {
	domains := map[string]bool{}
	for _, t := range txns {
		if d, _, ok := strings.Cut(t.GTID, "-"); ok {
			domains[d] = true
		}
	}
	return len(domains)
}

// filesFrom returns the files from the one named start on.
func filesFrom(files []string, start string) []string {
	for i, f := range files {
		if filepath.Base(f) == start {
			return files[i:]
		}
	}
	return files
}
