package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/bench"
	"github.com/binlog-replay/binlog-replay/workload"
)

// BenchOptions are the flags of the bench command.
type BenchOptions struct {
	Profiles string
	Workers  string
	JSON     bool
	bench.Options
}

// AddFlags registers the options on fs, with defaults from bench.DefaultOptions.
func (o *BenchOptions) AddFlags(fs *flag.FlagSet) {
	o.Options = bench.DefaultOptions()
	names := make([]string, len(o.Options.Profiles))
	for i, p := range o.Options.Profiles {
		names[i] = string(p)
	}
	fs.StringVar(&o.Profiles, "profiles", strings.Join(names, ","), "comma-separated workload `profiles`, or all")
	fs.StringVar(&o.Workers, "workers", "1,4,8", "comma-separated binlog-replay worker `counts` to measure")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "workload random seed")
	fs.IntVar(&o.Scale, "scale", o.Scale, "rows per table in the base")
	fs.IntVar(&o.Txns, "txns", o.Txns, "transactions in the workload")
	fs.IntVar(&o.Threads, "threads", o.Threads, "client sessions generating the workload")
	fs.IntVar(&o.Tables, "tables", o.Tables, "tables of the oltp profile")
	fs.IntVar(&o.Repeat, "repeat", o.Repeat, "runs per method (the median is reported, with the spread)")
	fs.BoolVar(&o.Durable, "durable", o.Durable, "targets commit durably (innodb_flush_log_at_trx_commit=1)")
	fs.BoolVar(&o.Native, "native", false, "also measure MariaDB's own parallel replication applying the same binlogs to the same base")
	fs.IntVar(&o.NativeThreads, "native-threads", o.NativeThreads, "slave_parallel_threads for --native")
	fs.StringVar(&o.NativeMode, "native-mode", o.NativeMode, "slave_parallel_mode for --native: optimistic or conservative")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
}

func (o *BenchOptions) parse() error {
	o.Options.Profiles = nil
	for _, name := range splitList(o.Profiles) {
		if name == "all" {
			o.Options.Profiles = workload.Profiles()
			break
		}
		p := workload.Profile(name)
		if !slices.Contains(workload.Profiles(), p) {
			return fmt.Errorf("--profiles: unknown profile %q", name)
		}
		o.Options.Profiles = append(o.Options.Profiles, p)
	}
	o.Options.Workers = nil
	for _, s := range splitList(o.Workers) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("--workers: %w", err)
		}
		o.Options.Workers = append(o.Options.Workers, n)
	}
	return o.Options.Validate()
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: binlog-replay bench [flags]\n\nGenerates a workload on a throwaway MariaDB source, then applies the same binlogs to\nidentical targets restored from the base with mariadb-binlog | mariadb and with\nbinlog-replay, times the apply and verifies every target against the source.\nExit status 1 if any target differs.")
		fs.PrintDefaults()
	}
	var o BenchOptions
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := o.parse(); err != nil {
		fmt.Fprintf(stderr, "binlog-replay bench: %v\n", err)
		return 2
	}
	o.Log = stderr
	rep, err := bench.Run(ctx, o.Options)
	if rep != nil {
		if o.JSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			_ = bench.WriteText(stdout, rep)
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "binlog-replay bench: %v\n", err)
		return 1
	case !rep.Verified():
		fmt.Fprintln(stderr, "binlog-replay bench: a target differs from its source (see above)")
		return 1
	}
	return 0
}
