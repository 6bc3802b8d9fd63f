package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/verify"
)

// Refusals after a kill or a restart.
//
// A kill -9 of the replay, or a target lost, while a transaction that
// writes non-transactional tables (or a DDL whose fingerprint cannot tell
// whether it ran) is applied leaves its outcome unknown: the replay
// refuses to guess (exit 1, "the outcome of the transaction at ... is
// unknown", an UncertainError) until the operator says --uncertain applied
// or not-applied. The soak takes that refusal as correct only when it can
// confirm it: the target holds exactly the transactions before that one,
// except the non-transactional tables it writes, which may hold part of
// it. It then does what an operator would: it compares the target with
// the anchor applied up to that transaction and up to its end, says
// not-applied (the target is as before it), applied (as after it), or,
// when part of it landed, copies those tables back from the anchor before
// it (undoing what landed) and says not-applied; and it resumes.
//
// A resume (or a reconnection) where the binlog has temporary tables open
// is refused too: they died with the session. That refusal is correct
// when the binlog (as mariadb-binlog prints it) has temporary tables open
// there and the target holds exactly the transactions before that point;
// the replay ends there.

var (
	reUncertain = regexp.MustCompile(`the outcome of the transaction at (\S+):(\d+)(?: \(GTID (\d+-\d+-\d+)\))? is unknown`)
	reTempLost  = regexp.MustCompile(`cannot resume at (\S+):(\d+): the binlog has temporary tables open there`)
)

// Settled is a transaction whose outcome a run refused to guess, and what
// the soak said of it.
type Settled struct {
	// Index is the transaction's index in txns.
	Index int
	// Kind is the checkpoint's state: "nontrans" or "ddl".
	Kind string
	// Decision is the --uncertain value given; Undone is true when part
	// of the transaction had landed and was undone first.
	Decision string
	Undone   bool
	// Tables are the tables where the target differed from the anchor
	// before the transaction.
	Tables []string
}

func (s Settled) String() string {
	d := s.Decision
	if s.Undone {
		d = "partly applied: undone, then " + d
	}
	return fmt.Sprintf("#%d (%s) %s", s.Index+1, s.Kind, d)
}

// TempRefusal is a run's refusal to resume where temporary tables are
// open: Index transactions are applied; Anchor holds them (the checker
// compares the target with it).
type TempRefusal struct {
	Index  int
	Tables string
	Anchor *sandbox.Server
	// Exempt are tables not compared: the next transaction, pending on
	// the checkpoint, landed there in part or whole (see exemptPending).
	Exempt map[string]string
}

// refusal looks at a run that ended with exit 1 after a kill or a restart
// (afterTerm: after a SIGTERM only, which stops at a transaction boundary:
// no outcome is unknown). It returns the --uncertain value to resume with
// when the run refused to guess a transaction's outcome and the soak
// settled it, else "" (the replay ends: the refusal is recorded in out, or
// it is an error for the checker).
func (r *replayer) refusal(ctx context.Context, out *Outcome, afterTerm bool) (string, error) {
	msg := lastError(out)
	if m := reUncertain.FindStringSubmatch(msg); m != nil {
		if afterTerm {
			refusalFail(out, "uncertain refusal after a SIGTERM (exit 130 stops at a transaction boundary)", "%s", msg)
			return "", nil
		}
		return r.settleUncertain(ctx, out, m)
	}
	if m := reTempLost.FindStringSubmatch(msg); m != nil {
		return "", r.confirmTempRefusal(ctx, out, m)
	}
	return "", nil
}

// settleAtTempRefusal settles the outcome of txns[k], the transaction
// expected to be refused for its use of a temporary table created before
// the start point, which the run was applying when it was lost: its
// statement fails on the target, so the target must be as before it; the
// soak says not-applied, and the resumed run must then refuse it for the
// expected reason.
func (r *replayer) settleAtTempRefusal(ctx context.Context, out *Outcome, k int, kind, msg string) (string, error) {
	t := r.txns[k]
	before, err := r.anchorAt(ctx, k, out)
	if before != nil {
		defer before.Close()
	}
	if err != nil {
		return "", err
	}
	d, rep, err := r.compare(ctx, r.target, before)
	if err != nil {
		return "", err
	}
	if len(d) > 0 {
		refusalFail(out, "uncertain refusal: at the transaction refused for a temporary table created before the start: the target is not as before it",
			"transaction #%d (%s): %s\ntarget against the anchor before it:\n%s", k+1, t.GTID, msg, rep)
		return "", nil
	}
	s := Settled{Index: k, Kind: kind, Decision: "not-applied"}
	out.Settled = append(out.Settled, s)
	fmt.Fprintf(&out.Log, "  (the soak settles transaction #%d at %s:%d, GTID %s: --uncertain not-applied; it uses %s and the target is as before it)\n",
		k+1, t.File, t.Start, t.GTID, binlogtext.TempBeforeStart)
	return s.Decision, nil
}

