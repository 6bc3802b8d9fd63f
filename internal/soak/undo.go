package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// The undo phase (seedgen.FeatUndo), after a replay that passed: the
// target holds the first n transactions of the binlogs, as the anchor
// does (or, half the time, the live source holds them all).
// binlog-replay undo reverses a run of them (one to three, sometimes up
// to twenty; by positions or by --gtids, the later writes read to the
// n-th; sometimes killed and resumed), and the oracle is an anchor of the
// first n without that run: undoing transactions that no later one wrote
// over (by key) leaves what the history without them leaves, row images
// being what they are. An undo that refuses (exit 1: what it cannot undo;
// exit 3: later writes to the range's rows) must leave the target as it
// was; a dry run must foresee the refusal of later writes.

// undoRun is the undo phase's draw.
type undoRun struct {
	from, to int // the range: txns[from:to]
	// sel are the flags selecting the range, what they say; args the
	// other flags, more the rest of desc.
	sel, args  []string
	what, desc string
	dry        bool
	// skip undoes the rows later transactions did not write
	// (--on-conflict skip) rather than refusing.
	skip bool
	// kills are the delays after which runs of the undo are killed
	// (SIGKILL), each followed by a run with --resume (a fresh run when
	// the killed one had not recorded the undo yet).
	kills []time.Duration
}

// drawUndo draws the undo phase among the first n transactions: its
// range (starting, two times in three, at one logged as row events alone:
// the others are refused; up to 3 long, a quarter of the time up to 20),
// its flags and its kills.
func drawUndo(rng *rand.Rand, txns []binlogtext.BinTxn, n int) undoRun {
	var rows []int
	for i, t := range txns[:n] {
		if !t.Statement && !t.DDL {
			rows = append(rows, i)
		}
	}
	from := rng.IntN(n)
	if len(rows) > 0 && rng.IntN(3) > 0 {
		from = rows[rng.IntN(len(rows))]
	}
	length := 3
	if rng.IntN(4) == 0 {
		length = 20
	}
	u := undoRun{from: from, to: from + 1 + rng.IntN(min(length, n-from)), dry: rng.IntN(3) == 0}
	first, last := txns[u.from], txns[u.to-1]
	if g := gtidRange(txns[u.from:u.to]); g != "" && rng.IntN(3) == 0 {
		u.sel, u.what = []string{"--gtids", g}, "--gtids "+g
	} else {
		start, stop := fmt.Sprintf("%s:%d", first.File, first.Start), fmt.Sprintf("%s:%d", last.File, last.End)
		u.sel, u.what = []string{"--start-position", start, "--stop-position", stop}, "positions "+start+".."+stop
	}
	// The later writes: to the n-th transaction (which the target holds),
	// or, when it is the last, sometimes to the end of the binlogs.
	if n < len(txns) || rng.IntN(2) == 0 {
		u.args = append(u.args, "--until", fmt.Sprintf("%s:%d", txns[n-1].File, txns[n-1].End))
	}
	u.args = append(u.args, "--workers", strconv.Itoa(1+rng.IntN(8)))
	if u.skip = rng.IntN(3) == 0; u.skip {
		u.args, u.desc = append(u.args, "--on-conflict", "skip"), u.desc+", --on-conflict skip"
	}
	// Drawn last: a third of the undos are killed once or twice.
	if rng.IntN(3) == 0 {
		for k := 1 + rng.IntN(2); k > 0; k-- {
			u.kills = append(u.kills, time.Duration(rng.IntN(200))*time.Millisecond)
		}
		u.desc += fmt.Sprintf(", killed %d times", len(u.kills))
	}
	return u
}

// byDatetime selects, when rng says so (a quarter of the time) and the
// binlogs allow it, a range by --start-datetime and --stop-datetime
// instead: from a transaction committed later than every one before it
// (in the binlogs: the undo reads them from the start of their first
// file, the base's setup before txns[0] included) to the next such one,
// both among the n the target holds.
func (u *undoRun) byDatetime(rng *rand.Rand, txns []binlogtext.BinTxn, n int) {
	if rng.IntN(4) != 0 {
		return
	}
	var bounds []int // transactions committed later than every one before them
	latest := txns[0].Time
	for i := 1; i < len(txns) && i <= n; i++ {
		if txns[i].Time.After(latest) {
			bounds = append(bounds, i)
			latest = txns[i].Time
		}
	}
	if len(bounds) < 2 {
		return
	}
	k := rng.IntN(len(bounds) - 1)
	u.from, u.to = bounds[k], bounds[k+1]
	start, stop := txns[u.from].Time.UTC().Format(time.RFC3339), txns[u.to].Time.UTC().Format(time.RFC3339)
	u.sel, u.what = []string{"--start-datetime", start, "--stop-datetime", stop}, "datetimes "+start+".."+stop
}

