package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/undo"
)

// UndoOptions are the flags of the undo command.
type UndoOptions struct {
	// Target is --target, the target server's DSN; TLS configures its
	// connections.
	Target string
	TLS    tlsFlags
	// The range and how it is applied.
	UndoRangeFlags
	UndoApplyFlags
	DryRun    bool
	Resume    bool
	LogValues bool
	JSON      bool
	// SkipUnknown and NoContinuityCheck read the binlogs as replay does.
	SkipUnknown       bool
	NoContinuityCheck bool
}

// UndoRangeFlags are the undo command's flags that say which transactions
// it undoes, and what it does about later writes to their rows.
type UndoRangeFlags struct {
	StartPosition string
	StartDatetime string
	StopPosition  string
	StopDatetime  string
	GTIDs         string
	Until         string
	OnConflict    string
}

// UndoApplyFlags are the undo command's flags on how the inverse
// transactions are applied.
type UndoApplyFlags struct {
	Workers    int
	GroupTxns  int
	GroupBytes int64
	Memory     byteSize
	NoLogBin   bool
	SpoolDir   string
}

// AddFlags registers the options on fs, with defaults from
// undo.DefaultOptions.
func (o *UndoOptions) AddFlags(fs *flag.FlagSet) {
	d := undo.DefaultOptions()
	fs.StringVar(&o.Target, "target", "", "target server DSN, e.g. 'root@unix(/run/mysqld/mysqld.sock)/' (password from MYSQL_PWD)")
	fs.StringVar(&o.StartPosition, "start-position", "", "the range starts at `FILE:POS` (a transaction boundary: the start of its first transaction)")
	fs.StringVar(&o.StartDatetime, "start-datetime", "", "the range starts with the first transaction committed at or after `TIME` ('2006-01-02 15:04:05' in local time, or RFC 3339)")
	fs.StringVar(&o.StopPosition, "stop-position", "", "the range ends with the last transaction that ends at or before `FILE:POS`")
	fs.StringVar(&o.StopDatetime, "stop-datetime", "", "the range ends before the first transaction committed at or after `TIME`")
	fs.StringVar(&o.GTIDs, "gtids", "", "the range is exactly the transactions of these MariaDB GTID `RANGES` d-s-first..last, comma-separated "+
		"(0-1-5001..5003; 0-1-5003..5003 is that one transaction), instead of the start and stop flags: they must be consecutive "+
		"in the binlogs and each found there once, or nothing is undone")
	fs.StringVar(&o.Until, "until", "", "read the binlogs after the range, for later writes to its rows, only to the transaction ending at or before `FILE:POS` (default: to their end)")
	fs.StringVar(&o.OnConflict, "on-conflict", string(d.Range.OnConflict), "when later transactions wrote rows of the range: refuse (undo nothing, report them) or skip (undo the other rows, report those left)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "report what the undo would change back, and its conflicts, and write nothing")
	fs.BoolVar(&o.Resume, "resume", false, "continue the undo the target's checkpoint names (give the same range and --on-conflict)")
	fs.IntVar(&o.Workers, "workers", d.Apply.Workers, "parallel target connections")
	o.Memory = byteSize(d.Apply.MemoryBudget)
	fs.Var(&o.Memory, "memory", "memory `budget` for transactions between reading and commit, e.g. 256M; a larger one is applied in pieces")
	fs.IntVar(&o.GroupTxns, "group-txns", d.Apply.GroupTxns, "most inverse transactions committed together in one target transaction")
	fs.Int64Var(&o.GroupBytes, "group-bytes", d.Apply.GroupBytes, "most binlog bytes committed together in one target transaction")
	fs.BoolVar(&o.NoLogBin, "no-log-bin", false, "keep the undo out of the target's binary log (SET sql_log_bin=0): its replicas do not get it")
	fs.BoolVar(&o.LogValues, "log-values", false, "let errors and reports show data values (the keys of conflicting or changed rows, values quoted by the server); by default they are replaced by ?")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as JSON on stdout")
	fs.StringVar(&o.SpoolDir, "spool-dir", "", "`DIR` for the file holding the range's inverse row events while the undo runs, about the size of the range's row events (default: $TMPDIR)")
	fs.BoolVar(&o.SkipUnknown, "skip-unknown", false, "skip events that are not understood (counted) instead of stopping")
	fs.BoolVar(&o.NoContinuityCheck, "no-continuity-check", false,
		"read on where a binlog file does not carry on from the one before it (after RESET MASTER TO, DELETE_DOMAIN_ID, a changed gtid_binlog_state or gtid_purged)")
	o.TLS.addFlags(fs, "", "target")
}

// options turns the flags and file arguments into undo options. Warnings
// (a password on the command line) go to warn.
func (o *UndoOptions) options(args []string, warn io.Writer) (undo.Options, error) {
	uo := undo.DefaultOptions()
	var err error
	if uo.Files, err = resolveBinlogFiles(args); err != nil {
		return uo, err
	}
	if uo.TargetDSN, err = resolveDSN("target", o.Target, warn); err != nil {
		return uo, err
	}
	if uo.TargetTLS, err = o.TLS.config(); err != nil {
		return uo, err
	}
	if uo.Range.StartPosition, err = parsePosition("start-position", o.StartPosition); err != nil {
		return uo, err
	}
	if uo.Range.StopPosition, err = parsePosition("stop-position", o.StopPosition); err != nil {
		return uo, err
	}
	if uo.Range.Until, err = parsePosition("until", o.Until); err != nil {
		return uo, err
	}
	if uo.Range.StartDatetime, err = parseDatetimeFlag("start-datetime", o.StartDatetime); err != nil {
		return uo, err
	}
	if uo.Range.StopDatetime, err = parseDatetimeFlag("stop-datetime", o.StopDatetime); err != nil {
		return uo, err
	}
	if uo.Range.GTIDs, err = filter.ParseGTIDRanges(o.GTIDs); err != nil {
		return uo, fmt.Errorf("--gtids: %w", err)
	}
	if uo.Range.OnConflict, err = undo.ParseConflictMode(o.OnConflict); err != nil {
		return uo, err
	}
	uo.DryRun, uo.Resume, uo.LogValues, uo.Apply.NoLogBin = o.DryRun, o.Resume, o.LogValues, o.NoLogBin
	uo.Apply.Workers, uo.Apply.GroupTxns, uo.Apply.GroupBytes, uo.Apply.MemoryBudget = o.Workers, o.GroupTxns, o.GroupBytes, int64(o.Memory)
	uo.SkipUnknown, uo.NoContinuityCheck, uo.Apply.SpoolDir = o.SkipUnknown, o.NoContinuityCheck, o.SpoolDir
	return uo, uo.Validate()
}

// parseDatetimeFlag parses the value of the datetime flag name (see
// parseDatetime).
func parseDatetimeFlag(name, s string) (time.Time, error) {
	t, err := parseDatetimeIn(s, time.Local)
	if err != nil {
		return t, fmt.Errorf("--%s: %w", name, err)
	}
	return t, nil
}

// exitConflicts is the exit status of an undo refused because later
// transactions wrote rows of its range.
const exitConflicts = 3

// undoExitStatuses are the exit statuses of the undo command, for its -h.
var undoExitStatuses = []exitStatus{
	{0, "success: the whole range is undone (with --on-conflict skip, but for the rows the summary lists as left); " +
		"with --dry-run, it can be undone"},
	{1, "error: nothing was written when the undo was refused (the message says what cannot be undone: DDL, statement-format " +
		"DML, non-transactional tables, row images that are not FULL, cascading foreign keys) or could not start; or it " +
		"stopped (the message names the transaction, event and rows: a row changed outside the binlogs is reported, never " +
		"overwritten; what was undone before it stays committed with the checkpoint, and --resume continues)"},
	{2, "usage: bad flags or arguments; nothing was written"},
	{3, "refused: later transactions wrote rows of the range (the report names each table, its rows, and the first " +
		"such transaction); nothing was written; --on-conflict skip undoes the other rows"},
	{130, "interrupted (SIGINT or SIGTERM): stopped at a transaction boundary with the checkpoint saved, or before writing anything " +
		"(while reading the range or scanning the later binlogs); --resume continues, or the same command once nothing was undone"},
}

func runUndo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("undo", stderr, "usage: binlog-replay undo --target DSN --start-position FILE:POS --stop-position FILE:POS [flags] BINLOG_FILES|DIR|INDEX...\n"+
		"       binlog-replay undo --target DSN --start-datetime TIME --stop-datetime TIME [flags] BINLOG_FILES|DIR|INDEX...\n"+
		"       binlog-replay undo --target DSN --gtids D-S-FIRST..LAST[,...] [flags] BINLOG_FILES|DIR|INDEX...\n\n"+
		"Reverses a range of the binlogs on the target: each row change of the range undone, the\n"+
		"last first (a deleted row inserted back whole, an inserted row deleted, an updated row set\n"+
		"back), in parallel with commits in order and a checkpoint, as replay applies. Before\n"+
		"writing anything it reads the binlogs after the range and refuses when later\n"+
		"transactions wrote rows of the range (see --on-conflict); each row is checked on the\n"+
		"target before it is changed back, and one changed outside the binlogs stops the undo.",
		undoExitStatuses...)
	var o UndoOptions
	o.AddFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	uo, err := o.options(fs.Args(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay undo: %v\n", err)
		return 2
	}
	debug.SetMemoryLimit(uo.Apply.MemoryBudget + memoryHeadroom)
	sum, err := undo.Run(ctx, uo, stderr)
	if sum != nil && (sum.RangeTxns > 0 || sum.Finished) {
		printUndoSummary(stdout, sum, o.JSON, err)
	}
	var ce *undo.ConflictError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "binlog-replay undo: %v", err)
		return exitConflicts
	case err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Cut short before the apply's own boundary: while reading the
		// range or scanning the later binlogs, or starting.
		var undone uint64
		if sum != nil {
			undone = sum.Undone
		}
		fmt.Fprintf(stderr, "binlog-replay undo: interrupted (%v): the target holds whole inverse transactions up to its checkpoint "+
			"(%d by this run); the same command continues, with --resume once any was undone (exit status 130)\n", err, undone)
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(stderr, "binlog-replay undo: %v\n", explainPrivileges(err))
		return 1
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "binlog-replay undo: interrupted: the target holds whole inverse transactions up to the checkpoint, "+
			"and --resume continues (exit status 130)")
		return exitInterrupted
	}
	return 0
}

