// Command binlog-replay rolls a restored MySQL or MariaDB server forward
// with binary logs, in parallel, with commits in source order.
//
// Usage:
//
//	binlog-replay replay --target DSN [flags] BINLOGS...
//	binlog-replay replay --target DSN --source DSN --source-start FILE:POS|GTID [flags]
//	binlog-replay undo --target DSN --start-position FILE:POS --stop-position FILE:POS [flags] BINLOGS...
//	binlog-replay verify --target DSN --reference DSN [flags]
//	binlog-replay plan [flags] BINLOGS...
//	binlog-replay preflight --target DSN [flags] BINLOGS...
//	binlog-replay bench [flags]
//	binlog-replay version
//
// Run "binlog-replay COMMAND -h" for a command's flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	// Local times in datetime flags follow TZ, also where the machine
	// has no time zone database.
	_ "time/tzdata"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: it parses its own flags and returns the
// process exit code.
type command struct {
	name  string
	short string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"replay", "apply binlogs to a target server", runReplay},
		{"undo", "reverse a range of the binlogs on a target server (an accidental DELETE, UPDATE...)", runUndo},
		{"verify", "compare the data of two servers table by table", runVerify},
		{"bench", "measure the speed-up over mariadb-binlog | mariadb on this machine, verified", runBench},
		{"plan", "analyse binlogs without a server: contents, stop-point candidates, parallelism", runPlan},
		{"preflight", "check the target's health, settings and privileges, and estimate how long the replay will take", runPreflight},
		{"version", "print the version, git revision and build of this binary (also --version)", runVersion},
	}
}

// runMain runs the command args name and returns the process exit status.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return 0
	case "--version", "-version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		ctx, stop := interruptContext(stderr)
		defer stop()
		return c.run(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "binlog-replay: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: binlog-replay COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nRun 'binlog-replay COMMAND -h' for a command's flags and exit statuses.")
}

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM (commands then stop at a safe point); a second signal exits at once.
func interruptContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(stderr, "\nbinlog-replay: stopping at the next transaction boundary (interrupt again to exit at once)")
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(stderr, "binlog-replay: exiting now; the target holds only whole transactions and --resume continues")
			os.Exit(130)
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}