// refusalFail records a failure of a refusal's check: the replay goes no
// further.
func refusalFail(out *Outcome, class, format string, args ...any) {
	out.Failures = append(out.Failures, Failure{Class: class, Detail: fmt.Sprintf(format, args...)})
	out.RefusalFailed = true
}

// settleUncertain checks an UncertainError (m: its position and GTID) and
// settles it (see above).
func (r *replayer) settleUncertain(ctx context.Context, out *Outcome, m []string) (string, error) {
	const class = "uncertain refusal: "
	msg := lastError(out)
	pos, _ := strconv.ParseUint(m[2], 10, 64)
	k := slices.IndexFunc(r.txns, func(t binlogtext.BinTxn) bool { return t.File == m[1] && t.Start == pos })
	if k < 0 {
		refusalFail(out, class+"names no transaction of the binlogs", "%s", msg)
		return "", nil
	}
	t := r.txns[k]
	if m[3] != "" && m[3] != t.GTID {
		refusalFail(out, class+"names another GTID", "the transaction at %s:%d is %s; the error: %s", t.File, t.Start, t.GTID, msg)
	}
	// The transaction the replay is expected to refuse when the target
	// fails its statement on a temporary table created before the start
	// (told apart only there when the flag is ambiguous): the run may have
	// been applying it when the target was lost (seed 123082).
	atRefusal := k == r.applied && t.Refused == binlogtext.TempBeforeStart
	if k >= r.applied && !atRefusal {
		refusalFail(out, class+"at a transaction past the stop point", "transaction #%d, the stop point is before #%d: %s",
			k+1, r.applied+1, msg)
		return "", nil
	}
	cp, err := readTargetCheckpoint(ctx, r.target)
	if err != nil {
		return "", err
	}
	if cp == nil || (cp.State != "nontrans" && cp.State != "ddl") || cp.PendingFile != t.File || cp.PendingPos != t.Start {
		refusalFail(out, class+"the checkpoint does not name the transaction",
			"checkpoint %+v; the refusal names #%d at %s:%d: %s", cp, k+1, t.File, t.Start, msg)
		return "", nil
	}
	if c := lastSummaryFailure(out, r.txns, r.cfg.Accident); c != nil {
		out.Failures = append(out.Failures, *c)
	}
	if atRefusal {
		return r.settleAtTempRefusal(ctx, out, k, cp.State, msg)
	}
	before, err := r.anchorAt(ctx, k, out)
	if before != nil {
		defer before.Close()
	}
	if err != nil {
		return "", err
	}
	after, err := r.anchorAt(ctx, k+1, out)
	if after != nil {
		defer after.Close()
	}
	if err != nil {
		return "", err
	}
	dBefore, repBefore, err := r.compare(ctx, r.target, before)
	if err != nil {
		return "", err
	}
	dAfter, repAfter, err := r.compare(ctx, r.target, after)
	if err != nil {
		return "", err
	}
	s := Settled{Index: k, Kind: cp.State, Tables: sortedKeys(dBefore)}
	switch {
	case len(dAfter) == 0:
		// As after it (also when that is as before it: then it changed
		// nothing, but a target keeping the source's GTIDs may have
		// logged it, and refuses to apply it again).
		s.Decision = "applied"
	case len(dBefore) == 0:
		s.Decision = "not-applied"
	case cp.State == "ddl" && strings.Contains(msg, "drop the table it created, then --uncertain not-applied"):
		// A CREATE TABLE ... SELECT into a non-transactional table cut
		// while writing its rows: as the refusal says, drop the table it
		// created (the tables missing before it) and apply it again.
		missing := missingTables(dBefore)
		if len(missing) == 0 || len(missing) != len(dBefore) {
			refusalFail(out, class+"DDL with non-transactional rows: the target differs from before it beyond the table it creates",
				"transaction #%d (%s) %s; target against the anchor before it:\n%s", k+1, t.GTID, msg, repBefore)
			return "", nil
		}
		if err := dropTables(ctx, r.target, r.targetDB(), missing); err != nil {
			return "", err
		}
		s.Decision, s.Undone = "not-applied", true
	case cp.State == "ddl" && r.replacedGone(msg, dBefore):
		// An interrupted CREATE OR REPLACE TABLE (a target restart)
		// dropped the table it replaces and did not create the new one
		// (MariaDB 10.11's is not atomic): as the refusal says, apply it
		// again (seed 69038).
		s.Decision = "not-applied"
	case cp.State == "ddl":
		refusalFail(out, class+"DDL: the target holds neither the state before it nor after it",
			"transaction #%d (%s) %s; target against the anchor before it:\n%s\nagainst the anchor after it:\n%s",
			k+1, t.GTID, msg, repBefore, repAfter)
		return "", nil
	default:
		dTxn, _, err := r.compare(ctx, before, after)
		if err != nil {
			return "", err
		}
		tdb, err := r.target.Open(ctx, "")
		if err != nil {
			return "", fmt.Errorf("open target: %w", err)
		}
		var bad []string
		for _, name := range s.Tables {
			engine := tableEngine(ctx, r.targetDB(), name, tdb)
			if _, changes := dTxn[name]; engine == "InnoDB" || !changes {
				bad = append(bad, fmt.Sprintf("%s (%s, %s; the transaction changes it: %v)", name, engine, dBefore[name], changes))
			}
		}
		tdb.Close()
		if len(bad) > 0 {
			refusalFail(out, class+"the target differs from the transactions before it beyond the non-transactional tables it writes",
				"transaction #%d (%s): %s; %s\ntarget against the anchor before it:\n%s", k+1, t.GTID, strings.Join(bad, ", "), msg, repBefore)
			return "", nil
		}
		if err := restoreTables(ctx, before, r.target, r.targetDB(), s.Tables); err != nil {
			return "", err
		}
		again, rep, err := r.compare(ctx, r.target, before)
		if err != nil {
			return "", err
		}
		if len(again) > 0 {
			return "", fmt.Errorf("undo the part of transaction #%d that landed: the tables still differ:\n%s", k+1, rep)
		}
		s.Decision, s.Undone = "not-applied", true
	}
	r.noteUnnamed(ctx, out, s, msg, before, after)
	out.Settled = append(out.Settled, s)
	fmt.Fprintf(&out.Log, "  (the soak settles transaction #%d at %s:%d, GTID %s: --uncertain %s; tables that differed from before it: %s%s)\n",
		k+1, t.File, t.Start, t.GTID, s.Decision, orNone(strings.Join(s.Tables, ", ")), map[bool]string{true: ", copied back from the anchor before it"}[s.Undone])
	return s.Decision, nil
}

