package soak

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/soak/binlogtext"
	"github.com/binlog-replay/binlog-replay/internal/target"
)

func TestExpect(t *testing.T) {
	refusing := append([]binlogtext.BinTxn(nil), sampleTxns...)
	refusing[1].Refused = "XA"
	rolledBack := append([]binlogtext.BinTxn(nil), sampleTxns...)
	rolledBack[1].RolledBack = true
	never := binlogtext.Stop{Index: 3, NeverMet: true}
	unknown := binlogtext.Stop{Index: 3, UnknownDomain: true}
	cut := append([]binlogtext.BinTxn(nil), sampleTxns...)
	cut[2].Refused = binlogtext.CutByCrash
	reached := binlogtext.Stop{Index: 3, Args: []string{"--stop-position", "mysql-bin.000004:400"}}
	cases := []struct {
		txns    []binlogtext.BinTxn
		cfg     ReplayConfig
		exit    int
		applied int
	}{
		{sampleTxns, ReplayConfig{Stop: binlogtext.Stop{Index: 3}}, 0, 3},
		{sampleTxns, ReplayConfig{Stop: binlogtext.Stop{Index: 1}}, 0, 1},
		{sampleTxns, ReplayConfig{Stop: never}, 3, 3},
		{sampleTxns, ReplayConfig{Stop: never, NeverOK: true}, 0, 3},
		{sampleTxns, ReplayConfig{Stop: unknown}, 1, 0},
		{cut, ReplayConfig{Stop: unknown}, 1, 0}, // refused before the cut too: seeds 128015, 128108
		{sampleTxns, ReplayConfig{Stop: reached}, 0, 3},
		{refusing, ReplayConfig{Stop: binlogtext.Stop{Index: 3}}, 1, 1},
		{refusing, ReplayConfig{Stop: binlogtext.Stop{Index: 1}}, 0, 1},
		{rolledBack, ReplayConfig{Stop: binlogtext.Stop{Index: 3}}, 0, 3},
	}
	for i, c := range cases {
		e := expect(c.txns, c.cfg)
		if e.Exit != c.exit || e.Applied != c.applied {
			t.Errorf("case %d: exit %d applied %d (%s), want %d %d", i, e.Exit, e.Applied, e.Why, c.exit, c.applied)
		}
	}
}

func TestUncertainMessages(t *testing.T) {
	msg := "binlog-replay replay: the outcome of the transaction at mysql-bin.000002:1234 (GTID 0-1-77) is unknown: it writes non-transactional tables: soak.m1 (MyISAM on the target)"
	m := reUncertain.FindStringSubmatch(msg)
	if m == nil || m[1] != "mysql-bin.000002" || m[2] != "1234" || m[3] != "0-1-77" {
		t.Errorf("reUncertain: %q", m)
	}
	msg = "cannot resume at mysql-bin.000002:40102: the binlog has temporary tables open there (soak.tmp_s0 (session 6))"
	if m := reTempLost.FindStringSubmatch(msg); m == nil || m[1] != "mysql-bin.000002" || m[2] != "40102" {
		t.Errorf("reTempLost: %q", m)
	}
}

func TestAnchorRange(t *testing.T) {
	files := []string{"/b/mysql-bin.000002", "/b/mysql-bin.000003"}
	if _, ok := rangeFor(files, 100, sampleTxns, 0); ok {
		t.Error("a range for nothing to apply")
	}
	r, _ := rangeFor(files, 100, sampleTxns, 2)
	if !reflect.DeepEqual(r, anchorRange{Files: files, StartPos: 100, StopPos: 300}) {
		t.Errorf("range for 2: %+v", r)
	}
	r, _ = rangeFor(files, 100, sampleTxns, 1)
	if !reflect.DeepEqual(r, anchorRange{Files: files[:1], StartPos: 100, StopPos: 200}) {
		t.Errorf("range for 1: %+v", r)
	}
	// All: to the end of the last, not of the files (they may have grown).
	r, _ = rangeFor(append(files, "/b/mysql-bin.000004"), 100, sampleTxns, 3)
	if !reflect.DeepEqual(r, anchorRange{Files: files, StartPos: 100, StopPos: 400}) {
		t.Errorf("range for all: %+v", r)
	}
}

