// Package progress shows a running replay's progress (replay.Stats) to
// people: a status line redrawn in place on a terminal, a plain line every
// few seconds otherwise, or nothing (--progress).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/binlog-replay/binlog-replay/binlog/logfile"
	"github.com/binlog-replay/binlog-replay/internal/bytesize"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/txn"
)

// Progress display modes (--progress). ModeAuto is bar on a terminal,
// plain otherwise.
const (
	ModeAuto  = "auto"
	modeBar   = "bar"
	modePlain = "plain"
	modeNone  = "none"
)

// plainEvery is how often plain progress lines (and --verbose's lines
// above the bar) are printed.
const plainEvery = 10 * time.Second

// Display renders replay.Stats on w: one status line redrawn in place on
// a terminal (bar mode), a full line every plainEvery otherwise (plain
// mode), or nothing. In bar mode the replay's log lines must go through
// logWriter, which prints them above the status line.
type Display struct {
	mode    string
	verbose bool
	meter   *meter
	term    *statusTerminal // bar mode only
	w       io.Writer

	mu        sync.Mutex
	lastPlain time.Time
}

// Estimate is the replay's duration as estimated before it started
// (preflight's estimate, replay --estimate), with its range. The display
// compares the duration the live rate projects with it.
type Estimate struct {
	About, Low, High time.Duration
}

// Expect gives the display the estimate to compare the replay with; call
// it before the replay starts.
func (p *Display) Expect(e Estimate) {
	p.meter.expect = &e
}

// New returns the display for mode on w. files are the binlog
// files (none when reading from a server) and stop the --stop-position,
// which the percentage counts up to. With verbose, bar mode also prints
// the full line, with the engine's details, every plainEvery.
func New(mode string, verbose bool, w io.Writer, files []string, stop txn.Position) (*Display, error) {
	fd, isTerminal := terminalFd(w)
	switch mode {
	case ModeAuto:
		mode = modePlain
		if isTerminal && os.Getenv("TERM") != "dumb" {
			mode = modeBar
		}
	case modeBar, modePlain, modeNone:
	default:
		return nil, fmt.Errorf("--progress: want auto, bar, plain or none, not %q", mode)
	}
	p := &Display{mode: mode, verbose: verbose, meter: newMeter(files, stop), w: w}
	if mode == modeBar {
		p.term = &statusTerminal{w: w, fd: fd, isTerminal: isTerminal}
	}
	return p, nil
}

