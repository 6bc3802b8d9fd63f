package bench

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"testing"
)

func sampleReport() *Report {
	return &Report{CPUs: 2, Durable: true, Profiles: []ProfileReport{{
		Profile: "oltp", Txns: 20000, Rows: 80000, BinlogBytes: 41 << 20, CheckedAgainst: "source",
		Results: []Result{
			{Method: AnchorMethod, Kind: KindAnchor, Seconds: []float64{40}, Median: 40, Ratio: 1, Verified: true},
			{Method: "binlog-replay --workers 4", Kind: KindReplay, Workers: 4, Seconds: []float64{10}, Median: 10, Ratio: 4, Verified: true},
			{Method: "binlog-replay --workers 8", Kind: KindReplay, Workers: 8, Seconds: []float64{20}, Median: 20, Ratio: 2, Problem: "differs"},
		},
	}, {
		Profile: "hot", Txns: 100, BinlogBytes: 1 << 20, CheckedAgainst: "source",
		Results: []Result{
			{Method: AnchorMethod, Kind: KindAnchor, Seconds: []float64{2}, Median: 2, Ratio: 1, Verified: true},
			{Method: "native", Kind: KindNative, Workers: 16, Seconds: []float64{1}, Median: 1, Ratio: 2, Verified: true},
		},
	}}}
}

// barLength returns the length of the run of c starting at (x0, y).
func barLength(img image.Image, x0, y int, c image.Image) int {
	want := c.At(0, 0)
	n := 0
	for x := x0; x < img.Bounds().Max.X && img.At(x, y) == want; x++ {
		n++
	}
	return n
}

// TestWritePNG draws a chart and measures its bars: each is as long as
// its median apply time relative to the profile's slowest, in the colour
// of its kind, and red when the target was not verified.
func TestWritePNG(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePNG(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("BENCH_PLOT_OUT"); path != "" {
		os.WriteFile(path, buf.Bytes(), 0o644)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decode the chart: %v", err)
	}
	x0 := plotMargin + plotLabelW + plotGap
	lineH := cellH * plotScale
	y := plotMargin + lineH + plotProfGap + lineH + plotGap + plotBarH/2 // middle of the first bar
	cases := []struct {
		color image.Image
		want  int
	}{
		{image.NewUniform(plotColors[KindAnchor]), plotBarW},
		{image.NewUniform(plotColors[KindReplay]), plotBarW / 4},
		{image.NewUniform(plotBad), plotBarW / 2},
	}
	for i, c := range cases {
		if got := barLength(img, x0, y+i*plotRowH, c.color); got != c.want {
			t.Errorf("bar %d: %d pixels of the expected colour, want %d", i, got, c.want)
		}
	}
	y += 3*plotRowH + plotProfGap + lineH + plotGap
	if got := barLength(img, x0, y+plotRowH, image.NewUniform(plotColors[KindNative])); got != plotBarW/2 {
		t.Errorf("native bar of the second profile: %d pixels, want %d", got, plotBarW/2)
	}
}
