package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/preflight/probe"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/rewrite"
)

func TestParseGrants(t *testing.T) {
	g := parseGrants([]string{
		"GRANT BINLOG REPLAY, PROCESS ON *.* TO `restore`@`127.0.0.1` IDENTIFIED BY PASSWORD '*AB'",
		"GRANT ALL PRIVILEGES ON `binlog\\_replay`.* TO `restore`@`127.0.0.1`",
		"GRANT SELECT, INSERT, UPDATE (a, b), DELETE ON `shop`.`items` TO `restore`@`127.0.0.1`",
		"GRANT INSERT ON `sh%`.* TO `restore`@`127.0.0.1`",
		"GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `restore`@`127.0.0.1`",
	})
	for _, c := range []struct {
		db, table, priv string
		want            bool
	}{
		{"binlog_replay", "checkpoint", "CREATE", true},
		{"binlogXreplay", "checkpoint", "CREATE", false}, // the _ was escaped
		{"shop", "items", "DELETE", true},
		{"shop", "items", "UPDATE", false}, // a column privilege only
		{"shop", "other", "INSERT", true},  // sh%
		{"shop", "other", "DELETE", false},
		{"ship", "x", "INSERT", true},
		{"other", "x", "INSERT", false},
	} {
		if got := g.onTable(c.db, c.table, c.priv); got != c.want {
			t.Errorf("%s on %s.%s: %v, want %v", c.priv, c.db, c.table, got, c.want)
		}
	}
	if !g.has("BINLOG REPLAY") || !g.has("PROCESS") || g.has("SUPER") || g.roles {
		t.Errorf("global privileges: %+v", g)
	}
	if g := parseGrants([]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}); !g.onTable("a", "b", "DELETE") || !g.has("SUPER") {
		t.Error("ALL PRIVILEGES ON *.* does not grant everything")
	}
	if g := parseGrants([]string{"GRANT `r1` TO `u`@`%`"}); !g.roles {
		t.Error("a role granted is not seen")
	}
}

func TestSummarise(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := probe.Summarise(ds)
	if l.Samples != 100 || l.MedianMs != 51 || l.P99Ms != 99 || l.MaxMs != 100 {
		t.Errorf("summarise 1..100 ms: %+v", l)
	}
	if r := (probe.Latency{MedianMs: 0.5, P99Ms: 10}).Ratio(); r != 20 {
		t.Errorf("ratio %v", r)
	}
}

// TestDiskCheck checks the disk check with given filesystems, as an
// injected statfs would report them: without root no small filesystem
// can be mounted here (TestTooLittleDisk mounts one when it can).
func TestDiskCheck(t *testing.T) {
	b := &Binlogs{Bytes: 300 << 20, RowBytes: RowBytes{InsertBytes: 100 << 20, DeleteBytes: 20 << 20}}
	disk := func(free uint64, dev uint64) *DiskSpace {
		return &DiskSpace{Path: "/var/lib/mysql", Total: 10 << 30, Free: free, Device: dev}
	}
	for _, c := range []struct {
		name   string
		t      Target
		logged bool
		want   Status
		says   string
	}{
		{"remote", Target{}, true, Unknown, "could not check"},
		{"plenty", Target{Disk: disk(5<<30, 1)}, true, OK, "enough"},
		{"data only fits", Target{Disk: disk(200<<20, 1)}, false, Warn, "tight"},
		{"data and binlog do not fit", Target{Disk: disk(400<<20, 1)}, true, Fail, "needs about 460.0 MiB"},
		{"binlog elsewhere, full", Target{Disk: disk(5<<30, 1), BinlogDisk: &DiskSpace{Path: "/binlogs", Free: 100 << 20, Device: 2}}, true, Fail, "binlog directory"},
	} {
		got := diskCheck(&c.t, b, c.logged)
		if got.Status != c.want || !strings.Contains(got.Finding, c.says) {
			t.Errorf("%s: %s %q, want %s and %q", c.name, got.Status, got.Finding, c.want, c.says)
		}
	}
}

func TestMaxAllowedPacketCheck(t *testing.T) {
	for _, c := range []struct {
		packet, largest int64
		want            Status
	}{{16 << 20, 4 << 20, OK}, {1 << 20, 4 << 20, Fail}, {1 << 20, 1 << 20, OK}} {
		tg := &Target{Vars: map[string]string{"max_allowed_packet": strconv.FormatInt(c.packet, 10)}}
		b := &Binlogs{LargestPacket: Packet{Bytes: c.largest, What: "x", At: "f:4"}}
		var got Check
		for _, ch := range settingChecks(settingsInput{t: tg, b: b}) {
			if ch.Name == "max_allowed_packet" {
				got = ch
			}
		}
		if got.Status != c.want {
			t.Errorf("max_allowed_packet %d, largest %d: %+v", c.packet, c.largest, got)
		}
		if c.want == Fail && !strings.Contains(got.During, "SET GLOBAL max_allowed_packet=6291456") {
			t.Errorf("advice: %q", got.During)
		}
	}
}

