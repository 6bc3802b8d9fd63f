package replay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/binlog/remote"
	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Options configure a replay. Build them with DefaultOptions and adjust.
// Besides where the binlogs come from and the target, they are grouped by
// concern: which transactions (Select), how they are applied (Apply), how
// the replay resumes and rides out faults (Recovery), and what it reports
// (Report).
type Options struct {
	// Files are the binlog files to read, in order (see logfile.Resolve).
	Files []string
	// Source, when Source.DSN is set, is a server to read the binlogs from
	// with the replication protocol, instead of Files.
	Source Source
	// TargetDSN is the go-sql-driver DSN of the target server. Its password
	// must already be filled in (cmd takes it from MYSQL_PWD).
	TargetDSN string
	// TargetTLS, if set, is the TLS configuration of every connection to
	// the target (a custom CA, a client certificate); it overrides the
	// DSN's tls parameter. Its ServerName defaults to the DSN's host.
	TargetTLS *tls.Config

	// Select says which transactions of the binlogs are replayed: start,
	// stop, filters and renames.
	Select Selection
	// Apply says how they are applied on the target.
	Apply ApplyOptions
	// Recovery says how the replay resumes, what it tolerates in the
	// binlogs, and how it rides out lock waits and a lost target.
	Recovery Recovery
	// Report says what the replay tells: values in errors, stalls,
	// progress.
	Report Reporting
}

// Selection says which transactions a replay applies.
type Selection struct {
	// StartPosition starts reading there (a transaction boundary).
	StartPosition txn.Position
	// StartGTIDs skips every transaction whose GTID is in the set.
	StartGTIDs txn.GTIDSet
	// StartGTIDsFromTarget takes StartGTIDs from the target before anything
	// is written, when it has no checkpoint: the GTIDs it already holds
	// (MariaDB @@gtid_current_pos, MySQL @@gtid_executed).
	StartGTIDsFromTarget bool
	// StopPosition stops before the first transaction that does not end at
	// or before it.
	StopPosition txn.Position
	// StopDatetime stops before the first transaction committed at or after it.
	StopDatetime time.Time
	// StopBeforeGTID stops before the transaction with this GTID.
	StopBeforeGTID txn.GTID
	// StopNeverReachedOK makes Run return no error when the binlogs end
	// before the stop point given (by default a *StopNotReachedError).
	StopNeverReachedOK bool
	// ToEnd, resuming, applies to the end of the binlogs: without it, a
	// resume given no stop point keeps the one its checkpoint keeps (the
	// stop point of the run that made it), so that a resume after a kill
	// never applies past the point the operator asked for.
	ToEnd bool
	// ExcludeGTIDs are skipped (the checkpoint still moves past them): a
	// GTID set, or MariaDB ranges naming exactly some transactions (see
	// filter.GTIDs).
	ExcludeGTIDs filter.GTIDs
	// Databases and Tables ("db.table") keep only what they name; empty
	// keeps everything. A statement or DDL is kept when its default
	// database is kept (as mysqlbinlog --database does).
	Databases []string
	Tables    []string
	// FoldCase compares the names Databases and Tables give with the
	// binlogs' in lower case (filter.Options.FoldCase). The run sets it
	// from the target's lower_case_table_names, which a base restored
	// from the source must share with it.
	FoldCase bool
	// RewriteDB renames databases (--rewrite-db old=new): what the
	// include filters keep of the old database is applied to the new one
	// (see package rewrite). It needs Databases or Tables, which name the
	// databases as the binlogs do; the target then logs the transactions
	// with GTIDs of its own (they are not the source's), and a resume must
	// give the same rules (the checkpoint records them).
	RewriteDB rewrite.Rules
	// HotBase is the base copied while the source was written that the
	// replay starts from (ReadHotBase; zero: unknown, nothing checked): a
	// transaction after its position whose non-transactional changes it
	// may hold is refused (HotBaseError), unless HotBase.Checked says the
	// operator checked that it does not hold them.
	HotBase HotBase
}

