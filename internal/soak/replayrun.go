package soak

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // StopZone, where the machine has no time zone database

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// runTimeout bounds one replay process: longer is a hang.
const runTimeout = 4 * time.Minute

// ReplayConfig is how a seed's replay is run, drawn from the seed.
type ReplayConfig struct {
	Workers   int
	GroupTxns int    // 0: the default
	Memory    string // "": the default
	Stop      binlogtext.Stop
	// NeverOK adds --stop-never-reached-ok.
	NeverOK bool
	// Kills is how many times the replay is killed with SIGKILL (or,
	// with Term, some of them sent SIGTERM);
	// Restarts how many times the target is restarted (Crash: killed)
	// during it.
	Kills, Restarts int
	Crash           bool
	Term            bool
	// Apply is --apply ("": the default, auto).
	Apply string
	// Compact leaves the replay's net-effect compaction of each group on
	// (its default); false adds --compact=false.
	Compact bool
	// ClientOrder adds --commit-order client.
	ClientOrder bool
	// TargetBinlog turns the binlog of the target (and the anchor) on,
	// in TargetFormat: the replay keeps the source's GTIDs, and the check
	// compares the GTIDs the two logged. StrictGTIDs sets
	// gtid_strict_mode on the replay's target.
	TargetBinlog, StrictGTIDs bool
	TargetFormat              string
	// StartGTID starts the first run with --start-gtid (the base's GTID
	// position) and every file, instead of --start-position.
	StartGTID bool
	// FromBackup starts the first run with --from-backup (the base, a
	// prepared mariabackup backup: FeatHotBackup) instead of
	// --start-position.
	FromBackup bool
	// Remote reads the binlogs from the source server (--source) instead
	// of its files, when the source runs (not on a kept seed).
	Remote bool
	// ResumeBare gives each --resume no stop flag (nor --exclude-gtids,
	// --tables or --databases): it must keep the ones its checkpoint
	// keeps.
	ResumeBare bool
	// Accident is the index of the accident's transaction (FeatAccident)
	// that the replay skips (--exclude-gtids Exclude) and the anchors
	// leave out; -1 for none.
	Accident int
	Exclude  string
	// Filter applies only some tables of the workload (FeatFilter):
	// Tables ("db.table"), chosen once the target is restored, or, with
	// Databases, the workload's database (--databases: every table, each
	// statement through the filters' checks).
	Filter    bool
	Tables    []string
	Databases bool
	// StopZone, for a --stop-datetime, runs the replay (and plan) with
	// TZ set to this zone and gives the stop as its local wall-clock time
	// ('YYYY-MM-DD HH:MM:SS'), not RFC 3339 in UTC.
	StopZone string
	// TargetArgs are the targets' mariadbd arguments of FeatTargetConfig:
	// global settings other than the source's (the anchor's too).
	TargetArgs []string
	// RewriteDB applies the workload to a copy of the base under another
	// name on the target (FeatRewriteDB): --rewrite-db DB=SideDB with
	// --databases DB, or with --tables Tables (the copy holding those
	// tables alone).
	RewriteDB bool
}

// SideDB is the name of the workload database's copy on the target that a
// replay with ReplayConfig.RewriteDB applies the binlogs to.
const SideDB = seedgen.DB + "_side"

