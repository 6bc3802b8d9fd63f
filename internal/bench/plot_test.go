package bench

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"
)

func sampleReport() *Report {
	return &Report{CPUs: 2, Durable: true, Profiles: []ProfileReport{{
		Profile: "oltp", Txns: 20000, Rows: 80000, BinlogBytes: 41 << 20, CheckedAgainst: "source",
		Results: []Result{
			{Method: AnchorMethod, Kind: KindAnchor, Timing: Timing{Seconds: []float64{40}, Median: 40, Ratio: 1}, Verified: true},
			{Method: "binlog-replay --workers 4", Kind: KindReplay, Workers: 4, Timing: Timing{Seconds: []float64{10}, Median: 10, Ratio: 4}, Verified: true},
			{Method: "binlog-replay --workers 8", Kind: KindReplay, Workers: 8, Timing: Timing{Seconds: []float64{20}, Median: 20, Ratio: 2}, Problem: "differs"},
		},
	}, {
		Profile: "hot", Txns: 100, BinlogBytes: 1 << 20, CheckedAgainst: "source",
		Results: []Result{
			{Method: AnchorMethod, Kind: KindAnchor, Timing: Timing{Seconds: []float64{1.8, 2, 2.4}, Median: 2, Ratio: 1}, Verified: true},
			{Method: "native", Kind: KindNative, Workers: 16, Timing: Timing{Seconds: []float64{0.9, 1, 1.3}, Median: 1, Ratio: 2}, Verified: true},
		},
	}}}
}

// bars returns the lengths of the horizontal bars of colour c in img, top
// to bottom: the longest run of c on each band of rows that hold a run of
// at least 10 pixels.
func bars(img image.Image, c color.Color) []int {
	r0, g0, b0, _ := c.RGBA()
	var out []int
	inBar := false
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		longest, n := 0, 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if r == r0 && g == g0 && bb == b0 {
				n++
				longest = max(longest, n)
			} else {
				n = 0
			}
		}
		switch {
		case longest >= 10 && !inBar:
			out = append(out, longest)
			inBar = true
		case longest >= 10:
			out[len(out)-1] = max(out[len(out)-1], longest)
		case longest < 10:
			inBar = false
		}
	}
	return out
}

// TestWriteChartPNG draws the sample report and measures its bars: each
// is in the colour of its kind (red when the target was not verified),
// and as long as its median apply time on its profile's axis.
func TestWriteChartPNG(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteChart(&buf, sampleReport(), ChartPNG); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("BENCH_PLOT_OUT"); path != "" {
		os.WriteFile(path, buf.Bytes(), 0o644)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decode the chart: %v", err)
	}
	if w := img.Bounds().Dx(); w < 800 {
		t.Errorf("chart %d pixels wide", w)
	}
	// Legend swatches are bars too, the last of each colour.
	grey, blue := bars(img, chartColors[KindAnchor]), bars(img, chartColors[KindReplay])
	red, orange := bars(img, chartBad), bars(img, chartColors[KindNative])
	t.Logf("bars: grey %v, blue %v, red %v, orange %v pixels", grey, blue, red, orange)
	if len(grey) != 3 || len(blue) != 2 || len(red) != 2 || len(orange) != 2 {
		t.Fatalf("want 2 grey bars, 1 blue, 1 red, 1 orange, each colour once more in the legend")
	}
	near := func(got, want int) bool { return got >= want-3 && got <= want+3 }
	// oltp: anchor 40 s, workers 4 10 s, workers 8 20 s (not verified: red).
	if !near(grey[0], 4*blue[0]) || !near(red[0], 2*blue[0]) {
		t.Errorf("oltp bars grey %d, blue %d, red %d: want 4:1:2", grey[0], blue[0], red[0])
	}
	// hot, on its own axis: anchor 2 s, native 1 s.
	if !near(grey[1], 2*orange[0]) {
		t.Errorf("hot bars grey %d, orange %d: want 2:1", grey[1], orange[0])
	}
}

// TestWriteChartSVG checks that an SVG chart is well-formed XML with the
// profiles, methods, values and legend as text.
func TestWriteChartSVG(t *testing.T) {
	var buf bytes.Buffer
	rep := sampleReport()
	rep.TargetLatencyMs, rep.CommitLatencyMs = 1, 0.5
	if err := WriteChart(&buf, rep, ChartSVG); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
			text.WriteByte('\n')
		}
	}
	for _, want := range []string{"oltp: 20000 transactions, 41.0 MiB of binlog", "binlog-replay, 4 workers", "native, 16 threads",
		"20.00 s   2.0x   NOT VERIFIED", "apply time in seconds: median of 3 runs", "MariaDB parallel replication", "failed, or target not verified",
		"durable commits, fsyncs 500µs slower, 1ms more per round trip on the targets"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("no %q in the SVG's text:\n%s", want, text.String())
		}
	}
}

func TestChartFormat(t *testing.T) {
	for path, want := range map[string]string{"a.png": ChartPNG, "b/c.SVG": ChartSVG, "d.jpg": "", "e": ""} {
		got, err := ChartFormat(path)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%s: %q, %v", path, got, err)
		}
	}
	if err := WriteChart(io.Discard, &Report{}, ChartPNG); err != nil {
		t.Errorf("empty report: %v", err)
	}
}

func TestSecondTicks(t *testing.T) {
	for _, tc := range []struct {
		hi   float64
		want string
	}{
		{3.225, "0 1 2 3"},
		{2.6, "0.0 0.5 1.0 1.5 2.0 2.5"},
		{60, "0 10 20 30 40 50 60"},
		{0.9, "0.0 0.2 0.4 0.6 0.8"},
	} {
		var labels []string
		for _, tick := range (secondTicks{}).Ticks(0, tc.hi) {
			if tick.Label != "" {
				labels = append(labels, tick.Label)
			}
		}
		if got := strings.Join(labels, " "); got != tc.want {
			t.Errorf("0..%g: %q, want %q", tc.hi, got, tc.want)
		}
	}
}
