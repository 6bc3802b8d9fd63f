package soak

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"

	"github.com/binlog-replay/binlog-replay/internal/soak/seedgen"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/verify"
)

// Expect is what the oracle expects of a replay.
type Expect struct {
	// Exit is the expected exit status of the last replay process.
	Exit int
	// Applied is how many transactions the target must hold: txns[:Applied].
	Applied int
	// Refusal names the kind of transaction the replay refuses on purpose
	// at txns[Applied] ("XA", "ROLLBACK"), when Exit is 1 for that.
	Refusal string
	// Why says how the expectation was reached.
	Why string
	// StopFlag is the flag the summary's stop reason names when the
	// replay stops at the stop point ("" when it does not stop at one).
	StopFlag string
}

// expect computes the expectation from the stop point and the
// transactions: a stop point in a domain the binlogs never mention is
// refused before anything is applied (where a crash cut stops the reading
// ahead too: the replay cannot read past it); an XA transaction before the stop
// point is refused on purpose; when the binlogs end before the stop point,
// everything is applied and the exit status is 3 (0 with
// --stop-never-reached-ok).
func expect(txns []binlogtext.BinTxn, c ReplayConfig) Expect {
	refused := len(txns)
	for i, t := range txns {
		if t.Refused != "" {
			refused = i
			break
		}
	}
	s := c.Stop
	switch {
	case s.UnknownDomain:
		return Expect{Exit: 1, Applied: 0, Why: "refused: --stop-before-gtid in a domain the binlogs never mention"}
	case refused < s.Index:
		return Expect{Exit: 1, Applied: refused, Refusal: txns[refused].Refused,
			Why: fmt.Sprintf("refused on purpose: %s transaction #%d", txns[refused].Refused, refused+1)}
	case s.NeverMet && !c.NeverOK:
		return Expect{Exit: 3, Applied: len(txns), Why: "the binlogs end before the stop point"}
	case s.NeverMet:
		return Expect{Exit: 0, Applied: len(txns), Why: "the binlogs end before the stop point (--stop-never-reached-ok)"}
	case s.Index == len(txns) && len(s.Args) == 0:
		return Expect{Exit: 0, Applied: len(txns), Why: "to the end"}
	}
	e := Expect{Exit: 0, Applied: s.Index, Why: fmt.Sprintf("stop before transaction #%d", s.Index+1)}
	if s.Index == len(txns) {
		e.Why = "to the end, which reaches the stop point"
	}
	if len(s.Args) > 0 {
		e.StopFlag = s.Args[0]
	}
	return e
}

// Failure is one way a replay differs from the oracle.
type Failure struct {
	// Class groups failures of one kind across seeds, e.g.
	// "data differs: MyISAM table" or "exit 1, want 0: Duplicate entry".
	Class string
	// Detail says what exactly differs.
	Detail string
}

// checker compares a finished replay with the oracle.
type checker struct {
	txns   []binlogtext.BinTxn
	exp    Expect
	out    *Outcome
	src    *Source
	target *sandbox.Server
	anchor *sandbox.Server
	// exempt are tables whose differences are not failures.
	exempt map[string]string
	// startGTID is set when the replay started with --start-gtid: before
	// its first commit, its checkpoint is where its reading started, the
	// start of the first file (a resume goes on skipping the set);
	// reading from the source (remoteGTID), it names no position (the
	// source finds the set again).
	startGTID, remoteGTID bool
	// accident is the index of the transaction the replay skips
	// (--exclude-gtids), -1 for none.
	accident int
	// tables are the tables of --tables, the only ones compared; nil for
	// every table.
	tables []string
	// rewriteDB is set when the replay applied the workload's database
	// to SideDB (ReplayConfig.RewriteDB): the target's SideDB is compared.
	rewriteDB bool
	failures  []Failure
}

// clockRefusal is Expect.Refusal, and what the replay's error says, when
// it refuses a hot base whose end, read in its time zone, is before the
// last transaction the base holds committed.
const clockRefusal = "as read in this host's time zone"