// gtidRange returns the --gtids range naming txns ("d-s-a..b"), "" when
// they are not consecutive sequence numbers of one domain and server.
func gtidRange(txns []binlogtext.BinTxn) string {
	var domain, server string
	var first, prev uint64
	for i, t := range txns {
		parts := strings.Split(t.GTID, "-")
		if len(parts) != 3 {
			return ""
		}
		seq, err := strconv.ParseUint(parts[2], 10, 64)
		if err != nil {
			return ""
		}
		switch {
		case i == 0:
			domain, server, first = parts[0], parts[1], seq
		case parts[0] != domain || parts[1] != server || seq != prev+1:
			return ""
		}
		prev = seq
	}
	if len(txns) == 0 {
		return ""
	}
	return fmt.Sprintf("%s-%s-%d..%d", domain, server, first, prev)
}

// undoPhase runs the undo phase on target, which holds the first
// r.Expect.Applied transactions as anchor does, and checks it.
func (r *Result) undoPhase(ctx context.Context, rp *replayer, target, anchor *sandbox.Server) error {
	n := r.Expect.Applied
	if rp.src.Server != nil && seedgen.NewRand(r.Seed, seedgen.StreamReplay+301).IntN(2) == 0 {
		// Half the time on the live source, as the runbook does: it
		// holds every transaction, and the undo's own writes go to the
		// binlogs it reads (after the later writes it scanned; read
		// again by a resume).
		ok, err := r.sourceIsAnchor(ctx, rp, anchor)
		if err != nil {
			return err
		}
		if ok {
			target, n = rp.src.Server, len(rp.txns)
			r.undoOnSource = true
		}
	}
	u := drawUndo(seedgen.NewRand(r.Seed, seedgen.StreamReplay+300), rp.txns, n)
	u.byDatetime(seedgen.NewRand(r.Seed, seedgen.StreamReplay+302), rp.txns, n)
	if r.undoOnSource {
		u.desc += ", on the source"
	}
	before, err := digests(ctx, target)
	if err != nil {
		return err
	}
	dryExit, drySum := -1, undoSummary{}
	if u.dry {
		if dryExit, _, drySum, err = r.runUndo(ctx, rp, target, u, true); err != nil {
			return err
		}
	}
	exit, msg, sum, err := r.runUndo(ctx, rp, target, u, false)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("undo of transactions #%d..#%d (%s%s)", u.from+1, u.to, u.what, u.desc)
	r.Undo = fmt.Sprintf("%s: exit %d", what, exit)
	note := fmt.Sprintf("undo: exit %d", exit)
	if exit != 0 {
		// The reason, for the tally (which cuts notes short).
		if _, why, ok := strings.Cut(msg, "cannot be undone: "); ok {
			msg = why
		}
		note += ": " + msg
	}
	r.Outcome.Notes = append(r.Outcome.Notes, note)
	fail := func(class, format string, args ...any) {
		r.Failures = append(r.Failures, Failure{Class: "undo: " + class, Detail: what + ": " + fmt.Sprintf(format, args...)})
	}
	if u.dry && (dryExit == 3) != (exit == 3) {
		fail("the dry run foresaw another outcome", "--dry-run exit %d, the undo exit %d", dryExit, exit)
	}
	if u.dry && dryExit == 0 && exit == 0 && len(u.kills) == 0 && len(sum.Left) == 0 && !slices.Equal(drySum.Tables, sum.Tables) {
		// A killed undo's last run counts only what it undid itself; a
		// dry run's rows are the range's, those it would leave beside.
		fail("the dry run foresaw other rows", "--dry-run: %+v, the undo: %+v", drySum.Tables, sum.Tables)
	}
	if first, last := rp.txns[u.from], rp.txns[u.to-1]; exit != 1 && sum.RangeTxns > 0 &&
		(sum.RangeStart != txn.Position{File: first.File, Offset: first.Start} || sum.RangeEnd != txn.Position{File: last.File, Offset: last.End}) {
		// Printed whenever the range was read whole: undone, or refused
		// for later writes (exit 3); a refusal (exit 1) prints what was
		// read up to the transaction refused.
		fail("another range", "the undo's range %s..%s (%d transactions), want %s:%d..%s:%d",
			sum.RangeStart, sum.RangeEnd, sum.RangeTxns, first.File, first.Start, last.File, last.End)
	}
	if exit == 1 && strings.Contains(msg, "rows differ on the target") {
		// Nothing but the binlogs writes the target: a row the undo
		// finds changed is a change its scan for later writes missed.
		fail("a row changed that the scan for later writes did not see", "%s", msg)
	}
	switch exit {
	case 0:
	case 1, 3:
		// Refused, or stopped by the target's checks: nothing written
		// (one target transaction at most for three source ones: the
		// undo's groups hold up to 64).
		after, err := digests(ctx, target)
		if err != nil {
			return err
		}
		if changed := changedTables(before, after); len(changed) > 0 {
			fail(fmt.Sprintf("exit %d, the target changed", exit), "tables changed: %s", strings.Join(changed, ", "))
		}
		return nil
	default:
		fail(fmt.Sprintf("exit %d", exit), "want 0, 1 or 3")
		return nil
	}
	var out Outcome
	ref, err := rp.anchorWithout(ctx, n, u.from, u.to, &out)
	if ref != nil {
		defer ref.Close()
	}
	if err != nil {
		return err
	}
	if out.AnchorUnfaithful {
		r.Notes = append(r.Notes, what+": not compared: "+strings.Join(out.Notes, "; "))
		return nil
	}
	diff, rep, err := rp.compare(ctx, target, ref)
	if err != nil {
		return err
	}
	// With --on-conflict skip, the tables whose rows later transactions
	// wrote keep those rows: one where they all were is as it was before
	// the undo; one where some were is not compared (the others are
	// undone, as checked elsewhere: the tables without any).
	after, err := digests(ctx, target)
	if err != nil {
		return err
	}
	for _, l := range sum.Left {
		name := strings.TrimPrefix(l.Table, seedgen.DB+".")
		switch {
		case l.Rows < l.Total:
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %s not compared: %d of its %d rows left", what, l.Table, l.Rows, l.Total))
		case before[l.Table] != after[l.Table]:
			fail("a table whose rows were all left changed", "%s: all its %d rows of the range left (--on-conflict skip), yet it changed", l.Table, l.Total)
		}
		delete(diff, name)
		if m := reAlsoNames.FindStringSubmatch(l.Why); m != nil {
			for _, other := range strings.Split(m[1], ", ") {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: %s not compared: a later DDL on %s names it (%s)", what, other, l.Table, l.Why))
				delete(diff, strings.TrimPrefix(other, seedgen.DB+"."))
			}
		}
	}
	if len(diff) > 0 {
		fail("data differs from the history without the range", "target against an anchor of the first %d transactions without them:\n%s", n, rep)
	}
	return nil
}

