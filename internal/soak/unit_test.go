package soak

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFeaturesCompact(t *testing.T) {
	for _, in := range []string{"", "all", "stable", "stable-chaos", "all,-kill,-xa", "stable,kill", "uk,fk", "all,xa"} {
		fs, err := ParseFeatures(in)
		if err != nil {
			t.Fatalf("ParseFeatures(%q): %v", in, err)
		}
		back, err := ParseFeatures(fs.Compact())
		if err != nil || !reflect.DeepEqual(back, fs) {
			t.Errorf("ParseFeatures(%q).Compact() = %q reads back as %v, %v", in, fs.Compact(), back, err)
		}
	}
	if fs, _ := ParseFeatures("all"); fs[FeatXA] {
		t.Error("all includes xa, an opt-in feature")
	}
	if _, err := ParseFeatures("all,nosuch"); err == nil {
		t.Error("an unknown feature was accepted")
	}
}

func TestGenerateIsReproducible(t *testing.T) {
	mask, _ := ParseFeatures("all,xa")
	for seed := uint64(1); seed <= 20; seed++ {
		a, b := Generate(NewPlan(seed, mask, ""), "/d"), Generate(NewPlan(seed, mask, ""), "/d")
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two generations differ", seed)
		}
	}
	// Switching a replay feature off leaves the workload as it was.
	noKill, _ := ParseFeatures("all,-kill")
	p1, p2 := NewPlan(7, mask, ""), NewPlan(7, noKill, "")
	delete(p1.Features, FeatKill)
	delete(p1.Features, FeatXA)
	if !reflect.DeepEqual(p1.Features, p2.Features) {
		t.Errorf("features %s and %s: removing kill changed others", p1.Features, p2.Features)
	}
}

// sampleText is mariadb-binlog output (abridged) of a DDL, a MyISAM
// insert logged with an error code, an InnoDB transaction, a ROLLBACK-ended
// one and the rotate ending the file.
const sampleText = `# at 4
#261204 18:55:16 server id 1  end_log_pos 256 CRC32 0x26638eb9 	Start: binlog v 4, server v 10.11.19-MariaDB-log created 261204 18:55:16
# at 256
#261204 18:55:16 server id 1  end_log_pos 299 CRC32 0xd43661bd 	Gtid list [0-1-12]
# at 385
#261204 18:55:21 server id 1  end_log_pos 427 CRC32 0x6060184d 	GTID 0-1-13 ddl
/*M!100001 SET @@session.gtid_seq_no=13*//*!*/;
# at 427
#261204 18:55:21 server id 1  end_log_pos 550 CRC32 0x86298244 	Query	thread_id=6	exec_time=0	error_code=0	xid=24
use ` + "`d`" + `/*!*/;
SET TIMESTAMP=1796410521/*!*/;
create table mu (id int primary key) engine=myisam
/*!*/;
# at 550
#261204 18:55:22 server id 1  end_log_pos 592 CRC32 0x71509ec7 	GTID 0-1-14
START TRANSACTION
/*!*/;
# at 592
#261204 18:55:22 server id 1  end_log_pos 689 CRC32 0xae2e7b69 	Query	thread_id=6	exec_time=0	error_code=1062	xid=0
insert into mu values (2),(1),(3)
/*!*/;
# at 689
#261204  8:55:23 server id 1  end_log_pos 759 CRC32 0xad09f0ec 	Query	thread_id=6	exec_time=0	error_code=0	xid=0
COMMIT
/*!*/;
# at 759
#261204 18:55:24 server id 1  end_log_pos 801 CRC32 0x83947480 	GTID 0-1-15 trans
START TRANSACTION
/*!*/;
# at 801
# at 850
#261204 18:55:24 server id 1  end_log_pos 850 CRC32 0x1 	Annotate_rows:
#Q> insert into i values (1)
#261204 18:55:24 server id 1  end_log_pos 900 CRC32 0x2 	Table_map: ` + "`d`.`i`" + ` mapped to number 18
# at 900
#261204 18:55:24 server id 1  end_log_pos 950 CRC32 0x3 	Write_rows: table id 18 flags: STMT_END_F
# at 950
#261204 18:55:25 server id 1  end_log_pos 981 CRC32 0x4 	Xid = 33
COMMIT/*!*/;
# at 981
#261204 18:55:25 server id 1  end_log_pos 1023 CRC32 0x5 	GTID 0-1-16
START TRANSACTION
/*!*/;
# at 1023
#261204 18:55:25 server id 1  end_log_pos 1100 CRC32 0x6 	Query	thread_id=7	exec_time=0	error_code=0	xid=0
insert into m values (20,20)
/*!*/;
# at 1100
#261204 18:55:25 server id 1  end_log_pos 1170 CRC32 0x7 	Query	thread_id=7	exec_time=0	error_code=0	xid=0
ROLLBACK
/*!*/;
# at 1170
#261204 18:55:26 server id 1  end_log_pos 1215 CRC32 0x8 	Rotate to mysql-bin.000003  pos: 4
`

