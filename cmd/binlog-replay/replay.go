package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
	"github.com/binlog-replay/binlog-replay/internal/progress"
	pf "github.com/binlog-replay/binlog-replay/preflight"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// ReplayOptions are the flags of the replay command.
type ReplayOptions struct {
	SelectionFlags
	// Target is --target, the target server's DSN.
	Target string
	// SourceFlags read the binlogs from a live server instead of files.
	SourceFlags
	// TLS configures the connections to the target.
	TLS tlsFlags
	// The other flags, by concern.
	ReplayApplyFlags
	ReplayRecoveryFlags
	ReplayOutputFlags
	RehearsalFlags
}

// ReplayApplyFlags are the replay command's flags on how transactions are
// applied: workers, groups, commit order, memory and the apply path.
type ReplayApplyFlags struct {
	Workers    int
	GroupTxns  int
	GroupBytes int64
	// CommitOrder is --commit-order: server (chained commits) or client.
	CommitOrder string
	NoLogBin    bool
	// Compact is --compact: net-effect compaction inside each group.
	Compact bool
	// TargetGTIDs is --target-gtids: auto, source or own.
	TargetGTIDs string
	// Apply is --apply: auto, binlog or sql; SQLTriggers is
	// --sql-triggers: refuse or fire.
	Apply       string
	SQLTriggers string
	Memory      byteSize
}

// ReplayRecoveryFlags are the replay command's flags on resuming an earlier
// run, a stop point never reached, truncated binlogs and a lost or stalled
// target.
type ReplayRecoveryFlags struct {
	Resume bool
	// StopNeverReachedOK exits 0 when the binlogs end before the stop
	// point given (by default: exit status 3).
	StopNeverReachedOK bool
	// ToEnd, with Resume, drops the stop point the checkpoint keeps.
	ToEnd bool
	// HotBaseChecked applies the transactions a hot base may hold in
	// part (replay.HotBaseError): the operator checked that it does not.
	HotBaseChecked bool
	// Uncertain is --uncertain: what became of the transaction an earlier
	// run left unfinished (applied or not-applied).
	Uncertain string
	Strict    bool
	Reconnect time.Duration
	// StallReport is how long without a commit before the replay says what
	// its target sessions are doing (a full disk makes a target wait).
	StallReport time.Duration
}

// ReplayOutputFlags are the replay command's flags on what it prints.
type ReplayOutputFlags struct {
	JSON     bool
	Progress string
	// Verbose adds the engine's details (workers, parallelism, barriers)
	// to the progress bar's display, as a full line every 10 s.
	Verbose bool
	// LogValues lets errors and reports show data values (statement
	// literals, values in server messages, verify's key values).
	LogValues bool
	// Estimate runs preflight's checks and estimate before applying, and
	// has the progress display compare the replay with the estimate.
	Estimate bool
}

// RehearsalFlags are the replay command's flags for a rehearsal on a
// staging target: --dry-run and --verify-against.
type RehearsalFlags struct {
	// VerifyAgainst, when set, compares the target with this reference
	// server after the replay (a staging rehearsal).
	VerifyAgainst string
	// DryRun rehearses a recovery on a staging target: the binlogs are
	// first checked as plan does, and nothing is applied if the replay
	// would fail on them.
	DryRun bool
	// ReferenceTLS configures the connections to the --verify-against
	// reference.
	ReferenceTLS tlsFlags
	// reference and referenceTLS are VerifyAgainst resolved (password
	// filled in) and ReferenceTLS loaded, by options.
	reference    string
	referenceTLS *tls.Config
}