// String describes the configuration in one line.
func (c ReplayConfig) String() string {
	s := fmt.Sprintf("workers=%d group=%d stop=%q kills=%d restarts=%d", c.Workers, c.GroupTxns, c.Stop.Desc, c.Kills, c.Restarts)
	if c.Crash {
		s += " (crash)"
	}
	if c.Term {
		s += " (some kills SIGTERM)"
	}
	if c.Memory != "" {
		s += " memory=" + c.Memory
	}
	if c.Apply != "" {
		s += " apply=" + c.Apply
	}
	if !c.Compact {
		s += " no-compact"
	}
	if c.ClientOrder {
		s += " commit-order=client"
	}
	if c.TargetBinlog {
		s += " target-binlog=" + c.TargetFormat
		if c.StrictGTIDs {
			s += " (gtid strict)"
		}
	}
	if c.StartGTID {
		s += " start=gtid"
	}
	if c.FromBackup {
		s += " start=from-backup"
	}
	if c.Remote {
		s += " remote"
	}
	if c.ResumeBare {
		s += " resume-bare"
	}
	if c.Exclude != "" {
		s += fmt.Sprintf(" exclude=#%d", c.Accident+1)
	}
	switch {
	case c.Filter && c.Databases:
		s += " databases=" + seedgen.DB
	case len(c.Tables) > 0:
		s += " tables=" + strings.Join(c.Tables, ",")
	}
	if c.RewriteDB {
		s += " rewrite-db=" + seedgen.DB + "=" + SideDB
	}
	if len(c.TargetArgs) > 0 {
		s += " target-config=" + strings.Join(c.TargetArgs, " ")
	}
	if c.StopZone != "" {
		s += " stop-zone=" + c.StopZone
	}
	return s
}

// stopArgs are the replay's stop flags: Stop.Args, a --stop-datetime
// given in StopZone's local time when that is set.
func (c ReplayConfig) stopArgs() []string {
	if c.StopZone == "" || len(c.Stop.Args) != 2 || c.Stop.Args[0] != "--stop-datetime" {
		return c.Stop.Args
	}
	loc, err := time.LoadLocation(c.StopZone)
	at, err2 := time.Parse(time.RFC3339Nano, c.Stop.Args[1]) // not Stop.Time: the stop behind the checkpoint sets none
	if err != nil || err2 != nil {
		return c.Stop.Args // the zone is the soak's own, the time RFC 3339: not reached
	}
	return []string{"--stop-datetime", at.In(loc).Format("2006-01-02 15:04:05.999999")}
}

// env is the environment of the replay's and plan's processes: TZ set to
// StopZone when that is set.
func (c ReplayConfig) env() []string {
	if c.StopZone == "" {
		return nil // the soak's own
	}
	return append(os.Environ(), "TZ="+c.StopZone)
}