// terminalFd returns w's file descriptor and whether it is a terminal.
func terminalFd(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// Interval is how often the replay should call update.
func (p *Display) Interval() time.Duration {
	if p.mode == modeBar {
		return 500 * time.Millisecond
	}
	return time.Second
}

// LogWriter is where the replay's log lines go: above the status line in
// bar mode, else straight to w.
func (p *Display) LogWriter() io.Writer {
	if p.term != nil {
		return p.term
	}
	return p.w
}

// Update takes a snapshot of the replay's statistics (replay.Options.Report.Progress).
func (p *Display) Update(s replay.Stats) {
	if p.mode == modeNone {
		return
	}
	now := time.Now()
	r := p.meter.observe(s, now)
	p.mu.Lock()
	plainDue := now.Sub(p.lastPlain) >= plainEvery
	if plainDue {
		p.lastPlain = now
	}
	p.mu.Unlock()
	switch {
	case p.mode == modePlain && plainDue:
		fmt.Fprintln(p.w, plainLine(r))
	case p.mode == modeBar:
		if p.verbose && plainDue {
			fmt.Fprintln(p.term, plainLine(r))
		}
		p.term.show(func(width int) string { return statusLine(r, width) })
	}
}

// Finish shows final, the replay's statistics at its end (nil when it
// has none), on the status line, and leaves that line on the screen.
func (p *Display) Finish(final *replay.Stats) {
	if p.term == nil {
		return
	}
	if final != nil && p.term.shown() {
		r := p.meter.observe(*final, time.Now())
		p.term.show(func(width int) string { return statusLine(r, width) })
	}
	p.term.end()
}

// statusTerminal keeps one status line at the bottom of a terminal,
// redrawn in place, with the log lines written through it printed above.
type statusTerminal struct {
	w          io.Writer
	fd         int
	isTerminal bool

	mu     sync.Mutex
	render func(width int) string // the status line for a width; nil when none is shown
}

// width returns the terminal's width in columns (80 when unknown).
func (t *statusTerminal) width() int {
	if t.isTerminal {
		if w, _, err := term.GetSize(t.fd); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// show draws the status line render makes for the terminal's width in
// place of the one shown.
func (t *statusTerminal) show(render func(width int) string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.render = render
	fmt.Fprint(t.w, "\r"+render(t.width())+"\x1b[K")
}

// Write prints log text above the status line: the line is cleared, the
// text written, and the line drawn again below it once the text ends a line.
func (t *statusTerminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.render == nil {
		return t.w.Write(b)
	}
	if _, err := io.WriteString(t.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	n, err := t.w.Write(b)
	if err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
		_, err = io.WriteString(t.w, t.render(t.width())+"\x1b[K")
	}
	return n, err
}

// shown reports whether a status line is on the screen.
func (t *statusTerminal) shown() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.render != nil
}

// end finishes the status line, leaving it on the screen.
func (t *statusTerminal) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.render != nil {
		fmt.Fprint(t.w, "\r"+t.render(t.width())+"\x1b[K\n")
		t.render = nil
	}
}

// meter turns successive replay.Stats into progress: how far into the
// binlog files the replay is, and recent rates.
type meter struct {
	// starts maps each file's binlog name to the number of bytes of the
	// files before it; total is the bytes up to the stop position or the
	// end of the last file (0: unknown, as for compressed files or a
	// source server).
	starts  map[string]int64
	total   int64
	samples []sample
	// expect is the estimate before the replay started, nil when none.
	expect *Estimate
}

// sample is one observation, for the rates over the last rateWindow.
type sample struct {
	at   time.Time
	txns uint64
	done int64
}

// rateWindow is the span of recent samples the rates are computed over.
const rateWindow = 15 * time.Second

// newMeter sizes files; stop, when set, ends the span the percentage
// counts. Compressed files (whose size read is unknown until read) leave
// the total unknown.
func newMeter(files []string, stop txn.Position) *meter {
	m := &meter{starts: map[string]int64{}}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || logfile.Compressed(f) {
			return m
		}
		name := logfile.Name(f)
		m.starts[name] = total
		if name == stop.File && stop.Offset > 0 && int64(stop.Offset) <= fi.Size() {
			m.total = total + int64(stop.Offset)
			return m
		}
		total += fi.Size()
	}
	m.total = total
	return m
}

// reading is what a progress display shows.
type reading struct {
	stats replay.Stats
	// done and total are bytes into the files; fraction is done/total,
	// or -1 when unknown.
	done, total int64
	fraction    float64
	// txnRate is transactions per second over the last rateWindow; eta
	// the time left at the recent byte rate, or -1 when unknown.
	txnRate float64
	eta     time.Duration
	// expect is the estimate (nil when none) and projected the whole
	// replay's duration at the recent rate (elapsed plus eta), or -1 when
	// unknown.
	expect    *Estimate
	projected time.Duration
}