// statementsName reports whether the statements a refusal lists ("its
// statements: ...") name table as a word.
func statementsName(msg, table string) bool {
	_, stmts, ok := strings.Cut(msg, "its statements: ")
	return ok && regexp.MustCompile(`\b`+regexp.QuoteMeta(table)+`\b`).MatchString(stmts)
}

// noteUnnamed notes the non-transactional tables a nontrans transaction
// changes (on the anchor) that the refusal does not name: the operator is
// told to check the tables it writes.
func (r *replayer) noteUnnamed(ctx context.Context, out *Outcome, s Settled, msg string, before, after *sandbox.Server) {
	if s.Kind != "nontrans" {
		return
	}
	dTxn, _, err := r.compare(ctx, before, after)
	if err != nil {
		return
	}
	adb, err := after.Open(ctx, "")
	if err != nil {
		return
	}
	defer adb.Close()
	var unnamed []string
	for _, name := range sortedKeys(dTxn) {
		if e := tableEngine(ctx, seedgen.DB, name, adb); e != "InnoDB" && !strings.Contains(msg, seedgen.DB+"."+name) && !strings.Contains(msg, r.targetDB()+"."+name) && !statementsName(msg, name) {
			unnamed = append(unnamed, name+" ("+e+")")
		}
	}
	if len(unnamed) > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("the uncertain refusal does not name the non-transactional tables the transaction writes: %s",
			strings.Join(unnamed, ", ")))
	}
}