// chooseReplay draws the replay configuration. Restarts are left out when
// the plan has MEMORY tables (a restart empties them, as it would on any
// server), and crashes when it has MyISAM tables (not crash safe).
func chooseReplay(rng *rand.Rand, p seedgen.Plan, txns []binlogtext.BinTxn, end binlogtext.BinEnd) ReplayConfig {
	c := ReplayConfig{Workers: 1 + rng.IntN(8), Accident: -1}
	if rng.IntN(3) > 0 {
		c.GroupTxns = []int{1, 2, 4, 16, 64}[rng.IntN(5)]
	}
	if p.Has(seedgen.FeatSmallMem) && rng.IntN(2) == 0 {
		c.Memory = []string{"1M", "4M", "16M"}[rng.IntN(3)]
	}
	c.Stop = binlogtext.ChooseStop(rng, p.Features, txns, end)
	c.NeverOK = rng.IntN(2) == 0
	if p.Has(seedgen.FeatKill) {
		c.Kills = rng.IntN(4)
	}
	if p.Has(seedgen.FeatRestart, seedgen.FeatCrash) && !p.Has(seedgen.FeatMemory) {
		c.Restarts = rng.IntN(3)
		c.Crash = p.Has(seedgen.FeatCrash) && !p.Has(seedgen.FeatMyISAM, seedgen.FeatErrorCode, seedgen.FeatRollback) &&
			(!p.Has(seedgen.FeatRestart) || rng.IntN(2) == 0)
	}
	c.Term = p.Has(seedgen.FeatTerm) && c.Kills > 0
	// Row events as SQL, but not with triggers: their row events are
	// refused (they would fire the triggers again). Drawn last, so that
	// a seed's other choices stay what they were.
	if !p.Has(seedgen.FeatTriggers) && rng.IntN(3) == 0 {
		c.Apply = "sql"
	}
	// Net-effect compaction (the default) off for a third of the seeds,
	// drawn after everything else for the same reason.
	c.Compact = rng.IntN(3) != 0
	// The target's binlog on, source GTIDs kept: drawn after everything
	// else for the same reason.
	if rng.IntN(4) == 0 {
		c.TargetBinlog, c.StrictGTIDs = true, rng.IntN(2) == 0
		c.TargetFormat = []string{"ROW", "MIXED"}[rng.IntN(2)]
	}
	// Drawn last, for the same reason.
	c.StartGTID = p.Has(seedgen.FeatStartGTID) && rng.IntN(2) == 0
	// Not with a stop GTID of a domain the binlogs never mention: a
	// remote replay cannot read ahead to refuse it (it says so when the
	// binlogs end, exit 3), which the expectation does not model.
	// Nor where the source's crash cut its binlog inside an event: the
	// source refuses to send such a file (error 1236, "binlog truncated
	// in the middle of event"), as to a replica.
	c.Remote = p.Has(seedgen.FeatRemote) && rng.IntN(2) == 0 && !c.Stop.UnknownDomain &&
		(p.Crash == nil || !p.Crash.MidEvent || p.Crash.At == 0)
	c.ResumeBare = c.Stop.Desc != "none" && rng.IntN(2) == 0
	// Drawn last, for the same reason: the oracle compares the tables
	// kept. Kills, restarts, remote reading and the target's binlog
	// included (a resume keeps the filters; reading from the source, a
	// refusal comes at its transaction, with every one before it
	// applied; a transaction left empty still commits its checkpoint,
	// under its GTID).
	c.Filter = p.Has(seedgen.FeatFilter) && rng.IntN(2) == 0
	// Drawn last, for the same reason; not with the filters (it takes
	// --databases or --tables) nor the target's binlog (its GTIDs are
	// the target's own with --rewrite-db).
	c.RewriteDB = p.Has(seedgen.FeatRewriteDB) && rng.IntN(2) == 0 && !c.Filter && !c.TargetBinlog
	// Drawn last, for the same reason: the replay keeping the commit
	// order itself (no chained commits, no early start) for a quarter of
	// the seeds.
	c.ClientOrder = rng.IntN(4) == 0
	// Drawn last, for the same reason.
	if p.Has(seedgen.FeatTargetConfig) {
		c.TargetArgs = chooseTargetArgs(rng)
		if p.Has(seedgen.FeatBigTxn) {
			// mariadb-binlog writes a statement's row events as one BINLOG
			// statement, which a big transaction's make larger than 1M:
			// the anchor would fail where the replay splits them.
			c.TargetArgs = slices.DeleteFunc(c.TargetArgs, func(a string) bool { return strings.HasPrefix(a, "--max-allowed-packet") })
		}
	}
	// Drawn last, for the same reason: the start the backup recorded,
	// read by the replay from the backup (files only).
	c.FromBackup = p.Has(seedgen.FeatHotBackup) && !c.StartGTID && !c.Remote && rng.IntN(2) == 0
	// Drawn last, for the same reason: a stop datetime in local time, in
	// a zone half an hour off the hour and without daylight saving (a
	// wall-clock time passed twice is refused).
	if !c.Stop.Time.IsZero() && rng.IntN(2) == 0 {
		c.StopZone = "Asia/Kolkata"
	}
	return c
}

// targetSettings are FeatTargetConfig's choices: each is drawn with
// probability one half, one of its variants.
var targetSettings = [][]string{
	{"--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,ONLY_FULL_GROUP_BY,STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_VALUE_ON_ZERO",
		"--sql-mode=ORACLE", "--sql-mode="},
	{"--default-time-zone=+05:30", "--default-time-zone=-08:00"},
	{"--transaction-isolation=READ-COMMITTED", "--transaction-isolation=READ-UNCOMMITTED", "--transaction-isolation=SERIALIZABLE"},
	{"--autocommit=0"},
	{"--auto-increment-increment=3 --auto-increment-offset=2"},
	{"--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci"},
	{"--explicit-defaults-for-timestamp=0"},
	{"--lc-time-names=de_DE"},
	{"--innodb-lock-wait-timeout=2", "--innodb-deadlock-detect=OFF --innodb-lock-wait-timeout=5"},
	{"--wait-timeout=2"},
	{"--innodb-autoinc-lock-mode=0", "--innodb-autoinc-lock-mode=2"},
	{"--max-allowed-packet=1M"},
}