func TestEstimate(t *testing.T) {
	b := &Binlogs{Transactions: 10000, RowTxns: 10000, RowBytes: RowBytes{RowTxnBytes: 20 << 20}, Bytes: 20 << 20}
	a := &probe.ApplyProbe{Method: "passthrough", Txns: 1000, Bytes: 2 << 20, Groups: 16, Seconds: 0.1, Scaling: 1.5, Sessions: 4}
	one := estimate(etaInput{b: b, apply: a, workers: 1})
	want := 1.0*serverFactor + startUpSeconds
	if d := one.Seconds - want; d > 0.01 || d < -0.01 {
		t.Errorf("one worker: %.3f s, want %.3f: %+v", one.Seconds, want, one)
	}
	four := estimate(etaInput{b: b, apply: a, workers: 4, bound: 3})
	if four.SpeedUp != 1.5 || four.Seconds >= one.Seconds {
		t.Errorf("four workers, bound 3, scaling 1.5: %+v", four)
	}
	serial := estimate(etaInput{b: b, apply: a, workers: 4, bound: 1})
	if serial.SpeedUp != 1 {
		t.Errorf("four workers on a serial binlog: %+v", serial)
	}
	// A bound under chainedBound: the replay's grouping merges the chains.
	if chained := estimate(etaInput{b: b, apply: a, workers: 4, bound: 1.3}); chained.SpeedUp != 1 || chained.Seconds != serial.Seconds {
		t.Errorf("four workers, bound 1.3 (chains): %+v, want the serial estimate %+v", chained, serial)
	}
	synced := estimate(etaInput{b: b, apply: a, workers: 1, commitMs: 10, binlogSync: true})
	if d := synced.Seconds - one.Seconds; d < 1.5 || d > 1.7 { // 160 groups of 62.5 at 10 ms
		t.Errorf("binlog sync adds %.2f s, want 1.6: %+v", d, synced)
	}
	busy := estimate(etaInput{b: b, apply: a, workers: 1, load: 8, cores: 2})
	if busy.Seconds != one.Seconds || busy.HighSeconds < 2.9*one.HighSeconds {
		t.Errorf("a load of 8 on 2 cores: %+v, idle %+v", busy, one)
	}
	if e := estimate(etaInput{b: b, workers: 1}); e.Seconds != 0 {
		t.Errorf("no probe, an estimate: %+v", e)
	}
}

// TestReadBinlogs reads the repository's ROW binlogs: whole, renamed by
// --rewrite-db (the tables counted are the renamed ones; a transaction it
// refuses stops the reading), and cut short
// (the reading stops early and the binlogs check fails).
func TestReadBinlogs(t *testing.T) {
	dir := filepath.Join("..", "testdata", "binlogs", "mariadb-10.11", "row")
	files := []string{filepath.Join(dir, "mysql-bin.000001"), filepath.Join(dir, "mysql-bin.000002"), filepath.Join(dir, "mysql-bin.000003")}
	lim := sampleLimits{txns: 10, bytes: 1 << 20, maxTxn: 1 << 20}
	ctx := context.Background()

	b, err := readBinlogs(ctx, Selection{Files: files}, lim)
	if err != nil {
		t.Fatal(err)
	}
	if c := binlogsCheck(b); c.Status != OK || b.Transactions == 0 {
		t.Fatalf("whole binlogs: %+v, %d transactions", c, b.Transactions)
	}
	if len(b.Tables) == 0 || b.Tables[0].Schema != "d" {
		t.Fatalf("tables: %+v", b.Tables)
	}

	// The column d of d.t: CREATE TABLE d.t cannot be renamed with
	// certainty, and the replay would refuse it: so does the reading.
	sel := Selection{Files: files, Filter: filter.Options{Databases: []string{"d"}}, RewriteDB: rewrite.Rules{{From: "d", To: "side"}}}
	rb, err := readBinlogs(ctx, sel, lim)
	if err != nil {
		t.Fatal(err)
	}
	if c := binlogsCheck(rb); c.Status != Fail || !strings.Contains(rb.ReadError, "--rewrite-db cannot apply") {
		t.Errorf("--rewrite-db d=side: %+v", c)
	}
	minimal := filepath.Join("..", "testdata", "binlogs", "mariadb-10.11", "minimal", "mysql-bin.000001")
	sel = Selection{Files: []string{minimal}, Filter: filter.Options{Databases: []string{"m"}}, RewriteDB: rewrite.Rules{{From: "m", To: "side"}}}
	if rb, err = readBinlogs(ctx, sel, lim); err != nil {
		t.Fatal(err)
	}
	if rb.ReadError != "" || len(rb.Tables) != 1 || rb.Tables[0].Schema != "side" {
		t.Errorf("--rewrite-db m=side: read error %q, tables %+v", rb.ReadError, rb.Tables)
	}

	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "mysql-bin.000001")
	if err := os.WriteFile(cut, data[:len(data)-300], 0o600); err != nil {
		t.Fatal(err)
	}
	tb, err := readBinlogs(ctx, Selection{Files: []string{cut, files[1]}}, lim)
	if err != nil {
		t.Fatal(err)
	}
	if c := binlogsCheck(tb); c.Status != Fail || tb.ReadError == "" {
		t.Errorf("a cut binlog: %+v", c)
	}
}
