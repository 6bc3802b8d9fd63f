package progress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// sampleReading is a replay in the middle of its work, as the issue
// describes it: 13504 transactions, four workers, a known total.
func sampleReading() reading {
	return reading{
		stats: replay.Stats{Applied: 13504, BytesApplied: 12 << 20, BytesTotal: 31 << 20,
			Position: txn.Position{File: "mysql-bin.000002", Offset: 100}, SourceTime: time.Date(2026, 12, 4, 18, 9, 32, 0, time.UTC),
			Elapsed: time.Second, Busy: 4, Parallelism: 1.0},
		done: 13 << 20, total: 31 << 20, fraction: 13.0 / 31, txnRate: 13319, eta: 72 * time.Second,
	}
}

// TestStatusLineWidths lays the status line out at several terminal
// widths: it always fits (shorter than the width, so the terminal never
// wraps it), from 80 columns up it has the bar, percentage, rate, time
// left and source time, and the engine's details only where there is room.
func TestStatusLineWidths(t *testing.T) {
	r := sampleReading()
	for _, width := range []int{200, 160, 120, 100, 80, 70, 60, 40, 20} {
		line := statusLine(r, width)
		t.Logf("%3d: %s", width, line)
		if len(line) >= width {
			t.Errorf("width %d: the line has %d columns:\n%s", width, len(line), line)
		}
		if strings.ContainsAny(line, "\n\r") {
			t.Errorf("width %d: more than one line: %q", width, line)
		}
		if width < 80 {
			continue
		}
		for _, want := range []string{"[====", "42%", "13319 txn/s", "ETA 1m12s", "2026-12-04 18:09:32"} {
			if !strings.Contains(line, want) {
				t.Errorf("width %d: no %q in %q", width, want, line)
			}
		}
		if bar := strings.Index(line, "]"); bar-1 < barMin {
			t.Errorf("width %d: bar %d columns wide: %q", width, bar-1, line)
		}
		hasDetails := strings.Contains(line, "workers 4 busy")
		if width <= 120 && hasDetails {
			t.Errorf("width %d: engine details crowd the line: %q", width, line)
		}
		if width >= 200 && !(hasDetails && strings.Contains(line, "13504 txns") && strings.Contains(line, "13.0 MiB/31.0 MiB")) {
			t.Errorf("width %d: details, count or bytes missing though there is room: %q", width, line)
		}
	}
	// At 80 columns the same line as the issue's, laid out to fit.
	if got, want := statusLine(r, 80), "[=====>         ]  42%  13319 txn/s  ETA 1m12s  source 2026-12-04 18:09:32 UTC"; got != want {
		t.Errorf("80 columns:\n got %q\nwant %q", got, want)
	}
}

// TestStatusLineUnknownTotal: with no total (a source server, compressed
// files) there is no bar, percentage or time left; bytes applied instead.
func TestStatusLineUnknownTotal(t *testing.T) {
	r := sampleReading()
	r.fraction, r.total, r.done, r.eta = -1, 0, 0, -1
	for _, width := range []int{200, 80} {
		line := statusLine(r, width)
		t.Logf("%3d: %s", width, line)
		if strings.Contains(line, "[") || strings.Contains(line, "%") || strings.Contains(line, "ETA") ||
			!strings.Contains(line, "12.0 MiB applied") || !strings.Contains(line, "13319 txn/s") || len(line) >= width {
			t.Errorf("width %d: %q", width, line)
		}
	}
	// Nothing applied yet.
	r = reading{fraction: 0, total: 1 << 20, eta: -1}
	if line := statusLine(r, 80); !strings.Contains(line, "  0%") || !strings.Contains(line, "ETA --") || !strings.Contains(line, "source -") {
		t.Errorf("start: %q", line)
	}
}