// sampleTxns are three transactions over two files.
var sampleTxns = []binlogtext.BinTxn{
	{File: "mysql-bin.000002", Start: 100, End: 200, GTID: "0-1-5", Time: time.Unix(1000, 0)},
	{File: "mysql-bin.000002", Start: 200, End: 300, GTID: "0-1-6", Time: time.Unix(1002, 0)},
	{File: "mysql-bin.000003", Start: 300, End: 400, GTID: "0-1-7", Time: time.Unix(1001, 0)},
}

func TestGTIDFailures(t *testing.T) {
	for info, want := range map[string]string{"BEGIN GTID 0-1-5": "0-1-5", "GTID 0-1-6": "0-1-6", "BEGIN GTID 0-1-7 cid=12": "0-1-7"} {
		if got := gtidOfInfo(info); got != want {
			t.Errorf("gtidOfInfo(%q) = %q, want %q", info, got, want)
		}
	}
	anchor := []string{"0-1-5", "0-1-6", "0-1-6", "0-1-7"}
	cases := []struct {
		target  []string
		applied int
		exempt  map[string]bool
		classes []string
	}{
		{[]string{"0-1-5", "0-1-6", "0-1-7"}, 3, nil, nil},
		{[]string{"0-1-6", "0-1-7"}, 3, nil, nil},          // 5 and 6 one group
		{[]string{"0-1-6", "0-1-6", "0-1-7"}, 3, nil, nil}, // as the anchor
		{[]string{"0-1-5", "0-1-5", "0-1-7"}, 3, map[string]bool{"0-1-5": true}, nil},
		{[]string{"0-1-5", "0-1-5", "0-1-7"}, 3, nil, []string{"target binlog: a GTID logged twice"}},
		{[]string{"0-1-5", "0-1-7", "0-2-1"}, 3, nil, []string{"target binlog: a GTID that is not a source transaction applied"}},
		{[]string{"0-1-5", "0-1-6", "0-1-7"}, 2, nil, []string{"target binlog: a GTID that is not a source transaction applied"}},
		{[]string{"0-1-5", "0-1-7", "0-1-6"}, 3, nil, []string{"target binlog: GTIDs out of the source's order",
			"target binlog: the last GTID of a domain is not the source's last applied"}},
		{[]string{"0-1-5", "0-1-6"}, 3, nil, []string{"target binlog: the last GTID of a domain is not the source's last applied"}},
	}
	for i, c := range cases {
		var got []string
		for _, f := range gtidFailures(c.target, sampleTxns[:c.applied], anchor, c.exempt) {
			got = append(got, f.Class)
		}
		if !reflect.DeepEqual(got, c.classes) {
			t.Errorf("case %d: %q, want %q", i, got, c.classes)
		}
	}
}

// TestInterruptedEarlyMessages: the two ways the replay command says it stopped
// on SIGTERM before a transaction boundary of its own (seed 30137: the
// second), and one at a boundary.
func TestInterruptedEarlyMessages(t *testing.T) {
	for msg, want := range map[string]bool{
		"binlog-replay replay: interrupted (waiting to reconnect to the target, lost on: invalid connection): the target holds whole transactions": true,
		"binlog-replay replay: interrupted while checking the target and the binlogs (context canceled. Nothing was applied) (exit status 130)":    true,
		"binlog-replay: stopping at the next transaction boundary (interrupt again to exit at once)":                                               false,
	} {
		if got := interruptedEarly(&Outcome{Stderr: msg}); got != want {
			t.Errorf("interruptedEarly(%q) = %v, want %v", msg, got, want)
		}
	}
}

// TestCreateRefusal: the stop before a pending CREATE OR REPLACE TABLE
// whose GTID the target logged for the DROP it generated (seed 31426) is
// a GTID stop, and names the missing table.
func TestCreateRefusal(t *testing.T) {
	msg := "binlog-replay replay: apply transaction #105 at mysql-bin.000002:70887 (GTID 0-35427-126): a pending CREATE TABLE's GTID is " +
		"logged, its table missing: the target's binlog holds this transaction's GTID 0-35427-126, but the table soak.cs1 it creates " +
		"is not on the target: the earlier run's statement failed after dropping the table it replaces, and the target logged that " +
		"DROP under the GTID (\"Generated to handle failed CREATE OR REPLACE\"). Run again keeping the source's GTIDs, the statement " +
		"would log the GTID twice. Resume with --resume --target-gtids own (it runs again, logged with a GTID of the target's), " +
		"or replay again from the base backup"
	out := &Outcome{Exit: 1, Stderr: msg}
	if got := gtidRefusal(out); got != createRefusal {
		t.Errorf("gtidRefusal = %q, want createRefusal", got)
	}
	if m := reCreateMissing.FindStringSubmatch(msg); m == nil || m[1] != "soak" || m[2] != "cs1" {
		t.Errorf("reCreateMissing: %q", m)
	}
}