// refusalText returns what the replay's error says when it refuses a
// transaction for the reason refusal (Expect.Refusal): the refusal itself,
// but for a transaction a crash of the source cut (the reader's error) and
// one a hot base may hold in part.
func refusalText(refusal string) string {
	switch refusal {
	case binlogtext.CutByCrash:
		return "and more files follow"
	case binlogtext.HotBaseRisk:
		return "before the base backup ended"
	}
	return refusal
}

func (c *checker) fail(class, format string, args ...any) {
	c.failures = append(c.failures, Failure{Class: class, Detail: fmt.Sprintf(format, args...)})
}

// check runs every check and returns the failures found.
func (c *checker) check(ctx context.Context) ([]Failure, error) {
	out := c.out
	switch {
	case out.Hung:
		c.fail("hang", "a replay process ran longer than %s", runTimeout)
		return c.failures, nil
	case lastSummaryFailure(out, c.txns, c.accident) != nil:
		c.failures = append(c.failures, *lastSummaryFailure(out, c.txns, c.accident))
	}
	switch {
	case out.Exit != c.exp.Exit:
		c.fail(fmt.Sprintf("exit %d, want %d: %s", out.Exit, c.exp.Exit, c.errorClass()),
			"exit status %d, want %d (%s); error: %s", out.Exit, c.exp.Exit, c.exp.Why, lastError(out))
		if out.Exit != 0 {
			return c.failures, nil
		}
	case c.exp.Refusal != "" && !strings.Contains(lastError(out), refusalText(c.exp.Refusal)):
		c.fail("unexpected error: "+c.errorClass(), "exit 1 as expected for a %s refusal, but the error is: %s",
			c.exp.Refusal, lastError(out))
		return c.failures, nil
	}
	if err := c.checkStopPoint(ctx); err != nil {
		return c.failures, err
	}
	if err := c.checkData(ctx); err != nil {
		return c.failures, err
	}
	return c.failures, nil
}

// wantNext is the position and GTID of the checkpoint the target must
// hold: the end of the last transaction applied.
func (c *checker) wantNext() (file string, pos uint64, gtid string) {
	if c.exp.Applied == 0 && c.remoteGTID {
		return "", 0, ""
	}
	if c.exp.Applied == 0 && c.startGTID {
		return filepath.Base(c.src.Files[0]), 0, ""
	}
	if c.exp.Applied == 0 {
		return c.src.StartFile, c.src.StartPos, ""
	}
	t := c.txns[c.exp.Applied-1]
	return t.File, t.End, t.GTID
}

// checkStopPoint compares the target's checkpoint and the summary's next
// position with the expected stop point. When the last transaction before
// it is the one skipped (--exclude-gtids), the checkpoint may also stay
// before it (no commit came after it: a resume skips it again).
func (c *checker) checkStopPoint(ctx context.Context) error {
	file, pos, gtid := c.wantNext()
	want := fmt.Sprintf("%s:%d", file, pos)
	if c.exp.Applied > 0 && c.accident == c.exp.Applied-1 {
		before := *c
		before.exp.Applied--
		if f, p, g := before.wantNext(); c.atCheckpoint(ctx, fmt.Sprintf("%s:%d", f, p), g) {
			file, pos, gtid, want = f, p, g, fmt.Sprintf("%s:%d", f, p)
		}
	}
	cp, err := readTargetCheckpoint(ctx, c.target)
	if err != nil {
		return err
	}
	switch {
	case cp == nil && c.exp.Applied > 0:
		c.fail("stop point: no checkpoint", "the target has no checkpoint; want next %s", want)
	case cp != nil && (fmt.Sprintf("%s:%d", cp.File, cp.Pos) != want || cp.GTID != gtid):
		c.fail("stop point: checkpoint", "checkpoint next %s:%d GTID %q (%d applied), want %s GTID %q (%d applied; %s)",
			cp.File, cp.Pos, cp.GTID, cp.Seq, want, gtid, c.exp.Applied, c.exp.Why)
	}
	s := c.out.Summary
	if s == nil {
		return nil
	}
	if s.Next.File != "" && fmt.Sprintf("%s:%d", s.Next.File, s.Next.Offset) != want {
		c.fail("stop point: summary", "summary next %s:%d, want %s (%s); stop reason: %s",
			s.Next.File, s.Next.Offset, want, c.exp.Why, s.StopReason)
	}
	if flag := c.exp.StopFlag; flag != "" && c.exp.Exit == 0 && !strings.Contains(s.StopReason, flag) {
		c.fail("stop point: reason", "stop reason %q does not name %s (%s)", s.StopReason, flag, c.exp.Why)
	}
	return nil
}