// confirmTempRefusal checks a refusal to resume where temporary tables are
// open (m: its position) and records it in out.TempRefused with an anchor
// holding the transactions before that point.
func (r *replayer) confirmTempRefusal(ctx context.Context, out *Outcome, m []string) error {
	const class = "temporary-table refusal: "
	msg := lastError(out)
	pos, _ := strconv.ParseUint(m[2], 10, 64)
	k := 0
	for k < len(r.txns) && !binlogtext.PosBefore(m[1], pos, r.txns[k].File, r.txns[k].End) {
		k++
	}
	cp, err := readTargetCheckpoint(ctx, r.target)
	if err != nil {
		return err
	}
	switch {
	case cp == nil || cp.File != m[1] || cp.Pos != pos:
		refusalFail(out, class+"the checkpoint is elsewhere", "checkpoint %+v: %s", cp, msg)
		return nil
	case k > r.applied:
		refusalFail(out, class+"past the stop point", "%d transactions before %s:%d, the stop point is before #%d: %s",
			k, m[1], pos, r.applied+1, msg)
		return nil
	case k == 0 || r.txns[k-1].TempsOpen == 0:
		refusalFail(out, class+"where the binlog has none open", "after %d transactions (%s:%d) mariadb-binlog shows no temporary table open; the checkpoint says %q: %s",
			k, m[1], pos, cp.TempTables, msg)
	}
	anchor, err := r.anchorAt(ctx, k, out)
	tr := &TempRefusal{Index: k, Tables: cp.TempTables, Anchor: anchor}
	out.TempRefused = tr
	if err != nil || cp.State == "running" || k >= len(r.txns) || cp.PendingFile != r.txns[k].File || cp.PendingPos != r.txns[k].Start {
		return err
	}
	// The checkpoint also names the next transaction as pending (applied
	// apart, its outcome unknown): the tables it writes may hold it, in
	// part (non-transactional ones) or whole.
	return r.exemptPending(ctx, out, tr, cp, k, msg)
}

// exemptPending looks at a temporary-table refusal whose checkpoint names
// txns[k] as pending (cp.State "nontrans" or "ddl"): the tables where the
// target differs from the anchor before it are exempt from the checker's
// comparison when txns[k] changes them (on the anchors) and they are
// non-transactional (for a DDL: when the target is as after it, or the
// refusal says the target may hold part of it).
func (r *replayer) exemptPending(ctx context.Context, out *Outcome, tr *TempRefusal, cp *targetCheckpoint, k int, msg string) error {
	dBefore, _, err := r.compare(ctx, r.target, tr.Anchor)
	if err != nil || len(dBefore) == 0 {
		return err
	}
	after, err := r.anchorAt(ctx, k+1, out)
	if after != nil {
		defer after.Close()
	}
	if err != nil {
		return err
	}
	dAfter, repAfter, err := r.compare(ctx, r.target, after)
	if err != nil {
		return err
	}
	dTxn, _, err := r.compare(ctx, tr.Anchor, after)
	if err != nil {
		return err
	}
	tdb, err := r.target.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer tdb.Close()
	// A refusal that names the pending transaction says the target may
	// hold part of it: the tables it changes may then differ from both
	// anchors (a CREATE OR REPLACE TABLE cut off between its drop and its
	// create).
	named := strings.Contains(msg, fmt.Sprintf("MAY HOLD PART OF THE TRANSACTION AT %s:%d", cp.PendingFile, cp.PendingPos))
	ok := cp.State != "ddl" || len(dAfter) == 0 || named
	// Keeping the source's GTIDs, a transaction the target logs as its
	// statements end commits what else it holds (InnoDB rows too) before
	// its checkpoint (docs/replay.md): it may have landed whole.
	whole := r.cfg.TargetBinlog && len(dAfter) == 0
	for name := range dBefore {
		_, changes := dTxn[name]
		if !changes || (cp.State == "nontrans" && !whole && tableEngine(ctx, r.targetDB(), name, tdb) == "InnoDB") {
			ok = false
		}
	}
	if !ok {
		// The checker reports the differences.
		fmt.Fprintf(&out.Log, "  (transaction #%d, pending in state %s: the target differs from the anchor before it in %s, after it in %s:\n%s)\n",
			k+1, cp.State, orNone(strings.Join(sortedKeys(dBefore), ", ")), orNone(strings.Join(sortedKeys(dAfter), ", ")), indent(repAfter))
		return nil
	}
	tr.Exempt = dBefore
	if !named {
		out.Notes = append(out.Notes, fmt.Sprintf("a temporary-table refusal where the checkpoint also names the next transaction as pending "+
			"(state %s) and the target holds part or all of it; the message does not say so", cp.State))
	}
	fmt.Fprintf(&out.Log, "  (transaction #%d, pending in state %s, landed in part or whole on the target: %s; not compared)\n",
		k+1, cp.State, strings.Join(sortedKeys(dBefore), ", "))
	return nil
}

