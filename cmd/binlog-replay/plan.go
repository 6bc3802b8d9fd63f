package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// PlanOptions are the flags of the plan command: the replay command's
// start, stop and filter flags, and the analysis's own.
type PlanOptions struct {
	StartPosition  string
	StartGTID      string
	FromBackup     string
	StopPosition   string
	StopDatetime   string
	StopBeforeGTID string
	ExcludeGTIDs   string
	Databases      string
	Tables         string
	SkipUnknown    bool
	BigRows        int
	Workers        string
	TableKeys      bool
	HotKeys        int
	JSON           bool
}

// AddFlags registers the options on fs. The replay flags have the replay
// command's names and help.
func (o *PlanOptions) AddFlags(fs *flag.FlagSet) {
	var ro ReplayOptions
	tmp := flag.NewFlagSet("replay", flag.ContinueOnError)
	ro.AddFlags(tmp)
	for name, p := range map[string]*string{
		"start-position": &o.StartPosition, "start-gtid": &o.StartGTID, "from-backup": &o.FromBackup,
		"stop-position": &o.StopPosition, "stop-datetime": &o.StopDatetime, "stop-before-gtid": &o.StopBeforeGTID,
		"exclude-gtids": &o.ExcludeGTIDs, "databases": &o.Databases, "tables": &o.Tables,
	} {
		fs.StringVar(p, name, "", tmp.Lookup(name).Usage)
	}
	fs.BoolVar(&o.SkipUnknown, "skip-unknown", false, tmp.Lookup("skip-unknown").Usage)
	fs.IntVar(&o.BigRows, "big-rows", 1000, "a DELETE or UPDATE of more than `N` rows in one transaction is a stop-point candidate")
	fs.StringVar(&o.Workers, "workers", "1,2,4,8,16,32", "worker `COUNTS` to simulate, comma-separated")
	fs.BoolVar(&o.TableKeys, "table-keys", false, "key every row write by its table, even where the binlog logs the primary key")
	fs.IntVar(&o.HotKeys, "hot-keys", 10, "how many of the most touched keys to list")
	fs.BoolVar(&o.JSON, "json", false, "print the whole report as JSON")
}

// options turns the flags and file arguments into plan options.
func (o *PlanOptions) options(args []string) (plan.Options, error) {
	var po plan.Options
	var err error
	if po.Files, err = binlog.ResolveFiles(args); err != nil {
		return po, err
	}
	if o.StartPosition != "" && o.FromBackup != "" {
		return po, errors.New("give either --start-position or --from-backup, not both")
	}
	if po.StartPosition, err = parsePosition("start-position", o.StartPosition); err != nil {
		return po, err
	}
	if o.FromBackup != "" {
		bs, err := replay.StartFromBackup(o.FromBackup)
		if err != nil {
			return po, err
		}
		po.StartPosition = bs.Position
	}
	if po.StartGTIDs, err = txn.ParseGTIDSet(o.StartGTID); err != nil {
		return po, fmt.Errorf("--start-gtid: %w", err)
	}
	if po.StopPosition, err = parsePosition("stop-position", o.StopPosition); err != nil {
		return po, err
	}
	if po.StopDatetime, err = parseDatetime(o.StopDatetime); err != nil {
		return po, err
	}
	if o.StopBeforeGTID != "" {
		if po.StopBeforeGTID, err = txn.ParseGTID(o.StopBeforeGTID); err != nil {
			return po, fmt.Errorf("--stop-before-gtid: %w", err)
		}
	}
	if po.ExcludeGTIDs, err = txn.ParseGTIDSet(o.ExcludeGTIDs); err != nil {
		return po, fmt.Errorf("--exclude-gtids: %w", err)
	}
	po.Databases, po.Tables = splitList(o.Databases), splitList(o.Tables)
	po.SkipUnknown, po.TableKeys = o.SkipUnknown, o.TableKeys
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
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: binlog-replay plan [flags] BINLOG_FILES|DIR|INDEX...\n\n"+
			"Analyses binlogs without a server: contents, stop-point candidates with the flags\n"+
			"that stop just before each, what a replay with the same flags would apply, and\n"+
			"the parallelism the transactions allow. Exit status 1 if the predicted replay\n"+
			"would fail on the binlogs.")
		fs.PrintDefaults()
	}
	var o PlanOptions
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	po, err := o.options(fs.Args())
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
	return 0
}
