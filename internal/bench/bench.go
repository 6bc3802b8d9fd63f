// Package bench measures binlog-replay against the sequential pipeline
// (mariadb-binlog | mariadb) on this machine: it generates a workload on a
// throwaway source, takes a base before it, replays the same binlogs into
// identical targets restored from that base with each method, times only
// the apply, and verifies every target against the source.
//
// With Options.Binlogs and Options.Base it benchmarks a user's own binlogs
// against their own restored base instead; there is no source then, so
// every target is verified against the anchor's target.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/syncdelay"
	"github.com/binlog-replay/binlog-replay/internal/workload"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Options configure a benchmark run. Build them with DefaultOptions.
type Options struct {
	// Workload is what is generated and replayed, unless Existing gives
	// binlogs and a base instead.
	Workload WorkloadOptions
	// Existing replaces the generated workloads with binlogs given.
	Existing ExistingBinlogs
	// Methods are the ways of applying the binlogs measured.
	Methods MethodOptions
	// Env is the targets' environment: durability and latencies.
	Env Environment

	// Dir holds the bases; empty means a new temp dir, removed at the end
	// unless Keep is set.
	Dir string
	// Keep leaves Dir in place with every server's directory (stopped)
	// moved into it, for inspection.
	Keep bool
	// LogValues lets the report show data values: the values quoted in
	// failed applies' errors and the key values of differing rows. By
	// default they are replaced by ?.
	LogValues bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Tamper, if set, is called on each target after its apply and before
	// its verification (tests use it to prove corruption is caught).
	Tamper func(ctx context.Context, method string, target *sql.DB) error

	// syncEnv is the targets' environment for CommitLatency, set by Run.
	syncEnv []string
}

// WorkloadOptions say what workloads a benchmark generates.
type WorkloadOptions struct {
	// Profiles are the workloads to generate (workload.Profiles names).
	Profiles []workload.Profile
	Seed     int64
	// Scale is the rows per table in the base, Txns the transactions of
	// the workload, Threads the client sessions generating it, Tables the
	// number of tables of the oltp profile (the reference uses 8).
	Scale, Txns, Threads, Tables int
	// Duration, if positive, runs each workload for this long instead of
	// until Txns transactions (which then only caps it).
	Duration time.Duration
}

// ExistingBinlogs are binlogs and a base a benchmark applies instead of
// generating workloads.
type ExistingBinlogs struct {
	// Binlogs and Base, when Base is set, replace the generated workloads:
	// the binlog files (in order) are applied to targets started from
	// copies of the Base datadir (which is never modified), from Start
	// (zero: the first file's beginning). Every target is verified against
	// the anchor's, there being no source. Native is not available then.
	Binlogs []string
	Base    string
	Start   txn.Position
}

// MethodOptions say which ways of applying the binlogs a benchmark
// measures.
type MethodOptions struct {
	// Workers are the binlog-replay worker counts to measure (0: the
	// replay's default, chosen from the machine and the round trip), each
	// with every group size in GroupTxns (0, the default: adaptive) and
	// every way of applying row events in Apply (default: passthrough
	// only).
	Workers   []int
	GroupTxns []int
	Apply     []replay.ApplyMode
	// Compact lists, for every binlog-replay method, whether it runs
	// with net-effect compaction (the replay's default) and without it
	// (--compact=false); default: with only.
	Compact []bool
	// Repeat runs every method this many times; the median is reported.
	Repeat int
	// Native also measures MariaDB's own parallel replication applying the
	// same binlogs to the same base: a replica with NativeThreads applier
	// threads in NativeMode ("optimistic" or "conservative").
	Native        bool
	NativeThreads int
	NativeMode    string
	// Limit also measures the limit: the target applying the same
	// statements binlog-replay sends, grouped as its defaults group them,
	// prepared before the clock starts and sent back to back by one
	// session (see limit.go).
	Limit bool
}

// Environment is the targets' environment in a benchmark.
type Environment struct {
	// Durable targets commit with innodb_flush_log_at_trx_commit=1, as a
	// production server would.
	Durable bool
	// TargetLatency, when positive, is added to every round trip to the
	// targets: binlog-replay, the anchor's mariadb client and the limit's
	// session reach their target over TCP through a proxy holding every
	// byte for half of it in each direction (internal/netdelay), and a
	// native replica reaches its source through one (the fetch is
	// untimed: its appliers run inside the target). Zero connects over the
	// unix socket, as before.
	TargetLatency time.Duration
	// CommitLatency, when positive, makes every fsync and fdatasync of the
	// targets wait this long first (internal/syncdelay, built with the C
	// compiler), as on a network-attached cloud disk: a durable commit
	// waits it once. It needs Durable.
	CommitLatency time.Duration
}