// AddFlags registers the options on fs, with defaults from replay.DefaultOptions.
func (o *ReplayOptions) AddFlags(fs *flag.FlagSet) {
	d := replay.DefaultOptions()
	fs.StringVar(&o.Target, "target", "", "target server DSN, e.g. 'root@unix(/run/mysqld/mysqld.sock)/' (password from MYSQL_PWD)")
	o.SourceFlags.AddFlags(fs)
	o.SelectionFlags.AddFlags(fs)
	fs.IntVar(&o.Workers, "workers", d.Apply.Workers, "parallel target connections (0: twice the processors here, 4 to 16, plus one per 250 µs of round trip to the target, up to 32)")
	o.Memory = byteSize(d.Apply.MemoryBudget)
	fs.Var(&o.Memory, "memory", "memory `budget` for transactions between reading and commit, e.g. 256M or 1G; a transaction larger than it is applied alone (0: chosen, 8M per worker, 32M to 256M)")
	fs.IntVar(&o.GroupTxns, "group-txns", d.Apply.GroupTxns, "most source transactions committed together in one target transaction (0: chosen as the replay goes, 64 to 1024: larger where each group waits for the one before)")
	fs.Int64Var(&o.GroupBytes, "group-bytes", d.Apply.GroupBytes, "most binlog bytes committed together in one target transaction")
	fs.StringVar(&o.CommitOrder, "commit-order", "server", "how commits are kept in source order: server (a COMMIT is sent as soon as the one before it is sent, the target holding it until that one commits, and a group that writes rows of the groups before starts once they have run their statements, the target holding it on their row locks, and its transactions that write no row of the group just before it start beside that group: fewer round trips over a network, more of the target at work) or client (each COMMIT waits in the replay for the one before it to be acknowledged, and a dependent group, whole, for the commits it depends on)")
	fs.BoolVar(&o.Resume, "resume", false, "continue from the checkpoint saved on the target (with its stop point, --exclude-gtids, --databases and --tables unless given)")
	fs.BoolVar(&o.ToEnd, "to-end", false, "with --resume, apply to the end of the binlogs instead of the stop point the checkpoint keeps")
	fs.BoolVar(&o.HotBaseChecked, "hot-base-checked", false, "apply the transactions whose non-transactional changes the base of --from-backup, copied while the source was written, "+
		"may already hold (refused by default, naming the first; a --resume keeps the base's end): you checked that the base does not hold them")
	fs.BoolVar(&o.StopNeverReachedOK, "stop-never-reached-ok", false, "exit 0, not 3, when the binlogs end before the stop point given (--stop-position, --stop-datetime, --stop-before-gtid)")
	fs.StringVar(&o.Uncertain, "uncertain", "", "with --resume, when the earlier run stopped inside a transaction whose outcome cannot be known "+
		"(it writes non-transactional tables, or a DDL that cannot be told), the `outcome` the operator found: "+
		"applied (it took effect: continue after it) or not-applied (apply it)")
	fs.BoolVar(&o.NoLogBin, "no-log-bin", false, "keep the replay out of the target's binary log (SET sql_log_bin=0)")
	fs.BoolVar(&o.Compact, "compact", d.Apply.Compact, "apply, in each target commit, the net effect of several writes to one row as one write, where that provably "+
		"leaves the same rows (tables with a primary key and no other unique key, no triggers, no foreign keys; full row images; "+
		"row transactions only; docs/replay.md); --compact=false applies every row event as logged")
	fs.StringVar(&o.TargetGTIDs, "target-gtids", string(d.Apply.TargetGTIDs), "GTIDs the replayed transactions get in the target's binlog: source (keep the source's: MariaDB source and target, needs BINLOG ADMIN), own (the target's), auto (source where possible, says which at the start)")
	fs.StringVar(&o.Apply, "apply", string(d.Apply.Mode), "how row events are applied: binlog (passed through in BINLOG statements, "+
		"as mysqlbinlog does: the user needs BINLOG REPLAY on MariaDB 10.5+, BINLOG_ADMIN on MySQL 8, or SUPER), "+
		"sql (as INSERT, UPDATE and DELETE made from the row images: the user needs only privileges on the tables; MariaDB targets), "+
		"auto (binlog where the target user may run BINLOG statements, else sql; says which at the start)")
	fs.StringVar(&o.SQLTriggers, "sql-triggers", string(d.Apply.SQLTriggers), "row events applied as SQL on a table with triggers on the target: "+
		"refuse (stop before applying one, naming the table: SQL fires the triggers, and a row-format binlog already holds what "+
		"the source's triggers wrote) or fire (apply it, the triggers firing: for triggers the source did not have)")
	fs.BoolVar(&o.Strict, "strict", false, "refuse a last binlog file that ends inside a transaction (default: apply every complete transaction and say where it was cut)")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as JSON on stdout")
	fs.StringVar(&o.Progress, "progress", progress.ModeAuto, "progress display: bar (one line redrawn in place: bytes, transactions/s, time left, source time reached), "+
		"plain (a full line every 10 s, with the workers, parallelism and barriers), none, or auto (bar on a terminal, else plain)")
	fs.BoolVar(&o.Estimate, "estimate", false, "before applying, run preflight's checks and estimate (apply nothing if a check fails), then have the progress say when the replay departs from the estimate's range "+
		"(reads the binlogs once more and writes a scratch schema it drops; --dry-run does this too)")
	fs.BoolVar(&o.Verbose, "verbose", false, "with the progress bar, also print the full progress line (workers busy and waiting, parallelism, barriers) every 10 s")
	fs.DurationVar(&o.Reconnect, "reconnect-for", d.Recovery.Reconnect, "when the target is lost, reconnect with backoff for this long, then resume from its checkpoint (0: stop at once)")
	fs.DurationVar(&o.StallReport, "stall-report", d.Report.StallReport, "when no transaction has committed for this long, say what the replay's sessions on the target are doing (0: never)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "rehearse on a staging target: check the binlogs as plan does first (apply nothing if the replay would fail on them), replay, verify with --verify-against, and report")
	fs.StringVar(&o.VerifyAgainst, "verify-against", "", "after the replay, compare the target table by table with this reference `DSN` (exit 1 when they differ)")
	fs.BoolVar(&o.LogValues, "log-values", false, "let errors and the verify report show data values (statement literals, values quoted by the server, key values); by default they are replaced by ?")
	o.TLS.addFlags(fs, "", "target")
	o.ReferenceTLS.addFlags(fs, "reference-", "--verify-against reference")
}

// options turns the flags and file arguments into replay options. Warnings
// (a password on the command line) go to warn.
func (o *ReplayOptions) options(args []string, warn io.Writer) (replay.Options, error) {
	ro := replay.DefaultOptions()
	var err error
	if err := o.SourceFlags.check(args); err != nil {
		return ro, err
	}
	if o.Source == "" {
		if ro.Files, err = resolveBinlogFiles(args); err != nil {
			return ro, err
		}
	}
	if ro.TargetDSN, err = resolveDSN("target", o.Target, warn); err != nil {
		return ro, err
	}
	if ro.TargetTLS, err = o.TLS.config(); err != nil {
		return ro, err
	}
	if o.VerifyAgainst != "" {
		if o.reference, err = resolveDSN("verify-against", o.VerifyAgainst, warn); err != nil {
			return ro, err
		}
		if o.referenceTLS, err = o.ReferenceTLS.config(); err != nil {
			return ro, err
		}
	}
	// --start-gtid target: the set comes from the target at the start.
	sel := o.SelectionFlags
	if strings.EqualFold(strings.TrimSpace(sel.StartGTID), "target") {
		sel.StartGTID, ro.Select.StartGTIDsFromTarget = "", true
	}
	start, f, err := sel.parse(ro.Files)
	if err != nil {
		return ro, err
	}
	if o.Source != "" {
		if ro.Source, err = o.SourceFlags.options(o.StartGTID, &start, &f, warn); err != nil {
			return ro, err
		}
	}
	ro.Select.StartPosition, ro.Select.StartGTIDs, ro.Select.ExcludeGTIDs = start, f.StartGTIDs, f.ExcludeGTIDs
	ro.Select.StopPosition, ro.Select.StopDatetime, ro.Select.StopBeforeGTID = f.StopPosition, f.StopDatetime, f.StopBeforeGTID
	ro.Select.Databases, ro.Select.Tables, ro.Select.RewriteDB = f.Databases, f.Tables, rewrite.Rules(o.RewriteDB)
	ro.Apply.Workers, ro.Apply.GroupTxns, ro.Apply.GroupBytes = o.Workers, o.GroupTxns, o.GroupBytes
	switch o.CommitOrder {
	case "server":
	case "client":
		ro.Apply.ClientCommitOrder = true
	default:
		return ro, fmt.Errorf("--commit-order %q: want server or client", o.CommitOrder)
	}
	ro.Recovery.Resume, ro.Apply.NoLogBin, ro.Recovery.SkipUnknown, ro.Recovery.Strict = o.Resume, o.NoLogBin, o.SkipUnknown, o.Strict
	ro.Apply.Compact = o.Compact
	ro.Recovery.NoContinuityCheck, ro.Select.StopNeverReachedOK, ro.Select.ToEnd = o.NoContinuityCheck, o.StopNeverReachedOK, o.ToEnd
	if o.FromBackup != "" {
		if ro.Select.HotBase, err = replay.ReadHotBase(o.FromBackup); err != nil {
			return ro, err
		}
	}
	ro.Select.HotBase.Checked = o.HotBaseChecked
	ro.Recovery.Reconnect, ro.Apply.MemoryBudget, ro.Report.StallReport, ro.Report.LogValues = o.Reconnect, int64(o.Memory), o.StallReport, o.LogValues
	if ro.Apply.TargetGTIDs, err = replay.ParseGTIDMode(o.TargetGTIDs); err != nil {
		return ro, err
	}
	if ro.Apply.Mode, err = replay.ParseApplyMode(o.Apply); err != nil {
		return ro, err
	}
	if ro.Apply.SQLTriggers, err = replay.ParseTriggerMode(o.SQLTriggers); err != nil {
		return ro, err
	}
	if o.Uncertain != "" {
		if ro.Recovery.Uncertain, err = replay.ParseOutcome(o.Uncertain); err != nil {
			return ro, err
		}
	}
	return ro, ro.Validate()
}

// memoryLimit returns the Go runtime's soft memory limit for a replay
// with a: its memory budget, or the largest one the replay may choose,
// plus the headroom.
func memoryLimit(a replay.ApplyOptions) int64 {
	budget := a.MemoryBudget
	switch {
	case budget != 0:
	case a.Workers != 0:
		budget = replay.AutoMemoryBudget(a.Workers)
	default:
		budget = replay.AutoMemoryBudget(math.MaxInt32) // the workers are chosen later
	}
	return budget + memoryHeadroom
}

// memoryHeadroom is what the process may use beyond --memory.
const memoryHeadroom = 64 << 20

// exitStopNotReached is the exit status of a replay whose binlogs ended
// before the stop point given: everything in them was applied.
const exitStopNotReached = 3

// exitInterrupted is the exit status of a replay stopped by SIGINT or
// SIGTERM: at a transaction boundary, or while starting or waiting to
// reconnect (*replay.InterruptedError); as a shell reports a command a
// SIGINT ended.
const exitInterrupted = 130

// replayExitStatuses are the exit statuses of the replay command, for its -h.
var replayExitStatuses = []exitStatus{
	{0, "success: the stop point given was reached, or the end of the binlogs when none was given " +
		"(and with --verify-against, the target equals the reference)"},
	{1, "error: the replay could not start (nothing was applied; the message says what to check), " +
		"or it stopped (the message names the file, offset and event; the target holds every transaction " +
		"before it and nothing of it, and --resume continues; where a transaction's outcome cannot be known, " +
		"--resume --uncertain applied|not-applied settles it), or, with --verify-against, the target " +
		"differs from the reference"},
	{2, "usage: bad flags or arguments; nothing was applied"},
	{3, "the binlogs ended before the stop point given (--stop-position, --stop-datetime, " +
		"--stop-before-gtid) was reached: everything in them was applied, and the summary says where " +
		"they ended (--stop-never-reached-ok makes this 0)"},
	{130, "interrupted (SIGINT or SIGTERM): stopped at a transaction boundary with the checkpoint saved, " +
		"or, interrupted while starting or waiting to reconnect, with the target as its checkpoint says; " +
		"--resume continues (a second signal exits at once, also with 130)"},
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay", stderr, "usage: binlog-replay replay --target DSN [flags] BINLOG_FILES|DIR|INDEX...\n"+
		"       binlog-replay replay --target DSN --source DSN --source-start FILE:POS|GTID [flags]\n\n"+
		"Applies the binlogs to the target in parallel, committing in source order with a\n"+
		"checkpoint, from the start point given (or the checkpoint, with --resume) to the\n"+
		"stop point given (or the end of the binlogs).",
		replayExitStatuses...)
	var o ReplayOptions
	o.AddFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ro, err := o.options(fs.Args(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay replay: %v\n", err)
		return 2
	}
	if o.DryRun && o.Source != "" && o.Resume {
		fmt.Fprintln(stderr, "binlog-replay replay: --dry-run with --source checks from the start point given; "+
			"with --resume that is the target's checkpoint: rehearse on a fresh staging target instead")
		return 2
	}
	if err := preflight(ctx, &ro, o.FromBackup); err != nil {
		if ctx.Err() != nil {
			// SIGINT or SIGTERM while the target and the binlogs were
			// being checked (soak seed 10096: exit 1 with "context
			// canceled" before).
			fmt.Fprintf(stderr, "binlog-replay replay: interrupted while checking the target and the binlogs (%v) (exit status 130)\n", err)
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "binlog-replay replay: %v\n", err)
		return 1
	}
	display, err := progress.New(o.Progress, o.Verbose, stderr, ro.Files, ro.Select.StopPosition)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay replay: %v\n", err)
		return 2
	}
	if o.DryRun {
		if code := dryRunCheck(ctx, &ro, stderr); code != 0 {
			return code
		}
	}
	var est *pf.ETA
	if o.DryRun || o.Estimate {
		label := "binlog-replay replay --estimate"
		if o.DryRun {
			label = "binlog-replay replay --dry-run"
		}
		var code int
		if est, code = preflightBeforeReplay(ctx, ro, stderr, label); code != 0 {
			return code
		}
		if est != nil {
			display.Expect(progress.Estimate{About: seconds(est.Seconds), Low: seconds(est.LowSeconds), High: seconds(est.HighSeconds)})
		}
	}
	// The budget bounds what the replay keeps live; the soft limit makes
	// the garbage collector keep the heap near it, with room for the rest
	// of the process (connections, the reader's read-ahead, the runtime).
	debug.SetMemoryLimit(memoryLimit(ro.Apply))
	ro.Report.Progress, ro.Report.ProgressInterval = display.Update, display.Interval()
	sum, err := replay.Run(ctx, ro, display.LogWriter())
	var final *replay.Stats
	if sum != nil {
		final = &sum.Stats
	}
	display.Finish(final)
	if sum != nil {
		printReplaySummary(stdout, sum, o.JSON, err)
		if est != nil && err == nil {
			fmt.Fprintf(stderr, "estimate: about %s (%s to %s); the replay took %s\n", seconds(est.Seconds).Round(100*time.Millisecond),
				seconds(est.LowSeconds).Round(100*time.Millisecond), seconds(est.HighSeconds).Round(100*time.Millisecond), sum.Elapsed.Round(100*time.Millisecond))
		}
	}
	var missed *replay.StopNotReachedError
	if errors.As(err, &missed) {
		fmt.Fprintf(stderr, "binlog-replay replay: %v (exit status 3; --stop-never-reached-ok exits 0)\n", err)
		return exitStopNotReached
	}
	var interrupted *replay.InterruptedError
	if errors.As(err, &interrupted) {
		fmt.Fprintf(stderr, "binlog-replay replay: %v (exit status 130)\n", err)
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay replay: %v\n", explainPrivileges(err))
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "binlog-replay replay: interrupted before the stop point: the target holds whole transactions "+
			"up to the checkpoint, and --resume continues (exit status 130)")
		return exitInterrupted
	}
	code := 0
	if o.VerifyAgainst != "" {
		code = verifyAfterReplay(ctx, ro, &o, stdout, stderr)
	}
	if o.DryRun {
		verdict := "not verified (no --verify-against)"
		switch {
		case o.VerifyAgainst != "" && code == 0:
			verdict = "the staging target equals the reference"
		case o.VerifyAgainst != "":
			verdict = "the staging target DIFFERS from the reference"
		}
		fmt.Fprintf(stderr, "dry run: %d transactions applied in %s (%s); %s\n",
			sum.Applied, sum.Elapsed.Round(time.Millisecond), sum.StopReason, verdict)
	}
	return code
}