// observe records s, taken at now, and returns the reading.
func (m *meter) observe(s replay.Stats, now time.Time) reading {
	r := reading{stats: s, fraction: -1, eta: -1, total: m.total, expect: m.expect, projected: -1}
	start, known := m.starts[s.Position.File]
	if m.total > 0 && known {
		r.done = min(start+int64(s.Position.Offset), m.total)
		r.fraction = float64(r.done) / float64(m.total)
	}
	if n := len(m.samples); n > 0 && s.Applied < m.samples[n-1].txns {
		m.samples = m.samples[:0] // a new run after a reconnection counts from 0
	}
	m.samples = append(m.samples, sample{at: now, txns: s.Applied, done: r.done})
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) >= rateWindow {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	if secs := now.Sub(first.at).Seconds(); secs >= 1 {
		r.txnRate = float64(s.Applied-first.txns) / secs
		if rate := float64(r.done-first.done) / secs; r.fraction >= 0 && rate > 0 {
			r.eta = time.Duration(float64(m.total-r.done) / rate * float64(time.Second))
		}
	} else if secs := s.Elapsed.Seconds(); secs > 0 {
		r.txnRate = float64(s.Applied) / secs
	}
	if r.fraction >= 1 {
		r.eta = 0
	}
	if r.eta >= 0 {
		r.projected = s.Elapsed + r.eta
	}
	return r
}

// departFrom is how far into the files (the fraction of their bytes) a
// replay is before the display says it departs from the estimate: the
// first seconds' rate says little.
const departFrom = 0.05

// departure says how the projected duration compares with the estimate's
// range: "slower" or "faster" when it falls outside it, "" when inside it
// or unknown.
func departure(r reading) string {
	e := r.expect
	if e == nil || r.projected < 0 || r.fraction < departFrom || r.fraction >= 1 {
		return ""
	}
	switch {
	case r.projected > e.High:
		return "slower"
	case r.projected < e.Low:
		return "faster"
	}
	return ""
}

// estimateText is the plain line's comparison with the estimate: the
// estimate, and when the replay departs from its range, the duration the
// recent rate projects. "" without an estimate.
func estimateText(r reading) string {
	e := r.expect
	if e == nil {
		return ""
	}
	s := fmt.Sprintf(", estimate %s (%s to %s)", etaText(e.About), etaText(e.Low), etaText(e.High))
	if d := departure(r); d != "" {
		s += fmt.Sprintf(": %s than estimated, about %s in all at this rate", strings.ToUpper(d), etaText(r.projected))
	}
	return s
}

// plainLine is the full progress line, with the engine's details.
func plainLine(r reading) string {
	var b strings.Builder
	b.WriteString("progress: ")
	if r.fraction >= 0 {
		fmt.Fprintf(&b, "%.1f%% (%s of %s), ", 100*r.fraction, bytesize.Human(r.done), bytesize.Human(r.total))
	} else {
		fmt.Fprintf(&b, "%s of binlog applied, ", bytesize.Human(r.stats.BytesApplied))
	}
	fmt.Fprintf(&b, "%d txns, %s, ETA %s%s, source time %s; %s", r.stats.Applied, txnRate(r.txnRate),
		etaText(r.eta), estimateText(r), sourceTime(r.stats.SourceTime, true), details(r.stats))
	return b.String()
}

// details are the engine's figures: what the workers do, the parallelism
// the binlog allows and the barriers.
func details(s replay.Stats) string {
	par := ""
	if s.Parallelism > 0 {
		par = fmt.Sprintf(", the binlog allows %.1f at once", s.Parallelism)
	}
	return fmt.Sprintf("workers %d busy, %d waiting to commit%s, %d barriers", s.Busy, s.Waiting, par, s.Barriers)
}

// Status line layout: the bar is at least barMin columns wide (twice that
// beside the extras), at most barMax.
const (
	barMin = 10
	barMax = 50
)