// DefaultOptions returns a short benchmark (a minute or two on 2 cores).
func DefaultOptions() Options {
	return Options{
		Workload: WorkloadOptions{
			Profiles: []workload.Profile{workload.OLTP, workload.HotRows},
			Seed:     1, Scale: 20000, Txns: 20000, Threads: 8, Tables: 8,
		},
		Methods: MethodOptions{Workers: []int{1, 4, 8, 16}, Repeat: 1, NativeThreads: 16, NativeMode: "optimistic"},
		Env:     Environment{Durable: true},
	}
}

// Validate reports the first problem with o.
func (o *Options) Validate() error {
	switch {
	case o.Existing.Base == "" && len(o.Existing.Binlogs) > 0:
		return errors.New("binlogs given without the base datadir they apply to")
	case o.Existing.Base != "" && len(o.Existing.Binlogs) == 0:
		return errors.New("base datadir given without binlogs")
	case o.Existing.Base != "" && o.Methods.Native:
		return errors.New("native replication needs a generated workload (a source to replicate from), not --binlogs")
	case o.Existing.Base == "" && len(o.Workload.Profiles) == 0:
		return errors.New("no profiles")
	case o.Methods.Repeat < 1:
		return errors.New("repeat must be at least 1")
	case o.Existing.Base == "" && (o.Workload.Scale < 1 || o.Workload.Txns < 1 || o.Workload.Threads < 1):
		return errors.New("scale, txns and threads must be at least 1")
	case o.Workload.Duration < 0:
		return errors.New("duration must not be negative")
	case o.Env.TargetLatency < 0 || o.Env.CommitLatency < 0:
		return errors.New("target and commit latencies must not be negative")
	case o.Env.CommitLatency > 0 && !o.Env.Durable:
		return errors.New("commit latency slows the targets' flushes, which only durable targets make at each commit: it needs durable targets")
	case o.Methods.Native && o.Methods.NativeThreads < 0:
		return errors.New("native threads must not be negative")
	case o.Methods.Native && o.Methods.NativeMode != "optimistic" && o.Methods.NativeMode != "conservative" &&
		o.Methods.NativeMode != "aggressive" && o.Methods.NativeMode != "minimal" && o.Methods.NativeMode != "none":
		return fmt.Errorf("native mode %q: want optimistic, conservative, aggressive, minimal or none", o.Methods.NativeMode)
	}
	for _, w := range o.Methods.Workers {
		if w < 0 {
			return fmt.Errorf("worker count %d: must be at least 1 (or 0: the replay's default)", w)
		}
	}
	for _, g := range o.Methods.GroupTxns {
		if g < 0 {
			return fmt.Errorf("group size %d: must be at least 1 (or 0: adaptive)", g)
		}
	}
	for _, a := range o.Methods.Apply {
		if a != replay.ApplyBinlog && a != replay.ApplySQL {
			return fmt.Errorf("apply %q: want binlog or sql", a)
		}
	}
	return nil
}

// Method kinds, in Result.Kind.
const (
	KindAnchor = "anchor"
	KindReplay = "binlog-replay"
	KindNative = "native"
	KindLimit  = "limit"
)

// LimitMethod names the limit in reports.
const LimitMethod = "limit: prepared BINLOG, one session"

// AnchorMethod names the sequential reference pipeline in reports.
const AnchorMethod = "mariadb-binlog | mariadb"

// Result is one method's measurements on one profile.
type Result struct {
	Method string `json:"method"`
	// Kind is KindAnchor, KindReplay or KindNative; Workers the
	// binlog-replay worker count or the native applier threads.
	Kind    string `json:"kind"`
	Workers int    `json:"workers,omitempty"`
	// GroupTxns is binlog-replay's --group-txns (0: adaptive).
	GroupTxns int `json:"group_txns,omitempty"`
	// Apply is how binlog-replay applied row events (replay.ApplyMode).
	Apply replay.ApplyMode `json:"apply,omitempty"`
	// Compact says binlog-replay ran with net-effect compaction (its
	// default; false: --compact=false).
	Compact bool `json:"compact,omitempty"`
	// Timing is how long the applies took, and the rates and speed-up
	// that gives.
	Timing
	// Verified is true when every checked target equalled its reference
	// (the source, or the anchor's target when there is no source).
	Verified bool `json:"verified"`
	// IsReference marks the anchor whose first target is the reference
	// the others are checked against (when there is no source); only its
	// later repeats are checked.
	IsReference bool `json:"is_reference,omitempty"`
	// Problem says how a target differed; Error why an apply failed.
	Problem string `json:"problem,omitempty"`
	Error   string `json:"error,omitempty"`
	// CPU is the processor time used during the applies, over every
	// repeat; nil where it cannot be read (not Linux).
	CPU *CPU `json:"cpu,omitempty"`
	// ProxyRoundTripMs is, with a target latency, the round trip the
	// proxy added as it measured it (netdelay.Proxy.RoundTrip), the mean
	// over the repeats: the latency asked for plus the lateness of the
	// proxy's wake-ups. For native replication it is that of the untimed
	// fetch.
	ProxyRoundTripMs float64 `json:"proxy_round_trip_ms,omitempty"`
}