// ApplyOptions say how a replay applies the transactions it selects.
type ApplyOptions struct {
	// Workers is the number of target connections applying in parallel;
	// 0 chooses it from the machine and the round trip to the target
	// (AutoWorkers).
	Workers int
	// GroupTxns and GroupBytes bound how many consecutive source
	// transactions may be committed together in one target transaction;
	// GroupTxns 0 lets the replay choose as it goes (64 to 1024: see
	// internal/pipeline/adapt).
	GroupTxns  int
	GroupBytes int64
	// ClientCommitOrder makes each group's COMMIT wait in the replay for
	// the one before it to be acknowledged. By default a COMMIT is sent as
	// soon as the one before it is sent, and the target holds it until
	// that one has committed (chained commits, internal/target/turns.go):
	// over a network, many commits then share one round trip.
	ClientCommitOrder bool
	// MemoryBudget bounds, in bytes, what the replay holds in memory
	// between reading transactions and committing them (see package
	// internal/pipeline/budget), whatever the size of the binlogs. A
	// transaction larger than the budget is applied alone. 0 chooses it
	// from the number of workers (AutoMemoryBudget).
	MemoryBudget int64
	// NoLogBin keeps the replay out of the target's binary log.
	NoLogBin bool
	// Compact applies, in each group of row transactions, the net effect
	// of the writes to each row where that is provably the same (see
	// internal/compact): several writes to one row become one. Rows are
	// then decoded as they are read, whatever the other settings.
	Compact bool
	// Mode says how row events are applied: passed through in BINLOG
	// statements, or as SQL made from their images (see ApplyMode);
	// empty means ApplyAuto.
	Mode ApplyMode
	// SQLTriggers says what the SQL apply path does with row events on
	// tables that have triggers on the target (see TriggerMode); empty
	// means TriggersRefuse.
	SQLTriggers TriggerMode
	// TargetGTIDs says which GTIDs the replayed transactions get in the
	// target's binary log (see GTIDMode); empty means GTIDsAuto.
	TargetGTIDs GTIDMode
}

// Recovery says how a replay resumes an earlier run, what it tolerates in
// the binlogs, and how it rides out lock waits and a lost target.
type Recovery struct {
	// Resume continues from the checkpoint saved on the target. Without it,
	// a target that has a checkpoint is refused.
	Resume bool
	// Uncertain, when resuming, says what became of the transaction the
	// checkpoint names as started by the earlier run but not known to be
	// finished (see UncertainError): OutcomeApplied goes on after it,
	// OutcomeNotApplied applies it. Without it such a checkpoint is
	// refused, unless the replay can tell by itself (a DDL whose
	// fingerprint tells).
	Uncertain Outcome

	// Strict refuses a last binlog file that ends inside a transaction
	// (by default every complete transaction is applied and the summary
	// says where the file was cut).
	Strict bool
	// SkipUnknown skips events the reader does not understand (each is
	// counted in the summary) instead of stopping.
	SkipUnknown bool
	// NoContinuityCheck reads on where a binlog file does not carry on
	// from the one before it (see binlog.Options.NoContinuityCheck).
	NoContinuityCheck bool
	// LockWaitTimeout is the target session's innodb_lock_wait_timeout,
	// which bounds how long a commit-order deadlock lasts before it is
	// resolved. MaxRetries bounds retries of one group.
	LockWaitTimeout time.Duration
	MaxRetries      int
	// Reconnect is how long a lost target is waited for (reconnecting with
	// backoff) before the replay gives up; 0 gives up at once.
	Reconnect time.Duration
}

// Reporting says what a replay reports, and where.
type Reporting struct {
	// LogValues lets errors quote data values: the failing statement's
	// literals and the values in the server's message. By default they are
	// replaced by ? (see ApplyError).
	LogValues bool

	// StallReport, when positive, is how long the replay waits without a
	// commit (while transactions are being applied) before it logs what
	// its sessions on the target are doing, and again after each further
	// period: a target whose disk is full waits for space without failing.
	StallReport time.Duration

	// Progress, if set, receives a snapshot about every ProgressInterval.
	Progress         func(Stats)
	ProgressInterval time.Duration
}