func TestPlainLine(t *testing.T) {
	got := plainLine(sampleReading())
	want := "progress: 41.9% (13.0 MiB of 31.0 MiB), 13504 txns, 13319 txn/s, ETA 1m12s, source time 2026-12-04 18:09:32 UTC; " +
		"workers 4 busy, 0 waiting to commit, the binlog allows 1.0 at once, 0 barriers"
	if got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

// TestMeter counts the percentage over the files up to the stop position
// and the time left from the recent byte rate, also for a start in the
// middle of the files.
func TestMeter(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	m := newMeter(files, txn.Position{File: "mysql-bin.000003", Offset: 500})
	if m.total != 2500 {
		t.Fatalf("total %d, want 2500 (two files and half the third, to the stop position)", m.total)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(file string, off uint64, txns uint64, secs int) reading {
		return m.observe(replay.Stats{Applied: txns, Position: txn.Position{File: file, Offset: off}}, t0.Add(time.Duration(secs)*time.Second))
	}
	if r := at("mysql-bin.000002", 0, 0, 0); r.fraction != 0.4 || r.eta != -1 {
		t.Errorf("start: %+v", r)
	}
	// 250 bytes/s and 100 txn/s: 1000 bytes left take 4 s.
	if r := at("mysql-bin.000002", 500, 200, 2); r.fraction != 0.6 || r.eta != 4*time.Second || r.txnRate != 100 {
		t.Errorf("after 2 s: %+v", r)
	}
	if r := at("mysql-bin.000003", 500, 600, 6); r.fraction != 1 || r.eta != 0 {
		t.Errorf("at the stop position: %+v", r)
	}
	// Compressed files: unknown total.
	gz := filepath.Join(dir, "mysql-bin.000004.gz")
	if err := os.WriteFile(gz, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m := newMeter(append(files, gz), txn.Position{}); m.total != 0 {
		t.Errorf("with a compressed file: total %d, want 0 (unknown)", m.total)
	}
}

// TestStatusTerminal: log text written while the status line is shown
// clears it, and the line is drawn again below the text.
func TestStatusTerminal(t *testing.T) {
	var out strings.Builder
	st := &statusTerminal{w: &out}
	st.Write([]byte("before\n"))
	st.show(func(width int) string { return "status " + strings.Repeat("x", width-80) })
	st.Write([]byte("lost the target\n"))
	st.end()
	want := "before\n" + "\rstatus \x1b[K" + "\r\x1b[Klost the target\nstatus \x1b[K" + "\rstatus \x1b[K\n"
	if out.String() != want {
		t.Errorf("\n got %q\nwant %q", out.String(), want)
	}
}

func TestNewProgressMode(t *testing.T) {
	if _, err := New("fancy", false, os.Stderr, nil, txn.Position{}); err == nil {
		t.Error("--progress fancy: no error")
	}
	// Not a terminal: auto is plain.
	p, err := New("auto", false, &strings.Builder{}, nil, txn.Position{})
	if err != nil || p.mode != modePlain {
		t.Errorf("auto on a buffer: %v, %v", p, err)
	}
}

// TestEstimate compares the live projection (elapsed plus time left) with
// the estimate made before the replay: inside its range the lines only
// show it; outside, the plain line says slower or faster and the
// projected duration, and so does the status line at every width; before
// 5% of the bytes nothing is said.
func TestEstimate(t *testing.T) {
	est := Estimate{About: 60 * time.Second, Low: 45 * time.Second, High: 80 * time.Second}
	at := func(elapsed, eta time.Duration, fraction float64) reading {
		r := sampleReading()
		r.stats.Elapsed, r.eta, r.fraction, r.expect = elapsed, eta, fraction, &est
		r.projected = elapsed + eta
		return r
	}
	cases := []struct {
		name  string
		r     reading
		plain string // in the plain line
		short string // in the status line at 60 columns; "" for none there
	}{
		{"on course", at(30*time.Second, 40*time.Second, 0.4), ", estimate 1m00s (45s to 1m20s), source", ""},
		{"slower", at(30*time.Second, 90*time.Second, 0.4), ", estimate 1m00s (45s to 1m20s): SLOWER than estimated, about 2m00s in all at this rate,", "(est 1m00s: slower)"},
		{"faster", at(20*time.Second, 10*time.Second, 0.6), ": FASTER than estimated, about 30s in all", "(est 1m00s: faster)"},
		{"too early to say", at(time.Second, 9*time.Minute, 0.01), ", estimate 1m00s (45s to 1m20s), source", ""},
	}
	for _, c := range cases {
		if got := plainLine(c.r); !strings.Contains(got, c.plain) {
			t.Errorf("%s: plain line %q, want it to hold %q", c.name, got, c.plain)
		}
		got := statusLine(c.r, 60)
		if c.short != "" && !strings.Contains(got, c.short) {
			t.Errorf("%s: status line %q, want it to hold %q", c.name, got, c.short)
		}
		if c.short == "" && (strings.Contains(got, ": slower") || strings.Contains(got, ": faster")) {
			t.Errorf("%s: status line %q says it departs from the estimate", c.name, got)
		}
		if len(got) >= 60 {
			t.Errorf("%s: status line %q is %d columns wide, want under 60", c.name, got, len(got))
		}
	}
	if got := statusLine(cases[0].r, 200); !strings.Contains(got, "ETA 40s  (est 1m00s)") {
		t.Errorf("on course, 200 columns: status line %q, want the estimate after the time left", got)
	}
	if r := sampleReading(); strings.Contains(plainLine(r), "estimate") || strings.Contains(statusLine(r, 200), "(est ") {
		t.Errorf("without an estimate the lines mention one: %q", plainLine(r))
	}
	// The meter carries the estimate and projects elapsed + time left.
	m := newMeter(nil, txn.Position{})
	m.expect = &est
	if r := m.observe(replay.Stats{Elapsed: 5 * time.Second}, time.Now()); r.expect != &est || r.projected != -1 {
		t.Errorf("meter without a known total: expect %v projected %v, want the estimate and -1", r.expect, r.projected)
	}
}