// dryRunCheck reads the binlogs as plan does, with the replay's selection,
// and returns 1 (after saying why) when the replay would fail on them or
// meet events it cannot apply, before anything is applied. Reading from a
// source server, which may log more in the meantime, the replay is then
// made to stop where the check stopped reading, so that it applies what
// was checked and nothing else.
func dryRunCheck(ctx context.Context, ro *replay.Options, stderr io.Writer) int {
	start := ro.Select.StartPosition
	if ro.Recovery.Resume {
		start = txn.Position{} // the checkpoint decides; check the files whole
	}
	po := plan.Options{Files: ro.Files, StartPosition: start, StartGTIDs: ro.Select.StartGTIDs,
		StopPosition: ro.Select.StopPosition, StopDatetime: ro.Select.StopDatetime, StopBeforeGTID: ro.Select.StopBeforeGTID,
		ExcludeGTIDs: ro.Select.ExcludeGTIDs, Databases: ro.Select.Databases, Tables: ro.Select.Tables, RewriteDB: ro.Select.RewriteDB, SkipUnknown: ro.Recovery.SkipUnknown,
		Analysis: plan.Analysis{HideValues: !ro.Report.LogValues}, NoContinuityCheck: ro.Recovery.NoContinuityCheck}
	if ro.Source.DSN != "" {
		src, err := ro.Source.Remote()
		if err != nil {
			fmt.Fprintf(stderr, "binlog-replay replay --dry-run: %v\n", err)
			return 2
		}
		po.Source = &src
	}
	rep, err := plan.Run(ctx, po)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintf(stderr, "binlog-replay replay --dry-run: interrupted while checking the binlogs (%v): nothing was applied (exit status 130)\n", err)
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay replay --dry-run: check the binlogs: %v\n", err)
		return 1
	}
	p := rep.Problems
	if rep.Replay.Fails && p.ReadError != nil {
		fmt.Fprintf(stderr, "binlog-replay replay --dry-run: nothing applied: the replay would fail on the binlogs: %s\n",
			strings.TrimSpace(p.ReadError.Message))
		return 1
	}
	if rep.Replay.Refused > 0 {
		fmt.Fprintf(stderr, "binlog-replay replay --dry-run: nothing applied: --rewrite-db cannot rename %d transactions "+
			"with certainty (binlog-replay plan with the same flags lists them)\n", rep.Replay.Refused)
		return 1
	}
	fmt.Fprintf(stderr, "dry run: the binlogs read cleanly: %d transactions to apply\n", rep.Replay.Applied)
	if po.Source != nil && rep.Replay.StoppedBefore == nil && rep.Contents.Last != nil {
		ro.Select.StopPosition = rep.Contents.Last.End
		fmt.Fprintf(stderr, "dry run: the source's binlog was checked up to %s; the replay stops there\n", ro.Select.StopPosition)
	}
	return 0
}

