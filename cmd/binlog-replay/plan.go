package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/rewrite"
)

// PlanOptions are the flags of the plan command: the replay command's
// start, stop and filter flags, and the analysis's own.
type PlanOptions struct {
	SelectionFlags
	SourceFlags
	BigRows   int
	Workers   string
	TableKeys bool
	HotKeys   int
	JSON      bool
	// LogValues shows data values: statement literals and hot key values.
	LogValues bool
	// LowerCaseTableNames is the target's lower_case_table_names, which
	// the replay reads and the plan is told (plan.Options.FoldCase).
	LowerCaseTableNames int
}

// AddFlags registers the options on fs. The replay flags have the replay
// command's names and help.
func (o *PlanOptions) AddFlags(fs *flag.FlagSet) {
	o.SourceFlags.AddFlags(fs)
	o.SelectionFlags.AddFlags(fs)
	fs.IntVar(&o.BigRows, "big-rows", 1000, "a DELETE or UPDATE of more than `N` rows in one transaction is a stop-point candidate")
	fs.StringVar(&o.Workers, "workers", "1,2,4,8,16,32", "worker `COUNTS` to simulate, comma-separated")
	fs.BoolVar(&o.TableKeys, "table-keys", false, "key every row write by its table, even where the binlog logs the primary key")
	fs.IntVar(&o.HotKeys, "hot-keys", 10, "how many of the most touched keys to list")
	fs.BoolVar(&o.JSON, "json", false, "print the whole report as JSON")
	fs.BoolVar(&o.LogValues, "log-values", false, "show data values: the literals of the statements at stop points and the values of hot keys (by default replaced by ?)")
	fs.IntVar(&o.LowerCaseTableNames, "lower-case-table-names", 0, "the target's lower_case_table_names (`N`: 0, 1 or 2), which the replay reads: "+
		"with 1 or 2, --databases and --tables compare names in lower case")
}

// options turns the flags and file arguments into plan options. Warnings
// (a password on the command line) go to warn.
func (o *PlanOptions) options(args []string, warn io.Writer) (plan.Options, error) {
	var po plan.Options
	var err error
	if err := o.SourceFlags.check(args); err != nil {
		return po, err
	}
	if o.Source == "" {
		if po.Files, err = resolveBinlogFiles(args); err != nil {
			return po, err
		}
	}
	start, f, err := o.SelectionFlags.parse(po.Files)
	if err != nil {
		return po, err
	}
	if o.Source != "" {
		src, err := o.SourceFlags.options(o.StartGTID, &start, &f, warn)
		if err != nil {
			return po, err
		}
		rs, err := src.Remote()
		if err != nil {
			return po, err
		}
		po.Source = &rs
	}
	po.StartPosition, po.StartGTIDs, po.ExcludeGTIDs = start, f.StartGTIDs, f.ExcludeGTIDs
	po.StopPosition, po.StopDatetime, po.StopBeforeGTID = f.StopPosition, f.StopDatetime, f.StopBeforeGTID
	po.Databases, po.Tables, po.RewriteDB = f.Databases, f.Tables, rewrite.Rules(o.RewriteDB)
	if o.LowerCaseTableNames < 0 || o.LowerCaseTableNames > 2 {
		return po, fmt.Errorf("--lower-case-table-names %d: want 0, 1 or 2", o.LowerCaseTableNames)
	}
	po.FoldCase = o.LowerCaseTableNames != 0
	po.SkipUnknown, po.TableKeys, po.HideValues, po.NoContinuityCheck = o.SkipUnknown, o.TableKeys, !o.LogValues, o.NoContinuityCheck
	if o.FromBackup != "" {
		if po.HotBase, err = replay.ReadHotBase(o.FromBackup); err != nil {
			return po, err
		}
	}
	if o.BigRows < 1 {
		return po, fmt.Errorf("--big-rows must be at least 1, got %d", o.BigRows)
	}
	if o.HotKeys < 1 {
		return po, fmt.Errorf("--hot-keys must be at least 1, got %d", o.HotKeys)
	}
	po.BigRows, po.HotKeys = o.BigRows, o.HotKeys
	for _, s := range splitList(o.Workers) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return po, fmt.Errorf("--workers: want positive counts, got %q", s)
		}
		po.Workers = append(po.Workers, n)
	}
	return po, po.Validate()
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", stderr, "usage: binlog-replay plan [flags] BINLOG_FILES|DIR|INDEX...\n"+
		"       binlog-replay plan --source DSN --source-start FILE:POS|GTID [flags]\n\n"+
		"Analyses binlogs without a target server: contents, stop-point candidates with the flags\n"+
		"that stop just before each, what a replay with the same flags would apply, and\n"+
		"the parallelism the transactions allow.",
		exitStatus{0, "the report was written, and a replay with these flags would read the binlogs cleanly"},
		exitStatus{1, "error: the binlogs (or the source) could not be read, or a replay with these flags would fail on them " +
			"or refuse some of their transactions (--rewrite-db, a statement using a temporary table created before the start point, one whose non-transactional changes the hot base of --from-backup may hold), or its start, stop or skip options in them (a stop already behind what --start-gtid holds, GTIDs out of order, an --exclude-gtids position that skips more than its own transaction); the report says where"},
		exitStatus{2, "usage: bad flags or arguments"})
	var o PlanOptions
	o.AddFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	po, err := o.options(fs.Args(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay plan: %v\n", err)
		return 2
	}
	rep, err := plan.Run(ctx, po)
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay plan: %v\n", err)
		return 1
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = plan.WriteText(stdout, rep, nil)
	}
	if err != nil {
		fmt.Fprintf(stderr, "binlog-replay plan: write report: %v\n", err)
		return 1
	}
	if rep.Replay.Fails {
		fmt.Fprintf(stderr, "binlog-replay plan: a replay with these options would fail: %s\n",
			strings.TrimSpace(rep.Problems.ReadError.Message))
		return 1
	}
	if rep.Replay.Refused > 0 {
		fmt.Fprintf(stderr, "binlog-replay plan: a replay with these options would refuse %d transactions that --rewrite-db "+
			"cannot rename with certainty (listed under problems)\n", rep.Replay.Refused)
		return 1
	}
	if rep.Problems.Refusal != "" {
		fmt.Fprintf(stderr, "binlog-replay plan: a replay with these options would refuse them: %s\n", rep.Problems.Refusal)
		return 1
	}
	if rep.Problems.TempBeforeStart != "" {
		fmt.Fprintf(stderr, "binlog-replay plan: a replay with these options would stop, refusing the %s\n", rep.Problems.TempBeforeStart)
		return 1
	}
	if rep.Problems.TempUnsure != "" {
		fmt.Fprintf(stderr, "binlog-replay plan: a replay with these options would stop, refusing the %s\n", rep.Problems.TempUnsure)
		return 1
	}
	if rep.Problems.HotBase != "" {
		fmt.Fprintf(stderr, "binlog-replay plan: a replay with these options would stop, refusing %s\n", rep.Problems.HotBase)
		return 1
	}
	return 0
}