func TestParseBinlogText(t *testing.T) {
	got, err := parseBinlogText(strings.NewReader(sampleText), "mysql-bin.000002")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, _ := time.Parse("2006-01-02 15:04:05", s)
		return tm
	}
	want := []BinTxn{
		{File: "mysql-bin.000002", Start: 385, End: 550, GTID: "0-1-13", Time: at("2026-12-04 18:55:21"), Statement: true, DDL: true},
		{File: "mysql-bin.000002", Start: 550, End: 759, GTID: "0-1-14", Time: at("2026-12-04 08:55:23"), ErrorCodes: 1, Statement: true},
		{File: "mysql-bin.000002", Start: 759, End: 981, GTID: "0-1-15", Time: at("2026-12-04 18:55:25")},
		{File: "mysql-bin.000002", Start: 981, End: 1170, GTID: "0-1-16", Time: at("2026-12-04 18:55:25"), RolledBack: true, Statement: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

// sampleTxns are three transactions over two files.
var sampleTxns = []BinTxn{
	{File: "mysql-bin.000002", Start: 100, End: 200, GTID: "0-1-5", Time: time.Unix(1000, 0)},
	{File: "mysql-bin.000002", Start: 200, End: 300, GTID: "0-1-6", Time: time.Unix(1002, 0)},
	{File: "mysql-bin.000003", Start: 300, End: 400, GTID: "0-1-7", Time: time.Unix(1001, 0)},
}

func TestStopPoints(t *testing.T) {
	end := binEnd{File: "mysql-bin.000004", Size: 400}
	cases := []struct {
		stop  Stop
		index int
		never bool
	}{
		{posStop("", "mysql-bin.000002", 200, sampleTxns, end), 1, false},
		{posStop("", "mysql-bin.000002", 199, sampleTxns, end), 0, false},
		{posStop("", "mysql-bin.000002", 5000, sampleTxns, end), 2, false}, // the next file's transaction ends after it
		{posStop("", "mysql-bin.000003", 400, sampleTxns, end), 3, false},  // later files follow: reached
		{posStop("", "mysql-bin.000004", 4, sampleTxns, end), 3, false},
		{posStop("", "mysql-bin.000004", 400, sampleTxns, end), 3, false}, // the very end: reached
		{posStop("", "mysql-bin.000004", 401, sampleTxns, end), 3, true},
		{posStop("", "mysql-bin.000005", 4, sampleTxns, end), 3, true},
		{timeStop("", time.Unix(1001, 0), sampleTxns), 1, false},
		{timeStop("", time.Unix(1001, 500), sampleTxns), 1, false},
		{timeStop("", time.Unix(1003, 0), sampleTxns), 3, true},
		{timeStop("", time.Unix(10, 0), sampleTxns), 0, false},
	}
	for i, c := range cases {
		if c.stop.Index != c.index || c.stop.NeverMet != c.never {
			t.Errorf("case %d (%v): index %d never %v, want %d %v", i, c.stop.Args, c.stop.Index, c.stop.NeverMet, c.index, c.never)
		}
	}
	if got := nextFileName("mysql-bin.000009"); got != "mysql-bin.000010" {
		t.Errorf("nextFileName = %q", got)
	}
	if got := firstAtOrBeyond(sampleTxns, 0, 6); got != 1 {
		t.Errorf("firstAtOrBeyond(0, 6) = %d, want 1", got)
	}
	if got := firstAtOrBeyond(sampleTxns, 0, 8); got != 3 {
		t.Errorf("firstAtOrBeyond(0, 8) = %d, want 3", got)
	}
}

func TestExpect(t *testing.T) {
	refusing := append([]BinTxn(nil), sampleTxns...)
	refusing[1].Refused = "XA"
	rolledBack := append([]BinTxn(nil), sampleTxns...)
	rolledBack[1].RolledBack = true
	never := Stop{Index: 3, NeverMet: true}
	unknown := Stop{Index: 3, UnknownDomain: true}
	reached := Stop{Index: 3, Args: []string{"--stop-position", "mysql-bin.000004:400"}}
	cases := []struct {
		txns    []BinTxn
		cfg     ReplayConfig
		exit    int
		applied int
	}{
		{sampleTxns, ReplayConfig{Stop: Stop{Index: 3}}, 0, 3},
		{sampleTxns, ReplayConfig{Stop: Stop{Index: 1}}, 0, 1},
		{sampleTxns, ReplayConfig{Stop: never}, 3, 3},
		{sampleTxns, ReplayConfig{Stop: never, NeverOK: true}, 0, 3},
		{sampleTxns, ReplayConfig{Stop: unknown}, 1, 0},
		{sampleTxns, ReplayConfig{Stop: reached}, 0, 3},
		{refusing, ReplayConfig{Stop: Stop{Index: 3}}, 1, 1},
		{refusing, ReplayConfig{Stop: Stop{Index: 1}}, 0, 1},
		{rolledBack, ReplayConfig{Stop: Stop{Index: 3}}, 0, 3},
	}
	for i, c := range cases {
		e := expect(c.txns, c.cfg)
		if e.Exit != c.exit || e.Applied != c.applied {
			t.Errorf("case %d: exit %d applied %d (%s), want %d %d", i, e.Exit, e.Applied, e.Why, c.exit, c.applied)
		}
	}
}

func TestTempOps(t *testing.T) {
	cases := map[string][]string{
		"CREATE TEMPORARY TABLE TMP_S0 (ID INT PRIMARY KEY, V INT) ENGINE=ARIA":             {"+tmp_s0"},
		"CREATE TEMPORARY TABLE IF NOT EXISTS `SOAK`.`T`(A INT)":                            {"+t"},
		"DROP TEMPORARY TABLE TMP_S1":                                                       {"-tmp_s1"},
		"DROP TEMPORARY TABLE IF EXISTS `SOAK`.`TMP_S0`,`TMP_S2` /* GENERATED BY SERVER */": {"-tmp_s0", "-tmp_s2"},
		"INSERT INTO T1 SELECT * FROM TMP_S0":                                               nil,
	}
	for stmt, want := range cases {
		if got := tempOps(stmt); !reflect.DeepEqual(got, want) {
			t.Errorf("tempOps(%q) = %q, want %q", stmt, got, want)
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
	r, _ = rangeFor(files, 100, sampleTxns, 3)
	if !reflect.DeepEqual(r, anchorRange{Files: files, StartPos: 100}) {
		t.Errorf("range for all: %+v", r)
	}
}