// printUndoSummary prints what the undo did (or would do).
func printUndoSummary(w io.Writer, s *undo.Summary, asJSON bool, runErr error) {
	if asJSON {
		out := struct {
			*undo.Summary
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
	if s.RangeTxns == 0 && s.Finished {
		fmt.Fprintf(w, "finished: the range %s..%s is undone\n", s.RangeStart, s.RangeEnd)
		return
	}
	if s.RangeTxns > 0 {
		fmt.Fprintf(w, "range: %d transactions, from %s to %s\n", s.RangeTxns, s.RangeStart, s.RangeEnd)
		if !s.ScannedTo.IsZero() {
			fmt.Fprintf(w, "later writes: %d transactions read after the range, to %s\n", s.LaterTxns, s.ScannedTo)
		}
	}
	verb := "changed back"
	switch {
	case s.DryRun && len(s.Left) > 0:
		verb = "of the range (but for those left as they are, below)"
	case s.DryRun:
		verb = "to change back"
	case s.Undone > 0 || s.Finished || !s.Next.IsZero():
		fmt.Fprintf(w, "undone %d transactions in %s\n", s.Undone, s.Elapsed.Round(time.Millisecond))
	}
	if len(s.Tables) > 0 {
		fmt.Fprintf(w, "rows %s, per table:\n", verb)
		for _, t := range s.Tables {
			var parts []string
			for _, p := range []struct {
				n    int64
				what string
			}{{t.Inserted, "inserted back"}, {t.Deleted, "deleted"}, {t.Updated, "updated back"}} {
				if p.n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
				}
			}
			fmt.Fprintf(w, "  %s: %s\n", t.Table, strings.Join(parts, ", "))
		}
	}
	if len(s.Left) > 0 {
		fmt.Fprintf(w, "left as they are (later transactions wrote them; --on-conflict skip):\n%s", undo.FormatConflicts(s.Left, "  "))
	}
	switch {
	case s.DryRun:
		fmt.Fprintln(w, "dry run: nothing written")
	case s.Finished:
		fmt.Fprintf(w, "finished: the range %s..%s is undone\n", s.RangeStart, s.RangeEnd)
	case !s.Next.IsZero():
		fmt.Fprintf(w, "checkpoint: the range is undone from %s to its end; --resume continues\n", s.Next)
	}
}