// statusLine is the one-line display for a terminal width columns wide,
// shorter than width so that the terminal never wraps it. It has the bar
// and percentage of bytes, transactions per second, the time left, and
// the source commit time the target has reached; where there is room,
// also bytes, the transaction count and the engine's details. Narrower,
// the extras go first, then the time zone and date.
func statusLine(r reading, width int) string {
	width-- // the last column would make some terminals wrap
	for level := 0; ; level++ {
		fields, ok := statusFields(r, level)
		if !ok {
			break
		}
		minBar := barMin
		if level < 3 {
			minBar = 2 * barMin // the extras only beside a bar of some length
		}
		if line, ok := withBar(r, fields, width, minBar); ok {
			return line
		}
	}
	// Narrower than any layout: the fields that fit, without the bar.
	fields, _ := statusFields(r, statusLevels-1)
	if r.fraction >= 0 {
		fields = append([]string{fmt.Sprintf("%3.0f%%", 100*r.fraction)}, fields...)
	}
	line := ""
	for _, f := range fields {
		next := f
		if line != "" {
			next = line + "  " + f
		}
		if len(next) > width {
			break
		}
		line = next
	}
	return line
}

// statusLevels is how many ever shorter layouts statusFields has.
const statusLevels = 6

// statusFields returns the fields after the bar and percentage at a
// level of brevity (0: everything), and false past the last level.
func statusFields(r reading, level int) ([]string, bool) {
	if level >= statusLevels {
		return nil, false
	}
	s := r.stats
	var f []string
	if level < 3 {
		if r.fraction >= 0 {
			f = append(f, fmt.Sprintf("%s/%s", bytesize.Human(r.done), bytesize.Human(r.total)))
		}
	}
	if r.fraction < 0 {
		f = append(f, bytesize.Human(s.BytesApplied)+" applied")
	}
	if level < 2 {
		f = append(f, fmt.Sprintf("%d txns", s.Applied))
	}
	f = append(f, txnRate(r.txnRate))
	if r.fraction >= 0 {
		f = append(f, "ETA "+etaText(r.eta))
	}
	if d := departure(r); d != "" {
		f = append(f, fmt.Sprintf("(est %s: %s)", etaText(r.expect.About), d))
	} else if r.expect != nil && level < 2 {
		f = append(f, "(est "+etaText(r.expect.About)+")")
	}
	switch {
	case level < 4:
		f = append(f, "source "+sourceTime(s.SourceTime, true))
	case level < 5:
		f = append(f, "at "+sourceTime(s.SourceTime, false))
	default:
		t := "-"
		if !s.SourceTime.IsZero() {
			t = s.SourceTime.UTC().Format("15:04:05")
		}
		f = append(f, "at "+t)
	}
	if level < 1 {
		f = append(f, "| "+details(s))
	}
	return f, true
}

// withBar lays out the bar, the percentage and fields in width columns,
// or returns false when the bar would be narrower than minBar. Without a
// percentage (unknown total) there is no bar.
func withBar(r reading, fields []string, width, minBar int) (string, bool) {
	rest := strings.Join(fields, "  ")
	if r.fraction < 0 {
		return rest, len(rest) <= width
	}
	pct := fmt.Sprintf("%3.0f%%", 100*r.fraction)
	bar := min(barMax, width-len(pct)-len(rest)-6) // "[" bar "] " pct "  " rest
	if bar < minBar {
		return "", false
	}
	filled := min(bar, int(r.fraction*float64(bar)+0.5))
	b := strings.Repeat("=", filled)
	if filled < bar {
		if filled > 0 {
			b = b[:filled-1] + ">"
		}
		b += strings.Repeat(" ", bar-filled)
	}
	return "[" + b + "] " + pct + "  " + rest, true
}

// txnRate formats transactions per second.
func txnRate(rate float64) string {
	if rate >= 100000 {
		return fmt.Sprintf("%.0fk txn/s", rate/1000)
	}
	return fmt.Sprintf("%.0f txn/s", rate)
}

// etaText formats the time left, or "--" when unknown.
func etaText(d time.Duration) string {
	switch {
	case d < 0:
		return "--"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 100*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// sourceTime formats the source commit time the target has reached, in
// UTC (with the zone when zone is set), or "-" before anything is applied.
func sourceTime(t time.Time, zone bool) string {
	if t.IsZero() {
		return "-"
	}
	if zone {
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