// sourceIsAnchor reports whether the live source holds what the anchor of
// every transaction holds (a statement may do on the source what it does
// not on a replay of its binlog: then the source cannot be the undo's
// target, its oracle being an anchor), noting it when it does not. anchor,
// the replay's, holds the first r.Expect.Applied transactions: when that
// is every one, it is the one compared with.
func (r *Result) sourceIsAnchor(ctx context.Context, rp *replayer, anchor *sandbox.Server) (bool, error) {
	all := anchor
	if n := len(rp.txns); r.Expect.Applied != n {
		var out Outcome
		var err error
		if all, err = rp.anchorWithout(ctx, n, n, n, &out); all != nil {
			defer all.Close()
		}
		if err != nil || out.AnchorUnfaithful {
			return false, err
		}
	}
	diff, _, err := rp.compare(ctx, rp.src.Server, all)
	if err != nil {
		return false, err
	}
	if len(diff) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("undo not run on the source: it differs from the anchor of every transaction (%s)",
			strings.Join(sortedKeys(diff), ", ")))
		return false, nil
	}
	return true, nil
}

// undoSummary is the part of the undo's --json summary the phase reads:
// the rows changed back per table, and the tables rows were left of.
type undoSummary struct {
	Tables     []undoTableRows `json:"tables"`
	Left       []undoLeft      `json:"left"`
	RangeStart txn.Position    `json:"range_start"`
	RangeEnd   txn.Position    `json:"range_end"`
	RangeTxns  int             `json:"range_txns"`
}

// undoTableRows are the rows an undo changed back (or, dry, would) in a
// table.
type undoTableRows struct {
	Table    string `json:"table"`
	Inserted int64  `json:"inserted"`
	Deleted  int64  `json:"deleted"`
	Updated  int64  `json:"updated"`
}

// undoLeft is a table of the undo's --json summary whose rows of the
// range later transactions wrote, which --on-conflict skip left as they
// were.
type undoLeft struct {
	Table       string `json:"table"`
	Rows, Total int64
	Why         string `json:"why"`
}

// reAlsoNames finds, in an undoLeft's Why, the other tables later DDL
// named with its table ("a later DDL also names soak.tpx: the range's
// rows may be there now"): EXCHANGE PARTITION and RENAME carry the
// range's rows there.
var reAlsoNames = regexp.MustCompile(`a later DDL also names (.*?): the range's rows may be there now`)

