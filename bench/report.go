package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints one table per profile: method, median apply time and
// spread (min..max over the repeats), transactions and row changes per
// second, speed-up over the anchor, and whether the target was verified.
// Failures and differences follow the tables, in full. It returns the
// first write error.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, p := range r.Profiles {
		against := "the source"
		if p.CheckedAgainst == "anchor" {
			against = "the anchor's target (no source)"
		}
		fmt.Fprintf(tw, "\nprofile %s: %d transactions, %d row changes, %.1f MiB of binlog; targets checked against %s\n",
			p.Profile, p.Txns, p.Rows, float64(p.BinlogBytes)/(1<<20), against)
		fmt.Fprintln(tw, "method\tapply s\tspread s\ttxn/s\trows/s\tspeed-up\tverified\t")
		for _, res := range p.Results {
			spread := fmt.Sprintf("%.2f..%.2f", res.Seconds[0], res.Seconds[len(res.Seconds)-1])
			rate, rows, ratio := "-", "-", "-"
			if res.Error == "" && res.Median > 0 {
				rate, rows = fmt.Sprintf("%.0f", res.TxnsPerSec), fmt.Sprintf("%.0f", res.RowsPerSec)
			}
			if res.Ratio > 0 {
				ratio = fmt.Sprintf("%.1fx", res.Ratio)
			}
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", res.Method, res.Median, spread, rate, rows, ratio, verdict(res))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Profiles {
		for _, res := range p.Results {
			if res.Error != "" {
				fmt.Fprintf(w, "\nAPPLY FAILED: profile %s, %s:\n%s\n", p.Profile, res.Method, res.Error)
			}
			if res.Problem != "" {
				fmt.Fprintf(w, "\nVERIFICATION FAILED: profile %s, %s: the target differs from the %s:\n%s\n",
					p.Profile, res.Method, p.CheckedAgainst, res.Problem)
			}
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// verdict is the verified column of res.
func verdict(res Result) string {
	v := "yes"
	switch {
	case res.Error != "":
		v = "FAILED"
	case !res.Verified:
		v = "NO"
	}
	if res.IsReference {
		if len(res.Seconds) == 1 {
			return "reference"
		}
		return "reference, " + v
	}
	return v
}
