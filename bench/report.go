package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints one table per profile: method, median apply time and
// spread, transactions per second, speed-up over the anchor, verified.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, p := range r.Profiles {
		fmt.Fprintf(tw, "\nprofile %s: %d transactions, %.1f MiB of binlog\n", p.Profile, p.Txns, float64(p.BinlogBytes)/(1<<20))
		fmt.Fprintln(tw, "method\tapply s\tspread s\ttxn/s\tspeed-up\tverified\t")
		for _, res := range p.Results {
			verified := "yes"
			if !res.Verified {
				verified = "NO"
			}
			spread := fmt.Sprintf("%.2f..%.2f", res.Seconds[0], res.Seconds[len(res.Seconds)-1])
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%.0f\t%.1fx\t%s\t\n", res.Method, res.Median, spread, res.TxnsPerSec, res.Ratio, verified)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Profiles {
		for _, res := range p.Results {
			if !res.Verified {
				fmt.Fprintf(w, "\nVERIFICATION FAILED: profile %s, %s: the target differs from the source:\n%s\n", p.Profile, res.Method, res.Problem)
			}
		}
	}
	return nil
}
