// Package preflight checks a restored target before a replay: it probes
// the target's commits and its apply rate in a scratch schema it creates
// and drops, reads the settings and privileges that decide the recovery's
// speed and safety (saying what each costs, what to set for the recovery
// and what to set back; it never changes one), compares the largest
// statement in the binlogs with max_allowed_packet and the growth they
// imply with the free disk space, and estimates how long the replay will
// take, from the probe, the binlogs' contents and the parallelism plan
// finds in them.
package preflight

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/bytesize"
	"github.com/binlog-replay/binlog-replay/internal/compact"
	"github.com/binlog-replay/binlog-replay/plan"
	"github.com/binlog-replay/binlog-replay/preflight/probe"
	"github.com/binlog-replay/binlog-replay/schema"
)

// DefaultScratchSchema is the database the probe creates on the target
// for its tables, and drops afterwards.
const DefaultScratchSchema = probe.DefaultScratchSchema

// Options configure a preflight.
type Options struct {
	// TargetDSN is the target's go-sql-driver DSN, password filled in;
	// TargetTLS, if set, configures its connections.
	TargetDSN string
	TargetTLS *tls.Config
	// Selection is the binlogs and the replay's start, stop and include
	// options.
	Selection Selection
	// Workers, GroupTxns and GroupBytes are the replay's (the estimate is
	// for them); NoLogBin is the replay's --no-log-bin.
	Workers    int
	GroupTxns  int
	GroupBytes int64
	NoLogBin   bool
	// Compact is the replay's --compact: the apply probe then compacts
	// its groups as the replay will (internal/compact).
	Compact bool
	// Apply is the replay's --apply: "auto" (or ""), "binlog" or "sql".
	// It decides whether an account that may not run BINLOG statements
	// fails the check (binlog) or only warns that the row events will be
	// applied as SQL (auto on MariaDB).
	Apply string
	// ProbeSettings say where and how much the probes write.
	ProbeSettings
	// Statfs returns a filesystem's space (default Statfs): tests inject
	// one.
	Statfs StatfsFunc
	// LoadAvg returns this machine's one-minute load average (default:
	// from /proc/loadavg; an error leaves the load out). Tests inject one.
	LoadAvg func() (float64, error)
	// ConnectTimeout bounds the first connection (default 10 s).
	ConnectTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// ProbeSettings say where a preflight's probes write on the target, and
// how much (see Options).
type ProbeSettings struct {
	// ScratchSchema is the database the probe creates and drops
	// (default DefaultScratchSchema).
	ScratchSchema string
	// Commits is how many small commits the commit probe times (default
	// 300); SampleTxns how many of the binlogs' transactions the apply
	// probe applies at most (default 10000, and at most 16 MiB).
	Commits    int
	SampleTxns int
	// ProbeSessions is how many sessions apply the sample at once to
	// measure the target's scaling (default: Workers, at most 4; 1 does
	// not measure it).
	ProbeSessions int
}

// Report is what a preflight found. Its JSON encoding is the command's
// --json output.
type Report struct {
	Target  *Target  `json:"target"`
	Binlogs *Binlogs `json:"binlogs"`
	// Parallelism is plan's speed-up bound for the worker count, and
	// CriticalPath its longest chain of dependencies (by rows).
	Parallelism  *plan.SpeedUp    `json:"parallelism,omitempty"`
	CriticalPath *plan.PathLength `json:"critical_path,omitempty"`
	Probe        Probe            `json:"probe"`
	Checks       []Check          `json:"checks"`
	ETA          ETA              `json:"eta"`
}

// Probe is what the probe measured on the target.
type Probe struct {
	// Schema is where it wrote; Skipped, when set, why it did not write.
	Schema    string            `json:"schema,omitempty"`
	Skipped   string            `json:"skipped,omitempty"`
	RoundTrip probe.Latency     `json:"round_trip"`
	Commit    probe.Latency     `json:"commit"`
	Apply     *probe.ApplyProbe `json:"apply,omitempty"`
	// ApplySkipped, when set, says why the apply probe did not run.
	ApplySkipped string `json:"apply_skipped,omitempty"`
}

// minFreeForProbe is the least free space on the target's datadir
// filesystem for the apply probe to write: it writes copies of tables
// and their redo, and a server that runs out of space in its redo log
// aborts.
const minFreeForProbe = 1 << 30

// Failed returns the checks that failed: the replay would fail on them.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Warnings returns the checks that warn.
func (r *Report) Warnings() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Warn {
			out = append(out, c)
		}
	}
	return out
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.Workers < 1 {
		c.Workers = min(max(2*runtime.NumCPU(), 4), 16)
	}
	if c.GroupTxns < 1 {
		c.GroupTxns = 64
	}
	if c.GroupBytes < 1 {
		c.GroupBytes = 4 << 20
	}
	if c.ScratchSchema == "" {
		c.ScratchSchema = DefaultScratchSchema
	}
	if c.Commits < 1 {
		c.Commits = 300
	}
	if c.SampleTxns < 1 {
		c.SampleTxns = 10000
	}
	if c.ProbeSessions < 1 {
		c.ProbeSessions = min(c.Workers, 4)
	}
	if c.Statfs == nil {
		c.Statfs = Statfs
	}
	if c.LoadAvg == nil {
		c.LoadAvg = loadAvg
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Run reads the binlogs, probes and checks the target, and estimates the
// replay's duration. It returns an error when the binlogs cannot be read
// or the target cannot be reached; checks that fail are in the report
// (Report.Failed).
func Run(ctx context.Context, o Options) (*Report, error) {
	if len(o.Selection.Files) == 0 {
		return nil, errors.New("preflight: no binlog files given")
	}
	if o.TargetDSN == "" {
		return nil, errors.New("preflight: no target given")
	}
	opts := o.withDefaults()
	rep := &Report{}
	db, err := openTarget(ctx, opts.TargetDSN, opts.TargetTLS, opts.ConnectTimeout)
	if err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	defer db.Close()
	// --databases and --tables compare names as the replay does on this
	// target: in lower case where its lower_case_table_names is 1 or 2.
	var lctn int
	if err := db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&lctn); err != nil {
		return nil, fmt.Errorf("preflight: read the target's lower_case_table_names: %w", err)
	}
	opts.Selection.Filter.FoldCase = lctn != 0
	fmt.Fprintln(opts.Log, "preflight: reading the binlogs")
	if rep.Binlogs, err = readBinlogs(ctx, opts.Selection, sampleLimits{txns: opts.SampleTxns, bytes: 16 << 20, maxTxn: 1 << 20}); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	// plan reads and decodes every transaction and computes write sets,
	// as the replay's reader and dispatcher do: its time on this machine
	// is the replay's own work besides the target's.
	t0 := time.Now()
	pr, err := plan.Run(ctx, planOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	rep.Binlogs.ReadSeconds = time.Since(t0).Seconds()
	for i := range pr.Parallelism.SpeedUp {
		if s := pr.Parallelism.SpeedUp[i]; s.Workers == opts.Workers {
			rep.Parallelism = &s
		}
	}
	for i := range pr.Parallelism.CriticalPath {
		if p := pr.Parallelism.CriticalPath[i]; p.Cost == "row" {
			rep.CriticalPath = &p
		}
	}
	if rep.Target, err = readTarget(ctx, db, rep.Binlogs.Tables); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	binlogOn, _ := rep.Target.boolVar("log_bin")
	logged := binlogOn && !opts.NoLogBin
	fmt.Fprintln(opts.Log, "preflight: probing the target")
	if err := runProbes(ctx, db, &opts, rep, binlogOn); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	t, b := rep.Target, rep.Binlogs
	groups := float64(b.RowTxns) / float64(opts.GroupTxns)
	if a := rep.Probe.Apply; a != nil && a.Groups > 0 && a.Txns > 0 {
		groups = float64(b.RowTxns) / (float64(a.Txns) / float64(a.Groups))
	}
	groups += float64(b.StmtTxns + b.DDLTxns)
	rep.Checks = append(rep.Checks, binlogsCheck(b))
	rep.Checks = append(rep.Checks, probeChecks(rep)...)
	rep.Checks = append(rep.Checks, settingChecks(settingsInput{t: t, b: b, commitMs: rep.Probe.Commit.MedianMs, groups: groups, logged: logged})...)
	rep.Checks = append(rep.Checks, eventsCheck(ctx, db, opts.Selection))
	rep.Checks = append(rep.Checks, diskCheck(t, b, logged))
	rep.Checks = append(rep.Checks, privilegeChecks(ctx, db, t, b, opts.Selection, opts.Apply, binlogOn)...)
	load, loadErr := opts.LoadAvg()
	cores := runtime.NumCPU()
	if loadErr == nil {
		rep.Checks = append(rep.Checks, loadCheck(load, cores))
	}
	bp, _ := t.intVar("innodb_buffer_pool_size")
	sync, _ := t.intVar("sync_binlog")
	in := etaInput{b: b, apply: rep.Probe.Apply, rttMs: rep.Probe.RoundTrip.MedianMs, commitMs: rep.Probe.Commit.MedianMs,
		workers: opts.Workers, binlogSync: logged && sync == 1, overflow: bp > 0 && t.DataBytes > bp, readSeconds: b.ReadSeconds, load: load, cores: cores}
	if rep.Parallelism != nil {
		in.bound = rep.Parallelism.ByRow
	}
	rep.ETA = estimate(in)
	return rep, nil
}

// planOptions are the plan options of the selection, for the parallelism
// of the replay's worker count.
func planOptions(o Options) plan.Options {
	s := o.Selection
	f := s.Filter
	return plan.Options{Files: s.Files, StartPosition: s.Start, StartGTIDs: f.StartGTIDs, StopPosition: f.StopPosition,
		StopDatetime: f.StopDatetime, StopBeforeGTID: f.StopBeforeGTID, ExcludeGTIDs: f.ExcludeGTIDs,
		Databases: f.Databases, Tables: f.Tables, FoldCase: f.FoldCase, SkipUnknown: s.SkipUnknown, NoContinuityCheck: s.NoContinuityCheck,
		Analysis: plan.Analysis{Workers: []int{o.Workers}, HideValues: true}}
}

// runProbes measures the target's commits and apply rate in the scratch
// schema, and its disk when it is local; a probe that cannot write says
// why in rep.Probe.Skipped.
func runProbes(ctx context.Context, db *sql.DB, o *Options, rep *Report, binlogOn bool) error {
	sc, err := probe.NewScratch(ctx, db, o.ScratchSchema, binlogOn)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.Probe.Skipped = err.Error()
		return nil
	}
	rep.Probe.Schema = sc.Schema
	defer func() {
		if err := sc.Drop(ctx); err != nil {
			fmt.Fprintf(o.Log, "preflight: %v\n", err)
		}
	}()
	rtt, commit, local, err := probe.CommitProbe(ctx, sc, o.Commits)
	if err != nil {
		return err
	}
	rep.Probe.RoundTrip, rep.Probe.Commit, rep.Target.Local = rtt, commit, local
	if local {
		datadir := rep.Target.Vars["datadir"]
		if d, err := o.Statfs(datadir); err == nil {
			rep.Target.Disk = &d
		}
		if base := rep.Target.Vars["log_bin_basename"]; binlogOn && base != "" {
			if d, err := o.Statfs(filepath.Dir(base)); err == nil {
				rep.Target.BinlogDisk = &d
			}
		}
	}
	if d := rep.Target.Disk; d != nil && d.Free < minFreeForProbe {
		rep.Probe.ApplySkipped = fmt.Sprintf("the target's datadir has %s free, less than the %s the apply probe wants before it writes",
			bytesize.Human(int64(d.Free)), bytesize.Human(minFreeForProbe))
		return nil
	}
	ao := probe.ApplyOptions{GroupTxns: o.GroupTxns, GroupBytes: o.GroupBytes, Sessions: o.ProbeSessions}
	if o.Compact {
		ao.Compact = compact.New(schema.NewCache(db)).Group
	}
	a, err := probe.RunApplyProbe(ctx, sc, rep.Binlogs.sample, ao)
	if err != nil {
		return err
	}
	why := ""
	switch {
	case a == nil && rep.Binlogs.RowTxns < 10:
		why = fmt.Sprintf("the binlogs hold %d row transactions, too few to sample", rep.Binlogs.RowTxns)
	case a == nil && len(rep.Binlogs.sample) == 0:
		why = "the binlogs' first transactions hold no row transaction to sample"
	case a == nil:
		why = "fewer than 10 of the binlogs' first row transactions could be applied to scratch copies of their tables"
	case a.Refused*5 > a.Txns+a.Refused:
		why = fmt.Sprintf("the target refused %d of the %d sampled transactions", a.Refused, a.Txns+a.Refused)
	}
	if why != "" {
		rows := 4
		if b := rep.Binlogs; b.RowTxns > 0 && a != nil && a.Txns > 0 {
			rows = max(1, a.Rows/max(a.Txns, 1))
		}
		ins, err := probe.InsertProbe(ctx, sc, min(o.SampleTxns, 2000), rows, o.GroupTxns, why)
		if err != nil {
			return err
		}
		if a != nil {
			ins.Refused, ins.LeftOut = a.Refused, a.LeftOut
		}
		a = ins
	}
	rep.Probe.Apply = a
	return nil
}