// TestLoggedRefusalDrop: the refusal of --uncertain not-applied for a
// pending DDL the target logged names its GTID, and the statement logged
// there may be the DROP of a failed CREATE OR REPLACE TABLE (seed 93825):
// the table it dropped is left out of the comparison.
func TestLoggedRefusalDrop(t *testing.T) {
	msg := "binlog-replay replay: --uncertain not-applied: the target's binlog holds GTID 0-42157-83 of the transaction at " +
		"mysql-bin.000002:72789: the target logged it as it ran (its writes to non-transactional tables, at least), and " +
		loggedRefusal + ". If its writes are on the target, resume with --uncertain applied"
	if got := gtidRefusal(&Outcome{Exit: 1, Stderr: msg}); got != loggedRefusal {
		t.Errorf("gtidRefusal = %q, want loggedRefusal", got)
	}
	if m := reLoggedGTID.FindStringSubmatch(msg); m == nil || m[1] != "0-42157-83" {
		t.Errorf("reLoggedGTID: %q", m)
	}
	for _, first := range []string{"Query: use `soak`; DROP TABLE IF EXISTS `cs1` /* generated by server */",
		"Query: use `x`; DROP TABLE IF EXISTS `soak`.`cs1`/* Generated to handle failed CREATE OR REPLACE */"} {
		if d := reFailedReplaceDrop.FindStringSubmatch(first); d == nil || d[1] != "cs1" {
			t.Errorf("reFailedReplaceDrop(%q): %q", first, d)
		}
	}
	if d := reFailedReplaceDrop.FindStringSubmatch("Query: use `soak`; DROP TABLE IF EXISTS `cs2` /* generated by ddl recovery */"); d != nil {
		t.Errorf("reFailedReplaceDrop matches the DROP of a crash recovery: %q", d)
	}
}

// TestOwnRefusal: the refusal to resume where the target logged the
// pending DDL under its own server id (seed 37317) is a GTID stop whose
// text the check finds in the replay's error.
func TestOwnRefusal(t *testing.T) {
	msg := "binlog-replay replay: cannot resume keeping the source's GTIDs: the target's binlog holds GTID 0-36921-174, next " +
		"after the checkpoint's last transaction 0-45303-173, under another server id than the pending transaction 0-45303-174: " +
		target.LoggedPendingAsOwn + ". The server logged that transaction itself"
	if got := gtidRefusal(&Outcome{Exit: 1, Stderr: msg}); got != ownRefusal || !strings.Contains(msg, got) {
		t.Errorf("gtidRefusal = %q, want ownRefusal", got)
	}
	if m := reOwnGTID.FindStringSubmatch(msg); m == nil || m[1] != "0-36921-174" {
		t.Errorf("reOwnGTID: %q", m)
	}
	// What MariaDB 10.11 logged, in SHOW BINLOG EVENTS, when its crash
	// recovery could not complete a CREATE OR REPLACE TABLE (seed 42185).
	first := "Query: use `soak`; DROP TABLE IF EXISTS `cs2` /* generated by ddl recovery */"
	if d := reRecoveryDrop.FindStringSubmatch(first); d == nil || d[1] != "cs2" {
		t.Errorf("reRecoveryDrop: %q", d)
	}
	if d := reRecoveryDrop.FindStringSubmatch("Query: use `soak`; DROP TABLE IF EXISTS `cs1` /* generated by server */"); d != nil {
		t.Errorf("reRecoveryDrop matches the DROP of a failed statement: %q", d)
	}
}

