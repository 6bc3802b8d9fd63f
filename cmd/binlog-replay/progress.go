package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/binlog-replay/binlog-replay/replay"
)

// progress renders replay.Stats: a bar on a terminal, plain lines (every
// 10 seconds) elsewhere, or nothing.
type progress struct {
	mode     string // "bar", "plain" or "none"
	w        io.Writer
	bar      *progressbar.ProgressBar
	lastLine time.Time
}

func newProgress(mode string, w io.Writer) *progress {
	if mode == "auto" {
		mode = "plain"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				mode = "bar"
			}
		}
	}
	return &progress{mode: mode, w: w}
}

func (p *progress) update(s replay.Stats) {
	switch p.mode {
	case "bar":
		if p.bar == nil {
			max := s.BytesTotal
			if max <= 0 {
				max = -1 // unknown (compressed files): a spinner
			}
			p.bar = progressbar.NewOptions64(max,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionSetPredictTime(true))
		}
		_ = p.bar.Set64(s.BytesApplied)
		p.bar.Describe(p.describe(s))
	case "plain":
		if time.Since(p.lastLine) < 10*time.Second {
			return
		}
		p.lastLine = time.Now()
		fmt.Fprintf(p.w, "progress: %s, %s/%s, source time %s\n", p.describe(s),
			humanBytes(s.BytesApplied), humanBytes(s.BytesTotal), sourceTime(s))
	}
}

func (p *progress) describe(s replay.Stats) string {
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Applied) / secs
	}
	par := ""
	if s.Parallelism > 0 {
		par = fmt.Sprintf(" (the binlog allows %.1f)", s.Parallelism)
	}
	return fmt.Sprintf("%d txns (%.0f/s), workers %d busy/%d waiting to commit%s, %d barriers, at %s",
		s.Applied, rate, s.Busy, s.Waiting, par, s.Barriers, sourceTime(s))
}

func sourceTime(s replay.Stats) string {
	if s.SourceTime.IsZero() {
		return "-"
	}
	return s.SourceTime.UTC().Format("2006-01-02 15:04:05")
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
