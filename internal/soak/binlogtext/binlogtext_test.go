package binlogtext

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseBinlogText(t *testing.T) {
	p, err := parseBinlogText(strings.NewReader(sampleText), "mysql-bin.000002")
	if err != nil {
		t.Fatal(err)
	}
	got := p.txns
	at := func(s string) time.Time {
		tm, _ := time.Parse("2006-01-02 15:04:05", s)
		return tm
	}
	want := []BinTxn{
		{File: "mysql-bin.000002", Start: 385, End: 550, GTID: "0-1-13", Time: at("2026-12-04 18:55:21"), Statement: true, DDL: true, ended: true,
			Began: at("2026-12-04 18:55:21")},
		{File: "mysql-bin.000002", Start: 550, End: 759, GTID: "0-1-14", Time: at("2026-12-04 08:55:23"), ErrorCodes: 1, Statement: true, group: true, ended: true,
			Began: at("2026-12-04 18:55:22")},
		{File: "mysql-bin.000002", Start: 759, End: 981, GTID: "0-1-15", Time: at("2026-12-04 18:55:25"), Trans: true, group: true, ended: true,
			XID: true, Began: at("2026-12-04 18:55:24")},
		{File: "mysql-bin.000002", Start: 981, End: 1170, GTID: "0-1-16", Time: at("2026-12-04 18:55:25"), RolledBack: true, Statement: true, group: true, ended: true,
			Began: at("2026-12-04 18:55:25")},
		{File: "mysql-bin.000002", Start: 1170, End: 1330, GTID: "0-1-17", Time: at("2026-12-04 18:55:26"), Statement: true, Generated: true, ended: true,
			Began: at("2026-12-04 18:55:26")},
		// log_bin_compress: a Query_compressed event is a query like any other.
		{File: "mysql-bin.000002", Start: 1330, End: 1440, GTID: "0-1-18", Time: at("2026-12-04 18:55:27"), Statement: true,
			ErrorCodes: 1, TempOps: []string{"+1/8:tmp_s1"}, ended: true, Began: at("2026-12-04 18:55:27")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

// TestSettleCut: the transaction a file ends inside, when the next file
// is a server start's, is dropped when it wrote transactional tables only
// (as binlog-replay and mariadb-binlog's ROLLBACK leave it out), refused
// otherwise; without a server start, reading fails.
func TestSettleCut(t *testing.T) {
	cutText := func(gtid string) string {
		return sampleText[:strings.Index(sampleText, "# at 1440")] + "# at 1440\n" +
			"#261204 18:55:28 server id 1  end_log_pos 1482 CRC32 0xd \t" + gtid + "\nSTART TRANSACTION\n/*!*/;\n" +
			"# at 1482\n#261204 18:55:28 server id 1  end_log_pos 1530 CRC32 0xe \tTable_map: `d`.`i` mapped to number 18\n"
	}
	for _, tc := range []struct {
		gtid    string
		startup bool
		n       int
		cut     bool
		refused string
		err     bool
	}{
		{gtid: "GTID 0-1-19 trans", startup: true, n: 6, cut: true},
		{gtid: "GTID 0-1-19", startup: true, n: 7, refused: CutByCrash},
		{gtid: "GTID 0-1-19 trans", startup: false, err: true},
	} {
		p, err := parseBinlogText(strings.NewReader(cutText(tc.gtid)), "mysql-bin.000002")
		if err != nil {
			t.Fatal(err)
		}
		all, cut, err := settleCut(p.txns, "mysql-bin.000002", "mysql-bin.000003", tc.startup)
		if tc.err {
			if err == nil {
				t.Errorf("%s, no server start: no error", tc.gtid)
			}
			continue
		}
		if err != nil || len(all) != tc.n || (cut != nil) != tc.cut || all[len(all)-1].Refused != tc.refused {
			t.Errorf("%s: %d transactions, cut %+v, last refused %q, %v; want %d, cut %v, %q",
				tc.gtid, len(all), cut, all[len(all)-1].Refused, err, tc.n, tc.cut, tc.refused)
		}
		if cut != nil && (cut.GTID != "0-1-19" || cut.Start != 1440) {
			t.Errorf("cut %+v", cut)
		}
	}
	// A file that ends after a complete transaction: nothing to settle.
	p, _ := parseBinlogText(strings.NewReader(sampleText), "mysql-bin.000002")
	if all, cut, err := settleCut(p.txns, "mysql-bin.000002", "mysql-bin.000003", false); err != nil || cut != nil || len(all) != 6 {
		t.Errorf("complete file: %d transactions, cut %+v, %v", len(all), cut, err)
	}
}

// sampleTxns are three transactions over two files.
var sampleTxns = []BinTxn{
	{File: "mysql-bin.000002", Start: 100, End: 200, GTID: "0-1-5", Time: time.Unix(1000, 0)},
	{File: "mysql-bin.000002", Start: 200, End: 300, GTID: "0-1-6", Time: time.Unix(1002, 0)},
	{File: "mysql-bin.000003", Start: 300, End: 400, GTID: "0-1-7", Time: time.Unix(1001, 0)},
}

func TestStopPoints(t *testing.T) {
	end := BinEnd{File: "mysql-bin.000004", Size: 400}
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
	if got := FirstAtOrBeyond(sampleTxns, 0, 6); got != 1 {
		t.Errorf("FirstAtOrBeyond(0, 6) = %d, want 1", got)
	}
	if got := FirstAtOrBeyond(sampleTxns, 0, 8); got != 3 {
		t.Errorf("FirstAtOrBeyond(0, 8) = %d, want 3", got)
	}
}

func TestTempOps(t *testing.T) {
	cases := map[string][]string{
		"CREATE TEMPORARY TABLE TMP_S0 (ID INT PRIMARY KEY, V INT) ENGINE=ARIA":             {"+tmp_s0"},
		"CREATE TEMPORARY TABLE IF NOT EXISTS `SOAK`.`T`(A INT)":                            {"+t"},
		"DROP TEMPORARY TABLE TMP_S1":                                                       {"-tmp_s1"},
		"DROP TEMPORARY TABLE IF EXISTS `SOAK`.`TMP_S0`,`TMP_S2` /* GENERATED BY SERVER */": {"-tmp_s0", "-tmp_s2"},
		"DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `TMP_S0`,`TMP_S0`":                      {"~tmp_s0", "~tmp_s0"},
		"DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `T` /* GENERATED BY SERVER */":          {"-t"},
		"INSERT INTO T1 SELECT * FROM TMP_S0":                                               nil,
	}
	for stmt, want := range cases {
		if got := tempOps(stmt); !reflect.DeepEqual(got, want) {
			t.Errorf("tempOps(%q) = %q, want %q", stmt, got, want)
		}
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
#261204 18:55:26 server id 1  end_log_pos 1212 CRC32 0x8 	GTID 0-1-17
/*!*/;
# at 1212
#261204 18:55:26 server id 1  end_log_pos 1330 CRC32 0x9 	Query	thread_id=0	exec_time=0	error_code=0	xid=0
TRUNCATE TABLE ` + "`d`.`mem1`" + ` /* generated by server for memory table after a restart */
/*!*/;
# at 1330
#261204 18:55:27 server id 1  end_log_pos 1372 CRC32 0xb 	GTID 0-1-18
/*!*/;
# at 1372
#261204 18:55:27 server id 1  end_log_pos 1440 CRC32 0xc 	Query_compressed	thread_id=8	exec_time=0	error_code=1062	xid=0
CREATE TEMPORARY TABLE tmp_s1 (id INT PRIMARY KEY) ENGINE=MyISAM
/*!*/;
# at 1440
#261204 18:55:26 server id 1  end_log_pos 1485 CRC32 0xa 	Rotate to mysql-bin.000003  pos: 4
`

// TestMarkHotBase: a transaction that changed non-transactional tables
// inside a transaction (no "trans" flag, an Xid at its end, or a ROLLBACK)
// whose first statement ran by the hot backup's end, to the second, is
// refused; transactional ones, non-transactional ones alone, later ones
// and ones refused for another reason are not marked.
func TestMarkHotBase(t *testing.T) {
	ended := time.Date(2026, 12, 7, 18, 33, 51, 0, time.UTC)
	before, after := ended.Add(-2*time.Second), ended.Add(time.Second)
	txns := []BinTxn{
		{GTID: "mixed", XID: true, Began: before},
		{GTID: "mixed in the end's second", XID: true, Began: ended.Add(900 * time.Millisecond)},
		{GTID: "mixed after", XID: true, Began: after},
		{GTID: "transactional", Trans: true, XID: true, Began: before},
		{GTID: "non-transactional alone", Began: before},
		{GTID: "rolled back", RolledBack: true, Began: before},
		{GTID: "XA", XID: true, Began: before, Refused: "XA"},
	}
	MarkHotBase(txns, ended)
	want := []string{HotBaseRisk, HotBaseRisk, "", "", "", HotBaseRisk, "XA"}
	for i, tx := range txns {
		if tx.Refused != want[i] {
			t.Errorf("%s: refused %q, want %q", tx.GTID, tx.Refused, want[i])
		}
	}
}

// TestCutOutside: a file that mariadb-binlog says ends inside an event,
// after a transaction that ended, ends inside the first event of the next
// one (which the replay refuses, nothing of it being readable): its start
// is the end of the last event printed; inside an open transaction it is
// settleCut's case instead.
func TestCutOutside(t *testing.T) {
	p, err := parseBinlogText(strings.NewReader(sampleText), "mysql-bin.000002")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.cutOutside(); got != 0 {
		t.Errorf("not truncated: cut at %d, want none", got)
	}
	p.truncated = true
	if got := p.cutOutside(); got != 1485 {
		t.Errorf("truncated after the rotate event: cut at %d, want 1485", got)
	}
	p.txns[len(p.txns)-1].ended = false
	if got := p.cutOutside(); got != 0 {
		t.Errorf("truncated inside an open transaction: cut at %d, want none (settleCut's)", got)
	}
}
