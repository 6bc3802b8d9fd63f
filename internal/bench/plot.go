package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/binlog-replay/binlog-replay/replay"
)

// Chart formats, chosen by the output file's extension.
const (
	ChartPNG = "png"
	ChartSVG = "svg"
)

// ChartFormat returns the chart format for a file name: png or svg, by
// its extension.
func ChartFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		return ChartPNG, nil
	case ".svg":
		return ChartSVG, nil
	default:
		return "", fmt.Errorf("chart %s: want a .png or .svg file name, not %q", path, ext)
	}
}

// Chart colours: one per kind of method, and one for a failed or
// unverified apply.
var (
	chartColors = map[string]color.RGBA{
		KindAnchor: {0x88, 0x88, 0x88, 0xff},
		KindReplay: {0x2a, 0x6f, 0xdb, 0xff},
		KindNative: {0xe0, 0x8a, 0x1e, 0xff},
		KindLimit:  {0x2c, 0xa0, 0x2c, 0xff},
	}
	chartBad = color.RGBA{0xd6, 0x27, 0x28, 0xff}
)

// chartLegend names the kinds in the legend, in its order.
var chartLegend = []struct{ kind, name string }{
	{KindAnchor, "mariadb-binlog | mariadb (the anchor)"},
	{KindReplay, "binlog-replay"},
	{KindNative, "MariaDB parallel replication"},
	{KindLimit, "the limit (prepared BINLOG statements, one session)"},
	{"", "failed, or target not verified"},
}

// Chart layout.
const (
	chartWidth = 9 * vg.Inch
	chartBar   = 14 * vg.Millimeter / 3 // bar thickness
	chartRow   = 0.34 * vg.Inch         // height per method
	chartFrame = 0.95 * vg.Inch         // per profile: title and x axis
	// chartLegendH and chartHeaderH are the heights of the legend strip
	// at the bottom and of the header at the top.
	chartLegendH = 1.0 * vg.Inch
	chartHeaderH = 0.45 * vg.Inch
	// chartHeadroom: the x axis runs to this times the slowest time,
	// leaving room for the value labels.
	chartHeadroom = 1.5
)

// sans is the chart's font at size points.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// WriteChart draws the report as a bar chart in format (ChartPNG or
// ChartSVG): per profile, one horizontal bar per method whose length is
// its median apply time in seconds, with the spread of the repeats as an
// error bar, labelled with the time and the speed-up over the anchor.
// Failed or unverified methods are drawn in red and say so. A legend names
// the colours.
func WriteChart(w io.Writer, r *Report, format string) error {
	rows := 1
	for _, p := range r.Profiles {
		rows = max(rows, len(p.Results))
	}
	n := max(1, len(r.Profiles))
	tileH := chartFrame + vg.Length(rows)*chartRow
	height := chartHeaderH + vg.Length(n)*tileH + chartLegendH
	var canvas vg.CanvasWriterTo
	switch format {
	case ChartPNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(chartWidth, height), vgimg.UseDPI(110))}
	case ChartSVG:
		canvas = vgsvg.New(chartWidth, height)
	default:
		return fmt.Errorf("chart format %q: want png or svg", format)
	}
	dc := draw.New(canvas)
	// Fill the background (SVG has none by default).
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	plots := make([][]*plot.Plot, n)
	for i, p := range r.Profiles {
		pl, err := profilePlot(p)
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{pl}
	}
	if len(r.Profiles) == 0 {
		pl := plot.New()
		pl.Title.Text = "no profiles measured"
		plots[0] = []*plot.Plot{pl}
	}
	header := text.Style{Color: color.Black, Font: sans(14), XAlign: draw.XLeft, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	targets := "fast commits"
	if r.Durable {
		targets = "durable commits"
	}
	if r.CommitLatencyMs > 0 {
		targets += fmt.Sprintf(", fsyncs %s slower", fmtMs(r.CommitLatencyMs))
	}
	if r.TargetLatencyMs > 0 {
		targets += fmt.Sprintf(", %s more per round trip", fmtMs(r.TargetLatencyMs))
	}
	dc.FillText(header, vg.Point{X: vg.Points(10), Y: height - vg.Points(10)},
		fmt.Sprintf("binlog-replay bench: apply time of the same binlogs (%d CPUs, %s on the targets)", r.CPUs, targets))
	body := draw.Crop(dc, 0, 0, chartLegendH, -chartHeaderH)
	tiles := draw.Tiles{Rows: n, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(8), PadRight: vg.Points(14), PadY: vg.Points(10)}
	canvases := plot.Align(plots, tiles, body)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	drawLegend(draw.Crop(dc, 0, 0, 0, chartLegendH-height))
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("encode chart: %w", err)
	}
	return nil
}