// Source is a live server the replay reads binlogs from, as a replica or
// mysqlbinlog --read-from-remote-server does: positions and checkpoints then
// name the source's own binlog files and offsets.
type Source struct {
	// DSN is the source's go-sql-driver DSN (address, user, TLS); its
	// password must already be filled in. Its user needs REPLICATION SLAVE.
	DSN string
	// ServerID is the server_id of the dump connection: neither the
	// source's own nor another replica's (the source ends an earlier dump
	// with the same id).
	ServerID uint32
	// StartGTID, when there is no start position nor checkpoint, makes the
	// source start after this MariaDB GTID position (domain-server-seq per
	// domain). Set Select.StartGTIDs to the same set, so that the filter skips
	// what the source may still send of it.
	StartGTID string
}

// Remote returns the source as the binlog package takes it.
func (s Source) Remote() (remote.Source, error) {
	cfg, err := mysql.ParseDSN(s.DSN)
	if err != nil {
		return remote.Source{}, fmt.Errorf("parse source DSN: %w", err)
	}
	return remote.Source{Network: cfg.Net, Address: cfg.Addr, User: cfg.User, Password: cfg.Passwd,
		TLS: cfg.TLS, ServerID: s.ServerID, StartGTID: s.StartGTID}, nil
}

// Filter returns the start, stop and include settings of o for the filter
// package, reading files (none for a Source).
func (o *Options) Filter(files []string) filter.Options {
	return filter.Options{Files: files, StartGTIDs: o.Select.StartGTIDs, ExcludeGTIDs: o.Select.ExcludeGTIDs,
		StopPosition: o.Select.StopPosition, StopDatetime: o.Select.StopDatetime, StopBeforeGTID: o.Select.StopBeforeGTID,
		Databases: o.Select.Databases, Tables: o.Select.Tables, FoldCase: o.Select.FoldCase}
}

// Worker counts AutoWorkers chooses between.
const (
	minAutoWorkers = 4
	maxAutoWorkers = 32
)

// AutoWorkers returns the number of workers for a replay on a machine
// with cpus processors to a target rtt away. Locally, twice the
// processors (the replay and a local target share them; more only adds
// lock conflicts): 4 to 16. Over a network each session waits a round
// trip per statement, time in which the target has nothing of it to
// do: one more session per 250 µs of round trip keeps about as many
// statements at work in the target as locally (a group's statements take
// the target a fraction of a millisecond to a few), up to 32.
func AutoWorkers(cpus int, rtt time.Duration) int {
	local := min(max(2*cpus, minAutoWorkers), 16)
	extra := int((rtt + 249*time.Microsecond) / (250 * time.Microsecond))
	if rtt < 200*time.Microsecond {
		extra = 0 // a local socket or loopback
	}
	return min(local+extra, maxAutoWorkers)
}

// Memory budgets AutoMemoryBudget chooses between, and its share per worker.
const (
	minAutoMemory   = 32 << 20
	maxAutoMemory   = 256 << 20
	memoryPerWorker = 8 << 20
)

// AutoMemoryBudget returns the memory budget for a replay with workers
// workers: 8 MiB of transactions in flight per worker, from 32 MiB to
// 256 MiB. The budget is what lets the reader stay ahead of the workers,
// so it grows with the parallelism it feeds; with the 4 workers of a
// 2-core machine the process stayed under 100 MB on a 1 GB binlog
// (docs/benchmarks.md).
func AutoMemoryBudget(workers int) int64 {
	return min(max(int64(workers)*memoryPerWorker, minAutoMemory), maxAutoMemory)
}