// TestVerdict: an anchor that failed statements the source did not makes
// a seed inconclusive, whether it is the whole range's or one the checks
// started for part of it (anchorAt), before any failure is counted.
func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		name string
		r    Result
		want Status
	}{
		{"passed", Result{Outcome: &Outcome{}}, Pass},
		{"failed", Result{Outcome: &Outcome{}, Failures: []Failure{{}}}, Fail},
		{"refused", Result{Outcome: &Outcome{Exit: 1}, Expect: Expect{Exit: 1}}, Refused},
		{"the whole range's anchor unfaithful", Result{Outcome: &Outcome{}, Failures: []Failure{{}}, anchorUnfaithful: true}, Inconclusive},
		{"a part's anchor unfaithful", Result{Outcome: &Outcome{AnchorUnfaithful: true}, Failures: []Failure{{}}}, Inconclusive},
		{"no outcome", Result{}, Pass},
	} {
		if got := verdict(&c.r); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestDomainSwitchDropper: the lines that switch the GTID domain are
// dropped, every other byte passes, however the output is cut in writes.
func TestDomainSwitchDropper(t *testing.T) {
	in := "# at 4517\n" + domainSwitch + "1*//*!*/;\n/*M!100001 SET @@session.gtid_seq_no=1*//*!*/;\nSTART TRANSACTION\n\n" +
		"/*M!100001 SET @@session.gtid_domain_id\n" + strings.Repeat("x", 100) + "\n" + domainSwitch + "0*//*!*/;\nCOMMIT"
	want := "# at 4517\n/*M!100001 SET @@session.gtid_seq_no=1*//*!*/;\nSTART TRANSACTION\n\n" +
		"/*M!100001 SET @@session.gtid_domain_id\n" + strings.Repeat("x", 100) + "\nCOMMIT"
	for _, size := range []int{1, 2, 3, 7, 40, 41, 42, 1000} {
		var out strings.Builder
		d := &domainSwitchDropper{w: &out}
		for p := in; len(p) > 0; {
			n := min(size, len(p))
			if k, err := d.Write([]byte(p[:n])); err != nil || k != n {
				t.Fatalf("write of %d bytes: %d, %v", n, k, err)
			}
			p = p[n:]
		}
		if err := d.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("writes of %d bytes: got\n%q\nwant\n%q", size, out.String(), want)
		}
	}
}

// TestAddTables: the tables a --tables refusal names are added once, after
// those given.
func TestAddTables(t *testing.T) {
	msg := "nothing applied: --tables cannot apply 2 transaction(s): it names `t1`, a table of --tables, and soak.audit, which --tables " +
		"leaves out; add soak.audit to --tables ...; soak.c's foreign key fk references soak.p ON DELETE CASCADE"
	got := addTables([]string{"soak.t1", "soak.c"}, msg)
	if want := "soak.t1,soak.c,soak.audit,soak.p"; strings.Join(got, ",") != want {
		t.Fatalf("addTables: %v, want %s", got, want)
	}
}

// TestRefusalClass: a --tables refusal is reduced to its first reason.
func TestRefusalClass(t *testing.T) {
	msg := "binlog-replay replay: nothing applied: --tables cannot apply 2 transaction(s) of these binlogs before the stop point:\n" +
		"  - the transaction #16 at mysql-bin.000002:8645 (GTID 0-36785-41): QUERY_EVENT at mysql-bin.000002:8719: it names `t1`, " +
		"a table of --tables, and soak.audit, which --tables leaves out (itself or through a table's triggers): applied, it would ..."
	if got, want := refusalClass(msg), "it names ?, a table of --tables, and ?, which --tables leaves out (itself or through a table's triggers)"; got != want {
		t.Fatalf("refusalClass: %q, want %q", got, want)
	}
}

