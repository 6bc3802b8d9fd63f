package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/filter"
	pf "github.com/binlog-replay/binlog-replay/preflight"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/rewrite"
)

// PreflightOptions are the flags of the preflight command: the target,
// the replay's start, stop and filter flags, and what the estimate is for.
type PreflightOptions struct {
	SelectionFlags
	Target        string
	Workers       int
	NoLogBin      bool
	Compact       bool
	Apply         string
	JSON          bool
	ScratchSchema string
	Commits       int
	Sample        int
	TLS           tlsFlags
}

// AddFlags registers the options on fs; the flags the replay command has
// too have its names, defaults and help.
func (o *PreflightOptions) AddFlags(fs *flag.FlagSet) {
	d := replay.DefaultOptions()
	fs.StringVar(&o.Target, "target", "", "target server DSN, e.g. 'root@unix(/run/mysqld/mysqld.sock)/' (password from MYSQL_PWD)")
	o.SelectionFlags.AddFlags(fs)
	fs.IntVar(&o.Workers, "workers", d.Apply.Workers, "the replay's worker count, which the estimate is for (0: the replay's default on a local target)")
	fs.BoolVar(&o.NoLogBin, "no-log-bin", false, "the replay will run with --no-log-bin (out of the target's binlog): the estimate and the disk check count no binlog writes")
	fs.BoolVar(&o.Compact, "compact", d.Apply.Compact, "the replay will compact its groups (as replay --compact, the default): the apply probe compacts its groups too; "+
		"--compact=false for a replay run with --compact=false")
	fs.StringVar(&o.Apply, "apply", string(d.Apply.Mode), "how the replay will apply row events (auto, binlog or sql, as replay --apply): "+
		"an account that may not run BINLOG statements fails the check with binlog, and only warns with auto (the replay applies them as SQL)")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON on stdout")
	fs.StringVar(&o.ScratchSchema, "scratch-schema", pf.DefaultScratchSchema, "the `database` the probe creates on the target and drops afterwards "+
		"(without CREATE there, it uses preflight_* tables in binlog_replay)")
	fs.IntVar(&o.Commits, "commits", 300, "small commits the commit probe times")
	fs.IntVar(&o.Sample, "sample", 10000, "most of the binlogs' first transactions the apply probe applies to scratch copies of their tables")
	o.TLS.addFlags(fs, "", "target")
}

// options turns the flags and file arguments into preflight options.
// Warnings (a password on the command line) go to warn.
func (o *PreflightOptions) options(args []string, warn io.Writer) (pf.Options, error) {
	var po pf.Options
	files, err := resolveBinlogFiles(args)
	if err != nil {
		return po, err
	}
	if po.TargetDSN, err = resolveDSN("target", o.Target, warn); err != nil {
		return po, err
	}
	if po.TargetTLS, err = o.TLS.config(); err != nil {
		return po, err
	}
	if strings.EqualFold(strings.TrimSpace(o.StartGTID), "target") {
		return po, fmt.Errorf("--start-gtid target: give the set the target holds (SELECT @@gtid_current_pos on it), or --start-position")
	}
	start, f, err := o.SelectionFlags.parse(files)
	if err != nil {
		return po, err
	}
	switch {
	case o.Workers < 0:
		return po, fmt.Errorf("--workers must be at least 1 (or 0: the replay's default), got %d", o.Workers)
	case o.Commits < 10:
		return po, fmt.Errorf("--commits must be at least 10, got %d", o.Commits)
	case o.Sample < 500:
		return po, fmt.Errorf("--sample must be at least 500 (a smaller sample times mostly its fixed costs), got %d", o.Sample)
	case o.ScratchSchema == "" || o.ScratchSchema == replay.CheckpointSchema:
		return po, fmt.Errorf("--scratch-schema must name a database of its own, not %q", o.ScratchSchema)
	}
	apply, err := replay.ParseApplyMode(o.Apply)
	if err != nil {
		return po, err
	}
	po.Apply = string(apply)
	po.Selection = pf.Selection{Files: files, Start: start, Filter: f, SkipUnknown: o.SkipUnknown, NoContinuityCheck: o.NoContinuityCheck,
		RewriteDB: rewrite.Rules(o.RewriteDB)}
	po.Workers, po.NoLogBin, po.Compact, po.ScratchSchema, po.Commits, po.SampleTxns = o.Workers, o.NoLogBin, o.Compact, o.ScratchSchema, o.Commits, o.Sample
	return po, nil
}