// chooseTargetArgs draws FeatTargetConfig's settings: at least one.
func chooseTargetArgs(rng *rand.Rand) []string {
	var args []string
	for len(args) == 0 {
		for _, vs := range targetSettings {
			if rng.IntN(2) == 0 {
				args = append(args, strings.Fields(vs[rng.IntN(len(vs))])...)
			}
		}
	}
	return args
}

// chooseTables draws the tables of a filtered replay (ReplayConfig.Filter)
// among those of the restored target: at least one, not all.
func chooseTables(ctx context.Context, rng *rand.Rand, target *sandbox.Server) ([]string, error) {
	db, err := target.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", seedgen.DB)
	if err != nil {
		return nil, fmt.Errorf("list the target's tables: %w", err)
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		all = append(all, seedgen.DB+"."+name)
	}
	if err := rows.Err(); err != nil || len(all) < 2 {
		return nil, err
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	kept := all[:1+rng.IntN(len(all)-1)]
	if rng.IntN(2) == 0 {
		// Half the time, closed over the tables that foreign keys and
		// triggers join: a replay the filter would refuse up front
		// otherwise gets to apply.
		if kept, err = closeTables(ctx, db, kept, all); err != nil {
			return nil, err
		}
	}
	slices.Sort(kept)
	return kept, nil
}

// closeTables adds to kept, until none is left, the tables of all that a
// foreign key or a trigger joins to one of kept.
func closeTables(ctx context.Context, db *sql.DB, kept, all []string) ([]string, error) {
	var pairs [][2]string
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "+
		"WHERE CONSTRAINT_SCHEMA = ? UNION ALL SELECT EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS "+
		"WHERE TRIGGER_SCHEMA = ?", seedgen.DB, seedgen.DB)
	if err != nil {
		return nil, fmt.Errorf("read the target's foreign keys and triggers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, other string
		if err := rows.Scan(&table, &other); err != nil {
			return nil, err
		}
		for _, t := range all {
			if name := strings.TrimPrefix(t, seedgen.DB+"."); name == other || strings.Contains(other, name) {
				pairs = append(pairs, [2]string{seedgen.DB + "." + table, t})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, t := range kept {
		in[t] = true
	}
	for grown := true; grown; {
		grown = false
		for _, p := range pairs {
			if in[p[0]] != in[p[1]] {
				in[p[0]], in[p[1]], grown = true, true, true
			}
		}
	}
	kept = kept[:0:0]
	for t := range in {
		kept = append(kept, t)
	}
	return kept, nil
}

// Outcome is what the replay did: the last process's exit status and
// output, and the chaos that happened on the way.
type Outcome struct {
	Exit     int
	Stdout   string
	Stderr   string
	Summary  *summaryJSON
	Runs     int
	Kills    int
	Restarts int
	// Terms counts the runs that a SIGTERM stopped (exit 130).
	Terms int
	// EarlyStarts, HeadStarts and OrderAborts add up the runs'
	// summaries' (the runs that printed one): how often the seed
	// exercised the early start, the head start and the order monitor.
	EarlyStarts, HeadStarts, OrderAborts uint64
	// Hung is true when a process outlived runTimeout.
	Hung bool
	// Settled lists the transactions whose outcome a run refused to guess
	// (an UncertainError after a kill or a restart) and what the soak, as
	// the operator, said of them with --uncertain.
	Settled []Settled
	// TempRefused, when set, is a run's refusal to resume where the
	// binlog has temporary tables open, after a kill or a restart: the
	// replay ended there.
	TempRefused *TempRefusal
	// Failures are what the checks of those refusals found wrong;
	// RefusalFailed is set when a refusal could not be confirmed (the
	// replay went no further).
	Failures      []Failure
	RefusalFailed bool
	// Notes are observations of those checks that are not failures.
	Notes []string
	// AnchorUnfaithful is set when an anchor those checks compared with
	// (anchorAt) failed statements the source did not: they cannot be
	// judged.
	AnchorUnfaithful bool
	// OwnGTIDs is set when the target's gtid_strict_mode refused a source
	// GTID out of order (seedgen.FeatSeqNo) and the soak, as the error
	// says, resumed with --target-gtids own: the target's GTIDs are then
	// partly its own, not compared.
	OwnGTIDs bool
	// Log holds every run's command and output, for reports.
	Log strings.Builder
}

// summaryJSON is the part of the replay's --json summary the check reads.
type summaryJSON struct {
	Applied uint64 `json:"applied"`
	Last    *struct {
		GTID string `json:"gtid"`
	} `json:"last"`
	StopReason string `json:"stop_reason"`
	Next       struct {
		File   string `json:"file"`
		Offset uint64 `json:"offset"`
	} `json:"next"`
	Error string `json:"error"`
	// EarlyStarts, HeadStarts and OrderAborts: see replay.Summary.
	EarlyStarts uint64 `json:"early_starts"`
	HeadStarts  uint64 `json:"head_starts"`
	OrderAborts uint64 `json:"order_aborts"`
}

// replayer runs the binlog-replay binary against a target.
type replayer struct {
	bin    string
	target *sandbox.Server
	src    *Source
	cfg    ReplayConfig
	rng    *rand.Rand
	// txns are the transactions, applied how many of them the replay is
	// expected to apply: chaos events wait for progress among them.
	txns    []binlogtext.BinTxn
	applied int
	// files are the binlog files from the start file on (the anchors'
	// input); dir is a directory for the anchors' LOAD DATA files.
	files []string
	dir   string
	// uncertain is the --uncertain value of the next run ("": none).
	uncertain string
	// term makes some kills a SIGTERM (ReplayConfig.Term).
	term bool
	// ownGTIDs gives the runs --target-gtids own (Outcome.OwnGTIDs).
	ownGTIDs bool
}

// strictRefusal is what the replay's error says when the target's
// gtid_strict_mode refuses a source GTID out of order.
const strictRefusal = "SET GLOBAL gtid_strict_mode=OFF on the target, or replay with --target-gtids own"

// args returns one run's command line.
func (r *replayer) args(resume bool, workers int) []string {
	a := []string{"replay", "--target", r.target.DSN(""), "--workers", fmt.Sprint(workers),
		"--progress", "none", "--json", "--reconnect-for", "90s"}
	if r.cfg.GroupTxns > 0 {
		a = append(a, "--group-txns", fmt.Sprint(r.cfg.GroupTxns))
	}
	if r.cfg.Memory != "" {
		a = append(a, "--memory", r.cfg.Memory)
	}
	if r.cfg.Apply != "" {
		a = append(a, "--apply", r.cfg.Apply)
	}
	if !r.cfg.Compact {
		a = append(a, "--compact=false")
	}
	if r.cfg.ClientOrder {
		a = append(a, "--commit-order", "client")
	}
	if !resume || !r.cfg.ResumeBare {
		a = append(a, r.cfg.stopArgs()...)
		if r.cfg.Exclude != "" {
			a = append(a, "--exclude-gtids", r.cfg.Exclude)
		}
	}
	if r.cfg.NeverOK {
		a = append(a, "--stop-never-reached-ok")
	}
	// A bare resume gives no filter either: the checkpoint keeps them.
	if r.cfg.RewriteDB {
		// Every resume too: one without the rules is refused.
		a = append(a, "--rewrite-db", seedgen.DB+"="+SideDB)
	}
	switch {
	case resume && r.cfg.ResumeBare:
	case r.cfg.Filter && r.cfg.Databases, r.cfg.RewriteDB && len(r.cfg.Tables) == 0:
		a = append(a, "--databases", seedgen.DB)
	case len(r.cfg.Tables) > 0:
		a = append(a, "--tables", strings.Join(r.cfg.Tables, ","))
	}
	if r.ownGTIDs {
		a = append(a, "--target-gtids", "own")
	}
	if resume {
		a = append(a, "--resume")
		if r.uncertain != "" {
			a = append(a, "--uncertain", r.uncertain)
		}
	}
	flag, start := "--start-position", fmt.Sprintf("%s:%d", r.src.StartFile, r.src.StartPos)
	switch {
	case r.cfg.StartGTID && r.src.StartGTID != "":
		flag, start = "--start-gtid", r.src.StartGTID
	case r.cfg.FromBackup:
		flag, start = "--from-backup", r.src.Base
	}
	remote := r.cfg.Remote && r.src.Server != nil
	if remote {
		a, flag = append(a, "--source", r.src.Server.TCPDSN("")), "--source-start"
	}
	if !resume {
		a = append(a, flag, start)
	}
	if remote {
		return a
	}
	return append(a, r.src.Files...)
}

// run replays until a process ends by itself: each chaos event (a kill of
// the replay, a restart of the target) happens at a random moment of a
// run; after a kill the next run resumes. A run that ends refusing to
// guess the outcome of a transaction a kill or a restart interrupted
// (UncertainError) is checked and settled as an operator would (see
// settleUncertain), and the replay resumes with --uncertain; a refusal to
// resume where temporary tables are open is checked and ends the replay.
func (r *replayer) run(ctx context.Context) (*Outcome, error) {
	out := &Outcome{}
	kills, restarts := r.cfg.Kills, r.cfg.Restarts
	// afterKill: the run resumes after a kill (or a SIGTERM: afterTerm).
	resume, afterKill, afterTerm := false, false, false
	workers := r.cfg.Workers
	for {
		out.Runs++
		if out.Runs > 20 {
			return out, errors.New("replay: more than 20 runs")
		}
		// The target restarts in the first run (the replay rides them
		// out), then a kill ends each run while kills remain.
		var events []chaosEvent
		for ; restarts > 0; restarts-- {
			events = append(events, r.chaosAt("restart"))
		}
		if kills > 0 {
			events, kills = append(events, r.chaosAt("kill")), kills-1
		}
		restartsBefore := out.Restarts
		ended, err := r.runOnce(ctx, out, resume, workers, events)
		r.uncertain = ""
		if err != nil {
			return out, err
		}
		if ended == "interrupted" {
			// SIGTERM: the replay stopped at a transaction boundary
			// (exit 130); it resumes, and needs no --uncertain. One
			// interrupted while starting or waiting to reconnect
			// leaves the checkpoint as it was: a transaction an
			// earlier kill left pending stays so, and the resume
			// settles it as after that kill.
			out.Terms++
			early := interruptedEarly(out)
			if err := r.checkInterrupted(ctx, out, early); err != nil || out.RefusalFailed {
				return out, err
			}
			if resume, err = r.hasCheckpoint(ctx); err != nil {
				return out, err
			}
			afterKill, afterTerm = true, !early
			continue
		}
		if ended != "killed" {
			if out.Exit == 1 && r.cfg.StrictGTIDs && !r.ownGTIDs && strings.Contains(lastError(out), strictRefusal) {
				// The target's gtid_strict_mode refused a source GTID
				// out of order (where a group's last transaction is
				// one): resume with the target's own GTIDs, as the
				// error says.
				out.OwnGTIDs, r.ownGTIDs = true, true
				out.Notes = append(out.Notes, "the strict target refused a source GTID out of order: resumed with --target-gtids own")
				if resume, err = r.hasCheckpoint(ctx); err != nil {
					return out, err
				}
				// The resume may refuse where temporary tables are open
				// (seed 92057), or to guess the outcome of a transaction
				// applied alone, writing non-transactional tables, whose
				// GTID the target refused as it began (seed 92116): both
				// are checked and settled as after a kill.
				afterKill, afterTerm = true, false
				continue
			}
			if out.Exit != 1 || !(afterKill || out.Restarts > restartsBefore) {
				return out, nil
			}
			settled, err := r.refusal(ctx, out, afterTerm && out.Restarts == restartsBefore)
			if err != nil {
				return out, err
			}
			if settled != "" {
				r.uncertain, resume, afterKill, afterTerm = settled, true, false, false
				continue
			}
			if out.TempRefused != nil || out.RefusalFailed || out.Restarts == restartsBefore || !r.startupLoss(out) {
				return out, nil
			}
			// The replay did not start (a restart of the target
			// during its start-up): run the command again, as an
			// operator would.
			if resume, err = r.hasCheckpoint(ctx); err != nil {
				return out, err
			}
			afterKill, afterTerm = false, false
			continue
		}
		out.Kills++
		afterKill, afterTerm = true, false
		if resume, err = r.hasCheckpoint(ctx); err != nil {
			return out, err
		}
		if r.rng.IntN(2) == 0 {
			workers = 1 + r.rng.IntN(8)
		}
	}
}

// runOnce runs one replay process, with the chaos events during it, one
// after the other. It reports "killed" when the process was killed,
// "interrupted" when it was sent SIGTERM and exited 130, else ""; out
// holds the exit status and output of a process not killed.
func (r *replayer) runOnce(ctx context.Context, out *Outcome, resume bool, workers int, events []chaosEvent) (string, error) {
	runCtx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	args := r.args(resume, workers)
	cmd := exec.CommandContext(runCtx, r.bin, args...)
	cmd.Env = r.cfg.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	fmt.Fprintf(&out.Log, "$ binlog-replay %s\n", strings.Join(args[:len(args)-len(r.src.Files)], " "))
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start replay: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed, termed, waitErr, err := r.chaos(runCtx, ctx, cmd, done, events, out)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&out.Log, "%s%s", indent(compactSummary(stdout.String())), indent(stderr.String()))
	if runCtx.Err() == context.DeadlineExceeded {
		out.Hung = true
	}
	if killed {
		return "killed", nil
	}
	out.Exit = exitCode(waitErr)
	out.Stdout, out.Stderr = stdout.String(), stderr.String()
	out.Summary = parseSummary(out.Stdout)
	if s := out.Summary; s != nil {
		out.EarlyStarts += s.EarlyStarts
		out.HeadStarts += s.HeadStarts
		out.OrderAborts += s.OrderAborts
	}
	switch {
	case termed && out.Exit == 130:
		return "interrupted", nil
	case termed && out.Exit == 128+int(syscall.SIGTERM):
		// The signal came before the replay handles signals (its first
		// milliseconds) or after it stopped handling them (on its way
		// out): the process died of it, as of a kill.
		out.Notes = append(out.Notes, "SIGTERM outside the replay's signal handling (start-up or exit): the process died of it (exit 143); taken as a kill")
		return "killed", nil
	}
	return "", nil
}

// reConnLoss matches the errors of a lost connection to the target.
var reConnLoss = regexp.MustCompile(`invalid connection|bad connection|connection is already closed|no such file or directory|` +
	`connection refused|broken pipe|unexpected EOF|: EOF$`)

// startupLoss reports whether a run that ended with exit 1 after a
// restart of the target lost the target before the replay began (it wrote
// no summary): on purpose when it never reached the target (the replay
// fails fast, nothing applied: a note), a failure when it had reached it
// and does not reconnect.
func (r *replayer) startupLoss(out *Outcome) bool {
	msg := lastError(out)
	switch {
	case strings.Contains(msg, "cannot connect to the target") && strings.Contains(msg, "Nothing was applied"):
		out.Notes = append(out.Notes, "a restart of the target during the replay's start-up: it could not connect and did not start "+
			"(fails fast on purpose, nothing applied); run again")
		return true
	case out.Summary == nil && reConnLoss.MatchString(msg):
		out.Failures = append(out.Failures, Failure{Class: "start-up: a target lost after it was reached, before the replay began, is not reconnected to",
			Detail: fmt.Sprintf("exit 1 after a restart of the target, with no summary: %s; the soak runs the command again", msg)})
		return true
	}
	return false
}

// interruptedEarly reports whether a run that exited 130 was interrupted
// while starting or waiting to reconnect (replay.InterruptedError), or
// while the command checked the target and the binlogs before the replay
// began (nothing applied, the checkpoint as the run found it: seed 30137,
// a pending transaction left by a lost target), not at a transaction
// boundary of its own.
func interruptedEarly(out *Outcome) bool {
	return strings.Contains(out.Stderr, "binlog-replay replay: interrupted (") ||
		strings.Contains(out.Stderr, "binlog-replay replay: interrupted while checking the target and the binlogs (")
}

// checkInterrupted checks the target after a run that SIGTERM stopped:
// its checkpoint must be at a transaction boundary (no transaction
// pending) unless the run was interrupted early (interruptedEarly), and
// the summary must not say the end was reached.
func (r *replayer) checkInterrupted(ctx context.Context, out *Outcome, early bool) error {
	cp, err := readTargetCheckpoint(ctx, r.target)
	if err != nil {
		return err
	}
	if early {
		out.Notes = append(out.Notes, "SIGTERM while starting or reconnecting: exit 130 ("+lastError(out)+")")
	}
	if cp != nil && cp.State != "running" && !early {
		refusalFail(out, "SIGTERM: the checkpoint names a pending transaction",
			"after exit 130 the checkpoint is in state %q, pending %s:%d (GTID %s): %s",
			cp.State, cp.PendingFile, cp.PendingPos, cp.PendingGTID, lastError(out))
	}
	if f := lastSummaryFailure(out, r.txns, r.cfg.Accident); f != nil {
		f.Class += " (SIGTERM)"
		out.Failures = append(out.Failures, *f)
	}
	if s := out.Summary; s != nil && len(r.txns) > 0 {
		last := r.txns[len(r.txns)-1]
		if s.Next.File != "" && !binlogtext.PosBefore(s.Next.File, s.Next.Offset, last.File, last.End) {
			out.Notes = append(out.Notes, fmt.Sprintf("SIGTERM after the last transaction was applied: exit 130 (%s)", lastError(out)))
		}
	}
	return nil
}

// hasCheckpoint reports whether the target holds a checkpoint row.
func (r *replayer) hasCheckpoint(ctx context.Context) (bool, error) {
	cp, err := readTargetCheckpoint(ctx, r.target)
	return cp != nil, err
}

// targetCheckpoint is the checkpoint row as the target holds it.
type targetCheckpoint struct {
	Seq  uint64
	File string
	Pos  uint64
	GTID string
	// State is "running", or "ddl" / "nontrans" while a transaction
	// applied apart is pending: PendingFile:PendingPos is its start.
	State       string
	PendingFile string
	PendingPos  uint64
	PendingGTID string
	TempTables  string
}

// readTargetCheckpoint reads binlog_replay.checkpoint; nil when there is
// none.
func readTargetCheckpoint(ctx context.Context, s *sandbox.Server) (*targetCheckpoint, error) {
	dbh, err := s.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	}
	defer dbh.Close()
	var n int
	if err := dbh.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA = 'binlog_replay' AND TABLE_NAME = 'checkpoint'").Scan(&n); err != nil {
		return nil, fmt.Errorf("look for the checkpoint: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	var cp targetCheckpoint
	err = dbh.QueryRowContext(ctx, "SELECT seq, file, pos, gtid, state, ddl_file, ddl_pos, pending_gtid, temp_tables "+
		"FROM binlog_replay.checkpoint").
		Scan(&cp.Seq, &cp.File, &cp.Pos, &cp.GTID, &cp.State, &cp.PendingFile, &cp.PendingPos, &cp.PendingGTID, &cp.TempTables)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the checkpoint: %w", err)
	}
	return &cp, nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() >= 0 {
			return ee.ExitCode()
		}
		return 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
	}
	return -1
}

// parseSummary decodes the --json summary on stdout (nil when there is
// none, e.g. for a usage error).
func parseSummary(stdout string) *summaryJSON {
	i := strings.IndexByte(stdout, '{')
	if i < 0 {
		return nil
	}
	var s summaryJSON
	if err := json.NewDecoder(strings.NewReader(stdout[i:])).Decode(&s); err != nil {
		return nil
	}
	return &s
}

// compactSummary shortens the --json summary to the fields the check
// reads, on one line, for the log.
func compactSummary(stdout string) string {
	s := parseSummary(stdout)
	if s == nil {
		return stdout
	}
	last := ""
	if s.Last != nil {
		last = s.Last.GTID
	}
	return fmt.Sprintf("summary: applied=%d last=%s next=%s:%d stop_reason=%q", s.Applied, last, s.Next.File, s.Next.Offset, s.StopReason)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  | " + strings.ReplaceAll(s, "\n", "\n  | ") + "\n"
}
