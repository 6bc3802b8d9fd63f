package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/bench"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/replay"
)

// durationTxnCap is the transaction cap of a --duration workload when
// --txns is not given.
const durationTxnCap = 1_000_000

// BenchOptions are the flags of the bench command.
type BenchOptions struct {
	Profiles      string
	Workers       string
	GroupTxns     string
	Apply         string
	Compact       string
	Binlogs       string
	StartPosition string
	Plot          string
	JSON          bool
	bench.Options
}

// AddFlags registers the options on fs, with defaults from bench.DefaultOptions.
func (o *BenchOptions) AddFlags(fs *flag.FlagSet) {
	o.Options = bench.DefaultOptions()
	names := make([]string, len(o.Options.Workload.Profiles))
	for i, p := range o.Options.Workload.Profiles {
		names[i] = string(p)
	}
	workers := make([]string, len(o.Options.Methods.Workers))
	for i, w := range o.Options.Methods.Workers {
		workers[i] = strconv.Itoa(w)
	}
	fs.StringVar(&o.Profiles, "profiles", strings.Join(names, ","), "comma-separated workload `profiles`, or all")
	fs.StringVar(&o.Workers, "workers", strings.Join(workers, ","), "comma-separated binlog-replay worker `counts` to measure (0: the replay's default, chosen from the processors and the round trip)")
	fs.StringVar(&o.GroupTxns, "group-txns", "0", "comma-separated binlog-replay group `sizes` (--group-txns) to measure with every worker count (0: adaptive, the replay's default)")
	fs.StringVar(&o.Apply, "apply", "binlog", "comma-separated `ways` binlog-replay applies row events, each measured with every worker count: "+
		"binlog (passed through in BINLOG statements), sql (as SQL made from the row images, --apply sql)")
	fs.StringVar(&o.Compact, "compact", "on", "comma-separated: on, off: binlog-replay with net-effect compaction (its default) and without (--compact=false), each measured with every worker count")
	fs.Int64Var(&o.Workload.Seed, "seed", o.Workload.Seed, "workload random seed")
	fs.IntVar(&o.Workload.Scale, "scale", o.Workload.Scale, "rows per table in the base")
	fs.IntVar(&o.Workload.Txns, "txns", o.Workload.Txns, "transactions in the workload (with --duration: the most)")
	fs.DurationVar(&o.Workload.Duration, "duration", 0, "run each workload for this long instead of --txns transactions")
	fs.IntVar(&o.Workload.Threads, "threads", o.Workload.Threads, "client sessions generating the workload")
	fs.IntVar(&o.Workload.Tables, "tables", o.Workload.Tables, "tables of the oltp and oltp-special profiles")
	fs.IntVar(&o.Methods.Repeat, "repeat", o.Methods.Repeat, "runs per method (the median is reported, with the spread)")
	fs.BoolVar(&o.Env.Durable, "durable", o.Env.Durable, "targets commit durably (innodb_flush_log_at_trx_commit=1)")
	fs.BoolVar(&o.Methods.Native, "native", false, "also measure MariaDB's own parallel replication applying the same binlogs to the same base")
	fs.IntVar(&o.Methods.NativeThreads, "native-threads", o.Methods.NativeThreads, "slave_parallel_threads for --native")
	fs.StringVar(&o.Methods.NativeMode, "native-mode", o.Methods.NativeMode, "slave_parallel_mode for --native: optimistic or conservative")
	fs.BoolVar(&o.Methods.Limit, "limit", false, "also measure the limit: the statements binlog-replay sends (default grouping), prepared in advance and sent back to back by one session")
	fs.DurationVar(&o.Env.TargetLatency, "target-latency", 0, "add this to every round trip to the targets: every method reaches its target over TCP through a proxy holding each byte for half of it each way (--native: the replica reaches its source through one)")
	fs.DurationVar(&o.Env.CommitLatency, "commit-latency", 0, "make every fsync and fdatasync of the targets wait this long first, as on a network-attached disk (a library preloaded into mariadbd, built with cc); needs --durable")
	fs.StringVar(&o.Binlogs, "binlogs", "", "benchmark these binlogs (a `DIR`, an index file, or comma-separated files) instead of a generated workload; needs --base")
	fs.StringVar(&o.Existing.Base, "base", "", "restored base `DATADIR` the --binlogs apply to (copied, never modified); targets are checked against the anchor's")
	fs.StringVar(&o.StartPosition, "start-position", "", "with --binlogs: where the base leaves off, `FILE:POS` (default: the first file's beginning)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the bases and every stopped server (datadirs, binlogs, error logs) in the temp dir for inspection")
	fs.StringVar(&o.Plot, "plot", "", "also write a bar chart of the apply times to `FILE`: PNG or SVG, by its extension (.png, .svg)")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&o.LogValues, "log-values", false, "let failed applies' errors and the verification report show data values (by default replaced by ?)")
}