// profilePlot is one profile's horizontal bar chart.
func profilePlot(p ProfileReport) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = fmt.Sprintf("%s: %d transactions, %.1f MiB of binlog", p.Profile, p.Txns, float64(p.BinlogBytes)/(1<<20))
	pl.Title.TextStyle.Font = sans(13)
	pl.Title.Padding = vg.Points(4)
	pl.X.Label.Text = "apply time in seconds (shorter is better)"
	for _, res := range p.Results {
		if len(res.Seconds) > 1 {
			pl.X.Label.Text = fmt.Sprintf("apply time in seconds: median of %d runs, whiskers from the fastest to the slowest (shorter is better)", len(res.Seconds))
			break
		}
	}
	pl.X.Label.TextStyle.Font = sans(11)
	pl.X.Tick.Label.Font = sans(10)
	pl.Y.Tick.Label.Font = sans(11)
	pl.Y.LineStyle.Width, pl.Y.Tick.LineStyle.Width = 0, 0
	pl.Y.Padding = vg.Points(2)
	grid := plotter.NewGrid()
	grid.Horizontal.Width = 0
	pl.Add(grid)

	n := len(p.Results)
	names := make([]string, n)
	var labels plotter.XYLabels
	var spread errorPoints
	slowest := 0.0
	for i, res := range p.Results {
		pos := float64(n - 1 - i) // the first method at the top
		names[n-1-i] = chartLabel(res)
		slowest = max(slowest, res.Median, res.Seconds[len(res.Seconds)-1])
		bar, err := plotter.NewBarChart(plotter.Values{res.Median}, chartBar)
		if err != nil {
			return nil, fmt.Errorf("chart profile %s: %w", p.Profile, err)
		}
		bar.Horizontal, bar.XMin, bar.LineStyle.Width = true, pos, 0
		bar.Color = chartColor(res)
		pl.Add(bar)
		labels.XYs = append(labels.XYs, plotter.XY{X: res.Median, Y: pos})
		labels.Labels = append(labels.Labels, valueLabel(res))
		if len(res.Seconds) > 1 {
			spread.XYs = append(spread.XYs, plotter.XY{X: res.Median, Y: pos})
			spread.XErrors = append(spread.XErrors, struct{ Low, High float64 }{
				Low: res.Median - res.Seconds[0], High: res.Seconds[len(res.Seconds)-1] - res.Median})
		}
	}
	if len(spread.XYs) > 0 {
		eb, err := plotter.NewXErrorBars(spread)
		if err != nil {
			return nil, fmt.Errorf("chart profile %s: %w", p.Profile, err)
		}
		eb.CapWidth = chartBar
		eb.LineStyle.Width = vg.Points(1.2)
		pl.Add(eb)
		// The value labels go right of the error bars' ends.
		for i := range labels.XYs {
			for j, xy := range spread.XYs {
				if xy.Y == labels.XYs[i].Y {
					labels.XYs[i].X += spread.XErrors[j].High
				}
			}
		}
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("chart profile %s: %w", p.Profile, err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].Font = sans(10)
		lab.TextStyle[i].YAlign = -0.5 // centred on the bar
		lab.TextStyle[i].Color = color.Black
	}
	lab.Offset = vg.Point{X: vg.Points(5)}
	pl.Add(lab)
	pl.NominalY(names...)
	pl.X.Min = 0
	pl.X.Max = max(slowest, 0.01) * chartHeadroom
	pl.X.Tick.Marker = secondTicks{}
	pl.Y.Min, pl.Y.Max = -0.6, float64(n)-0.4
	return pl, nil
}

// secondTicks marks the time axis with about five labelled ticks at
// round steps (1, 2 or 5 times a power of ten) and unlabelled ones
// between them; gonum's default labels as few as two.
type secondTicks struct{}

// Ticks implements plot.Ticker.
func (secondTicks) Ticks(lo, hi float64) []plot.Tick {
	if hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(m*step) <= 6 {
			step *= m
			break
		}
	}
	digits := max(0, -int(math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step/1e6; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', digits, 64)})
		if minor := v + step/2; minor < hi {
			ticks = append(ticks, plot.Tick{Value: minor})
		}
	}
	return ticks
}

// errorPoints are the bars' medians with the spread of their repeats.
type errorPoints struct {
	plotter.XYs
	plotter.XErrors
}

// Len resolves the two embedded Len methods.
func (e errorPoints) Len() int { return len(e.XYs) }

// drawLegend draws the legend of the colours, centred in c.
func drawLegend(c draw.Canvas) {
	l := plot.NewLegend()
	l.TextStyle.Font = sans(11)
	l.Left, l.Top = true, true
	l.ThumbnailWidth = vg.Points(18)
	l.Padding = vg.Points(4)
	for _, e := range chartLegend {
		col := chartBad
		if e.kind != "" {
			col = chartColors[e.kind]
		}
		l.Add(e.name, swatch(col))
	}
	l.XOffs, l.YOffs = vg.Points(20), -vg.Points(6)
	l.Draw(c)
}

// swatch is a legend thumbnail: a filled box in one colour.
type swatch color.RGBA

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.SetColor(color.RGBA(s))
	c.Fill(c.Rectangle.Path())
}

// chartColor is the colour of res's bar.
func chartColor(res Result) color.Color {
	if res.Error != "" || !res.Verified {
		return chartBad
	}
	if c, ok := chartColors[res.Kind]; ok {
		return c
	}
	return chartColors[KindAnchor]
}

// valueLabel is the text beside res's bar: the median, the speed-up and
// what went wrong, if anything.
func valueLabel(res Result) string {
	s := fmt.Sprintf("%.2f s", res.Median)
	if res.Ratio > 0 {
		s += fmt.Sprintf("   %.1fx", res.Ratio)
	}
	switch {
	case res.Error != "":
		s += "   FAILED"
	case !res.Verified:
		s += "   NOT VERIFIED"
	}
	return s
}

// chartLabel is the short chart label of a method.
func chartLabel(res Result) string {
	switch res.Kind {
	case KindAnchor:
		return "mariadb-binlog | mariadb"
	case KindNative:
		return fmt.Sprintf("native, %d threads", res.Workers)
	case KindLimit:
		return "limit, one session"
	case KindReplay:
		label := fmt.Sprintf("binlog-replay, %d workers", res.Workers)
		switch res.Workers {
		case 0:
			label = "binlog-replay, workers auto"
		case 1:
			label = "binlog-replay, 1 worker"
		}
		if res.GroupTxns > 0 {
			label += fmt.Sprintf(", groups of %d", res.GroupTxns)
		}
		if res.Apply == replay.ApplySQL {
			label += ", SQL"
		}
		if !res.Compact {
			label += ", no compaction"
		}
		return label
	}
	return res.Method
}