// preflightExitStatuses are the exit statuses of the preflight command.
var preflightExitStatuses = []exitStatus{
	{0, "no check failed (warnings, if any, are in the report)"},
	{1, "a check failed: the replay would fail on it (max_allowed_packet smaller than a statement it must send, too little disk space, " +
		"a missing privilege); or the binlogs could not be read or the target reached"},
	{2, "usage: bad flags or arguments"},
}

func runPreflight(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("preflight", stderr, "usage: binlog-replay preflight --target DSN [flags] BINLOG_FILES|DIR|INDEX...\n\n"+
		"Checks the restored target before a replay: probes its commits and apply rate in a\n"+
		"scratch schema it drops afterwards, reads the settings and privileges that decide the\n"+
		"recovery's speed and safety (what each costs, what to set and set back; it changes\n"+
		"none), compares the binlogs' largest statement with max_allowed_packet and their\n"+
		"growth with the free disk, and estimates how long the replay will take.",
		preflightExitStatuses...)
	var o PreflightOptions
	o.AddFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	po, err := o.options(fs.Args(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay preflight: %v\n", err)
		return 2
	}
	if err := checkServer(ctx, "target", po.TargetDSN, po.TargetTLS, connectTimeout); err != nil {
		fmt.Fprintf(stderr, "binlog-replay preflight: %v\n", err)
		return 1
	}
	po.Log = stderr
	rep, err := pf.Run(ctx, po)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay preflight: %v\n", err)
		return 1
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = pf.WriteText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay preflight: write report: %v\n", err)
		return 1
	}
	if failed := rep.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, c := range failed {
			names[i] = c.Name
		}
		fmt.Fprintf(stderr, "binlog-replay preflight: the replay would fail: %s\n", strings.Join(names, "; "))
		return 1
	}
	return 0
}

// preflightBeforeReplay runs the preflight checks and estimate before a
// replay (--dry-run, --estimate), on the replay's target, binlogs and
// selection, and prints them to stderr. It returns the estimate (nil when
// none was made) and 1 (nothing applied) when a check fails. Reading from
// a source server or resuming, it says it does not run (the preflight
// reads files from a start point); a preflight that cannot run is said
// and the replay goes on.
func preflightBeforeReplay(ctx context.Context, ro replay.Options, stderr io.Writer, label string) (*pf.ETA, int) {
	if ro.Source.DSN != "" || ro.Recovery.Resume || ro.Select.StartGTIDsFromTarget {
		fmt.Fprintf(stderr, "%s: preflight checks not run (they read binlog files from a start point: not with --source, --resume or --start-gtid target)\n", label)
		return nil, 0
	}
	po := pf.Options{TargetDSN: ro.TargetDSN, TargetTLS: ro.TargetTLS,
		Selection: pf.Selection{Files: ro.Files, Start: ro.Select.StartPosition, SkipUnknown: ro.Recovery.SkipUnknown, NoContinuityCheck: ro.Recovery.NoContinuityCheck, RewriteDB: ro.Select.RewriteDB,
			Filter: filter.Options{Files: ro.Files, StartGTIDs: ro.Select.StartGTIDs, ExcludeGTIDs: ro.Select.ExcludeGTIDs, StopPosition: ro.Select.StopPosition,
				StopDatetime: ro.Select.StopDatetime, StopBeforeGTID: ro.Select.StopBeforeGTID, Databases: ro.Select.Databases, Tables: ro.Select.Tables}},
		Workers: ro.Apply.Workers, GroupTxns: ro.Apply.GroupTxns, GroupBytes: ro.Apply.GroupBytes, NoLogBin: ro.Apply.NoLogBin, Compact: ro.Apply.Compact, Apply: string(ro.Apply.Mode), Log: stderr}
	rep, err := pf.Run(ctx, po)
	if err != nil {
		fmt.Fprintf(stderr, "%s: preflight checks could not run: %v\n", label, err)
		return nil, 0
	}
	if err := pf.WriteText(stderr, rep); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", label, err)
	}
	if len(rep.Failed()) > 0 {
		fmt.Fprintf(stderr, "%s: nothing applied: a preflight check failed (above)\n", label)
		return nil, 1
	}
	if rep.ETA.Seconds <= 0 {
		return nil, 0
	}
	return &rep.ETA, 0
}

// seconds converts a count of seconds to a duration.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}
