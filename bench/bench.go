// Package bench measures binlog-replay against the sequential pipeline
// (mariadb-binlog | mariadb) on this machine: it generates a workload on a
// throwaway source, takes a base before it, replays the same binlogs into
// identical targets restored from that base with each method, times only
// the apply, and verifies every target against the source.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/sandbox"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
	"github.com/binlog-replay/binlog-replay/workload"
)

// Options configure a benchmark run.
type Options struct {
	// Profiles are the workloads to generate (workload.Profiles names).
	Profiles []workload.Profile
	Seed     int64
	// Scale is the rows per table in the base, Txns the transactions of
	// the workload, Threads the client sessions generating it, Tables the
	// number of tables of the oltp profile (the reference uses 8).
	Scale, Txns, Threads, Tables int
	// Workers are the binlog-replay worker counts to measure.
	Workers []int
	// Repeat runs every method this many times; the median is reported.
	Repeat int
	// Native also measures MariaDB's own parallel replication applying the
	// same binlogs to the same base: a replica with NativeThreads applier
	// threads in NativeMode ("optimistic" or "conservative").
	Native        bool
	NativeThreads int
	NativeMode    string
	// Durable targets commit with innodb_flush_log_at_trx_commit=1, as a
	// production server would.
	Durable bool
	// Dir holds the servers; empty means a new temp dir, removed at the end.
	Dir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Tamper, if set, is called on each target after its apply and before
	// its verification (tests use it to prove corruption is caught).
	Tamper func(ctx context.Context, method string, target *sql.DB) error
}

// DefaultOptions returns a short benchmark (a minute or two on 2 cores).
func DefaultOptions() Options {
	return Options{
		Profiles: []workload.Profile{workload.OLTP, workload.HotRows},
		Seed:     1, Scale: 20000, Txns: 20000, Threads: 8, Tables: 8,
		Workers: []int{1, 4, 8}, Repeat: 1, Durable: true,
		NativeThreads: 16, NativeMode: "optimistic",
	}
}

// Validate reports the first problem with o.
func (o *Options) Validate() error {
	switch {
	case len(o.Profiles) == 0:
		return errors.New("no profiles")
	case o.Repeat < 1:
		return errors.New("repeat must be at least 1")
	case o.Scale < 1 || o.Txns < 1 || o.Threads < 1:
		return errors.New("scale, txns and threads must be at least 1")
	}
	for _, w := range o.Workers {
		if w < 1 {
			return fmt.Errorf("worker count %d: must be at least 1", w)
		}
	}
	return nil
}

// AnchorMethod names the sequential reference pipeline in reports.
const AnchorMethod = "mariadb-binlog | mariadb"

// Result is one method's measurements on one profile.
type Result struct {
	Method string `json:"method"`
	// Seconds are the apply times of the repeats, sorted.
	Seconds []float64 `json:"seconds"`
	// Median is the reported apply time.
	Median float64 `json:"median_seconds"`
	// TxnsPerSec is transactions over the median time.
	TxnsPerSec float64 `json:"txns_per_second"`
	// Ratio is the anchor's median over this one's (speed-up).
	Ratio float64 `json:"speedup_vs_anchor"`
	// Verified is true when every repeat's target equalled the source.
	Verified bool `json:"verified"`
	// Problem says what went wrong when not verified.
	Problem string `json:"problem,omitempty"`
}

// ProfileReport holds the results of one workload profile.
type ProfileReport struct {
	Profile     workload.Profile `json:"profile"`
	Txns        int              `json:"transactions"`
	BinlogBytes int64            `json:"binlog_bytes"`
	Results     []Result         `json:"results"`
}

// Report is the outcome of a benchmark run.
type Report struct {
	Profiles []ProfileReport `json:"profiles"`
}

// Verified reports whether every target of every method equalled its source.
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

// Run runs the benchmark. It returns the report of what it measured and an
// error when something could not run; a target that differs from its source
// is not an error here but a Result with Verified false (see
// Report.Verified). Every server it started is stopped and, unless Dir was
// given, every file removed, also when ctx is cancelled.
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
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	rep := &Report{}
	for _, p := range o.Profiles {
		pr, err := runProfile(ctx, &o, p)
		if pr != nil {
			rep.Profiles = append(rep.Profiles, *pr)
		}
		if err != nil {
			return rep, fmt.Errorf("profile %s: %w", p, err)
		}
	}
	return rep, nil
}

// source is a generated workload: a running source, its base and binlogs.
type source struct {
	srv   *sandbox.Server
	db    *sql.DB
	base  string
	start txn.Position
	files []string
	txns  int
	bytes int64
}