// DefaultOptions returns options with defaults suited to the machine.
func DefaultOptions() Options {
	return Options{
		Apply: ApplyOptions{
			Workers:      0,
			GroupTxns:    0,
			GroupBytes:   4 << 20,
			MemoryBudget: 0,
			Compact:      true,
			TargetGTIDs:  GTIDsAuto,
			Mode:         ApplyAuto,
			SQLTriggers:  TriggersRefuse,
		},
		Recovery: Recovery{
			LockWaitTimeout: 2 * time.Second,
			MaxRetries:      20,
			Reconnect:       2 * time.Minute,
		},
		Report: Reporting{
			StallReport:      30 * time.Second,
			ProgressInterval: time.Second,
		},
	}
}

// Validate reports the first problem with o.
func (o *Options) Validate() error {
	switch {
	case len(o.Files) == 0 && o.Source.DSN == "":
		return errors.New("no binlog files given (nor --source)")
	case len(o.Files) > 0 && o.Source.DSN != "":
		return errors.New("give binlog files or --source, not both")
	case o.Source.DSN != "" && o.Source.ServerID == 0:
		return errors.New("the source's dump connection needs a server id other than 0")
	case o.Source.DSN != "" && !o.Recovery.Resume && o.Select.StartPosition.IsZero() && o.Source.StartGTID == "":
		return errors.New("reading from --source needs a start point: --source-start FILE:POS or GTID, or --resume")
	case o.TargetDSN == "":
		return errors.New("no target given (--target DSN)")
	case o.Apply.Workers < 0:
		return fmt.Errorf("workers must be at least 1 (or 0: chosen), got %d", o.Apply.Workers)
	case o.Apply.GroupTxns < 0:
		return fmt.Errorf("group size must be at least 1 (or 0: chosen), got %d", o.Apply.GroupTxns)
	case o.Apply.MemoryBudget != 0 && o.Apply.MemoryBudget < 1<<20:
		return fmt.Errorf("memory budget must be at least 1 MiB (or 0: chosen), got %d bytes", o.Apply.MemoryBudget)
	case o.Select.StartGTIDsFromTarget && !o.Select.StartGTIDs.IsEmpty():
		return errors.New("--start-gtid: give a GTID set or target, not both")
	case o.Select.StartGTIDsFromTarget && o.Source.DSN != "":
		return errors.New("--start-gtid target reads files; with --source, give --source-start")
	case o.Recovery.Resume && (!o.Select.StartPosition.IsZero() || !o.Select.StartGTIDs.IsEmpty() || o.Select.StartGTIDsFromTarget):
		return errors.New("--resume continues from the target's checkpoint: do not also give a start point")
	case !o.Apply.ClientCommitOrder && 2*o.Apply.GroupTxns >= target.TurnSlots:
		return fmt.Errorf("--group-txns %d: at most %d with chained commits (--commit-order server)", o.Apply.GroupTxns, target.TurnSlots/2-1)
	case o.Recovery.LockWaitTimeout < time.Second:
		return errors.New("lock wait timeout must be at least 1s")
	case o.Select.ToEnd && !o.Recovery.Resume:
		return errors.New("--to-end drops the stop point a checkpoint keeps: it needs --resume")
	case o.Select.ToEnd && o.Select.hasStop():
		return errors.New("--to-end applies to the end of the binlogs: do not also give a stop point")
	case o.Recovery.Uncertain != "" && !o.Recovery.Resume:
		return errors.New("--uncertain settles a transaction an earlier run left unfinished: it needs --resume")
	}
	if o.Recovery.Uncertain != "" {
		if _, err := ParseOutcome(string(o.Recovery.Uncertain)); err != nil {
			return err
		}
	}
	if o.Apply.TargetGTIDs != "" {
		if _, err := ParseGTIDMode(string(o.Apply.TargetGTIDs)); err != nil {
			return err
		}
	}
	if o.Apply.Mode != "" {
		if _, err := ParseApplyMode(string(o.Apply.Mode)); err != nil {
			return err
		}
	}
	if o.Apply.SQLTriggers != "" {
		if _, err := ParseTriggerMode(string(o.Apply.SQLTriggers)); err != nil {
			return err
		}
	}
	for _, t := range o.Select.Tables {
		if !strings.Contains(t, ".") {
			return fmt.Errorf("table filter %q: want db.table", t)
		}
	}
	return o.validateRewrite()
}

