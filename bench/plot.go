package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
)

// Chart layout, in pixels (text is drawn at twice the font's size).
const (
	plotScale   = 2
	plotMargin  = 20
	plotLabelW  = 24 * cellW * plotScale // method labels
	plotBarW    = 440                    // the longest bar of a profile
	plotValueW  = 24 * cellW * plotScale // "12.34 S 5.6X NOT VERIFIED"
	plotRowH    = cellH*plotScale + 8
	plotBarH    = glyphH*plotScale + 4
	plotGap     = 10
	plotProfGap = 18
)

var (
	plotInk    = color.RGBA{0x20, 0x20, 0x20, 0xff}
	plotAxis   = color.RGBA{0xb0, 0xb0, 0xb0, 0xff}
	plotColors = map[string]color.RGBA{
		KindAnchor: {0x88, 0x88, 0x88, 0xff},
		KindReplay: {0x2a, 0x6f, 0xdb, 0xff},
		KindNative: {0xe0, 0x8a, 0x1e, 0xff},
	}
	plotBad = color.RGBA{0xd6, 0x27, 0x28, 0xff}
)

// WritePNG draws the report as a PNG bar chart: per profile, one
// horizontal bar per method whose length is its median apply time (scaled
// to the profile's slowest), labelled with the seconds and the speed-up
// over the anchor. Failed or unverified methods are drawn in red and say
// so. It returns png.Encode's error.
func WritePNG(w io.Writer, r *Report) error {
	lineH := cellH * plotScale
	height := 2*plotMargin + lineH + plotProfGap
	for _, p := range r.Profiles {
		height += lineH + plotGap + len(p.Results)*plotRowH + plotProfGap
	}
	width := 2*plotMargin + plotLabelW + plotGap + plotBarW + plotGap + plotValueW
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	y := plotMargin
	drawText(img, plotMargin, y, plotScale, "binlog-replay bench: apply time in seconds, shorter is better", plotInk)
	y += lineH + plotProfGap
	for _, p := range r.Profiles {
		head := fmt.Sprintf("%s: %d txns, %.1f MiB of binlog", p.Profile, p.Txns, float64(p.BinlogBytes)/(1<<20))
		drawText(img, plotMargin, y, plotScale, head, plotInk)
		y += lineH + plotGap
		y = plotProfile(img, p, y)
		y += plotProfGap
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encode chart: %w", err)
	}
	return nil
}

// plotProfile draws p's bars from y down and returns the y below them.
func plotProfile(img *image.RGBA, p ProfileReport, y int) int {
	slowest := 0.0
	for _, res := range p.Results {
		slowest = max(slowest, res.Median)
	}
	x0 := plotMargin + plotLabelW + plotGap
	axis := image.Rect(x0-2, y, x0, y+len(p.Results)*plotRowH)
	draw.Draw(img, axis, image.NewUniform(plotAxis), image.Point{}, draw.Src)
	for _, res := range p.Results {
		label := plotLabel(res)
		lx := x0 - plotGap - textWidth(label, plotScale)
		drawText(img, max(lx, plotMargin), y+2, plotScale, label, plotInk)
		c, value := plotColors[res.Kind], fmt.Sprintf("%.2f s", res.Median)
		if res.Ratio > 0 {
			value += fmt.Sprintf(" %.1fx", res.Ratio)
		}
		switch {
		case res.Error != "":
			c, value = plotBad, value+" failed"
		case !res.Verified:
			c, value = plotBad, value+" not verified"
		}
		n := 1
		if slowest > 0 {
			n = max(1, int(float64(plotBarW)*res.Median/slowest+0.5))
		}
		bar := image.Rect(x0, y, x0+n, y+plotBarH)
		draw.Draw(img, bar, image.NewUniform(c), image.Point{}, draw.Src)
		drawText(img, x0+n+plotGap, y+2, plotScale, value, plotInk)
		y += plotRowH
	}
	return y
}

// plotLabel is the short chart label of a method.
func plotLabel(res Result) string {
	switch res.Kind {
	case KindAnchor:
		return "mariadb-binlog|mariadb"
	case KindNative:
		return fmt.Sprintf("native, %d threads", res.Workers)
	case KindReplay:
		return fmt.Sprintf("binlog-replay w=%d", res.Workers)
	}
	return res.Method
}