// anchorAt starts a server from the base and applies the first n
// transactions to it with mariadb-binlog | mariadb (setting
// out.AnchorUnfaithful if it fails statements the source did not).
func (r *replayer) anchorAt(ctx context.Context, n int, out *Outcome) (*sandbox.Server, error) {
	if r.cfg.Accident < 0 {
		return r.anchorWithout(ctx, n, n, n, out)
	}
	return r.anchorWithout(ctx, n, r.cfg.Accident, r.cfg.Accident+1, out)
}

// anchorWithout is anchorAt leaving out txns[from:to] (not the accident).
func (r *replayer) anchorWithout(ctx context.Context, n, from, to int, out *Outcome) (*sandbox.Server, error) {
	srv, err := sandbox.Start(ctx, sandbox.Options{FromDatadir: r.src.Base})
	if err != nil {
		return nil, fmt.Errorf("start an anchor for %d transactions: %w", n, err)
	}
	rs := rangesSkipping(r.files, r.src.StartPos, r.txns, n, from, to).withoutDomains() // no binlog
	if len(rs) == 0 {
		return srv, nil
	}
	loadDir, err := os.MkdirTemp(r.dir, "anchor-load-")
	if err != nil {
		return srv, fmt.Errorf("create anchor load dir: %w", err)
	}
	defer os.RemoveAll(loadDir)
	failed, stderr, err := applyAnchors(ctx, rs, srv.Socket, loadDir)
	if err != nil {
		return srv, err
	}
	if want := wantErrorsSkipping(r.txns, n, from, to); failed != want {
		out.AnchorUnfaithful = out.AnchorUnfaithful || failed > want
		out.Notes = append(out.Notes, fmt.Sprintf("anchor for %d transactions: %d statements failed, %d logged with an error code: %s",
			n, failed, want, tailLines(stderr, 5)))
	}
	return srv, nil
}

// compare compares the soak database of a (as the target; the replay's
// target: the database it applies to) with b (as the reference), on the
// tables the replay applies (all, or those of ReplayConfig.Tables): the
// tables that differ, with their status, and the report's text.
func (r *replayer) compare(ctx context.Context, a, b *sandbox.Server) (map[string]string, string, error) {
	adb, err := a.Open(ctx, "")
	if err != nil {
		return nil, "", fmt.Errorf("open server: %w", err)
	}
	defer adb.Close()
	bdb, err := b.Open(ctx, "")
	if err != nil {
		return nil, "", fmt.Errorf("open server: %w", err)
	}
	defer bdb.Close()
	opts := verify.Options{Databases: []string{seedgen.DB}, SampleRows: 3}
	if a == r.target && r.cfg.RewriteDB {
		opts.TargetNames = map[string]string{seedgen.DB: SideDB}
	}
	rep, err := verify.Compare(ctx, adb, bdb, opts)
	if err != nil {
		return nil, "", fmt.Errorf("compare: %w", err)
	}
	kept := map[string]bool{}
	for _, t := range r.cfg.Tables {
		kept[t] = true
	}
	diff := map[string]string{}
	for _, d := range rep.Differences() {
		if len(kept) == 0 || kept[seedgen.DB+"."+d.Table] {
			diff[d.Table] = d.Status.String()
		}
	}
	return diff, rep.String(), nil
}

// targetDB is the database of the target the replay applies the
// workload's database to.
func (r *replayer) targetDB() string {
	if r.cfg.RewriteDB {
		return SideDB
	}
	return seedgen.DB
}