// verifyAfterReplay compares the replayed target with the --verify-against
// reference server, over the replay's databases (or all), and prints the
// report. It returns the exit code: 0 identical, 1 different or not
// comparable.
func verifyAfterReplay(ctx context.Context, ro replay.Options, o *ReplayOptions, stdout, stderr io.Writer) int {
	vo := verifyOptions{Target: ro.TargetDSN, Reference: o.reference, ChunkSize: verify.DefaultChunkSize, SampleRows: verify.DefaultSampleRows,
		LogValues: ro.Report.LogValues, targetTLS: ro.TargetTLS, referenceTLS: o.referenceTLS, referenceFlag: "--verify-against"}
	vo.Databases, vo.Tables = strings.Join(ro.Select.Databases, ","), strings.Join(ro.Select.Tables, ",")
	// A transaction skipped may have made a routine, trigger, view or
	// event, and a side database restored for --rewrite-db holds the
	// tables it needs: their tables are compared alone.
	vo.tablesOnly = !ro.Select.ExcludeGTIDs.IsEmpty() || len(ro.Select.RewriteDB) > 0
	if len(ro.Select.RewriteDB) > 0 {
		// The reference holds the binlogs' databases; the target, the
		// renamed ones.
		vo.targetNames = map[string]string{}
		for _, r := range ro.Select.RewriteDB {
			vo.targetNames[r.From] = r.To
		}
	}
	report, err := compareServers(ctx, vo)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay replay: verify: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "verify against the reference:")
	if err := printReport(stdout, report, false); err != nil {
		fmt.Fprintf(stderr, "binlog-replay replay: %v\n", err)
	}
	if !report.Equal() {
		fmt.Fprintln(stderr, "binlog-replay replay: the target differs from the reference")
		return 1
	}
	return 0
}