// atCheckpoint reports whether the target's checkpoint names next and
// gtid.
func (c *checker) atCheckpoint(ctx context.Context, next, gtid string) bool {
	cp, err := readTargetCheckpoint(ctx, c.target)
	return err == nil && cp != nil && fmt.Sprintf("%s:%d", cp.File, cp.Pos) == next && cp.GTID == gtid
}

// checkData compares every table of the replayed target with the anchor.
func (c *checker) checkData(ctx context.Context) error {
	tdb, err := c.target.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("open target: %w", err)
	}
	defer tdb.Close()
	adb, err := c.anchor.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("open anchor: %w", err)
	}
	defer adb.Close()
	opts := verify.Options{Databases: []string{seedgen.DB}, SampleRows: 3}
	if c.tables != nil {
		// Those that exist at the end: --tables may name one the binlogs
		// create and drop.
		// With --rewrite-db the target's copy is in SideDB (its original
		// database keeps the base's tables: seed 114139, a hot base's
		// table the binlogs drop).
		targetDB := seedgen.DB
		if c.rewriteDB {
			targetDB = SideDB
		}
		var tables []string
		for _, t := range c.tables {
			name := strings.TrimPrefix(t, seedgen.DB+".")
			if tableEngine(ctx, seedgen.DB, name, adb) != "?" || tableEngine(ctx, targetDB, name, tdb) != "?" {
				tables = append(tables, t)
			}
		}
		if len(tables) == 0 {
			return nil
		}
		opts = verify.Options{Tables: tables, SampleRows: 3}
	}
	if c.rewriteDB {
		opts.TargetNames = map[string]string{seedgen.DB: SideDB}
	}
	rep, err := verify.Compare(ctx, tdb, adb, opts)
	if err != nil {
		c.fail("verify error", "compare with the anchor: %v", err)
		return nil
	}
	differ := false
	for _, d := range rep.Differences() {
		if _, ok := c.exempt[d.Table]; ok && d.Schema == seedgen.DB {
			continue
		}
		differ = true
		engine := tableEngine(ctx, d.Schema, d.Table, adb, tdb)
		c.fail(fmt.Sprintf("data differs: %s %s table", d.Status, engine),
			"%s.%s (%s) %s: target %d rows, anchor %d rows", d.Schema, d.Table, engine, d.Status, d.RowsTarget, d.RowsReference)
	}
	if differ {
		c.failures[len(c.failures)-1].Detail += "\n" + rep.String()
	}
	return nil
}

// tableEngine returns the table's engine on the first server that has it,
// "SEQUENCE" for a sequence (whose changes a rollback does not undo,
// whatever its engine), "?" when none has it.
func tableEngine(ctx context.Context, schema, table string, dbs ...*sql.DB) string {
	for _, d := range dbs {
		var engine sql.NullString
		err := d.QueryRowContext(ctx, "SELECT IF(TABLE_TYPE = 'SEQUENCE', 'SEQUENCE', ENGINE) FROM information_schema.TABLES "+
			"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&engine)
		if err == nil && engine.Valid {
			return engine.String
		}
	}
	return "?"
}

// lastError returns the replay's error message: the summary's, a usage
// error, or the last line of its standard error that the command wrote.
func lastError(out *Outcome) string {
	if out.Summary != nil && out.Summary.Error != "" {
		return out.Summary.Error
	}
	lines := strings.Split(strings.TrimSpace(out.Stderr), "\n")
	last := lines[len(lines)-1]
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "flag provided but not defined"), strings.HasPrefix(l, "invalid value"):
			return l
		case strings.HasPrefix(l, "binlog-replay"):
			last = l
		}
	}
	return last
}