func runProfile(ctx context.Context, o *Options, p workload.Profile) (*ProfileReport, error) {
	fmt.Fprintf(o.Log, "bench: %s: generating the workload (%d rows per table, %d transactions, %d sessions)\n", p, o.Scale, o.Txns, o.Threads)
	src, err := generate(ctx, o, p)
	if src != nil {
		defer src.srv.Close()
		defer src.db.Close()
	}
	if err != nil {
		return nil, err
	}
	pr := &ProfileReport{Profile: p, Txns: src.txns, BinlogBytes: src.bytes}
	methods := []string{AnchorMethod}
	for _, w := range o.Workers {
		methods = append(methods, fmt.Sprintf("binlog-replay --workers %d", w))
	}
	if o.Native {
		methods = append(methods, nativeMethod(o))
	}
	for i, m := range methods {
		res := Result{Method: m, Verified: true}
		for rep := 0; rep < o.Repeat; rep++ {
			fmt.Fprintf(o.Log, "bench: %s: %s (run %d of %d)\n", p, m, rep+1, o.Repeat)
			secs, problem, err := measure(ctx, o, src, m, workersOf(o, i))
			if err != nil {
				return pr, fmt.Errorf("%s: %w", m, err)
			}
			res.Seconds = append(res.Seconds, secs)
			if problem != "" {
				res.Verified, res.Problem = false, problem
			}
		}
		slices.Sort(res.Seconds)
		res.Median = res.Seconds[len(res.Seconds)/2]
		if res.Median > 0 {
			res.TxnsPerSec = float64(src.txns) / res.Median
		}
		pr.Results = append(pr.Results, res)
	}
	for i := range pr.Results {
		if pr.Results[i].Median > 0 {
			pr.Results[i].Ratio = pr.Results[0].Median / pr.Results[i].Median
		}
	}
	return pr, nil
}

// workersOf returns the worker count of method i: 0 for the anchor, -1
// for native replication.
func workersOf(o *Options, i int) int {
	switch {
	case i == 0:
		return 0
	case i > len(o.Workers):
		return -1
	}
	return o.Workers[i-1]
}

// generate starts a source, builds the base, snapshots it and runs the
// workload. On error the returned source (if any) must still be closed.
func generate(ctx context.Context, o *Options, p workload.Profile) (*source, error) {
	srv, err := sandbox.Start(ctx, sandbox.Options{Binlog: true, BinlogFormat: "ROW"})
	if err != nil {
		return nil, err
	}
	db, err := srv.Open(ctx, "")
	if err != nil {
		srv.Close()
		return nil, err
	}
	src := &source{srv: srv, db: db, base: filepath.Join(o.Dir, string(p)+"-base")}
	wo := workload.Options{Profile: p, Seed: o.Seed, Scale: o.Scale, Txns: o.Txns, Threads: o.Threads, Format: "ROW"}
	if p == workload.OLTP {
		wo.Tables = o.Tables
	}
	if err := workload.Setup(ctx, db, wo); err != nil {
		return src, err
	}
	if err := srv.Snapshot(ctx, src.base); err != nil {
		return src, err
	}
	file, pos, err := workload.BinlogPosition(ctx, db)
	if err != nil {
		return src, err
	}
	src.start = txn.Position{File: file, Offset: pos}
	if err := workload.Run(ctx, db, wo); err != nil {
		return src, err
	}
	if _, err := db.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		return src, fmt.Errorf("flush binary logs: %w", err)
	}
	if src.files, err = srv.BinlogFiles(); err != nil {
		return src, err
	}
	return src, src.count(ctx)
}

// count counts the transactions and bytes the replay will apply.
func (s *source) count(ctx context.Context) error {
	r, err := binlog.NewReader(s.files, binlog.Options{Start: s.start})
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		t, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		s.txns++
		s.bytes += t.Bytes
	}
}

// apply applies the source's binlogs to tgt with one method (workers 0 =
// the anchor, -1 = native replication) and returns how long it took.
func apply(ctx context.Context, o *Options, src *source, tgt *sandbox.Server, workers int) (time.Duration, error) {
	if workers < 0 {
		return applyNative(ctx, o, src, tgt)
	}
	begin := time.Now()
	if workers == 0 {
		err := workload.ReplayWithMariaDBBinlog(ctx, src.files, src.start.File, src.start.Offset, tgt.Socket)
		return time.Since(begin), err
	}
	ro := replay.DefaultOptions()
	ro.Files, ro.TargetDSN, ro.StartPosition, ro.Workers = src.files, tgt.DSN(""), src.start, workers
	_, err := replay.Run(ctx, ro, o.Log)
	return time.Since(begin), err
}

// measure applies the source's binlogs to a fresh target restored from the
// base with one method (workers 0 = the anchor), times the apply and
// verifies the target. problem is non-empty when the target differs.
func measure(ctx context.Context, o *Options, src *source, method string, workers int) (secs float64, problem string, err error) {
	tgt, err := sandbox.Start(ctx, sandbox.Options{FromDatadir: src.base, Durable: o.Durable,
		Args: []string{"--innodb-buffer-pool-size=1G"}})
	if err != nil {
		return 0, "", err
	}
	defer tgt.Close()
	d, err := apply(ctx, o, src, tgt, workers)
	secs = d.Seconds()
	if err != nil {
		return secs, "", err
	}
	db, err := tgt.Open(ctx, "")
	if err != nil {
		return secs, "", err
	}
	defer db.Close()
	if o.Tamper != nil {
		if err := o.Tamper(ctx, method, db); err != nil {
			return secs, "", fmt.Errorf("tamper: %w", err)
		}
	}
	vr, err := verify.Compare(ctx, db, src.db, verify.Options{})
	if err != nil {
		return secs, "", fmt.Errorf("verify: %w", err)
	}
	if !vr.Equal() {
		return secs, vr.String(), nil
	}
	return secs, "", nil
}