// validateRewrite checks RewriteDB against the other options.
func (o *Options) validateRewrite() error {
	if len(o.Select.RewriteDB) == 0 {
		return nil
	}
	if o.Recovery.Resume && len(o.Select.Databases) == 0 && len(o.Select.Tables) == 0 {
		// A resume given no filters keeps the checkpoint's
		// (resumeSelection); the rules are checked with them when the
		// run makes its rewriter.
		if err := o.Select.RewriteDB.Check(); err != nil {
			return err
		}
	} else if _, err := o.rewriter(nil, filterTables{}); err != nil {
		return err
	}
	switch {
	case o.Apply.TargetGTIDs == GTIDsSource:
		return errors.New("--target-gtids source: with --rewrite-db the transactions write other databases than the source's: " +
			"the target logs them with GTIDs of its own")
	case o.Select.StartGTIDsFromTarget:
		return errors.New("--start-gtid target takes the GTIDs the target holds, which with --rewrite-db (restoring into " +
			"another database, on a server of its own history) say nothing of the database restored: give the backup's start point")
	}
	return nil
}

// rewriterNone reports whether the run has no rewriter: no --rewrite-db,
// --databases nor --tables.
func (o *Options) rewriterNone() bool {
	return len(o.Select.RewriteDB) == 0 && len(o.Select.Tables) == 0 && len(o.Select.Databases) == 0
}

// rewriter returns the rewriter of a run reading files (none for a
// source), nil without RewriteDB, Tables nor Databases (without
// RewriteDB it applies the filters: see rewrite.New), with beside what
// the databases of Tables hold beside them (tablesBeside).
func (o *Options) rewriter(files []string, beside filterTables) (*rewrite.Rewriter, error) {
	if o.rewriterNone() {
		return nil, nil
	}
	return rewrite.New(rewrite.Config{Rules: o.Select.RewriteDB, Filter: filter.New(o.Filter(files)), LogValues: o.Report.LogValues,
		OtherTables: beside.others, Bodies: beside.bodies, Unseen: beside.unseen})
}

// Stats is a snapshot of a running replay.
type Stats struct {
	// Applied counts the source transactions committed on the target.
	Applied uint64 `json:"applied"`
	// Skipped counts transactions passed over by GTID filters.
	Skipped uint64 `json:"skipped"`
	// BytesApplied is the binlog size of the applied transactions;
	// BytesTotal the size of the input files (0 when unknown: compressed
	// files).
	BytesApplied int64 `json:"bytes_applied"`
	BytesTotal   int64 `json:"bytes_total"`
	// Position is the end of the last applied transaction, and SourceTime
	// its commit time on the source.
	Position   txn.Position  `json:"position"`
	SourceTime time.Time     `json:"source_time"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	// Busy counts the workers applying a group right now; Waiting those
	// whose group is applied and waits for its turn to commit.
	Busy    int `json:"busy"`
	Waiting int `json:"waiting"`
	// Parallelism is how much parallelism the binlog allows, as measured
	// on the groups dispatched so far: their number divided by the length
	// of the longest chain of groups each waiting for the one before. It
	// bounds the speed-up more workers can bring; 0 when unknown (one
	// worker computes no dependencies).
	Parallelism float64 `json:"parallelism"`
	// Barriers counts the groups that had to run alone (DDL, statements,
	// tables without keys).
	Barriers uint64 `json:"barriers"`
	// SQLRowEvents counts the row events applied as SQL made from their
	// images rather than passed through: every one with ApplySQL, else
	// MySQL row events on tables with a JSON column, on a MariaDB target.
	SQLRowEvents uint64 `json:"sql_row_events"`
}