func TestExpectSeqOrder(t *testing.T) {
	// The base's position is 0-1-10; transaction #3 is logged with a
	// sequence number it covers (0-10003-8), #5 with one below #4's but
	// above the base (0-10005-12).
	gtids := []string{"0-1-11", "0-1-12", "0-10003-8", "0-1-13", "0-10005-12", "0-1-14"}
	txns := make([]binlogtext.BinTxn, len(gtids))
	for i, g := range gtids {
		txns[i] = binlogtext.BinTxn{File: "mysql-bin.000002", Start: uint64(100 * (i + 1)), GTID: g}
	}
	src := &Source{StartGTID: "0-1-10", Server: nil}
	gtid := func(g string) binlogtext.Stop {
		return binlogtext.Stop{Index: slices.Index(gtids, g), Args: []string{"--stop-before-gtid", g}}
	}
	cases := []struct {
		name            string
		cfg             ReplayConfig
		remote          bool
		exit, applied   int
		refusal, inPlan string
	}{
		{"to the end by position", ReplayConfig{Stop: binlogtext.Stop{Index: 6}}, false, 0, 6, "", ""},
		{"start-gtid skips #3", ReplayConfig{Stop: binlogtext.Stop{Index: 6}, StartGTID: true}, false, 1, 0, orderRefusal, orderRefusal},
		{"start-gtid, the stop before #3", ReplayConfig{Stop: binlogtext.Stop{Index: 2}, StartGTID: true}, false, 0, 2, "", ""},
		{"start-gtid from the source", ReplayConfig{Stop: binlogtext.Stop{Index: 6}, StartGTID: true, Remote: true}, true, 1, 2, orderRefusal, orderRefusal},
		{"stop gtid met first at #4", ReplayConfig{Stop: gtid("0-10005-12")}, false, 1, 0, orderRefusal, orderRefusal},
		{"the same from the source", ReplayConfig{Stop: gtid("0-10005-12"), Remote: true}, true, 0, 1, "", orderRefusal},
		{"stop gtid the base reaches", ReplayConfig{Stop: gtid("0-10003-8")}, false, 1, 0, reachRefusal, reachRefusal},
		{"the same with start-gtid", ReplayConfig{Stop: gtid("0-10003-8"), StartGTID: true}, false, 1, 0, heldRefusal, heldRefusal},
		{"the same from the source by gtid", ReplayConfig{Stop: gtid("0-10003-8"), StartGTID: true, Remote: true}, true, 1, 0, reachRefusal, heldRefusal},
		{"stop gtid in order", ReplayConfig{Stop: gtid("0-1-14")}, false, 0, 5, "", ""},
	}
	for _, c := range cases {
		r := &Result{Replay: c.cfg}
		r.Replay.Accident = -1
		s := *src
		if c.remote {
			s.Server = &sandbox.Server{}
		}
		r.Expect = expect(txns, r.Replay)
		r.expectSeqOrder(&s, txns)
		if e := r.Expect; e.Exit != c.exit || e.Applied != c.applied || e.Refusal != c.refusal || r.planRefusal != c.inPlan {
			t.Errorf("%s: exit %d applied %d refusal %q plan %q (%s), want %d %d %q %q",
				c.name, e.Exit, e.Applied, e.Refusal, r.planRefusal, e.Why, c.exit, c.applied, c.refusal, c.inPlan)
		}
	}

	// A transaction whose GTID event a crash cut has no GTID: not one the
	// base's position covers (soak seed 127106 expected it refused so).
	cut := append(slices.Clone(txns[:2]), binlogtext.BinTxn{File: "mysql-bin.000002", Start: 300})
	r := &Result{Replay: ReplayConfig{Stop: binlogtext.Stop{Index: 3}, StartGTID: true}}
	r.Replay.Accident = -1
	r.Expect = expect(cut, r.Replay)
	want := r.Expect
	r.expectSeqOrder(src, cut)
	if r.Expect != want || r.planRefusal != "" {
		t.Errorf("a transaction cut in its GTID event: %+v, plan %q; want %+v, no plan refusal", r.Expect, r.planRefusal, want)
	}
}

// TestAnchorBySession: an anchor range is cut where a file its server
// wrote as it started begins (a format description with a create time),
// each part applied by a client session of its own; the first file's
// start and the last's stop stay where they were.
func TestAnchorBySession(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, created uint32) string {
		b := make([]byte, 4+19+56)
		binary.LittleEndian.PutUint32(b[4+19+52:], created)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f2, f3, f4, f5 := file("mysql-bin.000002", 1), file("mysql-bin.000003", 0), file("mysql-bin.000004", 7), file("mysql-bin.000005", 0)
	got := anchorRanges{{Files: []string{f2, f3, f4, f5}, StartPos: 342, StopPos: 900}}.bySession()
	want := anchorRanges{{Files: []string{f2, f3}, StartPos: 342}, {Files: []string{f4, f5}, StartPos: 4, StopPos: 900}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	one := anchorRanges{{Files: []string{f3, f4}, StartPos: 4, StopPos: 0, NoDomains: true}}.bySession()
	if len(one) != 2 || !one[1].NoDomains || one[0].StopPos != 0 {
		t.Fatalf("got %+v", one)
	}
}