var (
	reNumbers  = regexp.MustCompile(`\d+`)
	reQuoted   = regexp.MustCompile("'[^']*'|`[^`]*`")
	reEvent    = regexp.MustCompile(`\(?([A-Z_]+_EVENT(?:_V\d)?)\)?`)
	reTable    = regexp.MustCompile(`on table ([^ ,]+)`)
	reStmt     = regexp.MustCompile(`statement ((?:[A-Z]+ ){1,2}\S+)`)
	reServer   = regexp.MustCompile(`Error (\d+) \(\w+\): ([^:]*)`)
	reGTID     = regexp.MustCompile(`GTID (\d+-\d+-\d+)`)
	reAtOffset = regexp.MustCompile(`binlog (\S+) at offset (\d+)`)
)

// errorClass reduces the replay's error to a class: the event type, the
// table or statement, the server's error (numbers and quoted values
// replaced), what the oracle knows of the transaction, and the chaos of
// the run.
func (c *checker) errorClass() string {
	if c.out.Exit == 0 && c.out.Summary != nil {
		reason := reNumbers.ReplaceAllString(reQuoted.ReplaceAllString(c.out.Summary.StopReason, "?"), "N")
		if len(reason) > 100 {
			reason = reason[:100]
		}
		return "stop reason " + reason
	}
	msg := lastError(c.out)
	var parts []string
	if m := reEvent.FindStringSubmatch(msg); m != nil {
		parts = append(parts, m[1])
	}
	if m := reTable.FindStringSubmatch(msg); m != nil {
		parts = append(parts, "on "+m[1])
	} else if m := reStmt.FindStringSubmatch(msg); m != nil {
		parts = append(parts, reNumbers.ReplaceAllString(m[1], "N"))
	}
	if m := reServer.FindStringSubmatch(msg); m != nil {
		parts = append(parts, "error "+m[1]+" "+reNumbers.ReplaceAllString(reQuoted.ReplaceAllString(m[2], "?"), "N"))
	} else {
		tail := msg
		if i := strings.LastIndex(msg, ": "); i >= 0 && len(parts) > 0 {
			tail = msg[i+2:]
		}
		tail = reNumbers.ReplaceAllString(reQuoted.ReplaceAllString(tail, "?"), "N")
		if len(tail) > 100 {
			tail = tail[:100]
		}
		parts = append(parts, tail)
	}
	class := strings.Join(parts, " ")
	if tags := c.tags(msg); len(tags) > 0 {
		class += " [" + strings.Join(tags, ", ") + "]"
	}
	return class
}

// tags says what the oracle knows of the transaction the error names, and
// the chaos the run went through.
func (c *checker) tags(msg string) []string {
	var tags []string
	if t := c.txnOf(msg); t != nil {
		if t.ErrorCodes > 0 {
			tags = append(tags, "a query logged with an error code")
		}
		if t.Load {
			tags = append(tags, "LOAD DATA")
		}
		if t.Refused != "" {
			tags = append(tags, t.Refused)
		}
		if t.RolledBack {
			tags = append(tags, "ended by ROLLBACK")
		}
		if t.DDL {
			tags = append(tags, "DDL")
		}
	}
	if c.out.Kills > 0 {
		tags = append(tags, "after kill -9 and --resume")
	}
	if c.out.Restarts > 0 {
		tags = append(tags, "after a target restart")
	}
	return tags
}

// txnOf returns the transaction an error names, by GTID or by the offset
// of an event in it.
func (c *checker) txnOf(msg string) *binlogtext.BinTxn {
	if m := reGTID.FindStringSubmatch(msg); m != nil {
		for i := range c.txns {
			if c.txns[i].GTID == m[1] {
				return &c.txns[i]
			}
		}
	}
	if m := reAtOffset.FindStringSubmatch(msg); m != nil {
		off, _ := strconv.ParseUint(m[2], 10, 64)
		for i := range c.txns {
			t := &c.txns[i]
			if t.File == m[1] && t.Start <= off && off < t.End {
				return t
			}
		}
	}
	return nil
}