// parse turns the list flags into options and validates them. set holds
// the names of the flags given on the command line.
func (o *BenchOptions) parse(set map[string]bool) error {
	o.Options.Workload.Profiles = nil
	for _, name := range splitList(o.Profiles) {
		if name == "all" {
			o.Options.Workload.Profiles = workload.Profiles()
			break
		}
		p := workload.Profile(name)
		if !slices.Contains(workload.Profiles(), p) {
			return fmt.Errorf("--profiles: unknown profile %q (known: %v)", name, workload.Profiles())
		}
		o.Options.Workload.Profiles = append(o.Options.Workload.Profiles, p)
	}
	o.Options.Methods.Workers = nil
	for _, s := range splitList(o.Workers) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("--workers: %w", err)
		}
		o.Options.Methods.Workers = append(o.Options.Methods.Workers, n)
	}
	o.Options.Methods.GroupTxns = nil
	for _, s := range splitList(o.GroupTxns) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("--group-txns: %w", err)
		}
		o.Options.Methods.GroupTxns = append(o.Options.Methods.GroupTxns, n)
	}
	o.Options.Methods.Apply = nil
	for _, s := range splitList(o.Apply) {
		a, err := replay.ParseApplyMode(s)
		if err != nil || a == replay.ApplyAuto {
			return fmt.Errorf("--apply: %q: want binlog or sql", s)
		}
		o.Options.Methods.Apply = append(o.Options.Methods.Apply, a)
	}
	o.Options.Methods.Compact = nil
	for _, s := range splitList(o.Compact) {
		switch s {
		case "off":
			o.Options.Methods.Compact = append(o.Options.Methods.Compact, false)
		case "on":
			o.Options.Methods.Compact = append(o.Options.Methods.Compact, true)
		default:
			return fmt.Errorf("--compact: %q: want off or on", s)
		}
	}
	if o.Workload.Duration > 0 && !set["txns"] {
		o.Workload.Txns = durationTxnCap
	}
	if o.Binlogs != "" {
		files, err := logfile.Resolve(splitList(o.Binlogs))
		if err != nil {
			return fmt.Errorf("--binlogs: %w", err)
		}
		o.Options.Existing.Binlogs = files
		if set["profiles"] || set["scale"] || set["txns"] || set["duration"] || set["threads"] || set["tables"] || set["seed"] {
			return errors.New("--binlogs replaces the generated workload: do not also give --profiles, --scale, --txns, --duration, --threads, --tables or --seed")
		}
	}
	if o.Plot != "" {
		if _, err := bench.ChartFormat(o.Plot); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	if o.StartPosition != "" && o.Binlogs == "" {
		return errors.New("--start-position is for --binlogs")
	}
	start, err := parsePosition("start-position", o.StartPosition)
	if err != nil {
		return err
	}
	o.Existing.Start = start
	return o.Options.Validate()
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", stderr, "usage: binlog-replay bench [flags]\n\n"+
		"Generates a workload on a throwaway MariaDB source (binlog on, ROW), takes a base\n"+
		"before it, then applies the same binlogs to identical targets restored from the base\n"+
		"with mariadb-binlog | mariadb and with binlog-replay (and with --native, MariaDB's own\n"+
		"parallel replication; with --limit, the target fed prepared statements by one session),\n"+
		"times only the apply, reports the CPU the target, the tool and the machine used, and\n"+
		"verifies every target against the source. --target-latency and --commit-latency make\n"+
		"the targets remote or their disks slow. With --binlogs and --base: your own binlogs\n"+
		"and base, checked against the anchor's result.",
		exitStatus{0, "every method applied the binlogs and every target was verified"},
		exitStatus{1, "error: an apply failed, a target differs, or the bench could not run (servers, files)"},
		exitStatus{2, "usage: bad flags or arguments"})
	var o BenchOptions
	o.AddFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "binlog-replay bench: unexpected arguments %v\n", fs.Args())
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := o.parse(set); err != nil {
		fmt.Fprintf(stderr, "binlog-replay bench: %v\n", err)
		return 2
	}
	o.Log = stderr
	begin := time.Now()
	rep, err := bench.Run(ctx, o.Options)
	if rep != nil {
		if werr := writeBenchReport(stdout, &o, rep); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	switch {
	case errors.Is(err, bench.ErrNotVerified):
		fmt.Fprintf(stderr, "binlog-replay bench: FAILED (see above): %v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "binlog-replay bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "binlog-replay bench: done in %s, every target verified\n", time.Since(begin).Round(time.Second))
	return 0
}

// writeBenchReport prints the report as text or JSON and writes the chart.
func writeBenchReport(stdout io.Writer, o *BenchOptions, rep *bench.Report) error {
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else if err := bench.WriteText(stdout, rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if o.Plot == "" {
		return nil
	}
	format, err := bench.ChartFormat(o.Plot)
	if err != nil {
		return err
	}
	f, err := os.Create(o.Plot)
	if err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	if err := bench.WriteChart(f, rep, format); err != nil {
		f.Close()
		return fmt.Errorf("write chart %s: %w", o.Plot, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart %s: %w", o.Plot, err)
	}
	return nil
}