// restoreTables copies tables of the soak database (all when tables is
// empty) from one server to database toDB of another, or of the same
// (mariadb-dump with dumpFlags | mariadb: each is dropped and created
// again).
func restoreTables(ctx context.Context, from, to *sandbox.Server, toDB string, tables []string, dumpFlags ...string) error {
	args := append([]string{"--no-defaults", "--socket=" + from.Socket, "--user=root", "--skip-dump-date"}, dumpFlags...)
	dump := exec.CommandContext(ctx, "mariadb-dump", append(append(args, seedgen.DB), tables...)...)
	// Out of the binlog, as an operator repairing a server that keeps
	// its source's GTIDs would; without CHECK constraints, which rows
	// written with check_constraint_checks=0 fail (the dump does not turn
	// them off; seed 111021, a hot base holding such a row).
	load := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+to.Socket, "--user=root", "--binary-mode",
		"--init-command=SET sql_log_bin = 0, check_constraint_checks = 0", toDB)
	var dumped, dumpErr, loadErr bytes.Buffer
	dump.Stdout, dump.Stderr = &dumped, &dumpErr
	if err := dump.Run(); err != nil {
		return fmt.Errorf("mariadb-dump %s: %w: %s", strings.Join(tables, " "), err, dumpErr.String())
	}
	load.Stdin, load.Stderr = &dumped, &loadErr
	if err := load.Run(); err != nil {
		return fmt.Errorf("load the dump of %s: %w: %s", strings.Join(tables, " "), err, loadErr.String())
	}
	return nil
}

// reReplaces finds the table a refusal of a pending CREATE OR REPLACE
// TABLE names.
var reReplaces = regexp.MustCompile("CREATE OR REPLACE replaces table ([^.\\s]+)\\.([^,\\s]+),")

// replacedGone reports whether the target differs from the state before a
// pending CREATE OR REPLACE TABLE (diffs, of r.compare) only by missing
// the table it replaces.
func (r *replayer) replacedGone(msg string, diffs map[string]string) bool {
	m := reReplaces.FindStringSubmatch(msg)
	return m != nil && m[1] == r.targetDB() && len(diffs) == 1 && diffs[m[2]] == verify.MissingInTarget.String()
}

// missingTables returns the tables a comparison (compareServers) found on
// the target only.
func missingTables(diffs map[string]string) []string {
	var out []string
	for _, name := range sortedKeys(diffs) {
		if diffs[name] == verify.MissingInReference.String() {
			out = append(out, name)
		}
	}
	return out
}

// dropTables drops tables of database db on srv.
func dropTables(ctx context.Context, srv *sandbox.Server, db string, tables []string) error {
	h, err := srv.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer h.Close()
	conn, err := h.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer conn.Close()
	// Out of the binlog (see restoreTables).
	if _, err := conn.ExecContext(ctx, "SET sql_log_bin=0"); err != nil {
		return fmt.Errorf("drop tables: %w", err)
	}
	for _, name := range tables {
		if _, err := conn.ExecContext(ctx, "DROP TABLE `"+db+"`.`"+name+"`"); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	return nil
}

// lastSummaryFailure returns the failure of a run that stopped on an error
// (or a signal) before the end of the binlogs while its summary says it
// reached the end (nil when it does not). accident is the index of the
// transaction --exclude-gtids skips (-1: none): skipped last, it commits
// no checkpoint, and the summary's next position is its start (seed 90706).
func lastSummaryFailure(out *Outcome, txns []binlogtext.BinTxn, accident int) *Failure {
	s := out.Summary
	if accident >= 0 && accident == len(txns)-1 {
		txns = txns[:accident]
	}
	if out.Exit == 0 || s == nil || !strings.HasPrefix(s.StopReason, "reached the end") || len(txns) == 0 {
		return nil
	}
	last := txns[len(txns)-1]
	if s.Next.File != "" && !binlogtext.PosBefore(s.Next.File, s.Next.Offset, last.File, last.End) {
		return nil // it did reach the end
	}
	return &Failure{Class: "summary: stop reason says the end was reached on an error",
		Detail: fmt.Sprintf("exit %d with stop reason %q, next %s:%d, the binlogs' last transaction ends at %s:%d; error: %s",
			out.Exit, s.StopReason, s.Next.File, s.Next.Offset, last.File, last.End, lastError(out))}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