// runUndo runs binlog-replay undo (dry: --dry-run) for u on target, killed
// and resumed as u says, and returns the last run's exit status, its last
// message and its summary, logging each run's command and output.
func (r *Result) runUndo(ctx context.Context, rp *replayer, target *sandbox.Server, u undoRun, dry bool) (int, string, undoSummary, error) {
	if dry {
		return r.runUndoOnce(ctx, rp, target, u, "--dry-run", -1)
	}
	flag := ""
	for k := 0; ; k++ {
		kill := time.Duration(-1)
		if k < len(u.kills) {
			kill = u.kills[k]
		}
		exit, msg, sum, err := r.runUndoOnce(ctx, rp, target, u, flag, kill)
		if err != nil || exit != 128+int(syscall.SIGKILL) {
			return exit, msg, sum, err
		}
		// Killed: resume the undo its record names, or start it again
		// when the killed run had not recorded it.
		if flag, err = undoResumeFlag(ctx, target); err != nil {
			return 0, "", undoSummary{}, err
		}
	}
}

// undoResumeFlag returns "--resume" when target holds an undo's record,
// "" when it holds none.
func undoResumeFlag(ctx context.Context, target *sandbox.Server) (string, error) {
	db, err := target.Open(ctx, "")
	if err != nil {
		return "", fmt.Errorf("undo record: %w", err)
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'binlog_replay' AND TABLE_NAME = 'undo'").Scan(&n)
	if err == nil && n > 0 {
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM binlog_replay.undo").Scan(&n)
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("undo record: %w", err)
	case n > 0:
		return "--resume", nil
	}
	return "", nil
}

// runUndoOnce runs binlog-replay undo once (with flag, when not ""),
// killing it (SIGKILL) after kill when that is not negative.
func (r *Result) runUndoOnce(ctx context.Context, rp *replayer, target *sandbox.Server, u undoRun, flag string, kill time.Duration) (int, string, undoSummary, error) {
	runCtx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	args := append(append([]string{"undo", "--target", target.DSN(""), "--json"}, u.sel...), u.args...)
	if flag != "" {
		args = append(args, flag)
	}
	args = append(args, rp.files...)
	cmd := exec.CommandContext(runCtx, rp.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return 0, "", undoSummary{}, fmt.Errorf("undo: %w", err)
	}
	if kill >= 0 {
		t := time.AfterFunc(kill, func() { _ = cmd.Process.Kill() })
		defer t.Stop()
	}
	err := cmd.Wait()
	if runCtx.Err() != nil {
		return 0, "", undoSummary{}, fmt.Errorf("undo: no end within %s", runTimeout)
	}
	exit := exitCode(err)
	if exit < 0 {
		return 0, "", undoSummary{}, fmt.Errorf("undo: %w", err)
	}
	fmt.Fprintf(&r.Outcome.Log, "$ binlog-replay %s\nexit %d\n%s%s\n", strings.Join(args, " "), exit, stdout.String(), tailLines(stderr.String(), 10))
	msg := ""
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "binlog-replay") {
			msg = strings.TrimPrefix(l, "binlog-replay undo: ")
		}
	}
	var sum undoSummary
	if i := bytes.IndexByte(stdout.Bytes(), '{'); i >= 0 {
		if err := json.Unmarshal(stdout.Bytes()[i:], &sum); err != nil {
			return 0, "", undoSummary{}, fmt.Errorf("undo: its summary: %w", err)
		}
	}
	return exit, msg, sum, nil
}

// digests returns the digests of the workload database's tables on srv
// (verify.Checksum).
func digests(ctx context.Context, srv *sandbox.Server) (map[string]string, error) {
	db, err := srv.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("digests: open server: %w", err)
	}
	defer db.Close()
	d, err := verify.Checksum(ctx, db, verify.Options{Databases: []string{seedgen.DB}})
	if err != nil {
		return nil, fmt.Errorf("digests: %w", err)
	}
	return d, nil
}

// changedTables lists the tables whose digests differ between before and
// after, sorted, with how: "(changed)", "(dropped)", "(created)".
func changedTables(before, after map[string]string) []string {
	var changed []string
	for t, d := range before {
		switch a, ok := after[t]; {
		case !ok:
			changed = append(changed, t+" (dropped)")
		case a != d:
			changed = append(changed, t+" (changed)")
		}
	}
	for t := range after {
		if _, ok := before[t]; !ok {
			changed = append(changed, t+" (created)")
		}
	}
	slices.Sort(changed)
	return changed
}