// Timing is how long a method's applies took, and the rates and speed-up
// that gives (see Result).
type Timing struct {
	// Seconds are the apply times of the repeats, sorted.
	Seconds []float64 `json:"seconds"`
	// Median is the reported apply time (the mean of the middle two for
	// an even count).
	Median float64 `json:"median_seconds"`
	// TxnsPerSec and RowsPerSec are transactions and row changes over the
	// median time.
	TxnsPerSec float64 `json:"txns_per_second"`
	RowsPerSec float64 `json:"rows_per_second"`
	// Ratio is the anchor's median over this one's (speed-up).
	Ratio float64 `json:"speedup_vs_anchor"`
}

// ProfileReport holds the results of one workload profile (or of the
// user's binlogs, as profile "binlogs").
type ProfileReport struct {
	Profile workload.Profile `json:"profile"`
	// Start is where every method starts reading the binlogs.
	Start       txn.Position `json:"start"`
	Txns        int64        `json:"transactions"`
	Rows        int64        `json:"row_changes"`
	BinlogBytes int64        `json:"binlog_bytes"`
	// CheckedAgainst is "source" or "anchor".
	CheckedAgainst string   `json:"checked_against"`
	Results        []Result `json:"results"`
}

// Report is the outcome of a benchmark run.
type Report struct {
	CPUs    int  `json:"cpus"`
	Durable bool `json:"durable"`
	// TargetLatencyMs and CommitLatencyMs are Options.Env.TargetLatency and
	// Options.Env.CommitLatency in milliseconds.
	TargetLatencyMs float64 `json:"target_latency_ms"`
	CommitLatencyMs float64 `json:"commit_latency_ms"`
	// LoadStart and LoadEnd are the machine's 1-minute load average when
	// the run started and ended (-1: unknown).
	LoadStart float64         `json:"load_average_start"`
	LoadEnd   float64         `json:"load_average_end"`
	Profiles  []ProfileReport `json:"profiles"`
}

// Verified reports whether every target of every method equalled its
// reference and every apply succeeded.
func (r *Report) Verified() bool {
	for _, p := range r.Profiles {
		for _, res := range p.Results {
			if !res.Verified {
				return false
			}
		}
	}
	return true
}

// ErrNotVerified is returned, wrapped, by Run when a method's apply
// failed or its target differed from the reference.
var ErrNotVerified = errors.New("not verified")

// Run runs the benchmark and returns the report of what it measured, with
// an error when something could not run (a server, the workload, or the
// anchor that is the reference) or ctx ended (the error then wraps
// ctx.Err()). A method whose apply fails, or whose target differs from the
// reference, does not stop the run: its Result has Verified false and Error
// or Problem set, the other methods still run, and Run returns the full
// report with an error wrapping ErrNotVerified that names them. Every
// server it started is stopped and, unless Dir was given or Keep set, every
// file removed, also when ctx is cancelled.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "binlog-replay-bench-")
		if err != nil {
			return nil, fmt.Errorf("create bench dir: %w", err)
		}
		if o.Keep {
			defer fmt.Fprintf(o.Log, "bench: kept the bases and the stopped servers in %s\n", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		o.Dir = dir
	}
	rep := &Report{CPUs: runtime.NumCPU(), Durable: o.Env.Durable, LoadStart: loadAverage(),
		TargetLatencyMs: millis(o.Env.TargetLatency), CommitLatencyMs: millis(o.Env.CommitLatency)}
	if o.Env.CommitLatency > 0 {
		dir := filepath.Join(o.Dir, "syncdelay")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("commit latency: %w", err)
		}
		lib, err := syncdelay.Build(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("commit latency: %w", err)
		}
		o.syncEnv = syncdelay.Env(lib, o.Env.CommitLatency)
	}
	err := runAll(ctx, &o, rep)
	rep.LoadEnd = loadAverage()
	if err != nil {
		return rep, withCtx(ctx, err)
	}
	if failed := rep.failures(); len(failed) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrNotVerified, strings.Join(failed, "; "))
	}
	return rep, nil
}

// runAll measures the user's binlogs or every profile, adding what it
// measured to rep, also on error.
func runAll(ctx context.Context, o *Options, rep *Report) error {
	if o.Existing.Base != "" {
		pr, err := runUserBinlogs(ctx, o)
		if pr != nil {
			rep.Profiles = append(rep.Profiles, *pr)
		}
		if err != nil {
			return fmt.Errorf("binlogs: %w", err)
		}
		return nil
	}
	for _, p := range o.Workload.Profiles {
		pr, err := runProfile(ctx, o, p)
		if pr != nil {
			rep.Profiles = append(rep.Profiles, *pr)
		}
		if err != nil {
			return fmt.Errorf("profile %s: %w", p, err)
		}
	}
	return nil
}