// loadAvg reads the one-minute load average from /proc/loadavg.
func loadAvg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, fmt.Errorf("read the load average: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("read the load average: /proc/loadavg is empty")
	}
	return strconv.ParseFloat(f[0], 64)
}

// loadCheck warns when other work competes for this machine's CPUs,
// where the replay runs (and the target, when it is local).
func loadCheck(load float64, cores int) Check {
	c := Check{Name: "CPU load of this machine", Value: fmt.Sprintf("load average %.1f on %d cores", load, cores),
		What: "the replay's own work (reading, decoding, write sets) runs here, and the target's too when it is local; " +
			"the probe lasts seconds, the replay longer, and other work on the CPUs slows it more than it slowed the probe.",
		During: "run the replay on a machine (and a target) that does nothing else"}
	if load > float64(cores) {
		c.Status = Warn
		c.Finding = fmt.Sprintf("busy: other work competes for the CPUs; the range's top is raised %.1f times (measured on a 2-core machine at a load of 6 to 9: "+
			"OLTP replays took 1.5 to 2.3 times the estimate)", min(load/float64(cores), 3))
	} else {
		c.Status, c.Finding = OK, "the CPUs are not oversubscribed"
	}
	return c
}

// binlogsCheck fails when the binlogs could not be read to the stop point
// (a corrupt or truncated event, a transaction --rewrite-db would refuse):
// the replay would stop there too, and the estimate covers only what was
// read.
func binlogsCheck(b *Binlogs) Check {
	c := Check{Name: "binlogs", Value: fmt.Sprintf("%d transactions read", b.Transactions),
		What: "the binlogs are read from the start to the stop point, as the replay will read them."}
	if b.ReadError != "" {
		c.Status, c.Finding = Fail, "the reading stopped early, where the replay would stop too: "+b.ReadError
		c.Fix = "see the error: a damaged binlog (stop before it, or use another copy), or a transaction the flags refuse"
		return c
	}
	c.Status, c.Finding = OK, "read to the stop point"
	return c
}