func printReplaySummary(w io.Writer, s *replay.Summary, asJSON bool, runErr error) {
	if asJSON {
		out := struct {
			*replay.Summary
			Error string `json:"error,omitempty"`
		}{Summary: s}
		if runErr != nil {
			out.Error = runErr.Error()
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	fmt.Fprintf(w, "applied %d transactions (%s of binlog) in %s", s.Applied, bytesize.Human(s.BytesApplied), s.Elapsed.Round(time.Millisecond))
	if secs := s.Elapsed.Seconds(); secs > 0 {
		fmt.Fprintf(w, ", %.0f transactions/s", float64(s.Applied)/secs)
	}
	fmt.Fprintln(w)
	if s.Parallelism > 0 {
		fmt.Fprintf(w, "parallelism: the binlog allowed %.1f groups at once on average (groups per step of the longest dependency chain); %d barriers\n",
			s.Parallelism, s.Barriers)
	}
	if s.SerialTxns > 0 {
		fmt.Fprintf(w, "serial stretches: %d transactions applied in order without computing their write sets (every group waited for the one before)\n", s.SerialTxns)
	}
	switch {
	case s.Apply == replay.ApplySQL:
		fmt.Fprintf(w, "applied %d row events as SQL made from their row images (--apply)\n", s.SQLRowEvents)
		if s.Repacked > 0 {
			fmt.Fprintf(w, "sent %d groups again with one statement per packet: a packet joining several statements could not be checked statement by statement\n", s.Repacked)
		}
	case s.SQLRowEvents > 0:
		fmt.Fprintf(w, "applied %d row events as SQL instead of passthrough (MySQL JSON tables on a MariaDB target)\n", s.SQLRowEvents)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, "skipped %d transactions by GTID filters\n", s.Skipped)
	}
	for typ, n := range s.SkippedEvents {
		fmt.Fprintf(w, "skipped %d %s events (ignorable, or --skip-unknown)\n", n, typ)
	}
	for _, c := range s.CutByCrash {
		fmt.Fprintf(w, "left out %s\n", c)
	}
	if s.Last != nil {
		fmt.Fprintf(w, "last applied: #%d at %s", s.Last.Seq, s.Last.Start)
		if s.Last.GTID != "" {
			fmt.Fprintf(w, " GTID %s", s.Last.GTID)
		}
		fmt.Fprintf(w, ", committed on the source %s\n", s.Last.Time.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if s.StopReason != "" {
		fmt.Fprintf(w, "stop: %s\n", s.StopReason)
	}
	if s.Next.Offset == 0 {
		fmt.Fprintf(w, "checkpoint: next transaction from the start of %s\n", s.Next.File)
		return
	}
	fmt.Fprintf(w, "checkpoint: next transaction at %s\n", s.Next)
}

// parsePosition parses FILE:POS.
func parsePosition(flagName, s string) (txn.Position, error) {
	if s == "" {
		return txn.Position{}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return txn.Position{}, fmt.Errorf("--%s: want FILE:POS, got %q", flagName, s)
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return txn.Position{}, fmt.Errorf("--%s: bad offset in %q: %w", flagName, s, err)
	}
	// Positions name binlog files by base name: a path given is cut to it.
	return txn.Position{File: logfile.Name(s[:i]), Offset: off}, nil
}

// parseDatetime parses a --stop-datetime value: RFC 3339, or
// "YYYY-MM-DD HH:MM:SS[.ffffff]" in the local time zone (as mysqlbinlog).
func parseDatetime(s string) (time.Time, error) {
	t, err := parseDatetimeIn(s, time.Local)
	if err != nil {
		return t, fmt.Errorf("--stop-datetime: %w", err)
	}
	return t, nil
}

// parseDatetimeIn parses a datetime flag's value: RFC 3339, or
// "YYYY-MM-DD HH:MM:SS[.ffffff]" in loc. A wall-clock time loc skips (the
// hour a clock goes forward) or passes twice (the hour it goes back) is
// refused: it names no instant, or two, and a stop point taken an hour
// away from the one meant applies an hour too much or too little.
func parseDatetimeIn(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		t, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			continue
		}
		if asked, _ := time.Parse(layout, s); !wallClock(t.In(loc)).Equal(asked) {
			return time.Time{}, fmt.Errorf("%q does not exist in the time zone %s (its clocks skip it): give the instant in RFC 3339, with its offset", s, loc)
		}
		if other, ok := otherInstant(t, loc); ok {
			return time.Time{}, fmt.Errorf("%q happens twice in the time zone %s (%s and %s): give the instant meant in RFC 3339, with its offset",
				s, loc, t.Format(time.RFC3339), other.Format(time.RFC3339))
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q: want 'YYYY-MM-DD HH:MM:SS' (local time) or RFC 3339", s)
}

// wallClock returns t's wall-clock time as the same time in UTC.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

// otherInstant returns another instant than t that shows the same
// wall-clock time in loc, if there is one within three hours (a clock
// turned back: the time passes twice).
func otherInstant(t time.Time, loc *time.Location) (time.Time, bool) {
	want := wallClock(t.In(loc))
	for d := -3 * time.Hour; d <= 3*time.Hour; d += 15 * time.Minute {
		if u := t.Add(d); d != 0 && wallClock(u.In(loc)).Equal(want) {
			return u, true
		}
	}
	return time.Time{}, false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