// millis returns d in milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// withCtx makes err wrap ctx.Err() when ctx has ended, whatever the
// failing step wrapped.
func withCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// failures names the methods that failed or were not verified.
func (r *Report) failures() []string {
	var out []string
	for _, p := range r.Profiles {
		for _, res := range p.Results {
			switch {
			case res.Error != "":
				out = append(out, fmt.Sprintf("profile %s, %s: apply failed", p.Profile, res.Method))
			case !res.Verified:
				out = append(out, fmt.Sprintf("profile %s, %s: target differs from the %s", p.Profile, res.Method, p.CheckedAgainst))
			}
		}
	}
	return out
}

// method is one way of applying the binlogs.
type method struct {
	name      string
	kind      string
	workers   int
	groupTxns int              // binlog-replay's (0: adaptive)
	apply     replay.ApplyMode // binlog-replay's
	compact   bool             // binlog-replay's --compact
}

// methods lists the methods o asks for, the anchor first.
func (o *Options) methods() []method {
	ms := []method{{name: AnchorMethod, kind: KindAnchor}}
	apply := o.Methods.Apply
	if len(apply) == 0 {
		apply = []replay.ApplyMode{replay.ApplyBinlog}
	}
	groups := o.Methods.GroupTxns
	if len(groups) == 0 {
		groups = []int{0}
	}
	compact := o.Methods.Compact
	if len(compact) == 0 {
		compact = []bool{true}
	}
	for _, w := range o.Methods.Workers {
		for _, g := range groups {
			for _, a := range apply {
				for _, c := range compact {
					name := fmt.Sprintf("binlog-replay --workers %d", w)
					if g > 0 {
						name += fmt.Sprintf(" --group-txns %d", g)
					}
					if a == replay.ApplySQL {
						name += " --apply sql"
					}
					if !c {
						name += " --compact=false"
					}
					ms = append(ms, method{name: name, kind: KindReplay, workers: w, groupTxns: g, apply: a, compact: c})
				}
			}
		}
	}
	if o.Methods.Native {
		ms = append(ms, method{name: fmt.Sprintf("native parallel replication, %d threads, %s", o.Methods.NativeThreads, o.Methods.NativeMode),
			kind: KindNative, workers: o.Methods.NativeThreads})
	}
	if o.Methods.Limit {
		ms = append(ms, method{name: LimitMethod, kind: KindLimit})
	}
	return ms
}

// runInput measures every method on one input and fills pr.Results. It
// returns an error when the run cannot go on; pr then holds what was
// measured so far.
func runInput(ctx context.Context, o *Options, in *input, pr *ProfileReport) error {
	for _, m := range o.methods() {
		res := Result{Method: m.name, Kind: m.kind, Workers: m.workers, GroupTxns: m.groupTxns, Apply: m.apply, Compact: m.compact, Verified: true}
		var used usage
		for run := 1; run <= o.Methods.Repeat; run++ {
			fmt.Fprintf(o.Log, "bench: %s: %s (run %d of %d)\n", in.name, m.name, run, o.Methods.Repeat)
			out, err := measure(ctx, o, in, m, run)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			used.add(out.used)
			res.Seconds = append(res.Seconds, out.secs)
			res.IsReference = res.IsReference || out.isReference
			switch {
			case out.applyErr != "":
				res.Verified, res.Error = false, out.applyErr
				fmt.Fprintf(o.Log, "bench: %s: %s FAILED: %s\n", in.name, m.name, out.applyErr)
			case out.problem != "":
				res.Verified, res.Problem = false, out.problem
				fmt.Fprintf(o.Log, "bench: %s: %s: TARGET DIFFERS from the %s\n", in.name, m.name, pr.CheckedAgainst)
			}
		}
		res.CPU = used.cpu()
		if used.rttN > 0 {
			res.ProxyRoundTripMs = millis(used.rtt / time.Duration(used.rttN))
		}
		slices.Sort(res.Seconds)
		n := len(res.Seconds)
		res.Median = (res.Seconds[(n-1)/2] + res.Seconds[n/2]) / 2
		if res.Median > 0 && res.Error == "" {
			res.TxnsPerSec = float64(in.txns) / res.Median
			res.RowsPerSec = float64(in.rows) / res.Median
		}
		pr.Results = append(pr.Results, res)
	}
	anchor := pr.Results[0]
	for i := range pr.Results {
		if r := &pr.Results[i]; r.Median > 0 && r.Error == "" && anchor.Error == "" {
			r.Ratio = anchor.Median / r.Median
		}
	}
	return nil
}
